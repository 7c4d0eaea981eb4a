import CohortConfig
import CohortCore
import CohortStore
import CohortSync
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import WeComKit

/// Why the application cannot start.
public struct StartupError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// The pieces the server runs on, built once by the composition root.
public struct AppDependencies: Sendable {
    public var settings: CohortSettings
    /// Every store port, on SQLite or PostgreSQL.
    public var stores: Stores
    public var inbox: any InboxRepository
    /// Where the webhook stores events: a group-committing sink over `inbox`.
    public var sink: any InboxSink
    /// The SQLite file, when the stores are one (checkpoints).
    public var database: CohortDatabase? { stores.sqlite }
    public var handler: any InboxEventHandler
    public var now: @Sendable () -> Date
    /// Whether the inbox processor runs beside the webhook (benchmarks switch it off to
    /// measure the webhook alone).
    public var runsInboxProcessor = true
    /// Grading over this store, when grading.yaml and tags.yaml loaded.
    public var grader: Grader?
    /// Interaction records for `POST /api/v1/interactions`.
    public var interactions: (any InteractionRepository)?
    /// Drains queued tag writes to the platform.
    public var tagWriter: TagWriter?
    /// Creates campaign tasks (nil without campaign rules or a platform client).
    public var campaignDispatcher: CampaignDispatcher?
    /// Brings campaign results in.
    public var resultPoller: CampaignResultPoller?
    /// How often the result poller asks the platform.
    public var resultPollInterval: Duration = .seconds(60)
    /// How long the dispatcher rests after a pass with nothing to do.
    public var dispatchInterval: Duration = .seconds(5)
    /// Sends welcome messages ahead of the inbox.
    public var welcomeLane: WelcomeLane?
    /// Segments, campaigns and welcome rules, for the admin API.
    public var campaignRules: CampaignRules?
    /// The platform client, when WECOM_SECRET is set.
    public var platformClient: WeComClient?
    /// Where the admin API checks the config.
    public var configDirectory = "Config"
    public var templatesDirectory = "Templates"
    /// Where `POST /api/v1/config/reload` sends its request (nil: reloading is not offered).
    public var reload: ReloadSignal?
    /// Raised alerts; delivered by the alert service when set.
    public var alerts: (any AlertRepository)?
    /// The scheduled full sync (`sync.interval_hours`).
    public var scheduledSync: FullSync?
    /// Keeps scheduled jobs (sync, full re-grade, result polling) to one instance at a time:
    /// nothing to keep apart on SQLite, advisory locks on a shared PostgreSQL.
    public var jobLock: any JobLock

    public init(
        settings: CohortSettings, stores: Stores, handler: any InboxEventHandler = AcknowledgingHandler(),
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.settings = settings
        self.stores = stores
        self.inbox = stores.inbox
        self.sink = stores.sink
        self.handler = handler
        self.now = now
        self.jobLock = stores.jobLock
    }

    /// The server over `stores`; events are applied to the contact directory through the
    /// platform API (or wait, failing, until WECOM_SECRET is set).
    public static func live(
        settings: CohortSettings, stores: Stores, rules: GradingRules?, campaigns: CampaignRules? = nil, logger: Logger,
        transport: (any PlatformTransport)? = nil
    ) throws -> AppDependencies {
        let interactions = stores.interactions
        let grader = rules.map { Grader(rules: $0, repository: stores.grading, logger: logger) }
        var handler: any InboxEventHandler
        var tagWriter: TagWriter?
        var dispatcher: CampaignDispatcher?
        var poller: CampaignResultPoller?
        var lane: WelcomeLane?
        var platformClient: WeComClient?
        var scheduledSync: FullSync?
        do {
            let client = try Platform.client(settings, stores: stores, transport: transport)
            platformClient = client
            if settings.sync.intervalHours != nil {
                scheduledSync = FullSync(
                    client: client, repository: stores.directory, configuredNames: settings.platform.staffNames,
                    concurrency: settings.sync.concurrency, logger: logger)
            }
            handler = ContactEventHandler(client: client, repository: stores.directory, logger: logger)
            if let grader {
                handler = RegradingHandler(inner: handler, grader: grader, interactions: interactions, logger: logger)
                tagWriter = TagWriter(
                    client: client, directory: stores.directory, ops: stores.grading, staffGroups: grader.rules.staffGroups, logger: logger)
            }
            if let campaigns, let grading = rules {
                let ledger = stores.campaigns
                dispatcher = CampaignDispatcher(client: client, ledger: ledger, config: campaigns.config, logger: logger)
                dispatcher?.alerts = stores.alerts
                poller = CampaignResultPoller(client: client, ledger: ledger, settings: campaigns.config.dispatch, logger: logger)
                let sender = WelcomeSender(
                    client: client, directory: stores.directory, grading: grading, rules: campaigns, gradingRepository: stores.grading,
                    campaigns: ledger, welcomes: stores.welcomes, logger: logger)
                lane = WelcomeLane(sender: sender, welcomes: stores.welcomes, logger: logger, parse: { try CallbackXML.parseMessage($0) })
            }
        } catch {
            logger.warning("callbacks are stored but not applied: \(error) (then `cohort inbox replay`)")
            handler = UnconfiguredHandler(reason: error.description)
        }
        var dependencies = AppDependencies(settings: settings, stores: stores, handler: handler)
        dependencies.grader = grader
        dependencies.interactions = interactions
        dependencies.tagWriter = tagWriter
        dependencies.campaignDispatcher = dispatcher
        dependencies.resultPoller = poller
        dependencies.welcomeLane = lane
        dependencies.campaignRules = campaigns
        dependencies.platformClient = platformClient
        dependencies.alerts = stores.alerts
        dependencies.scheduledSync = scheduledSync
        return dependencies
    }

    /// Dependencies over one SQLite database (a file, or in memory for tests).
    public init(sqlite database: CohortDatabase, settings: CohortSettings, handler: any InboxEventHandler = AcknowledgingHandler()) {
        self.init(settings: settings, stores: Stores(sqlite: database, corpID: settings.platform.corpID), handler: handler)
    }
}

/// Builds the platform client and the directory repository from settings.
public enum Platform {
    /// The API client for the configured corp and secret, with the configured call limits;
    /// with `stores` on PostgreSQL, the token and the quota are shared with every instance.
    public static func client(_ settings: CohortSettings, stores: Stores? = nil, transport: (any PlatformTransport)? = nil)
        throws(StartupError) -> WeComClient
    {
        guard let secret = settings.secrets.wecomSecret else {
            throw StartupError("WECOM_SECRET is not set: the platform API needs the customer-contact app secret")
        }
        guard !settings.platform.corpID.isEmpty else { throw StartupError("WECOM_CORP_ID or platform.corp_id is not set") }
        guard let base = URL(string: settings.platform.apiBase) else { throw StartupError("platform.api_base is not a URL") }
        let limiter = RateLimiter(
            windows: [
                RateLimiter.Window(seconds: 60, limit: settings.platform.perMinuteLimit),
                RateLimiter.Window(seconds: 3600, limit: settings.platform.perHourLimit),
            ], shared: stores?.callBudget)
        return WeComClient(
            apiBase: base, corpID: settings.platform.corpID, secret: secret, transport: transport ?? URLSessionTransport(),
            limiter: limiter, sharedTokens: stores?.sharedTokens)
    }
}

/// The handler when the platform API cannot be called: every event fails with the reason, so
/// it stays in the inbox (retried, then dead-lettered) until an operator sets the secret and
/// replays it. Nothing is acknowledged that was not done.
public struct UnconfiguredHandler: InboxEventHandler {
    /// Why the platform API cannot be called.
    public let reason: String

    public init(reason: String) {
        self.reason = reason
    }

    public func handle(_ delivery: InboxDelivery) async throws {
        throw StartupError("\(reason); fix it and run `cohort inbox replay` to apply this event")
    }
}

extension CohortDatabase {
    /// Opens the SQLite file the settings name, with their durability, for what only SQLite
    /// offers (an online backup). Commands that work on either backend use `Stores.with`.
    public static func open(_ settings: DatabaseSettings) throws -> CohortDatabase {
        if StoreLocation.isPostgresURL(settings.path) {
            // Said plainly rather than creating a SQLite file named like a URL.
            throw StartupError(
                "COHORT_DATABASE names PostgreSQL, and this needs a SQLite file; on PostgreSQL use the database's own tools (pg_dump) (docs/DEPLOYMENT.md)")
        }
        return try CohortDatabase(path: settings.path, durability: settings.durability == .full ? .full : .normal)
    }
}

/// Builds the Cohort HTTP application and its background services: the composition root shared
/// by `cohort serve`, the benchmarks and the tests.
public enum CohortApplication {
    /// Checks the settings `serve` needs before any resource is opened.
    public static func validateForServe(_ settings: CohortSettings) throws {
        var missing: [String] = []
        if settings.secrets.callbackToken == nil { missing.append("WECOM_TOKEN (callback Token)") }
        if settings.secrets.encodingAESKey == nil { missing.append("WECOM_AES_KEY (EncodingAESKey)") }
        if settings.platform.corpID.isEmpty { missing.append("WECOM_CORP_ID or platform.corp_id") }
        if !missing.isEmpty {
            throw StartupError("cannot receive callbacks without: \(missing.joined(separator: ", "))")
        }
    }

    public static func build(
        _ dependencies: AppDependencies, logger: Logger,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let settings = dependencies.settings
        try validateForServe(settings)
        let crypto: CallbackCrypto
        do {
            crypto = try CallbackCrypto(
                token: settings.secrets.callbackToken ?? "", encodingAESKey: settings.secrets.encodingAESKey ?? "",
                receiveID: settings.platform.corpID)
        } catch {
            throw StartupError(error.description)
        }
        let doorbell = Doorbell()
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: MethodNotAllowedMiddleware(allowed: [CallbackController.path: [.get, .post]]))
        CallbackController(
            receiver: CallbackReceiver(crypto: crypto), sink: dependencies.sink, doorbell: doorbell,
            maxBodyBytes: settings.server.maxBodyBytes, now: dependencies.now, welcome: dependencies.welcomeLane
        ).register(on: router)
        HealthController(ping: dependencies.stores.ping).register(on: router)
        MetricsController(overview: dependencies.stores.overview, now: dependencies.now).register(on: router)
        var interactionsController: InteractionsController?
        if let interactions = dependencies.interactions {
            let grading = dependencies.grader?.rules.grading ?? GradingConfig()
            interactionsController = InteractionsController(
                repository: interactions,
                parser: InteractionRowParser(knownKinds: Set(grading.kinds), timeZone: grading.timeZone, defaultSource: "api"),
                grader: dependencies.grader, maxBodyBytes: max(settings.server.maxBodyBytes, 1 << 20), logger: logger)
        }
        let grading = dependencies.grader?.rules
        var desk: CampaignDesk?
        if let grading, let rules = dependencies.campaignRules {
            desk = CampaignDesk(
                grading: grading, rules: rules, gradingRepository: dependencies.stores.grading, ledger: dependencies.stores.campaigns,
                logger: logger)
            desk?.audit = dependencies.stores.audit
            desk?.actor = "api"
        }
        var admin = AdminServices(
            settings: settings, stores: dependencies.stores, grading: grading, desk: desk, client: dependencies.platformClient,
            configDirectory: dependencies.configDirectory, reload: dependencies.reload)
        admin.templatesDirectory = dependencies.templatesDirectory
        AdminAPI(services: admin, interactions: interactionsController, logger: logger)
            .register(on: router, adminToken: settings.secrets.adminToken, ingestToken: settings.secrets.ingestToken)
        DashboardController(overview: dependencies.stores.overview, desk: admin.desk, now: dependencies.now).register(on: router)

        var processor = InboxProcessor(
            repository: dependencies.inbox, handler: dependencies.handler, policy: settings.inbox.retryPolicy,
            pollInterval: .milliseconds(settings.inbox.pollIntervalMilliseconds), batchSize: settings.inbox.batchSize,
            doorbell: doorbell, logger: logger, parse: { try CallbackXML.parseMessage($0) }, now: dependencies.now)
        processor.alerts = dependencies.alerts

        var services: [any Service] = dependencies.runsInboxProcessor ? [processor] : []
        if let database = dependencies.database {
            services.append(CheckpointService(database: database, logger: logger))
        }
        if let writer = dependencies.tagWriter {
            services.append(TagWriterService(writer: writer, interval: .seconds(5), logger: logger))
        }
        if let grader = dependencies.grader, dependencies.runsInboxProcessor {
            services.append(GradingScheduleService(grader: grader, jobLock: dependencies.jobLock, logger: logger))
        }
        if let lane = dependencies.welcomeLane { services.append(lane) }
        if let sync = dependencies.scheduledSync, let hours = settings.sync.intervalHours, dependencies.runsInboxProcessor {
            services.append(SyncScheduleService(sync: sync, interval: .seconds(hours * 3_600), jobLock: dependencies.jobLock, logger: logger))
        }
        if settings.retention.isEnabled, dependencies.runsInboxProcessor {
            services.append(
                RetentionService(
                    retention: dependencies.stores.retention, settings: settings.retention, audit: dependencies.stores.audit,
                    now: dependencies.now, logger: logger))
        }
        if let alerts = dependencies.alerts, dependencies.runsInboxProcessor {
            var service = AlertService(
                alerts: alerts, settings: settings.alerts, client: dependencies.platformClient, transport: URLSessionTransport(), logger: logger)
            service.jobLock = dependencies.jobLock
            services.append(service)
        }
        if let dispatcher = dependencies.campaignDispatcher {
            services.append(CampaignDispatchService(dispatcher: dispatcher, interval: dependencies.dispatchInterval, logger: logger))
        }
        if let poller = dependencies.resultPoller {
            services.append(CampaignResultPollService(
                poller: poller, interval: dependencies.resultPollInterval, jobLock: dependencies.jobLock, logger: logger))
        }
        return Application(
            router: router,
            // A connection that sends nothing for 30 s is closed: slow clients cannot hold
            // connections open forever (the platform answers within a second or two).
            server: .http1(configuration: .init(idleTimeout: .seconds(30))),
            configuration: .init(
                address: .hostname(settings.server.host, port: settings.server.port), serverName: nil),
            services: services,
            onServerRunning: onServerRunning,
            logger: logger)
    }
}

/// `/healthz` (the process answers) and `/readyz` (the database answers).
struct HealthController: Sendable {
    let ping: @Sendable () async throws -> Void

    func register(on router: Router<BasicRequestContext>) {
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/readyz") { _, _ -> Response in
            do {
                try await ping()
                return Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: "ready\n")))
            } catch {
                return Response(status: .serviceUnavailable, body: ResponseBody(byteBuffer: ByteBuffer(string: "database unavailable\n")))
            }
        }
    }
}
