import CohortConfig
import CohortCore
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
import WeComKit
import WeComSimulator
import Yams

/// The admin API over a synced store with segments and a campaign.
@Suite struct AdminAPITests {
    static let admin = "admin-secret"
    static let ingest = "ingest-secret"

    func withApp(_ body: @Sendable (any TestClientProtocol, CampaignEndToEndTests.Setup) async throws -> Void) async throws {
        let setup = try await CampaignEndToEndTests.setup(staff: 3, contacts: 30, campaigns: CampaignEndToEndTests.campaigns(holdout: 0))
        var settings = CallbackEndpointTests.settings()
        settings.platform.corpID = setup.platform.configuration.corpID
        settings.secrets.adminToken = Self.admin
        settings.secrets.ingestToken = Self.ingest
        var dependencies = AppDependencies(sqlite: setup.database, settings: settings)
        dependencies.runsInboxProcessor = false
        dependencies.grader = Grader(
            rules: setup.desk.grading, repository: SQLiteGradingRepository(database: setup.database, corpID: settings.platform.corpID))
        dependencies.campaignRules = setup.desk.rules
        dependencies.platformClient = setup.platform.client()
        dependencies.interactions = SQLiteInteractionRepository(database: setup.database, corpID: settings.platform.corpID)
        let app = try CohortApplication.build(dependencies, logger: Logger(label: "test"))
        try await app.test(.router) { client in try await body(client, setup) }
    }

    static func call(
        _ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, token: String? = admin, body: String? = nil
    ) async throws -> (HTTPResponse.Status, Any?) {
        var headers = HTTPFields()
        if let token { headers[.authorization] = "Bearer \(token)" }
        headers[.contentType] = "application/json"
        return try await client.execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }) { response in
            let text = String(buffer: response.body)
            return (response.status, try? JSONSerialization.jsonObject(with: Data(text.utf8)))
        }
    }

    @Test func tokensGateTheAPIAndTheIngestTokenOnlyImports() async throws {
        try await withApp { client, _ in
            #expect(try await Self.call(client, .get, "/api/v1/contacts", token: nil).0 == .unauthorized)
            #expect(try await Self.call(client, .get, "/api/v1/contacts", token: "wrong").0 == .unauthorized)
            #expect(try await Self.call(client, .get, "/api/v1/contacts", token: Self.ingest).0 == .forbidden)
            let imported = try await Self.call(
                client, .post, "/api/v1/interactions", token: Self.ingest,
                body: #"[{"kind": "order", "external_userid": "nobody", "occurred_at": "2026-11-01", "amount": "10", "source_id": "o1"}]"#)
            #expect(imported.0 == .ok)
        }
    }

    @Test func contactsSegmentsAndACampaignLifeCycleOverTheAPI() async throws {
        try await withApp { client, setup in
            let (status, contacts) = try await Self.call(client, .get, "/api/v1/contacts?limit=5")
            #expect(status == .ok)
            let list = try #require(contacts as? [[String: Any]])
            #expect(list.count == 5)
            let id = try #require(list.first?["external_userid"] as? String)
            let detail = try await Self.call(client, .get, "/api/v1/contacts/\(id)")
            #expect(((detail.1 as? [String: Any])?["contact"] as? [String: Any])?["external_userid"] as? String == id)
            #expect(try await Self.call(client, .get, "/api/v1/contacts/nobody").0 == .notFound)
            let found = try #require(try await Self.call(client, .get, "/api/v1/contacts?q=\(id)").1 as? [[String: Any]])
            #expect(found.map { $0["external_userid"] as? String } == [id])
            let none = try #require(try await Self.call(client, .get, "/api/v1/contacts?q=%E6%B2%A1%E6%9C%89%E8%BF%99%E4%B8%AA%E4%BA%BA").1 as? [Any])
            #expect(none.isEmpty)

            let segments = try #require(try await Self.call(client, .get, "/api/v1/segments").1 as? [[String: Any]])
            #expect(segments.map { $0["name"] as? String } == ["everyone", "wecom_users"])
            #expect(segments.first?["size"] as? Int == 30)

            let plan = try #require(try await Self.call(client, .get, "/api/v1/campaigns/spring/dry-run").1 as? [String: Any])
            let planned = try #require(plan["recipients"] as? [Any]).count
            #expect(planned > 0)
            #expect(try await setup.ledger.campaign(named: "spring") == nil, "a dry run writes nothing")
            #expect(try await Self.call(client, .post, "/api/v1/campaigns/spring/start").0 == .ok)
            #expect(try await Self.call(client, .post, "/api/v1/campaigns/spring/start").0 == .conflict, "a campaign starts once")
            #expect(try await Self.call(client, .post, "/api/v1/campaigns/spring/pause").0 == .ok)
            #expect(try await Self.call(client, .post, "/api/v1/campaigns/spring/pause").0 == .conflict)
            let report = try #require(try await Self.call(client, .get, "/api/v1/campaigns/spring/report").1 as? [String: Any])
            #expect(report["state"] as? String == "paused")
            #expect(report["planned"] as? Int == planned)
            #expect(try await Self.call(client, .post, "/api/v1/campaigns/spring/cancel").0 == .ok)
            #expect(try await Self.call(client, .get, "/api/v1/campaigns/nope/report").0 == .notFound)
        }
    }

    @Test func theDoNotContactListOverTheAPI() async throws {
        try await withApp { client, setup in
            #expect(try await Self.call(client, .post, "/api/v1/optouts", body: #"{"external_userid": "wmX", "reason": "complained"}"#).0 == .ok)
            #expect(try await Self.call(client, .post, "/api/v1/optouts", body: #"{"reason": "no id"}"#).0 == .badRequest)
            let list = try #require(try await Self.call(client, .get, "/api/v1/optouts").1 as? [[String: Any]])
            #expect(list.first?["external_userid"] as? String == "wmX")
            #expect(try await setup.ledger.optOuts()["wmX"]?.contains("complained") == true)
            #expect(try await Self.call(client, .delete, "/api/v1/optouts/wmX").0 == .ok)
            #expect(try await Self.call(client, .delete, "/api/v1/optouts/wmX").0 == .notFound)
        }
    }
}

/// docs/openapi.yaml describes exactly the routes the server serves.
@Suite struct OpenAPIDocumentTests {
    static var documentPath: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/openapi.yaml").path
    }

    @Test func everyServedRouteIsDocumentedAndNothingElse() throws {
        let text = try String(contentsOfFile: Self.documentPath, encoding: .utf8)
        let document = try #require(try Yams.load(yaml: text) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: Any])
        var documented: Set<String> = []
        for (path, item) in paths {
            let operations = try #require(item as? [String: Any])
            for (method, operation) in operations {
                documented.insert("\(method) \(path)")
                let responses = (operation as? [String: Any])?["responses"] as? [String: Any]
                #expect(responses?.keys.contains { $0.hasPrefix("2") } == true, "\(method) \(path) documents its success answer")
            }
        }
        let served = Set(CohortRoutes.all.map { "\($0.method) \($0.path)" })
        #expect(documented.subtracting(served).sorted() == [], "documented but not served")
        #expect(served.subtracting(documented).sorted() == [], "served but not documented")
    }
}

/// /metrics: recorded counters plus gauges read from the store at scrape time.
@Suite struct MetricsEndpointTests {
    @Test func metricsShowStoreGaugesAndPlatformCallsInPrometheusText() async throws {
        CohortMetrics.bootstrap()
        try await AdminAPITests().withApp { client, setup in
            // The platform client counts calls by endpoint and errcode.
            _ = try await setup.platform.client().corpTagList(.init())
            let text = try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
                return String(buffer: response.body)
            }
            #expect(text.contains("cohort_contacts 30"))
            #expect(text.contains(#"cohort_inbox_events{status="pending"} 0"#))
            #expect(text.contains("cohort_inbox_lag_seconds 0"))
            #expect(text.contains(#"cohort_platform_calls_total{endpoint="externalcontact/get_corp_tag_list",errcode="0"}"#))
        }
    }
}

/// Logs never carry a mobile number, whatever text reaches them.
@Suite struct LogRedactionTests {
    @Test func mobileNumbersAreMaskedAndOtherNumbersKept() {
        #expect(LogRedaction.redact("row 12: phone 13800138000 unknown") == "row 12: phone 138****8000 unknown")
        #expect(LogRedaction.redact("+8613912345678, errcode 60020 at 1795392000") == "+86139****5678, errcode 60020 at 1795392000")
        #expect(LogRedaction.redact("msgid 12345678901234") == "msgid 12345678901234")
    }
}
