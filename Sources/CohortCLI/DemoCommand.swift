import ArgumentParser
import CohortConfig
import CohortCore
import CohortServer
import CohortStore
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import WeComKit
import WeComSimulator

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `cohort demo`: the whole product on one machine. A simulated WeCom corp runs in-process on
/// loopback, `cohort serve` runs against it, and the demo drives the same commands an operator
/// would: sync, import, grade, tags, segments, a campaign that staff confirm, a welcome message.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run Cohort end to end against a built-in WeCom simulator and an embedded SQLite file.",
        discussion: """
            Uses the shipped Config/ and Templates/, the sample interactions in Config/demo/interactions.csv (their dates
            moved so the newest is today) and the database named by the config (data/cohort.sqlite), which it replaces if an
            earlier demo made it and refuses to touch otherwise. The database stays for `cohort` commands to explore.
            """)

    @OptionGroup var options: GlobalOptions
    @Option(help: "Staff members of the simulated corp.") var staff = 30
    @Option(help: "Customers of the simulated corp.") var contacts = 3_000
    @Option(help: "Seed of the simulated corp (the sample interactions are made for 42).") var seed: UInt64 = 42
    @Option(help: "The campaign from campaigns.yaml to preview and send.") var campaign = "thanks"
    @Option(help: "The sample interactions CSV.") var sample = "Config/demo/interactions.csv"
    @Option(name: .customLong("write-sample"), help: ArgumentHelp("Write the sample interactions for the corp to FILE and exit.", visibility: .hidden))
    var writeSample: String?

    func run() async throws {
        let started = Date()
        var dataset = SimulatorDataset(staff: staff, contacts: contacts, seed: seed)
        dataset.extraFollowerRate = 0.2
        let corp = dataset.generate()
        if let writeSample {
            try DemoSample.csv(corp: corp, seed: seed).write(toFile: writeSample, atomically: true, encoding: .utf8)
            print("wrote \(writeSample)")
            return
        }
        let environment = ProcessInfo.processInfo.environment
        // The demo talks to its own simulator: quiet logs, local secrets, loopback ports.
        let apiPort = try Self.freePort()
        let webPort = try Self.freePort()
        let token = environment["WECOM_TOKEN"] ?? SimulatorConfiguration().callbackToken
        let aesKey = environment["WECOM_AES_KEY"] ?? SimulatorConfiguration().encodingAESKey
        let overrides = [
            "WECOM_API_BASE": "http://127.0.0.1:\(apiPort)", "WECOM_SECRET": "demo-secret", "WECOM_TOKEN": token, "WECOM_AES_KEY": aesKey,
            "COHORT_HTTP_HOST": "127.0.0.1", "COHORT_HTTP_PORT": "\(webPort)", "COHORT_LOG_LEVEL": environment["COHORT_LOG_LEVEL"] ?? "error",
        ]
        for (name, value) in overrides { setenv(name, value, 1) }
        let settings = try options.loadSettings()
        CohortLogging.bootstrap(settings.logging)
        CohortMetrics.bootstrap()
        let logger = Logger(label: "cohort.demo")
        try Self.prepareDatabase(settings.database.path)

        var simulatorConfiguration = SimulatorConfiguration()
        simulatorConfiguration.corpID = settings.platform.corpID
        simulatorConfiguration.secret = "demo-secret"
        simulatorConfiguration.callbackToken = token
        simulatorConfiguration.encodingAESKey = aesKey
        simulatorConfiguration.callbackURL = URL(string: "http://127.0.0.1:\(webPort)/wecom/callback")
        simulatorConfiguration.confirmDelaySeconds = 1
        simulatorConfiguration.perMinuteLimit = 1_000_000
        simulatorConfiguration.perHourLimit = 10_000_000
        simulatorConfiguration.seed = seed
        let simulator = WeComSimulator(configuration: simulatorConfiguration, corp: corp)
        let simulatorApp = Application(
            router: SimulatorServer.router(simulator), configuration: .init(address: .hostname("127.0.0.1", port: apiPort), serverName: nil),
            logger: logger)

        let grading = try options.loadRules()
        let campaigns = try options.loadCampaignRules(grading)
        guard campaigns.config.campaign(named: campaign) != nil else {
            printError("cohort demo: no campaign \"\(campaign)\" in campaigns.yaml")
            throw ExitCode(1)
        }
        try await options.withStores(settings) { stores in
            var dependencies = try AppDependencies.live(settings: settings, stores: stores, rules: grading, campaigns: campaigns, logger: logger)
            // The demo pushes tags itself (`cohort tags push`) so the step shows; serve does the rest.
            dependencies.tagWriter = nil
            dependencies.resultPollInterval = .seconds(1)
            dependencies.dispatchInterval = .milliseconds(500)
            let cohortApp = try CohortApplication.build(dependencies, logger: logger)
            let group = ServiceGroup(configuration: .init(services: [simulatorApp, cohortApp], logger: logger))
            let running = Task { try await group.run() }
            defer { running.cancel() }
            try await Self.waitForListener(port: apiPort)
            try await Self.waitForListener(port: webPort)

            print("""
                Cohort demo: a simulated WeCom corp with \(corp.staff.count) staff and \(corp.customers.count) customers \
                (\(corp.relationCount) relations) on http://127.0.0.1:\(apiPort)
                cohort serve on http://127.0.0.1:\(webPort) (webhook, inbox, welcome lane, campaign dispatcher and result poller)
                database \(settings.database.path)

                """)
            try await step(1, "Full sync of staff, customers and tags from the platform", ["sync"])

            let sampleText: String
            do {
                sampleText = try String(contentsOfFile: sample, encoding: .utf8)
            } catch {
                printError("cohort demo: cannot read the sample interactions \(sample): \(error)")
                throw ExitCode(1)
            }
            let moved = DemoSample.shifted(sampleText, to: Date(), timeZone: grading.grading.timeZone)
            let importFile = URL(fileURLWithPath: settings.database.path).deletingLastPathComponent().appendingPathComponent("demo-interactions.csv").path
            try moved.text.write(toFile: importFile, atomically: true, encoding: .utf8)
            let note = moved.days > 0 ? " (dates moved \(moved.days) days forward)" : ""
            try await step(2, "Import the sample orders, inquiries and messages\(note)", ["import", "interactions", importFile, "--source", "demo-shop"])
            try await step(3, "Grade (RFM, ABC, CLV, lifecycle) and plan the rule tags", ["grade", "--apply"])
            try await step(4, "Write the tag changes back to WeCom", ["tags", "push"])
            try await step(5, "Segments", ["segments", "list"])
            try await step(6, "Preview the \(campaign) campaign", ["campaign", "preview", campaign, "--sample", "3"])
            try await step(7, "Start it: cohort serve dispatches the tasks, the staff confirm them", ["campaign", "start", campaign])

            let ledger = stores.campaigns
            let deadline = Date().addingTimeInterval(45)
            var report = try await ledger.report(campaign)
            while Date() < deadline {
                report = try await ledger.report(campaign)
                if report?.state == .completed { break }
                try await Task.sleep(for: .milliseconds(250))
            }
            if let report {
                print("dispatched \(report.tasksCreated) tasks; \(report.tasksConfirmed) confirmed by their staff member\n")
            }

            print("== 8. A new customer scans the expo QR code: the welcome message goes out at once ==")
            let newcomer = try await simulator.perform(ConsoleAction(.addContact, userid: corp.staff[0].userid, name: "展会访客", state: "expo"))
            let welcomeDeadline = Date().addingTimeInterval(15)
            var welcomed = await simulator.welcomes.last { $0.external_userid == newcomer.id }
            while welcomed == nil, Date() < welcomeDeadline {
                try await Task.sleep(for: .milliseconds(100))
                welcomed = await simulator.welcomes.last { $0.external_userid == newcomer.id }
            }
            if let welcomed {
                print("\(welcomed.userid) → \(welcomed.external_userid): \(welcomed.text)\n")
            } else {
                let attempts = try await stores.welcomes.welcomeAttempts(of: newcomer.id ?? "")
                print("no welcome message was sent: \(attempts.last?.detail ?? "no attempt recorded")\n")
            }

            try await step(9, "The campaign report", ["campaign", "report", campaign])
            await group.triggerGracefulShutdown()
            try? await running.value
            let final = try await ledger.report(campaign)
            let seconds = Int(Date().timeIntervalSince(started).rounded())
            print("""
                Done in \(seconds) s. Explore the database with the same commands, for example:
                  swift run cohort contacts list
                  swift run cohort explain \((try? await ledger.recipients(campaign).first?.externalUserID) ?? "EXTERNAL_USERID")
                  swift run cohort segments show champions --sample 5
                  swift run cohort campaign report \(campaign) --json
                """)
            guard let final, final.delivered > 0, welcomed != nil else {
                printError("cohort demo: the campaign delivered nothing or the welcome message was not sent")
                throw ExitCode(1)
            }
        }
    }

    /// Runs one `cohort` command in this process, under a heading.
    private func step(_ number: Int, _ title: String, _ arguments: [String]) async throws {
        print("== \(number). \(title) ==")
        print("$ cohort \(arguments.joined(separator: " "))")
        var command = try Cohort.parseAsRoot(arguments + (options.config.map { ["--config", $0] } ?? []))
        if var command = command as? any AsyncParsableCommand {
            try await command.run()
        } else {
            try command.run()
        }
        print("")
    }

    /// Replaces a database an earlier demo made; refuses one it did not make.
    static func prepareDatabase(_ path: String) throws {
        let manager = FileManager.default
        let marker = path + ".demo"
        if manager.fileExists(atPath: path) {
            guard manager.fileExists(atPath: marker) else {
                printError("cohort demo: \(path) exists and was not made by `cohort demo`; move it away or set COHORT_DATABASE to another file")
                throw ExitCode(1)
            }
            for suffix in ["", "-wal", "-shm"] { try? manager.removeItem(atPath: path + suffix) }
        }
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try "made by cohort demo; the next demo replaces this database\n".write(toFile: marker, atomically: true, encoding: .utf8)
    }

    /// A loopback port nobody listens on now.
    static func freePort() throws -> Int {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw ValidationError("cannot open a socket to find a free port") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw ValidationError("cannot find a free loopback port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Waits until something accepts connections on the port.
    static func waitForListener(port: Int) async throws {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/healthz")!)
            request.timeoutInterval = 1
            if (try? await URLSession.shared.data(for: request)) != nil { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ValidationError("nothing listens on 127.0.0.1:\(port) after 10 s")
    }
}
