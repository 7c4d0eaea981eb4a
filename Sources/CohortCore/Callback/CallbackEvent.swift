/// A decrypted callback message interpreted as one of the customer-contact events of the
/// platform spec (section 7), or kept as unhandled with the reason.
public enum CallbackEvent: Sendable, Hashable {
    case externalContact(ExternalContactChange)
    case externalTag(ExternalTagChange)
    case externalChat(ExternalChatChange)
    /// An authentic message Cohort does not act on (an unknown Event or ChangeType, a
    /// non-event message, a known event missing a required field). It is stored, never dropped.
    case unhandled(reason: String)

    /// Interprets the fields of a decrypted message.
    public init(_ fields: CallbackFields) {
        guard fields["MsgType"] == "event" else {
            self = .unhandled(reason: "MsgType \(fields["MsgType"] ?? "(missing)") is not an event")
            return
        }
        switch fields["Event"] {
        case "change_external_contact":
            self = ExternalContactChange(fields).map(CallbackEvent.externalContact) ?? .unhandled(reason: Self.reason(fields))
        case "change_external_tag":
            self = ExternalTagChange(fields).map(CallbackEvent.externalTag) ?? .unhandled(reason: Self.reason(fields))
        case "change_external_chat":
            self = ExternalChatChange(fields).map(CallbackEvent.externalChat) ?? .unhandled(reason: Self.reason(fields))
        case let other:
            self = .unhandled(reason: "unknown Event \(other ?? "(missing)")")
        }
    }

    private static func reason(_ fields: CallbackFields) -> String {
        "unknown ChangeType \(fields["ChangeType"] ?? "(missing)") or missing field for Event \(fields["Event"] ?? "")"
    }

    /// Whether the inbox processor has work to do for this event.
    public var isHandled: Bool {
        if case .unhandled = self { return false }
        return true
    }
}

/// `Event = change_external_contact`: a relation between a staff member and a customer changed.
public struct ExternalContactChange: Sendable, Hashable {
    public enum Kind: String, Sendable, CaseIterable {
        case addExternalContact = "add_external_contact"
        case editExternalContact = "edit_external_contact"
        case addHalfExternalContact = "add_half_external_contact"
        case delExternalContact = "del_external_contact"
        case delFollowUser = "del_follow_user"
        case transferFail = "transfer_fail"
    }

    public var kind: Kind
    public var userID: String
    public var externalUserID: String
    public var createTime: Int64
    public var state: String?
    public var welcomeCode: String?
    /// `DELETE_BY_TRANSFER` when a relation was removed by an on-the-job transfer.
    public var source: String?
    /// `customer_refused` or `customer_limit_exceed` for `transfer_fail`.
    public var failReason: String?
    public var linkID: String?

    public init?(_ fields: CallbackFields) {
        guard let kind = fields["ChangeType"].flatMap(Kind.init(rawValue:)),
            let userID = fields["UserID"], let externalUserID = fields["ExternalUserID"]
        else { return nil }
        self.kind = kind
        self.userID = userID
        self.externalUserID = externalUserID
        self.createTime = fields["CreateTime"].flatMap { Int64($0) } ?? 0
        self.state = fields["State"]
        self.welcomeCode = fields["WelcomeCode"]
        self.source = fields["Source"]
        self.failReason = fields["FailReason"]
        self.linkID = fields["LinkId"]
    }
}

/// `Event = change_external_tag`: the corp tag catalogue changed in the admin console.
public struct ExternalTagChange: Sendable, Hashable {
    public enum Kind: String, Sendable, CaseIterable {
        case create, update, delete, shuffle
    }

    public var kind: Kind
    /// Tag or group id; empty for a shuffle of all groups.
    public var id: String
    /// `tag` or `tag_group`; absent for shuffle.
    public var tagType: String?
    public var strategyID: String?
    public var createTime: Int64

    public init?(_ fields: CallbackFields) {
        guard let kind = fields["ChangeType"].flatMap(Kind.init(rawValue:)) else { return nil }
        let id = fields["Id"] ?? ""
        // Only shuffle may name no id (the order of all groups changed).
        guard kind == .shuffle || !id.isEmpty else { return nil }
        self.kind = kind
        self.id = id
        self.tagType = fields["TagType"]
        self.strategyID = fields["StrategyId"]
        self.createTime = fields["CreateTime"].flatMap { Int64($0) } ?? 0
    }
}

/// `Event = change_external_chat`: a customer group was created, changed or dismissed.
public struct ExternalChatChange: Sendable, Hashable {
    public enum Kind: String, Sendable, CaseIterable {
        case create, update, dismiss
    }

    public var kind: Kind
    public var chatID: String
    /// `add_member`, `del_member`, `change_owner`, `change_name` or `change_notice` for updates.
    public var updateDetail: String?
    public var joinScene: Int?
    public var quitScene: Int?
    public var memberChangeCount: Int?
    public var memberChangeList: [String]
    public var lastMemberVersion: String?
    public var currentMemberVersion: String?
    public var createTime: Int64

    public init?(_ fields: CallbackFields) {
        guard let kind = fields["ChangeType"].flatMap(Kind.init(rawValue:)), let chatID = fields["ChatId"] else {
            return nil
        }
        self.kind = kind
        self.chatID = chatID
        self.updateDetail = fields["UpdateDetail"]
        self.joinScene = fields["JoinScene"].flatMap { Int($0) }
        self.quitScene = fields["QuitScene"].flatMap { Int($0) }
        self.memberChangeCount = fields["MemChangeCnt"].flatMap { Int($0) }
        self.memberChangeList = fields.items("MemChangeList")
        self.lastMemberVersion = fields["LastMemVer"]
        self.currentMemberVersion = fields["CurMemVer"]
        self.createTime = fields["CreateTime"].flatMap { Int64($0) } ?? 0
    }
}
