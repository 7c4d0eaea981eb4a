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

/// Welcome messages for new relations: chosen by rule, sent in the 20 s window, every attempt kept.
@Suite struct WelcomeTests {
    struct Setup {
        var platform: SimulatedPlatform
        var ledger: SQLiteCampaignRepository
        var sender: WelcomeSender
    }

    static func setup() async throws -> Setup {
        let platform = SimulatedPlatform(corp: SimCorps.corp(relationsPerStaff: [3, 3]))
        let clock = platform.clock
        let database = try CohortDatabase(inMemory: ())
        let corpID = platform.configuration.corpID
        let directory = SQLiteDirectoryRepository(database: database, corpID: corpID)
        _ = try await FullSync(client: platform.client(), repository: directory, now: { clock.now }).run()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-welcome-\(UUID().uuidString)")
        let templates = folder.appendingPathComponent("Templates")
        try FileManager.default.createDirectory(at: templates, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try """
            welcome:
              - when: state == "expo"
                template: expo.mustache
              - when: staff == "u1"
                template: u1.mustache
              - template: general.mustache
            """.write(to: folder.appendingPathComponent("campaigns.yaml"), atomically: true, encoding: .utf8)
        try "展会专属：{{staff.name}}欢迎您 & <您>".write(to: templates.appendingPathComponent("expo.mustache"), atomically: true, encoding: .utf8)
        try "u1 welcomes {{contact.external_userid}}".write(to: templates.appendingPathComponent("u1.mustache"), atomically: true, encoding: .utf8)
        try "您好{{#contact.name}}，{{contact.name}}{{/contact.name}}".write(
            to: templates.appendingPathComponent("general.mustache"), atomically: true, encoding: .utf8)
        let grading = try GradingLoader(directory: folder.path).load()
        let rules = try CampaignLoader(directory: folder.path, templatesDirectory: templates.path).load(grading: grading)
        let ledger = SQLiteCampaignRepository(database: database, corpID: corpID)
        let sender = WelcomeSender(
            client: platform.client(), directory: directory, grading: grading, rules: rules,
            gradingRepository: SQLiteGradingRepository(database: database, corpID: corpID), campaigns: ledger, welcomes: ledger,
            now: { clock.now }, sleep: { clock.sleep($0) })
        return Setup(platform: platform, ledger: ledger, sender: sender)
    }

    /// The add event the platform would send for a console action.
    static func add(_ setup: Setup, userid: String, state: String? = nil, name: String = "王小明") async throws -> ExternalContactChange {
        let result = try await setup.platform.simulator.perform(ConsoleAction(.addContact, userid: userid, name: name, state: state))
        var fields = [
            CallbackField("Event", "change_external_contact"), CallbackField("ChangeType", "add_external_contact"),
            CallbackField("UserID", userid), CallbackField("ExternalUserID", try #require(result.id)),
            CallbackField("CreateTime", "\(Int64(setup.platform.clock.now.timeIntervalSince1970))"),
            CallbackField("WelcomeCode", try #require(result.welcome_code)),
        ]
        if let state { fields.append(CallbackField("State", state)) }
        return try #require(ExternalContactChange(CallbackFields(fields)))
    }

    @Test func theFirstMatchingChoiceIsRenderedAsPlainTextAndSentOnce() async throws {
        let setup = try await Self.setup()
        let seconds = { Int64(setup.platform.clock.now.timeIntervalSince1970) }
        let expo = try await Self.add(setup, userid: "u0", state: "expo")
        let attempt = await setup.sender.welcome(expo, receivedAt: seconds())
        #expect(attempt.outcome == .sent)
        #expect(attempt.template == "expo.mustache")
        let other = try await Self.add(setup, userid: "u1")
        #expect(await setup.sender.welcome(other, receivedAt: seconds()).template == "u1.mustache")
        let general = try await Self.add(setup, userid: "u0", name: "李雷")
        #expect(await setup.sender.welcome(general, receivedAt: seconds()).template == "general.mustache")

        let sent = await setup.platform.simulator.welcomes
        #expect(sent.map(\.external_userid) == [expo.externalUserID, other.externalUserID, general.externalUserID])
        #expect(sent[0].text == "展会专属：员工0欢迎您 & <您>", "staff name from the synced directory, no HTML escaping")
        #expect(sent[2].text == "您好，李雷", "the new contact's name, read from the platform at once")
        let recorded = try await setup.ledger.welcomeAttempts(of: expo.externalUserID)
        #expect(recorded.map(\.outcome) == [.sent])
    }

    @Test func aUsedCodeIs41051AndIsNotRetried() async throws {
        let setup = try await Self.setup()
        let seconds = { Int64(setup.platform.clock.now.timeIntervalSince1970) }
        let change = try await Self.add(setup, userid: "u0")
        #expect(await setup.sender.welcome(change, receivedAt: seconds()).outcome == .sent)
        let again = await setup.sender.welcome(change, receivedAt: seconds())
        #expect(again.outcome == .final)
        #expect(again.errcode == 41051)
        #expect(await setup.platform.simulator.callCounts()["externalcontact/send_welcome_msg"] == 2, "one call each, no retry after 41051")
        let recorded = try await setup.ledger.welcomeAttempts(of: change.externalUserID)
        #expect(recorded.map(\.outcome) == [.sent, .final])
    }

    @Test func aTransientFailureIsRetriedInsideTheWindowAndEveryAttemptIsRecorded() async throws {
        let setup = try await Self.setup()
        let seconds = { Int64(setup.platform.clock.now.timeIntervalSince1970) }
        let change = try await Self.add(setup, userid: "u1")
        await setup.platform.simulator.addFault(SimulatorFault.errcode(-1, endpoint: "externalcontact/send_welcome_msg", count: 2))
        let attempt = await setup.sender.welcome(change, receivedAt: seconds())
        #expect(attempt.outcome == .sent)
        let recorded = try await setup.ledger.welcomeAttempts(of: change.externalUserID)
        #expect(recorded.map(\.outcome) == [.failed, .failed, .sent])
        #expect(recorded.first?.errcode == -1)
        #expect(await setup.platform.simulator.welcomes.count == 1)
    }

    @Test func anEventOlderThanTheWindowIsNotSentAndSaysWhy() async throws {
        let setup = try await Self.setup()
        let received = Int64(setup.platform.clock.now.timeIntervalSince1970)
        let change = try await Self.add(setup, userid: "u0")
        setup.platform.clock.advance(25)
        let attempt = await setup.sender.welcome(change, receivedAt: received)
        #expect(attempt.outcome == .expired)
        #expect(await setup.platform.simulator.callCounts()["externalcontact/send_welcome_msg"] == nil)
        #expect(try await setup.ledger.welcomeAttempts(of: change.externalUserID).map(\.outcome) == [.expired])
    }

    @Test func anOptedOutContactGetsNoWelcome() async throws {
        let setup = try await Self.setup()
        let change = try await Self.add(setup, userid: "u0")
        try await setup.ledger.setOptOut(change.externalUserID, reason: "asked", source: "test", at: 0)
        let attempt = await setup.sender.welcome(change, receivedAt: Int64(setup.platform.clock.now.timeIntervalSince1970))
        #expect(attempt.outcome == .skipped)
        #expect(attempt.detail?.contains("opted out") == true)
        #expect(await setup.platform.simulator.welcomes.isEmpty)
    }
}
