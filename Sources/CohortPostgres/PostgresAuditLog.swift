import CohortCore
import Foundation
import PostgresNIO

/// The audit log of one corp on PostgreSQL: every instance's operator actions in one place,
/// in the order they were recorded.
public struct PostgresAuditLog: AuditLog {
    private let store: PostgresStore
    public let corpID: String

    public init(store: PostgresStore, corpID: String) {
        self.store = store
        self.corpID = corpID
    }

    public func record(_ entry: AuditEntry) async throws {
        try await store.client.query(
            """
            INSERT INTO audit_log (corp_id, at, actor, action, subject, detail)
            VALUES (\(corpID), \(entry.at), \(entry.actor), \(entry.action), \(entry.subject), \(entry.detail))
            """, logger: store.logger)
    }

    public func entries(limit: Int) async throws -> [AuditEntry] {
        let rows = try await store.client.query(
            "SELECT at, actor, action, subject, detail FROM audit_log WHERE corp_id = \(corpID) ORDER BY id DESC LIMIT \(limit)",
            logger: store.logger)
        var entries: [AuditEntry] = []
        for try await (at, actor, action, subject, detail) in rows.decode((Int64, String, String, String, String).self) {
            entries.append(AuditEntry(at: at, actor: actor, action: action, subject: subject, detail: detail))
        }
        return entries
    }
}
