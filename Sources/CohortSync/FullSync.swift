import CohortCore
import Foundation
import Metrics
import Logging
import Synchronization
import WeComKit

/// Progress of a long sync, for a terminal bar or log lines.
public struct SyncProgress: Sendable, Hashable {
    public enum Phase: String, Sendable {
        case staff, tags, contacts, writing
    }

    public var phase: Phase
    public var done: Int
    public var total: Int
}

/// What one full sync did.
public struct SyncReport: Sendable {
    public var staff: Int
    public var unlicensedStaff: [String]
    public var contacts: Int
    public var relations: Int
    public var tags: Int
    public var changes: DirectoryChanges
    /// Rows the store changed (0 when the platform did not change).
    public var rowsChanged: Int
    public var seconds: Double
    /// Reading the platform, comparing with the store, writing the changes.
    public var fetchSeconds: Double
    public var compareSeconds: Double
    public var writeSeconds: Double
}

/// Why a sync stopped without writing.
public struct SyncError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Reads the whole directory from the platform (spec 2.6) and reconciles the store with it.
///
/// Everything is fetched before anything is written: a failed or partial fetch throws and
/// writes nothing, so only a complete pass ever ends a relation it did not see.
public struct FullSync: Sendable {
    public let client: WeComClient
    public let repository: any DirectoryRepository
    /// Display names from config, used where user/get does not give one.
    public var configuredNames: [String: String]
    /// batch/get_by_user chains run at once.
    public var concurrency: Int
    public var now: @Sendable () -> Date
    public var progress: (@Sendable (SyncProgress) -> Void)?
    public var logger: Logger

    public init(
        client: WeComClient, repository: any DirectoryRepository, configuredNames: [String: String] = [:], concurrency: Int = 16,
        now: @escaping @Sendable () -> Date = { Date() }, progress: (@Sendable (SyncProgress) -> Void)? = nil,
        logger: Logger = Logger(label: "cohort.sync")
    ) {
        self.client = client
        self.repository = repository
        self.configuredNames = configuredNames
        self.concurrency = max(1, concurrency)
        self.now = now
        self.progress = progress
        self.logger = logger
    }

    /// Fetches, compares and writes the difference.
    public func run() async throws -> SyncReport {
        let started = now()
        let clock = ContinuousClock()
        let fetchStart = clock.now
        // The store is read while the platform is: the read runs on its own connection.
        async let stored = repository.state()
        let snapshot = try await fetch()
        let state = try await stored
        let compareStart = clock.now
        let changes = DirectoryDiff.changes(from: state, to: snapshot)
        progress?(SyncProgress(phase: .writing, done: 0, total: 1))
        let writeStart = clock.now
        let rows = try await repository.apply(changes, at: now())
        let writeEnd = clock.now
        progress?(SyncProgress(phase: .writing, done: 1, total: 1))
        let report = SyncReport(
            staff: snapshot.staff.count, unlicensedStaff: snapshot.unlicensedStaff.sorted(), contacts: snapshot.contacts.count,
            relations: snapshot.relations.count, tags: snapshot.tagGroups.reduce(0) { $0 + $1.tags.count }, changes: changes,
            rowsChanged: rows, seconds: now().timeIntervalSince(started), fetchSeconds: (compareStart - fetchStart).inSeconds,
            compareSeconds: (writeStart - compareStart).inSeconds, writeSeconds: (writeEnd - writeStart).inSeconds)
        logger.info(
            "sync finished",
            metadata: [
                "contacts": "\(report.contacts)", "relations": "\(report.relations)", "rows_changed": "\(rows)",
                "seconds": "\(String(format: "%.2f", report.seconds))",
            ])
        Metrics.Timer(label: "cohort_sync_duration_seconds").recordSeconds(report.seconds)
        return report
    }

    /// Fetches and compares; writes nothing.
    public func check() async throws -> DirectoryChanges {
        async let stored = repository.state()
        let snapshot = try await fetch()
        return DirectoryDiff.changes(from: try await stored, to: snapshot)
    }

    /// One complete pass over the platform: staff, tag catalogue, every relation.
    public func fetch() async throws -> DirectorySnapshot {
        progress?(SyncProgress(phase: .staff, done: 0, total: 1))
        let userids = try await client.followUserList()
        progress?(SyncProgress(phase: .tags, done: 0, total: 1))
        let catalogue = PlatformMapping.catalogue(try await client.corpTagList()).live

        // Chains of members small enough that `concurrency` of them keep the API busy; each
        // chain pages with its own cursor, so pages of one chain are sequential.
        let chunkSize = min(100, max(1, (userids.count + concurrency - 1) / concurrency))
        let chunks = stride(from: 0, to: userids.count, by: chunkSize).map { Array(userids[$0..<min($0 + chunkSize, userids.count)]) }
        let fetchedRows = RowCounter()
        let client = self.client
        let progress = self.progress
        let names = try await withThrowingTaskGroup(of: ChainResult.self) { group in
            for chunk in chunks {
                group.addTask {
                    try await Self.chain(chunk, client: client) { count in
                        progress?(SyncProgress(phase: .contacts, done: fetchedRows.add(count), total: 0))
                    }
                }
            }
            group.addTask { .names(await Self.names(userids, client: client, concurrency: 4)) }
            var snapshot = DirectorySnapshot(tagGroups: catalogue)
            var names: [String: String] = [:]
            for try await result in group {
                switch result {
                case .names(let fetched):
                    names = fetched
                case .rows(let rows, let unlicensed):
                    snapshot.unlicensedStaff.formUnion(unlicensed)
                    for row in rows {
                        let id = row.external_contact.external_userid
                        if snapshot.contacts[id] == nil { snapshot.contacts[id] = PlatformMapping.contact(row.external_contact) }
                        let relation = PlatformMapping.relation(row.follow_info, of: id)
                        snapshot.relations[relation.key] = relation
                    }
                }
            }
            return (snapshot, names)
        }
        var snapshot = names.0
        snapshot.staff = userids.map { StaffMember(userID: $0, name: names.1[$0] ?? configuredNames[$0]) }
        return snapshot
    }

    enum ChainResult: Sendable {
        case rows([BatchGetByUserResponse.Element], unlicensed: Set<String>)
        case names([String: String])
    }

    /// Pages batch/get_by_user for one group of members until `next_cursor` is empty.
    static func chain(_ userids: [String], client: WeComClient, progress: @Sendable (Int) -> Void) async throws -> ChainResult {
        var rows: [BatchGetByUserResponse.Element] = []
        var unlicensed: Set<String> = []
        var cursor: String?
        var seen: Set<String> = []
        repeat {
            let page: BatchGetByUserResponse
            do {
                page = try await client.batchGetByUser(BatchGetByUserRequest(userid_list: userids, cursor: cursor, limit: 100))
            } catch {
                // Every member of this chain lacks an interop licence: the same as each being
                // listed in fail_info, so their relations are kept, not ended.
                if error.errcode == 701008 && cursor == nil { return .rows([], unlicensed: Set(userids)) }
                throw error
            }
            let elements = page.external_contact_list ?? []
            rows += elements
            unlicensed.formUnion(page.fail_info?.unlicensed_userid_list ?? [])
            progress(elements.count)
            cursor = page.next_cursor
            if let next = cursor, !next.isEmpty, !seen.insert(next).inserted {
                throw SyncError("batch/get_by_user returned the same cursor twice for \(userids.first ?? "")…; the pass is incomplete")
            }
        } while !(cursor ?? "").isEmpty
        return .rows(rows, unlicensed: unlicensed)
    }

    /// Display names from user/get, where the app may read them. A name equal to the userid
    /// (what apps without the right get) or any error leaves the name to config.
    static func names(_ userids: [String], client: WeComClient, concurrency: Int) async -> [String: String] {
        await withTaskGroup(of: (String, String?).self) { group in
            var names: [String: String] = [:]
            var iterator = userids.makeIterator()
            func next(_ group: inout TaskGroup<(String, String?)>) {
                guard let userid = iterator.next() else { return }
                group.addTask {
                    let name = try? await client.user(userid).name
                    return (userid, name.flatMap { $0.isEmpty || $0 == userid ? nil : $0 })
                }
            }
            for _ in 0..<concurrency { next(&group) }
            while let (userid, name) = await group.next() {
                if let name { names[userid] = name }
                next(&group)
            }
            return names
        }
    }
}

/// Relations fetched so far, across chains.
final class RowCounter: Sendable {
    private let value = Mutex(0)

    func add(_ count: Int) -> Int {
        value.withLock { total in
            total += count
            return total
        }
    }
}
