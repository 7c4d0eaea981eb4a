import ArgumentParser
import CohortConfig
import CohortCore
import CohortServer
import CohortStore
import Foundation
import Hummingbird
import Logging

@main
struct Cohort: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cohort",
        abstract: "Cohort: contact grouping for WeCom customer contacts.",
        subcommands: [
            DemoCommand.self, Serve.self, SyncCommand.self, ContactsCommand.self, ImportCommand.self, GradeCommand.self, ExplainCommand.self,
            GradesCommand.self, TagsCommand.self, RulesCommand.self, SegmentsCommand.self, CampaignCommand.self, OptOutCommand.self,
            ConfigCommand.self, InboxCommand.self, AuditCommand.self, BackupCommand.self,
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

    func openDatabase(_ settings: CohortSettings) throws -> CohortDatabase {
        do {
            return try CohortDatabase.open(settings.database)
        } catch {
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
        abstract: "Serve the WeCom callback endpoint and run the background services until SIGTERM.")

    @OptionGroup var options: GlobalOptions

    func run() async throws {
        let settings = try options.loadSettings()
        CohortLogging.bootstrap(settings.logging)
        CohortMetrics.bootstrap()
        let logger = Logger(label: "cohort")
        do {
            // Check every required value before the database file is created.
            try CohortApplication.validateForServe(settings)
            let rules = try options.loadRules()
            let campaigns = try options.loadCampaignRules(rules)
            let dependencies = try AppDependencies.live(settings: settings, rules: rules, campaigns: campaigns, logger: logger)
            let app = try CohortApplication.build(dependencies, logger: logger)
            logger.info(
                "cohort serving",
                metadata: ["host": "\(settings.server.host)", "port": "\(settings.server.port)", "database": "\(settings.database.path)"])
            try await app.runService()
        } catch let error as StartupError {
            printError("cohort serve: \(error)")
            throw ExitCode(1)
        } catch let error as StoreError {
            printError("cohort serve: \(error)")
            throw ExitCode(1)
        }
    }
}

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Inspect the configuration.", subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate every file in the config directory and the environment.",
            discussion: "Prints each problem as path:line:column: message; exits 1 on any problem, 0 when clean.")

        @OptionGroup var options: GlobalOptions

        func run() async throws {
            let issues = ConfigLoader(directory: options.configDirectory).check()
            if issues.isEmpty {
                print("\(options.configDirectory): ok")
                return
            }
            for issue in issues { print(issue.description) }
            throw ExitCode(1)
        }
    }
}
