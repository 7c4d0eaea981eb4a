import CohortCore

/// Group commit for the inbox: concurrent webhook requests are written together in one
/// transaction, so a burst costs a few commits instead of one per request.
///
/// The first caller after an idle period commits its event at once; callers that arrive while a
/// commit runs park, and when it finishes the first of them becomes the next leader and commits
/// everything that queued meanwhile. Every caller returns only once its own event is durable.
public actor InboxWriter {
    private enum Wake: Sendable {
        case committed(InboxAppendOutcome)
        case lead
    }

    private struct Waiter {
        var event: NewInboxEvent
        var continuation: CheckedContinuation<Wake, any Error>
    }

    private let repository: any InboxRepository
    private let maxBatch: Int
    private var queue: [Waiter] = []
    private var busy = false
    /// Commits made, for metrics and benchmarks.
    public private(set) var commits = 0

    public init(repository: any InboxRepository, maxBatch: Int = 512) {
        self.repository = repository
        self.maxBatch = maxBatch
    }

    /// Stores one event durably (or finds it already stored) and returns what happened.
    public func append(_ event: NewInboxEvent) async throws -> InboxAppendOutcome {
        if busy {
            let wake = try await withCheckedThrowingContinuation { continuation in
                queue.append(Waiter(event: event, continuation: continuation))
            }
            if case .committed(let outcome) = wake { return outcome }
        } else {
            busy = true
        }
        // This caller leads: commit its own event with everything queued so far.
        let followers = Array(queue.prefix(maxBatch - 1))
        queue.removeFirst(followers.count)
        defer { handOff() }
        do {
            let outcomes = try await repository.append([event] + followers.map(\.event))
            commits += 1
            for (index, follower) in followers.enumerated() {
                follower.continuation.resume(returning: .committed(outcomes[index + 1]))
            }
            return outcomes[0]
        } catch {
            for follower in followers { follower.continuation.resume(throwing: error) }
            throw error
        }
    }

    private func handOff() {
        if queue.isEmpty {
            busy = false
        } else {
            queue.removeFirst().continuation.resume(returning: .lead)
        }
    }
}
