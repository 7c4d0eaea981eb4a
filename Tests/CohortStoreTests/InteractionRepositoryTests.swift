import CohortCore
import CohortStore
import Foundation
import Testing

/// Interactions are matched to contacts by external_userid, unionid or a remark phone, and
/// kept until their contact appears.
struct InteractionRepositoryTests {
    let database: CohortDatabase
    let directory: SQLiteDirectoryRepository
    let interactions: SQLiteInteractionRepository
    let now = Date(timeIntervalSince1970: 1_795_392_000)

    init() throws {
        database = try CohortDatabase()
        directory = SQLiteDirectoryRepository(database: database, corpID: "wwcorp")
        interactions = SQLiteInteractionRepository(database: database, corpID: "wwcorp")
    }

    func order(_ reference: ContactReference, id: String, cents: Int64 = 100) -> Interaction {
        Interaction(kind: "order", contact: reference, occurredAt: 1_795_000_000, amountCents: cents, source: "shop", sourceID: id)
    }

    @Test func phoneAndUnionIDFindTheContactAndReimportsAreIdempotent() async throws {
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

    @Test func anInteractionForAnUnknownContactIsKeptAndMatchedWhenTheContactAppears() async throws {
        let counts = try await interactions.store([order(.externalUserID("wmLATER"), id: "9")], at: now)
        #expect(counts.unmatched == 1)
        #expect(try await interactions.matchPending().isEmpty)
        _ = try await directory.upsert(Contact(externalUserID: "wmLATER"), relations: [Relation(externalUserID: "wmLATER", userID: "lisi")], at: now)
        #expect(try await interactions.matchPending() == ["wmLATER"])
        #expect(try await interactions.interactions(of: "wmLATER").count == 1)
    }

    @Test func referencesResolveToTheContactsTheyNameNow() async throws {
        _ = try await directory.upsert(
            Contact(externalUserID: "wmB", unionID: "oB"),
            relations: [Relation(externalUserID: "wmB", userID: "zhangsan", remarkMobiles: ["13900139000"])], at: now)
        let found = try await interactions.resolve([.phone("13900139000"), .unionID("oB"), .externalUserID("wmNOBODY")])
        #expect(found == ["wmB"])
    }

    @Test func oneContactsEventMatchesOnlyTheRowsThatNameIt() async throws {
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
