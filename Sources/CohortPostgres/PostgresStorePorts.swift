import CohortCore
import Foundation
import Logging
import PostgresNIO

/// The overview's counts on PostgreSQL, in one REPEATABLE READ snapshot.
public struct PostgresOverviewReader: OverviewReader {
    private let store: PostgresStore
    public let corpID: String

    public init(store: PostgresStore, corpID: String) {
        self.store = store
        self.corpID = corpID
    }

    public func read(grades: Bool) async throws -> StoreOverview {
        let corpID = self.corpID
        let logger = store.logger
        return try await store.snapshot { connection in
            var overview = StoreOverview()
            func count(_ sql: String) async throws -> Int {
                var binds = PostgresBindings()
                binds.append(corpID)
                for try await value in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger).decode(Int.self) {
                    return value
                }
                return 0
            }
            func grouped(_ sql: String) async throws -> [String: Int] {
                var binds = PostgresBindings()
                binds.append(corpID)
                var result: [String: Int] = [:]
                for try await (key, value) in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger).decode(
                    (String?, Int).self)
                {
                    if let key { result[key] = value }
                }
                return result
            }
            overview.contacts = try await count("SELECT count(*) FROM contacts WHERE corp_id = $1 AND ended_at IS NULL")
            overview.liveRelations = try await count("SELECT count(*) FROM relations WHERE corp_id = $1 AND ended_at IS NULL")
            overview.staff = try await count("SELECT count(*) FROM staff WHERE corp_id = $1")
            overview.inbox = try await grouped("SELECT status, count(*) FROM inbox WHERE corp_id = $1 GROUP BY status")
            for try await oldest in try await connection.query(
                "SELECT min(received_at) FROM inbox WHERE corp_id = \(corpID) AND status IN ('pending', 'failed')", logger: logger
            ).decode(Int64?.self) {
                overview.oldestOpenInboxEvent = oldest.map { $0 / 1_000 }
            }
            overview.lifecycle = try await grouped("SELECT lifecycle, count(*) FROM grades WHERE corp_id = $1 GROUP BY lifecycle")
            overview.graded = overview.lifecycle.values.reduce(0, +)
            if grades {
                for try await (r, f, n) in try await connection.query(
                    "SELECT r, f, count(*) FROM grades WHERE corp_id = \(corpID) AND r IS NOT NULL AND f IS NOT NULL GROUP BY r, f",
                    logger: logger
                ).decode((Int, Int, Int).self) {
                    overview.rfGrid["\(r),\(f)"] = n
                }
                overview.rfmSegments = try await grouped(
                    "SELECT segment, count(*) FROM grades WHERE corp_id = $1 AND segment IS NOT NULL GROUP BY segment")
                overview.abc = try await grouped("SELECT abc, count(*) FROM grades WHERE corp_id = $1 AND abc IS NOT NULL GROUP BY abc")
            }
            overview.tagWrites = try await grouped("SELECT status, count(*) FROM platform_ops WHERE corp_id = $1 GROUP BY status")
            var recipients: [String: [String: Int]] = [:]
            for try await (campaign, state, n) in try await connection.query(
                "SELECT campaign, state, count(*) FROM campaign_recipients WHERE corp_id = \(corpID) GROUP BY campaign, state", logger: logger
            ).decode((String, String, Int).self) {
                recipients[campaign, default: [:]][state] = n
            }
            var tasks: [String: (Int, Int)] = [:]
            for try await (campaign, n, confirmed) in try await connection.query(
                """
                SELECT campaign, count(*), count(*) FILTER (WHERE member_status = 2) FROM campaign_tasks
                WHERE corp_id = \(corpID) AND msgid IS NOT NULL GROUP BY campaign
                """, logger: logger
            ).decode((String, Int, Int).self) {
                tasks[campaign] = (n, confirmed)
            }
            for try await (name, state) in try await connection.query(
                "SELECT name, state FROM campaigns WHERE corp_id = \(corpID) ORDER BY started_at", logger: logger
            ).decode((String, String).self) {
                overview.campaigns.append(
                    StoreOverview.CampaignProgress(
                        name: name, state: state, recipients: recipients[name] ?? [:], tasks: tasks[name]?.0 ?? 0,
                        tasksConfirmed: tasks[name]?.1 ?? 0))
            }
            overview.welcome = try await grouped("SELECT outcome, count(*) FROM welcome_attempts WHERE corp_id = $1 GROUP BY outcome")
            overview.optOuts = try await count("SELECT count(*) FROM opt_outs WHERE corp_id = $1")
            return overview
        }
    }
}

/// Applied config sets on PostgreSQL. Recording serializes on a transaction advisory lock, so
/// two instances applying the same set at once record it once.
public struct PostgresConfigHistory: ConfigHistory {
    private let store: PostgresStore
    public let corpID: String

    public init(store: PostgresStore, corpID: String) {
        self.store = store
        self.corpID = corpID
    }

    private var logger: Logger { store.logger }

    public func record(version: String, files: [String: String], at: Int64) async throws -> Bool {
        let encoded = String(decoding: try JSONEncoder().encode(files), as: UTF8.self)
        let corpID = self.corpID
        let lock = store.lockName("config-history." + corpID)
        let logger = self.logger
        return try await store.transaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(hashtext(\(lock)))", logger: logger)
            for try await latest in try await connection.query(
                "SELECT version FROM config_versions WHERE corp_id = \(corpID) ORDER BY id DESC LIMIT 1", logger: logger
            ).decode(String.self) where latest == version {
                return false
            }
            try await connection.query(
                "INSERT INTO config_versions (corp_id, version, applied_at, files) VALUES (\(corpID), \(version), \(at), \(encoded))",
                logger: logger)
            return true
        }
    }

    public func latest() async throws -> AppliedConfig? {
        try await sets(
            "SELECT id, version, applied_at, files FROM config_versions WHERE corp_id = \(corpID) ORDER BY id DESC LIMIT 1"
        ).first
    }

    public func history(limit: Int) async throws -> [AppliedConfig] {
        try await sets(
            "SELECT id, version, applied_at, '' FROM config_versions WHERE corp_id = \(corpID) ORDER BY id DESC LIMIT \(limit)")
    }

    public func find(_ reference: String) async throws -> AppliedConfig? {
        if let id = Int64(reference) {
            return try await sets("SELECT id, version, applied_at, files FROM config_versions WHERE corp_id = \(corpID) AND id = \(id)").first
        }
        // starts_with, not LIKE: a version holds no wildcards to escape.
        return try await sets(
            """
            SELECT id, version, applied_at, files FROM config_versions WHERE corp_id = \(corpID) AND starts_with(version, \(reference))
            ORDER BY id DESC LIMIT 1
            """
        ).first
    }

    public func all() async throws -> [AppliedConfig] {
        try await sets("SELECT id, version, applied_at, files FROM config_versions WHERE corp_id = \(corpID) ORDER BY id")
    }

    private func sets(_ query: PostgresQuery) async throws -> [AppliedConfig] {
        var result: [AppliedConfig] = []
        for try await (id, version, appliedAt, files) in try await store.client.query(query, logger: logger).decode(
            (Int64, String, Int64, String).self)
        {
            let decoded = files.isEmpty ? [:] : (try? JSONDecoder().decode([String: String].self, from: Data(files.utf8))) ?? [:]
            result.append(AppliedConfig(id: id, version: version, appliedAt: appliedAt, files: decoded))
        }
        return result
    }
}

/// Retention on PostgreSQL: what ended or happened before the cutoffs goes, in one transaction.
public struct PostgresRetention: RetentionStore {
    private let store: PostgresStore
    public let corpID: String

    public init(store: PostgresStore, corpID: String) {
        self.store = store
        self.corpID = corpID
    }

    public func apply(endedBefore: Date?, interactionsBefore: Date?) async throws -> RetentionReport {
        let corpID = self.corpID
        let logger = store.logger
        return try await store.transaction { connection in
            var report = RetentionReport()
            func count(_ query: PostgresQuery) async throws -> Int {
                try await connection.affectedRows(query, logger: logger)
            }
            if let endedBefore {
                let cutoff = StoreTime.millis(endedBefore)
                for table in ["relation_tags", "contact_phones", "tag_assignments"] {
                    try await connection.query(
                        """
                        DELETE FROM \(unescaped: table) t USING relations r
                        WHERE t.corp_id = \(corpID) AND r.corp_id = t.corp_id AND r.external_userid = t.external_userid
                            AND r.userid = t.userid AND r.ended_at IS NOT NULL AND r.ended_at < \(cutoff)
                        """, logger: logger)
                }
                report.relations = try await count(
                    "DELETE FROM relations WHERE corp_id = \(corpID) AND ended_at IS NOT NULL AND ended_at < \(cutoff) RETURNING 1")
            }
            if let interactionsBefore {
                report.interactions = try await count(
                    "DELETE FROM interactions WHERE corp_id = \(corpID) AND occurred_at < \(Int64(interactionsBefore.timeIntervalSince1970)) RETURNING 1")
            }
            return report
        }
    }
}
