import CohortCore
import Foundation
import GRDB

/// Grades, lifecycle history, tag assignments and the platform write queue on SQLite.
public struct SQLiteGradingRepository: GradingRepository, PlatformOpRepository {
    private let writer: any DatabaseWriter
    public let corpID: String
    /// Rows per write transaction, so webhook commits never wait long behind a big apply.
    public var batchSize = 5_000

    public init(database: CohortDatabase, corpID: String) {
        self.writer = database.writer
        self.corpID = corpID
    }

    // MARK: Loading a population

    public func population(plan: MetricPlan, attributes: [(name: String, type: RuleType)], contacts filter: [String]?)
        async throws -> GradingPopulation
    {
        let corpID = self.corpID
        // The aggregate pass over the interactions is the longest read; it runs on its own
        // reader connection beside the directory reads (the pool allows concurrent readers).
        async let aggregateRows = writer.read { db in
            try Self.aggregates(db, plan: plan, attributes: attributes, corpID: corpID, filter: filter)
        }
        var builder = try await writer.read { db in
            try Self.directory(db, asOf: plan.asOf, corpID: corpID, filter: filter)
        }
        builder.setAggregates(try await aggregateRows, plan: plan, attributeCount: attributes.count)
        return builder.population
    }

    /// Aggregates per contact (by external_userid) and the latest declared attributes.
    static func aggregates(
        _ db: Database, plan: MetricPlan, attributes: [(name: String, type: RuleType)], corpID: String, filter: [String]?
    ) throws -> GradingAggregates {
        var result = GradingAggregates()
        let stride = plan.columns.count
        // A full run reads every matched row (the outer join keeps this corp's); an incremental
        // one only its contacts' rows, through the index.
        var seqFilter = ""
        var seqArguments: StatementArguments = []
        if let filter {
            seqFilter = " AND contact_seq IN (SELECT seq FROM contact_seq WHERE corp_id = ? AND external_userid IN (\(filter.map { _ in "?" }.joined(separator: ","))))"
            seqArguments = [corpID] + StatementArguments(filter)
        }
        let (sql, arguments) = aggregateQuery(plan, seqFilter: seqFilter)
        let rows = try Row.fetchCursor(db, sql: sql, arguments: arguments + seqArguments + [corpID])
        while let row = try rows.next() {
            result.append(row[0], (0..<stride).map { row[$0 + 1] as Int64? }, plan: plan)
        }
        for (position, attribute) in attributes.enumerated() {
            let latest = try Row.fetchCursor(
                db,
                sql: """
                    SELECT s.external_userid, a.value FROM (
                        SELECT contact_seq, json_extract(attributes, '$.' || ?) AS value, max(occurred_at)
                        FROM interactions
                        WHERE contact_seq IS NOT NULL AND attributes IS NOT NULL\(seqFilter)
                            AND json_extract(attributes, '$.' || ?) IS NOT NULL
                        GROUP BY contact_seq
                    ) a JOIN contact_seq s ON s.seq = a.contact_seq WHERE s.corp_id = ?
                    """,
                arguments: [attribute.name] + seqArguments + [attribute.name, corpID])
            while let row = try latest.next() {
                let text: String = row[1]
                result.attributes.append((row[0], position, GradingAggregates.attributeValue(text, type: attribute.type)))
            }
        }
        return result
    }

    /// Contacts, stored grades, live relations with their tags and assignments, the catalogue
    /// and queued writes. Every list is read in primary-key order and merged, no hashing.
    static func directory(_ db: Database, asOf: Int64, corpID: String, filter: [String]?) throws -> GradingPopulationBuilder {
        var builder = GradingPopulationBuilder(asOf: asOf, keepsAssignmentDetails: filter != nil)
        let only = filter.map { ids in " AND external_userid IN (\(ids.map { _ in "?" }.joined(separator: ",")))" } ?? ""
        let onlyArguments = StatementArguments(filter ?? [])
        let contactRows = try Row.fetchCursor(
            db, sql: "SELECT external_userid, gender, type, corp_name FROM contacts WHERE corp_id = ?\(only) ORDER BY external_userid",
            arguments: [corpID] + onlyArguments)
        while let row = try contactRows.next() {
            builder.addContact(GradingContact(externalUserID: row[0], gender: row[1], type: row[2], corpName: row[3]))
        }
        let grades = try Row.fetchCursor(
            db,
            sql: """
                SELECT external_userid, recency, frequency, monetary, r, f, m, segment, abc, clv, lifecycle, lifecycle_since
                FROM grades WHERE corp_id = ?\(only) ORDER BY external_userid
                """,
            arguments: [corpID] + onlyArguments)
        while let row = try grades.next() { builder.addPrevious(Self.grade(row)) }
        let relations = try Row.fetchCursor(
            db,
            sql: """
                SELECT external_userid, userid, add_way, state, createtime FROM relations
                WHERE corp_id = ? AND ended_at IS NULL\(only) ORDER BY external_userid, userid
                """,
            arguments: [corpID] + onlyArguments)
        while let row = try relations.next() {
            builder.addRelation(externalUserID: row[0], userID: row[1], addWay: row[2], state: row[3], createTime: row[4])
        }
        let tags = try Row.fetchCursor(
            db,
            sql: "SELECT external_userid, userid, tag_id FROM relation_tags WHERE corp_id = ?\(only) ORDER BY external_userid, userid",
            arguments: [corpID] + onlyArguments)
        while let row = try tags.next() { builder.addTag(externalUserID: row[0], userID: row[1], tagID: row[2]) }
        // A full run decides from the tag, status and expiry alone; the facts are for `explain`,
        // which loads its one contact in full.
        let assignments = try Row.fetchCursor(
            db,
            sql: """
                SELECT external_userid, userid, tag, rule_id, status, config_version, \(filter == nil ? "''" : "facts"), assigned_at, expires_at
                FROM tag_assignments WHERE corp_id = ?\(only) ORDER BY external_userid, userid
                """,
            arguments: [corpID] + onlyArguments)
        while let row = try assignments.next() {
            builder.addAssignment(externalUserID: row[0], userID: row[1], Self.assignment(row, offset: 2))
        }
        builder.setCatalogue(try Self.catalogue(db, corpID: corpID))
        if filter == nil {
            let pending = try Row.fetchCursor(
                db, sql: "SELECT target FROM platform_ops WHERE corp_id = ? AND kind = 'mark_tag' AND status = 'pending'",
                arguments: [corpID])
            while let row = try pending.next() {
                if let key = RelationKey(target: row[0]) { builder.addPending(key) }
            }
        } else {
            // Only the covered relations: a run must never drop writes queued for others.
            for relation in builder.population.relations {
                let key = RelationKey(externalUserID: builder.population.contacts[relation.contact].externalUserID, userID: relation.userID)
                let queued = try Bool.fetchOne(
                    db.cachedStatement(
                        sql: "SELECT 1 FROM platform_ops WHERE corp_id = ? AND kind = 'mark_tag' AND target = ? AND status = 'pending'"),
                    arguments: [corpID, key.target]) ?? false
                if queued { builder.addPending(key) }
            }
        }
        return builder
    }

    static func aggregateQuery(_ plan: MetricPlan, seqFilter: String) -> (String, StatementArguments) {
        var expressions: [String] = []
        var arguments = StatementArguments()
        for column in plan.columns {
            let condition: String
            if let since = column.since {
                condition = "kind = ? AND occurred_at >= ?"
                arguments += [column.kind, since]
            } else {
                condition = "kind = ?"
                arguments += [column.kind]
            }
            switch column.measure {
            case .count: expressions.append("sum(\(condition))")
            case .sum: expressions.append("sum(CASE WHEN \(condition) THEN amount ELSE 0 END)")
            case .first: expressions.append("min(CASE WHEN \(condition) THEN occurred_at END)")
            case .last: expressions.append("max(CASE WHEN \(condition) THEN occurred_at END)")
            }
        }
        arguments += [plan.asOf]
        let columns = (1...plan.columns.count).map { "a.c\($0)" }.joined(separator: ", ")
        let named = expressions.enumerated().map { "\($1) AS c\($0 + 1)" }.joined(separator: ", ")
        let sql = """
            SELECT s.external_userid, \(columns) FROM (
                SELECT contact_seq, \(named) FROM interactions
                WHERE contact_seq IS NOT NULL AND occurred_at <= ?\(seqFilter)
                GROUP BY contact_seq
            ) a JOIN contact_seq s ON s.seq = a.contact_seq WHERE s.corp_id = ?
            """
        return (sql, arguments)
    }

    static func catalogue(_ db: Database, corpID: String) throws -> [TagGroup] {
        var groups: [TagGroup] = []
        var position: [String: Int] = [:]
        for row in try Row.fetchAll(
            db, sql: "SELECT group_id, name, sort_order FROM tag_groups WHERE corp_id = ? AND deleted_at IS NULL ORDER BY group_id",
            arguments: [corpID])
        {
            position[row[0]] = groups.count
            groups.append(TagGroup(id: row[0], name: row[1], order: row[2]))
        }
        for row in try Row.fetchAll(
            db, sql: "SELECT tag_id, group_id, name, sort_order FROM tags WHERE corp_id = ? AND deleted_at IS NULL ORDER BY tag_id",
            arguments: [corpID])
        {
            if let group = position[row[1]] { groups[group].tags.append(Tag(id: row[0], groupID: row[1], name: row[2], order: row[3])) }
        }
        return groups
    }

    private static func grade(_ row: Row) -> ContactGrade {
        ContactGrade(
            externalUserID: row[0], recencyDays: row[1], frequency: row[2], monetaryCents: row[3], r: row[4], f: row[5],
            m: row[6], segment: row[7], abc: row[8], clvCents: row[9],
            lifecycle: LifecycleStage(rawValue: row[10]) ?? .potential, lifecycleSince: row[11])
    }

    private static func assignment(_ row: Row, offset: Int) -> TagAssignment {
        TagAssignment(
            tag: row[offset], ruleID: row[offset + 1], status: TagAssignment.Status(rawValue: row[offset + 2]) ?? .active,
            configVersion: row[offset + 3], facts: row[offset + 4], assignedAt: row[offset + 5], expiresAt: row[offset + 6])
    }

    // MARK: Saving a run

    public func baseline() async throws -> GradingBaseline? {
        let corpID = self.corpID
        return try await writer.read { db in
            guard let text = try String.fetchOne(
                db, sql: "SELECT baseline FROM grading_runs WHERE corp_id = ? AND baseline <> '' ORDER BY id DESC LIMIT 1",
                arguments: [corpID])
            else { return nil }
            return try? JSONDecoder().decode(GradingBaseline.self, from: Data(text.utf8))
        }
    }

    public func saveGrades(
        _ grades: [ContactGrade], changed: [Int], transitions: [LifecycleChange], asOf: Int64, configVersion: String
    ) async throws {
        let corpID = self.corpID
        for batch in changed.chunked(batchSize) {
            try await writer.write { db in
                let statement = try db.cachedStatement(
                    sql: """
                        INSERT OR REPLACE INTO grades (corp_id, external_userid, recency, frequency, monetary, r, f, m, segment, abc,
                            clv, lifecycle, lifecycle_since, graded_at, config_version)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """)
                for index in batch {
                    let grade = grades[index]
                    try statement.execute(arguments: [
                        corpID, grade.externalUserID, grade.recencyDays, grade.frequency, grade.monetaryCents, grade.r, grade.f,
                        grade.m, grade.segment, grade.abc, grade.clvCents, grade.lifecycle.rawValue, grade.lifecycleSince,
                        asOf, configVersion,
                    ])
                }
            }
        }
        for batch in transitions.chunked(batchSize) {
            try await writer.write { db in
                let statement = try db.cachedStatement(
                    sql: """
                        INSERT INTO lifecycle_history (corp_id, external_userid, from_stage, to_stage, occurred_at, reason, config_version)
                        VALUES (?, ?, ?, ?, ?, ?, ?)
                        """)
                for change in batch {
                    try statement.execute(arguments: [
                        corpID, change.externalUserID, change.from?.rawValue, change.to.rawValue, change.at, change.reason, configVersion,
                    ])
                }
            }
        }
    }

    public func savePlans(_ plans: [RelationTagPlan], dropping stale: [RelationKey], at time: Date) async throws
        -> (assignments: Int, queued: Int, dropped: Int)
    {
        let corpID = self.corpID
        let now = StoreTime.millis(time)
        var totals = (assignments: 0, queued: 0, dropped: 0)
        for batch in plans.chunked(batchSize) {
            let counts = try await writer.write { db in
                var assignments = 0
                var queued = 0
                let insertAssignment = try db.cachedStatement(
                    sql: """
                        INSERT OR REPLACE INTO tag_assignments (corp_id, external_userid, userid, tag, rule_id, status,
                            config_version, facts, assigned_at, expires_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """)
                let queue = try db.cachedStatement(
                    sql: """
                        INSERT INTO platform_ops (corp_id, kind, target, payload, status, next_attempt_at, created_at, updated_at)
                        VALUES (?, 'mark_tag', ?, ?, 'pending', ?, ?, ?)
                        ON CONFLICT (corp_id, kind, target) WHERE status = 'pending'
                        DO UPDATE SET payload = excluded.payload, updated_at = excluded.updated_at, attempts = 0,
                            next_attempt_at = excluded.next_attempt_at
                        """)
                for plan in batch {
                    let key = plan.key
                    for assignment in plan.assign {
                        try insertAssignment.execute(arguments: [
                            corpID, key.externalUserID, key.userID, assignment.tag, assignment.ruleID, assignment.status.rawValue,
                            assignment.configVersion, assignment.facts, assignment.assignedAt, assignment.expiresAt,
                        ])
                        assignments += 1
                    }
                    for tag in plan.expire {
                        try db.cachedStatement(
                            sql: "UPDATE tag_assignments SET status = 'expired' WHERE corp_id = ? AND external_userid = ? AND userid = ? AND tag = ?"
                        ).execute(arguments: [corpID, key.externalUserID, key.userID, tag])
                        assignments += 1
                    }
                    for tag in plan.clear {
                        try db.cachedStatement(
                            sql: "DELETE FROM tag_assignments WHERE corp_id = ? AND external_userid = ? AND userid = ? AND tag = ?"
                        ).execute(arguments: [corpID, key.externalUserID, key.userID, tag])
                        assignments += 1
                    }
                    guard plan.changesPlatform else { continue }
                    let payload = MarkTagPayload(externalUserID: key.externalUserID, userID: key.userID, add: plan.add, remove: plan.remove)
                    try queue.execute(arguments: [corpID, key.target, payload.storedJSON, now, now, now])
                    queued += 1
                }
                return (assignments, queued)
            }
            totals.assignments += counts.0
            totals.queued += counts.1
        }
        for batch in stale.chunked(batchSize) {
            totals.dropped += try await writer.write { db in
                var dropped = 0
                for key in batch {
                    try db.cachedStatement(
                        sql: "DELETE FROM platform_ops WHERE corp_id = ? AND kind = 'mark_tag' AND target = ? AND status = 'pending'"
                    ).execute(arguments: [corpID, key.target])
                    dropped += db.changesCount
                }
                return dropped
            }
        }
        return totals
    }

    public func recordRun(
        asOf: Int64, configVersion: String, baseline: GradingBaseline?, report: GradingWriteReport, startedAt: Date, finishedAt: Date
    ) async throws {
        let corpID = self.corpID
        let summary = try Self.encode(report)
        let baselineText = try baseline.map { try Self.encode($0) } ?? ""
        try await writer.write { db in
            try db.execute(
                sql: """
                    INSERT INTO grading_runs (corp_id, started_at, finished_at, config_version, as_of, baseline, summary)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [corpID, StoreTime.millis(startedAt), StoreTime.millis(finishedAt), configVersion, asOf, baselineText, summary])
        }
    }

    private static func encode(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    // MARK: Reading results

    public func grades() async throws -> [ContactGrade] {
        let corpID = self.corpID
        return try await writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT external_userid, recency, frequency, monetary, r, f, m, segment, abc, clv, lifecycle, lifecycle_since
                    FROM grades WHERE corp_id = ? ORDER BY external_userid
                    """,
                arguments: [corpID]
            ).map(Self.grade)
        }
    }

    public func grade(of externalUserID: String) async throws -> ContactGrade? {
        let corpID = self.corpID
        return try await writer.read { db in
            try Row.fetchOne(
                db,
                sql: """
                    SELECT external_userid, recency, frequency, monetary, r, f, m, segment, abc, clv, lifecycle, lifecycle_since
                    FROM grades WHERE corp_id = ? AND external_userid = ?
                    """,
                arguments: [corpID, externalUserID]
            ).map(Self.grade)
        }
    }

    public func lifecycleHistory(of externalUserID: String) async throws -> [LifecycleChange] {
        let corpID = self.corpID
        return try await writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT from_stage, to_stage, occurred_at, reason FROM lifecycle_history
                    WHERE corp_id = ? AND external_userid = ? ORDER BY id
                    """,
                arguments: [corpID, externalUserID]
            ).map { row in
                LifecycleChange(
                    externalUserID: externalUserID, from: (row[0] as String?).flatMap(LifecycleStage.init(rawValue:)),
                    to: LifecycleStage(rawValue: row[1]) ?? .potential, at: row[2], reason: row[3])
            }
        }
    }

    public func assignments(of externalUserID: String) async throws -> [String: [TagAssignment]] {
        let corpID = self.corpID
        return try await writer.read { db in
            var result: [String: [TagAssignment]] = [:]
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT userid, tag, rule_id, status, config_version, facts, assigned_at, expires_at FROM tag_assignments
                    WHERE corp_id = ? AND external_userid = ? ORDER BY userid, tag
                    """,
                arguments: [corpID, externalUserID])
            {
                result[row[0], default: []].append(Self.assignment(row, offset: 1))
            }
            return result
        }
    }

    // MARK: Platform write queue

    public func due(at time: Date, limit: Int) async throws -> [PlatformOp] {
        let corpID = self.corpID
        let now = StoreTime.millis(time)
        return try await writer.write { db in
            var ops: [PlatformOp] = []
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT id, kind, target, payload, attempts FROM platform_ops
                    WHERE status = 'pending' AND next_attempt_at <= ? AND corp_id = ? ORDER BY next_attempt_at, id LIMIT ?
                    """,
                arguments: [now, corpID, limit])
            {
                let text: String = row[3]
                if let payload = try? JSONDecoder().decode(MarkTagPayload.self, from: Data(text.utf8)) {
                    ops.append(PlatformOp(id: row[0], kind: row[1], target: row[2], payload: payload, attempts: row[4]))
                } else {
                    // An unreadable row must not sit at the head of the queue for ever.
                    try db.execute(
                        sql: "UPDATE platform_ops SET status = 'failed', updated_at = ?, last_error = 'unreadable payload' WHERE id = ?",
                        arguments: [now, row[0]])
                }
            }
            return ops
        }
    }

    public func complete(_ op: PlatformOp, addedTagIDs: [String], removedTagIDs: [String], at time: Date) async throws {
        let corpID = self.corpID
        let now = StoreTime.millis(time)
        try await writer.write { db in
            // A write the rules replaced while it was in flight stays pending with its new payload
            // (the replacement made it due again).
            try db.execute(
                sql: """
                    UPDATE platform_ops SET status = 'done', attempts = attempts + 1, updated_at = ?, last_error = NULL
                    WHERE id = ? AND payload = ?
                    """,
                arguments: [now, op.id, op.payload.storedJSON])
            // The mirror learns the write at once, so the next run does not see it as missing.
            let live = try Bool.fetchOne(
                db, sql: "SELECT 1 FROM relations WHERE corp_id = ? AND external_userid = ? AND userid = ? AND ended_at IS NULL",
                arguments: [corpID, op.payload.externalUserID, op.payload.userID]) ?? false
            guard live else { return }
            for id in addedTagIDs {
                try db.execute(
                    sql: "INSERT OR IGNORE INTO relation_tags (corp_id, external_userid, userid, tag_id) VALUES (?, ?, ?, ?)",
                    arguments: [corpID, op.payload.externalUserID, op.payload.userID, id])
            }
            for id in removedTagIDs {
                try db.execute(
                    sql: "DELETE FROM relation_tags WHERE corp_id = ? AND external_userid = ? AND userid = ? AND tag_id = ?",
                    arguments: [corpID, op.payload.externalUserID, op.payload.userID, id])
            }
        }
    }

    public func fail(_ op: PlatformOp, error: String, retryAt: Date?, at time: Date) async throws {
        let now = StoreTime.millis(time)
        // A write replaced while in flight is a new write: the old one's failure neither fails
        // nor delays it.
        try await writer.write { db in
            if let retryAt {
                try db.execute(
                    sql: """
                        UPDATE platform_ops SET attempts = attempts + 1, next_attempt_at = ?, updated_at = ?, last_error = ?
                        WHERE id = ? AND payload = ? AND status = 'pending'
                        """,
                    arguments: [StoreTime.millis(retryAt), now, error, op.id, op.payload.storedJSON])
            } else {
                try db.execute(
                    sql: """
                        UPDATE platform_ops SET status = 'failed', attempts = attempts + 1, updated_at = ?, last_error = ?
                        WHERE id = ? AND payload = ? AND status = 'pending'
                        """,
                    arguments: [now, error, op.id, op.payload.storedJSON])
            }
        }
    }

    public func counts() async throws -> PlatformOpCounts {
        let corpID = self.corpID
        return try await writer.read { db in
            var counts = PlatformOpCounts()
            for row in try Row.fetchAll(
                db, sql: "SELECT status, count(*) FROM platform_ops WHERE corp_id = ? GROUP BY status", arguments: [corpID])
            {
                switch row[0] as String {
                case "pending": counts.pending = row[1]
                case "done": counts.done = row[1]
                default: counts.failed += row[1] as Int
                }
            }
            return counts
        }
    }
}
