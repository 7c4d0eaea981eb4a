import Foundation

/// How one welcome message attempt ended.
public enum WelcomeOutcome: String, Sendable, Codable, CaseIterable {
    /// The platform took the message.
    case sent
    /// The platform refused for good (41051: the code was used, or its 20 s ran out there).
    case final
    /// A transient failure; another attempt follows while the code lives.
    case failed
    /// The 20 s window closed before a message could be sent.
    case expired
    /// Nothing was sent on purpose (opted out, no template chose the relation, rendering failed).
    case skipped
}

/// One recorded welcome attempt (every attempt is kept, so an operator can see why a new
/// contact got no welcome).
public struct WelcomeAttempt: Sendable, Hashable, Codable {
    public var externalUserID: String
    public var userID: String
    public var template: String?
    public var outcome: WelcomeOutcome
    public var errcode: Int?
    public var detail: String?
    /// The callback's CreateTime.
    public var eventTime: Int64
    public var attemptedAt: Int64

    public init(
        externalUserID: String, userID: String, template: String? = nil, outcome: WelcomeOutcome, errcode: Int? = nil, detail: String? = nil,
        eventTime: Int64, attemptedAt: Int64
    ) {
        self.externalUserID = externalUserID
        self.userID = userID
        self.template = template
        self.outcome = outcome
        self.errcode = errcode
        self.detail = detail
        self.eventTime = eventTime
        self.attemptedAt = attemptedAt
    }
}

/// A stored add event that carried a WelcomeCode and has no welcome attempt yet.
public struct PendingWelcome: Sendable, Hashable {
    public var inboxID: Int64
    public var receivedAt: Int64
    public var rawXML: String

    public init(inboxID: Int64, receivedAt: Int64, rawXML: String) {
        self.inboxID = inboxID
        self.receivedAt = receivedAt
        self.rawXML = rawXML
    }
}

/// Where welcome attempts are kept (port; the store implements it).
public protocol WelcomeRepository: Sendable {
    func record(_ attempt: WelcomeAttempt) async throws
    /// Attempts for one contact, oldest first.
    func welcomeAttempts(of externalUserID: String) async throws -> [WelcomeAttempt]
    /// The latest attempts, newest first.
    func recentWelcomeAttempts(limit: Int) async throws -> [WelcomeAttempt]
    /// Add events received at or after `since` that carry a WelcomeCode and have no attempt:
    /// what a crash interrupted while their code may still live.
    func pendingWelcomes(receivedSince since: Int64) async throws -> [PendingWelcome]
}

/// The welcome window and what to do inside it.
public enum WelcomePolicy {
    /// A WelcomeCode works once and for 20 seconds after the event (spec 4).
    public static let window: Int64 = 20
    /// The code was used or has run out on the platform: retrying cannot help.
    public static let finalErrcode = 41051

    /// Whether an add event qualifies for a welcome message.
    public static func wantsWelcome(_ change: ExternalContactChange) -> Bool {
        guard change.kind == .addExternalContact || change.kind == .addHalfExternalContact else { return false }
        return !(change.welcomeCode ?? "").isEmpty
    }
}
