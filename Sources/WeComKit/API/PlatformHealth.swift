import Foundation
import Synchronization

/// Whether the platform answers, as this process last saw it: for the dashboard and metrics,
/// never for readiness (the webhook keeps taking events while the API is down).
public enum PlatformHealth {
    public struct Snapshot: Sendable, Hashable {
        /// The last time the platform answered anything (an errcode counts: it answered).
        public var lastAnswer: Date?
        /// The last time a call got no answer (connection refused, timeout).
        public var lastUnreachable: Date?
        public var lastError: String?
        /// The last answer saying Cohort's setup is wrong (48002, 60020, 40001, ...), if any.
        public var configurationError: ConfigurationError?

        /// Unknown (nil) until the first call; false when the last call got no answer.
        public var reachable: Bool? {
            switch (lastAnswer, lastUnreachable) {
            case (nil, nil): nil
            case (_?, nil): true
            case (nil, _?): false
            case (let answer?, let failure?): answer >= failure
            }
        }
    }

    /// An errcode that needs an administrator, not a retry.
    public struct ConfigurationError: Sendable, Hashable {
        public var endpoint: String
        public var errcode: Int
        public var at: Date
    }

    /// Errcodes that mean the corp, secret, app permissions or trusted IPs are wrong.
    public static let configurationErrcodes: Set<Int> = [40001, 40013, 41004, 40056, 48002, 60011, 60020]

    private static let state = Mutex(Snapshot())

    public static var snapshot: Snapshot { state.withLock { $0 } }

    static func answered(at time: Date) {
        state.withLock { $0.lastAnswer = time }
    }

    static func configurationError(_ errcode: Int, endpoint: String, at time: Date) {
        state.withLock { $0.configurationError = ConfigurationError(endpoint: endpoint, errcode: errcode, at: time) }
    }

    static func unreachable(at time: Date, error: String) {
        state.withLock {
            $0.lastUnreachable = time
            $0.lastError = error
        }
    }
}
