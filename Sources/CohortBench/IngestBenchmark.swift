import ArgumentParser
import CohortConfig
import CohortCore
import CohortPostgres
import CohortServer
import CohortStore
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import WeComKit

/// `cohort-bench ingest`: concurrent clients on loopback post distinct, signed, encrypted events
/// to a running Cohort server with a durable SQLite inbox; in the same run the same load hits a
/// trivial route, so the ingest figure can be read against what the HTTP stack itself does.
///
/// The load generator is wrk (a separate process, so its CPU is measured apart from the
/// server's) with a Lua script that replays pre-encrypted bodies, each event once.
struct IngestBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest", abstract: "Webhook ingest throughput and latency against the trivial route.")

    @Option(help: "Concurrent connections.") var connections = 64
    @Option(help: "Seconds per phase (trivial route, then ingest).") var duration = 10
    @Option(help: "wrk threads.") var threads = 2
    @Option(help: "Distinct pre-encrypted events to prepare (must exceed what one phase sends).") var events = 300_000
    @Option(help: "SQLite durability: normal or full.") var durability = "normal"
    @Flag(help: "Do not run the inbox processor beside the webhook (isolates the webhook's cost).")
    var noProcessor = false
    @Option(help: "A postgres:// URL: the inbox on PostgreSQL (in a scratch schema, dropped after) instead of SQLite.")
    var postgres: String?
    @Option(help: "Cohort instances in this process, each with its own port and pool, sharing the PostgreSQL inbox.")
    var instances = 1
    @Option(
        help: """
            Directory for the SQLite file (default: a temporary directory). A tmpfs here shows what the \
            disk's flushes cost the latency tail.
            """)
    var databaseDir: String?

    func validate() throws {
        guard ["normal", "full"].contains(durability) else { throw ValidationError("--durability is normal or full") }
    }

    func run() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/wrk") else {
            throw ValidationError("wrk is required (apt-get install wrk)")
        }
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-bench-ingest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }

        let token = "benchToken"
        let aesKey = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
        let corpID = "wwbenchcorp0000000"
        let crypto = try CallbackCrypto(token: token, encodingAESKey: aesKey, receiveID: corpID)

        progress("preparing \(events) encrypted events for \(instances) instance(s)")
        // One file per instance: each instance's load generator sends events no other sends.
        let bodies = (0..<instances).map { work.appendingPathComponent("bodies-\($0).tsv") }
        try writeBodies(count: events, crypto: crypto, to: bodies)
        let script = work.appendingPathComponent("ingest.lua")
        try Self.luaScript.write(to: script, atomically: true, encoding: .utf8)

        var settings = CohortSettings()
        settings.platform.corpID = corpID
        settings.secrets.callbackToken = token
        settings.secrets.encodingAESKey = aesKey
        settings.server.port = 0
        // Inside `work` by default; removing it twice then is harmless.
        let databaseDirectory = databaseDir.map { URL(fileURLWithPath: $0).appendingPathComponent("cohort-bench-\(UUID().uuidString)") } ?? work
        try FileManager.default.createDirectory(at: databaseDirectory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: databaseDirectory) }
        settings.database.path = databaseDirectory.appendingPathComponent("bench.sqlite").path
        settings.database.durability = durability == "full" ? .full : .normal
        let logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }

        // The handler does nothing: the benchmark measures the webhook and the inbox alone.
        var instanceDependencies: [AppDependencies] = []
        var services: [any Service] = []
        if let postgres {
            let schema = "bench_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
            for _ in 0..<instances {
                let store = try PostgresStore(url: postgres, schema: schema, maximumConnections: connections / instances + 4, logger: logger)
                // The webhook and the inbox alone: no campaign claims, so no presence to hold.
                let stores = Stores(postgres: store, corpID: settings.platform.corpID, instance: UUID().uuidString)
                var dependencies = AppDependencies(settings: settings, stores: stores)
                dependencies.runsInboxProcessor = !noProcessor
                instanceDependencies.append(dependencies)
                services.append(store)
            }
        } else {
            guard instances == 1 else { throw ValidationError("--instances above 1 needs --postgres (one serve per SQLite file)") }
            var dependencies = AppDependencies(sqlite: try CohortDatabase.open(settings.database), settings: settings)
            dependencies.runsInboxProcessor = !noProcessor
            instanceDependencies.append(dependencies)
        }
        let ports = instanceDependencies.map { _ in PortBox() }
        for (dependencies, port) in zip(instanceDependencies, ports) {
            services.append(try CohortApplication.build(dependencies, logger: logger) { channel in port.set(channel.localAddress?.port ?? 0) })
        }
        let group = ServiceGroup(services: services, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var bases: [String] = []
            for port in ports { bases.append("http://127.0.0.1:\(try await port.wait())") }
            if let store = services.first as? PostgresStore { try await store.migrate() }
            progress("servers on \(bases.joined(separator: ", ")); trivial route for \(duration)s")
            let trivial = try await waitForWrk(urls: bases.map { $0 + "/healthz" }, script: nil, bodies: nil)
            progress("ingest for \(duration)s")
            let ingest = try await waitForWrk(urls: bases.map { $0 + "/wecom/callback" }, script: script, bodies: bodies)
            // Let the processor settle, then count what is durable.
            try await Task.sleep(for: .milliseconds(200))
            let counts = try await instanceDependencies[0].inbox.counts()
            let stored = counts.values.reduce(0, +)
            let statistics = (instanceDependencies[0].sink as? SQLiteInboxCommitter)?.statistics
            let commits = statistics?.commits ?? 0
            let committed = statistics?.events ?? 0
            let commitSeconds = statistics?.seconds ?? 0
            if let store = services.first as? PostgresStore { try await store.dropSchema() }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()

            let seconds = Double(duration)
            let ingestRate = Double(stored) / ingest.seconds
            let trivialRate = Double(trivial.requests) / trivial.seconds
            var result: [String: Any] = [
                "scenario": "ingest",
                "store": postgres == nil ? "sqlite" : "postgres",
                "instances": instances,
                "connections": connections,
                "duration_s": seconds,
                "durability": durability,
                "database_dir": postgres == nil ? (databaseDir ?? "temporary") : "",
                "inbox_processor": !noProcessor,
                "events_stored": stored,
                "requests_sent": ingest.requests,
                "non_2xx_or_errors": ingest.errors,
                "durable_events_per_s": (ingestRate * 10).rounded() / 10,
                "ingest_p50_ms": ingest.p50Milliseconds,
                "ingest_p90_ms": ingest.p90Milliseconds,
                "ingest_p99_ms": ingest.p99Milliseconds,
                "ingest_p999_ms": ingest.p999Milliseconds,
                "ingest_max_ms": ingest.maxMilliseconds,
                "trivial_requests_per_s": (trivialRate * 10).rounded() / 10,
                "trivial_p99_ms": trivial.p99Milliseconds,
                "trivial_p999_ms": trivial.p999Milliseconds,
                "ingest_vs_trivial": ((ingestRate / trivialRate) * 1000).rounded() / 1000,
                "loadgen_cpu_share_ingest": (ingest.loadgenCPUShare * 1000).rounded() / 1000,
                "server_cpu_share_ingest": (ingest.serverCPUShare * 1000).rounded() / 1000,
                "loadgen_cpu_share_trivial": (trivial.loadgenCPUShare * 1000).rounded() / 1000,
                "cores": ProcessInfo.processInfo.activeProcessorCount,
                "peak_rss_mib": (peakResidentMiB() * 10).rounded() / 10,
            ]
            if postgres == nil {
                result["commits"] = commits
                result["events_per_commit"] = (Double(committed) / Double(max(commits, 1)) * 10).rounded() / 10
                result["commit_ms_avg"] = (commitSeconds / Double(max(commits, 1)) * 10000).rounded() / 10
            }
            print(jsonLine(result))
        }
    }

    struct WrkResult {
        var requests: Int
        var seconds: Double
        var p50Milliseconds: Double
        var p90Milliseconds: Double
        var p99Milliseconds: Double
        var p999Milliseconds: Double
        var maxMilliseconds: Double
        var errors: Int
        var loadgenCPUShare: Double
        var serverCPUShare: Double
    }

    /// Waits for wrk on a thread of its own. Waiting on a pool thread would take one of the two
    /// threads the server's async work runs on away for the whole phase.
    private func waitForWrk(urls: [String], script: URL?, bodies: [URL]?) async throws -> WrkResult {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try runWrk(urls: urls, script: script, bodies: bodies) })
            }
        }
    }

    /// Runs one wrk per URL at once (the connections split between them) and adds up what they
    /// measured. With several instances, the latency figures are the slowest instance's.
    private func runWrk(urls: [String], script: URL?, bodies: [URL]?) throws -> WrkResult {
        let reportScript: URL
        if let script {
            reportScript = script
        } else {
            reportScript = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-bench-report-\(UUID().uuidString).lua")
            try Self.reportOnly.write(to: reportScript, atomically: true, encoding: .utf8)
        }
        defer { if script == nil { try? FileManager.default.removeItem(at: reportScript) } }
        let perInstance = max(1, connections / urls.count)
        let wrkThreads = max(1, threads / urls.count)
        var running: [(Process, Pipe)] = []
        let before = CPUTimes.now()
        let started = Date()
        for (index, url) in urls.enumerated() {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/wrk")
            var arguments = ["-t\(wrkThreads)", "-c\(perInstance)", "-d\(duration)s", "--timeout", "5s", "--latency", "-s", reportScript.path, url]
            if let bodies { arguments += ["--", bodies[index].path, String(wrkThreads)] }
            process.arguments = arguments
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            running.append((process, output))
        }
        var results: [[String: Any]] = []
        for (process, output) in running {
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let text = String(decoding: data, as: UTF8.self)
            guard let line = text.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            else { throw ValidationError("wrk printed no result:\n\(text)") }
            results.append(object)
        }
        let wall = Date().timeIntervalSince(started)
        let after = CPUTimes.now()
        func sum(_ key: String) -> Int { results.reduce(0) { $0 + ((($1[key] as? NSNumber)?.intValue) ?? 0) } }
        func maximum(_ key: String) -> Int { results.map { (($0[key] as? NSNumber)?.intValue) ?? 0 }.max() ?? 0 }
        let capacity = wall * Double(ProcessInfo.processInfo.activeProcessorCount)
        return WrkResult(
            requests: sum("requests"), seconds: Double(maximum("duration_us")) / 1e6,
            p50Milliseconds: Double(maximum("p50_us")) / 1000, p90Milliseconds: Double(maximum("p90_us")) / 1000,
            p99Milliseconds: Double(maximum("p99_us")) / 1000, p999Milliseconds: Double(maximum("p999_us")) / 1000,
            maxMilliseconds: Double(maximum("max_us")) / 1000,
            errors: sum("errors_status") + sum("errors_connect") + sum("errors_read") + sum("errors_write") + sum("errors_timeout"),
            loadgenCPUShare: (after.children - before.children) / capacity,
            serverCPUShare: (after.own - before.own) / capacity)
    }

    /// One line per event: query string, a tab, the envelope XML.
    /// Event i goes to file i mod n.
    private func writeBodies(count: Int, crypto: CallbackCrypto, to urls: [URL]) throws {
        var handles: [FileHandle] = []
        for url in urls {
            guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                throw ValidationError("cannot create \(url.path)")
            }
            handles.append(try FileHandle(forWritingTo: url))
        }
        defer { for handle in handles { try? handle.close() } }
        var buffers = [String](repeating: "", count: urls.count)
        for index in 0..<count {
            let fields = CallbackFields([
                CallbackField("ToUserName", crypto.receiveID), CallbackField("FromUserName", "sys"),
                CallbackField("CreateTime", String(1_700_000_000 + index / 50)), CallbackField("MsgType", "event"),
                CallbackField("Event", "change_external_contact"), CallbackField("ChangeType", "add_external_contact"),
                CallbackField("UserID", "staff\(index % 200)"), CallbackField("ExternalUserID", "wmBench\(index)"),
                CallbackField("State", "bench_channel"), CallbackField("WelcomeCode", "WELCOME\(index)"),
            ])
            let encrypt = crypto.encrypt(CallbackXML.render(fields))
            let timestamp = String(1_700_000_000 + index / 50)
            let nonce = String(index)
            let signature = crypto.signature(timestamp: timestamp, nonce: nonce, encrypt: encrypt)
            let body = CallbackXML.envelope(toUserName: crypto.receiveID, agentID: "1000002", encrypt: encrypt)
            let file = index % urls.count
            buffers[file] += "msg_signature=\(signature)&timestamp=\(timestamp)&nonce=\(nonce)\t\(body)\n"
            if buffers[file].utf8.count > 1 << 20 {
                handles[file].write(Data(buffers[file].utf8))
                buffers[file] = ""
            }
        }
        for (handle, buffer) in zip(handles, buffers) { handle.write(Data(buffer.utf8)) }
    }

    /// Each wrk thread loads every n-th line, so threads never send the same event.
    static let luaScript = """
        local requests = {}
        local index = 0
        local counter = 0
        function setup(thread)
          thread:set("tid", counter)
          counter = counter + 1
        end
        function init(args)
          local threads = tonumber(args[2])
          local mine = tonumber(tid)
          local i = 0
          for line in io.lines(args[1]) do
            if i % threads == mine then
              local q, b = line:match("([^\\t]*)\\t(.*)")
              requests[#requests + 1] = wrk.format("POST", "/wecom/callback?" .. q, {["Content-Type"] = "text/xml"}, b)
            end
            i = i + 1
          end
        end
        function request()
          index = index + 1
          if index > #requests then index = 1 end
          return requests[index]
        end
        \(reportOnly)
        """

    static let reportOnly = """
        function done(summary, latency, requests)
          io.write(string.format('{"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"errors_status":%d,"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_timeout":%d}\\n',
            summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
            latency:percentile(99.9), latency.max, summary.errors.status,
            summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
        end
        """
}

/// The port the server bound, handed from its start-up callback to the benchmark.
final class PortBox: Sendable {
    private let stream: AsyncStream<Int>
    private let continuation: AsyncStream<Int>.Continuation

    init() {
        (stream, continuation) = AsyncStream.makeStream(of: Int.self)
    }

    func set(_ port: Int) {
        continuation.yield(port)
    }

    func wait() async throws -> Int {
        for await port in stream { return port }
        throw CancellationError()
    }
}
