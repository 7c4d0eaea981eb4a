import CohortCore
import Foundation
import GRDB

/// Alerts of one corp on SQLite.
public struct SQLiteAlertRepository: AlertRepository {
    let writer: any DatabaseWriter
    public let corpID: String

    public init(database: CohortDatabase, corpID: String) {
        self.writer = database.writer
        self.corpID = corpID
    }

    public func raise(_ kind: AlertKind, subject: String, message: String, at: Int64, quiet: Int64) async throws -> Bool {
        let corpID = self.corpID
        return try await writer.write { db in
            let recent = try Bool.fetchOne(
                db,
                sql: """
                    SELECT 1 FROM alerts WHERE corp_id = ? AND kind = ? AND subject = ? AND (delivered_at IS NULL OR raised_at > ?) LIMIT 1
                    """, arguments: [corpID, kind.rawValue, subject, at - quiet]) ?? false
            guard !recent else { return false }
            try db.execute(
                sql: "INSERT INTO alerts (corp_id, kind, subject, message, raised_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [corpID, kind.rawValue, subject, message, at])
            return true
        }
    }

    public func undelivered(limit: Int) async throws -> [Alert] {
        let corpID = self.corpID
        return try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM alerts WHERE corp_id = ? AND delivered_at IS NULL ORDER BY id LIMIT ?", arguments: [corpID, limit])
                .map(Self.alert)
        }
    }

    public func markDelivered(_ id: Int64, at: Int64, error: String?) async throws {
        try await writer.write { db in
            try db.execute(sql: "UPDATE alerts SET delivered_at = ?, delivery_error = ? WHERE id = ?", arguments: [at, error, id])
        }
    }

    public func alerts(limit: Int) async throws -> [Alert] {
        let corpID = self.corpID
        return try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM alerts WHERE corp_id = ? ORDER BY id DESC LIMIT ?", arguments: [corpID, limit]).map(Self.alert)
        }
    }

    static func alert(_ row: Row) -> Alert {
        Alert(
            id: row["id"], kind: AlertKind(rawValue: row["kind"]) ?? .deadLetter, subject: row["subject"], message: row["message"],
            raisedAt: row["raised_at"], deliveredAt: row["delivered_at"], deliveryError: row["delivery_error"])
    }
}
