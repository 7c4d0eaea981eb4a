import CohortCore
import Foundation
import GRDB

/// How hard SQLite works to keep a commit.
public enum StoreDurability: String, Sendable, CaseIterable {
    /// WAL with `synchronous=NORMAL`: a commit survives the process being killed (kill -9);
    /// the last commits may be lost if the machine loses power.
    case normal
    /// `synchronous=FULL`: a commit also survives power loss, at the price of an fsync per commit.
    case full
}

/// Errors from opening or migrating the store.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// The embedded SQLite store: one `DatabasePool` per file (GRDB's rule 1), WAL, migrations.
///
/// Repositories implementing Core's ports are built on top of it and share its writer.
public final class CohortDatabase: Sendable {
    /// The single connection pool (or, in tests, an in-memory queue).
    public let writer: any DatabaseWriter
    /// A second connection used only to checkpoint the WAL, so the fsyncs of a checkpoint never
    /// stall the writer (SQLite lets a checkpoint run beside a writer). `nil` in memory.
    private let checkpointConnection: DatabaseQueue?

    /// Pages the writer lets the WAL grow to before it checkpoints by itself: a safety net for
    /// processes that run no background checkpointer (short CLI commands).
    static let writerAutoCheckpointPages = 16_384

    /// Opens (creating if needed) the database file at `path` and migrates it.
    public init(path: String, durability: StoreDurability = .normal) throws {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(
                at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw StoreError("cannot create database directory \(directory.path): \(error.localizedDescription)")
        }
        var configuration = Configuration()
        let synchronous = durability == .full ? "FULL" : "NORMAL"
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
            try db.execute(sql: "PRAGMA wal_autocheckpoint = \(Self.writerAutoCheckpointPages)")
            try db.execute(sql: "PRAGMA cache_size = -16384")
        }
        configuration.busyMode = .timeout(5)
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw StoreError("cannot open database \(path): \(error)")
        }
        // Contacts' personal data lives here: readable by the service user only.
        try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        self.writer = pool
        try Self.migrate(pool)
        var checkpointConfiguration = Configuration()
        checkpointConfiguration.busyMode = .timeout(1)
        checkpointConfiguration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
        }
        do {
            self.checkpointConnection = try DatabaseQueue(path: path, configuration: checkpointConfiguration)
        } catch {
            throw StoreError("cannot open checkpoint connection to \(path): \(error)")
        }
    }

    /// An in-memory database with the production migrations, for tests.
    public init(inMemory: Void = ()) throws {
        let queue = try DatabaseQueue()
        self.writer = queue
        self.checkpointConnection = nil
        try Self.migrate(queue)
    }

    private static func migrate(_ writer: any DatabaseWriter) throws {
        do {
            try Migrations.migrator.migrate(writer)
        } catch {
            throw StoreError("database migration failed: \(error)")
        }
    }

    /// Copies committed WAL pages into the database file without blocking the writer (a
    /// PASSIVE checkpoint on the dedicated connection).
    @discardableResult
    public func checkpoint() async throws -> WALCheckpoint {
        guard let connection = checkpointConnection else { return WALCheckpoint(frames: 0, copied: 0) }
        return try await connection.writeWithoutTransaction { db in
            let row = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(PASSIVE)")
            return WALCheckpoint(frames: row?[1] ?? 0, copied: row?[2] ?? 0)
        }
    }

    /// Checks that the database answers a query (readiness).
    public func ping() async throws {
        _ = try await writer.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    /// Runs SQLite's integrity check; returns the problems it lists (empty when sound).
    public func integrityCheck() async throws -> [String] {
        let rows = try await writer.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
        return rows == ["ok"] ? [] : rows
    }
}

/// What a WAL checkpoint found: the frames in the log and how many of them are now in the
/// database file.
public struct WALCheckpoint: Sendable, Equatable {
    public var frames: Int
    public var copied: Int
}
