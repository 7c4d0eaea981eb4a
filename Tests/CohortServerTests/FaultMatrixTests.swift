import CohortConfig
import CohortCore
import CohortServer
import CohortStore
import CohortSync
import CohortTesting
import Foundation
import Testing
import WeComKit
import WeComSimulator

/// Each kind of platform fault, injected into every API call at a steady rate during a full
/// sync, the tag write-back of a grading run and a campaign's dispatch: the end state (the
/// store's directory, the tags on the platform, who got the campaign from whom) equals the
/// fault-free run's.
@Suite struct FaultMatrixTests {
    struct EndState: Equatable, CustomStringConvertible {
        var directory: [String]
        var tags: [String]
        var campaign: [String]
        var sentTwice: Int
        var faultsInjected: Int

        var description: String {
            "\(directory.count) directory rows, \(tags.count) tagged relations, \(campaign.count) recipients, \(sentTwice) sent twice"
        }
    }

    static let campaigns = """
        dispatch:
          frequency_caps: []
          error_window: 50
          pause_error_rate: 0.9
        campaigns:
          - name: spring
            segment: buyers
            template: hello.mustache
        """

    static func run(_ faults: [SimulatorFault]) async throws -> EndState {
        let corp = SimulatorDataset(staff: 4, contacts: 120, seed: 5).generate()
        let platform = SimulatedPlatform(corp: corp) { $0.seed = 99 }
        for fault in faults { await platform.simulator.addFault(fault) }
        let clock = platform.clock
        let database = try CohortDatabase(inMemory: ())
        let corpID = platform.configuration.corpID
        let directory = SQLiteDirectoryRepository(database: database, corpID: corpID)

        // Sync.
        _ = try await FullSync(client: platform.client(), repository: directory, concurrency: 4, now: { clock.now }).run()

        // Orders for every third customer, then a graded run whose tags go to the platform.
        let customers = corp.customers.keys.sorted()
        let now = Int64(clock.now.timeIntervalSince1970)
        let orders = customers.enumerated().filter { $0.offset % 3 == 0 }.map { index, id in
            Interaction(kind: "order", contact: .externalUserID(id), occurredAt: now - Int64(index) * 3_600, amountCents: Int64(1_000 + index * 100), source: "shop", sourceID: "o\(index)")
        }
        _ = try await SQLiteInteractionRepository(database: database, corpID: corpID).store(orders, at: clock.now)
        let rules = try GradingEndToEndTests.rules()
        let repository = SQLiteGradingRepository(database: database, corpID: corpID)
        _ = try await Grader(rules: rules, repository: repository, now: { clock.now }).apply()
        let writer = TagWriter(client: platform.client(), directory: directory, ops: repository, staffGroups: rules.staffGroups, now: { clock.now })
        for _ in 0..<20 {
            _ = try await writer.drain()
            if try await repository.counts().pending == 0 { break }
            clock.advance(3_600 * 3)  // past any retry backoff
        }

        // A campaign to the buyers, dispatched until every task is on the platform.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-faults-\(UUID().uuidString)")
        let templates = folder.appendingPathComponent("Templates")
        try FileManager.default.createDirectory(at: templates, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try "segments:\n  - name: buyers\n    rule: frequency >= 1\n".write(
            to: folder.appendingPathComponent("segments.yaml"), atomically: true, encoding: .utf8)
        try campaigns.write(to: folder.appendingPathComponent("campaigns.yaml"), atomically: true, encoding: .utf8)
        try "{{staff.userid}}：感谢惠顾 {{grade.frequency}} 次".write(to: templates.appendingPathComponent("hello.mustache"), atomically: true, encoding: .utf8)
        let campaignRules = try CampaignLoader(directory: folder.path, templatesDirectory: templates.path).load(grading: rules)
        let ledger = SQLiteCampaignRepository(database: database, corpID: corpID)
        let desk = CampaignDesk(grading: rules, rules: campaignRules, gradingRepository: repository, ledger: ledger, now: { clock.now })
        _ = try await desk.start("spring")
        let dispatcher = CampaignDispatcher(
            client: platform.client(), ledger: ledger, config: campaignRules.config, now: { clock.now }, sleep: { clock.sleep($0) })
        for _ in 0..<30 {
            _ = try await dispatcher.dispatch(campaign: "spring")
            if try await ledger.undispatchedCount(campaign: "spring") == 0 { break }
            clock.advance(600)
        }

        // The end state, without times (faults move the clock).
        let stored = try await directory.contacts(ContactFilter(includeEnded: true))
        let rows = stored.flatMap { contact in
            contact.relations.map { relation in
                "\(contact.contact.externalUserID) \(contact.contact.name ?? "") \(relation.relation.userID) \(relation.endedAt == nil) \(relation.relation.remark ?? "") \(relation.relation.tagIDs.map { relation.tagNames[$0] ?? $0 }.sorted())"
            }
        }.sorted()
        let tags = await GradingEndToEndTests.simulatorTags(platform.simulator, groups: ["价值", "活跃"])
            .map { "\($0.key) \($0.value.sorted())" }.sorted()
        var sent: [String: [String]] = [:]
        for task in await platform.simulator.createdTasks() {
            for part in task.parts { for recipient in part.recipients { sent[recipient, default: []].append("\(part.userid): \(task.text ?? "")") } }
        }
        return EndState(
            directory: rows, tags: tags, campaign: sent.map { "\($0.key) \($0.value.first ?? "")" }.sorted(),
            sentTwice: sent.values.count { $0.count > 1 }, faultsInjected: await platform.simulator.calls.count { $0.fault != nil })
    }

    static let kinds: [(String, SimulatorFault)] = [
        ("errcode -1", .errcode(-1, rate: 0.05)),
        ("errcode 45033", .errcode(45033, rate: 0.05)),
        ("errcode 45009", .errcode(45009, rate: 0.02)),
        ("HTTP 500", .http(500, rate: 0.05)),
        ("HTTP 502", .http(502, rate: 0.05)),
        ("dropped connection", SimulatorFault(kind: .drop, rate: 0.05)),
        ("lost answer", SimulatorFault(kind: .lostAnswer, rate: 0.05)),
        ("latency", SimulatorFault(kind: .latency, latency_ms: 2, rate: 0.1)),
        ("token invalidated", SimulatorFault(kind: .invalidateToken, rate: 0.03)),
        ("token expired", SimulatorFault(kind: .expireToken, rate: 0.03)),
    ]

    @Test(arguments: 0..<kinds.count)
    func theEndStateUnderAFaultEqualsTheFaultFreeRun(_ kind: Int) async throws {
        let baseline = try await Self.run([])
        #expect(!baseline.campaign.isEmpty && !baseline.tags.isEmpty && !baseline.directory.isEmpty)
        let (name, fault) = Self.kinds[kind]
        let faulted = try await Self.run([fault])
        func differences(_ a: [String], _ b: [String]) -> [String] {
            Array(Set(a).symmetricDifference(Set(b)).sorted().prefix(3)) + (a.count == b.count ? [] : ["\(a.count) rows against \(b.count)"])
        }
        #expect(faulted.faultsInjected >= 5, "\(name): only \(faulted.faultsInjected) calls were faulted")
        #expect(faulted.sentTwice == 0, "\(name): someone got the campaign twice")
        #expect(differences(faulted.directory, baseline.directory) == [], "\(name): the directory differs")
        #expect(differences(faulted.tags, baseline.tags) == [], "\(name): the platform's tags differ")
        #expect(differences(faulted.campaign, baseline.campaign) == [], "\(name): the campaign's recipients differ")
    }
}
