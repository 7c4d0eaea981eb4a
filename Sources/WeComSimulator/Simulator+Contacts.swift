import Foundation
import WeComKit

// Staff, customer and tag endpoints (platform spec sections 2 and 3).
extension WeComSimulator {
    struct UserAnswer: Encodable {
        var userid: String
        var name: String
        var department: [Int]
        var status: Int
    }

    func userGet(_ request: SimulatorRequest, _ at: Date) throws(APIFailure) -> Answer {
        guard let userid = request.query["userid"], !userid.isEmpty else { throw Self.fail(40003) }
        guard let member = corp.staffMember(userid) else { throw Self.fail(60111) }
        return Self.answer(UserAnswer(userid: userid, name: configuration.namesVisible ? member.name : userid, department: [1], status: 1))
    }

    func followUserList(_ request: SimulatorRequest, _ at: Date) -> Answer {
        Self.answer(FollowUserListResponse(follow_user: corp.staff.map(\.userid)))
    }

    func contactList(_ request: SimulatorRequest, _ at: Date) throws(APIFailure) -> Answer {
        guard let userid = request.query["userid"], !userid.isEmpty else { throw Self.fail(40003, empty: ["external_userid": []]) }
        guard corp.staffMember(userid) != nil else { throw Self.fail(40003, empty: ["external_userid": []]) }
        // A member without customers is "not external contact" rather than an empty list.
        let ids = corp.listing[userid] ?? []
        guard !ids.isEmpty else { throw Self.fail(84061, empty: ["external_userid": []]) }
        return Self.answer(ExternalContactListResponse(external_userid: ids))
    }

    static let followersPerPage = 500

    func contactDetail(_ request: SimulatorRequest, _ at: Date) throws(APIFailure) -> Answer {
        guard let id = request.query["external_userid"], id.hasPrefix("wm") || id.hasPrefix("wo") else {
            throw Self.fail(40096, empty: ["follow_user": []])
        }
        let relations = corp.relations(of: id)
        guard let customer = corp.customers[id], !relations.isEmpty else { throw Self.fail(84061, empty: ["follow_user": []]) }
        var offset = 0
        if let cursor = request.query["cursor"], !cursor.isEmpty {
            guard let fields = Self.openCursor(cursor, kind: "g", scope: id), fields.count == 1 else {
                throw Self.fail(40058, "invalid cursor")
            }
            offset = fields[0]
        }
        let page = relations.dropFirst(offset).prefix(Self.followersPerPage)
        let next = offset + page.count < relations.count ? Self.makeCursor(kind: "g", scope: id, [offset + page.count]) : nil
        return Self.answer(
            ExternalContactDetailResponse(
                external_contact: externalContact(customer), follow_user: page.map(followUser), next_cursor: next))
    }

    func batchGetByUser(_ request: SimulatorRequest, _ at: Date) throws(APIFailure) -> Answer {
        let body = try Self.object(request)
        var users = try body.strings("userid_list") ?? []
        // The older single-member form is still accepted.
        if users.isEmpty, let single = try body.string("userid"), !single.isEmpty { users = [single] }
        guard !users.isEmpty else { throw Self.fail(40058, "invalid parameter: userid_list is empty") }
        guard users.count <= 100 else { throw Self.fail(40058, "invalid parameter: userid_list exceeds 100") }
        var limit = try body.int("limit") ?? 50
        if limit <= 0 { limit = 50 }
        limit = min(limit, 100)
        let unlicensed = users.filter { corp.staffMember($0)?.licensed == false }
        let listed = users.filter { corp.staffMember($0)?.licensed == true }
        if listed.isEmpty && !unlicensed.isEmpty { throw Self.fail(701008) }
        let scope = users.joined(separator: ",")
        var userIndex = 0
        var offset = 0
        if let cursor = try body.string("cursor"), !cursor.isEmpty {
            guard let fields = Self.openCursor(cursor, kind: "b", scope: scope), fields.count == 2 else {
                throw Self.fail(40058, "invalid cursor")
            }
            userIndex = fields[0]
            offset = fields[1]
        }
        var rows: [Data] = []
        rows.reserveCapacity(limit)
        while userIndex < listed.count && rows.count < limit {
            let userid = listed[userIndex]
            let ids = corp.listing[userid] ?? []
            while offset < ids.count && rows.count < limit {
                if let row = encodedRow(userid, ids[offset]) { rows.append(row) }
                offset += 1
            }
            if offset >= ids.count {
                userIndex += 1
                offset = 0
            }
        }
        // Whether anything follows is known only by looking ahead past empty members.
        var more = false
        var probe = userIndex
        var probeOffset = offset
        while probe < listed.count {
            if probeOffset < (corp.listing[listed[probe]]?.count ?? 0) {
                more = true
                break
            }
            probe += 1
            probeOffset = 0
        }
        let next = more ? Self.makeCursor(kind: "b", scope: scope, [userIndex, offset]) : ""
        var answer = Data(#"{"errcode":0,"errmsg":"ok","external_contact_list":["#.utf8)
        for (index, row) in rows.enumerated() {
            if index > 0 { answer.append(UInt8(ascii: ",")) }
            answer.append(row)
        }
        answer.append(contentsOf: Array(#"],"next_cursor":""#.utf8))
        answer.append(contentsOf: Array(next.utf8))
        answer.append(UInt8(ascii: "\""))
        if !unlicensed.isEmpty {
            let failInfo = (try? JSONEncoder().encode(BatchGetByUserResponse.FailInfo(unlicensed_userid_list: unlicensed))) ?? Data("{}".utf8)
            answer.append(contentsOf: Array(#","fail_info":"#.utf8))
            answer.append(failInfo)
        }
        answer.append(UInt8(ascii: "}"))
        return Answer(data: answer)
    }

    /// One batch row (customer and relation) as JSON, encoded once until the corp changes.
    func encodedRow(_ userid: String, _ externalUserID: String) -> Data? {
        let key = userid + "\u{0}" + externalUserID
        if let cached = encodedRows[key] { return cached }
        guard let relation = corp.relation(userid, externalUserID), let customer = corp.customers[externalUserID] else { return nil }
        let element = BatchGetByUserResponse.Element(external_contact: externalContact(customer), follow_info: followInfo(relation))
        guard let data = try? rowEncoder.encode(element) else { return nil }
        encodedRows[key] = data
        return data
    }

    /// Encodes every batch row ahead of time, so benchmarks time Cohort rather than the
    /// simulator's first pass.
    public func prepareRows() {
        for (userid, ids) in corp.listing {
            for id in ids { _ = encodedRow(userid, id) }
        }
    }

    func externalContact(_ customer: SimCustomer) -> ExternalContact {
        ExternalContact(
            external_userid: customer.externalUserID, name: customer.name, position: customer.position,
            avatar: "http://wx.qlogo.cn/mmhead/\(customer.externalUserID.suffix(12))/0", corp_name: customer.corpName,
            corp_full_name: customer.corpFullName, type: customer.type, gender: customer.gender, unionid: customer.unionid)
    }

    func followInfo(_ relation: SimRelation) -> FollowInfo {
        FollowInfo(
            userid: relation.userid, remark: relation.remark, description: relation.description, createtime: relation.createtime,
            tag_id: relation.tagIDs, remark_corp_name: relation.remarkCorpName, remark_mobiles: relation.remarkMobiles.map(Mobile.init),
            oper_userid: relation.operUserID, add_way: relation.addWay, state: relation.state)
    }

    func followUser(_ relation: SimRelation) -> FollowUser {
        var tags: [FollowUserTag] = relation.tagIDs.compactMap { id in
            guard let tag = corp.tags[id] else { return nil }
            return FollowUserTag(group_name: corp.groups[tag.groupID]?.name, tag_name: tag.name, tag_id: id, type: 1)
        }
        tags += relation.personalTags.map { FollowUserTag(group_name: "", tag_name: $0, tag_id: nil, type: 2) }
        return FollowUser(
            userid: relation.userid, remark: relation.remark, description: relation.description, createtime: relation.createtime,
            tags: tags, remark_corp_name: relation.remarkCorpName, remark_mobiles: relation.remarkMobiles.map(Mobile.init),
            oper_userid: relation.operUserID, add_way: relation.addWay, state: relation.state)
    }

    // MARK: Cursors

    /// An opaque cursor bound to the query it came from: `kind`, a digest of the scope and the
    /// position, base64url.
    static func makeCursor(kind: String, scope: String, _ position: [Int]) -> String {
        let text = ([kind, String(scopeDigest(scope))] + position.map(String.init)).joined(separator: ":")
        return Data(text.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func openCursor(_ cursor: String, kind: String, scope: String) -> [Int]? {
        var base64 = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), let text = String(data: data, encoding: .utf8) else { return nil }
        let parts = text.split(separator: ":").map(String.init)
        guard parts.count >= 3, parts[0] == kind, parts[1] == String(scopeDigest(scope)) else { return nil }
        let numbers = parts.dropFirst(2).compactMap { Int($0) }
        guard numbers.count == parts.count - 2, numbers.allSatisfy({ $0 >= 0 }) else { return nil }
        return numbers
    }

    /// FNV-1a: stable across runs (Swift's Hasher is seeded per process).
    static func scopeDigest(_ text: String) -> UInt32 {
        var hash: UInt32 = 2_166_136_261
        for byte in text.utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 16_777_619
        }
        return hash
    }

    // MARK: Tags

    func corpTagList(_ request: SimulatorRequest, _ at: Date) throws(APIFailure) -> Answer {
        let body = try Self.object(request)
        let tagIDs = try body.strings("tag_id") ?? []
        let groupIDs = try body.strings("group_id") ?? []
        var result: [CorpTagGroup] = []
        if !groupIDs.isEmpty {
            // With both given, only group_id filters.
            for id in groupIDs {
                guard let group = corp.groups[id] else { continue }
                result.append(tagGroup(group, tags: group.tagIDs.compactMap { corp.tags[$0] }, byID: true))
            }
        } else if !tagIDs.isEmpty {
            var byGroup: [String: [SimTag]] = [:]
            var order: [String] = []
            for id in tagIDs {
                guard let tag = corp.tags[id] else { continue }
                if byGroup[tag.groupID] == nil { order.append(tag.groupID) }
                byGroup[tag.groupID, default: []].append(tag)
            }
            for groupID in order {
                guard let group = corp.groups[groupID] else { continue }
                result.append(tagGroup(group, tags: byGroup[groupID] ?? [], byID: true))
            }
        } else {
            // A full listing carries live entries only, and no deleted flags.
            for group in corp.liveGroups {
                result.append(tagGroup(group, tags: group.tagIDs.compactMap { corp.tags[$0] }.filter { !$0.deleted }, byID: false))
            }
        }
        return Self.answer(CorpTagListResponse(tag_group: result))
    }

    func tagGroup(_ group: SimTagGroup, tags: [SimTag], byID: Bool) -> CorpTagGroup {
        let sorted = tags.enumerated().sorted { ($0.element.order, -$0.offset) > ($1.element.order, -$1.offset) }.map(\.element)
        return CorpTagGroup(
            group_id: group.id, group_name: group.name, create_time: group.createTime, order: group.order,
            deleted: byID ? group.deleted : nil,
            tag: sorted.map { CorpTag(id: $0.id, name: $0.name, create_time: $0.createTime, order: $0.order, deleted: byID ? $0.deleted : nil) })
    }

    static func validName(_ name: String) -> Bool { !name.isEmpty && name.count <= 30 }

    static func order(_ value: Int?) throws(APIFailure) -> UInt32 {
        guard let value else { return 0 }
        guard value >= 0, value <= Int(UInt32.max) else { throw fail(40058, "invalid parameter: order must be in [0, 2^32)") }
        return UInt32(value)
    }

    func addCorpTag(_ request: SimulatorRequest, _ at: Date) throws(APIFailure) -> Answer {
        let body = try Self.object(request)
        guard let newTags = try body.objects("tag"), !newTags.isEmpty else {
            throw Self.fail(40058, "invalid parameter: tag must hold at least one tag")
        }
        var groupID: String
        if let id = try body.string("group_id"), !id.isEmpty {
            guard let group = corp.groups[id], !group.deleted else { throw Self.fail(40068) }
            groupID = group.id
        } else {
            guard let name = try body.string("group_name"), Self.validName(name) else {
                throw Self.fail(40058, "invalid parameter: group_name is required, at most 30 characters")
            }
            if let existing = corp.groups.values.first(where: { $0.name == name && !$0.deleted }) {
                groupID = existing.id
            } else {
                groupID = "et" + nextID(length: 30)
                corp.groups[groupID] = SimTagGroup(id: groupID, name: name, order: try Self.order(try body.int("order")), createTime: unixTime(at))
                corp.groupOrder.append(groupID)
            }
        }
        var answered: [SimTag] = []
        for entry in newTags {
            guard let name = try entry.string("name"), Self.validName(name) else {
                throw Self.fail(40058, "invalid parameter: tag name is required, at most 30 characters")
            }
            // Same name inside the group: one tag.
            if let existing = corp.groups[groupID]?.tagIDs.compactMap({ corp.tags[$0] }).first(where: { $0.name == name && !$0.deleted }) {
                if !answered.contains(existing) { answered.append(existing) }
                continue
            }
            let tag = SimTag(id: "et" + nextID(length: 30), groupID: groupID, name: name, order: try Self.order(try entry.int("order")), createTime: unixTime(at))
            corp.tags[tag.id] = tag
            corp.groups[groupID]?.tagIDs.append(tag.id)
            answered.append(tag)
        }
        let group = corp.groups[groupID]!
        return Self.answer(AddCorpTagResponse(tag_group: tagGroup(group, tags: answered, byID: false)))
    }

    func editCorpTag(_ request: SimulatorRequest, _ at: Date) throws(APIFailure) -> Answer {
        let body = try Self.object(request)
        guard let id = try body.string("id"), !id.isEmpty else { throw Self.fail(40058, "invalid parameter: id is required") }
        let name = try body.string("name")
        if let name, !Self.validName(name) { throw Self.fail(40058, "invalid parameter: name at most 30 characters") }
        let order = try body.int("order").map { value throws(APIFailure) in try Self.order(value) }
        if var tag = corp.tags[id], !tag.deleted {
            if let name, name != tag.name {
                let clash = corp.groups[tag.groupID]?.tagIDs.compactMap { corp.tags[$0] }.contains { $0.name == name && !$0.deleted && $0.id != id } ?? false
                if clash { throw Self.fail(40071) }
                tag.name = name
            }
            if let order { tag.order = order }
            corp.tags[id] = tag
        } else if var group = corp.groups[id], !group.deleted {
            if let name, name != group.name {
                if corp.groups.values.contains(where: { $0.name == name && !$0.deleted && $0.id != id }) { throw Self.fail(40071) }
                group.name = name
            }
            if let order { group.order = order }
            corp.groups[id] = group
        } else {
            throw Self.fail(40068)
        }
        return Self.answer(Empty())
    }

    func deleteCorpTag(_ request: SimulatorRequest, _ at: Date) throws(APIFailure) -> Answer {
        let body = try Self.object(request)
        let tagIDs = try body.strings("tag_id") ?? []
        let groupIDs = try body.strings("group_id") ?? []
        guard !tagIDs.isEmpty || !groupIDs.isEmpty else { throw Self.fail(40058, "invalid parameter: tag_id and group_id are both empty") }
        for id in tagIDs where corp.tags[id] == nil || corp.tags[id]?.deleted == true { throw Self.fail(40068) }
        for id in groupIDs where corp.groups[id] == nil || corp.groups[id]?.deleted == true { throw Self.fail(40068) }
        deleteTags(tagIDs: tagIDs, groupIDs: groupIDs)
        return Self.answer(Empty())
    }

    /// Deletes tags and groups; a group that loses its last tag goes too. Deleted tags leave
    /// every relation.
    func deleteTags(tagIDs: [String], groupIDs: [String]) {
        var removed: Set<String> = []
        for id in tagIDs {
            corp.tags[id]?.deleted = true
            removed.insert(id)
        }
        for id in groupIDs {
            corp.groups[id]?.deleted = true
            for tagID in corp.groups[id]?.tagIDs ?? [] {
                corp.tags[tagID]?.deleted = true
                removed.insert(tagID)
            }
        }
        for groupID in Set(tagIDs.compactMap { corp.tags[$0]?.groupID }) {
            let live = corp.groups[groupID]?.tagIDs.contains { corp.tags[$0]?.deleted == false } ?? false
            if !live { corp.groups[groupID]?.deleted = true }
        }
        corp.untagEverywhere(removed)
    }

    func markTag(_ request: SimulatorRequest, _ at: Date) throws(APIFailure) -> Answer {
        let body = try Self.object(request)
        guard let userid = try body.string("userid"), !userid.isEmpty else { throw Self.fail(40003) }
        guard let external = try body.string("external_userid"), !external.isEmpty else { throw Self.fail(40096) }
        let add = try body.strings("add_tag") ?? []
        let remove = try body.strings("remove_tag") ?? []
        guard !add.isEmpty || !remove.isEmpty else { throw Self.fail(40058, "invalid parameter: add_tag and remove_tag are both empty") }
        guard corp.relation(userid, external) != nil else { throw Self.fail(84061) }
        for id in add + remove where corp.tags[id] == nil || corp.tags[id]?.deleted == true { throw Self.fail(40068) }
        // An API write: no callback follows.
        _ = corp.update(userid, external) { relation in
            relation.tagIDs.removeAll { remove.contains($0) }
            for id in add where !relation.tagIDs.contains(id) { relation.tagIDs.append(id) }
        }
        tagWrites.append(SimulatorTagWrite(userid: userid, external_userid: external, add_tag: add, remove_tag: remove))
        return Self.answer(Empty())
    }

    struct MediaAnswer: Encodable {
        var type: String
        var media_id: String
        var created_at: String
    }

    func mediaUpload(_ request: SimulatorRequest, _ at: Date) throws(APIFailure) -> Answer {
        guard let type = request.query["type"], ["image", "voice", "video", "file"].contains(type) else {
            throw Self.fail(40004, "invalid media type")
        }
        let limits = ["image": 2 << 20, "voice": 2 << 20, "video": 10 << 20, "file": 20 << 20]
        // One multipart part named "media", as the platform requires.
        guard !request.body.isEmpty, request.body.range(of: Data("name=\"media\"".utf8)) != nil else {
            throw Self.fail(41005, "media data missing")
        }
        guard request.body.count <= limits[type]! + 4096 else { throw Self.fail(40006, "invalid file size") }
        let id = "3" + nextID(length: 63)
        media[id] = unixTime(at)
        return Self.answer(MediaAnswer(type: type, media_id: id, created_at: String(unixTime(at))))
    }
}
