import CohortCore
import Foundation
import Logging
import PostgresNIO

/// The platform's access token in the database (spec 9, token races). Instances read the stored
/// token; when it is about to expire, one of them refreshes it under a transaction-scoped
/// advisory lock while the others wait on that lock and then read what it stored.
public struct PostgresTokenStore: SharedTokenStore {
    private let store: PostgresStore

    public init(store: PostgresStore) {
        self.store = store
    }

    public func token(
        key: String, now: Date, margin: TimeInterval, refresh: @Sendable () async throws -> (token: String, expiresIn: Int)
    ) async throws -> (token: String, expiresAt: Date) {
        let validAfter = StoreTime.millis(now.addingTimeInterval(margin))
        if let stored = try await read(key, validAfter: validAfter, on: nil) { return stored }
        let logger = store.logger
        return try await store.transaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(hashtext(\(store.lockName("token." + key))))", logger: logger)
            // Another instance may have refreshed it while this one waited for the lock.
            if let stored = try await read(key, validAfter: validAfter, on: connection) { return stored }
            let fresh = try await refresh()
            let expiresAt = now.addingTimeInterval(Double(fresh.expiresIn))
            try await connection.query(
                """
                INSERT INTO platform_tokens (key, token, expires_at, fetched_at)
                VALUES (\(key), \(fresh.token), \(StoreTime.millis(expiresAt)), \(StoreTime.millis(now)))
                ON CONFLICT (key) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at, fetched_at = excluded.fetched_at
                """, logger: logger)
            return (fresh.token, expiresAt)
        }
    }

    public func invalidate(key: String, token: String) async throws {
        try await store.client.query("DELETE FROM platform_tokens WHERE key = \(key) AND token = \(token)", logger: store.logger)
    }

    private func read(_ key: String, validAfter: Int64, on connection: PostgresConnection?) async throws -> (token: String, expiresAt: Date)? {
        let query: PostgresQuery = "SELECT token, expires_at FROM platform_tokens WHERE key = \(key) AND expires_at > \(validAfter)"
        let rows: PostgresRowSequence
        if let connection {
            rows = try await connection.query(query, logger: store.logger)
        } else {
            rows = try await store.client.query(query, logger: store.logger)
        }
        for try await (token, expiresAt) in rows.decode((String, Int64).self) {
            return (token, StoreTime.date(expiresAt))
        }
        return nil
    }
}

/// The platform's per-API quota counted in the database by every instance. A call is counted
/// under a per-API advisory lock, so two instances cannot both take the last slot of a window.
public struct PostgresCallBudget: SharedCallBudget {
    private let store: PostgresStore

    public init(store: PostgresStore) {
        self.store = store
    }

    public func take(api: String, second: Int64, windows: [CallWindow]) async throws -> Int {
        let logger = store.logger
        let horizon = second - Int64(windows.map(\.seconds).max() ?? 0)
        return try await store.transaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(hashtext(\(store.lockName("budget." + api))))", logger: logger)
            try await connection.query("DELETE FROM call_budget WHERE api = \(api) AND second <= \(horizon)", logger: logger)
            var calls: [Int64: Int] = [:]
            let rows = try await connection.query("SELECT second, calls FROM call_budget WHERE api = \(api)", logger: logger)
            for try await (bucket, count) in rows.decode((Int64, Int32).self) { calls[bucket] = Int(count) }
            let wait = CallWindow.delay(calls: calls, at: second, windows: windows)
            if wait == 0 {
                try await connection.query(
                    """
                    INSERT INTO call_budget (api, second, calls) VALUES (\(api), \(second), 1)
                    ON CONFLICT (api, second) DO UPDATE SET calls = call_budget.calls + 1
                    """, logger: logger)
            }
            return wait
        }
    }
}

/// Scheduled jobs on one instance at a time: a session-level advisory lock held on a pinned
/// connection for the job's duration. An instance that dies drops its connection, and with it
/// the lock, so the next instance whose schedule comes round takes the job over. A session that
/// drops while the process lives on releases the lock as well: the job is then cancelled, so it
/// never runs beside the instance that took it over.
public struct PostgresJobLock: JobLock {
    private let store: PostgresStore
    /// How often the lock's session is checked while a job runs.
    public var checkEvery: Duration = .seconds(5)

    public init(store: PostgresStore) {
        self.store = store
    }

    public func withLock(_ job: String, _ body: @Sendable () async throws -> Void) async throws -> Bool {
        let logger = store.logger
        let name = store.lockName("job." + job)
        let checkEvery = self.checkEvery
        return try await store.client.withConnection { connection in
            guard try await connection.tryAdvisoryLock(name, logger: logger) else { return false }
            do {
                // The group awaits both tasks before it returns, so `body` never outlives this call.
                try await withoutActuallyEscaping(body) { body in
                    try await Self.run(body, watching: connection, every: checkEvery, logger: logger)
                }
            } catch {
                await connection.releaseAdvisoryLock(name, logger: logger)
                throw error
            }
            await connection.releaseAdvisoryLock(name, logger: logger)
            return true
        }
    }

    /// Runs `body` while checking the session: the job's end, or the session's, ends the other.
    private static func run(
        _ body: @escaping @Sendable () async throws -> Void, watching connection: PostgresConnection, every interval: Duration, logger: Logger
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await body() }
            group.addTask {
                while true {
                    try await Task.sleep(for: interval)
                    try await connection.checkAlive(logger: logger)
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }
}
