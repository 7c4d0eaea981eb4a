import CohortCore
import Foundation
import Metrics

/// The platform's per-API call windows (spec 5.1: 10,000 a minute and 150,000 an hour per corp
/// and API), shared by everything that calls the platform. Counts calls in one-second buckets.
public actor RateLimiter {
    public struct Window: Sendable, Hashable {
        public var seconds: Int
        public var limit: Int

        public init(seconds: Int, limit: Int) {
            self.seconds = seconds
            self.limit = limit
        }
    }

    private let windows: [Window]
    /// Where all instances count their calls together (nil: this process is the only caller).
    private let shared: (any SharedCallBudget)?
    private let now: @Sendable () -> Date
    private let sleep: @Sendable (Double) async throws -> Void
    /// Per API: call counts by whole second.
    private var buckets: [String: [Int: Int]] = [:]
    /// Seconds callers spent waiting, for metrics.
    public private(set) var waitedSeconds = 0.0

    public init(
        windows: [Window] = [Window(seconds: 60, limit: 10_000), Window(seconds: 3600, limit: 150_000)],
        shared: (any SharedCallBudget)? = nil,
        now: @escaping @Sendable () -> Date = { Date() },
        sleep: @escaping @Sendable (Double) async throws -> Void = { try await Task.sleep(for: .seconds($0)) }
    ) {
        self.windows = windows
        self.shared = shared
        self.now = now
        self.sleep = sleep
    }

    /// Waits until `api` may be called once more within every window, then counts the call.
    public func acquire(_ api: String) async throws {
        while true {
            let second = Int(now().timeIntervalSince1970)
            let wait: Int
            if let shared {
                // The shared budget counts the call itself when it fits; the local buckets also
                // count it, for `expectedSeconds`, and are pruned as in local mode.
                prune(api, before: second - (windows.map(\.seconds).max() ?? 0))
                wait = try await shared.take(
                    api: api, second: Int64(second), windows: windows.map { CallWindow(seconds: $0.seconds, limit: $0.limit) })
            } else {
                wait = delay(api, at: second)
            }
            if wait == 0 {
                buckets[api, default: [:]][second, default: 0] += 1
                return
            }
            waitedSeconds += Double(wait)
            Counter(label: "cohort_rate_limit_waits_total", dimensions: [("endpoint", api)]).increment()
            FloatingPointCounter(label: "cohort_rate_limit_wait_seconds_total", dimensions: [("endpoint", api)]).increment(by: Double(wait))
            try await sleep(Double(wait))
        }
    }

    /// Seconds until `calls` more calls to `api` could all have been made, at the limits: what a
    /// long queue reports as its expected finish.
    public func expectedSeconds(forCalls calls: Int, api: String) -> Double {
        windows.map { window in
            let used = count(api, at: Int(now().timeIntervalSince1970), within: window.seconds)
            let total = used + calls
            return total <= window.limit ? 0 : Double((total - 1) / window.limit * window.seconds)
        }.max() ?? 0
    }

    private func count(_ api: String, at second: Int, within seconds: Int) -> Int {
        guard let counts = buckets[api] else { return 0 }
        return counts.reduce(0) { $0 + ($1.key > second - seconds ? $1.value : 0) }
    }

    /// Whole seconds to wait before one more call fits every window (0: call now).
    private func delay(_ api: String, at second: Int) -> Int {
        prune(api, before: second - (windows.map(\.seconds).max() ?? 0))
        guard let counts = buckets[api] else { return 0 }
        return CallWindow.delay(
            calls: Dictionary(uniqueKeysWithValues: counts.map { (Int64($0.key), $0.value) }), at: Int64(second),
            windows: windows.map { CallWindow(seconds: $0.seconds, limit: $0.limit) })
    }

    private func prune(_ api: String, before second: Int) {
        buckets[api] = buckets[api]?.filter { $0.key > second }
    }
}
