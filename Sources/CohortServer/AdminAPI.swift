import CohortConfig
import CohortCore
import CohortStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import WeComKit

/// What the admin API reads and acts on.
public struct AdminServices: Sendable {
    public var settings: CohortSettings
    public var stores: Stores
    public var grading: GradingRules?
    public var desk: CampaignDesk?
    /// For withdrawing tasks when a campaign is cancelled.
    public var client: WeComClient?
    public var configDirectory: String
    public var templatesDirectory = "Templates"
    public var reload: ReloadSignal?

    public init(
        settings: CohortSettings, stores: Stores, grading: GradingRules?, desk: CampaignDesk?,
        client: WeComClient?, configDirectory: String, reload: ReloadSignal? = nil
    ) {
        self.reload = reload
        self.settings = settings
        self.stores = stores
        self.grading = grading
        self.desk = desk
        self.client = client
        self.configDirectory = configDirectory
    }

    var corpID: String { settings.platform.corpID }
    var inbox: any InboxRepository { stores.inbox }
    var directory: any DirectoryRepository { stores.directory }
    var ledger: any CampaignRepository { stores.campaigns }

    func audit(_ action: String, _ subject: String, _ detail: String) async throws {
        try await stores.audit.record(
            AuditEntry(at: Int64(Date().timeIntervalSince1970), actor: "api", action: action, subject: subject, detail: detail))
    }
}

/// The admin API: JSON under /api/v1 behind a bearer token (COHORT_ADMIN_TOKEN; no token
/// means the API is off, not open). COHORT_INGEST_TOKEN opens only the interactions import.
/// `routes` is the one list of what is served; docs/openapi.yaml is checked against it.
struct AdminAPI: Sendable {
    enum Method: String, Sendable, CaseIterable {
        case get, post, delete

        var http: HTTPRequest.Method {
            switch self {
            case .get: .get
            case .post: .post
            case .delete: .delete
            }
        }
    }

    /// Every admin route as (method, OpenAPI path).
    static let routes: [(method: Method, path: String)] = [
        (.get, "/api/v1/contacts"),
        (.get, "/api/v1/contacts/{id}"),
        (.get, "/api/v1/segments"),
        (.get, "/api/v1/segments/{name}"),
        (.get, "/api/v1/campaigns"),
        (.get, "/api/v1/campaigns/{name}/preview"),
        (.get, "/api/v1/campaigns/{name}/dry-run"),
        (.post, "/api/v1/campaigns/{name}/start"),
        (.post, "/api/v1/campaigns/{name}/pause"),
        (.post, "/api/v1/campaigns/{name}/resume"),
        (.post, "/api/v1/campaigns/{name}/cancel"),
        (.get, "/api/v1/campaigns/{name}/report"),
        (.post, "/api/v1/interactions"),
        (.get, "/api/v1/inbox"),
        (.post, "/api/v1/inbox/{id}/replay"),
        (.get, "/api/v1/optouts"),
        (.post, "/api/v1/optouts"),
        (.delete, "/api/v1/optouts/{id}"),
        (.get, "/api/v1/welcome"),
        (.get, "/api/v1/alerts"),
        (.get, "/api/v1/config/check"),
        (.get, "/api/v1/config/history"),
        (.post, "/api/v1/config/reload"),
        (.get, "/api/v1/config/plan"),
        (.post, "/api/v1/config/rollback/{version}"),
    ]

    let services: AdminServices?
    let interactions: InteractionsController?
    let logger: Logger

    typealias Handler = @Sendable (Request, BasicRequestContext) async throws -> Response

    func register(on router: Router<BasicRequestContext>, adminToken: String?, ingestToken: String?) {
        let group = router.group("api/v1").add(middleware: BearerAuthMiddleware(adminToken: adminToken, ingestToken: ingestToken))
        for route in Self.routes {
            let relative = String(route.path.dropFirst("/api/v1/".count))
            let handler = self.handler(route.method, route.path)
            group.on(RouterPath(relative), method: route.method.http) { request, context in
                do {
                    return try await handler(request, context)
                } catch let refusal as CampaignDesk.Refusal {
                    return APIResponse.error(.conflict, refusal.description)
                } catch let started as CampaignAlreadyStarted {
                    return APIResponse.error(.conflict, started.description)
                } catch let problem as APIProblem {
                    return APIResponse.error(problem.status, problem.message)
                }
            }
        }
    }

    struct APIProblem: Error {
        var status: HTTPResponse.Status
        var message: String
    }

    private func need<T>(_ value: T?, _ what: String) throws -> T {
        guard let value else { throw APIProblem(status: .serviceUnavailable, message: what) }
        return value
    }

    // swiftlint:disable:next cyclomatic_complexity
    private func handler(_ method: Method, _ path: String) -> Handler {
        let services = self.services
        let noStore = "the admin API needs the database"
        let noCampaigns = "segments and campaigns are not loaded (segments.yaml, campaigns.yaml)"
        @Sendable func parameter(_ context: BasicRequestContext, _ name: String) throws -> String {
            guard let value = context.parameters.get(name) else { throw APIProblem(status: .badRequest, message: "missing \(name)") }
            return value
        }
        @Sendable func query(_ request: Request, _ name: String) -> String? { request.uri.queryParameters.get(name) }
        @Sendable func integer(_ request: Request, _ name: String, default value: Int) throws -> Int {
            guard let text = query(request, name) else { return value }
            guard let number = Int(text), number >= 0 else { throw APIProblem(status: .badRequest, message: "\(name) must be a whole number") }
            return number
        }
        switch (method, path) {
        case (.get, "/api/v1/contacts"):
            return { request, _ in
                let services = try need(services, noStore)
                let filter = ContactFilter(
                    tag: query(request, "tag"), staff: query(request, "staff"), includeEnded: query(request, "all") == "true",
                    limit: try integer(request, "limit", default: 100), text: query(request, "q"))
                return try APIResponse.json(try await services.directory.contacts(filter).map(ContactDocument.init))
            }
        case (.get, "/api/v1/contacts/{id}"):
            return { request, context in
                let services = try need(services, noStore)
                let id = try parameter(context, "id")
                guard let contact = try await services.directory.contact(id) else { throw APIProblem(status: .notFound, message: "no contact \(id)") }
                var explanation: GradingExplanation?
                if let grading = services.grading {
                    explanation = try await GradingExplanation.load(
                        id, rules: grading, repository: services.stores.grading, now: Date())
                }
                return try APIResponse.json(ContactDetailDocument(contact: ContactDocument(contact), explanation: explanation))
            }
        case (.get, "/api/v1/segments"):
            return { _, _ in
                let desk = try need(services?.desk, noCampaigns)
                return try APIResponse.json(desk.segmentRows(try await desk.snapshot()))
            }
        case (.get, "/api/v1/segments/{name}"):
            return { request, context in
                let desk = try need(services?.desk, noCampaigns)
                let name = try parameter(context, "name")
                guard let detail = desk.segmentDetail(name, sample: try integer(request, "sample", default: 20), snapshot: try await desk.snapshot())
                else { throw APIProblem(status: .notFound, message: "no segment \(name)") }
                return try APIResponse.json(detail)
            }
        case (.get, "/api/v1/campaigns"):
            return { _, _ in
                let desk = try need(services?.desk, noCampaigns)
                let records = Dictionary(uniqueKeysWithValues: try await desk.ledger.campaigns().map { ($0.name, $0) })
                let rows = desk.rules.config.campaigns.map { spec in
                    CampaignListDocument(
                        name: spec.name, segment: spec.segment.name, priority: spec.priority, state: records[spec.name]?.state.rawValue ?? "not started",
                        paused_reason: records[spec.name]?.pausedReason)
                }
                return try APIResponse.json(rows)
            }
        case (.get, "/api/v1/campaigns/{name}/preview"):
            return { request, context in
                let desk = try need(services?.desk, noCampaigns)
                let contacts = request.uri.queryParameters.getAll("contact")
                return try APIResponse.json(
                    try await desk.preview(try parameter(context, "name"), contacts: contacts.isEmpty ? nil : contacts, sample: try integer(request, "sample", default: 3)))
            }
        case (.get, "/api/v1/campaigns/{name}/dry-run"):
            return { _, context in
                let desk = try need(services?.desk, noCampaigns)
                let name = try parameter(context, "name")
                let spec = try desk.campaign(name)
                return try APIResponse.json(DryRunDocument(try await desk.plan(name), cap: spec.maxTasksPerSender))
            }
        case (.post, "/api/v1/campaigns/{name}/start"):
            return { _, context in
                let desk = try need(services?.desk, noCampaigns)
                let name = try parameter(context, "name")
                let spec = try desk.campaign(name)
                return try APIResponse.json(DryRunDocument(try await desk.start(name), cap: spec.maxTasksPerSender))
            }
        case (.post, "/api/v1/campaigns/{name}/pause"):
            return { _, context in
                let desk = try need(services?.desk, noCampaigns)
                let name = try parameter(context, "name")
                try await desk.pause(name)
                return try APIResponse.json(["campaign": name, "state": CampaignState.paused.rawValue])
            }
        case (.post, "/api/v1/campaigns/{name}/resume"):
            return { _, context in
                let desk = try need(services?.desk, noCampaigns)
                let name = try parameter(context, "name")
                try await desk.resume(name)
                return try APIResponse.json(["campaign": name, "state": CampaignState.dispatching.rawValue])
            }
        case (.post, "/api/v1/campaigns/{name}/cancel"):
            return { _, context in
                let desk = try need(services?.desk, noCampaigns)
                return try APIResponse.json(try await desk.cancel(try parameter(context, "name"), client: services?.client))
            }
        case (.get, "/api/v1/campaigns/{name}/report"):
            return { _, context in
                let desk = try need(services?.desk, noCampaigns)
                let name = try parameter(context, "name")
                guard let report = try await desk.ledger.report(name) else {
                    throw APIProblem(status: .notFound, message: "campaign \(name) has not been started")
                }
                return try APIResponse.json(report)
            }
        case (.post, "/api/v1/interactions"):
            let interactions = self.interactions
            return { request, context in
                let controller = try need(interactions, noStore)
                return try await controller.receive(request, context: context)
            }
        case (.get, "/api/v1/inbox"):
            return { request, _ in
                let services = try need(services, noStore)
                var status: InboxStatus?
                if let text = query(request, "status") {
                    guard let parsed = InboxStatus(rawValue: text) else {
                        throw APIProblem(status: .badRequest, message: "status must be one of \(InboxStatus.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                    status = parsed
                }
                let events = try await services.inbox.list(status: status, limit: try integer(request, "limit", default: 100))
                return try APIResponse.json(events.map(InboxEventDocument.init))
            }
        case (.post, "/api/v1/inbox/{id}/replay"):
            return { _, context in
                let services = try need(services, noStore)
                guard let id = Int64(try parameter(context, "id")) else { throw APIProblem(status: .badRequest, message: "id must be a number") }
                let count = try await services.inbox.replay(.id(id))
                guard count > 0 else { throw APIProblem(status: .notFound, message: "no replayable inbox event \(id)") }
                return try APIResponse.json(["requeued": count])
            }
        case (.get, "/api/v1/optouts"):
            return { _, _ in
                let services = try need(services, noStore)
                let rows = try await services.ledger.optOuts().sorted { $0.key < $1.key }.map { OptOutDocument(external_userid: $0.key, reason: $0.value) }
                return try APIResponse.json(rows)
            }
        case (.post, "/api/v1/optouts"):
            return { request, _ in
                let services = try need(services, noStore)
                let body = try await request.body.collect(upTo: 64 * 1024)
                guard let entry = try? JSONDecoder().decode(OptOutRequest.self, from: Data(body.readableBytesView)), !entry.external_userid.isEmpty else {
                    throw APIProblem(status: .badRequest, message: "body must be {\"external_userid\": \"...\", \"reason\": \"...\"}")
                }
                let reason = entry.reason ?? "asked not to be contacted"
                try await services.ledger.setOptOut(entry.external_userid, reason: reason, source: "api", at: Int64(Date().timeIntervalSince1970))
                try await services.audit("optout.add", entry.external_userid, reason)
                return try APIResponse.json(["external_userid": entry.external_userid, "status": "opted_out"])
            }
        case (.delete, "/api/v1/optouts/{id}"):
            return { _, context in
                let services = try need(services, noStore)
                let id = try parameter(context, "id")
                guard try await services.ledger.removeOptOut(id) else { throw APIProblem(status: .notFound, message: "\(id) is not on the list") }
                try await services.audit("optout.remove", id, "")
                return try APIResponse.json(["external_userid": id, "status": "removed"])
            }
        case (.get, "/api/v1/welcome"):
            return { request, _ in
                let services = try need(services, noStore)
                return try APIResponse.json(try await services.stores.welcomes.recentWelcomeAttempts(limit: try integer(request, "limit", default: 100)))
            }
        case (.get, "/api/v1/alerts"):
            return { request, _ in
                let services = try need(services, noStore)
                return try APIResponse.json(
                    try await services.stores.alerts.alerts(limit: try integer(request, "limit", default: 100)))
            }
        case (.get, "/api/v1/config/check"):
            return { _, _ in
                let directory = services?.configDirectory ?? "Config"
                let issues = ConfigLoader(directory: directory).check()
                return try APIResponse.json(ConfigCheckDocument(directory: directory, ok: issues.isEmpty, issues: issues.map(\.description)))
            }
        case (.get, "/api/v1/config/history"):
            return { request, _ in
                let services = try need(services, noStore)
                let history = try await services.stores.configHistory
                    .history(limit: try integer(request, "limit", default: 100))
                let formatter = ISO8601DateFormatter()
                return try APIResponse.json(history.map {
                    ConfigVersionDocument(id: $0.id, version: $0.version, applied_at: formatter.string(from: Date(timeIntervalSince1970: Double($0.appliedAt))))
                })
            }
        case (.post, "/api/v1/config/reload"):
            return { _, _ in
                let services = try need(services, noStore)
                let issues = ConfigLoader(directory: services.configDirectory).check()
                guard issues.isEmpty else {
                    try await services.audit("config.reload_refused", services.configDirectory, "\(issues.count) problems")
                    return try APIResponse.json(
                        ConfigCheckDocument(directory: services.configDirectory, ok: false, issues: issues.map(\.description)), status: .unprocessableContent)
                }
                guard let reload = services.reload, reload.request() else {
                    throw APIProblem(status: .serviceUnavailable, message: "this process does not reload its config (only cohort serve does)")
                }
                return try APIResponse.json(["status": "reloading", "directory": services.configDirectory], status: .accepted)
            }
        case (.get, "/api/v1/config/plan"):
            return { _, _ in
                let services = try need(services, noStore)
                let applied = try await services.stores.configHistory.latest()
                let plan = try await ConfigPlanner(settings: services.settings, stores: services.stores, templatesDirectory: services.templatesDirectory)
                    .plan(
                        candidate: ConfigSet.read(configDirectory: services.configDirectory, templatesDirectory: services.templatesDirectory),
                        running: applied.map { ConfigSet(files: $0.files) })
                return try APIResponse.json(plan)
            }
        case (.post, "/api/v1/config/rollback/{version}"):
            return { request, context in
                let services = try need(services, noStore)
                let reference = try parameter(context, "version")
                let history = services.stores.configHistory
                guard let target = try await history.find(reference) else { throw APIProblem(status: .notFound, message: "no applied config \(reference)") }
                let set = ConfigSet(files: target.files)
                let plan = try await ConfigPlanner(settings: services.settings, stores: services.stores, templatesDirectory: services.templatesDirectory)
                    .plan(candidate: set, running: try await history.latest().map { ConfigSet(files: $0.files) })
                guard query(request, "apply") == "true" else { return try APIResponse.json(plan) }
                let issues = try ConfigRollback.write(set, configDirectory: services.configDirectory, templatesDirectory: services.templatesDirectory)
                guard issues.isEmpty else {
                    return try APIResponse.json(
                        ConfigCheckDocument(directory: services.configDirectory, ok: false, issues: issues.map(\.description)), status: .unprocessableContent)
                }
                try await ConfigHistoryRecorder(stores: services.stores).record(
                    set, action: "config.rollback", detail: "to \(target.id) (\(target.version))", actor: "api")
                services.reload?.request()
                return try APIResponse.json(plan, status: .accepted)
            }
        default:
            preconditionFailure("no handler for \(method.rawValue) \(path)")
        }
    }
}

struct ContactDetailDocument: Encodable {
    var contact: ContactDocument
    var explanation: GradingExplanation?
}

struct CampaignListDocument: Encodable {
    var name: String
    var segment: String
    var priority: Int
    var state: String
    var paused_reason: String?
}

struct OptOutDocument: Encodable {
    var external_userid: String
    var reason: String
}

struct OptOutRequest: Decodable {
    var external_userid: String
    var reason: String?
}

struct ConfigCheckDocument: Encodable {
    var directory: String
    var ok: Bool
    var issues: [String]
}

struct ConfigVersionDocument: Encodable {
    var id: Int64
    var version: String
    var applied_at: String
}

/// Bearer-token gate of /api/v1: the admin token opens everything, the ingest token only the
/// interactions import; with neither configured the API answers 503 (off, not open).
struct BearerAuthMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let adminToken: String?
    let ingestToken: String?

    func handle(_ request: Request, context: BasicRequestContext, next: (Request, BasicRequestContext) async throws -> Response) async throws
        -> Response
    {
        let isIngest = request.method == .post && request.uri.path == InteractionsController.path
        guard adminToken != nil || (isIngest && ingestToken != nil) else {
            return APIResponse.error(.serviceUnavailable, "the admin API is off: set COHORT_ADMIN_TOKEN")
        }
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
            return APIResponse.error(.unauthorized, "missing or wrong bearer token")
        }
        let presented = String(header.dropFirst(7))
        // Compare against every configured token, always, so timing tells nothing.
        let admin = adminToken.map { AdminAuth.constantTimeEqual(presented, $0) } ?? false
        let ingest = ingestToken.map { AdminAuth.constantTimeEqual(presented, $0) } ?? false
        guard admin || (isIngest && ingest) else {
            return APIResponse.error(ingest ? .forbidden : .unauthorized, ingest ? "the ingest token may only import interactions" : "missing or wrong bearer token")
        }
        return try await next(request, context)
    }
}

/// JSON answers of the API: sorted keys, slashes as they are.
enum APIResponse {
    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }

    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        (try? json(["error": message], status: status)) ?? Response(status: status)
    }
}

/// Every HTTP route `cohort serve` answers, as (lower-case method, OpenAPI path): the list
/// docs/openapi.yaml is tested against.
public enum CohortRoutes {
    public static var all: [(method: String, path: String)] {
        [
            ("get", CallbackController.path), ("post", CallbackController.path), ("get", "/healthz"), ("get", "/readyz"), ("get", MetricsController.path), ("get", DashboardController.path),
        ] + AdminAPI.routes.map { ($0.method.rawValue, $0.path) }
    }
}
