import CohortCore
import Foundation
import GRDB

/// Drops what the retention settings say is kept no longer: relations that ended before a
/// cutoff (with their tags, phone numbers and rule assignments) and interactions older than one.
public struct SQLiteRetention: RetentionStore {
    let writer: any DatabaseWriter
    public let corpID: String

    public init(database: CohortDatabase, corpID: String) {
        self.writer = database.writer
        self.corpID = corpID
    }

    public func apply(endedBefore: Date?, interactionsBefore: Date?) async throws -> RetentionReport {
        let corpID = self.corpID
        return try await writer.write { db in
            var report = RetentionReport()
            if let endedBefore {
                let cutoff = Int64((endedBefore.timeIntervalSince1970 * 1000).rounded())
                let gone = """
                    SELECT external_userid, userid FROM relations WHERE corp_id = ? AND ended_at IS NOT NULL AND ended_at < ?
                    """
                for table in ["relation_tags", "contact_phones", "tag_assignments"] {
                    try db.execute(
                        sql: "DELETE FROM \(table) WHERE corp_id = ? AND (external_userid, userid) IN (\(gone))", arguments: [corpID, corpID, cutoff])
                }
                try db.execute(
                    sql: "DELETE FROM relations WHERE corp_id = ? AND ended_at IS NOT NULL AND ended_at < ?", arguments: [corpID, cutoff])
                report.relations = db.changesCount
            }
            if let interactionsBefore {
                try db.execute(
                    sql: "DELETE FROM interactions WHERE corp_id = ? AND occurred_at < ?",
                    arguments: [corpID, Int64(interactionsBefore.timeIntervalSince1970)])
                report.interactions = db.changesCount
            }
            return report
        }
    }
}
