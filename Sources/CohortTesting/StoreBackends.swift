import CohortPostgres
import Foundation
import Logging
import Testing

/// The store backends a suite runs against: SQLite always, PostgreSQL when
/// COHORT_TEST_POSTGRES_URL names a server (.ci/run starts one and sets it).
public enum StoreBackend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, postgres

    public static let postgresURL = ProcessInfo.processInfo.environment["COHORT_TEST_POSTGRES_URL"]

    public static var available: [StoreBackend] { postgresURL == nil ? [.sqlite] : [.sqlite, .postgres] }

    public var testDescription: String { rawValue }
}

/// A PostgreSQL store in a schema of its own, migrated, running for `body`, dropped after.
public func withPostgresStore<T: Sendable>(_ body: (PostgresStore) async throws -> T) async throws -> T {
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
public func withSecondInstance<T: Sendable>(of store: PostgresStore, _ body: (PostgresStore) async throws -> T) async throws -> T {
    guard let url = StoreBackend.postgresURL else { throw StoreFailure("COHORT_TEST_POSTGRES_URL is not set") }
    let other = try PostgresStore(url: url, schema: store.schema, maximumConnections: 8, logger: store.logger)
    return try await other.withRunning(body)
}

