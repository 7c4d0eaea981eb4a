import CohortCore
import Foundation
import Logging
import PostgresNIO

/// The campaign ledger of one corp on PostgreSQL, shared by every instance.
///
/// It keeps the ledger's invariants as `SQLiteCampaignRepository` does, and two more that only
/// matter with several dispatchers:
/// - A task is claimed with `FOR UPDATE SKIP LOCKED` and a state check in one statement, so two
///   instances never both call it, and one never waits on the other's claim.
/// - A call in flight (`calling`) names the instance that claimed it. It is uncertain, and may be
///   resolved against the platform, only when that instance is this one (a pass starts with no
///   call of its own in flight) or is gone: each instance holds its presence lock
///   (``PostgresInstancePresence``) while it runs, and a lock that can be taken means its
///   holder's connection closed. Another instance's call is also left alone until
///   ``abandonAfter`` has passed since it started: a holder whose session dropped while its
///   process lives on may still be making that call, and its answer must be on the platform
///   before anyone asks the platform about it.
/// - Resolving takes the call over (its claim names the resolver), and every outcome is recorded
///   only by the instance that holds the claim, so two survivors never both re-send a call.
public struct PostgresCampaignRepository: CampaignRepository {
    private let store: PostgresStore
    public let corpID: String
    /// This instance, as ``PostgresInstancePresence`` names it.
    public let instance: String
    /// Seconds after its start before another instance's call in flight may be resolved: longer
    /// than a call with its waits for the shared call budget and its HTTP timeout takes.
    public var abandonAfter: Int64 = 120

    public init(store: PostgresStore, corpID: String, instance: String) {
        self.store = store
        self.corpID = corpID
        self.instance = instance
    }

    private var logger: Logger { store.logger }

    // MARK: Planning inputs

    public func candidates(_ externalUserIDs: [String]) async throws -> [String: CampaignCandidate] {
        guard !externalUserIDs.isEmpty else { return [:] }
        let corpID = self.corpID
        // One snapshot: a sync committing between the queries cannot pair one state's
        // contacts with another's relations.
        return try await store.snapshot { connection in try await candidates(externalUserIDs, corpID: corpID, connection) }
    }

    private func candidates(_ ids: [String], corpID: String, _ connection: PostgresConnection) async throws -> [String: CampaignCandidate] {
        var staffNames: [String: String?] = [:]
        for try await (userid, name) in try await connection.query(
            "SELECT userid, name FROM staff WHERE corp_id = \(corpID)", logger: logger
        ).decode((String, String?).self) {
            staffNames[userid] = name
        }
        var tagNames: [String: TagName] = [:]
        for try await (tagID, group, name) in try await connection.query(
            """
            SELECT t.tag_id, g.name, t.name FROM tags t JOIN tag_groups g ON g.corp_id = t.corp_id AND g.group_id = t.group_id
            WHERE t.corp_id = \(corpID) AND t.deleted_at IS NULL
            """, logger: logger
        ).decode((String, String, String).self) {
            tagNames[tagID] = TagName(group: group, name: name)
        }
        var result: [String: CampaignCandidate] = [:]
        result.reserveCapacity(ids.count)
        for try await (id, name, gender, type, corpName) in try await connection.query(
            """
            SELECT external_userid, name, gender, type, corp_name FROM contacts
            WHERE corp_id = \(corpID) AND external_userid = ANY(\(ids))
            """, logger: logger
        ).decode((String, String?, Int?, Int?, String?).self) {
            result[id] = CampaignCandidate(
                externalUserID: id, name: name, gender: gender, type: type, corpName: corpName, relations: [],
                grade: ContactGrade(externalUserID: id))
        }
        var last: [String: [String: Int64]] = [:]
        for try await (id, staff, at) in try await connection.query(
            """
            SELECT s.external_userid, i.staff, max(i.occurred_at) FROM contact_seq s JOIN interactions i ON i.contact_seq = s.seq
            WHERE s.corp_id = \(corpID) AND s.external_userid = ANY(\(ids)) AND i.staff IS NOT NULL GROUP BY s.external_userid, i.staff
            """, logger: logger
        ).decode((String, String, Int64).self) {
            last[id, default: [:]][staff] = at
        }
        var tags: [RelationKey: [TagName]] = [:]
        for try await (id, userid, tagID) in try await connection.query(
            """
            SELECT external_userid, userid, tag_id FROM relation_tags
            WHERE corp_id = \(corpID) AND external_userid = ANY(\(ids)) ORDER BY external_userid, userid, tag_id
            """, logger: logger
        ).decode((String, String, String).self) {
            if let name = tagNames[tagID] { tags[RelationKey(externalUserID: id, userID: userid), default: []].append(name) }
        }
        for try await (id, userid, remark, description, createTime) in try await connection.query(
            """
            SELECT external_userid, userid, remark, description, createtime FROM relations
            WHERE corp_id = \(corpID) AND external_userid = ANY(\(ids)) AND ended_at IS NULL ORDER BY external_userid, userid
            """, logger: logger
        ).decode((String, String, String?, String?, Int64?).self) {
            guard result[id] != nil else { continue }
            result[id]!.relations.append(
                CandidateRelation(
                    userID: userid, staffName: staffNames[userid] ?? nil, remark: remark, description: description, createTime: createTime,
                    lastInteraction: last[id]?[userid], tags: tags[RelationKey(externalUserID: id, userID: userid)] ?? []))
        }
        return result
    }

    public func optOuts() async throws -> [String: String] {
        var result: [String: String] = [:]
        for try await (id, reason, source) in try await store.client.query(
            "SELECT external_userid, reason, source FROM opt_outs WHERE corp_id = \(corpID)", logger: logger
        ).decode((String, String, String).self) {
            result[id] = "\(reason) (\(source))"
        }
        return result
    }

    public func optOutReason(of externalUserID: String) async throws -> String? {
        for try await (reason, source) in try await store.client.query(
            "SELECT reason, source FROM opt_outs WHERE corp_id = \(corpID) AND external_userid = \(externalUserID)", logger: logger
        ).decode((String, String).self) {
            return "\(reason) (\(source))"
        }
        return nil
    }

    public func setOptOut(_ externalUserID: String, reason: String, source: String, at: Int64) async throws {
        let corpID = self.corpID
        let logger = self.logger
        try await store.transaction { connection in
            try await connection.query(
                """
                INSERT INTO opt_outs (corp_id, external_userid, reason, source, created_at)
                VALUES (\(corpID), \(externalUserID), \(reason), \(source), \(at))
                ON CONFLICT (corp_id, external_userid) DO UPDATE SET reason = excluded.reason, source = excluded.source
                """, logger: logger)
            // Nobody on the list is ever sent to: planned messages not yet handed to the platform are withdrawn.
            try await connection.query(
                """
                UPDATE campaign_recipients SET state = 'excluded', reason = 'opted_out', detail = \("\(reason) (\(source))"), updated_at = \(at)
                WHERE corp_id = \(corpID) AND external_userid = \(externalUserID) AND state = 'planned'
                """, logger: logger)
        }
    }

    public func removeOptOut(_ externalUserID: String) async throws -> Bool {
        try await count(
            "DELETE FROM opt_outs WHERE corp_id = \(corpID) AND external_userid = \(externalUserID) RETURNING 1") > 0
    }

    public func sendHistory(of contacts: [String], excluding campaign: String, since: Int64) async throws -> [String: [SendRecord]] {
        guard !contacts.isEmpty else { return [:] }
        var history: [String: [SendRecord]] = [:]
        for try await (id, state, at, name, priority) in try await store.client.query(
            """
            SELECT r.external_userid, r.state, coalesce(r.send_time, t.created_at, c.dispatch_at), c.name, c.priority
            FROM campaign_recipients r
            JOIN campaigns c ON c.corp_id = r.corp_id AND c.name = r.campaign
            LEFT JOIN campaign_tasks t ON t.id = r.task_id
            WHERE r.corp_id = \(corpID) AND r.campaign <> \(campaign) AND r.external_userid = ANY(\(contacts))
                AND r.state IN ('planned', 'queued', 'task_created', 'sent')
                AND coalesce(r.send_time, t.created_at, c.dispatch_at) >= \(since)
            """, logger: logger
        ).decode((String, String, Int64, String, Int).self) {
            history[id, default: []].append(SendRecord(at: at, campaign: name, priority: priority, pending: state == "planned"))
        }
        return history
    }

    // MARK: Campaigns

    private static let campaignColumns = "name, state, priority, dispatch_at, config_version, started_at, paused_reason, finished_at, duplicate_owners"
    private typealias CampaignRow = (String, String, Int, Int64, String, Int64, String?, Int64?, Int)

    private static func campaign(_ row: CampaignRow) -> CampaignRecord {
        CampaignRecord(
            name: row.0, state: CampaignState(rawValue: row.1) ?? .paused, priority: row.2, dispatchAt: row.3, configVersion: row.4,
            startedAt: row.5, pausedReason: row.6, finishedAt: row.7)
    }

    private func campaignRows(_ query: PostgresQuery) async throws -> [CampaignRow] {
        var rows: [CampaignRow] = []
        for try await row in try await store.client.query(query, logger: logger).decode(CampaignRow.self) { rows.append(row) }
        return rows
    }

    public func campaign(named name: String) async throws -> CampaignRecord? {
        try await campaignRows(
            "SELECT \(unescaped: Self.campaignColumns) FROM campaigns WHERE corp_id = \(corpID) AND name = \(name)"
        ).first.map(Self.campaign)
    }

    public func campaigns() async throws -> [CampaignRecord] {
        try await campaignRows(
            "SELECT \(unescaped: Self.campaignColumns) FROM campaigns WHERE corp_id = \(corpID) ORDER BY started_at, name"
        ).map(Self.campaign)
    }

    public func start(_ plan: CampaignPlan, priority: Int, configVersion: String, state: CampaignState, at: Int64) async throws {
        let corpID = self.corpID
        let logger = self.logger
        try await store.transaction { connection in
            let duplicates = plan.exclusions.count { $0.reason == .duplicateOwner }
            // The insert is the check: a second start, here or on another instance, inserts nothing.
            var inserted = false
            for try await _ in try await connection.query(
                """
                INSERT INTO campaigns (corp_id, name, state, priority, dispatch_at, config_version, started_at, duplicate_owners, updated_at)
                VALUES (\(corpID), \(plan.campaign), \(state.rawValue), \(priority), \(plan.dispatchAt), \(configVersion), \(at),
                    \(duplicates), \(at))
                ON CONFLICT (corp_id, name) DO NOTHING RETURNING 1
                """, logger: logger)
            {
                inserted = true
            }
            guard inserted else { throw CampaignAlreadyStarted(campaign: plan.campaign) }
            var variants: [String: Int] = [:]
            for recipient in plan.recipients { variants[recipient.externalUserID] = recipient.variant }
            var recipientIDs: [String] = []
            var senders: [String] = []
            var taskIDs: [Int64] = []
            // Arrays cannot carry NULL here: -1 stands for "no variant" (variants count from 0).
            var recipientVariants: [Int64] = []
            for task in plan.tasks {
                var taskID: Int64 = 0
                for try await id in try await connection.query(
                    """
                    INSERT INTO campaign_tasks (corp_id, campaign, sender, text, state)
                    VALUES (\(corpID), \(plan.campaign), \(task.sender), \(task.text), 'pending') RETURNING id
                    """, logger: logger
                ).decode(Int64.self) {
                    taskID = id
                }
                for id in task.recipients {
                    recipientIDs.append(id)
                    senders.append(task.sender)
                    taskIDs.append(taskID)
                    recipientVariants.append(Int64(variants[id] ?? -1))
                }
            }
            for range in Self.chunks(recipientIDs.count) {
                try await connection.query(
                    """
                    INSERT INTO campaign_recipients (corp_id, campaign, external_userid, state, sender, task_id, variant, updated_at)
                    SELECT \(corpID), \(plan.campaign), u.id, 'planned', u.sender, u.task, nullif(u.variant, -1), \(at)
                    FROM unnest(\(Array(recipientIDs[range]))::text[], \(Array(senders[range]))::text[], \(Array(taskIDs[range]))::bigint[],
                        \(Array(recipientVariants[range]))::bigint[]) AS u(id, sender, task, variant)
                    """, logger: logger)
            }
            let exclusions = plan.exclusions.filter { $0.reason != .duplicateOwner }
            for range in Self.chunks(exclusions.count) {
                let slice = exclusions[range]
                try await connection.query(
                    """
                    INSERT INTO campaign_recipients (corp_id, campaign, external_userid, state, reason, detail, updated_at)
                    SELECT \(corpID), \(plan.campaign), u.id, 'excluded', u.reason, u.detail, \(at)
                    FROM unnest(\(slice.map(\.externalUserID))::text[], \(slice.map(\.reason.rawValue))::text[],
                        \(slice.map(\.detail))::text[]) AS u(id, reason, detail)
                    """, logger: logger)
            }
            let bumpDetail = "gave way to higher-priority campaign \(plan.campaign)"
            for range in Self.chunks(plan.bumped.count) {
                let slice = plan.bumped[range]
                try await connection.query(
                    """
                    UPDATE campaign_recipients r SET state = 'excluded', reason = 'frequency_cap', detail = \(bumpDetail), updated_at = \(at)
                    FROM unnest(\(slice.map(\.campaign))::text[], \(slice.map(\.externalUserID))::text[]) AS u(campaign, id)
                    WHERE r.corp_id = \(corpID) AND r.campaign = u.campaign AND r.external_userid = u.id AND r.state = 'planned'
                    """, logger: logger)
            }
        }
    }

    /// Index ranges of at most 50,000 rows: one array parameter per column keeps a statement's
    /// size bounded without the 65,535-parameter limit of row-per-parameter inserts.
    private static func chunks(_ count: Int) -> [Range<Int>] {
        stride(from: 0, to: count, by: 50_000).map { $0..<min($0 + 50_000, count) }
    }

    @discardableResult
    public func setState(_ name: String, _ state: CampaignState, from: Set<CampaignState>, reason: String?, at: Int64) async throws
        -> Bool
    {
        let finished: Int64? = state == .completed || state == .cancelled ? at : nil
        return try await count(
            """
            UPDATE campaigns SET state = \(state.rawValue), paused_reason = \(reason), finished_at = coalesce(\(finished), finished_at),
                updated_at = \(at)
            WHERE corp_id = \(corpID) AND name = \(name) AND state = ANY(\(from.map(\.rawValue).sorted()))
            RETURNING 1
            """) > 0
    }

    // MARK: Tasks

    private static let taskColumns = """
        t.id, t.campaign, t.sender, t.text, t.state, t.attempts, t.call_started_at, t.msgid, t.created_at, t.member_status,
        t.reminders, t.error
        """

    /// Tasks matching `condition` (SQL over `t`, binds numbered from $1) with their recipients in `recipientStates`.
    private func tasks(
        _ connection: PostgresConnection, where condition: String, binds: PostgresBindings, recipientStates: [RecipientState],
        limit: Int? = nil
    ) async throws -> [CampaignTaskRecord] {
        let sql = "SELECT \(Self.taskColumns) FROM campaign_tasks t WHERE \(condition) ORDER BY t.id\(limit.map { " LIMIT \($0)" } ?? "")"
        var records: [CampaignTaskRecord] = []
        for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger).decode(
            (Int64, String, String, String, String, Int, Int64?, String?, Int64?, Int?, String, String?).self)
        {
            records.append(
                CampaignTaskRecord(
                    id: row.0, campaign: row.1, sender: row.2, text: row.3, recipients: [], state: TaskState(rawValue: row.4) ?? .failed,
                    attempts: row.5, callStartedAt: row.6, msgid: row.7, createdAt: row.8, memberStatus: row.9,
                    reminders: row.10.split(separator: ",").compactMap { Int64($0) }, error: row.11))
        }
        guard !records.isEmpty else { return [] }
        var members: [Int64: [String]] = [:]
        for try await (task, id) in try await connection.query(
            """
            SELECT task_id, external_userid FROM campaign_recipients
            WHERE task_id = ANY(\(records.map(\.id))) AND state = ANY(\(recipientStates.map(\.rawValue))) ORDER BY task_id, external_userid
            """, logger: logger
        ).decode((Int64, String).self) {
            members[task, default: []].append(id)
        }
        for index in records.indices { records[index].recipients = members[records[index].id] ?? [] }
        return records
    }

    private func tasks(
        where condition: String, binds: PostgresBindings, recipientStates: [RecipientState], limit: Int? = nil
    ) async throws -> [CampaignTaskRecord] {
        try await store.client.withConnection { connection in
            try await tasks(connection, where: condition, binds: binds, recipientStates: recipientStates, limit: limit)
        }
    }

    private static func binds(_ values: [any PostgresDynamicTypeEncodable & Sendable]) -> PostgresBindings {
        var binds = PostgresBindings()
        for value in values { binds.append(value) }
        return binds
    }

    private static func binds(_ values: [any PostgresDynamicTypeEncodable & Sendable], campaign: String?) -> PostgresBindings {
        var binds = binds(values)
        if let campaign { binds.append(campaign) } else { binds.appendNull() }
        return binds
    }

    public func dueTasks(campaign: String?, now: Int64, limit: Int) async throws -> [CampaignTaskRecord] {
        try await tasks(
            where: """
                t.corp_id = $1 AND t.state = 'pending' AND (t.next_attempt_at IS NULL OR t.next_attempt_at <= $2)
                    AND ($3::text IS NULL OR t.campaign = $3)
                    AND t.campaign IN (SELECT name FROM campaigns WHERE corp_id = t.corp_id AND state = 'dispatching')
                """, binds: Self.binds([corpID, now], campaign: campaign), recipientStates: [.planned], limit: limit)
    }

    public func uncertainTasks(campaign: String?) async throws -> [CampaignTaskRecord] {
        // A call in flight is this instance's own (nothing of ours is in flight when a pass
        // starts) or that of an instance whose presence lock can be taken: its connection is
        // gone. The lock is released at once (CASE evaluates in order; AND does not promise to).
        // The abandoned calls are claimed here, in one statement, so two surviving instances
        // never resolve (and re-send) the same one; rows another claim holds are skipped.
        let prefix = store.lockName(PostgresInstancePresence.lockPrefix)
        var binds = Self.binds([corpID, instance, prefix], campaign: campaign)
        // The dispatchers' clock, as `call_started_at` is (instances are NTP-synchronised).
        binds.append(Int64(Date().timeIntervalSince1970) - abandonAfter)
        return try await store.transaction { connection in
            var claimed: [Int64] = []
            for try await id in try await connection.query(
                PostgresQuery(
                    unsafeSQL: """
                        UPDATE campaign_tasks SET claimed_by = $2 WHERE id IN (
                            SELECT t.id FROM campaign_tasks t
                            WHERE t.corp_id = $1 AND t.state = 'calling' AND ($4::text IS NULL OR t.campaign = $4)
                                AND (t.claimed_by IS NULL OR t.claimed_by = $2
                                    OR CASE WHEN coalesce(t.call_started_at, 0) > $5
                                        THEN false
                                        WHEN pg_try_advisory_lock(hashtext($3 || t.claimed_by))
                                        THEN pg_advisory_unlock(hashtext($3 || t.claimed_by)) ELSE false END)
                            FOR UPDATE SKIP LOCKED)
                        RETURNING id
                        """, binds: binds), logger: logger
            ).decode(Int64.self) {
                claimed.append(id)
            }
            guard !claimed.isEmpty else { return [] }
            var ids = PostgresBindings()
            ids.append(claimed)
            return try await tasks(connection, where: "t.id = ANY($1)", binds: ids, recipientStates: [.queued])
        }
    }

    public func tasks(campaign: String) async throws -> [CampaignTaskRecord] {
        try await tasks(
            where: "t.corp_id = $1 AND t.campaign = $2", binds: Self.binds([corpID, campaign]),
            recipientStates: RecipientState.allCases.filter { $0 != .excluded })
    }

    public func markCalling(_ task: Int64, at: Int64) async throws -> [String]? {
        let instance = self.instance
        let logger = self.logger
        return try await store.transaction { connection in
            // The claim: only a pending task moves, and one another dispatcher is claiming right
            // now is skipped rather than waited for.
            let claimed = try await connection.affectedRows(
                """
                UPDATE campaign_tasks SET state = 'calling', call_started_at = \(at), attempts = attempts + 1, claimed_by = \(instance)
                WHERE id = (
                    SELECT t.id FROM campaign_tasks t WHERE t.id = \(task) AND t.state = 'pending'
                        AND (t.next_attempt_at IS NULL OR t.next_attempt_at <= \(at))
                        AND t.campaign IN (SELECT name FROM campaigns WHERE corp_id = t.corp_id AND state = 'dispatching')
                    FOR UPDATE SKIP LOCKED)
                RETURNING 1
                """, logger: logger)
            guard claimed > 0 else { return nil }
            try await connection.query(
                "UPDATE campaign_recipients SET state = 'queued', updated_at = \(at) WHERE task_id = \(task) AND state = 'planned'",
                logger: logger)
            var recipients: [String] = []
            for try await id in try await connection.query(
                "SELECT external_userid FROM campaign_recipients WHERE task_id = \(task) AND state = 'queued' ORDER BY external_userid",
                logger: logger
            ).decode(String.self) {
                recipients.append(id)
            }
            return recipients
        }
    }

    public func markCreated(_ task: Int64, msgid: String, rejected: [String], at: Int64) async throws {
        let logger = self.logger
        let instance = self.instance
        try await store.transaction { connection in
            // Only this instance's own call: a claim lost meanwhile (its presence dropped and
            // another instance took the call over) is that instance's to record.
            let moved = try await connection.affectedRows(
                """
                UPDATE campaign_tasks SET state = 'created', msgid = \(msgid), created_at = \(at), error = NULL
                WHERE id = \(task) AND state = 'calling' AND claimed_by = \(instance) RETURNING 1
                """, logger: logger)
            guard moved > 0 else { return Self.lostClaim(task, logger: logger) }
            if !rejected.isEmpty {
                try await connection.query(
                    """
                    UPDATE campaign_recipients SET state = 'failed', reason = 'rejected', detail = 'in fail_list of add_msg_template',
                        updated_at = \(at) WHERE task_id = \(task) AND external_userid = ANY(\(rejected)) AND state = 'queued'
                    """, logger: logger)
            }
            try await connection.query(
                "UPDATE campaign_recipients SET state = 'task_created', updated_at = \(at) WHERE task_id = \(task) AND state = 'queued'",
                logger: logger)
        }
    }

    public func markRetry(_ task: Int64, error: String?, nextAttemptAt: Int64) async throws {
        let logger = self.logger
        let instance = self.instance
        try await store.transaction { connection in
            let moved = try await connection.affectedRows(
                """
                UPDATE campaign_tasks SET state = 'pending', next_attempt_at = \(nextAttemptAt), error = \(error)
                WHERE id = \(task) AND (state = 'pending' OR (state = 'calling' AND claimed_by = \(instance))) RETURNING 1
                """, logger: logger)
            guard moved > 0 else { return Self.lostClaim(task, logger: logger) }
            try await connection.query(
                "UPDATE campaign_recipients SET state = 'planned' WHERE task_id = \(task) AND state = 'queued'", logger: logger)
        }
    }

    public func markFailed(_ task: Int64, error: String, at: Int64) async throws {
        let logger = self.logger
        let instance = self.instance
        try await store.transaction { connection in
            let moved = try await connection.affectedRows(
                """
                UPDATE campaign_tasks SET state = 'failed', error = \(error), final = 1
                WHERE id = \(task) AND (state = 'pending' OR (state = 'calling' AND claimed_by = \(instance))) RETURNING 1
                """, logger: logger)
            guard moved > 0 else { return Self.lostClaim(task, logger: logger) }
            try await connection.query(
                """
                UPDATE campaign_recipients SET state = 'failed', reason = 'platform_error', detail = \(error), updated_at = \(at)
                WHERE task_id = \(task) AND state IN ('planned', 'queued')
                """, logger: logger)
        }
    }

    public func knownMessageIDs(since: Int64) async throws -> Set<String> {
        var ids: Set<String> = []
        for try await id in try await store.client.query(
            "SELECT msgid FROM campaign_tasks WHERE corp_id = \(corpID) AND msgid IS NOT NULL AND created_at >= \(since)", logger: logger
        ).decode(String.self) {
            ids.insert(id)
        }
        return ids
    }

    public func undispatchedCount(campaign: String) async throws -> Int {
        for try await count in try await store.client.query(
            """
            SELECT count(*) FROM campaign_tasks WHERE corp_id = \(corpID) AND campaign = \(campaign) AND state IN ('pending', 'calling')
            """, logger: logger
        ).decode(Int.self) {
            return count
        }
        return 0
    }

    // MARK: Results

    public func openTasks(since: Int64) async throws -> [CampaignTaskRecord] {
        try await tasks(
            where: "t.corp_id = $1 AND t.state = 'created' AND t.final = 0 AND t.created_at >= $2", binds: Self.binds([corpID, since]),
            recipientStates: [.taskCreated])
    }

    public func recordMemberStatus(_ task: Int64, status: Int) async throws {
        try await store.client.query("UPDATE campaign_tasks SET member_status = \(status) WHERE id = \(task)", logger: logger)
    }

    public func recordResults(_ task: Int64, _ results: [RecipientResult], final: Bool, at: Int64) async throws {
        let logger = self.logger
        try await store.transaction { connection in
            for range in Self.chunks(results.count) {
                let slice = results[range]
                let outcomes = slice.map(\.outcome)
                // -1: no send time (arrays cannot carry NULL here).
                try await connection.query(
                    """
                    UPDATE campaign_recipients r SET state = u.state, reason = nullif(u.reason, ''), platform_status = u.status,
                        send_time = nullif(u.send_time, -1), updated_at = \(at)
                    FROM unnest(\(slice.map(\.externalUserID))::text[], \(outcomes.map(\.state.rawValue))::text[],
                        \(outcomes.map { $0.reason ?? "" })::text[], \(slice.map { Int64($0.status) })::bigint[],
                        \(slice.map { $0.sendTime ?? -1 })::bigint[]) AS u(id, state, reason, status, send_time)
                    WHERE r.task_id = \(task) AND r.external_userid = u.id AND r.state IN ('task_created', 'sent', 'failed')
                    """, logger: logger)
            }
            if final {
                try await connection.query("UPDATE campaign_tasks SET final = 1 WHERE id = \(task)", logger: logger)
                try await connection.query(
                    """
                    UPDATE campaign_recipients SET state = 'failed', reason = 'not_sent', updated_at = \(at)
                    WHERE task_id = \(task) AND state = 'task_created'
                    """, logger: logger)
            }
        }
    }

    public func recordReminder(_ task: Int64, at: Int64) async throws {
        let stamp = String(at)
        try await store.client.query(
            """
            UPDATE campaign_tasks SET reminders = CASE reminders WHEN '' THEN \(stamp) ELSE reminders || ',' || \(stamp) END WHERE id = \(task)
            """, logger: logger)
    }

    public func cancel(_ name: String, at: Int64) async throws -> [CampaignTaskRecord]? {
        let corpID = self.corpID
        let logger = self.logger
        return try await store.transaction { connection in
            let moved = try await connection.affectedRows(
                """
                UPDATE campaigns SET state = 'cancelled', finished_at = \(at), updated_at = \(at)
                WHERE corp_id = \(corpID) AND name = \(name) AND state NOT IN ('cancelled', 'completed') RETURNING 1
                """, logger: logger)
            guard moved == 1 else { return nil }
            try await connection.query(
                """
                UPDATE campaign_recipients SET state = 'excluded', reason = 'cancelled', detail = 'the campaign was cancelled', updated_at = \(at)
                WHERE corp_id = \(corpID) AND campaign = \(name) AND state = 'planned'
                """, logger: logger)
            try await connection.query(
                """
                UPDATE campaign_tasks SET state = 'cancelled', final = 1 WHERE corp_id = \(corpID) AND campaign = \(name) AND state = 'pending'
                """, logger: logger)
            return try await tasks(
                connection, where: "t.corp_id = $1 AND t.campaign = $2 AND t.state = 'created' AND t.final = 0 AND coalesce(t.member_status, 0) <> 2",
                binds: Self.binds([corpID, name]), recipientStates: [.taskCreated])
        }
    }

    public func skipRemaining(_ name: String, reason: String, detail: String, at: Int64) async throws {
        let corpID = self.corpID
        let logger = self.logger
        try await store.transaction { connection in
            try await connection.query(
                """
                UPDATE campaign_recipients SET state = 'excluded', reason = \(reason), detail = \(detail), updated_at = \(at)
                WHERE corp_id = \(corpID) AND campaign = \(name) AND state = 'planned'
                """, logger: logger)
            try await connection.query(
                """
                UPDATE campaign_tasks SET state = 'cancelled', final = 1 WHERE corp_id = \(corpID) AND campaign = \(name) AND state = 'pending'
                """, logger: logger)
        }
    }

    // MARK: Reports

    public func report(_ name: String) async throws -> CampaignReport? {
        guard let row = try await campaignRows(
            "SELECT \(unescaped: Self.campaignColumns) FROM campaigns WHERE corp_id = \(corpID) AND name = \(name)"
        ).first else { return nil }
        let campaign = Self.campaign(row)
        var report = CampaignReport(campaign: name, state: campaign.state, pausedReason: campaign.pausedReason)
        report.duplicateOwners = row.8
        for try await (state, reason, count) in try await store.client.query(
            """
            SELECT state, coalesce(reason, ''), count(*) FROM campaign_recipients WHERE corp_id = \(corpID) AND campaign = \(name)
            GROUP BY state, coalesce(reason, '')
            """, logger: logger
        ).decode((String, String, Int).self) {
            report.count(recipients: count, state: RecipientState(rawValue: state) ?? .failed, reason: reason)
        }
        for try await (state, memberStatus, count) in try await store.client.query(
            """
            SELECT state, coalesce(member_status, 0), count(*) FROM campaign_tasks WHERE corp_id = \(corpID) AND campaign = \(name)
            GROUP BY state, coalesce(member_status, 0)
            """, logger: logger
        ).decode((String, Int, Int).self) {
            report.count(tasks: count, state: TaskState(rawValue: state), memberStatus: memberStatus)
        }
        return report
    }

    public func recipients(_ name: String) async throws -> [CampaignRecipientRow] {
        var rows: [CampaignRecipientRow] = []
        for try await row in try await store.client.query(
            """
            SELECT r.external_userid, r.state, r.sender, r.reason, r.detail, t.msgid, r.platform_status
            FROM campaign_recipients r LEFT JOIN campaign_tasks t ON t.id = r.task_id
            WHERE r.corp_id = \(corpID) AND r.campaign = \(name) ORDER BY r.external_userid
            """, logger: logger
        ).decode((String, String, String?, String?, String?, String?, Int?).self) {
            rows.append(
                CampaignRecipientRow(
                    externalUserID: row.0, state: RecipientState(rawValue: row.1) ?? .failed, sender: row.2, reason: row.3, detail: row.4,
                    msgid: row.5, platformStatus: row.6))
        }
        return rows
    }

    /// A task this instance no longer holds: another instance took its call over (this one's
    /// presence was lost for a while) or claimed it first. Its outcome is the holder's to record.
    private static func lostClaim(_ task: Int64, logger: Logger) {
        logger.warning("campaign task claimed elsewhere; its outcome is left to the claimer", metadata: ["task": "\(task)"])
    }

    private func count(_ query: PostgresQuery) async throws -> Int {
        try await store.client.affectedRows(query, logger: logger)
    }
}

/// This instance's presence, for the work it claims (campaign calls in flight): a session-level
/// advisory lock named after the instance, held on a pinned connection while the instance runs.
/// Another instance that can take the lock knows this one is gone, and its claims with it.
///
/// A session can drop while the process lives on (a database restart, a failover, a network
/// cut): the keeper notices within ``checkEvery`` and takes the lock again on a new connection,
/// so a live instance does not stay "gone". Calls it made meanwhile are safe either way: others
/// resolve a call only ``PostgresCampaignRepository/abandonAfter`` after it started, and only
/// the claim's holder records an outcome.
public struct PostgresInstancePresence: Sendable {
    static let lockPrefix = "instance."

    private let store: PostgresStore
    /// A fresh name per process: a restarted instance is a new one, so its predecessor's claims read as abandoned.
    public let instance: String
    /// How often the pinned session is checked.
    public var checkEvery: Duration = .seconds(5)

    public init(store: PostgresStore, instance: String = UUID().uuidString) {
        self.store = store
        self.instance = instance
    }

    /// Holds the presence for the duration of `body`; `body` starts once it is held.
    public func holding<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        let (held, signal) = AsyncStream<Void>.makeStream()
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await keep(signal) }
            defer { group.cancelAll() }
            var first = held.makeAsyncIterator()
            guard await first.next() != nil else {
                // The keeper could not take the lock even once: its error says why.
                try await group.next()
                throw StoreFailure("could not take this instance's presence lock")
            }
            return try await body()
        }
    }

    /// Takes the lock and keeps it until cancelled, again on a new session whenever one drops.
    private func keep(_ signal: AsyncStream<Void>.Continuation) async throws {
        let name = store.lockName(Self.lockPrefix + instance)
        let logger = store.logger
        let checkEvery = self.checkEvery
        var everHeld = false
        defer { signal.finish() }
        while !Task.isCancelled {
            do {
                try await store.client.withConnection { connection in
                    // Polled, not waited for: a blocking lock call cannot be cancelled, and the
                    // server may hold a dropped session's lock until it notices the drop.
                    while try await !connection.tryAdvisoryLock(name, logger: logger) {
                        try await Task.sleep(for: .milliseconds(500))
                    }
                    everHeld = true
                    signal.yield()
                    do {
                        while true {
                            try await Task.sleep(for: checkEvery)
                            try await connection.checkAlive(logger: logger)
                        }
                    } catch {
                        await connection.releaseAdvisoryLock(name, logger: logger)
                        throw error
                    }
                }
            } catch where Task.isCancelled || error is CancellationError {
                return
            } catch {
                // Before the first hold the caller learns why; after it the instance lives on.
                guard everHeld else { throw error }
                logger.warning(
                    "lost the database session holding this instance's presence; taking it again", metadata: ["error": "\(error)"])
                try await Task.sleep(for: .seconds(1))
            }
        }
    }
}
