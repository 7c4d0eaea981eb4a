import ArgumentParser
import CohortConfig
import CohortCore
import CohortServer
import CohortStore
import CohortSync
import Foundation
import Hummingbird
import Logging
import NIOCore
import WeComKit
import WeComSimulator

/// `cohort-bench campaign`: plan and render a campaign to every contact of a seeded corp (the
/// segment, candidates, planner and templates, as `cohort campaign dry-run` does), write its
/// ledger, then dispatch it to the simulator over loopback HTTP with no rate limit.
struct CampaignBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "campaign", abstract: "Campaign plan, render and dispatch.")

    @Option(help: "Staff members.") var staff = 200
    @Option(help: "Customers (every one is a recipient).") var contacts = 100_000
    @Option(help: "Dataset seed.") var seed: UInt64 = 42

    func run() async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-bench-campaign-\(UUID().uuidString)")
        let templates = work.appendingPathComponent("Templates")
        try FileManager.default.createDirectory(at: templates, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        try """
            segments:
              - name: everyone
                rule: relations >= 1
            """.write(to: work.appendingPathComponent("segments.yaml"), atomically: true, encoding: .utf8)
        try """
            campaigns:
              - name: bench
                segment: everyone
                template: bench.mustache
                holdout: 0.05
                max_tasks_per_sender: 10000
            """.write(to: work.appendingPathComponent("campaigns.yaml"), atomically: true, encoding: .utf8)
        // One text per sender: personalised by staff member, as most campaigns are.
        try "{{#staff.name}}{{staff.name}}{{/staff.name}}：春季新品已上架，欢迎选购。"
            .write(to: templates.appendingPathComponent("bench.mustache"), atomically: true, encoding: .utf8)

        progress("generating \(contacts) contacts over \(staff) staff (seed \(seed))")
        let corp = SimulatorDataset(staff: staff, contacts: contacts, seed: seed).generate()
        var configuration = SimulatorConfiguration()
        configuration.perMinuteLimit = Int.max / 2
        configuration.perHourLimit = Int.max / 2
        let simulator = WeComSimulator(configuration: configuration, corp: corp)
        let logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
        let database = try CohortDatabase(path: work.appendingPathComponent("campaign.sqlite").path)
        let corpID = configuration.corpID
        progress("syncing the corp into the store")
        let setupClient = WeComClient(
            apiBase: URL(string: "http://wecom.sim")!, corpID: corpID, secret: configuration.secret, transport: SimulatorTransport(simulator),
            limiter: nil)
        _ = try await FullSync(client: setupClient, repository: SQLiteDirectoryRepository(database: database, corpID: corpID), logger: logger).run()

        let grading = try GradingLoader(directory: work.path).load()
        let rules = try CampaignLoader(directory: work.path, templatesDirectory: templates.path).load(grading: grading)
        let ledger = SQLiteCampaignRepository(database: database, corpID: corpID)
        let desk = CampaignDesk(
            grading: grading, rules: rules, gradingRepository: SQLiteGradingRepository(database: database, corpID: corpID), ledger: ledger,
            logger: logger)
        let spec = try desk.campaign("bench")

        progress("planning")
        var lines: [String] = []
        let cpuBefore = CPUTimes.now()
        let started = ContinuousClock.now
        let snapshot = try await desk.snapshot()
        let snapshotDone = ContinuousClock.now
        let candidates = try await desk.candidates(spec, snapshot: snapshot)
        let candidatesDone = ContinuousClock.now
        let plan = try await desk.plan(spec, candidates: candidates)
        let planned = ContinuousClock.now
        try await ledger.start(plan, priority: spec.priority, configVersion: rules.version, state: .dispatching, at: Int64(Date().timeIntervalSince1970))
        let written = ContinuousClock.now
        lines.append(
            jsonLine([
                "scenario": "campaign-plan", "contacts": corp.customers.count, "candidates": candidates.count,
                "recipients": plan.recipients.count, "excluded": plan.exclusions.count, "tasks": plan.tasks.count,
                "plan_seconds": Self.round((planned - started).inSeconds), "segments_seconds": Self.round((snapshotDone - started).inSeconds),
                "candidates_seconds": Self.round((candidatesDone - snapshotDone).inSeconds),
                "plan_render_seconds": Self.round((planned - candidatesDone).inSeconds),
                "ledger_write_seconds": Self.round((written - planned).inSeconds),
                "cpu_seconds": Self.round(CPUTimes.now().own - cpuBefore.own), "peak_rss_mib": Self.round(peakResidentMiB()),
            ]))

        let (portStream, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: SimulatorServer.router(simulator), configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: nil),
            onServerRunning: { channel in portContinuation.yield(channel.localAddress?.port ?? 0) }, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService() }
            var ports = portStream.makeAsyncIterator()
            guard let port = await ports.next() else { throw ValidationError("simulator did not start") }
            let client = WeComClient(
                apiBase: URL(string: "http://127.0.0.1:\(port)")!, corpID: corpID, secret: configuration.secret,
                transport: URLSessionTransport(timeout: 60), limiter: nil)
            let dispatcher = CampaignDispatcher(client: client, ledger: ledger, config: rules.config, logger: logger)
            progress("dispatching \(plan.tasks.count) tasks")
            let cpu = CPUTimes.now()
            let begun = ContinuousClock.now
            let report = try await dispatcher.dispatch(campaign: "bench")
            let wall = (ContinuousClock.now - begun).inSeconds
            let onPlatform = await simulator.createdTasks().reduce(0) { $0 + $1.parts.reduce(0) { $0 + $1.recipients.count } }
            lines.append(
                jsonLine([
                    "scenario": "campaign-dispatch", "tasks": report.tasksCreated, "recipients": report.recipients,
                    "recipients_on_platform": onPlatform, "failed": report.failed, "wall_seconds": Self.round(wall),
                    "tasks_per_second": Self.round(Double(report.tasksCreated) / max(wall, 1e-9)),
                    "recipients_per_second": Self.round(Double(report.recipients) / max(wall, 1e-9)),
                    "cpu_seconds": Self.round(CPUTimes.now().own - cpu.own), "peak_rss_mib": Self.round(peakResidentMiB()),
                ]))
            group.cancelAll()
        }
        for line in lines { print(line) }
    }

    static func round(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }
}
