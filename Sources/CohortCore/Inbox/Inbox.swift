import Foundation

/// Where an inbox event stands.
public enum InboxStatus: String, Sendable, Codable, CaseIterable {
    /// Stored, waiting for its handler.
    case pending
    /// Its handler finished.
    case processed
    /// Its handler failed; it waits for a retry at `nextAttemptAt`.
    case failed
    /// Its handler failed too often; kept with the last error for a human.
    case dead
    /// An authentic message Cohort does not act on; kept, never dropped.
    case unhandled
}

/// An event as the webhook hands it to the store, before it has an id.
public struct NewInboxEvent: Sendable, Hashable {
    public var corpID: String
    /// Digest of the parsed event's canonical fields: equal for retried deliveries.
    public var dedupKey: String
    public var receivedAt: Date
    /// The decrypted XML exactly as received.
    public var rawXML: String
    public var fields: CallbackFields
    public var status: InboxStatus
    /// Why the event is unhandled, for `status == .unhandled`.
    public var note: String?

    public init(
        corpID: String, dedupKey: String, receivedAt: Date, rawXML: String, fields: CallbackFields,
        status: InboxStatus, note: String? = nil
    ) {
        self.corpID = corpID
        self.dedupKey = dedupKey
        self.receivedAt = receivedAt
        self.rawXML = rawXML
        self.fields = fields
        self.status = status
        self.note = note
    }

    public var msgType: String? { fields["MsgType"] }
    public var event: String? { fields["Event"] }
    public var changeType: String? { fields["ChangeType"] }
    public var userID: String? { fields["UserID"] }
    public var externalUserID: String? { fields["ExternalUserID"] }
    public var createTime: Int64? { fields["CreateTime"].flatMap { Int64($0) } }
}

/// A stored inbox event: the raw decrypted XML and the parsed fields operators search by.
/// The complete typed event is re-derived from `rawXML` by the platform adapter's parser, so
/// the store keeps one copy of the message, not two (docs/DESIGN.md, "Inbox rows").
public struct InboxEvent: Sendable, Hashable, Identifiable {
    public var id: Int64
    public var corpID: String
    public var dedupKey: String
    public var receivedAt: Date
    public var createTime: Int64
    public var msgType: String?
    public var eventName: String?
    public var changeType: String?
    public var userID: String?
    public var externalUserID: String?
    public var rawXML: String
    public var status: InboxStatus
    /// Why an event is unhandled.
    public var note: String?
    public var attempts: Int
    public var nextAttemptAt: Date?
    public var lastError: String?
    public var processedAt: Date?
    /// How many further deliveries of the same event arrived and were absorbed.
    public var duplicates: Int

    public init(
        id: Int64, corpID: String, dedupKey: String, receivedAt: Date, createTime: Int64 = 0, msgType: String? = nil,
        eventName: String? = nil, changeType: String? = nil, userID: String? = nil, externalUserID: String? = nil,
        rawXML: String, status: InboxStatus, note: String? = nil, attempts: Int = 0, nextAttemptAt: Date? = nil,
        lastError: String? = nil, processedAt: Date? = nil, duplicates: Int = 0
    ) {
        self.id = id
        self.corpID = corpID
        self.dedupKey = dedupKey
        self.receivedAt = receivedAt
        self.createTime = createTime
        self.msgType = msgType
        self.eventName = eventName
        self.changeType = changeType
        self.userID = userID
        self.externalUserID = externalUserID
        self.rawXML = rawXML
        self.status = status
        self.note = note
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastError = lastError
        self.processedAt = processedAt
        self.duplicates = duplicates
    }
}

/// A stored event with its message parsed, as handlers receive it.
public struct InboxDelivery: Sendable, Hashable {
    public var record: InboxEvent
    public var fields: CallbackFields

    public init(record: InboxEvent, fields: CallbackFields) {
        self.record = record
        self.fields = fields
    }

    /// The typed interpretation of the message.
    public var event: CallbackEvent { CallbackEvent(fields) }
}

/// What storing an event did.
public enum InboxAppendOutcome: Sendable, Hashable {
    /// The event is new and now durable under this id.
    case stored(id: Int64)
    /// The same event was stored before under this id; nothing new was written but a counter.
    case duplicate(id: Int64)

    public var id: Int64 {
        switch self {
        case .stored(let id), .duplicate(let id): return id
        }
    }
}

/// How the processor records the outcome of one handler run.
public enum InboxResolution: Sendable, Hashable {
    case processed(at: Date)
    /// The event turned out to be one Cohort does not act on (e.g. replayed after a downgrade).
    case unhandled(reason: String)
    case retry(error: String, attempts: Int, at: Date)
    case dead(error: String, attempts: Int, at: Date)
}

/// The outcome of one handler run for one event.
public struct InboxOutcome: Sendable, Hashable {
    public var id: Int64
    public var resolution: InboxResolution
    /// Other open events this successful run made redundant, resolved in the same transaction.
    public var covers: InboxCoverage?

    public init(id: Int64, _ resolution: InboxResolution, covers: InboxCoverage? = nil) {
        self.id = id
        self.resolution = resolution
        self.covers = covers
    }
}

/// What a handler re-reads in full when it handles an event: the customer's whole record, so
/// an event whose only effect is that same re-read is answered by it.
public struct InboxRefresh: Sendable, Hashable {
    /// The customer re-read.
    public var externalUserID: String
    /// Change types whose whole effect is a re-read of their customer.
    public var changeTypes: [String]

    public init(externalUserID: String, changeTypes: [String]) {
        self.externalUserID = externalUserID
        self.changeTypes = changeTypes.sorted()
    }
}

/// Open events (pending or waiting for a retry) that a successful re-read of one customer
/// answered: those of `changeTypes` for that customer received before the re-read started,
/// because the platform already held their change when it was read. Resolving them as
/// processed is what keeps a burst of edits to one customer at one API call, and the inbox
/// within the platform's quota (10,000 calls a minute, 150,000 an hour per API).
public struct InboxCoverage: Sendable, Hashable {
    public var corpID: String
    public var externalUserID: String
    public var changeTypes: [String]
    public var receivedBefore: Date
    /// The event whose run did the re-read.
    public var coveredBy: Int64

    public init(corpID: String, externalUserID: String, changeTypes: [String], receivedBefore: Date, coveredBy: Int64) {
        self.corpID = corpID
        self.externalUserID = externalUserID
        self.changeTypes = changeTypes
        self.receivedBefore = receivedBefore
        self.coveredBy = coveredBy
    }

    /// Whether `event` is one this re-read answered.
    public func covers(_ event: InboxEvent) -> Bool {
        event.id != coveredBy && event.corpID == corpID && event.externalUserID == externalUserID
            && event.changeType.map(changeTypes.contains) == true && event.receivedAt < receivedBefore
    }

    /// The note a covered event keeps, so an operator sees why it needed no call of its own.
    public var note: String { "covered by inbox #\(coveredBy)" }
}

extension InboxRepository {
    /// Records the outcome of one handler run.
    public func resolve(id: Int64, _ resolution: InboxResolution) async throws {
        try await resolve([InboxOutcome(id: id, resolution)])
    }
}

/// Which events a replay re-queues.
public enum InboxReplaySelection: Sendable, Hashable {
    case id(Int64)
    case since(Date)
}

/// The durable inbox of callback events (port; the store implements it).
public protocol InboxRepository: Sendable {
    /// Stores new events durably, each exactly once by its dedup key, in one transaction.
    /// Returns one outcome per event, in order.
    func append(_ events: [NewInboxEvent]) async throws -> [InboxAppendOutcome]
    /// Events whose handler is due (pending, or failed with `nextAttemptAt <= now`), oldest first.
    func due(now: Date, limit: Int) async throws -> [InboxEvent]
    /// Records the outcomes of handler runs, all in one transaction, with the open events their
    /// coverages answered resolved as processed. Returns how many events were covered.
    @discardableResult
    func resolve(_ outcomes: [InboxOutcome]) async throws -> Int
    /// Events for operators, newest first.
    func list(status: InboxStatus?, limit: Int) async throws -> [InboxEvent]
    /// Puts events back to pending with their attempts reset. Returns how many were re-queued.
    func replay(_ selection: InboxReplaySelection) async throws -> Int
    /// Counts of events per status.
    func counts() async throws -> [InboxStatus: Int]
}

/// Where the webhook stores each event it acknowledges (port). Implementations batch
/// concurrent calls into shared commits; a call returns only once its event is durable.
public protocol InboxSink: Sendable {
    func store(_ event: NewInboxEvent) async throws -> InboxAppendOutcome
}

/// Does the work an inbox event asks for (port; sync and later features implement it).
/// A handler must be idempotent: replaying the inbox may run it again for the same event.
public protocol InboxEventHandler: Sendable {
    func handle(_ delivery: InboxDelivery) async throws
    /// What handling `delivery` re-reads in full, if anything: the processor then resolves the
    /// open events that re-read answers instead of running them one by one.
    func refresh(for delivery: InboxDelivery) -> InboxRefresh?
}

extension InboxEventHandler {
    /// Handlers re-read nothing unless they say so.
    public func refresh(for delivery: InboxDelivery) -> InboxRefresh? { nil }
}
