import ArgumentParser
import CohortCore
import CohortStore
import CohortSync
import Foundation
import Hummingbird
import Logging
import NIOCore
import WeComKit
import WeComSimulator

/// `cohort-bench sync`: a full sync of a seeded corp from the simulator over loopback HTTP into
/// a fresh SQLite file, then an unchanged re-sync (which must write nothing). Reports wall
/// time, calls made, and the time the platform's default quota (10,000 calls a minute per API)
/// needs for that many calls.
struct SyncBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sync", abstract: "Full sync from the simulator over loopback.")

    @Option(help: "Staff members.") var staff = 200
    @Option(help: "Customers.") var contacts = 100_000
    @Option(help: "Dataset seed.") var seed: UInt64 = 42
    @Option(help: "batch/get_by_user chains at once.") var concurrency = 16
    @Flag(help: "Use an in-memory database (separates SQLite's I/O from its CPU).") var inMemory = false

    func run() async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-bench-sync-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }

        progress("generating \(contacts) contacts over \(staff) staff (seed \(seed))")
        let corp = SimulatorDataset(staff: staff, contacts: contacts, seed: seed).generate()
        let configuration = SimulatorConfiguration()
        let simulator = WeComSimulator(configuration: configuration, corp: corp)
        // The platform's own cost is not Cohort's: the simulator encodes its rows beforehand.
        await simulator.prepareRows()
        let logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
        let (portStream, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: SimulatorServer.router(simulator), configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: nil),
            onServerRunning: { channel in portContinuation.yield(channel.localAddress?.port ?? 0) }, logger: logger)

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService() }
            var ports = portStream.makeAsyncIterator()
            guard let port = await ports.next() else { throw ValidationError("simulator did not start") }
            let database = inMemory ? try CohortDatabase(inMemory: ()) : try CohortDatabase(path: work.appendingPathComponent("sync.sqlite").path)
            let repository = SQLiteDirectoryRepository(database: database, corpID: configuration.corpID)

            var lines: [String] = []
            for run in ["full", "unchanged"] {
                // A fresh client per run: its call counts are that run's.
                let client = WeComClient(
                    apiBase: URL(string: "http://127.0.0.1:\(port)")!, corpID: configuration.corpID, secret: configuration.secret,
                    transport: URLSessionTransport(timeout: 30))
                let sync = FullSync(client: client, repository: repository, concurrency: concurrency, logger: logger)
                progress("\(run) sync")
                let cpuBefore = CPUTimes.now()
                let started = ContinuousClock.now
                let report = try await sync.run()
                let wall = (ContinuousClock.now - started).inSeconds
                let cpu = CPUTimes.now().own - cpuBefore.own
                let calls = client.callCounts
                let total = calls.values.reduce(0, +) + (await client.tokens.fetches)
                // The platform's windows are per API: the busiest API sets the pace.
                let quotaSeconds = calls.values.map { Double($0) / (10_000.0 / 60.0) }.max() ?? 0
                lines.append(
                    jsonLine([
                        "scenario": "sync-\(run)", "staff": report.staff, "contacts": report.contacts, "relations": report.relations,
                        "calls": total, "calls_by_api": calls, "wall_seconds": Self.round(wall), "cpu_seconds": Self.round(cpu),
                        "quota_seconds": Self.round(quotaSeconds), "wall_over_quota": Self.round(quotaSeconds > 0 ? wall / quotaSeconds : 0),
                        "rows_changed": report.rowsChanged, "peak_rss_mib": Self.round(peakResidentMiB()),
                        "concurrency": concurrency, "fetch_seconds": Self.round(report.fetchSeconds),
                        "compare_seconds": Self.round(report.compareSeconds), "write_seconds": Self.round(report.writeSeconds),
                    ]))
            }
            group.cancelAll()
            for line in lines { print(line) }
        }
    }

    static func round(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }
}
