import CohortConfig
import CohortCore
import CohortServer
import CohortStore
import CohortSync
import CohortTesting
import Foundation
import Logging
import Synchronization
import Testing
import WeComKit
import WeComSimulator

/// A transport that records what it is asked to send and answers 200.
final class RecordingTransport: PlatformTransport {
    private let sent = Mutex<[TransportRequest]>([])
    var requests: [TransportRequest] { sent.withLock { $0 } }

    func send(_ request: TransportRequest) async throws -> TransportResponse {
        sent.withLock { $0.append(request) }
        return TransportResponse(status: 200, body: Data())
    }
}

/// What needs a person reaches them: raised once, delivered to staff and a webhook, listed.
@Suite struct AlertTests {
    @Test func aDeadLetteredEventIsRaisedOnceAndDeliveredToStaffAndTheWebhook() async throws {
        let database = try CohortDatabase()
        let inbox = SQLiteInboxRepository(database: database)
        let alerts = SQLiteAlertRepository(database: database, corpID: "ww")
        _ = try await inbox.append([InboxProcessorTests.event("dead")])
        var processor = InboxProcessor(
            repository: inbox, handler: ScriptedHandler(failures: 5), policy: RetryPolicy(baseDelay: 1, maxDelay: 1, maxAttempts: 1),
            logger: Logger(label: "test"), parse: InboxProcessorTests.parse)
        processor.alerts = alerts
        try await processor.processDue()
        let raised = try await alerts.alerts(limit: 10)
        #expect(raised.map(\.kind) == [.deadLetter])
        #expect(raised.first?.message.contains("cohort inbox replay") == true)
        #expect(try await alerts.raise(.deadLetter, subject: raised[0].subject, message: "again", at: raised[0].raisedAt + 1) == false)

        let platform = SimulatedPlatform(corp: SimCorps.corp(relationsPerStaff: [1, 1]))
        var settings = AlertSettings()
        settings.staff = ["u0", "nobody"]
        settings.agentID = 1_000_002
        settings.webhookURL = "http://hooks.test/cohort"
        let webhook = RecordingTransport()
        let service = AlertService(alerts: alerts, settings: settings, client: platform.client(), transport: webhook, logger: Logger(label: "test"))
        try await service.deliverPending()

        let messages = await platform.simulator.applicationMessages
        #expect(messages.count == 1)
        #expect(messages.first?.touser == ["u0"])
        #expect(messages.first?.agentid == 1_000_002)
        #expect(messages.first?.text.hasPrefix("[Cohort] dead_letter:") == true)
        let posted = try #require(webhook.requests.first)
        #expect(posted.url.absoluteString == "http://hooks.test/cohort")
        let body = try #require(try JSONSerialization.jsonObject(with: posted.body ?? Data()) as? [String: String])
        #expect(body["kind"] == "dead_letter")
        let delivered = try await alerts.alerts(limit: 10)
        #expect(delivered.first?.deliveredAt != nil)
        #expect(delivered.first?.deliveryError == "not delivered to nobody", "a staff member the app cannot reach is reported")
        try await service.deliverPending()
        #expect(await platform.simulator.applicationMessages.count == 1, "an alert is delivered once")
    }

    @Test func aCampaignThatPausesItselfRaisesAnAlert() async throws {
        let campaigns = """
            dispatch:
              error_window: 2
              pause_error_rate: 0.5
            campaigns:
              - name: spring
                segment: everyone
                template: hello.mustache
            """
        let setup = try await CampaignEndToEndTests.setup(staff: 4, contacts: 80, campaigns: campaigns)
        let clock = setup.platform.clock
        _ = try await setup.desk.start("spring")
        await setup.platform.simulator.addFault(SimulatorFault.errcode(40058, endpoint: "externalcontact/add_msg_template"))
        let alerts = SQLiteAlertRepository(database: setup.database, corpID: setup.platform.configuration.corpID)
        var dispatcher = CampaignDispatcher(
            client: setup.platform.client(), ledger: setup.ledger, config: setup.config, now: { clock.now }, sleep: { clock.sleep($0) })
        dispatcher.alerts = alerts
        let report = try await dispatcher.dispatch(campaign: "spring")
        #expect(report.paused["spring"] != nil)
        let raised = try await alerts.alerts(limit: 10)
        #expect(raised.map(\.kind) == [.campaignPaused])
        #expect(raised.first?.subject == "spring")
        #expect(raised.first?.message.contains("cohort campaign resume spring") == true)
    }
}
