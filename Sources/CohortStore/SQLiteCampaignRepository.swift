import CohortCore
import Foundation
import GRDB

/// The campaign ledger of one corp on SQLite.
public struct SQLiteCampaignRepository: CampaignRepository {
    let writer: any DatabaseWriter
    public let corpID: String

    public init(database: CohortDatabase, corpID: String) {
        self.writer = database.writer
        self.corpID = corpID
    }


    // MARK: Planning inputs

    public func candidates(_ externalUserIDs: [String]) async throws -> [String: CampaignCandidate] {
        let corpID = self.corpID
        return try await writer.read { db in
            var result: [String: CampaignCandidate] = [:]
            result.reserveCapacity(externalUserIDs.count)
            let staffNames = try Dictionary(
                Row.fetchAll(db, sql: "SELECT userid, name FROM staff WHERE corp_id = ?", arguments: [corpID]).map {
                    (($0[0] as String), ($0[1] as String?))
                }, uniquingKeysWith: { a, _ in a })
            var tagNames: [String: TagName] = [:]
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT t.tag_id, g.name, t.name FROM tags t JOIN tag_groups g ON g.corp_id = t.corp_id AND g.group_id = t.group_id
                    WHERE t.corp_id = ? AND t.deleted_at IS NULL
                    """, arguments: [corpID])
            {
                tagNames[row[0]] = TagName(group: row[1], name: row[2])
            }
            func candidate(
                _ id: String, contact: Row, relations: [Row], tags relationTags: [(userid: String, tagID: String)], last: [String: Int64]
            ) -> CampaignCandidate {
                var tags: [String: [TagName]] = [:]
                for (userid, tagID) in relationTags {
                    if let tag = tagNames[tagID] { tags[userid, default: []].append(tag) }
                }
                let relations = relations.map { row -> CandidateRelation in
                    let userid: String = row["userid"]
                    return CandidateRelation(
                        userID: userid, staffName: staffNames[userid] ?? nil, remark: row["remark"], description: row["description"],
                        createTime: row["createtime"], lastInteraction: last[userid], tags: tags[userid] ?? [])
                }
                return CampaignCandidate(
                    externalUserID: id, name: contact["name"], gender: contact["gender"], type: contact["type"], corpName: contact["corp_name"],
                    relations: relations, grade: ContactGrade(externalUserID: id))
            }
            // Many contacts: one pass over each table beats a query per contact by far.
            if externalUserIDs.count > 2_000 {
                let wanted = Set(externalUserIDs)
                let contactRows = try Row.fetchCursor(
                    db, sql: "SELECT external_userid, name, gender, type, corp_name FROM contacts WHERE corp_id = ?", arguments: [corpID])
                while let row = try contactRows.next() {
                    let id: String = row[0]
                    guard wanted.contains(id) else { continue }
                    result[id] = CampaignCandidate(
                        externalUserID: id, name: row[1], gender: row[2], type: row[3], corpName: row[4], relations: [],
                        grade: ContactGrade(externalUserID: id))
                }
                var last: [String: [String: Int64]] = [:]
                let lastRows = try Row.fetchCursor(
                    db,
                    sql: """
                        SELECT s.external_userid, i.staff, max(i.occurred_at) FROM contact_seq s JOIN interactions i ON i.contact_seq = s.seq
                        WHERE s.corp_id = ? AND i.staff IS NOT NULL GROUP BY s.seq, i.staff
                        """, arguments: [corpID])
                while let row = try lastRows.next() {
                    let id: String = row[0]
                    if result[id] != nil { last[id, default: [:]][row[1]] = row[2] }
                }
                // Relations and their tags in the same key order, merged in one pass each.
                let relationRows = try Row.fetchCursor(
                    db,
                    sql: """
                        SELECT external_userid, userid, remark, description, createtime FROM relations
                        WHERE corp_id = ? AND ended_at IS NULL ORDER BY external_userid, userid
                        """, arguments: [corpID])
                let tagRows = try Row.fetchCursor(
                    db, sql: "SELECT external_userid, userid, tag_id FROM relation_tags WHERE corp_id = ? ORDER BY external_userid, userid, tag_id",
                    arguments: [corpID])
                var pendingTag: (id: String, userid: String, tag: String)?
                func nextTag() throws -> (id: String, userid: String, tag: String)? {
                    guard let row = try tagRows.next() else { return nil }
                    return (row[0], row[1], row[2])
                }
                pendingTag = try nextTag()
                while let row = try relationRows.next() {
                    let id: String = row[0]
                    let userid: String = row[1]
                    var tags: [TagName] = []
                    // Skip tags of relations before this one (ended relations, or contacts not wanted).
                    // SQLite orders by bytes: compare the same way.
                    func before(_ tag: (id: String, userid: String, tag: String)) -> Bool {
                        tag.id == id ? tag.userid.utf8.lexicographicallyPrecedes(userid.utf8) : tag.id.utf8.lexicographicallyPrecedes(id.utf8)
                    }
                    while let tag = pendingTag, before(tag) { pendingTag = try nextTag() }
                    while let tag = pendingTag, tag.id == id, tag.userid == userid {
                        if let name = tagNames[tag.tag] { tags.append(name) }
                        pendingTag = try nextTag()
                    }
                    guard result[id] != nil else { continue }
                    result[id]!.relations.append(
                        CandidateRelation(
                            userID: userid, staffName: staffNames[userid] ?? nil, remark: row[2], description: row[3], createTime: row[4],
                            lastInteraction: last[id]?[userid], tags: tags))
                }
                return result
            }
            let contactStatement = try db.cachedStatement(
                sql: "SELECT name, gender, type, corp_name FROM contacts WHERE corp_id = ? AND external_userid = ?")
            let relationStatement = try db.cachedStatement(
                sql: """
                    SELECT userid, remark, description, createtime FROM relations
                    WHERE corp_id = ? AND external_userid = ? AND ended_at IS NULL ORDER BY userid
                    """)
            let tagStatement = try db.cachedStatement(
                sql: "SELECT userid, tag_id FROM relation_tags WHERE corp_id = ? AND external_userid = ?")
            let interactionStatement = try db.cachedStatement(
                sql: """
                    SELECT i.staff, max(i.occurred_at) FROM contact_seq s JOIN interactions i ON i.contact_seq = s.seq
                    WHERE s.corp_id = ? AND s.external_userid = ? AND i.staff IS NOT NULL GROUP BY i.staff
                    """)
            for id in externalUserIDs {
                guard let contact = try Row.fetchOne(contactStatement, arguments: [corpID, id]) else { continue }
                let tags = try Row.fetchAll(tagStatement, arguments: [corpID, id]).map { (userid: $0[0] as String, tagID: $0[1] as String) }
                var last: [String: Int64] = [:]
                for row in try Row.fetchAll(interactionStatement, arguments: [corpID, id]) { last[row[0]] = row[1] }
                result[id] = candidate(
                    id, contact: contact, relations: try Row.fetchAll(relationStatement, arguments: [corpID, id]), tags: tags, last: last)
            }
            return result
        }
    }

    public func optOuts() async throws -> [String: String] {
        let corpID = self.corpID
        return try await writer.read { db in
            var result: [String: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT external_userid, reason, source FROM opt_outs WHERE corp_id = ?", arguments: [corpID]) {
                result[row[0]] = "\(row[1] as String) (\(row[2] as String))"
            }
            return result
        }
    }

    public func optOutReason(of externalUserID: String) async throws -> String? {
        let corpID = self.corpID
        return try await writer.read { db in
            try Row.fetchOne(
                db, sql: "SELECT reason, source FROM opt_outs WHERE corp_id = ? AND external_userid = ?", arguments: [corpID, externalUserID]
            ).map { "\($0[0] as String) (\($0[1] as String))" }
        }
    }

    public func setOptOut(_ externalUserID: String, reason: String, source: String, at: Int64) async throws {
        let corpID = self.corpID
        try await writer.write { db in
            try db.execute(
                sql: """
                    INSERT INTO opt_outs (corp_id, external_userid, reason, source, created_at) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (corp_id, external_userid) DO UPDATE SET reason = excluded.reason, source = excluded.source
                    """, arguments: [corpID, externalUserID, reason, source, at])
            // Nobody on the list is ever sent to: planned messages not yet handed to the platform are withdrawn.
            try db.execute(
                sql: """
                    UPDATE campaign_recipients SET state = 'excluded', reason = 'opted_out', detail = ?, updated_at = ?
                    WHERE corp_id = ? AND external_userid = ? AND state = 'planned'
                    """, arguments: ["\(reason) (\(source))", at, corpID, externalUserID])
        }
    }

    public func removeOptOut(_ externalUserID: String) async throws -> Bool {
        let corpID = self.corpID
        return try await writer.write { db in
            try db.execute(sql: "DELETE FROM opt_outs WHERE corp_id = ? AND external_userid = ?", arguments: [corpID, externalUserID])
            return db.changesCount > 0
        }
    }

    public func sendHistory(of contacts: [String], excluding campaign: String, since: Int64) async throws -> [String: [SendRecord]] {
        let corpID = self.corpID
        let wanted = Set(contacts)
        return try await writer.read { db in
            var history: [String: [SendRecord]] = [:]
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT r.external_userid, r.state, coalesce(r.send_time, t.created_at, c.dispatch_at), c.name, c.priority
                    FROM campaign_recipients r
                    JOIN campaigns c ON c.corp_id = r.corp_id AND c.name = r.campaign
                    LEFT JOIN campaign_tasks t ON t.id = r.task_id
                    WHERE r.corp_id = ? AND r.campaign <> ? AND r.state IN ('planned', 'queued', 'task_created', 'sent')
                        AND coalesce(r.send_time, t.created_at, c.dispatch_at) >= ?
                    """, arguments: [corpID, campaign, since])
            while let row = try rows.next() {
                let id: String = row[0]
                guard wanted.contains(id) else { continue }
                let state: String = row[1]
                history[id, default: []].append(SendRecord(at: row[2], campaign: row[3], priority: row[4], pending: state == "planned"))
            }
            return history
        }
    }

    // MARK: Campaigns

    private static func campaign(_ row: Row) -> CampaignRecord {
        CampaignRecord(
            name: row["name"], state: CampaignState(rawValue: row["state"]) ?? .paused, priority: row["priority"],
            dispatchAt: row["dispatch_at"], configVersion: row["config_version"], startedAt: row["started_at"],
            pausedReason: row["paused_reason"], finishedAt: row["finished_at"])
    }

    public func campaign(named name: String) async throws -> CampaignRecord? {
        let corpID = self.corpID
        return try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM campaigns WHERE corp_id = ? AND name = ?", arguments: [corpID, name]).map(Self.campaign)
        }
    }

    public func campaigns() async throws -> [CampaignRecord] {
        let corpID = self.corpID
        return try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM campaigns WHERE corp_id = ? ORDER BY started_at, name", arguments: [corpID])
                .map(Self.campaign)
        }
    }

    public func start(_ plan: CampaignPlan, priority: Int, configVersion: String, state: CampaignState, at: Int64) async throws {
        let corpID = self.corpID
        try await writer.write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM campaigns WHERE corp_id = ? AND name = ?", arguments: [corpID, plan.campaign]) == true {
                throw CampaignAlreadyStarted(campaign: plan.campaign)
            }
            let duplicates = plan.exclusions.count { $0.reason == .duplicateOwner }
            try db.execute(
                sql: """
                    INSERT INTO campaigns (corp_id, name, state, priority, dispatch_at, config_version, started_at, duplicate_owners, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [corpID, plan.campaign, state.rawValue, priority, plan.dispatchAt, configVersion, at, duplicates, at])
            let insertTask = try db.cachedStatement(
                sql: "INSERT INTO campaign_tasks (corp_id, campaign, sender, text, state) VALUES (?, ?, ?, ?, 'pending')")
            var variants: [String: Int] = [:]
            for recipient in plan.recipients { variants[recipient.externalUserID] = recipient.variant }
            let insertRecipient = try db.cachedStatement(
                sql: """
                    INSERT INTO campaign_recipients (corp_id, campaign, external_userid, state, sender, task_id, variant, updated_at)
                    VALUES (?, ?, ?, 'planned', ?, ?, ?, ?)
                    """)
            for task in plan.tasks {
                try insertTask.execute(arguments: [corpID, plan.campaign, task.sender, task.text])
                let taskID = db.lastInsertedRowID
                for id in task.recipients {
                    try insertRecipient.execute(arguments: [corpID, plan.campaign, id, task.sender, taskID, variants[id], at])
                }
            }
            let insertExclusion = try db.cachedStatement(
                sql: """
                    INSERT INTO campaign_recipients (corp_id, campaign, external_userid, state, reason, detail, updated_at)
                    VALUES (?, ?, ?, 'excluded', ?, ?, ?)
                    """)
            for exclusion in plan.exclusions where exclusion.reason != .duplicateOwner {
                try insertExclusion.execute(
                    arguments: [corpID, plan.campaign, exclusion.externalUserID, exclusion.reason.rawValue, exclusion.detail, at])
            }
            let bump = try db.cachedStatement(
                sql: """
                    UPDATE campaign_recipients SET state = 'excluded', reason = 'frequency_cap', detail = ?, updated_at = ?
                    WHERE corp_id = ? AND campaign = ? AND external_userid = ? AND state = 'planned'
                    """)
            for bumped in plan.bumped {
                try bump.execute(
                    arguments: ["gave way to higher-priority campaign \(plan.campaign)", at, corpID, bumped.campaign, bumped.externalUserID])
            }
        }
    }

    @discardableResult
    public func setState(_ name: String, _ state: CampaignState, from: Set<CampaignState>, reason: String?, at: Int64) async throws
        -> Bool
    {
        let corpID = self.corpID
        let states = from.map(\.rawValue).sorted()
        return try await writer.write { db in
            let finished: Int64? = state == .completed || state == .cancelled ? at : nil
            let arguments: StatementArguments = [state.rawValue, reason, finished, at, corpID, name]
            try db.execute(
                sql: """
                    UPDATE campaigns SET state = ?, paused_reason = ?, finished_at = coalesce(?, finished_at), updated_at = ?
                    WHERE corp_id = ? AND name = ? AND state IN (\(states.map { _ in "?" }.joined(separator: ",")))
                    """, arguments: arguments + StatementArguments(states))
            return db.changesCount > 0
        }
    }

    // MARK: Tasks

    private static let taskColumns = """
        t.id, t.campaign, t.sender, t.text, t.state, t.attempts, t.call_started_at, t.msgid, t.created_at, t.member_status,
        t.reminders, t.error
        """

    private static func tasks(
        _ db: Database, where condition: String, arguments: StatementArguments, recipientStates: [String], limit: Int? = nil
    ) throws -> [CampaignTaskRecord] {
        let rows = try Row.fetchAll(
            db, sql: "SELECT \(taskColumns) FROM campaign_tasks t WHERE \(condition) ORDER BY t.id\(limit.map { " LIMIT \($0)" } ?? "")",
            arguments: arguments)
        let states = recipientStates.map { "'\($0)'" }.joined(separator: ", ")
        let members = try db.cachedStatement(
            sql: "SELECT external_userid FROM campaign_recipients WHERE task_id = ? AND state IN (\(states)) ORDER BY external_userid")
        return try rows.map { row in
            let id: Int64 = row[0]
            let reminders = (row[10] as String).split(separator: ",").compactMap { Int64($0) }
            return CampaignTaskRecord(
                id: id, campaign: row[1], sender: row[2], text: row[3], recipients: try String.fetchAll(members, arguments: [id]),
                state: TaskState(rawValue: row[4]) ?? .failed, attempts: row[5], callStartedAt: row[6], msgid: row[7], createdAt: row[8],
                memberStatus: row[9], reminders: reminders, error: row[11])
        }
    }

    public func dueTasks(campaign: String?, now: Int64, limit: Int) async throws -> [CampaignTaskRecord] {
        let corpID = self.corpID
        return try await writer.read { db in
            try Self.tasks(
                db,
                where: """
                    t.corp_id = ? AND t.state = 'pending' AND (t.next_attempt_at IS NULL OR t.next_attempt_at <= ?)
                        AND (? IS NULL OR t.campaign = ?)
                        AND t.campaign IN (SELECT name FROM campaigns WHERE corp_id = t.corp_id AND state = 'dispatching')
                    """, arguments: [corpID, now, campaign, campaign], recipientStates: ["planned"], limit: limit)
        }
    }

    public func uncertainTasks(campaign: String?) async throws -> [CampaignTaskRecord] {
        let corpID = self.corpID
        return try await writer.read { db in
            try Self.tasks(
                db, where: "t.corp_id = ? AND t.state = 'calling' AND (? IS NULL OR t.campaign = ?)", arguments: [corpID, campaign, campaign],
                recipientStates: ["queued"])
        }
    }

    public func tasks(campaign: String) async throws -> [CampaignTaskRecord] {
        let corpID = self.corpID
        return try await writer.read { db in
            try Self.tasks(
                db, where: "t.corp_id = ? AND t.campaign = ?", arguments: [corpID, campaign],
                recipientStates: RecipientState.allCases.filter { $0 != .excluded }.map(\.rawValue))
        }
    }

    public func markCalling(_ task: Int64, at: Int64) async throws -> [String]? {
        try await writer.write { db in
            // A claim: only a pending task that is due, of a campaign still dispatching, moves, so
            // two dispatchers never call the same task, and one working through a list read
            // before a pause or a retry's backoff does not call it either.
            try db.execute(
                sql: """
                    UPDATE campaign_tasks SET state = 'calling', call_started_at = ?, attempts = attempts + 1
                    WHERE id = ? AND state = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
                        AND campaign IN (SELECT name FROM campaigns WHERE corp_id = campaign_tasks.corp_id AND state = 'dispatching')
                    """,
                arguments: [at, task, at])
            guard db.changesCount > 0 else { return nil }
            try db.execute(
                sql: "UPDATE campaign_recipients SET state = 'queued', updated_at = ? WHERE task_id = ? AND state = 'planned'",
                arguments: [at, task])
            return try String.fetchAll(
                db, sql: "SELECT external_userid FROM campaign_recipients WHERE task_id = ? AND state = 'queued' ORDER BY external_userid",
                arguments: [task])
        }
    }

    public func markCreated(_ task: Int64, msgid: String, rejected: [String], at: Int64) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE campaign_tasks SET state = 'created', msgid = ?, created_at = ?, error = NULL WHERE id = ?",
                arguments: [msgid, at, task])
            let reject = try db.cachedStatement(
                sql: """
                    UPDATE campaign_recipients SET state = 'failed', reason = 'rejected', detail = 'in fail_list of add_msg_template',
                        updated_at = ? WHERE task_id = ? AND external_userid = ? AND state = 'queued'
                    """)
            for id in rejected { try reject.execute(arguments: [at, task, id]) }
            try db.execute(
                sql: "UPDATE campaign_recipients SET state = 'task_created', updated_at = ? WHERE task_id = ? AND state = 'queued'",
                arguments: [at, task])
        }
    }

    public func markRetry(_ task: Int64, error: String?, nextAttemptAt: Int64) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE campaign_tasks SET state = 'pending', next_attempt_at = ?, error = ? WHERE id = ?",
                arguments: [nextAttemptAt, error, task])
            try db.execute(
                sql: "UPDATE campaign_recipients SET state = 'planned' WHERE task_id = ? AND state = 'queued'", arguments: [task])
        }
    }

    public func markFailed(_ task: Int64, error: String, at: Int64) async throws {
        try await writer.write { db in
            try db.execute(sql: "UPDATE campaign_tasks SET state = 'failed', error = ?, final = 1 WHERE id = ?", arguments: [error, task])
            try db.execute(
                sql: """
                    UPDATE campaign_recipients SET state = 'failed', reason = 'platform_error', detail = ?, updated_at = ?
                    WHERE task_id = ? AND state IN ('planned', 'queued')
                    """, arguments: [error, at, task])
        }
    }

    public func knownMessageIDs(since: Int64) async throws -> Set<String> {
        let corpID = self.corpID
        return try await writer.read { db in
            Set(try String.fetchAll(
                db, sql: "SELECT msgid FROM campaign_tasks WHERE corp_id = ? AND msgid IS NOT NULL AND created_at >= ?",
                arguments: [corpID, since]))
        }
    }

    public func undispatchedCount(campaign: String) async throws -> Int {
        let corpID = self.corpID
        return try await writer.read { db in
            try Int.fetchOne(
                db, sql: "SELECT count(*) FROM campaign_tasks WHERE corp_id = ? AND campaign = ? AND state IN ('pending', 'calling')",
                arguments: [corpID, campaign]) ?? 0
        }
    }

    // MARK: Results

    public func openTasks(since: Int64) async throws -> [CampaignTaskRecord] {
        let corpID = self.corpID
        return try await writer.read { db in
            try Self.tasks(
                db, where: "t.corp_id = ? AND t.state = 'created' AND t.final = 0 AND t.created_at >= ?", arguments: [corpID, since],
                recipientStates: ["task_created"])
        }
    }

    public func recordMemberStatus(_ task: Int64, status: Int) async throws {
        try await writer.write { db in
            try db.execute(sql: "UPDATE campaign_tasks SET member_status = ? WHERE id = ?", arguments: [status, task])
        }
    }

    public func recordResults(_ task: Int64, _ results: [RecipientResult], final: Bool, at: Int64) async throws {
        try await writer.write { db in
            let update = try db.cachedStatement(
                sql: """
                    UPDATE campaign_recipients SET state = ?, reason = ?, platform_status = ?, send_time = ?, updated_at = ?
                    WHERE task_id = ? AND external_userid = ? AND state IN ('task_created', 'sent', 'failed')
                    """)
            for result in results {
                let (state, reason) = result.outcome
                try update.execute(arguments: [state.rawValue, reason, result.status, result.sendTime, at, task, result.externalUserID])
            }
            if final {
                try db.execute(sql: "UPDATE campaign_tasks SET final = 1 WHERE id = ?", arguments: [task])
                try db.execute(
                    sql: """
                        UPDATE campaign_recipients SET state = 'failed', reason = 'not_sent', updated_at = ?
                        WHERE task_id = ? AND state = 'task_created'
                        """, arguments: [at, task])
            }
        }
    }

    public func recordReminder(_ task: Int64, at: Int64) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE campaign_tasks SET reminders = CASE reminders WHEN '' THEN ? ELSE reminders || ',' || ? END WHERE id = ?",
                arguments: [String(at), String(at), task])
        }
    }

    public func cancel(_ name: String, at: Int64) async throws -> [CampaignTaskRecord]? {
        let corpID = self.corpID
        return try await writer.write { db in
            try db.execute(
                sql: """
                    UPDATE campaigns SET state = 'cancelled', finished_at = ?, updated_at = ?
                    WHERE corp_id = ? AND name = ? AND state NOT IN ('cancelled', 'completed')
                    """,
                arguments: [at, at, corpID, name])
            guard db.changesCount == 1 else { return nil }
            try db.execute(
                sql: """
                    UPDATE campaign_recipients SET state = 'excluded', reason = 'cancelled', detail = 'the campaign was cancelled', updated_at = ?
                    WHERE corp_id = ? AND campaign = ? AND state = 'planned'
                    """, arguments: [at, corpID, name])
            try db.execute(
                sql: "UPDATE campaign_tasks SET state = 'cancelled', final = 1 WHERE corp_id = ? AND campaign = ? AND state = 'pending'",
                arguments: [corpID, name])
            return try Self.tasks(
                db, where: "t.corp_id = ? AND t.campaign = ? AND t.state = 'created' AND t.final = 0 AND coalesce(t.member_status, 0) <> 2",
                arguments: [corpID, name], recipientStates: ["task_created"])
        }
    }

    public func skipRemaining(_ name: String, reason: String, detail: String, at: Int64) async throws {
        let corpID = self.corpID
        try await writer.write { db in
            try db.execute(
                sql: """
                    UPDATE campaign_recipients SET state = 'excluded', reason = ?, detail = ?, updated_at = ?
                    WHERE corp_id = ? AND campaign = ? AND state = 'planned'
                    """, arguments: [reason, detail, at, corpID, name])
            try db.execute(
                sql: "UPDATE campaign_tasks SET state = 'cancelled', final = 1 WHERE corp_id = ? AND campaign = ? AND state = 'pending'",
                arguments: [corpID, name])
        }
    }

    // MARK: Reports

    public func report(_ name: String) async throws -> CampaignReport? {
        let corpID = self.corpID
        return try await writer.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM campaigns WHERE corp_id = ? AND name = ?", arguments: [corpID, name])
            else { return nil }
            let campaign = Self.campaign(row)
            var report = CampaignReport(campaign: name, state: campaign.state, pausedReason: campaign.pausedReason)
            report.duplicateOwners = row["duplicate_owners"]
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT state, coalesce(reason, ''), count(*) FROM campaign_recipients WHERE corp_id = ? AND campaign = ?
                    GROUP BY state, reason
                    """, arguments: [corpID, name])
            {
                report.count(recipients: row[2], state: RecipientState(rawValue: row[0]) ?? .failed, reason: row[1])
            }
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT state, coalesce(member_status, 0), count(*) FROM campaign_tasks WHERE corp_id = ? AND campaign = ?
                    GROUP BY state, coalesce(member_status, 0)
                    """, arguments: [corpID, name])
            {
                report.count(tasks: row[2], state: TaskState(rawValue: row[0]), memberStatus: row[1])
            }
            return report
        }
    }

    public func recipients(_ name: String) async throws -> [CampaignRecipientRow] {
        let corpID = self.corpID
        return try await writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT r.external_userid, r.state, r.sender, r.reason, r.detail, t.msgid, r.platform_status
                    FROM campaign_recipients r LEFT JOIN campaign_tasks t ON t.id = r.task_id
                    WHERE r.corp_id = ? AND r.campaign = ? ORDER BY r.external_userid
                    """, arguments: [corpID, name]
            ).map { row in
                CampaignRecipientRow(
                    externalUserID: row[0], state: RecipientState(rawValue: row[1]) ?? .failed, sender: row[2], reason: row[3],
                    detail: row[4], msgid: row[5], platformStatus: row[6])
            }
        }
    }
}
