import CohortCore
import Foundation
import WeComKit

/// Signs, encrypts and posts callbacks the way the platform does: POST with
/// `msg_signature`/`timestamp`/`nonce`, an envelope with `ToUserName`, `AgentID`, `Encrypt`;
/// up to 3 more tries on a timeout or a non-200 answer.
struct CallbackSender: Sendable {
    let crypto: CallbackCrypto
    let url: URL
    let transport: any PlatformTransport
    let retryInterval: Double
    let retries = 3

    init(configuration: SimulatorConfiguration, url: URL, transport: any PlatformTransport) throws {
        self.crypto = try CallbackCrypto(
            token: configuration.callbackToken, encodingAESKey: configuration.encodingAESKey, receiveID: configuration.corpID)
        self.url = url
        self.transport = transport
        self.retryInterval = configuration.callbackRetryInterval
    }

    /// Delivers one message; returns the attempts made, the last status and whether it landed.
    func deliver(_ xml: String, timestamp: Int64, nonce: String) async -> (attempts: Int, status: Int?, delivered: Bool) {
        let encrypt = crypto.encrypt(xml)
        let signature = crypto.signature(timestamp: String(timestamp), nonce: nonce, encrypt: encrypt)
        let body = CallbackXML.envelope(toUserName: crypto.receiveID, agentID: "2000003", encrypt: encrypt)
        var components = URLComponents(url: url, resolvingAgainstBaseURL: false)!
        components.percentEncodedQuery = "msg_signature=\(signature)&timestamp=\(timestamp)&nonce=\(nonce)"
        let request = TransportRequest(method: "POST", url: components.url!, body: Data(body.utf8))
        var status: Int?
        for attempt in 1...(1 + retries) {
            do {
                let response = try await transport.send(request)
                status = response.status
                if response.status == 200 { return (attempt, status, true) }
            } catch {
                status = nil
            }
            if attempt <= retries { try? await Task.sleep(for: .seconds(retryInterval)) }
        }
        return (1 + retries, status, false)
    }
}

/// Something a person does in the WeCom client or admin console. Unlike API writes, these
/// produce callbacks.
public struct ConsoleAction: Codable, Sendable, Hashable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case addContact = "add_contact"
        case addHalfContact = "add_half_contact"
        case editContact = "edit_contact"
        case deleteContact = "delete_contact"
        case customerDeletesStaff = "customer_deletes_staff"
        case transferFail = "transfer_fail"
        case createTag = "create_tag"
        case updateTag = "update_tag"
        case deleteTag = "delete_tag"
        case shuffleTags = "shuffle_tags"
    }

    public var action: Kind
    public var userid: String?
    public var external_userid: String?
    /// New customer's name, or a tag's new name.
    public var name: String?
    public var state: String?
    public var remark: String?
    public var add_tag: [String]?
    public var remove_tag: [String]?
    /// A tag or group id.
    public var id: String?
    public var group_name: String?
    /// `DELETE_BY_TRANSFER`, or a transfer failure reason.
    public var reason: String?

    public init(
        _ action: Kind, userid: String? = nil, external_userid: String? = nil, name: String? = nil, state: String? = nil,
        remark: String? = nil, add_tag: [String]? = nil, remove_tag: [String]? = nil, id: String? = nil,
        group_name: String? = nil, reason: String? = nil
    ) {
        self.action = action
        self.userid = userid
        self.external_userid = external_userid
        self.name = name
        self.state = state
        self.remark = remark
        self.add_tag = add_tag
        self.remove_tag = remove_tag
        self.id = id
        self.group_name = group_name
        self.reason = reason
    }
}

/// What a console action did.
public struct ConsoleActionResult: Codable, Sendable, Hashable {
    /// The customer or tag the action created or touched.
    public var id: String?
    public var welcome_code: String?
    public var deliveries: [SimulatorCallbackDelivery]
}

/// Why a console action could not happen.
public struct ConsoleActionError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

extension WeComSimulator {
    /// Performs a console or client action and sends its callbacks (awaiting their delivery).
    public func perform(_ action: ConsoleAction) async throws(ConsoleActionError) -> ConsoleActionResult {
        // Refused before anything changes: a change whose callback cannot be sent is lost.
        if let callbackProblem { throw ConsoleActionError(description: callbackProblem) }
        let at = now()
        let time = unixTime(at)
        var messages: [[CallbackField]] = []
        var resultID: String?
        var welcome: String?
        func need(_ value: String?, _ name: String) throws(ConsoleActionError) -> String {
            guard let value, !value.isEmpty else { throw ConsoleActionError(description: "\(action.action.rawValue) needs \(name)") }
            return value
        }
        func contactEvent(_ change: String, _ userid: String, _ external: String, _ extra: [CallbackField] = []) -> [CallbackField] {
            [CallbackField("Event", "change_external_contact"), CallbackField("ChangeType", change),
             CallbackField("UserID", userid), CallbackField("ExternalUserID", external)] + extra
        }
        func tagEvent(_ change: String, _ id: String, _ type: String?) -> [CallbackField] {
            [CallbackField("Event", "change_external_tag"), CallbackField("Id", id)] + (type.map { [CallbackField("TagType", $0)] } ?? [])
                + [CallbackField("ChangeType", change)]
        }
        switch action.action {
        case .addContact, .addHalfContact:
            let userid = try need(action.userid, "userid")
            guard corp.staffMember(userid) != nil else { throw ConsoleActionError(description: "no staff member \(userid)") }
            let external: String
            if let given = action.external_userid, !given.isEmpty {
                external = given
            } else {
                external = "wm" + nextID(length: 30)
            }
            if corp.customers[external] == nil {
                corp.customers[external] = SimCustomer(externalUserID: external, name: action.name ?? "新客户", type: external.hasPrefix("wo") ? 2 : 1)
            }
            corp.remove(userid, external)
            corp.put(SimRelation(userid: userid, externalUserID: external, createtime: time, addWay: 1, state: action.state, operUserID: external))
            let code = "WELCOME" + nextID(length: 25)
            welcomeCodes[code] = WelcomeCode(userid: userid, externalUserID: external, issuedAt: time, used: false)
            welcome = code
            resultID = external
            var extra: [CallbackField] = []
            if let state = action.state { extra.append(CallbackField("State", state)) }
            extra.append(CallbackField("WelcomeCode", code))
            messages.append(contactEvent(action.action == .addContact ? "add_external_contact" : "add_half_external_contact", userid, external, extra))
        case .editContact:
            let userid = try need(action.userid, "userid")
            let external = try need(action.external_userid, "external_userid")
            let liveTags = Set(corp.tags.values.filter { !$0.deleted }.map(\.id))
            let changed = corp.update(userid, external) { relation in
                if let remark = action.remark { relation.remark = remark }
                relation.tagIDs.removeAll { (action.remove_tag ?? []).contains($0) }
                for id in action.add_tag ?? [] where !relation.tagIDs.contains(id) && liveTags.contains(id) { relation.tagIDs.append(id) }
            }
            guard changed else { throw ConsoleActionError(description: "\(userid) does not follow \(external)") }
            resultID = external
            messages.append(contactEvent("edit_external_contact", userid, external))
        case .deleteContact, .customerDeletesStaff:
            let userid = try need(action.userid, "userid")
            let external = try need(action.external_userid, "external_userid")
            guard corp.remove(userid, external) != nil else { throw ConsoleActionError(description: "\(userid) does not follow \(external)") }
            resultID = external
            if action.action == .deleteContact {
                messages.append(contactEvent("del_external_contact", userid, external, action.reason.map { [CallbackField("Source", $0)] } ?? []))
            } else {
                messages.append(contactEvent("del_follow_user", userid, external))
            }
        case .transferFail:
            let userid = try need(action.userid, "userid")
            let external = try need(action.external_userid, "external_userid")
            resultID = external
            messages.append(
                [CallbackField("Event", "change_external_contact"), CallbackField("ChangeType", "transfer_fail"),
                 CallbackField("FailReason", action.reason ?? "customer_refused"), CallbackField("UserID", userid),
                 CallbackField("ExternalUserID", external)])
        case .createTag:
            let groupName = try need(action.group_name, "group_name")
            let tagName = try need(action.name, "name")
            var group = corp.groups.values.first { $0.name == groupName && !$0.deleted }
            if group == nil {
                let created = SimTagGroup(id: "et" + nextID(length: 30), name: groupName, order: 0, createTime: time)
                corp.groups[created.id] = created
                corp.groupOrder.append(created.id)
                group = created
                messages.append(tagEvent("create", created.id, "tag_group"))
            }
            let tag = SimTag(id: "et" + nextID(length: 30), groupID: group!.id, name: tagName, order: 0, createTime: time)
            corp.tags[tag.id] = tag
            corp.groups[tag.groupID]?.tagIDs.append(tag.id)
            resultID = tag.id
            messages.append(tagEvent("create", tag.id, "tag"))
        case .updateTag:
            let id = try need(action.id, "id")
            let name = try need(action.name, "name")
            if corp.tags[id]?.deleted == false {
                corp.tags[id]?.name = name
                messages.append(tagEvent("update", id, "tag"))
            } else if corp.groups[id]?.deleted == false {
                corp.groups[id]?.name = name
                messages.append(tagEvent("update", id, "tag_group"))
            } else {
                throw ConsoleActionError(description: "no tag or group \(id)")
            }
            resultID = id
        case .deleteTag:
            let id = try need(action.id, "id")
            if corp.tags[id]?.deleted == false {
                deleteTags(tagIDs: [id], groupIDs: [])
                messages.append(tagEvent("delete", id, "tag"))
            } else if corp.groups[id]?.deleted == false {
                deleteTags(tagIDs: [], groupIDs: [id])
                messages.append(tagEvent("delete", id, "tag_group"))
            } else {
                throw ConsoleActionError(description: "no tag or group \(id)")
            }
            resultID = id
        case .shuffleTags:
            let groupID = action.id ?? ""
            if groupID.isEmpty {
                for (index, id) in corp.groupOrder.reversed().enumerated() { corp.groups[id]?.order = UInt32(index) }
            } else {
                guard let group = corp.groups[groupID], !group.deleted else { throw ConsoleActionError(description: "no group \(groupID)") }
                for (index, id) in group.tagIDs.reversed().enumerated() { corp.tags[id]?.order = UInt32(index) }
            }
            resultID = groupID
            messages.append([CallbackField("Event", "change_external_tag"), CallbackField("Id", groupID), CallbackField("ChangeType", "shuffle")])
        }
        var deliveries: [SimulatorCallbackDelivery] = []
        for fields in messages {
            let all = [CallbackField("ToUserName", configuration.corpID), CallbackField("FromUserName", "sys"),
                       CallbackField("CreateTime", String(time)), CallbackField("MsgType", "event")] + fields
            deliveries.append(await send(CallbackFields(all), time: time))
        }
        return ConsoleActionResult(id: resultID, welcome_code: welcome, deliveries: deliveries)
    }

    private func send(_ fields: CallbackFields, time: Int64) async -> SimulatorCallbackDelivery {
        let xml = CallbackXML.render(fields)
        var delivery = SimulatorCallbackDelivery(
            seq: callbacks.count + 1, event: fields["Event"] ?? "", change_type: fields["ChangeType"] ?? "", attempts: 0,
            last_status: nil, delivered: false, xml: xml)
        if let sender = callbackSender {
            let nonce = String(random.next() % 10_000_000_000)
            let outcome = await sender.deliver(xml, timestamp: time, nonce: nonce)
            delivery.attempts = outcome.attempts
            delivery.last_status = outcome.status
            delivery.delivered = outcome.delivered
        }
        callbacks.append(delivery)
        return delivery
    }
}
