import Foundation

/// One operator action: config applied, a campaign started or stopped, a person forgotten.
public struct AuditEntry: Sendable, Hashable, Codable {
    public var at: Int64
    /// Who did it: `cli:USER`, `api`, `serve`.
    public var actor: String
    public var action: String
    public var subject: String
    public var detail: String

    public init(at: Int64, actor: String, action: String, subject: String, detail: String = "") {
        self.at = at
        self.actor = actor
        self.action = action
        self.subject = subject
        self.detail = detail
    }
}

/// The audit log (port; the store implements it). Entries are only ever added.
public protocol AuditLog: Sendable {
    func record(_ entry: AuditEntry) async throws
    /// The latest entries, newest first.
    func entries(limit: Int) async throws -> [AuditEntry]
}
