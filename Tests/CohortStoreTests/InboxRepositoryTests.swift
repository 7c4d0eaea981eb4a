import CohortCore
import CohortStore
import CohortTesting
import Foundation
import Testing

struct InboxRepositoryTests {
    static func event(_ key: String, status: InboxStatus = .pending, at seconds: Double = 1_700_000_000) -> NewInboxEvent {
        NewInboxEvent(
            corpID: "wwcorp", dedupKey: key, receivedAt: Date(timeIntervalSince1970: seconds), rawXML: "<xml/>",
            fields: CallbackFields([CallbackField("Event", "change_external_contact"), CallbackField("ChangeType", "add_external_contact"),
                                    CallbackField("UserID", "u"), CallbackField("ExternalUserID", "wm\(key)"), CallbackField("MsgType", "event")]),
            status: status)
    }

    @Test(arguments: StoreBackend.available)
    func sameKeyIsStoredOnceAndCountedAsDuplicate(_ backend: StoreBackend) async throws {
        try await withInbox(backend) { repository in
            let first = try await repository.append([Self.event("k1")])
            let again = try await repository.append([Self.event("k1"), Self.event("k2")])
            #expect(first == [.stored(id: 1)])
            #expect(again.first == .duplicate(id: 1))
            guard case .stored(let second)? = again.last else {
                Issue.record("second event not stored: \(again)")
                return
            }
            #expect(second != 1)
            let stored = try await repository.event(id: 1)
            #expect(stored?.duplicates == 1)
            #expect(try await repository.list(status: nil, limit: 10).count == 2)
            #expect(try await repository.event(id: second)?.dedupKey == "k2")
        }
    }

    @Test(arguments: StoreBackend.available)
    func duplicateWithinOneBatchIsStoredOnce(_ backend: StoreBackend) async throws {
        try await withInbox(backend) { repository in
            let outcomes = try await repository.append([Self.event("k"), Self.event("k")])
            #expect(outcomes == [.stored(id: 1), .duplicate(id: 1)])
        }
    }

    @Test(arguments: StoreBackend.available)
    func dueReturnsPendingAndRetryableInArrivalOrder(_ backend: StoreBackend) async throws {
        try await withInbox(backend) { repository in
            _ = try await repository.append([Self.event("a"), Self.event("b"), Self.event("c"), Self.event("u", status: .unhandled)])
            let now = Date(timeIntervalSince1970: 1_700_000_100)
            try await repository.resolve(id: 1, .retry(error: "boom", attempts: 1, at: now.addingTimeInterval(60)))
            try await repository.resolve(id: 2, .processed(at: now))
            #expect(try await repository.due(now: now, limit: 10).map(\.id) == [3])
            // A claimed event is not handed out again until its lease runs out (SQLite: one
            // processor per file, no lease).
            let later = now.addingTimeInterval(61)
            let expected: [Int64] = backend == .postgres ? [1] : [1, 3]
            #expect(try await repository.due(now: later, limit: 10).map(\.id) == expected)
            let failed = try await repository.event(id: 1)
            #expect(failed?.status == .failed)
            #expect(failed?.lastError == "boom")
            #expect(failed?.attempts == 1)
        }
    }

    @Test(arguments: StoreBackend.available)
    func deadEventsKeepTheirErrorAndReplayRequeuesThem(_ backend: StoreBackend) async throws {
        try await withInbox(backend) { repository in
            _ = try await repository.append([Self.event("a", at: 100), Self.event("b", at: 200)])
            try await repository.resolve(id: 1, .dead(error: "gave up", attempts: 8, at: Date()))
            try await repository.resolve(id: 2, .processed(at: Date()))
            #expect(try await repository.list(status: .dead, limit: 10).first?.lastError == "gave up")
            #expect(try await repository.replay(.id(1)) == 1)
            let replayed = try await repository.event(id: 1)
            #expect(replayed?.status == .pending)
            #expect(replayed?.attempts == 0)
            #expect(try await repository.replay(.since(Date(timeIntervalSince1970: 150))) == 1)
            #expect(try await repository.counts() == [.pending: 2])
            #expect(try await repository.replay(.id(99)) == 0)
        }
    }

    static func change(
        _ key: String, _ changeType: String, customer: String, corp: String = "wwcorp", at seconds: Double
    ) -> NewInboxEvent {
        NewInboxEvent(
            corpID: corp, dedupKey: key, receivedAt: Date(timeIntervalSince1970: seconds), rawXML: "<xml/>",
            fields: CallbackFields([CallbackField("Event", "change_external_contact"), CallbackField("ChangeType", changeType),
                                    CallbackField("UserID", "u"), CallbackField("ExternalUserID", customer), CallbackField("MsgType", "event")]),
            status: .pending)
    }

    @Test(arguments: StoreBackend.available)
    func aReReadResolvesOnlyTheOpenEditsOfItsCustomerReceivedBeforeIt(_ backend: StoreBackend) async throws {
        try await withInbox(backend) { repository in
            let edit = "edit_external_contact"
            _ = try await repository.append([
                Self.change("read", "add_external_contact", customer: "wmA", at: 100),  // 1: the re-read
                Self.change("e1", edit, customer: "wmA", at: 101),  // 2: covered
                Self.change("e2", edit, customer: "wmA", at: 102),  // 3: failed earlier, covered
                Self.change("e3", edit, customer: "wmA", at: 102.5),  // 4: already dead, left alone
                Self.change("del", "del_follow_user", customer: "wmA", at: 103),  // 5: other change type
                Self.change("other", edit, customer: "wmB", at: 104),  // 6: other customer
                Self.change("corp", edit, customer: "wmA", corp: "wwother", at: 105),  // 7: other corp
                Self.change("late", edit, customer: "wmA", at: 110),  // 8: arrived after the read started
            ])
            try await repository.resolve(id: 3, .retry(error: "boom", attempts: 1, at: Date(timeIntervalSince1970: 500)))
            try await repository.resolve(id: 4, .dead(error: "gave up", attempts: 8, at: Date(timeIntervalSince1970: 500)))
            let coverage = InboxCoverage(
                corpID: "wwcorp", externalUserID: "wmA", changeTypes: [edit], receivedBefore: Date(timeIntervalSince1970: 106),
                coveredBy: 1)
            let covered = try await repository.resolve([InboxOutcome(id: 1, .processed(at: Date(timeIntervalSince1970: 107)), covers: coverage)])
            #expect(covered == 2)
            var statuses: [Int64: InboxStatus] = [:]
            for id in Int64(1)...8 { statuses[id] = try await repository.event(id: id)?.status }
            #expect(statuses == [1: .processed, 2: .processed, 3: .processed, 4: .dead, 5: .pending, 6: .pending, 7: .pending, 8: .pending])
            #expect(try await repository.event(id: 2)?.note == "covered by inbox #1")
            #expect(try await repository.event(id: 3)?.processedAt == Date(timeIntervalSince1970: 107))
        }
    }

    @Test func storedEventsSurviveReopeningTheFile() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-\(UUID().uuidString)/db.sqlite").path
        do {
            let database = try CohortDatabase(path: path)
            _ = try await SQLiteInboxRepository(database: database).append([Self.event("durable")])
        }
        let reopened = SQLiteInboxRepository(database: try CohortDatabase(path: path))
        let events = try await reopened.list(status: nil, limit: 10)
        #expect(events.map(\.dedupKey) == ["durable"])
        #expect(events.first?.externalUserID == "wmdurable")
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test func integrityCheckPassesOnAFreshStore() async throws {
        #expect(try await CohortDatabase().integrityCheck().isEmpty)
    }
}

struct SQLiteInboxCommitterTests {
    @Test(arguments: StoreBackend.available)
    func concurrentStoresThroughTheSinkKeepEachEventOnceAndCountEveryRepeat(_ backend: StoreBackend) async throws {
        try await withInboxSink(backend) { sink, repository in
            let outcomes = try await withThrowingTaskGroup(of: InboxAppendOutcome.self) { group in
                for index in 0..<500 {
                    group.addTask { try await sink.store(InboxRepositoryTests.event("e\(index % 400)")) }
                }
                var all: [InboxAppendOutcome] = []
                for try await outcome in group { all.append(outcome) }
                return all
            }
            #expect(outcomes.count == 500)
            #expect(Set(outcomes.map(\.id)).count == 400)
            #expect(outcomes.filter { if case .duplicate = $0 { return true } else { return false } }.count == 100)
            let stored = try await repository.list(status: nil, limit: 1000)
            #expect(stored.count == 400)
            #expect(stored.map(\.duplicates).reduce(0, +) == 100)
        }
    }

    @Test func concurrentStoresAreAllDurableAndShareCommits() async throws {
        let database = try CohortDatabase()
        let committer = SQLiteInboxCommitter(database: database)
        let outcomes = try await withThrowingTaskGroup(of: InboxAppendOutcome.self) { group in
            for index in 0..<500 {
                group.addTask { try await committer.store(InboxRepositoryTests.event("e\(index % 400)")) }
            }
            var all: [InboxAppendOutcome] = []
            for try await outcome in group { all.append(outcome) }
            return all
        }
        #expect(outcomes.count == 500)
        #expect(Set(outcomes.map(\.id)).count == 400)
        #expect(outcomes.filter { if case .duplicate = $0 { return true } else { return false } }.count == 100)
        #expect(try await SQLiteInboxRepository(database: database).list(status: nil, limit: 1000).count == 400)
        let statistics = committer.statistics
        #expect(statistics.events == 500)
        #expect(statistics.commits < 500)
    }

    @Test func aLoneEventIsCommittedWhenItsGatherWindowEndsAndAFullTargetAtOnce() async throws {
        let database = try CohortDatabase()
        let clock = ContinuousClock()
        let slow = SQLiteInboxCommitter(database: database, gatherWindow: .milliseconds(200), gatherTarget: 4)
        var started = clock.now
        _ = try await slow.store(InboxRepositoryTests.event("lone"))
        #expect(clock.now - started >= .milliseconds(200))
        #expect(clock.now - started < .seconds(5))

        // Four waiting events reach the target: one commit, long before the window ends.
        let fast = SQLiteInboxCommitter(database: database, gatherWindow: .seconds(30), gatherTarget: 4)
        started = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<4 { group.addTask { _ = try await fast.store(InboxRepositoryTests.event("target\(index)")) } }
            try await group.waitForAll()
        }
        #expect(clock.now - started < .seconds(10))
        #expect(fast.statistics.commits == 1)
        #expect(fast.statistics.events == 4)
    }
}
