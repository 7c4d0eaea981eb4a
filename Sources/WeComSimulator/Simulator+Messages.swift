import Foundation
import WeComKit

/// A mass-message task created through the API (spec 4.1): one part per sending staff member,
/// each delivered only after that member confirms.
public struct SimTask: Sendable, Hashable {
    public struct Part: Sendable, Hashable {
        public var userid: String
        public var recipients: [String]
        /// 0 not sent, 2 sent.
        public var status: Int
        public var sendTime: Int64?
        /// When the member decides (confirm or ignore); nil once decided.
        public var decideAt: Int64?
        /// external_userid → 0 not sent, 1 sent, 2 not a friend, 3 over quota.
        public var results: [String: Int]
    }

    public var msgid: String
    public var createTime: Int64
    public var chatType: String
    public var text: String?
    public var attachmentCount: Int
    public var parts: [Part]
    public var reminders: [Int64]
    public var cancelled: Bool
}

/// An application message (message/send) the platform took.
public struct SimApplicationMessage: Codable, Sendable, Hashable {
    public var touser: [String]
    public var agentid: Int
    public var text: String
}

/// A welcome message the platform took.
public struct SimWelcomeMessage: Codable, Sendable, Hashable {
    public var userid: String
    public var external_userid: String
    public var text: String
    public var attachments: Int
}

struct WelcomeCode: Sendable, Hashable {
    var userid: String
    var externalUserID: String
    var issuedAt: Int64
    var used: Bool
}

extension WeComSimulator {
    func addMessageTemplate(_ request: SimulatorRequest, _ at: Date) throws(APIFailure) -> Answer {
        let body = try Self.object(request)
        let chatType = try body.string("chat_type") ?? "single"
        guard chatType == "single" || chatType == "group" else { throw Self.fail(40058, "invalid parameter: chat_type") }
        let sender = try body.string("sender").flatMap { $0.isEmpty ? nil : $0 }
        let ids = try body.strings("external_userid") ?? []
        if chatType == "group" && sender == nil { throw Self.fail(40058, "invalid parameter: sender is required for group") }
        if chatType == "single" && ids.isEmpty && sender == nil { throw Self.fail(40058, "invalid parameter: external_userid and sender are both empty") }
        guard ids.count <= 10_000 else { throw Self.fail(40058, "invalid parameter: external_userid exceeds 10000") }
        if let sender, corp.staffMember(sender) == nil { throw Self.fail(40003) }
        let textObject = body["text"] as? [String: Any]
        let content = try textObject?.string("content")
        if let content, content.utf8.count > 4000 { throw Self.fail(40058, "invalid parameter: text.content exceeds 4000 bytes") }
        let attachments = try body.objects("attachments") ?? []
        guard attachments.count <= 9 else { throw Self.fail(40058, "invalid parameter: at most 9 attachments") }
        for attachment in attachments { try validate(attachment, at: at) }
        guard !(content ?? "").isEmpty || !attachments.isEmpty else { throw Self.fail(40058, "invalid parameter: text and attachments are both empty") }

        var failList: [String] = []
        var bySender: [String: [String]] = [:]
        var senderOrder: [String] = []
        func assign(_ external: String, to userid: String) {
            if bySender[userid] == nil { senderOrder.append(userid) }
            bySender[userid, default: []].append(external)
        }
        let filter = try tagFilter(body)
        if ids.isEmpty, let sender {
            for external in corp.listing[sender] ?? [] where matches(filter, corp.relation(sender, external)) { assign(external, to: sender) }
        } else {
            for external in ids {
                if let sender {
                    guard let relation = corp.relation(sender, external), matches(filter, relation) else {
                        failList.append(external)
                        continue
                    }
                    assign(external, to: relation.userid)
                } else {
                    // Without a sender the task goes to the member who chatted last.
                    guard let relation = corp.relations(of: external).filter({ matches(filter, $0) }).max(by: { $0.lastChatAt < $1.lastChatAt }) else {
                        failList.append(external)
                        continue
                    }
                    assign(external, to: relation.userid)
                }
            }
        }
        let msgid = "msg" + nextID(length: 29)
        let created = unixTime(at)
        let decideAt = created + Int64(configuration.confirmDelaySeconds.rounded(.up))
        tasks[msgid] = SimTask(
            msgid: msgid, createTime: created, chatType: chatType, text: content, attachmentCount: attachments.count,
            parts: senderOrder.map { userid in
                SimTask.Part(
                    userid: userid, recipients: bySender[userid] ?? [], status: 0, sendTime: nil, decideAt: decideAt,
                    results: Dictionary(uniqueKeysWithValues: (bySender[userid] ?? []).map { ($0, 0) }))
            },
            reminders: [], cancelled: false)
        taskOrder.append(msgid)
        return Self.answer(AddMessageTemplateResponse(fail_list: failList, msgid: msgid))
    }

    private func validate(_ attachment: [String: Any], at: Date) throws(APIFailure) {
        guard let type = try attachment.string("msgtype"), ["image", "link", "miniprogram", "video", "file"].contains(type),
            let object = attachment[type] as? [String: Any]
        else { throw Self.fail(40058, "invalid parameter: attachment msgtype must name the object present") }
        func bytes(_ key: String, max: Int, required: Bool) throws(APIFailure) {
            let value = try object.string(key)
            if required && (value ?? "").isEmpty { throw Self.fail(40058, "invalid parameter: \(type).\(key) is required") }
            if let value, value.utf8.count > max { throw Self.fail(40058, "invalid parameter: \(type).\(key) exceeds \(max) bytes") }
        }
        switch type {
        case "image":
            let mediaID = try object.string("media_id")
            let picURL = try object.string("pic_url")
            guard mediaID != nil || picURL != nil else { throw Self.fail(40058, "invalid parameter: image needs media_id or pic_url") }
            if let mediaID { try checkMedia(mediaID, at: at) }
        case "link":
            try bytes("title", max: 128, required: true)
            try bytes("url", max: 2048, required: true)
            try bytes("picurl", max: 2048, required: false)
            try bytes("desc", max: 512, required: false)
        case "miniprogram":
            try bytes("title", max: 64, required: true)
            try bytes("appid", max: 64, required: true)
            try bytes("page", max: 1024, required: true)
            try bytes("pic_media_id", max: 128, required: true)
            try checkMedia(try object.string("pic_media_id") ?? "", at: at)
        default:
            try checkMedia(try object.string("media_id") ?? "", at: at)
        }
    }

    /// Media ids live three days.
    private func checkMedia(_ id: String, at: Date) throws(APIFailure) {
        guard let created = media[id], unixTime(at) - created < 3 * 86_400 else { throw Self.fail(40007, "invalid media_id") }
    }

    private func tagFilter(_ body: [String: Any]) throws(APIFailure) -> [[String]] {
        guard let filter = body["tag_filter"] as? [String: Any], let groups = try filter.objects("group_list") else { return [] }
        var result: [[String]] = []
        for group in groups {
            let tags = try group.strings("tag_list") ?? []
            guard tags.count <= 100 else { throw Self.fail(40058, "invalid parameter: at most 100 tags per group") }
            if !tags.isEmpty { result.append(tags) }
        }
        return result
    }

    /// OR within a group, AND across groups.
    private func matches(_ filter: [[String]], _ relation: SimRelation?) -> Bool {
        guard let relation else { return false }
        return filter.allSatisfy { group in group.contains { relation.tagIDs.contains($0) } }
    }

    /// Lets staff decisions that are due happen: confirmed parts send, each recipient
    /// subject to the per-customer receive quota.
    func settle(_ msgid: String, at: Date) {
        guard var task = tasks[msgid] else { return }
        let now = unixTime(at)
        for index in task.parts.indices {
            guard let decideAt = task.parts[index].decideAt, decideAt <= now, !task.cancelled else { continue }
            task.parts[index].decideAt = nil
            guard random.unit() < configuration.confirmProbability else { continue }
            task.parts[index].status = 2
            task.parts[index].sendTime = decideAt
            let userid = task.parts[index].userid
            for external in task.parts[index].recipients {
                if corp.relation(userid, external) == nil {
                    task.parts[index].results[external] = 2
                } else if overQuota(external, at: decideAt) {
                    task.parts[index].results[external] = 3
                } else {
                    receipts[external, default: []].append(decideAt)
                    task.parts[index].results[external] = 1
                }
            }
        }
        tasks[msgid] = task
    }

    func overQuota(_ external: String, at time: Int64) -> Bool {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Asia/Shanghai")!
        calendar.firstWeekday = 2
        let date = Date(timeIntervalSince1970: Double(time))
        let received = receipts[external] ?? []
        let (component, limit): (Calendar.Component, Int) =
            switch configuration.receiveQuota {
            case .daysInMonth: (.month, calendar.range(of: .day, in: .month, for: date)?.count ?? 30)
            case .perWeek: (.weekOfYear, 7)
            case .perDay: (.day, 1)
            }
        guard let period = calendar.dateInterval(of: component, for: date) else { return false }
        let count = received.filter { period.contains(Date(timeIntervalSince1970: Double($0))) }.count
        return count >= limit
    }

    func groupMessageList(_ request: SimulatorRequest, _ at: Date) throws(APIFailure) -> Answer {
        let body = try Self.object(request)
        guard let chatType = try body.string("chat_type"), chatType == "single" || chatType == "group" else {
            throw Self.fail(40058, "invalid parameter: chat_type is required")
        }
        guard let start = try body.int("start_time"), let end = try body.int("end_time"), start <= end else {
            throw Self.fail(40058, "invalid parameter: start_time and end_time are required")
        }
        guard end - start <= 31 * 86_400 else { throw Self.fail(40058, "invalid parameter: the time span exceeds one month") }
        let filterType = try body.int("filter_type") ?? 2
        var limit = try body.int("limit") ?? 50
        if limit <= 0 || limit > 100 { limit = 50 }
        let creator = try body.string("creator").flatMap { $0.isEmpty ? nil : $0 }
        let scope = "\(chatType):\(start):\(end):\(filterType):\(creator ?? "")"
        var offset = 0
        if let cursor = try body.string("cursor"), !cursor.isEmpty {
            guard let fields = Self.openCursor(cursor, kind: "m", scope: scope), fields.count == 1 else { throw Self.fail(40058, "invalid cursor") }
            offset = fields[0]
        }
        // API-created tasks are corp tasks (create_type 0) without a creator.
        let matching = taskOrder.compactMap { tasks[$0] }.filter {
            $0.chatType == chatType && $0.createTime >= start && $0.createTime <= end && filterType != 1 && creator == nil
        }
        let page = matching.dropFirst(offset).prefix(limit)
        let next = offset + page.count < matching.count ? Self.makeCursor(kind: "m", scope: scope, [offset + page.count]) : ""
        return Self.answer(
            GroupMessageListResponse(
                group_msg_list: page.map {
                    GroupMessageListResponse.Message(
                        msgid: $0.msgid, creator: nil, create_time: $0.createTime, create_type: 0, text: $0.text.map(MessageText.init))
                },
                next_cursor: next))
    }

    private func pageLimit(_ body: [String: Any]) throws(APIFailure) -> Int {
        let limit = try body.int("limit") ?? 500
        return limit <= 0 || limit > 1000 ? 500 : limit
    }

    func groupMessageTask(_ request: SimulatorRequest, _ at: Date) throws(APIFailure) -> Answer {
        let body = try Self.object(request)
        guard let msgid = try body.string("msgid"), tasks[msgid] != nil else { throw Self.fail(40058, "invalid parameter: msgid") }
        settle(msgid, at: at)
        let limit = try pageLimit(body)
        var offset = 0
        if let cursor = try body.string("cursor"), !cursor.isEmpty {
            guard let fields = Self.openCursor(cursor, kind: "t", scope: msgid), fields.count == 1 else { throw Self.fail(40058, "invalid cursor") }
            offset = fields[0]
        }
        let parts = tasks[msgid]!.parts
        let page = parts.dropFirst(offset).prefix(limit)
        let next = offset + page.count < parts.count ? Self.makeCursor(kind: "t", scope: msgid, [offset + page.count]) : ""
        return Self.answer(
            GroupMessageTaskResponse(
                task_list: page.map { GroupMessageTaskResponse.Task(userid: $0.userid, status: $0.status, send_time: $0.sendTime) },
                next_cursor: next))
    }

    func groupMessageSendResult(_ request: SimulatorRequest, _ at: Date) throws(APIFailure) -> Answer {
        let body = try Self.object(request)
        guard let msgid = try body.string("msgid"), tasks[msgid] != nil else { throw Self.fail(40058, "invalid parameter: msgid") }
        guard let userid = try body.string("userid"), !userid.isEmpty else { throw Self.fail(40058, "invalid parameter: userid is required") }
        settle(msgid, at: at)
        let limit = try pageLimit(body)
        let scope = msgid + ":" + userid
        var offset = 0
        if let cursor = try body.string("cursor"), !cursor.isEmpty {
            guard let fields = Self.openCursor(cursor, kind: "r", scope: scope), fields.count == 1 else { throw Self.fail(40058, "invalid cursor") }
            offset = fields[0]
        }
        let part = tasks[msgid]!.parts.first { $0.userid == userid }
        let rows = (part?.recipients ?? []).map { external in
            let status = part?.results[external] ?? 0
            return GroupMessageSendResultResponse.Recipient(
                external_userid: external, userid: userid, status: status, send_time: status == 1 ? part?.sendTime : nil)
        }
        let page = rows.dropFirst(offset).prefix(limit)
        let next = offset + page.count < rows.count ? Self.makeCursor(kind: "r", scope: scope, [offset + page.count]) : ""
        return Self.answer(GroupMessageSendResultResponse(send_list: Array(page), next_cursor: next))
    }

    func remindGroupMessage(_ request: SimulatorRequest, _ at: Date) throws(APIFailure) -> Answer {
        let body = try Self.object(request)
        guard let msgid = try body.string("msgid"), var task = tasks[msgid] else { throw Self.fail(40058, "invalid parameter: msgid") }
        let now = unixTime(at)
        let recent = task.reminders.filter { now - $0 < 86_400 }
        guard recent.count < 3 else { throw Self.fail(40058, "invalid parameter: at most 3 reminders per task in 24 hours") }
        task.reminders.append(now)
        // A reminded member who has not sent decides again.
        let decideAt = now + Int64(configuration.confirmDelaySeconds.rounded(.up))
        for index in task.parts.indices where task.parts[index].status == 0 && !task.cancelled {
            task.parts[index].decideAt = decideAt
        }
        tasks[msgid] = task
        return Self.answer(Empty())
    }

    func cancelGroupMessage(_ request: SimulatorRequest, _ at: Date) throws(APIFailure) -> Answer {
        let body = try Self.object(request)
        guard let msgid = try body.string("msgid"), tasks[msgid] != nil else { throw Self.fail(40058, "invalid parameter: msgid") }
        settle(msgid, at: at)
        tasks[msgid]?.cancelled = true
        return Self.answer(Empty())
    }

    func sendWelcomeMessage(_ request: SimulatorRequest, _ at: Date) throws(APIFailure) -> Answer {
        let body = try Self.object(request)
        guard let code = try body.string("welcome_code"), let welcome = welcomeCodes[code] else {
            throw Self.fail(40058, "invalid parameter: welcome_code")
        }
        guard !welcome.used else { throw Self.fail(41051) }
        guard unixTime(at) - welcome.issuedAt <= 20 else { throw Self.fail(41051, "welcome code expired") }
        let text = try (body["text"] as? [String: Any])?.string("content") ?? ""
        let attachments = try body.objects("attachments") ?? []
        guard !text.isEmpty || !attachments.isEmpty else { throw Self.fail(40058, "invalid parameter: text and attachments are both empty") }
        guard attachments.count <= 9 else { throw Self.fail(40058, "invalid parameter: at most 9 attachments") }
        welcomeCodes[code]?.used = true
        welcomes.append(SimWelcomeMessage(userid: welcome.userid, external_userid: welcome.externalUserID, text: text, attachments: attachments.count))
        return Self.answer(Empty())
    }

    /// `message/send` (text only): an app message to staff members; unknown userids come back in
    /// `invaliduser` (docs/wecom-api-additions.md).
    func sendApplicationMessage(_ request: SimulatorRequest, _ at: Date) throws(APIFailure) -> Answer {
        let body = try Self.object(request)
        guard try body.string("msgtype") == "text" else { throw Self.fail(40008, "invalid message type") }
        guard let agentID = body["agentid"] as? Int, agentID > 0 else { throw Self.fail(40056, "invalid agentid") }
        let text = try (body["text"] as? [String: Any])?.string("content") ?? ""
        guard !text.isEmpty else { throw Self.fail(41016, "missing content") }
        let users = (try body.string("touser") ?? "").split(separator: "|").map(String.init)
        guard !users.isEmpty else { throw Self.fail(40031, "invalid userid list") }
        let valid = users.filter { corp.staffMember($0) != nil }
        let invalid = users.filter { corp.staffMember($0) == nil }
        applicationMessages.append(SimApplicationMessage(touser: valid, agentid: agentID, text: text))
        return Self.answer(ApplicationMessageAnswer(invaliduser: invalid.joined(separator: "|")))
    }

    private struct ApplicationMessageAnswer: Encodable {
        var invaliduser: String
    }
}
