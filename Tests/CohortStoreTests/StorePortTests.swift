import CohortCore
import CohortPostgres
import CohortStore
import CohortTesting
import Foundation
import Testing

/// The smaller store ports (config history, retention, overview), the same expectations on
/// SQLite and PostgreSQL.
struct StorePortTests {
    struct Stores {
        var directory: any DirectoryRepository
        var interactions: any InteractionRepository
        var campaigns: any CampaignRepository
        var overview: any OverviewReader
        var history: any ConfigHistory
        var retention: any RetentionStore
    }

    static func withStores(_ backend: StoreBackend, _ body: (Stores) async throws -> Void) async throws {
        switch backend {
        case .sqlite:
            let database = try CohortDatabase()
            try await body(
                Stores(
                    directory: SQLiteDirectoryRepository(database: database, corpID: "ww"),
                    interactions: SQLiteInteractionRepository(database: database, corpID: "ww"),
                    campaigns: SQLiteCampaignRepository(database: database, corpID: "ww"),
                    overview: SQLiteOverviewReader(database: database, corpID: "ww"), history: SQLiteConfigHistory(database: database, corpID: "ww"),
                    retention: SQLiteRetention(database: database, corpID: "ww")))
        case .postgres:
            try await withPostgresStore { store in
                try await body(
                    Stores(
                        directory: PostgresDirectoryRepository(store: store, corpID: "ww"),
                        interactions: PostgresInteractionRepository(store: store, corpID: "ww"),
                        campaigns: PostgresCampaignRepository(store: store, corpID: "ww", instance: "test"),
                        overview: PostgresOverviewReader(store: store, corpID: "ww"), history: PostgresConfigHistory(store: store, corpID: "ww"),
                        retention: PostgresRetention(store: store, corpID: "ww")))
            }
        }
    }

    @Test(arguments: StoreBackend.available)
    func configHistoryRecordsEachNewSetOnceAndFindsItByIdOrVersionPrefix(_ backend: StoreBackend) async throws {
        try await Self.withStores(backend) { stores in
            let history = stores.history
            #expect(try await history.latest() == nil)
            #expect(try await history.record(version: "abc123", files: ["tags.yaml": "groups: []"], at: 10))
            #expect(try await history.record(version: "abc123", files: ["tags.yaml": "groups: []"], at: 11) == false, "the latest already")
            #expect(try await history.record(version: "def456", files: ["tags.yaml": "groups: [a]"], at: 12))
            #expect(try await history.record(version: "abc123", files: ["tags.yaml": "groups: []"], at: 13), "going back is a new set")
            #expect(try await history.latest()?.version == "abc123")
            #expect(try await history.latest()?.appliedAt == 13)
            #expect(try await history.history(limit: 2).map(\.version) == ["abc123", "def456"])
            #expect(try await history.history(limit: 2).allSatisfy { $0.files.isEmpty })
            let all = try await history.all()
            #expect(all.map(\.version) == ["abc123", "def456", "abc123"])
            #expect(all[1].files == ["tags.yaml": "groups: [a]"])
            #expect(try await history.find("def")?.files == ["tags.yaml": "groups: [a]"])
            #expect(try await history.find(String(all[0].id))?.appliedAt == 10)
            #expect(try await history.find("zzz") == nil)
            #expect(try await history.find("%") == nil, "a wildcard is a character, not a pattern")
        }
    }

    @Test(arguments: StoreBackend.available)
    func retentionDropsEndedRelationsAndOldInteractionsBeforeTheCutoffsAndNothingElse(_ backend: StoreBackend) async throws {
        try await Self.withStores(backend) { stores in
            let now = Date(timeIntervalSince1970: 1_795_392_000)
            _ = try await stores.directory.upsert(
                Contact(externalUserID: "wmA"),
                relations: [
                    Relation(externalUserID: "wmA", userID: "old", remarkMobiles: ["13800138000"], tagIDs: ["t1"]),
                    Relation(externalUserID: "wmA", userID: "live"),
                ], at: now)
            _ = try await stores.directory.endRelation(RelationKey(externalUserID: "wmA", userID: "old"), reason: "test", eventTime: 1_700_000_000, at: now)
            _ = try await stores.interactions.store(
                [
                    Interaction(kind: "order", contact: .externalUserID("wmA"), occurredAt: 1_700_000_000, amountCents: 1, source: "s", sourceID: "old"),
                    Interaction(kind: "order", contact: .externalUserID("wmA"), occurredAt: 1_795_000_000, amountCents: 2, source: "s", sourceID: "new"),
                ], at: now)
            // The ended relation ended "now"; a cutoff after it drops it.
            let cutoff = now.addingTimeInterval(1)
            let report = try await stores.retention.apply(endedBefore: cutoff, interactionsBefore: Date(timeIntervalSince1970: 1_750_000_000))
            #expect(report.relations == 1)
            #expect(report.interactions == 1)
            let stored = try await stores.directory.contact("wmA")
            #expect(stored?.relations.map(\.relation.userID) == ["live"])
            #expect(try await stores.interactions.interactions(of: "wmA").map(\.sourceID) == ["new"])
            #expect(try await stores.retention.apply(endedBefore: cutoff, interactionsBefore: nil) == RetentionReport())
        }
    }

    @Test(arguments: StoreBackend.available)
    func theOverviewCountsContactsRelationsCampaignsAndOptOuts(_ backend: StoreBackend) async throws {
        try await Self.withStores(backend) { stores in
            let now = Date(timeIntervalSince1970: 1_795_392_000)
            for (id, staff) in [("wmA", ["u1", "u2"]), ("wmB", ["u1"])] {
                _ = try await stores.directory.upsert(
                    Contact(externalUserID: id), relations: staff.map { Relation(externalUserID: id, userID: $0) }, at: now)
            }
            try await stores.campaigns.start(
                CampaignPlan(
                    campaign: "spring", dispatchAt: 1,
                    recipients: [PlannedRecipient(externalUserID: "wmA", sender: "u1", variant: 0, text: "hi")],
                    exclusions: [PlannedExclusion(externalUserID: "wmB", reason: .holdout, detail: "held out")],
                    tasks: [PlannedTask(sender: "u1", text: "hi", recipients: ["wmA"])]),
                priority: 0, configVersion: "v1", state: .dispatching, at: 1)
            try await stores.campaigns.setOptOut("wmB", reason: "asked", source: "test", at: 2)
            let overview = try await stores.overview.read()
            #expect(overview.contacts == 2)
            #expect(overview.liveRelations == 3)
            #expect(overview.optOuts == 1)
            #expect(overview.graded == 0)
            #expect(overview.campaigns.map(\.name) == ["spring"])
            #expect(overview.campaigns.first?.recipients == ["planned": 1, "excluded": 1])
            #expect(overview.campaigns.first?.tasks == 0, "no task created on the platform yet")
        }
    }
}
