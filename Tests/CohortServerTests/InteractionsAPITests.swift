import CohortConfig
import CohortCore
import CohortPostgres
import CohortServer
import CohortStore
import CohortTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing

/// `POST /api/v1/interactions`: admin token, whole-batch validation, idempotency.
struct InteractionsAPITests {
    let database: CohortDatabase

    init() throws {
        database = try CohortDatabase()
    }

    func withApp(adminToken: String? = "s3cret-admin", _ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        var settings = CallbackEndpointTests.settings()
        settings.secrets.adminToken = adminToken
        var dependencies = AppDependencies(sqlite: database, settings: settings)
        dependencies.interactions = SQLiteInteractionRepository(database: database, corpID: settings.platform.corpID)
        let app = try CohortApplication.build(dependencies, logger: Logger(label: "test"))
        try await app.test(.router, body)
    }

    func post(_ client: any TestClientProtocol, _ json: String, token: String? = "s3cret-admin") async throws -> (HTTPResponse.Status, String) {
        var headers = HTTPFields()
        if let token { headers[.authorization] = "Bearer \(token)" }
        headers[.contentType] = "application/json"
        return try await client.execute(uri: "/api/v1/interactions", method: .post, headers: headers, body: ByteBuffer(string: json)) {
            ($0.status, String(buffer: $0.body))
        }
    }

    static let batch = """
        {"interactions": [
          {"kind": "order", "external_userid": "wmA", "occurred_at": "2026-11-20T10:00:00+08:00", "amount": 128.5, "source": "shop", "source_id": "o-1"},
          {"kind": "feedback", "phone": "13800138000", "occurred_at": 1795392000, "source": "crm", "source_id": "f-9", "attributes": {"score": "2"}}
        ]}
        """

    @Test func aValidBatchIsStoredOnceAndAReplayChangesNothing() async throws {
        try await withApp { client in
            let (status, body) = try await post(client, Self.batch)
            #expect(status == .ok)
            #expect(body.contains("\"inserted\":2"))
            #expect(body.contains("\"unmatched\":2"))
            let (again, replay) = try await post(client, Self.batch)
            #expect(again == .ok)
            #expect(replay.contains("\"unchanged\":2"))
            #expect(replay.contains("\"inserted\":0"))
        }
    }

    @Test func oneBadItemRejectsTheWholeBatchWithEveryProblem() async throws {
        try await withApp { client in
            let json = """
                [{"kind": "order", "external_userid": "wmA", "occurred_at": "2026-11-20", "source_id": "1"},
                 {"kind": "order", "external_userid": "wmA", "occurred_at": "2026-11-20", "amount": 1, "source_id": "2"},
                 {"kind": "order", "external_userid": "wmA", "occurred_at": "2026-11-20", "amount": 1, "source_id": "3", "colour": "red"}]
                """
            let (status, body) = try await post(client, json)
            #expect(status == .unprocessableContent)
            #expect(body.contains("\"index\":0"))
            #expect(body.contains("an order needs an amount"))
            #expect(body.contains("unknown field colour"))
            #expect(!body.contains("\"index\":1"))
            let (ok, stored) = try await post(client, "[" + json.split(separator: "\n")[1].dropLast() + "]")
            #expect(ok == .ok)
            #expect(stored.contains("\"inserted\":1"))
        }
    }

    @Test func theAPIRefusesAMissingOrWrongTokenAndIsOffWithoutOne() async throws {
        try await withApp { client in
            let status1 = try await post(client, Self.batch, token: nil).0
            #expect(status1 == .unauthorized)
            let status2 = try await post(client, Self.batch, token: "s3cret-admim").0
            #expect(status2 == .unauthorized)
        }
        try await withApp(adminToken: nil) { client in
            let status3 = try await post(client, Self.batch).0
            #expect(status3 == .serviceUnavailable)
        }
    }

    @Test func moreThanAThousandItemsAreRefused() async throws {
        try await withApp { client in
            let item = #"{"kind": "feedback", "external_userid": "wmA", "occurred_at": "2026-11-20", "source_id": "x"}"#
            let json = "[" + Array(repeating: item, count: 1_001).joined(separator: ",") + "]"
            let status4 = try await post(client, json).0
            #expect(status4 == .contentTooLarge)
        }
    }

    @Test(arguments: StoreBackend.available)
    func theLiveWiringStoresABatchAndGradesTheContactsItNames(_ backend: StoreBackend) async throws {
        var settings = CallbackEndpointTests.settings()
        settings.secrets.adminToken = "s3cret-admin"
        settings.secrets.wecomSecret = "sim-secret"
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-live-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let schema = "test_live_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
        switch backend {
        case .sqlite: settings.database.path = path
        // COHORT_DATABASE as an operator sets it: the composition opens, migrates and runs the pool.
        case .postgres: settings.database.path = (StoreBackend.postgresURL ?? "") + "?schema=" + schema
        }
        let url = settings.database.path
        @Sendable func dropSchema() async {
            guard backend == .postgres, let store = try? PostgresStore(url: url, logger: Logger(label: "test")) else { return }
            _ = try? await store.withRunning { try await $0.dropSchema() }
        }
        let rules = try GradingEndToEndTests.rules()
        do {
            try await liveWiring(settings: settings, rules: rules, backend: backend)
        } catch {
            await dropSchema()
            throw error
        }
        await dropSchema()
    }

    func liveWiring(settings: CohortSettings, rules: GradingRules, backend: StoreBackend) async throws {
        try await Stores.with(settings, logger: Logger(label: "test")) { stores in
            #expect(stores.backend == backend.rawValue)
            let dependencies = try AppDependencies.live(settings: settings, stores: stores, rules: rules, logger: Logger(label: "test"))
            #expect(dependencies.grader != nil)
            #expect(dependencies.tagWriter != nil)
            _ = try await stores.directory.upsert(
                Contact(externalUserID: "wmA"), relations: [Relation(externalUserID: "wmA", userID: "zhangsan")], at: Date())
            var app = dependencies
            app.runsInboxProcessor = false
            let application = try CohortApplication.build(app, logger: Logger(label: "test"))
            try await application.test(.router) { client in
                let (status, _) = try await post(client, Self.batch)
                #expect(status == .ok)
            }
            let grade = try await stores.grading.grade(of: "wmA")
            #expect(grade?.frequency == 1)
            #expect(grade?.lifecycle == .customer)
        }
    }
}
