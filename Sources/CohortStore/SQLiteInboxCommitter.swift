import CohortCore
import Dispatch
import Foundation
import GRDB
import Synchronization

/// Group commit for the webhook on SQLite: events from concurrent requests queue up, and one
/// dedicated serial queue writes whatever has queued in a single transaction, resuming each
/// request once its event is durable.
///
/// The writes run synchronously on that queue rather than through GRDB's async API: measured
/// under load, three quarters of an async commit's wall time was spent waiting to be resumed on
/// the busy cooperative thread pool, not in SQLite (docs/PERFORMANCE.md).
public final class SQLiteInboxCommitter: InboxSink, Sendable {
    private struct Pending {
        var event: NewInboxEvent
        var continuation: CheckedContinuation<InboxAppendOutcome, any Error>
    }

    private struct State {
        var pending: [Pending] = []
        var draining = false
        var commits = 0
        var events = 0
        var seconds = 0.0
    }

    /// Figures of the commits made so far.
    public struct Statistics: Sendable {
        public var commits: Int
        public var events: Int
        public var seconds: Double
    }

    private let writer: any DatabaseWriter
    private let queue = DispatchQueue(label: "cohort.inbox.commit")
    private let maxBatch: Int
    private let state = Mutex(State())

    public init(database: CohortDatabase, maxBatch: Int = 512) {
        self.writer = database.writer
        self.maxBatch = maxBatch
    }

    public func store(_ event: NewInboxEvent) async throws -> InboxAppendOutcome {
        try await withCheckedThrowingContinuation { continuation in
            let startDrain = state.withLock { state -> Bool in
                state.pending.append(Pending(event: event, continuation: continuation))
                guard !state.draining else { return false }
                state.draining = true
                return true
            }
            if startDrain { queue.async { self.drain() } }
        }
    }

    public var statistics: Statistics {
        state.withLock { Statistics(commits: $0.commits, events: $0.events, seconds: $0.seconds) }
    }

    private func drain() {
        while true {
            let batch = state.withLock { state -> [Pending] in
                let batch = Array(state.pending.prefix(maxBatch))
                state.pending.removeFirst(batch.count)
                if batch.isEmpty { state.draining = false }
                return batch
            }
            if batch.isEmpty { return }
            let started = DispatchTime.now()
            do {
                let events = batch.map(\.event)
                let outcomes = try writer.write { db in try SQLiteInboxRepository.insert(events, into: db) }
                let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
                state.withLock { state in
                    state.commits += 1
                    state.events += batch.count
                    state.seconds += elapsed
                }
                for (pending, outcome) in zip(batch, outcomes) { pending.continuation.resume(returning: outcome) }
            } catch {
                for pending in batch { pending.continuation.resume(throwing: error) }
            }
        }
    }
}
