import Foundation

// Ports for what several Cohort instances on one database must share (docs/DEPLOYMENT.md).
// A single instance on SQLite needs none of them: its process-local cache, limiter and
// schedules are already the only ones.

/// Where instances keep the platform's access token, so one instance refreshes it for all and
/// the others use the same token instead of each fetching its own (spec 9, token races: every
/// fetch may invalidate the tokens other instances hold).
public protocol SharedTokenStore: Sendable {
    /// The stored token for `key` when it is valid beyond `now + margin`; otherwise runs
    /// `refresh` (one caller at a time across instances; the others wait for its result), stores
    /// what it returns and returns that.
    func token(
        key: String, now: Date, margin: TimeInterval,
        refresh: @Sendable () async throws -> (token: String, expiresIn: Int)
    ) async throws -> (token: String, expiresAt: Date)
    /// Forgets `token` for `key` if it is still the stored one (compare-and-swap), so an instance
    /// holding a stale token cannot throw away a fresh one.
    func invalidate(key: String, token: String) async throws
}

/// One window of the platform's per-API call quota (spec 5.1).
public struct CallWindow: Sendable, Hashable {
    public var seconds: Int
    public var limit: Int

    public init(seconds: Int, limit: Int) {
        self.seconds = seconds
        self.limit = limit
    }
}

/// The per-API call budget shared by all instances, so together they stay under the platform's
/// limits.
public protocol SharedCallBudget: Sendable {
    /// Counts one call to `api` in the second `second` (Unix time) when every window still has
    /// room and returns 0; otherwise counts nothing and returns the seconds to wait first.
    func take(api: String, second: Int64, windows: [CallWindow]) async throws -> Int
}

/// Runs a scheduled job (sync, full re-grade, result polling) on one instance at a time.
public protocol JobLock: Sendable {
    /// Runs `body` while holding `job`, when no other instance holds it; returns false at once
    /// without running it otherwise. A holder that dies releases the job.
    func withLock(_ job: String, _ body: @Sendable () async throws -> Void) async throws -> Bool
}

/// The lock of a single instance: every job runs (nothing else could run it).
public struct LocalJobLock: JobLock {
    public init() {}

    public func withLock(_ job: String, _ body: @Sendable () async throws -> Void) async throws -> Bool {
        try await body()
        return true
    }
}

extension CallWindow {
    /// Whole seconds until one more call fits every window (0: call now), given the calls made
    /// per second (Unix time) — the one definition the local limiter and a shared budget use.
    public static func delay(calls: [Int64: Int], at second: Int64, windows: [CallWindow]) -> Int {
        func count(within seconds: Int) -> Int {
            calls.reduce(0) { $0 + ($1.key > second - Int64(seconds) ? $1.value : 0) }
        }
        var wait = 0
        for window in windows {
            let used = count(within: window.seconds)
            guard used >= window.limit else { continue }
            // The window frees up when enough of its oldest seconds have aged out.
            var excess = used - window.limit + 1
            for bucket in calls.keys.sorted() where bucket > second - Int64(window.seconds) {
                excess -= calls[bucket] ?? 0
                if excess <= 0 {
                    wait = max(wait, Int(bucket + Int64(window.seconds) - second))
                    break
                }
            }
        }
        return wait
    }
}

/// Times in the stores: milliseconds since 1970 in a 64-bit integer, the same on every backend.
public enum StoreTime {
    public static func millis(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
    public static func date(_ millis: Int64) -> Date { Date(timeIntervalSince1970: Double(millis) / 1000) }
}

/// What COHORT_DATABASE names.
public enum StoreLocation {
    /// A `postgres://` or `postgresql://` URL names PostgreSQL; anything else is a SQLite path.
    public static func isPostgresURL(_ value: String) -> Bool {
        value.hasPrefix("postgres://") || value.hasPrefix("postgresql://")
    }
}
