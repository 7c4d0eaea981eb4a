import ArgumentParser
import CohortConfig
import CohortCore
import CohortServer
import CohortStore
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Check, plan, reload, list and roll back the configuration.",
        subcommands: [Check.self, Plan.self, Reload.self, History.self, Rollback.self])

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

    struct Plan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "What the files on disk would change against the running (last applied) config.",
            discussion: "Files changed, grades and tags gained and lost, segment sizes, campaign audiences. Writes nothing.")

        @OptionGroup var options: GlobalOptions
        @Flag(help: "JSON instead of text.") var json = false

        func run() async throws {
            let settings = try options.loadSettings()
            try await options.withStores(settings) { stores in
                let applied = try await stores.configHistory.latest()
                let plan = try await ConfigPlanner(settings: settings, stores: stores, templatesDirectory: options.templatesDirectory).plan(
                    candidate: ConfigSet.read(configDirectory: options.configDirectory, templatesDirectory: options.templatesDirectory),
                    running: applied.map { ConfigSet(files: $0.files) })
                print(json ? try prettyJSON(plan) : plan.text)
            }
        }
    }

    struct Reload: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate the files, then have the running cohort serve load them (SIGHUP).",
            discussion: "A broken set is refused with every problem as path:line:column: message; the running config stays.")

        @OptionGroup var options: GlobalOptions

        func run() async throws {
            let issues = ConfigLoader(directory: options.configDirectory).check()
            guard issues.isEmpty else {
                for issue in issues { print(issue.description) }
                printError("config reload refused: the running config stays")
                throw ExitCode(1)
            }
            let settings = try options.loadSettings()
            try ServePID.signal(settings, SIGHUP)
            print("reload requested; cohort serve validates the files again and restarts its services with them (see `cohort config history`)")
        }
    }

    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every applied config set: id, content hash, time and what changed.")

        @OptionGroup var options: GlobalOptions
        @Flag(help: "JSON instead of a table.") var json = false

        struct Row: Encodable {
            var id: Int64
            var version: String
            var applied_at: String
            var changes: [String]
        }

        func run() async throws {
            let settings = try options.loadSettings()
            try await options.withStores(settings) { stores in
                let all = try await stores.configHistory.all()
                let formatter = ISO8601DateFormatter()
                var rows: [Row] = []
                var previous: ConfigSet?
                for applied in all {
                    let set = ConfigSet(files: applied.files)
                    rows.append(
                        Row(
                            id: applied.id, version: applied.version, applied_at: formatter.string(from: Date(timeIntervalSince1970: Double(applied.appliedAt))),
                            changes: set.changes(from: previous)))
                    previous = set
                }
                rows.reverse()
                if json {
                    print(try prettyJSON(rows))
                    return
                }
                if rows.isEmpty { print("no config applied yet (serve, a reload, a campaign start or a rollback records one)") }
                print(TextTable.render(
                    header: ["ID", "VERSION", "APPLIED", "CHANGES"],
                    rows: rows.map { [String($0.id), $0.version, $0.applied_at, $0.changes.joined(separator: ", ")] }))
            }
        }
    }

    struct Rollback: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Put an earlier applied config back: shows what changes, then with --apply writes the files and reloads.",
            discussion: "VERSION is an id from `cohort config history` or a version hash (a prefix is enough).")

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The id or version to return to.") var version: String
        @Flag(help: "Write the files and reload the running cohort serve (without it, only the plan is shown).") var apply = false
        @Flag(help: "JSON instead of text.") var json = false

        func run() async throws {
            let settings = try options.loadSettings()
            try await options.withStores(settings) { stores in
                let history = stores.configHistory
                guard let target = try await history.find(version) else {
                    printError("no applied config \(version) (see `cohort config history`)")
                    throw ExitCode(1)
                }
                let running = try await history.latest()
                let set = ConfigSet(files: target.files)
                let plan = try await ConfigPlanner(settings: settings, stores: stores, templatesDirectory: options.templatesDirectory).plan(
                    candidate: set, running: running.map { ConfigSet(files: $0.files) })
                print(json ? try prettyJSON(plan) : "rolling back to \(target.id) (\(target.version))\n" + plan.text)
                guard apply else {
                    print("\nnothing written; run again with --apply to put these files back and reload")
                    return
                }
                let issues = try ConfigRollback.write(set, configDirectory: options.configDirectory, templatesDirectory: options.templatesDirectory)
                guard issues.isEmpty else {
                    for issue in issues { print(issue.description) }
                    printError("the rolled-back files no longer pass `cohort config check` (the environment or code changed since); nothing was written")
                    throw ExitCode(1)
                }
                try await ConfigRecorder.record(stores, settings, options: options, action: "config.rollback", detail: "to \(target.id) (\(target.version))")
                do {
                    try ServePID.signal(settings, SIGHUP)
                    print("files written; cohort serve reloads them")
                } catch {
                    print("files written; no running cohort serve to reload (it loads them at its next start)")
                }
            }
        }
    }
}

/// Records the files on disk as the applied config, with an audit entry.
enum ConfigRecorder {
    @discardableResult
    static func record(
        _ stores: Stores, _ settings: CohortSettings, options: GlobalOptions, action: String, detail: String = "", actor: String = cliActor
    ) async throws -> Bool {
        try await ConfigHistoryRecorder(stores: stores).record(
            ConfigSet.read(configDirectory: options.configDirectory, templatesDirectory: options.templatesDirectory), action: action, detail: detail,
            actor: actor)
    }
}

/// The pid file of a running `cohort serve`, beside its SQLite database; on PostgreSQL (several
/// instances, often on several machines) in the working directory, named by the port.
enum ServePID {
    static func path(_ settings: CohortSettings) -> String {
        StoreLocation.isPostgresURL(settings.database.path)
            ? "cohort-serve-\(settings.server.port).pid" : settings.database.path + ".serve.pid"
    }

    static func write(_ settings: CohortSettings) {
        try? "\(getpid())\n".write(toFile: path(settings), atomically: true, encoding: .utf8)
    }

    static func remove(_ settings: CohortSettings) {
        try? FileManager.default.removeItem(atPath: path(settings))
    }

    static func signal(_ settings: CohortSettings, _ number: Int32) throws {
        // A pid file a crash left behind may name a process that is not Cohort any more:
        // only a live `cohort` process gets the signal.
        guard let text = try? String(contentsOfFile: path(settings), encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), kill(pid, 0) == 0,
            let command = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8), command.contains("cohort")
        else {
            printError("no running cohort serve here (no live pid in \(path(settings)))")
            throw ExitCode(1)
        }
        guard kill(pid, number) == 0 else {
            printError("cannot signal cohort serve (pid \(pid)): \(String(cString: strerror(errno)))")
            throw ExitCode(1)
        }
    }
}

extension ConfigPlan {
    var text: String {
        var lines = ["config \(candidate) against the running \(running ?? "(none applied yet)")"]
        lines.append("files: " + (files.isEmpty ? "no change" : files.joined(separator: ", ")))
        lines.append("")
        if let grading {
            lines.append(GradingListing.plan(grading))
        } else if let grading_error {
            lines.append("grading: the files do not load:\n\(grading_error)")
        }
        if !segments.isEmpty {
            lines.append("")
            lines.append(TextTable.render(
                header: ["SEGMENT", "STATUS", "BEFORE", "AFTER", "ENTER", "LEAVE"],
                rows: segments.map { [$0.name, $0.status, String($0.before), String($0.after), "+\($0.entering)", "-\($0.leaving)"] }))
        }
        if !campaign_audiences.isEmpty {
            lines.append("")
            lines.append(TextTable.render(
                header: ["CAMPAIGN", "SEGMENT", "AUDIENCE BEFORE", "AUDIENCE AFTER"],
                rows: campaign_audiences.map { [$0.campaign, $0.segment, $0.before.map(String.init) ?? "-", $0.after.map(String.init) ?? "-"] }))
        }
        if let campaign_error { lines.append("segments and campaigns: the files do not load:\n\(campaign_error)") }
        return lines.joined(separator: "\n")
    }
}
