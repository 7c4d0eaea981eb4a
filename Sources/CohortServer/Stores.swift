import CohortConfig
import CohortCore
import CohortPostgres
import CohortStore
import Foundation
import Logging

/// Every store port of one corp, over one SQLite file or one PostgreSQL database shared by
/// several instances: what the composition root hands the server, its services and the CLI.
/// Nothing outside the store modules needs to know which backend it is.
public struct Stores: Sendable {
    public let corpID: String
    public let inbox: any InboxRepository
    /// Where the webhook stores events: a group-committing sink over `inbox`.
    public let sink: any InboxSink
    public let directory: any DirectoryRepository
    public let interactions: any InteractionRepository
    public let grading: any GradingRepository & PlatformOpRepository
    public let campaigns: any CampaignRepository
    public let welcomes: any WelcomeRepository
    public let alerts: any AlertRepository
    public let audit: any AuditLog
    public let configHistory: any ConfigHistory
    public let overview: any OverviewReader
    public let retention: any RetentionStore
    /// Keeps scheduled jobs to one instance at a time (a no-op on SQLite).
    public let jobLock: any JobLock
    /// The access token and the call quota all instances share (nil on SQLite: this process is
    /// the only caller).
    public let sharedTokens: (any SharedTokenStore)?
    public let callBudget: (any SharedCallBudget)?
    /// The SQLite file, for what only it offers (online backups, WAL checkpoints); nil on PostgreSQL.
    public let sqlite: CohortDatabase?
    /// Answers when the database does (`/readyz`).
    public let ping: @Sendable () async throws -> Void
    /// Which backend, for logs and messages.
    public let backend: String

    /// The stores of one SQLite file.
    public init(sqlite database: CohortDatabase, corpID: String) {
        let grading = SQLiteGradingRepository(database: database, corpID: corpID)
        let campaigns = SQLiteCampaignRepository(database: database, corpID: corpID)
        self.corpID = corpID
        inbox = SQLiteInboxRepository(database: database)
        sink = SQLiteInboxCommitter(database: database)
        directory = SQLiteDirectoryRepository(database: database, corpID: corpID)
        interactions = SQLiteInteractionRepository(database: database, corpID: corpID)
        self.grading = grading
        self.campaigns = campaigns
        welcomes = campaigns
        alerts = SQLiteAlertRepository(database: database, corpID: corpID)
        audit = SQLiteAuditLog(database: database, corpID: corpID)
        configHistory = SQLiteConfigHistory(database: database, corpID: corpID)
        overview = SQLiteOverviewReader(database: database, corpID: corpID)
        retention = SQLiteRetention(database: database, corpID: corpID)
        jobLock = LocalJobLock()
        sharedTokens = nil
        callBudget = nil
        sqlite = database
        ping = { try await database.ping() }
        backend = "sqlite"
    }

    /// The stores of one PostgreSQL database, as instance `instance` (see `PostgresInstancePresence`).
    public init(postgres store: PostgresStore, corpID: String, instance: String) {
        self.corpID = corpID
        let inbox = PostgresInboxRepository(store: store)
        self.inbox = inbox
        sink = inbox
        directory = PostgresDirectoryRepository(store: store, corpID: corpID)
        interactions = PostgresInteractionRepository(store: store, corpID: corpID)
        grading = PostgresGradingRepository(store: store, corpID: corpID)
        campaigns = PostgresCampaignRepository(store: store, corpID: corpID, instance: instance)
        welcomes = PostgresWelcomeRepository(store: store, corpID: corpID)
        alerts = PostgresAlertRepository(store: store, corpID: corpID)
        audit = PostgresAuditLog(store: store, corpID: corpID)
        configHistory = PostgresConfigHistory(store: store, corpID: corpID)
        overview = PostgresOverviewReader(store: store, corpID: corpID)
        retention = PostgresRetention(store: store, corpID: corpID)
        jobLock = PostgresJobLock(store: store)
        sharedTokens = PostgresTokenStore(store: store)
        callBudget = PostgresCallBudget(store: store)
        sqlite = nil
        ping = { try await store.ping() }
        backend = "postgres"
    }

    /// Opens the store the settings name (`COHORT_DATABASE`: a `postgres://` URL, or else a
    /// SQLite path) for the duration of `body`. On PostgreSQL the connection pool runs, the
    /// migrations are applied and this instance's presence is held until `body` returns.
    public static func with<T: Sendable>(
        _ settings: CohortSettings, logger: Logger, _ body: (Stores) async throws -> T
    ) async throws -> T {
        let corpID = settings.platform.corpID
        guard StoreLocation.isPostgresURL(settings.database.path) else {
            return try await body(Stores(sqlite: try CohortDatabase.open(settings.database), corpID: corpID))
        }
        let store: PostgresStore
        do {
            store = try PostgresStore(url: settings.database.path, logger: logger)
        } catch let failure as StoreFailure {
            throw StartupError(failure.description)
        }
        return try await store.withRunning { store in
            try await store.migrate()
            let presence = PostgresInstancePresence(store: store)
            return try await presence.holding {
                try await body(Stores(postgres: store, corpID: corpID, instance: presence.instance))
            }
        }
    }
}
