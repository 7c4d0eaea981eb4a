import CohortCore
import CohortPostgres
import CohortStore
import CohortTesting
import Foundation
import Logging
import Testing

/// What the inbox suite needs of a store beyond the port: reading one event back.
protocol InboxUnderTest: InboxRepository {
    func event(id: Int64) async throws -> InboxEvent?
}

extension SQLiteInboxRepository: InboxUnderTest {}
extension PostgresInboxRepository: InboxUnderTest {}

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
