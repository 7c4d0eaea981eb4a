import Synchronization

/// Requests waiting for a shared commit (group commit). Each caller parks its item and waits;
/// the caller that finds no drain running starts one, and the drain takes whatever has queued,
/// commits it as one batch and resumes every caller with its own outcome.
///
/// The queue only hands out batches: how a batch is written (a serial dispatch queue on SQLite,
/// a task on PostgreSQL) belongs to the store that owns it.
public final class CommitQueue<Item: Sendable, Outcome: Sendable>: Sendable {
    /// Items taken together, to be completed together.
    public struct Batch: Sendable {
        fileprivate let waiting: [Waiting]

        public var items: [Item] { waiting.map(\.item) }
        public var count: Int { waiting.count }

        /// Resumes each caller with the outcome at its position.
        public func complete(_ outcomes: [Outcome]) {
            guard outcomes.count == waiting.count else {
                fail(CommitQueueMismatch(items: waiting.count, outcomes: outcomes.count))
                return
            }
            for (entry, outcome) in zip(waiting, outcomes) { entry.continuation.resume(returning: outcome) }
        }

        /// Resumes every caller of the batch with the error: nothing of it was committed.
        public func fail(_ error: any Error) {
            for entry in waiting { entry.continuation.resume(throwing: error) }
        }
    }

    fileprivate struct Waiting: Sendable {
        var item: Item
        var continuation: CheckedContinuation<Outcome, any Error>
        var since: ContinuousClock.Instant
    }

    private struct State {
        var waiting: [Waiting] = []
        var draining = false
    }

    private let state = Mutex(State())
    private let maxBatch: Int

    public init(maxBatch: Int) {
        precondition(maxBatch > 0, "a batch holds at least one item")
        self.maxBatch = maxBatch
    }

    /// Queues `item` and waits for the outcome of the commit that carries it. `startDrain` runs
    /// (synchronously, so it should only schedule work) when no drain is running; the drain
    /// then calls ``nextBatch()`` until it returns nil.
    public func submit(_ item: Item, startDrain: @Sendable () -> Void) async throws -> Outcome {
        try await withCheckedThrowingContinuation { continuation in
            let start = state.withLock { state -> Bool in
                state.waiting.append(Waiting(item: item, continuation: continuation, since: .now))
                guard !state.draining else { return false }
                state.draining = true
                return true
            }
            if start { startDrain() }
        }
    }

    /// How many items wait, and since when the oldest of them has.
    public var waiting: (count: Int, oldestSince: ContinuousClock.Instant?) {
        state.withLock { ($0.waiting.count, $0.waiting.first?.since) }
    }

    /// The next items to commit, oldest first, at most `maxBatch`; nil when nothing is waiting,
    /// which also ends the drain (the next ``submit(_:startDrain:)`` starts a new one).
    public func nextBatch() -> Batch? {
        state.withLock { state -> Batch? in
            guard !state.waiting.isEmpty else {
                state.draining = false
                return nil
            }
            let taken = Array(state.waiting.prefix(maxBatch))
            state.waiting.removeFirst(taken.count)
            return Batch(waiting: taken)
        }
    }
}

/// A store answered a batch with a different number of outcomes than it had items: a defect.
public struct CommitQueueMismatch: Error, CustomStringConvertible {
    public var items: Int
    public var outcomes: Int
    public var description: String { "a commit of \(items) items returned \(outcomes) outcomes" }
}
