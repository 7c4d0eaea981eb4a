import CohortCore
import Foundation
import GRDB

/// The inbox on SQLite. Every `append` is one transaction, so a batch of events from many
/// concurrent requests costs one commit (group commit is done by the caller batching).
public struct SQLiteInboxRepository: InboxRepository {
    private let writer: any DatabaseWriter

    public init(database: CohortDatabase) {
        self.writer = database.writer
    }

    public func append(_ events: [NewInboxEvent]) async throws -> [InboxAppendOutcome] {
        guard !events.isEmpty else { return [] }
        return try await writer.write { db in try Self.insert(events, into: db) }
    }

    /// Inserts events, each once by its dedup key, inside the caller's transaction.
    static func insert(_ events: [NewInboxEvent], into db: Database) throws -> [InboxAppendOutcome] {
        let insert = try db.cachedStatement(
            sql: """
                INSERT INTO inbox (corp_id, dedup_key, received_at, create_time, msg_type, event, change_type,
                    user_id, external_user_id, raw_xml, status, note)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (corp_id, create_time, dedup_key) DO NOTHING
                """)
        let bump = try db.cachedStatement(
            sql: """
                UPDATE inbox SET duplicates = duplicates + 1 WHERE corp_id = ? AND create_time = ? AND dedup_key = ?
                RETURNING id
                """)
        var outcomes: [InboxAppendOutcome] = []
        outcomes.reserveCapacity(events.count)
        for event in events {
            let createTime = event.createTime ?? 0
            try insert.execute(arguments: [
                event.corpID, event.dedupKey, StoreTime.millis(event.receivedAt), createTime,
                event.msgType, event.event, event.changeType, event.userID, event.externalUserID,
                event.rawXML, event.status.rawValue, event.note,
            ])
            if db.changesCount == 1 {
                outcomes.append(.stored(id: db.lastInsertedRowID))
            } else {
                guard let id = try Int64.fetchOne(bump, arguments: [event.corpID, createTime, event.dedupKey]) else {
                    throw StoreError("inbox insert for \(event.dedupKey) neither inserted nor found")
                }
                outcomes.append(.duplicate(id: id))
            }
        }
        return outcomes
    }

    public func due(now: Date, limit: Int) async throws -> [InboxEvent] {
        let nowMillis = StoreTime.millis(now)
        return try await writer.read { db in
            try InboxRow.fetchAll(
                db,
                sql: """
                    SELECT \(InboxRow.columns) FROM inbox INDEXED BY inbox_open
                    WHERE status <> 'processed' AND status IN ('pending', 'failed') AND coalesce(next_attempt_at, 0) <= ?
                    ORDER BY id LIMIT ?
                    """,
                arguments: [nowMillis, limit]
            ).map { try $0.inboxEvent() }
        }
    }

    @discardableResult
    public func resolve(_ outcomes: [InboxOutcome]) async throws -> Int {
        guard !outcomes.isEmpty else { return 0 }
        return try await writer.write { db in
            // Looked up once per pass: a statement cache lookup hashes the whole SQL text.
            let processed = try db.cachedStatement(
                sql: """
                    UPDATE inbox SET status = 'processed', processed_at = ?, attempts = attempts + 1,
                        next_attempt_at = NULL WHERE id = ?
                    """)
            for outcome in outcomes {
                let id = outcome.id
                switch outcome.resolution {
                case .processed(let at):
                    try processed.execute(arguments: [StoreTime.millis(at), id])
                case .unhandled(let reason):
                    try db.cachedStatement(
                        sql: "UPDATE inbox SET status = 'unhandled', note = ?, next_attempt_at = NULL WHERE id = ?"
                    ).execute(arguments: [reason, id])
                case .retry(let error, let attempts, let at):
                    try db.cachedStatement(
                        sql: "UPDATE inbox SET status = 'failed', last_error = ?, attempts = ?, next_attempt_at = ? WHERE id = ?"
                    ).execute(arguments: [error, attempts, StoreTime.millis(at), id])
                case .dead(let error, let attempts, _):
                    try db.cachedStatement(
                        sql: """
                            UPDATE inbox SET status = 'dead', last_error = ?, attempts = ?, next_attempt_at = NULL
                            WHERE id = ?
                            """
                    ).execute(arguments: [error, attempts, id])
                }
            }
            // After every outcome of its own, so an event of this pass that failed but was
            // re-read since ends processed.
            var covered = 0
            for outcome in outcomes {
                guard let coverage = outcome.covers, case .processed(let at) = outcome.resolution else { continue }
                let types = coverage.changeTypes.map { _ in "?" }.joined(separator: ", ")
                try db.cachedStatement(
                    sql: """
                        UPDATE inbox SET status = 'processed', processed_at = ?, note = ?, next_attempt_at = NULL
                        WHERE external_user_id = ? AND status IN ('pending', 'failed') AND received_at < ?
                            AND corp_id = ? AND change_type IN (\(types)) AND id <> ?
                        """
                ).execute(
                    arguments: StatementArguments(
                        [StoreTime.millis(at), coverage.note, coverage.externalUserID, StoreTime.millis(coverage.receivedBefore), coverage.corpID]
                            as [any DatabaseValueConvertible] + coverage.changeTypes + [coverage.coveredBy]))
                covered += db.changesCount
            }
            return covered
        }
    }

    public func list(status: InboxStatus?, limit: Int) async throws -> [InboxEvent] {
        try await writer.read { db in
            let rows: [InboxRow]
            if let status {
                rows = try InboxRow.fetchAll(
                    db, sql: "SELECT \(InboxRow.columns) FROM inbox WHERE status = ? ORDER BY id DESC LIMIT ?",
                    arguments: [status.rawValue, limit])
            } else {
                rows = try InboxRow.fetchAll(db, sql: "SELECT \(InboxRow.columns) FROM inbox ORDER BY id DESC LIMIT ?", arguments: [limit])
            }
            return try rows.map { try $0.inboxEvent() }
        }
    }

    public func replay(_ selection: InboxReplaySelection) async throws -> Int {
        try await writer.write { db in
            let reset = """
                UPDATE inbox SET status = 'pending', attempts = 0, next_attempt_at = NULL, last_error = NULL,
                    processed_at = NULL
                """
            switch selection {
            case .id(let id):
                try db.execute(sql: reset + " WHERE id = ?", arguments: [id])
            case .since(let date):
                try db.execute(sql: reset + " WHERE received_at >= ?", arguments: [StoreTime.millis(date)])
            }
            return db.changesCount
        }
    }

    public func counts() async throws -> [InboxStatus: Int] {
        try await writer.read { db in
            var counts: [InboxStatus: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT status, count(*) AS n FROM inbox GROUP BY status") {
                if let status = InboxStatus(rawValue: row["status"]) { counts[status] = row["n"] }
            }
            return counts
        }
    }

    /// The stored event with this id, if any.
    public func event(id: Int64) async throws -> InboxEvent? {
        try await writer.read { db in
            try InboxRow.fetchOne(db, sql: "SELECT \(InboxRow.columns) FROM inbox WHERE id = ?", arguments: [id])?.inboxEvent()
        }
    }
}

/// One row of `inbox`, read by position from a `SELECT` of ``columns``: the inbox processor
/// reads every event it handles, and decoding by column name cost more than the query.
private struct InboxRow: FetchableRecord {
    static let columns = """
        id, corp_id, dedup_key, received_at, create_time, msg_type, event, change_type, user_id, external_user_id, raw_xml,
        status, note, attempts, next_attempt_at, last_error, processed_at, duplicates
        """

    var id: Int64
    var corp_id: String
    var dedup_key: String
    var received_at: Int64
    var create_time: Int64
    var msg_type: String?
    var event: String?
    var change_type: String?
    var user_id: String?
    var external_user_id: String?
    var raw_xml: String
    var status: String
    var note: String?
    var attempts: Int
    var next_attempt_at: Int64?
    var last_error: String?
    var processed_at: Int64?
    var duplicates: Int

    init(row: Row) throws {
        id = try row.decode(atIndex: 0)
        corp_id = try row.decode(atIndex: 1)
        dedup_key = try row.decode(atIndex: 2)
        received_at = try row.decode(atIndex: 3)
        create_time = try row.decode(atIndex: 4)
        msg_type = try row.decode(atIndex: 5)
        event = try row.decode(atIndex: 6)
        change_type = try row.decode(atIndex: 7)
        user_id = try row.decode(atIndex: 8)
        external_user_id = try row.decode(atIndex: 9)
        raw_xml = try row.decode(atIndex: 10)
        status = try row.decode(atIndex: 11)
        note = try row.decode(atIndex: 12)
        attempts = try row.decode(atIndex: 13)
        next_attempt_at = try row.decode(atIndex: 14)
        last_error = try row.decode(atIndex: 15)
        processed_at = try row.decode(atIndex: 16)
        duplicates = try row.decode(atIndex: 17)
    }

    func inboxEvent() throws -> InboxEvent {
        guard let status = InboxStatus(rawValue: status) else { throw StoreError("inbox row \(id) has status \(status)") }
        return InboxEvent(
            id: id, corpID: corp_id, dedupKey: dedup_key, receivedAt: StoreTime.date(received_at), createTime: create_time,
            msgType: msg_type, eventName: event, changeType: change_type, userID: user_id, externalUserID: external_user_id,
            rawXML: raw_xml, status: status, note: note, attempts: attempts, nextAttemptAt: next_attempt_at.map(StoreTime.date),
            lastError: last_error, processedAt: processed_at.map(StoreTime.date), duplicates: duplicates)
    }
}
