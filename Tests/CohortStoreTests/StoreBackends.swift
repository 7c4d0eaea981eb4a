import CohortCore
import CohortPostgres
import CohortStore
import Foundation
import Logging
import Testing

/// The store backends a suite runs against: SQLite always, PostgreSQL when
/// COHORT_TEST_POSTGRES_URL names a server (.ci/run starts one and sets it).
enum StoreBackend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, postgres

    static let postgresURL = ProcessInfo.processInfo.environment["COHORT_TEST_POSTGRES_URL"]

    static var available: [StoreBackend] { postgresURL == nil ? [.sqlite] : [.sqlite, .postgres] }

    var testDescription: String { rawValue }
}

/// What the inbox suite needs of a store beyond the port: reading one event back.
protocol InboxUnderTest: InboxRepository {
    func event(id: Int64) async throws -> InboxEvent?
}

extension SQLiteInboxRepository: InboxUnderTest {}
extension PostgresInboxRepository: InboxUnderTest {}

/// A PostgreSQL store in a schema of its own, migrated, running for `body`, dropped after.
func withPostgresStore<T: Sendable>(_ body: (PostgresStore) async throws -> T) async throws -> T {
    guard let url = StoreBackend.postgresURL else { throw StoreFailure("COHORT_TEST_POSTGRES_URL is not set") }
    let schema = "test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
    let store = try PostgresStore(url: url, schema: String(schema), maximumConnections: 8, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
    return try await store.withRunning { store in
        try await store.migrate()
        do {
            let result = try await body(store)
            try await store.dropSchema()
            return result
        } catch {
            try? await store.dropSchema()
            throw error
        }
    }
}

/// A second pool on the same schema: another instance.
func withSecondInstance<T: Sendable>(of store: PostgresStore, _ body: (PostgresStore) async throws -> T) async throws -> T {
    guard let url = StoreBackend.postgresURL else { throw StoreFailure("COHORT_TEST_POSTGRES_URL is not set") }
    let other = try PostgresStore(url: url, schema: store.schema, maximumConnections: 8, logger: store.logger)
    return try await other.withRunning(body)
}

/// A fresh, empty inbox on `backend`.
func withInbox(_ backend: StoreBackend, _ body: (any InboxUnderTest) async throws -> Void) async throws {
    switch backend {
    case .sqlite:
        try await body(SQLiteInboxRepository(database: try CohortDatabase()))
    case .postgres:
        try await withPostgresStore { store in try await body(PostgresInboxRepository(store: store)) }
    }
}

/// The webhook's sink on `backend` and the inbox it writes to.
func withInboxSink(_ backend: StoreBackend, _ body: (any InboxSink, any InboxUnderTest) async throws -> Void) async throws {
    switch backend {
    case .sqlite:
        let database = try CohortDatabase()
        try await body(SQLiteInboxCommitter(database: database), SQLiteInboxRepository(database: database))
    case .postgres:
        try await withPostgresStore { store in
            let inbox = PostgresInboxRepository(store: store)
            try await body(inbox, inbox)
        }
    }
}

struct StoreBackendTests {
    @Test func aPostgresURLIsParsedAndABadOneIsRefusedClearly() throws {
        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        #expect(StoreLocation.isPostgresURL("postgresql://u@h/db"))
        #expect(!StoreLocation.isPostgresURL("data/cohort.sqlite"))
        #expect(try PostgresStore(url: "postgres://u:p%40ss@db.internal:6543/cohort?schema=tenant_a", logger: logger).schema == "tenant_a")
        #expect(try PostgresStore(url: "postgres://u@db.internal/cohort", logger: logger).schema == "public")
        #expect(throws: StoreFailure.self) { try PostgresStore(url: "postgres:///nohost", logger: logger) }
        #expect(throws: StoreFailure.self) { try PostgresStore(url: "postgres://h/db?sslmode=verify-full", logger: logger) }
        #expect(throws: StoreFailure.self) { try PostgresStore(url: "postgres://h/db?schema=a;drop", logger: logger) }
    }

    /// CI must run the PostgreSQL half of every suite, not skip it quietly.
    @Test func postgresIsConfiguredWhereCIRuns() {
        if ProcessInfo.processInfo.environment["CI"] != nil {
            #expect(StoreBackend.postgresURL != nil, "CI is set but COHORT_TEST_POSTGRES_URL is not: the PostgreSQL store goes untested")
        }
    }
}
