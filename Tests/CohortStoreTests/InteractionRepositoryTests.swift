import CohortCore
import CohortPostgres
import CohortStore
import CohortTesting
import Foundation
import Testing

/// A directory and the interactions beside it, for corp `wwcorp` on `backend`.
func withInteractions(
    _ backend: StoreBackend, _ body: (any DirectoryRepository, any InteractionRepository) async throws -> Void
) async throws {
    switch backend {
    case .sqlite:
        let database = try CohortDatabase()
        try await body(
            SQLiteDirectoryRepository(database: database, corpID: "wwcorp"), SQLiteInteractionRepository(database: database, corpID: "wwcorp"))
    case .postgres:
        try await withPostgresStore { store in
            try await body(PostgresDirectoryRepository(store: store, corpID: "wwcorp"), PostgresInteractionRepository(store: store, corpID: "wwcorp"))
        }
    }
}

/// Interactions are matched to contacts by external_userid, unionid or a remark phone, and
/// kept until their contact appears. Both backends.
struct InteractionRepositoryTests {
    let now = Date(timeIntervalSince1970: 1_795_392_000)

    func order(_ reference: ContactReference, id: String, cents: Int64 = 100) -> Interaction {
        Interaction(kind: "order", contact: reference, occurredAt: 1_795_000_000, amountCents: cents, source: "shop", sourceID: id)
    }

    @Test(arguments: StoreBackend.available)
    func phoneAndUnionIDFindTheContactAndReimportsAreIdempotent(_ backend: StoreBackend) async throws {
        try await withInteractions(backend) { directory, interactions in
            _ = try await directory.upsert(
                Contact(externalUserID: "wmA", unionID: "oUNION"),
                relations: [Relation(externalUserID: "wmA", userID: "zhangsan", remarkMobiles: ["+86 138 0013 8000"])], at: now)
            let batch = [order(.phone("13800138000"), id: "1"), order(.unionID("oUNION"), id: "2"), order(.externalUserID("wmA"), id: "3")]
            let first = try await interactions.store(batch, at: now)
            #expect(first == InteractionImportCounts(inserted: 3, matched: 3))
            let again = try await interactions.store(batch, at: now)
            #expect(again == InteractionImportCounts(unchanged: 3, matched: 3))
            let corrected = try await interactions.store([order(.phone("13800138000"), id: "1", cents: 250)], at: now)
            #expect(corrected.updated == 1)
            let stored = try await interactions.interactions(of: "wmA")
            #expect(stored.count == 3)
            #expect(stored.contains { $0.sourceID == "1" && $0.amountCents == 250 })
        }
    }

    @Test(arguments: StoreBackend.available)
    func anInteractionForAnUnknownContactIsKeptAndMatchedWhenTheContactAppears(_ backend: StoreBackend) async throws {
        try await withInteractions(backend) { directory, interactions in
            let counts = try await interactions.store([order(.externalUserID("wmLATER"), id: "9")], at: now)
            #expect(counts.unmatched == 1)
            #expect(try await interactions.matchPending().isEmpty)
            _ = try await directory.upsert(Contact(externalUserID: "wmLATER"), relations: [Relation(externalUserID: "wmLATER", userID: "lisi")], at: now)
            #expect(try await interactions.matchPending() == ["wmLATER"])
            #expect(try await interactions.interactions(of: "wmLATER").count == 1)
        }
    }

    @Test(arguments: StoreBackend.available)
    func referencesResolveToTheContactsTheyNameNow(_ backend: StoreBackend) async throws {
        try await withInteractions(backend) { directory, interactions in
            _ = try await directory.upsert(
                Contact(externalUserID: "wmB", unionID: "oB"),
                relations: [Relation(externalUserID: "wmB", userID: "zhangsan", remarkMobiles: ["13900139000"])], at: now)
            let found = try await interactions.resolve([.phone("13900139000"), .unionID("oB"), .externalUserID("wmNOBODY")])
            #expect(found == ["wmB"])
        }
    }

    @Test(arguments: StoreBackend.available)
    func oneContactsEventMatchesOnlyTheRowsThatNameIt(_ backend: StoreBackend) async throws {
        try await withInteractions(backend) { directory, interactions in
            _ = try await interactions.store([order(.phone("13700137000"), id: "p1"), order(.externalUserID("wmOTHER"), id: "o1")], at: now)
            _ = try await directory.upsert(
                Contact(externalUserID: "wmC"), relations: [Relation(externalUserID: "wmC", userID: "lisi", remarkMobiles: ["13700137000"])], at: now)
            _ = try await directory.upsert(Contact(externalUserID: "wmOTHER"), relations: [Relation(externalUserID: "wmOTHER", userID: "lisi")], at: now)
            #expect(try await interactions.matchPending(contact: "wmC") == ["wmC"])
            #expect(try await interactions.interactions(of: "wmC").count == 1)
            #expect(try await interactions.interactions(of: "wmOTHER").isEmpty)
            #expect(try await interactions.matchPending() == ["wmOTHER"])
        }
    }
}
