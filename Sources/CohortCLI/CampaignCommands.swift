import ArgumentParser
import CohortConfig
import CohortCore
import CohortServer
import CohortStore
import CohortSync
import Foundation
import WeComKit

extension GlobalOptions {
    /// Grading rules plus segments, campaigns and templates, or exit 1 with every problem.
    func loadCampaignRules(_ grading: GradingRules) throws -> CampaignRules {
        do {
            return try CampaignLoader(directory: configDirectory, templatesDirectory: templatesDirectory).load(grading: grading)
        } catch {
            printError(error.description)
            throw ExitCode(1)
        }
    }

    var templatesDirectory: String {
        ProcessInfo.processInfo.environment["COHORT_TEMPLATES_DIR"] ?? "Templates"
    }

    /// Everything the campaign commands need, opened once for `body`.
    func withCampaignContext<T: Sendable>(_ body: (CampaignContext) async throws -> T) async throws -> T {
        let settings = try loadSettings()
        let grading = try loadRules()
        let rules = try loadCampaignRules(grading)
        return try await withStores(settings) { stores in
            var desk = CampaignDesk(grading: grading, rules: rules, gradingRepository: stores.grading, ledger: stores.campaigns)
            desk.audit = stores.audit
            desk.actor = cliActor
            return try await body(CampaignContext(settings: settings, stores: stores, desk: desk))
        }
    }
}

struct CampaignContext {
    var settings: CohortSettings
    var stores: Stores
    var desk: CampaignDesk
    var ledger: any CampaignRepository { stores.campaigns }

    func client() throws -> WeComClient {
        do {
            return try Platform.client(settings, stores: stores)
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
    }

    func dispatcher() throws -> CampaignDispatcher {
        CampaignDispatcher(client: try client(), ledger: ledger, config: desk.rules.config)
    }

    func refusing<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let refusal as CampaignDesk.Refusal {
            printError(refusal.description)
            throw ExitCode(1)
        } catch let started as CampaignAlreadyStarted {
            printError(started.description)
            throw ExitCode(1)
        }
    }
}

// MARK: - Segments

struct SegmentsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segments", abstract: "Named segments of Config/segments.yaml over the stored grades.",
        subcommands: [List.self, Show.self, Plan.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every segment with its size.")
        @OptionGroup var options: GlobalOptions
        @Flag(help: "JSON instead of a table.") var json = false

        func run() async throws {
            try await options.withCampaignContext { context in
                let snapshot = try await context.desk.snapshot()
                let rows = context.desk.segmentRows(snapshot)
                if json {
                    print(try prettyJSON(rows))
                } else {
                    print(SegmentListing.table(rows, contacts: snapshot.population.contacts.count))
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A segment's rule and a sample of its members, with why they are in it.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The segment.") var name: String
        @Option(help: "How many members to show.") var sample = 20
        @Flag(help: "JSON instead of text.") var json = false

        func run() async throws {
            try await options.withCampaignContext { context in
                let snapshot = try await context.desk.snapshot()
                guard let detail = context.desk.segmentDetail(name, sample: sample, snapshot: snapshot) else {
                    printError("no segment \"\(name)\" (segments: \(snapshot.segments.segments.map(\.name).joined(separator: ", ")))")
                    throw ExitCode(1)
                }
                if json {
                    print(try prettyJSON(detail))
                    return
                }
                print("\(name): \(detail.size) of \(snapshot.population.contacts.count) contacts")
                if let description = detail.description { print(description) }
                print("rule: \(detail.rule)")
                if !detail.excludes.isEmpty { print("excludes: \(detail.excludes.joined(separator: ", "))") }
                for member in detail.sample { print("- \(member.external_userid): \(member.facts.joined(separator: "; "))") }
                if detail.size > detail.sample.count { print("… and \(detail.size - detail.sample.count) more") }
            }
        }
    }

    struct Plan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Who would enter and leave each segment under the files on disk, against the last applied segments.yaml.")
        @OptionGroup var options: GlobalOptions
        @Flag(help: "JSON instead of a table.") var json = false

        func run() async throws {
            try await options.withCampaignContext { context in
                let history = context.stores.configHistory
                let applied = try await history.latest()?.files["segments.yaml"]
                var previous: SegmentSet?
                if let applied {
                    do {
                        previous = try CampaignLoader(directory: options.configDirectory, templatesDirectory: options.templatesDirectory)
                            .load(grading: context.desk.grading, segmentsOverride: applied).segments
                    } catch {
                        printError("the last applied segments.yaml no longer compiles against grading.yaml; comparing with no segments:\n\(error)")
                    }
                }
                let now = try await context.desk.snapshot()
                var before: SegmentSnapshot?
                if let previous { before = try await context.desk.snapshot(segments: previous) }
                let rows = CampaignDesk.segmentChanges(now: now, before: before)
                if json {
                    print(try prettyJSON(rows))
                    return
                }
                if applied == nil { print("no segments.yaml applied yet: every segment is new (campaign start records the applied config)") }
                print(TextTable.render(
                    header: ["SEGMENT", "STATUS", "BEFORE", "AFTER", "ENTER", "LEAVE", "E.G. ENTERING"],
                    rows: rows.map { [$0.name, $0.status, String($0.before), String($0.after), "+\($0.entering)", "-\($0.leaving)", $0.entering_sample.prefix(3).joined(separator: ",")] }))
            }
        }
    }
}


enum SegmentListing {
    static func table(_ rows: [SegmentRow], contacts: Int) -> String {
        TextTable.render(
            header: ["SEGMENT", "SIZE", "SHARE", "DESCRIPTION"],
            rows: rows.map { row in
                let share = contacts == 0 ? 0 : Double(row.size) * 100 / Double(contacts)
                return [row.name, String(row.size), String(format: "%.1f%%", share), row.description]
            }) + "\n\(rows.count) segment\(rows.count == 1 ? "" : "s") over \(contacts) contacts"
    }
}

// MARK: - Campaigns

struct CampaignCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "campaign", abstract: "Preview, plan, start and follow campaigns of Config/campaigns.yaml.",
        subcommands: [List.self, Preview.self, DryRun.self, TestSend.self, Start.self, Pause.self, Resume.self, Cancel.self, Report.self, Dispatch.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Campaigns in the config and in the ledger.")
        @OptionGroup var options: GlobalOptions
        @Flag(help: "JSON instead of a table.") var json = false

        func run() async throws {
            try await options.withCampaignContext { context in
                let records = Dictionary(uniqueKeysWithValues: try await context.ledger.campaigns().map { ($0.name, $0) })
                struct Row: Encodable {
                    var name: String
                    var segment: String
                    var priority: Int
                    var state: String
                }
                let rows = context.desk.rules.config.campaigns.map {
                    Row(name: $0.name, segment: $0.segment.name, priority: $0.priority, state: records[$0.name]?.state.rawValue ?? "not started")
                }
                if json {
                    print(try prettyJSON(rows))
                } else {
                    print(TextTable.render(header: ["CAMPAIGN", "SEGMENT", "PRIORITY", "STATE"], rows: rows.map { [$0.name, $0.segment, String($0.priority), $0.state] }))
                }
            }
        }
    }

    struct Preview: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Rendered messages for sample or chosen contacts.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The campaign.") var name: String
        @Option(name: .customLong("contact"), help: "A contact to render for (repeatable); default: a sample of the segment.") var contacts: [String] = []
        @Option(help: "How many segment members to render without --contact.") var sample = 3
        @Flag(help: "JSON instead of text.") var json = false

        func run() async throws {
            try await options.withCampaignContext { context in
                let previews = try await context.refusing {
                    try await context.desk.preview(name, contacts: contacts.isEmpty ? nil : contacts, sample: sample)
                }
                if json {
                    print(try prettyJSON(previews))
                    return
                }
                if previews.isEmpty { print("the segment has no members") }
                for preview in previews {
                    print("── \(preview.externalUserID) from \(preview.sender ?? "-") (\(preview.variant ?? "-"))")
                    print(preview.text ?? "[no message: \(preview.excluded ?? "")]")
                }
            }
        }
    }

    struct DryRun: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dry-run", abstract: "The whole plan without calling the platform: recipients, tasks per sender, exclusions.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The campaign.") var name: String
        @Flag(help: "The whole plan as JSON (every recipient with sender and text, every exclusion).") var json = false

        func run() async throws {
            try await options.withCampaignContext { context in
                let plan = try await context.refusing { try await context.desk.plan(name) }
                let spec = try context.desk.campaign(name)
                if json {
                    print(try prettyJSON(DryRunDocument(plan, cap: spec.maxTasksPerSender)))
                    return
                }
                print(CampaignListing.dryRun(plan, spec: spec))
            }
        }
    }

    struct TestSend: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "test-send", abstract: "Send the campaign's message to chosen test contacts only (not recorded in the campaign's ledger).")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The campaign.") var name: String
        @Option(name: .customLong("to"), parsing: .upToNextOption, help: "external_userids to send to.") var to: [String]

        func validate() throws {
            guard !to.isEmpty else { throw ValidationError("name at least one contact with --to") }
        }

        func run() async throws {
            try await options.withCampaignContext { context in
                let previews = try await context.refusing { try await context.desk.preview(name, contacts: to, sample: 0) }
                let client = try context.client()
                var failed = false
                for preview in previews {
                    guard let sender = preview.sender, let text = preview.text else {
                        printError("\(preview.externalUserID): \(preview.excluded ?? "no message")")
                        failed = true
                        continue
                    }
                    do {
                        let response = try await client.addMessageTemplate(
                            AddMessageTemplateRequest(external_userid: [preview.externalUserID], sender: sender, text: MessageText(content: text)))
                        let rejected = response.fail_list ?? []
                        print("\(preview.externalUserID): task \(response.msgid ?? "-") for \(sender) to confirm\(rejected.isEmpty ? "" : " (the platform rejected it)")")
                        if !rejected.isEmpty { failed = true }
                    } catch {
                        printError("\(preview.externalUserID): \(error)")
                        failed = true
                    }
                }
                if failed { throw ExitCode(1) }
            }
        }
    }

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Plan the campaign and write its ledger; a running `cohort serve` dispatches it at its start time.",
            discussion: "With --wait, dispatches in the foreground and returns when every task is created.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The campaign.") var name: String
        @Flag(help: "Dispatch now, in the foreground, until every task is created.") var wait = false

        func run() async throws {
            try await options.withCampaignContext { context in
                try await ConfigRecorder.record(context.stores, context.settings, options: options, action: "config.apply")
                let plan = try await context.refusing { try await context.desk.start(name) }
                print("campaign \(name): \(plan.recipients.count) recipients in \(plan.tasks.count) tasks, \(plan.exclusions.count { $0.reason != .duplicateOwner }) excluded")
                guard wait else {
                    print("dispatch starts at \(CampaignListing.time(plan.dispatchAt)); `cohort serve` picks it up (or run with --wait)")
                    return
                }
                try await Dispatch.foreground(context, name: name)
            }
        }
    }

    struct Dispatch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Dispatch a started campaign in the foreground until every task is created (resumes after a crash).")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The campaign.") var name: String

        func run() async throws {
            try await options.withCampaignContext { context in
                try await Self.foreground(context, name: name)
            }
        }

        static func foreground(_ context: CampaignContext, name: String) async throws {
            guard var record = try await context.ledger.campaign(named: name) else {
                printError("campaign \(name) has not been started")
                throw ExitCode(1)
            }
            if record.state == .scheduled, record.dispatchAt > Int64(Date().timeIntervalSince1970) {
                print("waiting for the start time \(CampaignListing.time(record.dispatchAt))")
                try await Task.sleep(for: .seconds(Double(record.dispatchAt) - Date().timeIntervalSince1970))
            }
            let dispatcher = try context.dispatcher()
            let progress = ProgressBar(enabled: true)
            let total = try await context.ledger.undispatchedCount(campaign: name)
            var report = DispatchReport()
            while true {
                let pass = try await dispatcher.dispatch(campaign: name) { done in
                    progress.show("\(done) of \(total) tasks", fraction: total == 0 ? nil : Double(done) / Double(total), spin: done, label: "dispatch")
                }
                report.tasksCreated += pass.tasksCreated
                report.recipients += pass.recipients
                report.rejected += pass.rejected
                report.failed += pass.failed
                report.retried += pass.retried
                report.resolvedAdopted += pass.resolvedAdopted
                report.resolvedRequeued += pass.resolvedRequeued
                record = try await context.ledger.campaign(named: name) ?? record
                if record.state != .dispatching && record.state != .scheduled { break }
                let left = try await context.ledger.undispatchedCount(campaign: name)
                if left == 0 { break }
                // Tasks waiting for a retry or for quiet hours to end.
                try await Task.sleep(for: .seconds(5))
            }
            progress.finish()
            print("dispatch: \(report.tasksCreated) tasks created for \(report.recipients) recipients, \(report.rejected) rejected by the platform, \(report.failed) tasks failed, \(report.retried) retried; after a crash \(report.resolvedAdopted) adopted, \(report.resolvedRequeued) re-sent")
            print("campaign \(name): \(record.state.rawValue)\(record.pausedReason.map { " (\($0))" } ?? "")")
            if record.state == .paused { throw ExitCode(1) }
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop creating tasks until resumed.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The campaign.") var name: String

        func run() async throws {
            try await options.withCampaignContext { context in
                try await context.refusing { try await context.desk.pause(name) }
                print("campaign \(name): paused")
            }
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resume a paused campaign.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The campaign.") var name: String

        func run() async throws {
            try await options.withCampaignContext { context in
                try await context.refusing { try await context.desk.resume(name) }
                print("campaign \(name): dispatching")
            }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Cancel: no further tasks; tasks staff have not confirmed are withdrawn on the platform.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The campaign.") var name: String

        func run() async throws {
            try await options.withCampaignContext { context in
                let client: WeComClient? = try? Platform.client(context.settings, stores: context.stores)
                let result = try await context.refusing { try await context.desk.cancel(name, client: client) }
                for failure in result.failures { printError(failure) }
                let withdrawn = result.withdrawn
                print("campaign \(name): cancelled; \(withdrawn) unconfirmed tasks withdrawn")
            }
        }
    }

    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Planned, excluded by reason, tasks, confirmations, deliveries and failures.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The campaign.") var name: String
        @Flag(help: "Poll the platform for results first.") var refresh = false
        @Flag(help: "JSON instead of text.") var json = false

        func run() async throws {
            try await options.withCampaignContext { context in
                if refresh {
                    let poller = CampaignResultPoller(client: try context.client(), ledger: context.ledger, settings: context.desk.rules.config.dispatch)
                    _ = try await poller.poll()
                }
                guard let report = try await context.ledger.report(name) else {
                    printError("campaign \(name) has not been started")
                    throw ExitCode(1)
                }
                print(json ? try prettyJSON(report) : CampaignListing.report(report))
            }
        }
    }
}


enum CampaignListing {
    static func time(_ seconds: Int64) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(seconds)))
    }

    static func dryRun(_ plan: CampaignPlan, spec: CampaignSpec) -> String {
        var lines = ["campaign \(plan.campaign): dry run, nothing is sent", "dispatch at \(time(plan.dispatchAt))"]
        let excluded = plan.exclusions.filter { $0.reason != .duplicateOwner }
        lines.append("\(plan.recipients.count) recipients, \(plan.tasks.count) tasks, \(excluded.count) excluded")
        lines.append("")
        let perSender = plan.tasksPerSender.sorted { ($0.value, $1.key) > ($1.value, $0.key) }
        let recipientsPerSender = plan.recipients.reduce(into: [String: Int]()) { $0[$1.sender, default: 0] += 1 }
        lines.append(TextTable.render(
            header: ["SENDER", "TASKS", "RECIPIENTS", ""],
            rows: perSender.map { [$0.key, String($0.value), String(recipientsPerSender[$0.key] ?? 0), $0.value > spec.maxTasksPerSender ? "over the cap of \(spec.maxTasksPerSender)" : ""] }))
        if !plan.overTaskCap.isEmpty {
            lines.append("")
            lines.append("start would be refused: \(plan.overTaskCap.count) senders over max_tasks_per_sender (\(spec.maxTasksPerSender))")
        }
        lines.append("")
        lines.append("exclusions:")
        let counts = plan.exclusionCounts
        for reason in ExclusionReason.allCases where counts[reason] != nil {
            let examples = plan.exclusions.filter { $0.reason == reason }.prefix(3).map { "\($0.externalUserID)\($0.staff.map { "/\($0)" } ?? ""): \($0.detail)" }
            lines.append("  \(reason.rawValue): \(counts[reason]!)   e.g. \(examples.joined(separator: "; "))")
        }
        if counts.isEmpty { lines.append("  none") }
        if !plan.bumped.isEmpty { lines.append("gives way: \(plan.bumped.count) planned messages of lower-priority campaigns would be dropped") }
        if let first = plan.recipients.first {
            lines.append("")
            lines.append("first message (\(first.externalUserID) from \(first.sender)):")
            lines.append(first.text)
        }
        return lines.joined(separator: "\n")
    }

    static func report(_ report: CampaignReport) -> String {
        var lines = ["campaign \(report.campaign): \(report.state.rawValue)\(report.pausedReason.map { " (\($0))" } ?? "")"]
        lines.append("planned      \(report.planned)")
        let excluded = report.excluded.values.reduce(0, +)
        lines.append("excluded     \(excluded)" + (report.excluded.isEmpty ? "" : "  (" + report.excluded.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")"))
        lines.append("tasks        \(report.tasks) (created \(report.tasksCreated), confirmed by staff \(report.tasksConfirmed), failed \(report.tasksFailed))")
        lines.append("waiting      \(report.awaitingDispatch) to dispatch, \(report.awaitingConfirmation) for staff to confirm")
        lines.append("delivered    \(report.delivered)")
        let failed = report.failed.values.reduce(0, +)
        lines.append("failed       \(failed)" + (report.failed.isEmpty ? "" : "  (" + report.failed.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")"))
        if report.duplicateOwners > 0 { lines.append("shared contacts: \(report.duplicateOwners) other staff members did not send (duplicate_owner)") }
        return lines.joined(separator: "\n")
    }
}

// MARK: - Opt-out

struct OptOutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "optout", abstract: "The do-not-contact list: nobody on it is ever sent a campaign.",
        subcommands: [Add.self, Remove.self, List.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Put a contact on the list (planned messages to it are withdrawn).")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The contact's external_userid.") var externalUserID: String
        @Option(help: "Why.") var reason = "asked not to be contacted"

        func run() async throws {
            let settings = try options.loadSettings()
            try await options.withStores(settings) { stores in
                let ledger = stores.campaigns
                try await ledger.setOptOut(externalUserID, reason: reason, source: "cli", at: Int64(Date().timeIntervalSince1970))
                try await audit(stores, "optout.add", externalUserID, reason)
                print("\(externalUserID): opted out (\(reason))")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take a contact off the list.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The contact's external_userid.") var externalUserID: String

        func run() async throws {
            let settings = try options.loadSettings()
            try await options.withStores(settings) { stores in
                let ledger = stores.campaigns
                guard try await ledger.removeOptOut(externalUserID) else {
                    printError("\(externalUserID) is not on the list")
                    throw ExitCode(1)
                }
                try await audit(stores, "optout.remove", externalUserID, "")
                print("\(externalUserID): removed from the do-not-contact list")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Everyone on the list, with the reason.")
        @OptionGroup var options: GlobalOptions
        @Flag(help: "JSON instead of a table.") var json = false

        func run() async throws {
            let settings = try options.loadSettings()
            let list = try await options.withStores(settings) { stores in try await stores.campaigns.optOuts() }.sorted { $0.key < $1.key }
            if json {
                print(try prettyJSON(Dictionary(uniqueKeysWithValues: list.map { ($0.key, $0.value) })))
            } else {
                print(TextTable.render(header: ["EXTERNAL USERID", "REASON"], rows: list.map { [$0.key, $0.value] }) + "\n\(list.count) on the list")
            }
        }
    }
}

/// Records the config set a campaign starts under, so `segments plan` can compare against it.
