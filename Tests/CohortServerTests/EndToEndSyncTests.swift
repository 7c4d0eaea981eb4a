import CohortConfig
import CohortCore
import CohortServer
import CohortStore
import CohortSync
import CohortTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing
import WeComKit
import WeComSimulator

/// The whole loop on a live server: a console action in the simulator sends a signed,
/// encrypted callback to Cohort's webhook; the inbox processor applies it by reading the
/// customer back from the simulator's API into the directory.
@Suite struct EndToEndSyncTests {
    /// Sends the simulator's callbacks to the live server's port, known only once it runs.
    final class LivePort: PlatformTransport {
        let port = Mutex(0)
        let http = URLSessionTransport(timeout: 5)

        func send(_ request: TransportRequest) async throws -> TransportResponse {
            var components = URLComponents(url: request.url, resolvingAgainstBaseURL: false)!
            components.port = port.withLock { $0 }
            var forwarded = request
            forwarded.url = components.url!
            return try await http.send(forwarded)
        }
    }

    @Test func aCustomerAddedInTheClientReachesTheDirectoryThroughTheWebhook() async throws {
        let live = LivePort()
        var configuration = SimulatorConfiguration()
        configuration.callbackURL = URL(string: "http://127.0.0.1:1/wecom/callback")
        configuration.callbackRetryInterval = 0.2
        let simulator = WeComSimulator(configuration: configuration, corp: SimCorps.corp(relationsPerStaff: [1]), callbackTransport: live)
        let client = WeComClient(
            apiBase: URL(string: "http://wecom.sim")!, corpID: configuration.corpID, secret: configuration.secret,
            transport: SimulatorTransport(simulator), limiter: nil)
        let database = try CohortDatabase()
        let directory = SQLiteDirectoryRepository(database: database, corpID: Vectors.corpID)
        var settings = CallbackEndpointTests.settings()
        settings.server.port = 0
        let app = try CohortApplication.build(
            AppDependencies(sqlite: database, settings: settings, handler: ContactEventHandler(client: client, repository: directory)),
            logger: Logger(label: "test"))
        try await app.test(.live) { testClient in
            live.port.withLock { $0 = testClient.port ?? 0 }
            let added = try await simulator.perform(ConsoleAction(.addContact, userid: "u0", name: "新客户", state: "booth_07"))
            #expect(added.deliveries.first?.delivered == true)
            let id = try #require(added.id)
            var stored: StoredContact?
            for _ in 0..<200 where stored == nil {
                stored = try await directory.contact(id)
                if stored == nil { try await Task.sleep(for: .milliseconds(25)) }
            }
            #expect(stored?.contact.name == "新客户")
            #expect(stored?.relations.first?.relation.state == "booth_07")

            let removed = try await simulator.perform(ConsoleAction(.customerDeletesStaff, userid: "u0", external_userid: id))
            #expect(removed.deliveries.first?.delivered == true)
            var lost: [ContactEvent] = []
            for _ in 0..<200 where lost.isEmpty {
                lost = try await directory.events(kind: .lostCustomer, limit: 5)
                if lost.isEmpty { try await Task.sleep(for: .milliseconds(25)) }
            }
            #expect(lost.map(\.externalUserID) == [id])
            #expect(try await directory.contact(id)?.relations.first?.endReason == "del_follow_user")
            let inbox = try await SQLiteInboxRepository(database: database).list(status: nil, limit: 10)
            #expect(inbox.map(\.status) == [.processed, .processed])
        }
    }
}
