import ArgumentParser
import CohortConfig
import CohortCore
import CohortServer
import CohortStore
import Foundation
import Hummingbird
import Logging
import Metrics
import ServiceLifecycle
import UnixSignals

@main
struct Cohort: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cohort",
        abstract: "Cohort: contact grouping for WeCom customer contacts.",
        subcommands: [
            DemoCommand.self, Serve.self, SyncCommand.self, ContactsCommand.self, ImportCommand.self, GradeCommand.self, ExplainCommand.self,
            GradesCommand.self, TagsCommand.self, RulesCommand.self, SegmentsCommand.self, CampaignCommand.self, OptOutCommand.self,
            ConfigCommand.self, InboxCommand.self, AuditCommand.self, AlertsCommand.self, BackupCommand.self, RetentionCommand.self,
        ])
}

/// Options every command shares.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "The config directory (default: $COHORT_CONFIG_DIR or ./Config).")
    var config: String?

    var configDirectory: String {
        config ?? ProcessInfo.processInfo.environment["COHORT_CONFIG_DIR"] ?? "Config"
    }

    /// Loads the settings or exits with every problem printed as `path:line:column: message`.
    func loadSettings() throws -> CohortSettings {
        do {
            return try ConfigLoader(directory: configDirectory).load()
        } catch {
            printError(error.description)
            throw ExitCode(1)
        }
    }

    /// Runs `body` with the stores COHORT_DATABASE names: a SQLite file, or a PostgreSQL shared
    /// with running instances. A store that cannot be opened ends the command with the reason.
    func withStores<T: Sendable>(_ settings: CohortSettings, _ body: (Stores) async throws -> T) async throws -> T {
        var logger = Logger(label: "cohort.store")
        logger.logLevel = .warning
        do {
            return try await Stores.with(settings, logger: logger) { stores in try await body(stores) }
        } catch let error as StartupError {
            printError("\(error)")
            throw ExitCode(1)
        } catch let error as StoreError {
            printError("\(error)")
            throw ExitCode(1)
        }
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the WeCom callback endpoint, the admin API, metrics and the dashboard, and run the background services until SIGTERM.",
        discussion: """
            SIGHUP (or `cohort config reload`, or POST /api/v1/config/reload) validates the config files again: a broken set
            is refused with every problem and the running config stays; a valid one is recorded and the services restart
            with it in this process (in-flight work finishes first).
            """)

    @OptionGroup var options: GlobalOptions

    enum Outcome {
        case stopped
        case reload
        case failed(any Error)
    }

    func run() async throws {
        let firstSettings = try options.loadSettings()
        CohortLogging.bootstrap(firstSettings.logging)
        CohortMetrics.bootstrap()
        let logger = Logger(label: "cohort")
        let reload = ReloadSignal()
        reload.listenForSIGHUP()
        ServePID.write(firstSettings)
        defer { ServePID.remove(firstSettings) }
        var generation = 0
        while true {
            let outcome: Outcome
            do {
                let settings = try options.loadSettings()
                // Check every required value before the database file is created.
                try CohortApplication.validateForServe(settings)
                let rules = try options.loadRules()
                let campaigns = try options.loadCampaignRules(rules)
                outcome = try await options.withStores(settings) { stores in
                    var dependencies = try AppDependencies.live(settings: settings, stores: stores, rules: rules, campaigns: campaigns, logger: logger)
                    dependencies.configDirectory = options.configDirectory
                    dependencies.templatesDirectory = options.templatesDirectory
                    dependencies.reload = reload
                    try await ConfigRecorder.record(
                        stores, settings, options: options, action: generation == 0 ? "config.apply" : "config.reload", actor: "serve")
                    let app = try CohortApplication.build(dependencies, logger: logger)
                    logger.info(
                        generation == 0 ? "cohort serving" : "cohort serving with the reloaded config",
                        metadata: [
                            "host": "\(settings.server.host)", "port": "\(settings.server.port)",
                            "database": "\(stores.sqlite == nil ? "postgres" : settings.database.path)",
                        ])
                    let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
                    let requests = reload.stream()
                    let alerts = dependencies.alerts
                    let directory = options.configDirectory
                    return await withTaskGroup(of: Outcome.self) { tasks in
                        tasks.addTask {
                            do {
                                try await group.run()
                                return .stopped
                            } catch {
                                return .failed(error)
                            }
                        }
                        tasks.addTask {
                            for await _ in requests {
                                let issues = ConfigLoader(directory: directory).check()
                                if issues.isEmpty { return .reload }
                                Counter(label: "cohort_config_reloads_total", dimensions: [("result", "refused")]).increment()
                                logger.error("config reload refused; the running config stays", metadata: ["problems": "\(issues.count)"])
                                for issue in issues { logger.error("\(issue.description)") }
                                _ = try? await alerts?.raise(
                                    .configReloadFailed, subject: directory,
                                    message: "config reload refused, the running config stays: " + issues.map(\.description).joined(separator: "; "),
                                    at: Int64(Date().timeIntervalSince1970), quiet: 0)
                            }
                            return .stopped
                        }
                        let first = await tasks.next() ?? .stopped
                        if case .reload = first {
                            // Only the services are left: let them drain, never cancel them.
                            await group.triggerGracefulShutdown()
                            if case .failed(let error)? = await tasks.next() { return .failed(error) }
                            return .reload
                        }
                        tasks.cancelAll()
                        while await tasks.next() != nil {}
                        return first
                    }
                }
            } catch let error as StartupError {
                printError("cohort serve: \(error)")
                throw ExitCode(1)
            } catch let error as StoreError {
                printError("cohort serve: \(error)")
                throw ExitCode(1)
            }
            switch outcome {
            case .stopped: return
            case .failed(let error): throw error
            case .reload:
                Counter(label: "cohort_config_reloads_total", dimensions: [("result", "applied")]).increment()
                generation += 1
            }
        }
    }
}
