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

/// Segments, a campaign plan, dispatch and results against the simulator.
@Suite struct CampaignEndToEndTests {
    static let segments = """
        segments:
          - name: everyone
            rule: relations >= 1
          - name: wecom_users
            rule: contact_type == "wecom"
        """

    static func campaigns(holdout: Double = 0.05, cap: Int = 500, template: String = "hello.mustache") -> String {
        """
        dispatch:
          frequency_caps: [platform_quota]
          opt_out_tags: [投诉处理中]
        campaigns:
          - name: spring
            segment: everyone
            template: \(template)
            variants:
              - segment: wecom_users
                template: business.mustache
            holdout: \(holdout)
            max_tasks_per_sender: \(cap)
        """
    }

    struct Setup {
        var platform: SimulatedPlatform
        var database: CohortDatabase
        var desk: CampaignDesk
        var ledger: SQLiteCampaignRepository
        var config: CampaignsConfig
    }

    static func setup(staff: Int, contacts: Int, campaigns: String = campaigns()) async throws -> Setup {
        let corp = SimulatorDataset(staff: staff, contacts: contacts, seed: 11).generate()
        let platform = SimulatedPlatform(corp: corp) { $0.confirmDelaySeconds = 60 }
        let clock = platform.clock
        let database = try CohortDatabase(inMemory: ())
        let corpID = platform.configuration.corpID
        _ = try await FullSync(
            client: platform.client(), repository: SQLiteDirectoryRepository(database: database, corpID: corpID), concurrency: 4,
            now: { clock.now }
        ).run()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-campaign-\(UUID().uuidString)")
        let templates = directory.appendingPathComponent("Templates")
        try FileManager.default.createDirectory(at: templates, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try segments.write(to: directory.appendingPathComponent("segments.yaml"), atomically: true, encoding: .utf8)
        try campaigns.write(to: directory.appendingPathComponent("campaigns.yaml"), atomically: true, encoding: .utf8)
        try "您好，我是{{#staff.name}}{{staff.name}}{{/staff.name}}{{^staff.name}}顾问{{/staff.name}}，春季上新 <b>&</b> 欢迎选购。"
            .write(to: templates.appendingPathComponent("hello.mustache"), atomically: true, encoding: .utf8)
        try "{{contact.external_userid}}，您好：春季上新。"
            .write(to: templates.appendingPathComponent("personal.mustache"), atomically: true, encoding: .utf8)
        try "{{staff.userid}} 为贵司准备了春季采购方案。"
            .write(to: templates.appendingPathComponent("business.mustache"), atomically: true, encoding: .utf8)
        let grading = try GradingLoader(directory: directory.path).load()
        let rules = try CampaignLoader(directory: directory.path, templatesDirectory: templates.path).load(grading: grading)
        let ledger = SQLiteCampaignRepository(database: database, corpID: corpID)
        let desk = CampaignDesk(
            grading: grading, rules: rules, gradingRepository: SQLiteGradingRepository(database: database, corpID: corpID), ledger: ledger,
            now: { clock.now })
        return Setup(platform: platform, database: database, desk: desk, ledger: ledger, config: rules.config)
    }

    @Test func aCampaignToFiveThousandContactsOverFiftyStaffPutsEveryEligibleContactInExactlyOneTask() async throws {
        let setup = try await Self.setup(staff: 50, contacts: 5_000)
        let clock = setup.platform.clock
        let contacts = await setup.platform.simulator.corp.customers.keys.sorted()
        try await setup.ledger.setOptOut(contacts[0], reason: "asked", source: "test", at: 0)
        try await setup.ledger.setOptOut(contacts[1], reason: "asked", source: "test", at: 0)

        let plan = try await setup.desk.start("spring")
        let snapshot = try await setup.desk.snapshot()
        let members = try #require(snapshot.size(of: "everyone"))
        #expect(members == 5_000)
        let excluded = plan.exclusions.filter { $0.reason != .duplicateOwner }
        // Everyone in the segment is either planned or excluded with a reason, once.
        #expect(plan.recipients.count + excluded.count == members)
        #expect(Set(plan.recipients.map(\.externalUserID)).count == plan.recipients.count)
        #expect(excluded.count { $0.reason == .optedOut && $0.detail.contains("asked") } == 2)
        let holdout = excluded.count { $0.reason == .holdout }
        #expect(holdout > 150 && holdout < 350, "about 5% of 5,000")
        #expect(plan.exclusions.contains { $0.reason == .duplicateOwner }, "the dataset has shared contacts")
        // Both variants render; the text is never HTML-escaped.
        #expect(plan.recipients.contains { $0.text.contains("<b>&</b>") })
        #expect(plan.recipients.contains { $0.variant == 0 } && plan.recipients.contains { $0.variant == 1 })

        let dispatcher = CampaignDispatcher(
            client: setup.platform.client(), ledger: setup.ledger, config: setup.config, now: { clock.now }, sleep: { clock.sleep($0) })
        let report = try await dispatcher.dispatch(campaign: "spring")
        #expect(report.tasksCreated == plan.tasks.count)
        #expect(report.failed == 0)
        #expect(report.completedCampaigns == ["spring"])

        // Every planned recipient is in exactly one simulator task, sent by the planned sender.
        let tasks = await setup.platform.simulator.createdTasks()
        #expect(tasks.count == plan.tasks.count)
        var seen: [String: String] = [:]
        for task in tasks {
            for part in task.parts {
                for recipient in part.recipients {
                    #expect(seen.updateValue(part.userid, forKey: recipient) == nil, "\(recipient) in two tasks")
                }
            }
        }
        let planned = Dictionary(uniqueKeysWithValues: plan.recipients.map { ($0.externalUserID, $0.sender) })
        #expect(seen == planned)
        for exclusion in excluded { #expect(seen[exclusion.externalUserID] == nil) }

        // Staff confirm after a minute; the poller brings the results in.
        clock.advance(120)
        let poller = CampaignResultPoller(client: setup.platform.client(), ledger: setup.ledger, settings: setup.config.dispatch, now: { clock.now })
        let polled = try await poller.poll()
        #expect(polled.completedCampaigns == ["spring"])
        let settled = await setup.platform.simulator.createdTasks()
        let delivered = settled.flatMap(\.parts).flatMap(\.results).count { $0.value == 1 }
        let quota = settled.flatMap(\.parts).flatMap(\.results).count { $0.value == 3 }
        let final = try #require(try await setup.ledger.report("spring"))
        #expect(final.state == .completed)
        #expect(final.planned == plan.recipients.count)
        #expect(final.delivered == delivered)
        #expect(final.failed["quota", default: 0] == quota)
        #expect(final.delivered + final.failed.values.reduce(0, +) == plan.recipients.count)
        #expect(final.excluded["holdout"] == holdout)
        #expect(final.excluded["opted_out"] == excluded.count { $0.reason == .optedOut })
        #expect(final.tasksCreated == tasks.count)
        #expect(final.tasksConfirmed == tasks.count)
        #expect(final.duplicateOwners == plan.exclusions.count { $0.reason == .duplicateOwner })
    }

    @Test func aCallWhoseAnswerIsLostIsAdoptedFromThePlatformNotSentTwice() async throws {
        let setup = try await Self.setup(staff: 4, contacts: 60, campaigns: Self.campaigns(holdout: 0))
        let clock = setup.platform.clock
        let plan = try await setup.desk.start("spring")
        // The platform creates the second task, but its answer never arrives.
        await setup.platform.simulator.addFault(SimulatorFault(kind: .lostAnswer, endpoint: "externalcontact/add_msg_template", count: 1, after: 1))
        let dispatcher = CampaignDispatcher(
            client: setup.platform.client(), ledger: setup.ledger, config: setup.config, now: { clock.now }, sleep: { clock.sleep($0) })
        let report = try await dispatcher.dispatch(campaign: "spring")
        #expect(report.resolvedAdopted == 1)
        #expect(report.resolvedRequeued == 0)
        let tasks = await setup.platform.simulator.createdTasks()
        #expect(tasks.count == plan.tasks.count, "no task was created twice")
        let recipients = tasks.flatMap(\.parts).flatMap(\.recipients)
        #expect(recipients.count == plan.recipients.count)
        #expect(Set(recipients).count == recipients.count)
        let ledgerTasks = try await setup.ledger.tasks(campaign: "spring")
        #expect(ledgerTasks.allSatisfy { $0.state == .created && $0.msgid != nil })
        #expect(Set(ledgerTasks.compactMap(\.msgid)) == Set(tasks.map(\.msgid)))
    }

    @Test func aCallThatNeverReachedThePlatformIsSentAgainAfterACrash() async throws {
        let setup = try await Self.setup(staff: 3, contacts: 30, campaigns: Self.campaigns(holdout: 0))
        let clock = setup.platform.clock
        let plan = try await setup.desk.start("spring")
        // A crash between marking the call and making it: the task is left in flight.
        let due = try await setup.ledger.dueTasks(campaign: "spring", now: Int64(clock.now.timeIntervalSince1970), limit: 1)
        let first = try #require(due.first)
        _ = try await setup.ledger.markCalling(first.id, at: Int64(clock.now.timeIntervalSince1970))
        clock.advance(10)
        let dispatcher = CampaignDispatcher(
            client: setup.platform.client(), ledger: setup.ledger, config: setup.config, now: { clock.now }, sleep: { clock.sleep($0) })
        let report = try await dispatcher.dispatch(campaign: "spring")
        #expect(report.resolvedRequeued == 1)
        #expect(report.resolvedAdopted == 0)
        let tasks = await setup.platform.simulator.createdTasks()
        #expect(tasks.count == plan.tasks.count)
        let recipients = tasks.flatMap(\.parts).flatMap(\.recipients)
        #expect(Set(recipients) == Set(plan.recipients.map(\.externalUserID)))
        #expect(recipients.count == plan.recipients.count)
    }

    @Test func aCampaignStartsOnceAndAnOptOutWithdrawsAPlannedMessage() async throws {
        let setup = try await Self.setup(staff: 2, contacts: 20, campaigns: Self.campaigns(holdout: 0))
        let plan = try await setup.desk.start("spring")
        await #expect(throws: CampaignDesk.Refusal.self) { try await setup.desk.start("spring") }
        let withdrawn = try #require(plan.recipients.first?.externalUserID)
        try await setup.ledger.setOptOut(withdrawn, reason: "complained", source: "api", at: 1)
        let rows = try await setup.ledger.recipients("spring")
        #expect(rows.first { $0.externalUserID == withdrawn }?.state == .excluded)
        #expect(rows.first { $0.externalUserID == withdrawn }?.reason == "opted_out")
        let clock = setup.platform.clock
        let dispatcher = CampaignDispatcher(
            client: setup.platform.client(), ledger: setup.ledger, config: setup.config, now: { clock.now }, sleep: { clock.sleep($0) })
        _ = try await dispatcher.dispatch(campaign: "spring")
        let sent = await setup.platform.simulator.createdTasks().flatMap(\.parts).flatMap(\.recipients)
        #expect(!sent.contains(withdrawn))
        #expect(sent.count == plan.recipients.count - 1)
    }

    @Test func aSenderOverTheTaskCapStopsTheCampaignAtStart() async throws {
        // A personal text per contact means one task per contact: over a cap of two per sender.
        let setup = try await Self.setup(staff: 2, contacts: 20, campaigns: Self.campaigns(holdout: 0, cap: 2, template: "personal.mustache"))
        let plan = try await setup.desk.plan("spring")
        #expect(!plan.overTaskCap.isEmpty)
        #expect(plan.overTaskCap.values.allSatisfy { $0 > 2 })
        await #expect(throws: CampaignDesk.Refusal.self) { try await setup.desk.start("spring") }
        #expect(try await setup.ledger.campaign(named: "spring") == nil)
    }
}
