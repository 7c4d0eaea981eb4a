import CohortCore
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// A PostgreSQL database shared by several Cohort instances: a connection pool (postgres-nio's
/// `PostgresClient`, which must be running: ``run()`` as a service, or ``withRunning(_:)``) and
/// the migrations.
public final class PostgresStore: Service, Sendable {
    public let client: PostgresClient
    public let logger: Logger
    /// The schema every table lives in (`public` unless the URL or the caller names another).
    public let schema: String

    /// Opens a pool for `url`: `postgres://user:password@host:port/database`, with optional
    /// query items `sslmode` (`disable`, the default on loopback, or `require`) and `schema`.
    public init(url: String, schema: String? = nil, maximumConnections: Int = 20, logger: Logger) throws {
        guard StoreLocation.isPostgresURL(url), let components = URLComponents(string: url), let host = components.host, !host.isEmpty else {
            throw StoreFailure("COHORT_DATABASE is not a postgres:// URL with a host")
        }
        let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }) { $1 }
        let database = components.path.split(separator: "/").first.map(String.init)
        let tls: PostgresClient.Configuration.TLS
        switch query["sslmode"] ?? "disable" {
        case "disable": tls = .disable
        case "require": tls = .require(.makeClientConfiguration())
        case let mode: throw StoreFailure("sslmode \(mode) is not supported (disable or require)")
        }
        let chosenSchema = schema ?? query["schema"] ?? "public"
        guard chosenSchema.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
            throw StoreFailure("schema \(chosenSchema) must be letters, digits and _")
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: components.user ?? "postgres",
            password: components.password?.removingPercentEncoding, database: database, tls: tls)
        configuration.options.maximumConnections = maximumConnections
        // Every connection works in the chosen schema: the SQL names tables without one.
        configuration.options.additionalStartupParameters = [("search_path", chosenSchema)]
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.logger = logger
        self.schema = chosenSchema
    }

    /// Runs the pool until cancelled (a ServiceGroup service).
    public func run() async throws {
        await client.run()
    }

    /// Runs the pool for the duration of `body`: for commands and tests outside a ServiceGroup.
    public func withRunning<T: Sendable>(_ body: (PostgresStore) async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            // The body starts once the pool's task does: a query issued before `run()` is
            // entered waits anyway, but postgres-nio warns about it.
            let (started, signal) = AsyncStream<Void>.makeStream()
            group.addTask {
                signal.finish()
                await self.client.run()
                return nil
            }
            defer { group.cancelAll() }
            for await _ in started {}
            return try await body(self)
        }
    }

    /// Applies every migration not yet applied, in order, each in its own transaction. Instances
    /// starting together serialize on an advisory lock, so each migration runs once.
    public func migrate() async throws {
        let schema = self.schema
        try await client.withConnection { connection in
            try await connection.query("SELECT pg_advisory_lock(\(Self.migrationLock))", logger: self.logger)
            do {
                // Created only when missing, under the lock: instances starting together on a
                // fresh database do not race, and a role without CREATE on the database can run
                // in a schema an administrator made for it.
                var exists = false
                // Unquoted, the name folds to lower case, as every statement here writes it.
                for try await _ in try await connection.query(
                    "SELECT 1 FROM pg_namespace WHERE nspname = lower(\(schema))", logger: self.logger)
                {
                    exists = true
                }
                if !exists { try await connection.query("CREATE SCHEMA \(unescaped: schema)", logger: self.logger) }
                try await connection.query(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
                    logger: self.logger)
                var applied: Set<String> = []
                for try await id in try await connection.query("SELECT id FROM schema_migrations", logger: self.logger).decode(String.self) {
                    applied.insert(id)
                }
                for migration in PostgresMigrations.all where !applied.contains(migration.id) {
                    try await connection.withTransaction(logger: self.logger) { transaction in
                        for statement in migration.statements {
                            try await transaction.query(PostgresQuery(unsafeSQL: statement), logger: self.logger)
                        }
                        try await transaction.query("INSERT INTO schema_migrations (id) VALUES (\(migration.id))", logger: self.logger)
                    }
                }
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.migrationLock))", logger: self.logger)
                throw error
            }
            try await connection.query("SELECT pg_advisory_unlock(\(Self.migrationLock))", logger: self.logger)
        }
    }

    /// The ids of the migrations applied, in order.
    public func appliedMigrations() async throws -> [String] {
        var ids: [String] = []
        for try await id in try await client.query("SELECT id FROM schema_migrations ORDER BY applied_at, id", logger: logger).decode(String.self) {
            ids.append(id)
        }
        return ids
    }

    /// Runs `body` in a transaction. An error `body` throws comes out as itself (rolled back),
    /// not wrapped in postgres-nio's `PostgresTransactionError`, so callers can match it.
    public func transaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
        } catch let error as PostgresTransactionError {
            if let thrown = error.closureError, error.rollbackError == nil { throw thrown }
            throw error
        }
    }

    /// Runs `body`'s reads in one REPEATABLE READ snapshot, so what another instance commits
    /// meanwhile cannot pair one state of a table with another state of the next.
    public func snapshot<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        let logger = self.logger
        return try await client.withConnection { connection in
            try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
            do {
                let result = try await body(connection)
                try await connection.query("COMMIT", logger: logger)
                return result
            } catch {
                if !connection.isClosed { _ = try? await connection.query("ROLLBACK", logger: logger) }
                throw error
            }
        }
    }

    /// Answers when the database does (readiness).
    public func ping() async throws {
        try await client.query("SELECT 1", logger: logger)
    }

    /// Drops the schema and everything in it (tests).
    public func dropSchema() async throws {
        try await client.query("DROP SCHEMA IF EXISTS \(unescaped: schema) CASCADE", logger: logger)
    }

    /// The name of an advisory lock for `name` in this store. Advisory locks are per database, not
    /// per schema, so the schema is part of the name: two deployments in one database do not block
    /// each other.
    public func lockName(_ name: String) -> String {
        schema + ":" + name
    }

    /// The advisory lock key migrations hold (an arbitrary constant: "cohort" in ASCII).
    static let migrationLock: Int64 = 0x636F_686F_7274
}

/// A failure of the PostgreSQL store that is not the database's own error.
public struct StoreFailure: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

extension PostgresConnection {
    /// How many rows a statement ending in `RETURNING 1` touched: postgres-nio reports no
    /// affected-row count, so the returned rows are the count.
    func affectedRows(_ query: PostgresQuery, logger: Logger) async throws -> Int {
        try await countRows(self.query(query, logger: logger))
    }

    /// Takes the session advisory lock `name` if nobody holds it; false when somebody does.
    func tryAdvisoryLock(_ name: String, logger: Logger) async throws -> Bool {
        for try await granted in try await query("SELECT pg_try_advisory_lock(hashtext(\(name)))", logger: logger).decode(Bool.self) {
            return granted
        }
        return false
    }

    /// Releases a session advisory lock taken on this connection, from a task of its own: the
    /// caller may be cancelled (its holder is shutting down), and the release must still reach
    /// the server before the connection goes back to the pool, or the pooled session would keep
    /// the lock. A session the server lost took the lock with it, and a query on its closed
    /// connection would wait for ever (postgres-nio), so a closed connection has nothing to release.
    func releaseAdvisoryLock(_ name: String, logger: Logger) async {
        guard !isClosed else { return }
        await Task { _ = try? await self.query("SELECT pg_advisory_unlock(hashtext(\(name)))", logger: logger) }.value
    }

    /// Throws when the session is gone: a closed connection is not queried (postgres-nio would
    /// wait on it for ever), and one that does not answer within `timeout` (a network cut with
    /// no reset) is closed, which ends the query too.
    func checkAlive(logger: Logger, timeout: Duration = .seconds(10)) async throws {
        guard !isClosed else { throw StoreFailure("the database session closed") }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.query("SELECT 1", logger: logger) }
            group.addTask {
                try await Task.sleep(for: timeout)
                try? await self.close()
                throw StoreFailure("the database session did not answer within \(timeout)")
            }
            try await group.next()
            group.cancelAll()
        }
    }
}

extension PostgresClient {
    /// How many rows a statement ending in `RETURNING 1` touched, on any pooled connection.
    func affectedRows(_ query: PostgresQuery, logger: Logger) async throws -> Int {
        try await countRows(self.query(query, logger: logger))
    }
}

private func countRows(_ rows: PostgresRowSequence) async throws -> Int {
    var count = 0
    for try await _ in rows { count += 1 }
    return count
}
