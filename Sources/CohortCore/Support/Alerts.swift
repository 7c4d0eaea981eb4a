import Foundation

/// Something a person has to look at.
public enum AlertKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// An inbox event failed every attempt.
    case deadLetter = "dead_letter"
    /// A campaign paused itself (too many failed calls).
    case campaignPaused = "campaign_paused"
    /// The platform refuses Cohort's configuration (48002 api forbidden, 60020 IP not trusted,
    /// 40001/40013/41004 wrong secret or corp).
    case platformConfiguration = "platform_configuration"
    /// A config reload was refused; the running config stays.
    case configReloadFailed = "config_reload_failed"
}

public struct Alert: Sendable, Hashable, Codable {
    public var id: Int64
    public var kind: AlertKind
    public var subject: String
    public var message: String
    public var raisedAt: Int64
    public var deliveredAt: Int64?
    public var deliveryError: String?

    public init(
        id: Int64 = 0, kind: AlertKind, subject: String, message: String, raisedAt: Int64, deliveredAt: Int64? = nil,
        deliveryError: String? = nil
    ) {
        self.id = id
        self.kind = kind
        self.subject = subject
        self.message = message
        self.raisedAt = raisedAt
        self.deliveredAt = deliveredAt
        self.deliveryError = deliveryError
    }
}

/// Raised alerts (port; the store implements it). An alert with the same kind and subject as an
/// undelivered or recent one is not raised twice, so a flapping cause does not flood anyone.
public protocol AlertRepository: Sendable {
    /// Returns false when an alert of this kind and subject was raised in the last `quiet` seconds.
    @discardableResult
    func raise(_ kind: AlertKind, subject: String, message: String, at: Int64, quiet: Int64) async throws -> Bool
    func undelivered(limit: Int) async throws -> [Alert]
    func markDelivered(_ id: Int64, at: Int64, error: String?) async throws
    /// The latest alerts, newest first.
    func alerts(limit: Int) async throws -> [Alert]
}

extension AlertRepository {
    @discardableResult
    public func raise(_ kind: AlertKind, subject: String, message: String, at: Int64) async throws -> Bool {
        try await raise(kind, subject: subject, message: message, at: at, quiet: 3_600)
    }
}
