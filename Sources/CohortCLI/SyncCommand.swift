import ArgumentParser
import CohortConfig
import CohortCore
import CohortServer
import CohortStore
import CohortSync
import Foundation
import Logging
import Synchronization
import WeComKit

struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Read every staff member, customer relation and corp tag from WeCom into the store.",
        discussion: """
            A full pass: get_follow_user_list, get_corp_tag_list, batch/get_by_user for every member. Only a
            complete pass writes; what it no longer sees is marked ended, never deleted. A second run with no
            platform change writes nothing. --check fetches the same and prints the drift without writing.
            """)

    @OptionGroup var options: GlobalOptions
    @Flag(help: "Fetch and compare only: print what differs, write nothing.") var check = false
    @Flag(help: "Print the result as JSON.") var json = false
    @Option(help: "batch/get_by_user chains at once (default: sync.concurrency).") var concurrency: Int?

    func run() async throws {
        let settings = try options.loadSettings()
        CohortLogging.bootstrap(settings.logging)
        let client: WeComClient
        do {
            client = try Platform.client(settings)
        } catch {
            printError("cohort sync: \(error)")
            throw ExitCode(1)
        }
        try await options.withStores(settings) { stores in
            let bar = ProgressBar(enabled: !json)
            let sync = FullSync(
                client: client, repository: stores.directory, configuredNames: settings.platform.staffNames,
                concurrency: concurrency ?? settings.sync.concurrency, progress: { bar.update($0) }, logger: Logger(label: "cohort.sync"))
            do {
                if check {
                    let changes = try await sync.check()
                    bar.finish()
                    print(json ? try DriftListing.json(changes) : DriftListing.table(changes))
                    if !changes.isEmpty { throw ExitCode(2) }
                } else {
                    let report = try await sync.run()
                    bar.finish()
                    print(json ? try DriftListing.json(report) : DriftListing.summary(report, calls: client.callCounts))
                    // Interactions kept for contacts that had not appeared yet belong to them now.
                    let matched = try await stores.interactions.matchPending()
                    if !matched.isEmpty, !json { print("interactions: kept rows of \(matched.count) contacts matched") }
                }
            } catch let error as PlatformError {
                bar.finish()
                printError("cohort sync: nothing was written: \(error)")
                throw ExitCode(1)
            } catch let error as SyncError {
                bar.finish()
                printError("cohort sync: nothing was written: \(error)")
                throw ExitCode(1)
            }
        }
    }
}

/// A one-line progress bar on a terminal; a plain line every few seconds otherwise.
final class ProgressBar: Sendable {
    private let terminal: Bool
    private let enabled: Bool
    private struct State {
        var lastDraw = Date.distantPast
        var drawn = false
    }
    private let state = Mutex(State())

    init(enabled: Bool) {
        self.enabled = enabled
        self.terminal = isatty(STDERR_FILENO) == 1
    }

    func update(_ progress: SyncProgress) {
        let text: String
        switch progress.phase {
        case .staff: text = "reading staff"
        case .tags: text = "reading tag catalogue"
        case .contacts: text = "reading relations: \(progress.done)"
        case .writing: text = progress.done == 0 ? "writing changes" : "written"
        }
        let fraction: Double? = progress.phase == .writing ? (progress.done == 0 ? 0.92 : 1) : nil
        show(text, fraction: fraction, spin: progress.done / 5_000, force: progress.phase == .writing, label: "sync")
    }

    /// Draws `text` with a bar filled to `fraction` (or a moving marker driven by `spin` when
    /// the total is unknown), at most ten times a second; off a terminal, a line every 5 s.
    func show(_ text: String, fraction: Double?, spin: Int = 0, force: Bool = false, label: String) {
        guard enabled else { return }
        let terminal = self.terminal
        state.withLock { state in
            let now = Date()
            guard now.timeIntervalSince(state.lastDraw) >= (terminal ? 0.1 : 5) || force else { return }
            state.lastDraw = now
            if terminal {
                let width = 24
                let filled = fraction.map { Int((Double(width) * min(max($0, 0), 1)).rounded()) } ?? min(width - 3, spin % width)
                let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
                FileHandle.standardError.write(Data("\r\u{1B}[K[\(bar)] \(text)".utf8))
                state.drawn = true
            } else {
                FileHandle.standardError.write(Data("\(label): \(text)\n".utf8))
            }
        }
    }

    func finish() {
        state.withLock { state in
            if state.drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            state.drawn = false
        }
    }
}

/// Renders sync results and drift for people and scripts.
enum DriftListing {
    struct Drift: Encodable {
        var contacts_added: [String]
        var contacts_changed: [String]
        var contacts_gone: [String]
        var relations_added: [String]
        var relations_changed: [String]
        var relations_ended: [String]
        var relation_tags: [RelationTagChange]
        var staff_added_or_renamed: [String]
        var staff_gone: [String]
        var tag_groups_added_or_changed: [String]
        var tag_groups_gone: [String]
        var tags_gone: [String]

        init(_ changes: DirectoryChanges) {
            contacts_added = changes.contactsAdded.map(\.externalUserID)
            contacts_changed = changes.contactsUpdated.map(\.externalUserID)
            contacts_gone = changes.contactsEnded
            relations_added = changes.relationsAdded.map(\.key.description)
            relations_changed = changes.relationsUpdated.map(\.key.description)
            relations_ended = changes.relationsEnded.map(\.description)
            relation_tags = changes.relationTagChanges
            staff_added_or_renamed = changes.staffUpserted.map(\.userID)
            staff_gone = changes.staffEnded
            tag_groups_added_or_changed = changes.tagGroupsUpserted.map(\.id)
            tag_groups_gone = changes.tagGroupsEnded
            tags_gone = changes.tagsEnded
        }
    }

    struct Report: Encodable {
        var staff: Int
        var unlicensed_staff: [String]
        var contacts: Int
        var relations: Int
        var tags: Int
        var rows_changed: Int
        var seconds: Double
        var changes: [String: Int]
    }

    static func json(_ changes: DirectoryChanges) throws -> String { try prettyJSON(Drift(changes)) }

    static func json(_ report: SyncReport) throws -> String {
        try prettyJSON(
            Report(
                staff: report.staff, unlicensed_staff: report.unlicensedStaff, contacts: report.contacts, relations: report.relations,
                tags: report.tags, rows_changed: report.rowsChanged, seconds: report.seconds,
                changes: Dictionary(uniqueKeysWithValues: report.changes.summary.map { ($0.0.replacingOccurrences(of: " ", with: "_"), $0.1) })))
    }

    static func table(_ changes: DirectoryChanges) -> String {
        if changes.isEmpty { return "no drift: the store matches the platform" }
        var rows: [[String]] = []
        for contact in changes.contactsAdded { rows.append(["contact added", contact.externalUserID, ""]) }
        for contact in changes.contactsUpdated { rows.append(["contact changed", contact.externalUserID, ""]) }
        for id in changes.contactsEnded { rows.append(["contact gone", id, ""]) }
        for relation in changes.relationsAdded { rows.append(["relation added", relation.externalUserID, relation.userID]) }
        let tagChanges = Dictionary(uniqueKeysWithValues: changes.relationTagChanges.map { ($0.key, $0) })
        for relation in changes.relationsUpdated {
            let tags = tagChanges[relation.key].map { change in
                (change.added.map { "+" + $0 } + change.removed.map { "-" + $0 }).joined(separator: " ")
            } ?? ""
            rows.append(["relation changed", relation.externalUserID, relation.userID + (tags.isEmpty ? "" : "  tags " + tags)])
        }
        for key in changes.relationsEnded { rows.append(["relation ended", key.externalUserID, key.userID]) }
        for member in changes.staffUpserted { rows.append(["staff added/renamed", member.userID, ""]) }
        for id in changes.staffEnded { rows.append(["staff gone", id, ""]) }
        for group in changes.tagGroupsUpserted { rows.append(["tag group added/changed", group.id, group.name]) }
        for id in changes.tagGroupsEnded { rows.append(["tag group gone", id, ""]) }
        for id in changes.tagsEnded { rows.append(["tag gone", id, ""]) }
        let counts = changes.summary.filter { $0.1 > 0 }.map { "\($0.1) \($0.0)" }.joined(separator: ", ")
        return TextTable.render(header: ["DRIFT", "ID", "DETAIL"], rows: rows) + "\n" + counts
    }

    static func summary(_ report: SyncReport, calls: [String: Int]) -> String {
        let changed = report.changes.summary.filter { $0.1 > 0 }.map { "\($0.1) \($0.0)" }
        let unlicensed = report.unlicensedStaff.isEmpty ? "" : "\nunlicensed staff kept as they were: \(report.unlicensedStaff.joined(separator: ", "))"
        return """
            synced \(report.staff) staff, \(report.contacts) contacts, \(report.relations) relations, \(report.tags) tags \
            in \(String(format: "%.1f", report.seconds)) s with \(calls.values.reduce(0, +)) API calls
            \(report.rowsChanged) rows changed\(changed.isEmpty ? "" : ": " + changed.joined(separator: ", "))\(unlicensed)
            """
    }
}
