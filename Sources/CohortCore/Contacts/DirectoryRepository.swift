import Foundation

/// A relation as stored: the platform's values plus what Cohort remembers about its life.
public struct StoredRelation: Sendable, Hashable, Codable {
    public var relation: Relation
    public var firstSeenAt: Date
    public var endedAt: Date?
    /// `not seen by sync`, `del_external_contact`, `del_external_contact: DELETE_BY_TRANSFER`, `del_follow_user`.
    public var endReason: String?
    /// Names of the relation's tags, `group/tag`, resolved against the catalogue.
    public var tagNames: [String: String]

    public init(relation: Relation, firstSeenAt: Date, endedAt: Date? = nil, endReason: String? = nil, tagNames: [String: String] = [:]) {
        self.relation = relation
        self.firstSeenAt = firstSeenAt
        self.endedAt = endedAt
        self.endReason = endReason
        self.tagNames = tagNames
    }
}

/// A contact as stored, with its relations (live and ended).
public struct StoredContact: Sendable, Hashable, Codable {
    public var contact: Contact
    public var firstSeenAt: Date
    public var endedAt: Date?
    public var relations: [StoredRelation]

    public init(contact: Contact, firstSeenAt: Date, endedAt: Date? = nil, relations: [StoredRelation] = []) {
        self.contact = contact
        self.firstSeenAt = firstSeenAt
        self.endedAt = endedAt
        self.relations = relations
    }
}

/// Which contacts a listing shows.
public struct ContactFilter: Sendable, Hashable {
    /// A tag id or a tag name (`name` or `group/name`) on a live relation.
    public var tag: String?
    /// A staff member with a live relation.
    public var staff: String?
    public var includeEnded = false
    public var limit: Int?
    /// Text in the contact's name, company, external_userid, or a relation's remark or phone numbers.
    public var text: String?

    public init(tag: String? = nil, staff: String? = nil, includeEnded: Bool = false, limit: Int? = nil, text: String? = nil) {
        self.text = text
        self.tag = tag
        self.staff = staff
        self.includeEnded = includeEnded
        self.limit = limit
    }
}

/// Something that happened to a contact that Cohort keeps for people to see: a customer who
/// deleted their staff member (a lost customer), a failed transfer, a customer-group change.
public struct ContactEvent: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case lostCustomer = "lost_customer"
        case transferFailed = "transfer_fail"
        case chatChanged = "chat_change"
    }

    public var kind: Kind
    public var externalUserID: String
    public var userID: String
    public var chatID: String
    /// The platform's CreateTime of the event (unix seconds).
    public var occurredAt: Int64
    public var detail: String

    public init(kind: Kind, externalUserID: String = "", userID: String = "", chatID: String = "", occurredAt: Int64, detail: String = "") {
        self.kind = kind
        self.externalUserID = externalUserID
        self.userID = userID
        self.chatID = chatID
        self.occurredAt = occurredAt
        self.detail = detail
    }
}

/// The contact, relation and tag mirror of one corp (port; the store implements it).
///
/// Rows are never deleted: what the platform no longer has is marked ended with a time.
/// Every write reports how many rows it changed, and writing what is already there changes none.
public protocol DirectoryRepository: Sendable {
    /// The live staff, contacts, relations and tag catalogue.
    func state() async throws -> DirectoryState
    /// Applies a full sync's changes in batched transactions. Returns rows changed.
    @discardableResult
    func apply(_ changes: DirectoryChanges, at time: Date) async throws -> Int
    /// Stores one contact and the relations the platform listed for it (a single-contact
    /// refresh). Relations not listed are left as they are. Returns rows changed.
    @discardableResult
    func upsert(_ contact: Contact, relations: [Relation], at time: Date) async throws -> Int
    /// Ends a live relation, unless it was created after `eventTime` (the customer was added
    /// again after the event). Returns whether anything changed.
    @discardableResult
    func endRelation(_ key: RelationKey, reason: String, eventTime: Int64, at time: Date) async throws -> Bool
    /// Records an event once (replays find it already there). Returns whether it was new.
    @discardableResult
    func record(_ event: ContactEvent, at time: Date) async throws -> Bool
    /// Stores catalogue groups as the platform lists them (with all their live tags).
    @discardableResult
    func upsertTagGroups(_ groups: [TagGroup], at time: Date) async throws -> Int
    /// Marks catalogue groups (with their tags) and tags gone.
    @discardableResult
    func endTags(tagIDs: [String], groupIDs: [String], at time: Date) async throws -> Int
    /// The live tag catalogue.
    func catalogue() async throws -> [TagGroup]
    /// Contacts for operators, by external_userid.
    func contacts(_ filter: ContactFilter) async throws -> [StoredContact]
    /// One contact with all its relations, or nil.
    func contact(_ externalUserID: String) async throws -> StoredContact?
    /// Recorded events, newest first.
    func events(kind: ContactEvent.Kind?, limit: Int) async throws -> [ContactEvent]
    /// Erases a person's personal data (name, unionid, company, remarks, phone numbers, the
    /// free attributes of their interactions, the text of messages made for them alone) and keeps
    /// them erased: later syncs and callbacks store the relation without it. Counts, grades,
    /// amounts and the pseudonymous external_userid stay, so reports still add up. Returns nil
    /// when the store does not know the contact.
    func forget(_ externalUserID: String, at: Int64) async throws -> ForgetReport?
}

/// What forgetting a person erased.
public struct ForgetReport: Sendable, Hashable, Codable {
    public var contactRows = 0
    public var relationRows = 0
    public var phoneRows = 0
    public var interactionRows = 0
    public var messageTexts = 0

    public init() {}
}
