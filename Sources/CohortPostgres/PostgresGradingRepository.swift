import CohortCore
import Foundation
import Logging
import PostgresNIO

/// Grades, lifecycle history, tag assignments and the platform write queue of one corp on
/// PostgreSQL, shared by every instance.
///
/// The population is read in one REPEATABLE READ snapshot, each table in key order (the keys
/// sort by bytes, `COLLATE "C"`), and merged by the same `GradingPopulationBuilder` SQLite
/// uses. Bulk writes go as one JSON array per statement (`jsonb_to_recordset`), which carries
/// NULLs and stays one parameter however many rows. Queued platform writes are claimed with
/// `FOR UPDATE SKIP LOCKED` and a lease, so two instances' tag writers never send one write twice.
public struct PostgresGradingRepository: GradingRepository, PlatformOpRepository {
    private let store: PostgresStore
    public let corpID: String
    /// Rows per write transaction.
    public var batchSize = 5_000
    /// How long a claimed write is kept from other instances before it is due again (its
    /// claimant died mid-call).
    public var lease: TimeInterval = 300
    /// Writes one claim takes at most.
    static let claimBatch = 50

    public init(store: PostgresStore, corpID: String) {
        self.store = store
        self.corpID = corpID
    }

    private var logger: Logger { store.logger }

    // MARK: Loading a population

    public func population(plan: MetricPlan, attributes: [(name: String, type: RuleType)], contacts filter: [String]?)
        async throws -> GradingPopulation
    {
        let corpID = self.corpID
        // Directory and interactions from one snapshot: an order committed in between cannot
        // count for a contact whose relations were read before it.
        return try await store.snapshot { connection in
            var builder = try await self.directory(connection, asOf: plan.asOf, corpID: corpID, filter: filter)
            let rows = try await self.aggregates(connection, plan: plan, attributes: attributes, corpID: corpID, filter: filter)
            builder.setAggregates(rows, plan: plan, attributeCount: attributes.count)
            return builder.population
        }
    }

    private func directory(_ connection: PostgresConnection, asOf: Int64, corpID: String, filter: [String]?) async throws
        -> GradingPopulationBuilder
    {
        var builder = GradingPopulationBuilder(asOf: asOf, keepsAssignmentDetails: filter != nil)
        // One statement text per table; a full run binds NULL for the contact filter.
        let only = "AND ($2::text[] IS NULL OR external_userid = ANY($2))"
        func binds() -> PostgresBindings {
            var binds = PostgresBindings()
            binds.append(corpID)
            if let filter { binds.append(filter) } else { binds.appendNull() }
            return binds
        }
        func rows(_ sql: String) async throws -> PostgresRowSequence {
            try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds()), logger: logger)
        }
        for try await (id, gender, type, corpName) in try await rows(
            "SELECT external_userid, gender, type, corp_name FROM contacts WHERE corp_id = $1 \(only) ORDER BY external_userid"
        ).decode((String, Int?, Int?, String?).self) {
            builder.addContact(GradingContact(externalUserID: id, gender: gender, type: type, corpName: corpName))
        }
        for try await row in try await rows(
            "SELECT \(Self.gradeColumns) FROM grades WHERE corp_id = $1 \(only) ORDER BY external_userid"
        ).decode(GradeRow.self) {
            builder.addPrevious(Self.grade(row))
        }
        for try await (id, userID, addWay, state, createTime) in try await rows(
            """
            SELECT external_userid, userid, add_way, state, createtime FROM relations
            WHERE corp_id = $1 AND ended_at IS NULL \(only) ORDER BY external_userid, userid
            """
        ).decode((String, String, Int?, String?, Int64?).self) {
            builder.addRelation(externalUserID: id, userID: userID, addWay: addWay, state: state, createTime: createTime)
        }
        for try await (id, userID, tagID) in try await rows(
            "SELECT external_userid, userid, tag_id FROM relation_tags WHERE corp_id = $1 \(only) ORDER BY external_userid, userid"
        ).decode((String, String, String).self) {
            builder.addTag(externalUserID: id, userID: userID, tagID: tagID)
        }
        // A full run decides from the tag, status and expiry; the facts are for `explain`.
        for try await row in try await rows(
            """
            SELECT external_userid, userid, tag, rule_id, status, config_version, \(filter == nil ? "''" : "facts"), assigned_at, expires_at
            FROM tag_assignments WHERE corp_id = $1 \(only) ORDER BY external_userid, userid
            """
        ).decode((String, String, String, String, String, String, String, Int64, Int64?).self) {
            builder.addAssignment(
                externalUserID: row.0, userID: row.1,
                TagAssignment(
                    tag: row.2, ruleID: row.3, status: TagAssignment.Status(rawValue: row.4) ?? .active, configVersion: row.5,
                    facts: row.6, assignedAt: row.7, expiresAt: row.8))
        }
        builder.setCatalogue(try await catalogue(connection))
        // Only the covered relations' writes when some contacts are graded: a run must never
        // drop writes queued for others.
        let targets: [String]? = filter == nil ? nil : builder.population.relations.map {
            RelationKey(externalUserID: builder.population.contacts[$0.contact].externalUserID, userID: $0.userID).target
        }
        if targets?.isEmpty != true {
            var pendingBinds = PostgresBindings()
            pendingBinds.append(corpID)
            if let targets { pendingBinds.append(targets) } else { pendingBinds.appendNull() }
            for try await target in try await connection.query(
                PostgresQuery(
                    unsafeSQL: """
                        SELECT target FROM platform_ops WHERE corp_id = $1 AND kind = 'mark_tag' AND status = 'pending'
                            AND ($2::text[] IS NULL OR target = ANY($2))
                        """, binds: pendingBinds), logger: logger
            ).decode(String.self) {
                if let key = RelationKey(target: target) { builder.addPending(key) }
            }
        }
        return builder
    }

    private func catalogue(_ connection: PostgresConnection) async throws -> [TagGroup] {
        var groups: [TagGroup] = []
        var position: [String: Int] = [:]
        for try await (id, name, order) in try await connection.query(
            "SELECT group_id, name, sort_order FROM tag_groups WHERE corp_id = \(corpID) AND deleted_at IS NULL ORDER BY group_id",
            logger: logger
        ).decode((String, String, Int64).self) {
            position[id] = groups.count
            groups.append(TagGroup(id: id, name: name, order: UInt32(clamping: order)))
        }
        for try await (id, groupID, name, order) in try await connection.query(
            "SELECT tag_id, group_id, name, sort_order FROM tags WHERE corp_id = \(corpID) AND deleted_at IS NULL ORDER BY tag_id",
            logger: logger
        ).decode((String, String, String, Int64).self) {
            if let group = position[groupID] { groups[group].tags.append(Tag(id: id, groupID: groupID, name: name, order: UInt32(clamping: order))) }
        }
        return groups
    }

    private func aggregates(
        _ connection: PostgresConnection, plan: MetricPlan, attributes: [(name: String, type: RuleType)], corpID: String, filter: [String]?
    ) async throws -> GradingAggregates {
        var result = GradingAggregates()
        guard !plan.columns.isEmpty else { return result }
        var binds = PostgresBindings()
        func bind(_ value: some PostgresDynamicTypeEncodable) -> String {
            binds.append(value)
            return "$\(binds.count)"
        }
        var expressions: [String] = []
        for column in plan.columns {
            var condition = "kind = \(bind(column.kind))"
            if let since = column.since { condition += " AND occurred_at >= \(bind(since))" }
            switch column.measure {
            case .count: expressions.append("count(*) FILTER (WHERE \(condition))")
            case .sum: expressions.append("coalesce(sum(amount) FILTER (WHERE \(condition)), 0)::bigint")
            case .first: expressions.append("min(occurred_at) FILTER (WHERE \(condition))")
            case .last: expressions.append("max(occurred_at) FILTER (WHERE \(condition))")
            }
        }
        let asOf = bind(plan.asOf)
        let corp = bind(corpID)
        var seqFilter = ""
        if let filter {
            seqFilter = " AND i.contact_seq IN (SELECT seq FROM contact_seq WHERE corp_id = \(corp) AND external_userid = ANY(\(bind(filter))))"
        }
        let sql = """
            SELECT s.external_userid, \(expressions.joined(separator: ", "))
            FROM interactions i JOIN contact_seq s ON s.seq = i.contact_seq
            WHERE i.contact_seq IS NOT NULL AND i.occurred_at <= \(asOf) AND s.corp_id = \(corp)\(seqFilter)
            GROUP BY s.external_userid
            """
        let stride = plan.columns.count
        for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger) {
            let cells = row.makeRandomAccess()
            let id = try cells[0].decode(String.self)
            var values: [Int64?] = []
            values.reserveCapacity(stride)
            for column in 0..<stride { values.append(try cells[column + 1].decode(Int64?.self)) }
            result.append(id, values, plan: plan)
        }
        for (position, attribute) in attributes.enumerated() {
            var attributeBinds = PostgresBindings()
            attributeBinds.append(attribute.name)
            attributeBinds.append(corpID)
            var filterSQL = ""
            if let filter {
                attributeBinds.append(filter)
                filterSQL = " AND s.external_userid = ANY($3)"
            }
            // The value of the contact's latest interaction that carries the attribute.
            for try await (id, value) in try await connection.query(
                PostgresQuery(
                    unsafeSQL: """
                        SELECT DISTINCT ON (i.contact_seq) s.external_userid, i.attributes::jsonb ->> $1
                        FROM interactions i JOIN contact_seq s ON s.seq = i.contact_seq
                        WHERE i.contact_seq IS NOT NULL AND i.attributes IS NOT NULL AND s.corp_id = $2\(filterSQL)
                            AND (i.attributes::jsonb ->> $1) IS NOT NULL
                        ORDER BY i.contact_seq, i.occurred_at DESC, i.id DESC
                        """, binds: attributeBinds), logger: logger
            ).decode((String, String).self) {
                result.attributes.append((id, position, GradingAggregates.attributeValue(value, type: attribute.type)))
            }
        }
        return result
    }

    private static let gradeColumns = "external_userid, recency, frequency, monetary, r, f, m, segment, abc, clv, lifecycle, lifecycle_since"
    private typealias GradeRow = (String, Int?, Int, Int64, Int?, Int?, Int?, String?, String?, Int64?, String, Int64)

    private static func grade(_ row: GradeRow) -> ContactGrade {
        ContactGrade(
            externalUserID: row.0, recencyDays: row.1, frequency: row.2, monetaryCents: row.3, r: row.4, f: row.5, m: row.6, segment: row.7,
            abc: row.8, clvCents: row.9, lifecycle: LifecycleStage(rawValue: row.10) ?? .potential, lifecycleSince: row.11)
    }

    // MARK: Saving a run

    public func baseline() async throws -> GradingBaseline? {
        for try await text in try await store.client.query(
            "SELECT baseline FROM grading_runs WHERE corp_id = \(corpID) AND baseline <> '' ORDER BY id DESC LIMIT 1", logger: logger
        ).decode(String.self) {
            return try? JSONDecoder().decode(GradingBaseline.self, from: Data(text.utf8))
        }
        return nil
    }

    private struct GradeRecord: Encodable {
        var external_userid: String
        var recency: Int?
        var frequency: Int
        var monetary: Int64
        var r: Int?
        var f: Int?
        var m: Int?
        var segment: String?
        var abc: String?
        var clv: Int64?
        var lifecycle: String
        var lifecycle_since: Int64
    }

    private struct TransitionRecord: Encodable {
        var external_userid: String
        var from_stage: String?
        var to_stage: String
        var occurred_at: Int64
        var reason: String
    }

    /// Rows as one JSON array parameter; `nil` encodes as null, so optional columns need no sentinels.
    private static func json(_ rows: some Encodable) throws -> String {
        String(decoding: try JSONEncoder().encode(rows), as: UTF8.self)
    }

    public func saveGrades(
        _ grades: [ContactGrade], changed: [Int], transitions: [LifecycleChange], asOf: Int64, configVersion: String
    ) async throws {
        let corpID = self.corpID
        let logger = self.logger
        for batch in changed.chunked(batchSize) {
            let rows = try Self.json(batch.map { index in
                let grade = grades[index]
                return GradeRecord(
                    external_userid: grade.externalUserID, recency: grade.recencyDays, frequency: grade.frequency, monetary: grade.monetaryCents,
                    r: grade.r, f: grade.f, m: grade.m, segment: grade.segment, abc: grade.abc, clv: grade.clvCents,
                    lifecycle: grade.lifecycle.rawValue, lifecycle_since: grade.lifecycleSince)
            })
            try await store.client.query(
                """
                INSERT INTO grades (corp_id, external_userid, recency, frequency, monetary, r, f, m, segment, abc, clv, lifecycle,
                    lifecycle_since, graded_at, config_version)
                SELECT \(corpID), g.external_userid, g.recency, g.frequency, g.monetary, g.r, g.f, g.m, g.segment, g.abc, g.clv,
                    g.lifecycle, g.lifecycle_since, \(asOf), \(configVersion)
                FROM jsonb_to_recordset(\(rows)::jsonb) AS g(external_userid text, recency bigint, frequency bigint, monetary bigint,
                    r bigint, f bigint, m bigint, segment text, abc text, clv bigint, lifecycle text, lifecycle_since bigint)
                ORDER BY g.external_userid
                ON CONFLICT (corp_id, external_userid) DO UPDATE SET recency = excluded.recency, frequency = excluded.frequency,
                    monetary = excluded.monetary, r = excluded.r, f = excluded.f, m = excluded.m, segment = excluded.segment,
                    abc = excluded.abc, clv = excluded.clv, lifecycle = excluded.lifecycle, lifecycle_since = excluded.lifecycle_since,
                    graded_at = excluded.graded_at, config_version = excluded.config_version
                """, logger: logger)
        }
        for batch in transitions.chunked(batchSize) {
            let rows = try Self.json(batch.map {
                TransitionRecord(external_userid: $0.externalUserID, from_stage: $0.from?.rawValue, to_stage: $0.to.rawValue, occurred_at: $0.at, reason: $0.reason)
            })
            // WITH ORDINALITY keeps the run's order in the history's ids.
            try await store.client.query(
                """
                INSERT INTO lifecycle_history (corp_id, external_userid, from_stage, to_stage, occurred_at, reason, config_version)
                SELECT \(corpID), t.external_userid, t.from_stage, t.to_stage, t.occurred_at, t.reason, \(configVersion)
                FROM jsonb_array_elements(\(rows)::jsonb) WITH ORDINALITY AS e(value, n),
                    jsonb_to_record(e.value) AS t(external_userid text, from_stage text, to_stage text, occurred_at bigint, reason text)
                ORDER BY e.n
                """, logger: logger)
        }
    }

    private struct AssignmentRecord: Encodable {
        var external_userid: String
        var userid: String
        var tag: String
        var rule_id: String
        var status: String
        var config_version: String
        var facts: String
        var assigned_at: Int64
        var expires_at: Int64?
    }

    private struct TagRecord: Encodable {
        var external_userid: String
        var userid: String
        var tag: String
    }

    private struct OpRecord: Encodable {
        var target: String
        var payload: String
    }

    public func savePlans(_ plans: [RelationTagPlan], dropping stale: [RelationKey], at time: Date) async throws
        -> (assignments: Int, queued: Int, dropped: Int)
    {
        let corpID = self.corpID
        let now = StoreTime.millis(time)
        var totals = (assignments: 0, queued: 0, dropped: 0)
        // Key order within each batch: two instances writing overlapping relations take their
        // row locks in the same order.
        for batch in plans.sorted(by: { $0.key.target.utf8.lexicographicallyPrecedes($1.key.target.utf8) }).chunked(batchSize) {
            var assign: [AssignmentRecord] = []
            var expire: [TagRecord] = []
            var clear: [TagRecord] = []
            var ops: [OpRecord] = []
            for plan in batch {
                let key = plan.key
                for assignment in plan.assign {
                    assign.append(
                        AssignmentRecord(
                            external_userid: key.externalUserID, userid: key.userID, tag: assignment.tag, rule_id: assignment.ruleID,
                            status: assignment.status.rawValue, config_version: assignment.configVersion, facts: assignment.facts,
                            assigned_at: assignment.assignedAt, expires_at: assignment.expiresAt))
                }
                for tag in plan.expire { expire.append(TagRecord(external_userid: key.externalUserID, userid: key.userID, tag: tag)) }
                for tag in plan.clear { clear.append(TagRecord(external_userid: key.externalUserID, userid: key.userID, tag: tag)) }
                if plan.changesPlatform {
                    let payload = MarkTagPayload(externalUserID: key.externalUserID, userID: key.userID, add: plan.add, remove: plan.remove)
                    ops.append(OpRecord(target: key.target, payload: payload.storedJSON))
                }
            }
            let (assignRows, expireRows, clearRows, opRows) = (try Self.json(assign), try Self.json(expire), try Self.json(clear), try Self.json(ops))
            let logger = self.logger
            try await store.transaction { connection in
                if !assign.isEmpty {
                    try await connection.query(
                        """
                        INSERT INTO tag_assignments (corp_id, external_userid, userid, tag, rule_id, status, config_version, facts,
                            assigned_at, expires_at)
                        SELECT \(corpID), a.external_userid, a.userid, a.tag, a.rule_id, a.status, a.config_version, a.facts,
                            a.assigned_at, a.expires_at
                        FROM jsonb_to_recordset(\(assignRows)::jsonb) AS a(external_userid text, userid text, tag text, rule_id text,
                            status text, config_version text, facts text, assigned_at bigint, expires_at bigint)
                        ON CONFLICT (corp_id, external_userid, userid, tag) DO UPDATE SET rule_id = excluded.rule_id,
                            status = excluded.status, config_version = excluded.config_version, facts = excluded.facts,
                            assigned_at = excluded.assigned_at, expires_at = excluded.expires_at
                        """, logger: logger)
                }
                if !expire.isEmpty {
                    try await connection.query(
                        """
                        UPDATE tag_assignments a SET status = 'expired'
                        FROM jsonb_to_recordset(\(expireRows)::jsonb) AS e(external_userid text, userid text, tag text)
                        WHERE a.corp_id = \(corpID) AND a.external_userid = e.external_userid AND a.userid = e.userid AND a.tag = e.tag
                        """, logger: logger)
                }
                if !clear.isEmpty {
                    try await connection.query(
                        """
                        DELETE FROM tag_assignments a
                        USING jsonb_to_recordset(\(clearRows)::jsonb) AS c(external_userid text, userid text, tag text)
                        WHERE a.corp_id = \(corpID) AND a.external_userid = c.external_userid AND a.userid = c.userid AND a.tag = c.tag
                        """, logger: logger)
                }
                if !ops.isEmpty {
                    try await connection.query(
                        """
                        INSERT INTO platform_ops (corp_id, kind, target, payload, status, next_attempt_at, created_at, updated_at)
                        SELECT \(corpID), 'mark_tag', o.target, o.payload, 'pending', \(now), \(now), \(now)
                        FROM jsonb_to_recordset(\(opRows)::jsonb) AS o(target text, payload text)
                        ON CONFLICT (corp_id, kind, target) WHERE status = 'pending'
                        DO UPDATE SET payload = excluded.payload, updated_at = excluded.updated_at, attempts = 0,
                            next_attempt_at = excluded.next_attempt_at
                        """, logger: logger)
                }
            }
            totals.assignments += assign.count + expire.count + clear.count
            totals.queued += ops.count
        }
        for batch in stale.chunked(batchSize) {
            let dropped = try await store.client.affectedRows(
                """
                DELETE FROM platform_ops WHERE corp_id = \(corpID) AND kind = 'mark_tag' AND status = 'pending'
                    AND target = ANY(\(batch.map(\.target))) AND (leased_until IS NULL OR leased_until <= \(now))
                RETURNING 1
                """, logger: logger)
            totals.dropped += dropped
        }
        return totals
    }

    public func recordRun(
        asOf: Int64, configVersion: String, baseline: GradingBaseline?, report: GradingWriteReport, startedAt: Date, finishedAt: Date
    ) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let summary = String(decoding: try encoder.encode(report), as: UTF8.self)
        let baselineText = try baseline.map { String(decoding: try encoder.encode($0), as: UTF8.self) } ?? ""
        try await store.client.query(
            """
            INSERT INTO grading_runs (corp_id, started_at, finished_at, config_version, as_of, baseline, summary)
            VALUES (\(corpID), \(StoreTime.millis(startedAt)), \(StoreTime.millis(finishedAt)), \(configVersion), \(asOf), \(baselineText), \(summary))
            """, logger: logger)
    }

    // MARK: Reading results

    public func grades() async throws -> [ContactGrade] {
        var grades: [ContactGrade] = []
        for try await row in try await store.client.query(
            "SELECT \(unescaped: Self.gradeColumns) FROM grades WHERE corp_id = \(corpID) ORDER BY external_userid", logger: logger
        ).decode(GradeRow.self) {
            grades.append(Self.grade(row))
        }
        return grades
    }

    public func grade(of externalUserID: String) async throws -> ContactGrade? {
        for try await row in try await store.client.query(
            "SELECT \(unescaped: Self.gradeColumns) FROM grades WHERE corp_id = \(corpID) AND external_userid = \(externalUserID)", logger: logger
        ).decode(GradeRow.self) {
            return Self.grade(row)
        }
        return nil
    }

    public func lifecycleHistory(of externalUserID: String) async throws -> [LifecycleChange] {
        var history: [LifecycleChange] = []
        for try await (from, to, at, reason) in try await store.client.query(
            """
            SELECT from_stage, to_stage, occurred_at, reason FROM lifecycle_history
            WHERE corp_id = \(corpID) AND external_userid = \(externalUserID) ORDER BY id
            """, logger: logger
        ).decode((String?, String, Int64, String).self) {
            history.append(
                LifecycleChange(
                    externalUserID: externalUserID, from: from.flatMap(LifecycleStage.init(rawValue:)), to: LifecycleStage(rawValue: to) ?? .potential,
                    at: at, reason: reason))
        }
        return history
    }

    public func assignments(of externalUserID: String) async throws -> [String: [TagAssignment]] {
        var result: [String: [TagAssignment]] = [:]
        for try await row in try await store.client.query(
            """
            SELECT userid, tag, rule_id, status, config_version, facts, assigned_at, expires_at FROM tag_assignments
            WHERE corp_id = \(corpID) AND external_userid = \(externalUserID) ORDER BY userid, tag
            """, logger: logger
        ).decode((String, String, String, String, String, String, Int64, Int64?).self) {
            result[row.0, default: []].append(
                TagAssignment(
                    tag: row.1, ruleID: row.2, status: TagAssignment.Status(rawValue: row.3) ?? .active, configVersion: row.4, facts: row.5,
                    assignedAt: row.6, expiresAt: row.7))
        }
        return result
    }

    // MARK: Platform write queue

    public func due(at time: Date, limit: Int) async throws -> [PlatformOp] {
        let corpID = self.corpID
        let now = StoreTime.millis(time)
        let leaseEnd = StoreTime.millis(time.addingTimeInterval(lease))
        let logger = self.logger
        return try await store.transaction { connection in
            var ops: [PlatformOp] = []
            var unreadable: [Int64] = []
            // The claim: due rows nobody else holds take a lease, so another instance's writer
            // does not take them while this one calls the platform. Small batches, so the lease
            // outlasts the batch even when the shared call budget slows every call down.
            for try await (id, kind, target, payload, attempts) in try await connection.query(
                """
                UPDATE platform_ops SET leased_until = \(leaseEnd)
                WHERE id IN (
                    SELECT id FROM platform_ops
                    WHERE status = 'pending' AND next_attempt_at <= \(now) AND corp_id = \(corpID)
                        AND (leased_until IS NULL OR leased_until <= \(now))
                    ORDER BY next_attempt_at, id LIMIT \(min(limit, Self.claimBatch)) FOR UPDATE SKIP LOCKED)
                RETURNING id, kind, target, payload, attempts
                """, logger: logger
            ).decode((Int64, String, String, String, Int).self) {
                if let decoded = try? JSONDecoder().decode(MarkTagPayload.self, from: Data(payload.utf8)) {
                    ops.append(PlatformOp(id: id, kind: kind, target: target, payload: decoded, attempts: attempts))
                } else {
                    unreadable.append(id)
                }
            }
            if !unreadable.isEmpty {
                // An unreadable row must not come back for ever.
                try await connection.query(
                    """
                    UPDATE platform_ops SET status = 'failed', updated_at = \(now), last_error = 'unreadable payload' WHERE id = ANY(\(unreadable))
                    """, logger: logger)
            }
            return ops.sorted { ($0.id) < ($1.id) }
        }
    }

    public func complete(_ op: PlatformOp, addedTagIDs: [String], removedTagIDs: [String], at time: Date) async throws {
        let corpID = self.corpID
        let now = StoreTime.millis(time)
        let logger = self.logger
        try await store.transaction { connection in
            // A write the rules replaced while it was in flight stays pending with its new payload
            // (the replacement made it due again); either way the lease ends.
            try await connection.query(
                """
                UPDATE platform_ops SET status = 'done', attempts = attempts + 1, updated_at = \(now), last_error = NULL
                WHERE id = \(op.id) AND payload = \(op.payload.storedJSON) AND status = 'pending'
                """, logger: logger)
            try await Self.endLease(op, connection, logger: logger)
            // The mirror learns the write at once, so the next run does not see it as missing.
            var live = false
            for try await _ in try await connection.query(
                """
                SELECT 1 FROM relations WHERE corp_id = \(corpID) AND external_userid = \(op.payload.externalUserID)
                    AND userid = \(op.payload.userID) AND ended_at IS NULL
                """, logger: logger)
            {
                live = true
            }
            guard live else { return }
            if !addedTagIDs.isEmpty {
                try await connection.query(
                    """
                    INSERT INTO relation_tags (corp_id, external_userid, userid, tag_id)
                    SELECT \(corpID), \(op.payload.externalUserID), \(op.payload.userID), tag FROM unnest(\(addedTagIDs)::text[]) AS tag
                    ON CONFLICT DO NOTHING
                    """, logger: logger)
            }
            if !removedTagIDs.isEmpty {
                try await connection.query(
                    """
                    DELETE FROM relation_tags WHERE corp_id = \(corpID) AND external_userid = \(op.payload.externalUserID)
                        AND userid = \(op.payload.userID) AND tag_id = ANY(\(removedTagIDs))
                    """, logger: logger)
            }
        }
    }

    public func fail(_ op: PlatformOp, error: String, retryAt: Date?, at time: Date) async throws {
        let now = StoreTime.millis(time)
        let payload = op.payload.storedJSON
        let logger = self.logger
        // A write replaced while in flight is a new write: the old one's failure neither fails
        // nor delays it; only the lease ends.
        try await store.transaction { connection in
            if let retryAt {
                try await connection.query(
                    """
                    UPDATE platform_ops SET attempts = attempts + 1, next_attempt_at = \(StoreTime.millis(retryAt)), updated_at = \(now),
                        last_error = \(error)
                    WHERE id = \(op.id) AND payload = \(payload) AND status = 'pending'
                    """, logger: logger)
            } else {
                try await connection.query(
                    """
                    UPDATE platform_ops SET status = 'failed', attempts = attempts + 1, updated_at = \(now), last_error = \(error)
                    WHERE id = \(op.id) AND payload = \(payload) AND status = 'pending'
                    """, logger: logger)
            }
            try await Self.endLease(op, connection, logger: logger)
        }
    }

    /// The claim on a write ends once its call is recorded, whatever became of the row.
    private static func endLease(_ op: PlatformOp, _ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("UPDATE platform_ops SET leased_until = NULL WHERE id = \(op.id)", logger: logger)
    }

    public func counts() async throws -> PlatformOpCounts {
        var counts = PlatformOpCounts()
        for try await (status, count) in try await store.client.query(
            "SELECT status, count(*) FROM platform_ops WHERE corp_id = \(corpID) GROUP BY status", logger: logger
        ).decode((String, Int).self) {
            switch status {
            case "pending": counts.pending = count
            case "done": counts.done = count
            default: counts.failed += count
            }
        }
        return counts
    }
}
