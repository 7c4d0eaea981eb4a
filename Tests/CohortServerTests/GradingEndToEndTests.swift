import CohortConfig
import CohortCore
import CohortPostgres
import CohortServer
import CohortStore
import CohortSync
import CohortTesting
import Foundation
import Testing
import WeComKit
import WeComSimulator

/// Interactions in, grades and tags out, written to the simulator through the queue.
@Suite struct GradingEndToEndTests {
    static let grading = """
        timezone: Asia/Shanghai
        rfm:
          window: 365d
        lifecycle:
          - to: customer
            from: [potential]
            when: |
              orders(within: 365d) >= 1
        """
    static let tags = """
        groups:
          - name: 价值
            owner: rules
            exclusive: true
            tags:
              - name: 高价值
                rule: abc == "A"
              - name: 其他
                rule: abc in ["B", "C"]
          - name: 活跃
            owner: rules
            tags:
              - name: 买过
                rule: orders() >= 1
              - name: 新客
                rule: lifecycle == "potential"
          - name: 等级
            owner: staff
        """

    static func rules() throws -> GradingRules {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-grading-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try grading.write(to: directory.appendingPathComponent("grading.yaml"), atomically: true, encoding: .utf8)
        try tags.write(to: directory.appendingPathComponent("tags.yaml"), atomically: true, encoding: .utf8)
        return try GradingLoader(directory: directory.path).load()
    }

    /// The rule-group tag names each simulator relation carries, `group/name`.
    static func simulatorTags(_ simulator: WeComSimulator, groups: Set<String>) async -> [RelationKey: Set<String>] {
        let corp = await simulator.corp
        var result: [RelationKey: Set<String>] = [:]
        for (userid, relations) in corp.relations {
            for (external, relation) in relations {
                var names: Set<String> = []
                for id in relation.tagIDs {
                    guard let tag = corp.tags[id], let group = corp.groups[tag.groupID], groups.contains(group.name) else { continue }
                    names.insert("\(group.name)/\(tag.name)")
                }
                result[RelationKey(externalUserID: external, userID: userid)] = names
            }
        }
        return result
    }

    /// The directory, interactions and grading stores of one corp on `backend`.
    static func withGradingStores(
        _ backend: StoreBackend, corpID: String,
        _ body: (any DirectoryRepository, any InteractionRepository, any GradingRepository & PlatformOpRepository) async throws -> Void
    ) async throws {
        switch backend {
        case .sqlite:
            let database = try CohortDatabase(inMemory: ())
            try await body(
                SQLiteDirectoryRepository(database: database, corpID: corpID), SQLiteInteractionRepository(database: database, corpID: corpID),
                SQLiteGradingRepository(database: database, corpID: corpID))
        case .postgres:
            try await withPostgresStore { store in
                try await body(
                    PostgresDirectoryRepository(store: store, corpID: corpID), PostgresInteractionRepository(store: store, corpID: corpID),
                    PostgresGradingRepository(store: store, corpID: corpID))
            }
        }
    }

    @Test(arguments: StoreBackend.available)
    func importPlanApplyPutsThePlannedTagsOnThePlatformAndASecondApplyChangesNothing(_ backend: StoreBackend) async throws {
        let corp = SimCorps.corp(relationsPerStaff: [3, 2])
        let platform = SimulatedPlatform(corp: corp)
        try await Self.withGradingStores(backend, corpID: platform.configuration.corpID) { directory, interactions, repository in
            try await Self.importPlanApply(corp: corp, platform: platform, directory: directory, interactions: interactions, repository: repository)
        }
    }

    static func importPlanApply(
        corp: SimCorp, platform: SimulatedPlatform, directory: any DirectoryRepository, interactions: any InteractionRepository,
        repository: any GradingRepository & PlatformOpRepository
    ) async throws {
        let clock = platform.clock
        _ = try await FullSync(client: platform.client(), repository: directory, concurrency: 2, now: { clock.now }).run()
        let customers = corp.customers.keys.sorted()
        let now = Int64(clock.now.timeIntervalSince1970)
        let counts = try await interactions.store(
            [
                Interaction(kind: "order", contact: .externalUserID(customers[0]), occurredAt: now - 86_400, amountCents: 500_000, source: "shop", sourceID: "1"),
                Interaction(kind: "order", contact: .externalUserID(customers[0]), occurredAt: now - 30 * 86_400, amountCents: 300_000, source: "shop", sourceID: "2"),
                Interaction(kind: "order", contact: .externalUserID(customers[1]), occurredAt: now - 10 * 86_400, amountCents: 100_000, source: "shop", sourceID: "3"),
                Interaction(kind: "order", contact: .externalUserID("wmNOBODYYET"), occurredAt: now - 86_400, amountCents: 100, source: "shop", sourceID: "4"),
            ], at: clock.now)
        #expect(counts.inserted == 4)
        #expect(counts.matched == 3)
        #expect(counts.unmatched == 1)

        let rules = try Self.rules()
        let grader = Grader(rules: rules, repository: repository, now: { clock.now })
        let plan = try await grader.plan(callsPerHour: 150_000)
        #expect(plan.contacts == customers.count)
        #expect(plan.platform.markTag == plan.relations)
        #expect(Set(plan.platform.tagsToCreate) == ["价值/高价值", "价值/其他", "活跃/买过", "活跃/新客"])

        let applied = try await grader.apply()
        #expect(applied.written.queuedOps == plan.platform.markTag)
        let writer = TagWriter(client: platform.client(), directory: directory, ops: repository, staffGroups: rules.staffGroups, now: { clock.now })
        let pushed = try await writer.drain()
        #expect(pushed.done == plan.platform.markTag)
        #expect(pushed.failed == 0)

        // The platform now carries exactly what the plan said each tag would gain.
        let onPlatform = await Self.simulatorTags(platform.simulator, groups: ["价值", "活跃"])
        for delta in plan.tags {
            let carriers = onPlatform.filter { $0.value.contains(delta.value) }
            #expect(carriers.count == delta.gain, "\(delta.value)")
            for sample in delta.sampleGain {
                #expect(carriers.keys.contains { $0.description == sample }, "\(delta.value) on \(sample)")
            }
        }
        let buyer = RelationKey(externalUserID: customers[0], userID: "u0")
        #expect(onPlatform[buyer] == ["价值/高价值", "活跃/买过"])
        // Staff-owned tags are untouched.
        let staffTags = await platform.simulator.corp.relation("u0", customers[0])?.tagIDs ?? []
        #expect(staffTags.contains("etTAG0000000000000000000000001"))

        // A fresh sync from the platform, then a second run: nothing left to change.
        _ = try await FullSync(client: platform.client(), repository: directory, concurrency: 2, now: { clock.now }).run()
        let second = try await grader.plan(callsPerHour: 150_000)
        #expect(second.platform.markTag == 0)
        #expect(second.gradesChanged == 0)
        let again = try await grader.apply()
        #expect(again.written.queuedOps == 0)
        #expect(again.written.grades == 0)
        #expect(again.written.transitions == 0)

        // What `explain` reads, and an incremental re-grade after a new order.
        let history = try await repository.lifecycleHistory(of: customers[0])
        #expect(history.last?.to == .customer)
        #expect(history.map(\.at) == history.map(\.at).sorted(), "kept in the order it happened")
        let explained = try await repository.assignments(of: customers[0])
        #expect(explained["u0"]?.map(\.tag).sorted() == ["价值/高价值", "活跃/买过"])
        #expect(explained["u0"]?.allSatisfy { !$0.facts.isEmpty } == true)
        #expect(try await repository.grade(of: customers[1])?.frequency == 1)
        _ = try await interactions.store(
            [Interaction(kind: "order", contact: .externalUserID(customers[1]), occurredAt: now - 3_600, amountCents: 2_000, source: "shop", sourceID: "5")],
            at: clock.now)
        _ = try await grader.regrade([customers[1]])
        #expect(try await repository.grade(of: customers[1])?.frequency == 2)
        #expect(try await repository.grades().count == customers.count)
        #expect(try await repository.counts().failed == 0)
    }

    @Test func aRuleTagStaffRemoveComesBackAndIsReportedAsDrift() async throws {
        let corp = SimCorps.corp(relationsPerStaff: [2])
        let platform = SimulatedPlatform(corp: corp)
        let clock = platform.clock
        let database = try CohortDatabase(inMemory: ())
        let corpID = platform.configuration.corpID
        let directory = SQLiteDirectoryRepository(database: database, corpID: corpID)
        let sync = FullSync(client: platform.client(), repository: directory, concurrency: 2, now: { clock.now })
        _ = try await sync.run()
        let rules = try Self.rules()
        let repository = SQLiteGradingRepository(database: database, corpID: corpID)
        let grader = Grader(rules: rules, repository: repository, now: { clock.now })
        let writer = TagWriter(client: platform.client(), directory: directory, ops: repository, staffGroups: rules.staffGroups, now: { clock.now })
        _ = try await grader.apply()
        _ = try await writer.drain()
        // Staff take 活跃/新客 off one relation by hand.
        let customer = corp.customers.keys.sorted()[0]
        let catalogue = try await directory.catalogue()
        let newTag = try #require(catalogue.first { $0.name == "活跃" }?.tags.first { $0.name == "新客" })
        try await platform.client().markTag(MarkTagRequest(userid: "u0", external_userid: customer, remove_tag: [newTag.id]))
        _ = try await sync.run()
        let report = try await grader.apply()
        #expect(report.drift == 1)
        #expect(report.written.queuedOps == 1)
        _ = try await writer.drain()
        let onPlatform = await Self.simulatorTags(platform.simulator, groups: ["活跃"])
        #expect(onPlatform[RelationKey(externalUserID: customer, userID: "u0")]?.contains("活跃/新客") == true)
    }
}
