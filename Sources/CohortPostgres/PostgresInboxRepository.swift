import CohortCore
import Foundation
import Logging
import PostgresNIO

/// The inbox on PostgreSQL, shared by every instance. Webhooks on any instance append (each
/// event once by its dedup key, whichever instance a retry reaches); processors claim due events
/// with `FOR UPDATE SKIP LOCKED`, so no two instances run the handler of one event at once.
///
/// A claim is a lease: the claimed events' `next_attempt_at` moves `lease` ahead, so when the
/// claiming instance dies before resolving them, another instance takes them once it runs out.
public struct PostgresInboxRepository: InboxRepository, InboxSink {
    private let store: PostgresStore
    private let lease: TimeInterval

    public init(store: PostgresStore, lease: TimeInterval = 300) {
        self.store = store
        self.lease = lease
    }

    public func append(_ events: [NewInboxEvent]) async throws -> [InboxAppendOutcome] {
        guard !events.isEmpty else { return [] }
        let logger = store.logger
        return try await store.client.withTransaction(logger: logger) { connection in
            var outcomes: [InboxAppendOutcome] = []
            outcomes.reserveCapacity(events.count)
            for event in events {
                // `xmax = 0` only for a row this statement inserted: a retried delivery updates
                // the existing row's counter instead, in the same statement.
                let rows = try await connection.query(
                    """
                    INSERT INTO inbox (corp_id, dedup_key, received_at, create_time, msg_type, event, change_type,
                        user_id, external_user_id, raw_xml, status, note)
                    VALUES (\(event.corpID), \(event.dedupKey), \(StoreTime.millis(event.receivedAt)), \(event.createTime ?? 0),
                        \(event.msgType), \(event.event), \(event.changeType), \(event.userID), \(event.externalUserID),
                        \(event.rawXML), \(event.status.rawValue), \(event.note))
                    ON CONFLICT (corp_id, create_time, dedup_key) DO UPDATE SET duplicates = inbox.duplicates + 1
                    RETURNING id, (xmax = 0) AS inserted
                    """, logger: logger)
                var outcome: InboxAppendOutcome?
                for try await (id, inserted) in rows.decode((Int64, Bool).self) {
                    outcome = inserted ? .stored(id: id) : .duplicate(id: id)
                }
                guard let outcome else { throw StoreFailure("inbox insert for \(event.dedupKey) returned no row") }
                outcomes.append(outcome)
            }
            return outcomes
        }
    }

    public func store(_ event: NewInboxEvent) async throws -> InboxAppendOutcome {
        // Each request commits on its own connection; PostgreSQL batches concurrent commits
        // itself, and the pool spreads them over connections.
        guard let outcome = try await append([event]).first else { throw StoreFailure("inbox append returned nothing") }
        return outcome
    }

    /// Claims the events due now, oldest first, for `lease` seconds.
    public func due(now: Date, limit: Int) async throws -> [InboxEvent] {
        let nowMillis = StoreTime.millis(now)
        let until = StoreTime.millis(now.addingTimeInterval(lease))
        let rows = try await store.client.query(
            """
            UPDATE inbox SET next_attempt_at = \(until)
            WHERE id IN (
                SELECT id FROM inbox
                WHERE status IN ('pending', 'failed') AND coalesce(next_attempt_at, 0) <= \(nowMillis)
                ORDER BY id LIMIT \(limit)
                FOR UPDATE SKIP LOCKED)
            RETURNING \(unescaped: Self.columns)
            """, logger: store.logger)
        var events = try await Self.events(rows)
        // A claim hides an event for the lease; the handler sees when it was really due.
        events.sort { $0.id < $1.id }
        return events.map { event in
            var event = event
            event.nextAttemptAt = nil
            return event
        }
    }

    @discardableResult
    public func resolve(_ outcomes: [InboxOutcome]) async throws -> Int {
        guard !outcomes.isEmpty else { return 0 }
        let logger = store.logger
        return try await store.client.withTransaction(logger: logger) { connection in
            for outcome in outcomes {
                let id = outcome.id
                switch outcome.resolution {
                case .processed(let at):
                    try await connection.query(
                        """
                        UPDATE inbox SET status = 'processed', processed_at = \(StoreTime.millis(at)), attempts = attempts + 1,
                            next_attempt_at = NULL WHERE id = \(id)
                        """, logger: logger)
                case .unhandled(let reason):
                    try await connection.query(
                        "UPDATE inbox SET status = 'unhandled', note = \(reason), next_attempt_at = NULL WHERE id = \(id)", logger: logger)
                case .retry(let error, let attempts, let at):
                    try await connection.query(
                        """
                        UPDATE inbox SET status = 'failed', last_error = \(error), attempts = \(attempts),
                            next_attempt_at = \(StoreTime.millis(at)) WHERE id = \(id)
                        """, logger: logger)
                case .dead(let error, let attempts, _):
                    try await connection.query(
                        """
                        UPDATE inbox SET status = 'dead', last_error = \(error), attempts = \(attempts), next_attempt_at = NULL
                        WHERE id = \(id)
                        """, logger: logger)
                }
            }
            // After every outcome of its own, as in SQLite. An event another instance holds
            // under a claim is resolved too; its own resolve later writes the same status.
            var covered = 0
            for outcome in outcomes {
                guard let coverage = outcome.covers, case .processed(let at) = outcome.resolution else { continue }
                let rows = try await connection.query(
                    """
                    UPDATE inbox SET status = 'processed', processed_at = \(StoreTime.millis(at)), note = \(coverage.note),
                        next_attempt_at = NULL
                    WHERE external_user_id = \(coverage.externalUserID) AND status IN ('pending', 'failed')
                        AND received_at < \(StoreTime.millis(coverage.receivedBefore)) AND corp_id = \(coverage.corpID)
                        AND change_type = ANY(\(coverage.changeTypes)) AND id <> \(coverage.coveredBy)
                    RETURNING id
                    """, logger: logger)
                for try await _ in rows { covered += 1 }
            }
            return covered
        }
    }

    public func list(status: InboxStatus?, limit: Int) async throws -> [InboxEvent] {
        let rows: PostgresRowSequence
        if let status {
            rows = try await store.client.query(
                "SELECT \(unescaped: Self.columns) FROM inbox WHERE status = \(status.rawValue) ORDER BY id DESC LIMIT \(limit)",
                logger: store.logger)
        } else {
            rows = try await store.client.query(
                "SELECT \(unescaped: Self.columns) FROM inbox ORDER BY id DESC LIMIT \(limit)", logger: store.logger)
        }
        return try await Self.events(rows)
    }

    public func replay(_ selection: InboxReplaySelection) async throws -> Int {
        let reset = "UPDATE inbox SET status = 'pending', attempts = 0, next_attempt_at = NULL, last_error = NULL, processed_at = NULL"
        let rows: PostgresRowSequence
        switch selection {
        case .id(let id):
            rows = try await store.client.query("\(unescaped: reset) WHERE id = \(id) RETURNING id", logger: store.logger)
        case .since(let date):
            rows = try await store.client.query(
                "\(unescaped: reset) WHERE received_at >= \(StoreTime.millis(date)) RETURNING id", logger: store.logger)
        }
        var count = 0
        for try await _ in rows.decode(Int64.self) { count += 1 }
        return count
    }

    public func counts() async throws -> [InboxStatus: Int] {
        var counts: [InboxStatus: Int] = [:]
        let rows = try await store.client.query("SELECT status, count(*) FROM inbox GROUP BY status", logger: store.logger)
        for try await (status, count) in rows.decode((String, Int64).self) {
            if let status = InboxStatus(rawValue: status) { counts[status] = Int(count) }
        }
        return counts
    }

    /// The stored event with this id, if any.
    public func event(id: Int64) async throws -> InboxEvent? {
        let rows = try await store.client.query("SELECT \(unescaped: Self.columns) FROM inbox WHERE id = \(id)", logger: store.logger)
        return try await Self.events(rows).first
    }

    private static let columns = """
        id, corp_id, dedup_key, received_at, create_time, msg_type, event, change_type, user_id, external_user_id, raw_xml,
        status, note, attempts, next_attempt_at, last_error, processed_at, duplicates
        """

    private static func events(_ rows: PostgresRowSequence) async throws -> [InboxEvent] {
        var events: [InboxEvent] = []
        for try await row in rows {
            let cells = row.makeRandomAccess()
            let id = try cells["id"].decode(Int64.self)
            let statusName = try cells["status"].decode(String.self)
            guard let status = InboxStatus(rawValue: statusName) else { throw StoreFailure("inbox row \(id) has status \(statusName)") }
            events.append(
                InboxEvent(
                    id: id, corpID: try cells["corp_id"].decode(String.self), dedupKey: try cells["dedup_key"].decode(String.self),
                    receivedAt: StoreTime.date(try cells["received_at"].decode(Int64.self)),
                    createTime: try cells["create_time"].decode(Int64.self), msgType: try cells["msg_type"].decode(String?.self),
                    eventName: try cells["event"].decode(String?.self), changeType: try cells["change_type"].decode(String?.self),
                    userID: try cells["user_id"].decode(String?.self), externalUserID: try cells["external_user_id"].decode(String?.self),
                    rawXML: try cells["raw_xml"].decode(String.self), status: status, note: try cells["note"].decode(String?.self),
                    attempts: Int(try cells["attempts"].decode(Int32.self)),
                    nextAttemptAt: try cells["next_attempt_at"].decode(Int64?.self).map(StoreTime.date),
                    lastError: try cells["last_error"].decode(String?.self),
                    processedAt: try cells["processed_at"].decode(Int64?.self).map(StoreTime.date),
                    duplicates: Int(try cells["duplicates"].decode(Int32.self))))
        }
        return events
    }
}
