import ArgumentParser
import CohortConfig
import CohortCore
import CohortServer
import CohortStore
import Foundation

/// Who runs a CLI command, for the audit log.
var cliActor: String {
    "cli:" + (ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.environment["LOGNAME"] ?? "unknown")
}

/// Records an operator action done from the CLI.
func audit(_ stores: Stores, _ action: String, _ subject: String, _ detail: String) async throws {
    try await stores.audit.record(
        AuditEntry(at: Int64(Date().timeIntervalSince1970), actor: cliActor, action: action, subject: subject, detail: detail))
}

struct ForgetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forget",
        abstract: "Erase a person's personal data and keep it erased; anonymous counts stay.",
        discussion: """
            Erases the name, unionid, company, remarks and phone numbers of the contact, the free attributes of its
            interactions and the text of messages made for it alone, and puts it on the do-not-contact list. Later
            syncs and callbacks keep the relation without the erased fields. Grades, amounts and counts stay under the
            pseudonymous external_userid. The action is written to the audit log.
            """)

    @OptionGroup var options: GlobalOptions
    @Argument(help: "The contact's external_userid.") var id: String
    @Option(help: "Why (kept in the audit log).") var reason = "asked to be forgotten"

    func run() async throws {
        let settings = try options.loadSettings()
        try await options.withStores(settings) { stores in
            let now = Int64(Date().timeIntervalSince1970)
            guard let report = try await stores.directory.forget(id, at: now) else {
                printError("no contact \(id)")
                throw ExitCode(1)
            }
            try await stores.campaigns
                .setOptOut(id, reason: "forgotten: \(reason)", source: "forget", at: now)
            let summary = "\(report.relationRows) relations, \(report.phoneRows) phone numbers, \(report.interactionRows) interactions, \(report.messageTexts) message texts"
            try await audit(stores, "contact.forget", id, "\(reason); erased \(summary)")
            print("\(id): forgotten (\(summary) erased); on the do-not-contact list")
        }
    }
}

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup", abstract: "Copy the database to FILE, consistently, while Cohort keeps running.")

    @OptionGroup var options: GlobalOptions
    @Argument(help: "The new file (never overwritten).") var file: String

    func run() async throws {
        let settings = try options.loadSettings()
        try await options.withStores(settings) { stores in
            guard let database = stores.sqlite else {
                printError("cohort backup: COHORT_DATABASE names PostgreSQL; back it up with pg_dump (docs/operations.md)")
                throw ExitCode(1)
            }
            let started = Date()
            do {
                try database.backup(to: file)
            } catch {
                printError("cohort backup: \(error)")
                throw ExitCode(1)
            }
            let size = ((try? FileManager.default.attributesOfItem(atPath: file)[.size]) as? Int) ?? 0
            try await audit(stores, "database.backup", file, "\(size) bytes")
            print("backed up \(settings.database.path) to \(file) (\(size / 1024) KiB in \(String(format: "%.1f", Date().timeIntervalSince(started))) s)")
        }
    }
}

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Operator actions: config applied, campaigns started and stopped, opt-outs, people forgotten.")

    @OptionGroup var options: GlobalOptions
    @Option(help: "At most this many, newest first.") var limit = 50
    @Flag(help: "JSON instead of a table.") var json = false

    func run() async throws {
        let settings = try options.loadSettings()
        try await options.withStores(settings) { stores in
            let entries = try await stores.audit.entries(limit: limit)
            if json {
                print(try prettyJSON(entries))
                return
            }
            let formatter = ISO8601DateFormatter()
            print(TextTable.render(
                header: ["TIME", "ACTOR", "ACTION", "SUBJECT", "DETAIL"],
                rows: entries.map { [formatter.string(from: Date(timeIntervalSince1970: Double($0.at))), $0.actor, $0.action, $0.subject, $0.detail] }))
        }
    }
}

struct AlertsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alerts",
        abstract: "What needs a person: dead-lettered events, campaigns that paused themselves, platform setup errors, refused reloads.")

    @OptionGroup var options: GlobalOptions
    @Option(help: "At most this many, newest first.") var limit = 50
    @Flag(help: "JSON instead of a table.") var json = false

    func run() async throws {
        let settings = try options.loadSettings()
        try await options.withStores(settings) { stores in
            let alerts = try await stores.alerts.alerts(limit: limit)
            if json {
                print(try prettyJSON(alerts))
                return
            }
            if alerts.isEmpty { print("no alerts") }
            let formatter = ISO8601DateFormatter()
            print(TextTable.render(
                header: ["RAISED", "KIND", "SUBJECT", "DELIVERY", "MESSAGE"],
                rows: alerts.map { alert in
                    let delivery = alert.deliveredAt == nil ? "pending" : (alert.deliveryError.map { "failed: \($0)" } ?? "sent")
                    return [formatter.string(from: Date(timeIntervalSince1970: Double(alert.raisedAt))), alert.kind.rawValue, alert.subject, delivery, alert.message]
                }))
        }
    }
}

struct RetentionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retention",
        abstract: "Drop relations that ended and interactions older than the retention settings say (cohort serve does it daily).")

    @OptionGroup var options: GlobalOptions

    func run() async throws {
        let settings = try options.loadSettings()
        guard settings.retention.isEnabled else {
            print("retention is off: set retention.ended_relations_days and/or retention.interactions_days in cohort.yaml")
            return
        }
        try await options.withStores(settings) { stores in
            let report = try await stores.retention.apply(settings.retention, now: Date())
            try await audit(stores, "retention.apply", "store", "dropped \(report.relations) ended relations, \(report.interactions) interactions")
            print("dropped \(report.relations) ended relations and \(report.interactions) interactions")
        }
    }
}
