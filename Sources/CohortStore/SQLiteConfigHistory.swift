import CohortCore
import Foundation
import GRDB

/// Every config set Cohort acted under, newest last: what `segments plan` compares against.
public struct SQLiteConfigHistory: ConfigHistory {
    private let writer: any DatabaseWriter
    public let corpID: String

    public init(database: CohortDatabase, corpID: String) {
        self.writer = database.writer
        self.corpID = corpID
    }

    public func record(version: String, files: [String: String], at: Int64) async throws -> Bool {
        let corpID = self.corpID
        let encoded = String(decoding: try JSONEncoder().encode(files), as: UTF8.self)
        return try await writer.write { db in
            let latest = try String.fetchOne(
                db, sql: "SELECT version FROM config_versions WHERE corp_id = ? ORDER BY id DESC LIMIT 1", arguments: [corpID])
            guard latest != version else { return false }
            try db.execute(
                sql: "INSERT INTO config_versions (corp_id, version, applied_at, files) VALUES (?, ?, ?, ?)",
                arguments: [corpID, version, at, encoded])
            return true
        }
    }

    public func latest() async throws -> AppliedConfig? {
        let corpID = self.corpID
        return try await writer.read { db in
            guard let row = try Row.fetchOne(
                db, sql: "SELECT id, version, applied_at, files FROM config_versions WHERE corp_id = ? ORDER BY id DESC LIMIT 1",
                arguments: [corpID])
            else { return nil }
            let files = (try? JSONDecoder().decode([String: String].self, from: Data((row[3] as String).utf8))) ?? [:]
            return AppliedConfig(id: row[0], version: row[1], appliedAt: row[2], files: files)
        }
    }

    public func history(limit: Int) async throws -> [AppliedConfig] {
        let corpID = self.corpID
        return try await writer.read { db in
            try Row.fetchAll(
                db, sql: "SELECT id, version, applied_at FROM config_versions WHERE corp_id = ? ORDER BY id DESC LIMIT ?",
                arguments: [corpID, limit]
            ).map { AppliedConfig(id: $0[0], version: $0[1], appliedAt: $0[2], files: [:]) }
        }
    }

    public func find(_ reference: String) async throws -> AppliedConfig? {
        let corpID = self.corpID
        return try await writer.read { db in
            let row: Row?
            if let id = Int64(reference) {
                row = try Row.fetchOne(
                    db, sql: "SELECT id, version, applied_at, files FROM config_versions WHERE corp_id = ? AND id = ?", arguments: [corpID, id])
            } else {
                row = try Row.fetchOne(
                    db,
                    // instr, not LIKE: a reference holds no wildcards to escape.
                    sql: "SELECT id, version, applied_at, files FROM config_versions WHERE corp_id = ? AND instr(version, ?) = 1 ORDER BY id DESC LIMIT 1",
                    arguments: [corpID, reference])
            }
            guard let row else { return nil }
            let files = (try? JSONDecoder().decode([String: String].self, from: Data((row[3] as String).utf8))) ?? [:]
            return AppliedConfig(id: row[0], version: row[1], appliedAt: row[2], files: files)
        }
    }

    public func all() async throws -> [AppliedConfig] {
        let corpID = self.corpID
        return try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT id, version, applied_at, files FROM config_versions WHERE corp_id = ? ORDER BY id", arguments: [corpID]).map {
                let files = (try? JSONDecoder().decode([String: String].self, from: Data(($0[3] as String).utf8))) ?? [:]
                return AppliedConfig(id: $0[0], version: $0[1], appliedAt: $0[2], files: files)
            }
        }
    }
}
