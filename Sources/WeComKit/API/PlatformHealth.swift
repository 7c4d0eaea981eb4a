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

    private static let state = Mutex(Snapshot())

    public static var snapshot: Snapshot { state.withLock { $0 } }

    static func answered(at time: Date) {
        state.withLock { $0.lastAnswer = time }
    }

    static func unreachable(at time: Date, error: String) {
        state.withLock {
            $0.lastUnreachable = time
            $0.lastError = error
        }
    }
}
