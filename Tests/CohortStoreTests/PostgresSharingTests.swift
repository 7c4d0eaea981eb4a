import CohortCore
import CohortPostgres
import CohortTesting
import Foundation
import Logging
import PostgresNIO
import Synchronization
import Testing

/// What several instances on one PostgreSQL share: inbox claims, the access token, the call
/// quota and scheduled jobs. Each "instance" is a pool of its own on the same schema.
@Suite(.enabled(if: StoreBackend.postgresURL != nil, "needs COHORT_TEST_POSTGRES_URL"))
struct PostgresSharingTests {
    @Test func twoInstancesClaimingTheInboxNeverGetTheSameEvent() async throws {
        try await withPostgresStore { first in
            try await withSecondInstance(of: first) { second in
                let a = PostgresInboxRepository(store: first)
                let b = PostgresInboxRepository(store: second)
                _ = try await a.append((0..<300).map { InboxRepositoryTests.event("e\($0)") })
                let now = Date(timeIntervalSince1970: 1_700_000_100)
                // Both instances claim small batches at once until nothing is left.
                let claimed = try await withThrowingTaskGroup(of: [Int64].self) { group in
                    for repository in [a, b, a, b] {
                        group.addTask {
                            var mine: [Int64] = []
                            while true {
                                let batch = try await repository.due(now: now, limit: 7)
                                if batch.isEmpty { return mine }
                                mine += batch.map(\.id)
                                try await repository.resolve(batch.map { InboxOutcome(id: $0.id, .processed(at: now)) })
                            }
                        }
                    }
                    var all: [[Int64]] = []
                    for try await ids in group { all.append(ids) }
                    return all
                }
                let every = claimed.flatMap { $0 }
                #expect(every.count == 300, "each event claimed once")
                #expect(Set(every).count == 300)
                #expect(claimed.filter { !$0.isEmpty }.count > 1, "the work was shared")
                #expect(try await a.counts() == [.processed: 300])
            }
        }
    }

    @Test func anEventClaimedByAnInstanceThatDiedIsTakenAfterTheLease() async throws {
        try await withPostgresStore { store in
            let repository = PostgresInboxRepository(store: store, lease: 60)
            _ = try await repository.append([InboxRepositoryTests.event("lost")])
            let now = Date(timeIntervalSince1970: 1_700_000_100)
            #expect(try await repository.due(now: now, limit: 10).count == 1)
            // The claimer never resolves it (killed): hidden during the lease, due after it.
            #expect(try await repository.due(now: now.addingTimeInterval(30), limit: 10).isEmpty)
            #expect(try await repository.due(now: now.addingTimeInterval(61), limit: 10).map(\.dedupKey) == ["lost"])
        }
    }

    @Test func oneInstanceRefreshesTheTokenAndEveryInstanceUsesIt() async throws {
        try await withPostgresStore { first in
            try await withSecondInstance(of: first) { second in
                let fetches = Mutex(0)
                let now = Date(timeIntervalSince1970: 1_700_000_000)
                let refresh: @Sendable () async throws -> (token: String, expiresIn: Int) = {
                    let n = fetches.withLock { $0 += 1; return $0 }
                    try await Task.sleep(for: .milliseconds(50))
                    return ("token-\(n)", 7200)
                }
                let tokens = try await withThrowingTaskGroup(of: String.self) { group in
                    for index in 0..<12 {
                        let store = PostgresTokenStore(store: index % 2 == 0 ? first : second)
                        group.addTask { try await store.token(key: "corp:abc", now: now, margin: 300, refresh: refresh).token }
                    }
                    var all: [String] = []
                    for try await token in group { all.append(token) }
                    return all
                }
                #expect(fetches.withLock { $0 } == 1)
                #expect(Set(tokens) == ["token-1"])
                let store = PostgresTokenStore(store: first)
                // A stale token reported invalid does not remove the fresh one (compare-and-swap).
                try await store.invalidate(key: "corp:abc", token: "token-0")
                #expect(try await store.token(key: "corp:abc", now: now, margin: 300, refresh: refresh).token == "token-1")
                try await store.invalidate(key: "corp:abc", token: "token-1")
                #expect(try await store.token(key: "corp:abc", now: now, margin: 300, refresh: refresh).token == "token-2")
                // Near expiry, the next caller refreshes.
                let late = now.addingTimeInterval(7200 - 100)
                #expect(try await store.token(key: "corp:abc", now: late, margin: 300, refresh: refresh).token == "token-3")
            }
        }
    }

    @Test func instancesTogetherStayUnderTheCallQuota() async throws {
        try await withPostgresStore { first in
            try await withSecondInstance(of: first) { second in
                let windows = [CallWindow(seconds: 60, limit: 10)]
                let granted = try await withThrowingTaskGroup(of: Int.self) { group in
                    for index in 0..<30 {
                        let budget = PostgresCallBudget(store: index % 2 == 0 ? first : second)
                        group.addTask { try await budget.take(api: "externalcontact/get", second: 1_700_000_000, windows: windows) == 0 ? 1 : 0 }
                    }
                    return try await group.reduce(0, +)
                }
                #expect(granted == 10)
                let budget = PostgresCallBudget(store: first)
                #expect(try await budget.take(api: "externalcontact/get", second: 1_700_000_030, windows: windows) == 30)
                #expect(try await budget.take(api: "externalcontact/list", second: 1_700_000_030, windows: windows) == 0, "quota is per API")
                #expect(try await budget.take(api: "externalcontact/get", second: 1_700_000_060, windows: windows) == 0, "the window moved on")
            }
        }
    }

    @Test func aScheduledJobRunsOnOneInstanceAndMovesWhenItsHolderDies() async throws {
        try await withPostgresStore { first in
            try await withSecondInstance(of: first) { dying in
                let lock = PostgresJobLock(store: first)
                let (started, startedContinuation) = AsyncStream.makeStream(of: Void.self)
                let (release, releaseContinuation) = AsyncStream.makeStream(of: Void.self)
                let cancelled = Mutex(false)
                let holder = Task {
                    var dyingLock = PostgresJobLock(store: dying)
                    dyingLock.checkEvery = .milliseconds(100)
                    return try await dyingLock.withLock("sync") {
                        startedContinuation.yield()
                        for await _ in release {}
                        cancelled.withLock { $0 = Task.isCancelled }
                    }
                }
                for await _ in started { break }
                #expect(try await lock.withLock("sync") {} == false, "held by the other instance")
                #expect(try await lock.withLock("regrade") {} == true, "other jobs are free")
                // The holder's instance dies in the middle of the job: the server loses its
                // session (as on kill -9 or a network cut), and the lock with it.
                try await Self.terminateHolder(of: first.lockName("job.sync"), in: first)
                var ran = false
                for _ in 0..<50 where !ran {
                    ran = try await lock.withLock("sync") {}
                    if !ran { try await Task.sleep(for: .milliseconds(100)) }
                }
                #expect(ran, "the job moved to the surviving instance")
                // The process whose session dropped lives on: its job is cancelled rather than
                // running beside the survivor's.
                for _ in 0..<50 where !cancelled.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(100)) }
                #expect(cancelled.withLock { $0 }, "the job of the lost session was cancelled")
                releaseContinuation.finish()
                if case .success = await holder.result { Issue.record("withLock reported success after losing its session") }
            }
        }
    }

    @Test func anInstanceWhoseSessionDroppedTakesItsPresenceAgain() async throws {
        try await withPostgresStore { store in
            var presence = PostgresInstancePresence(store: store)
            presence.checkEvery = .milliseconds(100)
            let name = store.lockName("instance." + presence.instance)
            try await presence.holding {
                let before = try #require(try await Self.holder(of: name, in: store))
                try await Self.terminateHolder(of: name, in: store)
                var after: Int32?
                for _ in 0..<50 {
                    after = try await Self.holder(of: name, in: store)
                    if let after, after != before { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(after != nil && after != before, "the presence is held again, on a new session")
            }
            #expect(try await Self.holder(of: name, in: store) == nil, "released when the instance stops")
        }
    }

    @Test func aSchemaNamedInMixedCaseMigratesOnEveryStart() async throws {
        let url = try #require(StoreBackend.postgresURL)
        let schema = "Test_Mixed_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(8)
        let store = try PostgresStore(url: url, schema: schema, maximumConnections: 2, logger: Logger(label: "test"))
        try await store.withRunning { store in
            try await store.migrate()
            let applied = try await store.appliedMigrations()
            // A second start finds the schema the first made (unquoted names fold to lower case).
            try await store.migrate()
            #expect(try await store.appliedMigrations() == applied)
            #expect(!applied.isEmpty)
            try await store.dropSchema()
        }
    }

    /// The backend holding the session advisory lock `name` (as `hashtext` keys it), if any.
    static func holder(of name: String, in store: PostgresStore) async throws -> Int32? {
        for try await pid in try await store.client.query(
            """
            SELECT pid FROM pg_locks
            WHERE locktype = 'advisory' AND granted AND objsubid = 1
              AND objid = (hashtext(\(name))::bigint & 4294967295)::oid
              AND classid = ((hashtext(\(name))::bigint >> 32) & 4294967295)::oid
            """
        ).decode(Int32.self) {
            return pid
        }
        return nil
    }

    /// Ends the session holding the lock, as the server does on kill -9 of the client or a network cut.
    static func terminateHolder(of name: String, in store: PostgresStore) async throws {
        guard let pid = try await holder(of: name, in: store) else { throw StoreFailure("nobody holds \(name)") }
        try await store.client.query("SELECT pg_terminate_backend(\(pid))")
    }
}
