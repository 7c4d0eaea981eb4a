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
    private struct Totals {
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
    private let commits: CommitQueue<NewInboxEvent, InboxAppendOutcome>
    private let totals = Mutex(Totals())

    private let gatherWindow: Duration
    private let gatherTarget: Int

    /// - Parameters:
    ///   - gatherWindow: how long the oldest waiting event may wait for others to share its
    ///     commit. A commit's cost hardly grows with its size, so under load a short wait buys
    ///     fewer, larger commits (docs/PERFORMANCE.md); a lone event waits this long at most.
    ///   - gatherTarget: this many waiting events are committed at once, window or not.
    public init(
        database: CohortDatabase, maxBatch: Int = 512, gatherWindow: Duration = .milliseconds(1), gatherTarget: Int = 64
    ) {
        self.writer = database.writer
        self.commits = CommitQueue(maxBatch: maxBatch)
        self.gatherWindow = gatherWindow
        self.gatherTarget = gatherTarget
    }

    public func store(_ event: NewInboxEvent) async throws -> InboxAppendOutcome {
        try await commits.submit(event) { queue.async { self.drain() } }
    }

    /// Waits on the commit thread until the target is reached or the oldest event has waited
    /// the window out.
    private func gather() {
        guard gatherWindow > .zero else { return }
        while true {
            let (count, oldest) = commits.waiting
            guard let oldest, count < gatherTarget else { return }
            let left = gatherWindow - (ContinuousClock.now - oldest)
            guard left > .zero else { return }
            usleep(UInt32(max(50, min(left / .microseconds(1), 200))))
        }
    }

    public var statistics: Statistics {
        totals.withLock { Statistics(commits: $0.commits, events: $0.events, seconds: $0.seconds) }
    }

    private func drain() {
        while true {
            gather()
            guard let batch = commits.nextBatch() else { return }
            let started = DispatchTime.now()
            do {
                let events = batch.items
                let outcomes = try writer.write { db in try SQLiteInboxRepository.insert(events, into: db) }
                let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
                totals.withLock { totals in
                    totals.commits += 1
                    totals.events += batch.count
                    totals.seconds += elapsed
                }
                batch.complete(outcomes)
            } catch {
                batch.fail(error)
            }
        }
    }
}
