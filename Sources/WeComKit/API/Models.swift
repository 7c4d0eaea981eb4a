// Request and response models of the customer-contact API. Property names are the platform's
// field names exactly (platform spec sections 2 to 4), so the JSON needs no key mapping.
// Optional fields are optional: the platform omits what does not apply.

/// `externalcontact/get_follow_user_list`.
public struct FollowUserListResponse: Codable, Sendable, Hashable {
    public init(follow_user: [String]?) { self.follow_user = follow_user }

    public var follow_user: [String]?
}

/// `externalcontact/list`.
public struct ExternalContactListResponse: Codable, Sendable, Hashable {
    public init(external_userid: [String]?) { self.external_userid = external_userid }

    public var external_userid: [String]?
}

/// A tag as `externalcontact/get` lists it on a follow user.
public struct FollowUserTag: Codable, Sendable, Hashable {
    public init(group_name: String?, tag_name: String?, tag_id: String?, type: Int?) {
        self.group_name = group_name
        self.tag_name = tag_name
        self.tag_id = tag_id
        self.type = type
    }

    public var group_name: String?
    public var tag_name: String?
    /// Absent for personal tags (type 2).
    public var tag_id: String?
    /// 1 corp tag, 2 personal tag, 3 rule-group tag.
    public var type: Int?
}

/// The customer object of `get` and `batch/get_by_user`.
public struct ExternalContact: Codable, Sendable, Hashable {
    public init(
        external_userid: String, name: String? = nil, position: String? = nil, avatar: String? = nil,
        corp_name: String? = nil, corp_full_name: String? = nil, type: Int? = nil, gender: Int? = nil,
        unionid: String? = nil
    ) {
        self.external_userid = external_userid
        self.name = name
        self.position = position
        self.avatar = avatar
        self.corp_name = corp_name
        self.corp_full_name = corp_full_name
        self.type = type
        self.gender = gender
        self.unionid = unionid
    }

    public var external_userid: String
    public var name: String?
    public var position: String?
    public var avatar: String?
    public var corp_name: String?
    public var corp_full_name: String?
    /// 1 WeChat user, 2 WeCom user.
    public var type: Int?
    /// 0 unknown, 1 male, 2 female.
    public var gender: Int?
    public var unionid: String?
}

/// Mobiles are strings, but old answers carry numbers; both decode.
public struct Mobile: Codable, Sendable, Hashable {
    public var value: String

    public init(_ value: String) {
        self.value = value
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            value = text
        } else {
            value = String(try container.decode(Int64.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}

/// A follow user as `externalcontact/get` returns it (`follow_user[]`).
public struct FollowUser: Codable, Sendable, Hashable {
    public init(
        userid: String, remark: String? = nil, description: String? = nil, createtime: Int64? = nil,
        tags: [FollowUserTag]? = nil, remark_corp_name: String? = nil, remark_mobiles: [Mobile]? = nil,
        oper_userid: String? = nil, add_way: Int? = nil, state: String? = nil
    ) {
        self.userid = userid
        self.remark = remark
        self.description = description
        self.createtime = createtime
        self.tags = tags
        self.remark_corp_name = remark_corp_name
        self.remark_mobiles = remark_mobiles
        self.oper_userid = oper_userid
        self.add_way = add_way
        self.state = state
    }

    public var userid: String
    public var remark: String?
    public var description: String?
    public var createtime: Int64?
    public var tags: [FollowUserTag]?
    public var remark_corp_name: String?
    public var remark_mobiles: [Mobile]?
    public var oper_userid: String?
    public var add_way: Int?
    public var state: String?
}

/// `externalcontact/get`.
public struct ExternalContactDetailResponse: Codable, Sendable, Hashable {
    public init(external_contact: ExternalContact, follow_user: [FollowUser]?, next_cursor: String?) {
        self.external_contact = external_contact
        self.follow_user = follow_user
        self.next_cursor = next_cursor
    }

    public var external_contact: ExternalContact
    public var follow_user: [FollowUser]?
    /// Present only when the customer has more than 500 follow users.
    public var next_cursor: String?
}

/// `follow_info` of `batch/get_by_user`: one relation, tag ids only.
public struct FollowInfo: Codable, Sendable, Hashable {
    public init(
        userid: String, remark: String? = nil, description: String? = nil, createtime: Int64? = nil,
        tag_id: [String]? = nil, remark_corp_name: String? = nil, remark_mobiles: [Mobile]? = nil,
        oper_userid: String? = nil, add_way: Int? = nil, state: String? = nil
    ) {
        self.userid = userid
        self.remark = remark
        self.description = description
        self.createtime = createtime
        self.tag_id = tag_id
        self.remark_corp_name = remark_corp_name
        self.remark_mobiles = remark_mobiles
        self.oper_userid = oper_userid
        self.add_way = add_way
        self.state = state
    }

    public var userid: String
    public var remark: String?
    public var description: String?
    public var createtime: Int64?
    public var tag_id: [String]?
    public var remark_corp_name: String?
    public var remark_mobiles: [Mobile]?
    public var oper_userid: String?
    public var add_way: Int?
    public var state: String?
}

/// `externalcontact/batch/get_by_user` request.
public struct BatchGetByUserRequest: Codable, Sendable, Hashable {
    public var userid_list: [String]
    public var cursor: String?
    public var limit: Int?

    public init(userid_list: [String], cursor: String? = nil, limit: Int? = 100) {
        self.userid_list = userid_list
        self.cursor = cursor
        self.limit = limit
    }
}

/// `externalcontact/batch/get_by_user` response: one element per (member, customer) relation.
public struct BatchGetByUserResponse: Codable, Sendable, Hashable {
    public init(external_contact_list: [Element]?, next_cursor: String?, fail_info: FailInfo? = nil) {
        self.external_contact_list = external_contact_list
        self.next_cursor = next_cursor
        self.fail_info = fail_info
    }

    public struct Element: Codable, Sendable, Hashable {
        public init(external_contact: ExternalContact, follow_info: FollowInfo) {
            self.external_contact = external_contact
            self.follow_info = follow_info
        }

        public var external_contact: ExternalContact
        public var follow_info: FollowInfo
    }

    public struct FailInfo: Codable, Sendable, Hashable {

        public init(unlicensed_userid_list: [String]?) { self.unlicensed_userid_list = unlicensed_userid_list }

        public var unlicensed_userid_list: [String]?
    }

    public var external_contact_list: [Element]?
    /// `""` at the end.
    public var next_cursor: String?
    public var fail_info: FailInfo?
}

/// A corp tag in `get_corp_tag_list` / `add_corp_tag` answers.
public struct CorpTag: Codable, Sendable, Hashable {
    public init(id: String, name: String, create_time: Int64? = nil, order: UInt32? = nil, deleted: Bool? = nil) {
        self.id = id
        self.name = name
        self.create_time = create_time
        self.order = order
        self.deleted = deleted
    }

    public var id: String
    public var name: String
    public var create_time: Int64?
    public var order: UInt32?
    /// Only on queries by id.
    public var deleted: Bool?
}

/// A corp tag group.
public struct CorpTagGroup: Codable, Sendable, Hashable {
    public init(
        group_id: String, group_name: String, create_time: Int64? = nil, order: UInt32? = nil, deleted: Bool? = nil,
        tag: [CorpTag]? = nil
    ) {
        self.group_id = group_id
        self.group_name = group_name
        self.create_time = create_time
        self.order = order
        self.deleted = deleted
        self.tag = tag
    }

    public var group_id: String
    public var group_name: String
    public var create_time: Int64?
    public var order: UInt32?
    public var deleted: Bool?
    public var tag: [CorpTag]?
}

/// `externalcontact/get_corp_tag_list` request: both empty means everything; with both, only
/// `group_id` filters.
public struct CorpTagListRequest: Codable, Sendable, Hashable {
    public var tag_id: [String]?
    public var group_id: [String]?

    public init(tag_id: [String]? = nil, group_id: [String]? = nil) {
        self.tag_id = tag_id
        self.group_id = group_id
    }
}

public struct CorpTagListResponse: Codable, Sendable, Hashable {

    public init(tag_group: [CorpTagGroup]?) { self.tag_group = tag_group }

    public var tag_group: [CorpTagGroup]?
}

/// `externalcontact/add_corp_tag` request. Give `group_id` to add into a group, or `group_name`
/// to create one (or add to the group of that name). Empty ids are never sent.
public struct AddCorpTagRequest: Codable, Sendable, Hashable {
    public struct NewTag: Codable, Sendable, Hashable {
        public var name: String
        public var order: UInt32?

        public init(name: String, order: UInt32? = nil) {
            self.name = name
            self.order = order
        }
    }

    public var group_id: String?
    public var group_name: String?
    public var order: UInt32?
    public var tag: [NewTag]

    public init(group_id: String? = nil, group_name: String? = nil, order: UInt32? = nil, tag: [NewTag]) {
        self.group_id = group_id
        self.group_name = group_name
        self.order = order
        self.tag = tag
    }
}

public struct AddCorpTagResponse: Codable, Sendable, Hashable {

    public init(tag_group: CorpTagGroup) { self.tag_group = tag_group }

    public var tag_group: CorpTagGroup
}

/// `externalcontact/edit_corp_tag`: `id` is a tag or a group id.
public struct EditCorpTagRequest: Codable, Sendable, Hashable {
    public var id: String
    public var name: String?
    public var order: UInt32?

    public init(id: String, name: String? = nil, order: UInt32? = nil) {
        self.id = id
        self.name = name
        self.order = order
    }
}

/// `externalcontact/del_corp_tag`: not both empty.
public struct DeleteCorpTagRequest: Codable, Sendable, Hashable {
    public var tag_id: [String]?
    public var group_id: [String]?

    public init(tag_id: [String]? = nil, group_id: [String]? = nil) {
        self.tag_id = tag_id
        self.group_id = group_id
    }
}

/// `externalcontact/mark_tag`: tags one relation; not both lists empty.
public struct MarkTagRequest: Codable, Sendable, Hashable {
    public var userid: String
    public var external_userid: String
    public var add_tag: [String]?
    public var remove_tag: [String]?

    public init(userid: String, external_userid: String, add_tag: [String]? = nil, remove_tag: [String]? = nil) {
        self.userid = userid
        self.external_userid = external_userid
        self.add_tag = add_tag
        self.remove_tag = remove_tag
    }
}

/// `user/get`: a staff member. Apps that may not read names get the userid as `name`.
public struct UserGetResponse: Codable, Sendable, Hashable {
    public var userid: String
    public var name: String?
    public var position: String?
    public var status: Int?
}

/// `media/upload`: a temporary media id, valid three days.
public struct MediaUploadResponse: Codable, Sendable, Hashable {
    public var type: String?
    public var media_id: String
    /// Unix seconds, as a string.
    public var created_at: String?
}
