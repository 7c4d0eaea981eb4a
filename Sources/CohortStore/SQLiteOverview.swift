import CohortCore
import Foundation
import GRDB

/// Reads the overview in one read transaction.
public struct SQLiteOverviewReader: OverviewReader {
    let writer: any DatabaseWriter
    public let corpID: String

    public init(database: CohortDatabase, corpID: String) {
        self.writer = database.writer
        self.corpID = corpID
    }

    public func read(grades: Bool) async throws -> StoreOverview {
        let corpID = self.corpID
        return try await writer.read { db in
            var overview = StoreOverview()
            func count(_ sql: String) throws -> Int { try Int.fetchOne(db, sql: sql, arguments: [corpID]) ?? 0 }
            func grouped(_ sql: String) throws -> [String: Int] {
                var result: [String: Int] = [:]
                for row in try Row.fetchAll(db, sql: sql, arguments: [corpID]) {
                    if let key = row[0] as String? { result[key] = row[1] }
                }
                return result
            }
            overview.contacts = try count("SELECT count(*) FROM contacts WHERE corp_id = ? AND ended_at IS NULL")
            overview.liveRelations = try count("SELECT count(*) FROM relations WHERE corp_id = ? AND ended_at IS NULL")
            overview.staff = try count("SELECT count(*) FROM staff WHERE corp_id = ?")
            overview.inbox = try grouped("SELECT status, count(*) FROM inbox WHERE corp_id = ? GROUP BY status")
            overview.oldestOpenInboxEvent = try Int64.fetchOne(
                db, sql: "SELECT min(received_at) FROM inbox WHERE corp_id = ? AND status IN ('pending', 'failed')", arguments: [corpID]
            ).map { $0 / 1_000 }
            overview.lifecycle = try grouped("SELECT lifecycle, count(*) FROM grades WHERE corp_id = ? GROUP BY lifecycle")
            overview.graded = overview.lifecycle.values.reduce(0, +)
            if grades {
                for row in try Row.fetchAll(
                    db, sql: "SELECT r, f, count(*) FROM grades WHERE corp_id = ? AND r IS NOT NULL AND f IS NOT NULL GROUP BY r, f", arguments: [corpID])
                {
                    overview.rfGrid["\(row[0] as Int),\(row[1] as Int)"] = row[2]
                }
                overview.rfmSegments = try grouped("SELECT segment, count(*) FROM grades WHERE corp_id = ? AND segment IS NOT NULL GROUP BY segment")
                overview.abc = try grouped("SELECT abc, count(*) FROM grades WHERE corp_id = ? AND abc IS NOT NULL GROUP BY abc")
            }
            overview.tagWrites = try grouped("SELECT status, count(*) FROM platform_ops WHERE corp_id = ? GROUP BY status")
            var recipients: [String: [String: Int]] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT campaign, state, count(*) FROM campaign_recipients WHERE corp_id = ? GROUP BY campaign, state", arguments: [corpID])
            {
                recipients[row[0], default: [:]][row[1]] = row[2]
            }
            var tasks: [String: (Int, Int)] = [:]
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT campaign, count(*), sum(CASE WHEN member_status = 2 THEN 1 ELSE 0 END) FROM campaign_tasks
                    WHERE corp_id = ? AND msgid IS NOT NULL GROUP BY campaign
                    """, arguments: [corpID])
            {
                tasks[row[0]] = (row[1], row[2] ?? 0)
            }
            for row in try Row.fetchAll(db, sql: "SELECT name, state FROM campaigns WHERE corp_id = ? ORDER BY started_at", arguments: [corpID]) {
                let name: String = row[0]
                overview.campaigns.append(
                    StoreOverview.CampaignProgress(
                        name: name, state: row[1], recipients: recipients[name] ?? [:], tasks: tasks[name]?.0 ?? 0,
                        tasksConfirmed: tasks[name]?.1 ?? 0))
            }
            overview.welcome = try grouped("SELECT outcome, count(*) FROM welcome_attempts WHERE corp_id = ? GROUP BY outcome")
            overview.optOuts = try count("SELECT count(*) FROM opt_outs WHERE corp_id = ?")
            return overview
        }
    }
}
