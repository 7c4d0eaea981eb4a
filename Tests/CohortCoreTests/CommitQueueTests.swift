import CohortCore
import Synchronization
import Testing

struct CommitQueueTests {
    /// Counts drains and how many run at once.
    final class DrainLog: Sendable {
        private let state = Mutex((started: 0, running: 0, mostAtOnce: 0, batches: [Int]()))

        func begin() {
            state.withLock {
                $0.started += 1
                $0.running += 1
                $0.mostAtOnce = max($0.mostAtOnce, $0.running)
            }
        }

        func end() { state.withLock { $0.running -= 1 } }
        func batch(_ size: Int) { state.withLock { $0.batches.append(size) } }
        var started: Int { state.withLock { $0.started } }
        var mostAtOnce: Int { state.withLock { $0.mostAtOnce } }
        var batches: [Int] { state.withLock { $0.batches } }
    }

    @Test func everyCallerGetsItsOwnOutcomeFromBatchesOfAtMostMaxAndOneDrainAtATime() async throws {
        let queue = CommitQueue<Int, Int>(maxBatch: 8)
        let log = DrainLog()
        @Sendable func drain() async {
            log.begin()
            while let batch = queue.nextBatch() {
                log.batch(batch.count)
                // Long enough for callers to pile up behind the commit.
                try? await Task.sleep(for: .milliseconds(2))
                batch.complete(batch.items.map { $0 * 10 })
            }
            log.end()
        }
        let results = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for item in 0..<200 {
                group.addTask { (item, try await queue.submit(item) { Task { await drain() } }) }
            }
            var results: [Int: Int] = [:]
            for try await (item, outcome) in group { results[item] = outcome }
            return results
        }
        #expect(results.count == 200)
        #expect(results.allSatisfy { $0.value == $0.key * 10 })
        #expect(log.mostAtOnce == 1)
        #expect(log.batches.reduce(0, +) == 200)
        #expect(log.batches.allSatisfy { $0 <= 8 })
        // Callers that arrived during a commit shared the next one.
        #expect(log.batches.count < 200)
    }

    struct DiskFull: Error {}

    @Test func aFailedCommitFailsEveryCallerInItAndTheNextCallerStartsAFreshDrain() async throws {
        let queue = CommitQueue<Int, Int>(maxBatch: 4)
        await #expect(throws: DiskFull.self) {
            try await queue.submit(1) { queue.nextBatch()?.fail(DiskFull()) }
        }
        // The failed drain ended when it found nothing more waiting; a new caller starts another.
        #expect(queue.nextBatch() == nil)
        let outcome = try await queue.submit(2) {
            while let batch = queue.nextBatch() { batch.complete(batch.items) }
        }
        #expect(outcome == 2)
    }

    @Test func aStoreThatAnswersTheWrongNumberOfOutcomesFailsTheBatch() async throws {
        let queue = CommitQueue<Int, Int>(maxBatch: 4)
        await #expect(throws: CommitQueueMismatch.self) {
            try await queue.submit(1) {
                while let batch = queue.nextBatch() { batch.complete([]) }
            }
        }
    }
}
