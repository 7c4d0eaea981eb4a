import CohortCore
import Foundation
import GRDB

/// The audit log of one corp on SQLite.
public struct SQLiteAuditLog: AuditLog {
    let writer: any DatabaseWriter
    public let corpID: String

    public init(database: CohortDatabase, corpID: String) {
        self.writer = database.writer
        self.corpID = corpID
    }

    public func record(_ entry: AuditEntry) async throws {
        let corpID = self.corpID
        try await writer.write { db in
            try db.execute(
                sql: "INSERT INTO audit_log (corp_id, at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [corpID, entry.at, entry.actor, entry.action, entry.subject, entry.detail])
        }
    }

    public func entries(limit: Int) async throws -> [AuditEntry] {
        let corpID = self.corpID
        return try await writer.read { db in
            try Row.fetchAll(
                db, sql: "SELECT at, actor, action, subject, detail FROM audit_log WHERE corp_id = ? ORDER BY id DESC LIMIT ?",
                arguments: [corpID, limit]
            ).map { AuditEntry(at: $0[0], actor: $0[1], action: $0[2], subject: $0[3], detail: $0[4]) }
        }
    }
}

extension SQLiteDirectoryRepository {
    public func forget(_ externalUserID: String, at: Int64) async throws -> ForgetReport? {
        let corpID = self.corpID
        return try await writer.write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM contacts WHERE corp_id = ? AND external_userid = ?", arguments: [corpID, externalUserID]) != nil
            else { return nil }
            var report = ForgetReport()
            try db.execute(
                sql: "INSERT OR IGNORE INTO forgotten_contacts (corp_id, external_userid, forgotten_at) VALUES (?, ?, ?)",
                arguments: [corpID, externalUserID, at])
            try db.execute(
                sql: """
                    UPDATE contacts SET name = NULL, unionid = NULL, corp_name = NULL, corp_full_name = NULL, position = NULL, avatar = NULL
                    WHERE corp_id = ? AND external_userid = ?
                    """, arguments: [corpID, externalUserID])
            report.contactRows = db.changesCount
            try db.execute(
                sql: """
                    UPDATE relations SET remark = NULL, description = NULL, remark_corp_name = NULL, remark_mobiles = ''
                    WHERE corp_id = ? AND external_userid = ?
                    """, arguments: [corpID, externalUserID])
            report.relationRows = db.changesCount
            try db.execute(sql: "DELETE FROM contact_phones WHERE corp_id = ? AND external_userid = ?", arguments: [corpID, externalUserID])
            report.phoneRows = db.changesCount
            // Interactions matched by phone keep no phone: they point at the contact instead.
            try db.execute(
                sql: """
                    UPDATE interactions SET attributes = NULL, ref_type = 'external_userid', ref_value = ?
                    WHERE contact_seq = (SELECT seq FROM contact_seq WHERE corp_id = ? AND external_userid = ?)
                    """, arguments: [externalUserID, corpID, externalUserID])
            report.interactionRows = db.changesCount
            // A message rendered for this person alone may carry their name.
            try db.execute(
                sql: """
                    UPDATE campaign_tasks SET text = '[erased]' WHERE corp_id = ? AND id IN (
                        SELECT task_id FROM campaign_recipients r WHERE r.corp_id = ? AND r.external_userid = ? AND r.task_id IS NOT NULL
                          AND NOT EXISTS (SELECT 1 FROM campaign_recipients o WHERE o.task_id = r.task_id AND o.external_userid <> r.external_userid))
                    """, arguments: [corpID, corpID, externalUserID])
            report.messageTexts = db.changesCount
            return report
        }
    }
}

extension CohortDatabase {
    /// A consistent copy of the whole database into a new file, taken online (writers go on).
    public func backup(to path: String) throws {
        guard !FileManager.default.fileExists(atPath: path) else { throw StoreError("\(path) exists; a backup never overwrites a file") }
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let destination = try DatabaseQueue(path: path)
        try writer.backup(to: destination)
        try destination.close()
    }
}
