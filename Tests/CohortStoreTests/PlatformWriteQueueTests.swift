import CohortCore
import CohortPostgres
import CohortStore
import CohortTesting
import Foundation
import Testing

/// The platform write queue (mark_tag) on each store: a write the rules replace while it is in
/// flight is a new write, which the old one's outcome neither completes, fails nor delays.
@Suite struct PlatformWriteQueueTests {
    static func withQueue(_ backend: StoreBackend, _ body: (any GradingRepository & PlatformOpRepository) async throws -> Void) async throws {
        switch backend {
        case .sqlite:
            try await body(SQLiteGradingRepository(database: try CohortDatabase(), corpID: "ww"))
        case .postgres:
            try await withPostgresStore { store in try await body(PostgresGradingRepository(store: store, corpID: "ww")) }
        }
    }

    static let key = RelationKey(externalUserID: "wmA", userID: "zhangsan")

    static func queue(_ repository: any GradingRepository & PlatformOpRepository, add: [String], remove: [String] = [], at time: Date) async throws {
        _ = try await repository.savePlans([RelationTagPlan(key: key, add: add, remove: remove)], dropping: [], at: time)
    }

    @Test(arguments: StoreBackend.available)
    func aWriteReplacedInFlightOutlivesTheOldOnesFailure(_ backend: StoreBackend) async throws {
        try await Self.withQueue(backend) { repository in
            let t0 = Date(timeIntervalSince1970: 1_800_000_000)
            try await Self.queue(repository, add: ["等级/金卡"], at: t0)
            let old = try #require(try await repository.due(at: t0, limit: 10).first)
            // The rules change their mind while the call is in flight.
            try await Self.queue(repository, add: [], remove: ["等级/金卡"], at: t0.addingTimeInterval(1))
            try await repository.fail(old, error: "errcode 40068", retryAt: nil, at: t0.addingTimeInterval(2))
            #expect(try await repository.counts() == PlatformOpCounts(pending: 1))
            let next = try #require(try await repository.due(at: t0.addingTimeInterval(3), limit: 10).first)
            #expect(next.payload.remove == ["等级/金卡"])
            #expect(next.attempts == 0)
        }
    }

    @Test(arguments: StoreBackend.available)
    func aWriteReplacedInFlightOutlivesTheOldOnesSuccess(_ backend: StoreBackend) async throws {
        try await Self.withQueue(backend) { repository in
            let t0 = Date(timeIntervalSince1970: 1_800_000_000)
            try await Self.queue(repository, add: ["等级/金卡"], at: t0)
            let old = try #require(try await repository.due(at: t0, limit: 10).first)
            try await Self.queue(repository, add: ["等级/银卡"], remove: ["等级/金卡"], at: t0.addingTimeInterval(1))
            try await repository.complete(old, addedTagIDs: [], removedTagIDs: [], at: t0.addingTimeInterval(2))
            #expect(try await repository.counts() == PlatformOpCounts(pending: 1))
            let next = try #require(try await repository.due(at: t0.addingTimeInterval(3), limit: 10).first)
            #expect(next.payload.add == ["等级/银卡"])
            try await repository.complete(next, addedTagIDs: [], removedTagIDs: [], at: t0.addingTimeInterval(4))
            #expect(try await repository.counts() == PlatformOpCounts(done: 1))
        }
    }

    @Test(.enabled(if: StoreBackend.postgresURL != nil, "needs COHORT_TEST_POSTGRES_URL"))
    func aReplacementIsNotTakenByAnotherInstanceWhileTheOldWriteIsInFlight() async throws {
        try await withPostgresStore { store in
            try await withSecondInstance(of: store) { otherStore in
                let mine = PostgresGradingRepository(store: store, corpID: "ww")
                let theirs = PostgresGradingRepository(store: otherStore, corpID: "ww")
                let t0 = Date(timeIntervalSince1970: 1_800_000_000)
                try await Self.queue(mine, add: ["等级/金卡"], at: t0)
                let old = try #require(try await mine.due(at: t0, limit: 10).first)
                try await Self.queue(theirs, add: [], remove: ["等级/金卡"], at: t0.addingTimeInterval(1))
                // Two calls for one relation at once could land in either order.
                #expect(try await theirs.due(at: t0.addingTimeInterval(2), limit: 10).isEmpty)
                try await mine.complete(old, addedTagIDs: ["t-gold"], removedTagIDs: [], at: t0.addingTimeInterval(3))
                let next = try #require(try await theirs.due(at: t0.addingTimeInterval(4), limit: 10).first)
                #expect(next.payload.remove == ["等级/金卡"])
            }
        }
    }
}
