import Foundation

/// A customer (external contact) as the platform describes them. Values only: the store adds
/// when Cohort first saw them and whether they are gone.
public struct Contact: Sendable, Hashable, Codable {
    public var externalUserID: String
    public var name: String?
    /// 1 WeChat user, 2 WeCom user.
    public var type: Int?
    /// 0 unknown, 1 male, 2 female.
    public var gender: Int?
    public var unionID: String?
    public var corpName: String?
    public var corpFullName: String?
    public var position: String?
    public var avatar: String?

    public init(
        externalUserID: String, name: String? = nil, type: Int? = nil, gender: Int? = nil, unionID: String? = nil,
        corpName: String? = nil, corpFullName: String? = nil, position: String? = nil, avatar: String? = nil
    ) {
        self.externalUserID = externalUserID
        self.name = name
        self.type = type
        self.gender = gender
        self.unionID = unionID
        self.corpName = corpName
        self.corpFullName = corpFullName
        self.position = position
        self.avatar = avatar
    }
}

/// Identifies a relation: one staff member following one customer.
public struct RelationKey: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public var externalUserID: String
    public var userID: String

    public init(externalUserID: String, userID: String) {
        self.externalUserID = externalUserID
        self.userID = userID
    }

    public static func < (lhs: RelationKey, rhs: RelationKey) -> Bool {
        (lhs.externalUserID, lhs.userID) < (rhs.externalUserID, rhs.userID)
    }

    public var description: String { "\(externalUserID)/\(userID)" }
}

/// A staff member's relation to a customer, with the staff member's notes and the corp and
/// rule-group tags on it (platform tags belong to a relation, not to a contact).
public struct Relation: Sendable, Hashable, Codable {
    public var externalUserID: String
    public var userID: String
    public var remark: String?
    public var description: String?
    /// When the staff member added the customer (unix seconds).
    public var createTime: Int64?
    public var addWay: Int?
    public var state: String?
    public var operUserID: String?
    public var remarkCorpName: String?
    public var remarkMobiles: [String]
    /// Corp and rule-group tag ids, sorted, without duplicates. Personal tags have no id and
    /// are not part of the mirror (batch/get_by_user never returns them).
    public var tagIDs: [String]

    public init(
        externalUserID: String, userID: String, remark: String? = nil, description: String? = nil,
        createTime: Int64? = nil, addWay: Int? = nil, state: String? = nil, operUserID: String? = nil,
        remarkCorpName: String? = nil, remarkMobiles: [String] = [], tagIDs: [String] = []
    ) {
        self.externalUserID = externalUserID
        self.userID = userID
        self.remark = remark
        self.description = description
        self.createTime = createTime
        self.addWay = addWay
        self.state = state
        self.operUserID = operUserID
        self.remarkCorpName = remarkCorpName
        self.remarkMobiles = remarkMobiles
        self.tagIDs = Array(Set(tagIDs)).sorted()
    }

    public var key: RelationKey { RelationKey(externalUserID: externalUserID, userID: userID) }
}

/// A corp tag in the platform catalogue.
public struct Tag: Sendable, Hashable, Codable {
    public var id: String
    public var groupID: String
    public var name: String
    public var order: UInt32
    public var createTime: Int64?

    public init(id: String, groupID: String, name: String, order: UInt32 = 0, createTime: Int64? = nil) {
        self.id = id
        self.groupID = groupID
        self.name = name
        self.order = order
        self.createTime = createTime
    }
}

/// A corp tag group with its live tags.
public struct TagGroup: Sendable, Hashable, Codable {
    public var id: String
    public var name: String
    public var order: UInt32
    public var createTime: Int64?
    public var tags: [Tag]

    public init(id: String, name: String, order: UInt32 = 0, createTime: Int64? = nil, tags: [Tag] = []) {
        self.id = id
        self.name = name
        self.order = order
        self.createTime = createTime
        self.tags = tags
    }
}

/// A staff member who has customer contact enabled.
public struct StaffMember: Sendable, Hashable, Codable {
    public var userID: String
    /// The display name from the platform (user/get) or the operator's config; nil if neither.
    public var name: String?

    public init(userID: String, name: String? = nil) {
        self.userID = userID
        self.name = name
    }
}

/// Everything one full pass over the platform saw. Only a complete pass may end what it did
/// not see.
public struct DirectorySnapshot: Sendable, Hashable {
    public var staff: [StaffMember]
    /// Staff the platform skipped for lack of an interop licence: their relations were not
    /// listed, so they are kept as they are.
    public var unlicensedStaff: Set<String>
    public var contacts: [String: Contact]
    public var relations: [RelationKey: Relation]
    public var tagGroups: [TagGroup]

    public init(
        staff: [StaffMember] = [], unlicensedStaff: Set<String> = [], contacts: [String: Contact] = [:],
        relations: [RelationKey: Relation] = [:], tagGroups: [TagGroup] = []
    ) {
        self.staff = staff
        self.unlicensedStaff = unlicensedStaff
        self.contacts = contacts
        self.relations = relations
        self.tagGroups = tagGroups
    }
}

/// What the store holds now, as far as a sync compares it: the live (not ended) rows.
public struct DirectoryState: Sendable, Hashable {
    public var staff: [String: StaffMember]
    public var contacts: [String: Contact]
    public var relations: [RelationKey: Relation]
    public var tagGroups: [TagGroup]

    public init(
        staff: [String: StaffMember] = [:], contacts: [String: Contact] = [:], relations: [RelationKey: Relation] = [:],
        tagGroups: [TagGroup] = []
    ) {
        self.staff = staff
        self.contacts = contacts
        self.relations = relations
        self.tagGroups = tagGroups
    }
}
