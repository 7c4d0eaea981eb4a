import CohortCore
import WeComKit

/// Platform answers into domain values.
enum PlatformMapping {
    static func contact(_ value: ExternalContact) -> Contact {
        Contact(
            externalUserID: value.external_userid, name: value.name, type: value.type, gender: value.gender,
            unionID: value.unionid, corpName: value.corp_name, corpFullName: value.corp_full_name, position: value.position,
            avatar: value.avatar)
    }

    /// A `batch/get_by_user` relation: tag ids only (corp and rule-group tags).
    static func relation(_ info: FollowInfo, of externalUserID: String) -> Relation {
        Relation(
            externalUserID: externalUserID, userID: info.userid, remark: info.remark, description: info.description,
            createTime: info.createtime, addWay: info.add_way, state: info.state, operUserID: info.oper_userid,
            remarkCorpName: info.remark_corp_name, remarkMobiles: (info.remark_mobiles ?? []).map(\.value),
            tagIDs: info.tag_id ?? [])
    }

    /// A `get` follow user: personal tags (no id) are left out, so a single-contact refresh
    /// stores exactly what a full sync would.
    static func relation(_ user: FollowUser, of externalUserID: String) -> Relation {
        Relation(
            externalUserID: externalUserID, userID: user.userid, remark: user.remark, description: user.description,
            createTime: user.createtime, addWay: user.add_way, state: user.state, operUserID: user.oper_userid,
            remarkCorpName: user.remark_corp_name, remarkMobiles: (user.remark_mobiles ?? []).map(\.value),
            tagIDs: (user.tags ?? []).compactMap { $0.type == 2 ? nil : $0.tag_id })
    }

    /// Live groups and tags of a catalogue answer, and the ids it reports deleted.
    static func catalogue(_ groups: [CorpTagGroup]) -> (live: [TagGroup], deletedGroups: [String], deletedTags: [String]) {
        var live: [TagGroup] = []
        var deletedGroups: [String] = []
        var deletedTags: [String] = []
        for group in groups {
            if group.deleted == true {
                deletedGroups.append(group.group_id)
                continue
            }
            var tags: [Tag] = []
            for tag in group.tag ?? [] {
                if tag.deleted == true {
                    deletedTags.append(tag.id)
                } else {
                    tags.append(Tag(id: tag.id, groupID: group.group_id, name: tag.name, order: tag.order ?? 0, createTime: tag.create_time))
                }
            }
            live.append(TagGroup(id: group.group_id, name: group.group_name, order: group.order ?? 0, createTime: group.create_time, tags: tags))
        }
        return (live, deletedGroups, deletedTags)
    }
}
