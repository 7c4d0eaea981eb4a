import ArgumentParser
import CohortCSV
import CohortConfig
import CohortCore
import CohortServer
import CohortStore
import CohortSync
import Foundation

extension GlobalOptions {
    /// Loads grading.yaml and tags.yaml or exits with every problem as `path:line:column: message`.
    func loadRules() throws -> GradingRules {
        do {
            return try GradingLoader(directory: configDirectory).load()
        } catch {
            printError(error.description)
            throw ExitCode(1)
        }
    }

    func grader(_ stores: Stores, rules: GradingRules) -> Grader {
        Grader(rules: rules, repository: stores.grading)
    }
}

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import", abstract: "Import records from files.", subcommands: [Interactions.self])

    struct Interactions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import interactions (orders, messages, service, feedback, your own kinds) from a CSV file.",
            discussion: """
                The first line names the columns. Columns named like a field (kind, external_userid, unionid, phone, staff,
                occurred_at, amount, source, source_id) fill it; --map renames others (--map 订单号=source_id); any other column
                becomes an attribute. Rows are validated one by one: a bad row is reported as FILE:LINE: message and not imported,
                the rest are. Importing the same file again changes nothing. Exits 1 when any row was rejected.
                """)

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The CSV file.") var file: String
        @Option(help: "The kind of rows that have no kind column (order, message, service, feedback, or a kind from grading.yaml).")
        var kind: String?
        @Option(help: "The source of rows without a source column (default: the file name).") var source: String?
        @Option(name: .customLong("map"), help: "column=field: read a column as a field (repeatable).") var mappings: [String] = []
        @Option(help: "Show at most this many bad rows (all are counted).") var maxErrors = 50
        @Flag(help: "A JSON summary instead of text.") var json = false

        func run() async throws {
            let settings = try options.loadSettings()
            let rules = try options.loadRules()
            var columnMap: [String: String] = [:]
            for mapping in mappings {
                let parts = mapping.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                    printError("--map \(mapping): write column=field")
                    throw ExitCode(1)
                }
                guard InteractionRowParser.fields.contains(parts[1]) || parts[1].hasPrefix("attr.") else {
                    printError("--map \(mapping): unknown field \(parts[1]) (fields: \(InteractionRowParser.fields.joined(separator: ", ")), or attr.NAME)")
                    throw ExitCode(1)
                }
                columnMap[parts[0]] = parts[1].hasPrefix("attr.") ? String(parts[1].dropFirst(5)) : parts[1]
            }
            if let kind, !rules.grading.kinds.contains(kind) {
                printError("--kind \(kind): unknown kind (known: \(rules.grading.kinds.joined(separator: ", ")))")
                throw ExitCode(1)
            }
            let parser = InteractionRowParser(
                knownKinds: Set(rules.grading.kinds), timeZone: rules.grading.timeZone, defaultKind: kind,
                defaultSource: source ?? "import:" + URL(fileURLWithPath: file).lastPathComponent)
            try await options.withStores(settings) { stores in
                let repository = stores.interactions
                var reader: CSVFileReader
                do {
                    reader = try CSVFileReader(path: file)
                } catch {
                    printError("\(file): \(error)")
                    throw ExitCode(1)
                }
                let progress = ProgressBar(enabled: !json)
                var header: [String]?
                var batch: [Interaction] = []
                var counts = InteractionImportCounts()
                var rows = 0
                var bad = 0
                func reject(_ line: Int, _ message: String) {
                    bad += 1
                    if bad <= maxErrors { printError("\(file):\(line): \(message)") }
                }
                do {
                    while let element = try reader.next() {
                        let record: CSVRecord
                        switch element {
                        case .success(let value): record = value
                        case .failure(let error):
                            reject(error.line ?? 0, error.description)
                            continue
                        }
                        guard let columns = header else {
                            header = record.fields.map { name in
                                let trimmed = name.trimmingCharacters(in: .whitespaces)
                                return columnMap[trimmed] ?? trimmed
                            }
                            continue
                        }
                        rows += 1
                        guard record.fields.count == columns.count else {
                            reject(record.line, "\(record.fields.count) fields, the header has \(columns.count)")
                            continue
                        }
                        var values: [String: String] = [:]
                        for (name, value) in zip(columns, record.fields) { values[name] = value }
                        switch parser.parse(values) {
                        case .success(let interaction): batch.append(interaction)
                        case .failure(let error): reject(record.line, error.description)
                        }
                        if batch.count >= 5_000 {
                            counts = counts + (try await repository.store(batch, at: Date()))
                            batch.removeAll(keepingCapacity: true)
                            progress.show("\(rows) rows", fraction: reader.fractionCompleted, label: "import")
                        }
                    }
                } catch {
                    progress.finish()
                    printError("\(file): \(error)")
                    throw ExitCode(1)
                }
                if !batch.isEmpty { counts = counts + (try await repository.store(batch, at: Date())) }
                progress.finish()
                if json {
                    struct Summary: Encodable {
                        var rows: Int
                        var rejected: Int
                        var inserted: Int
                        var updated: Int
                        var unchanged: Int
                        var matched: Int
                        var unmatched: Int
                    }
                    print(
                        try prettyJSON(
                            Summary(
                                rows: rows, rejected: bad, inserted: counts.inserted, updated: counts.updated, unchanged: counts.unchanged,
                                matched: counts.matched, unmatched: counts.unmatched)))
                } else {
                    if bad > maxErrors { printError("… and \(bad - maxErrors) more bad rows") }
                    print(
                        """
                        \(rows) rows: \(rows - bad) imported (\(counts.inserted) new, \(counts.updated) updated, \(counts.unchanged) unchanged), \(bad) rejected
                        contacts: \(counts.matched) rows matched, \(counts.unmatched) kept until their contact appears
                        """)
                }
                if bad > 0 { throw ExitCode(1) }
            }
        }
    }
}

struct GradeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grade", abstract: "Grade every contact and compute its rule tags.",
        discussion: "--plan computes and prints what would change without writing; --apply writes it and queues the platform writes.")

    @OptionGroup var options: GlobalOptions
    @Flag(help: "Print what a run would change; write nothing.") var plan = false
    @Flag(help: "Write grades, lifecycle history and tags, and queue the tag writes for the platform.") var apply = false
    @Flag(help: "JSON instead of text.") var json = false

    func validate() throws {
        guard plan != apply else { throw ValidationError("give exactly one of --plan or --apply") }
    }

    func run() async throws {
        let settings = try options.loadSettings()
        let rules = try options.loadRules()
        try await options.withStores(settings) { stores in
            let grader = options.grader(stores, rules: rules)
            if plan {
                let report = try await grader.plan(callsPerHour: settings.callsPerHour)
                print(json ? try prettyJSON(report) : GradingListing.plan(report))
            } else {
                let bar = ProgressBar(enabled: !json)
                let report = try await grader.apply { phase, done, total in
                    let fraction = total > 0 ? Double(done) / Double(total) : nil
                    bar.show(total > 0 ? "\(phase): \(done) of \(total) relations" : phase, fraction: fraction, force: total == 0, label: "grade")
                }
                bar.finish()
                print(json ? try prettyJSON(report) : GradingListing.applied(report))
            }
        }
    }
}

struct ExplainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain", abstract: "Why a contact has its grades and tags: rules, values and thresholds.")

    @OptionGroup var options: GlobalOptions
    @Argument(help: "The contact's external_userid.") var contact: String
    @Flag(help: "JSON instead of text.") var json = false

    func run() async throws {
        let settings = try options.loadSettings()
        let rules = try options.loadRules()
        try await options.withStores(settings) { stores in
            let repository = stores.grading
            guard let explanation = try await GradingExplanation.load(contact, rules: rules, repository: repository, now: Date()) else {
                printError("no contact \(contact)")
                throw ExitCode(1)
            }
            print(json ? try prettyJSON(explanation) : explanation.description)
        }
    }
}

struct GradesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grades", abstract: "Stored grades.", subcommands: [Export.self])

    struct Export: AsyncParsableCommand {
        enum Format: String, ExpressibleByArgument, CaseIterable { case csv, json }
        static let configuration = CommandConfiguration(
            abstract: "One row per contact: external_userid, recency, frequency, monetary, r, f, m, rfm segment, abc, clv, lifecycle.")

        @OptionGroup var options: GlobalOptions
        @Option(help: "csv or json.") var format: Format = .csv

        func run() async throws {
            let settings = try options.loadSettings()
            try await options.withStores(settings) { stores in
                let grades = try await stores.grading.grades()
                switch format {
                case .csv: GradingListing.csv(grades, to: FileHandle.standardOutput)
                case .json: print(try prettyJSON(grades.map(GradingListing.ExportRow.init)))
                }
            }
        }
    }
}

struct TagsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tags", abstract: "Platform tag writes queued by grade --apply.", subcommands: [Push.self, Status.self])

    struct Push: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send the queued tag writes to the platform now (serve does this continuously).")

        @OptionGroup var options: GlobalOptions
        @Option(help: "Send at most this many.") var limit: Int?

        func run() async throws {
            let settings = try options.loadSettings()
            let rules = try options.loadRules()
            try await options.withStores(settings) { stores in
                let writer = try TagWriterFactory.make(settings: settings, stores: stores, rules: rules)
                let progress = ProgressBar(enabled: true)
                let report = try await writer.drain(limit: limit ?? .max) { done in
                    progress.show("\(done) relations written", fraction: nil, spin: done / 50, label: "tags")
                }
                progress.finish()
                print("tags: \(report.done) relations written, \(report.retried) to retry, \(report.failed) failed; created \(report.createdTags.count) tags")
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "How many tag writes are pending, done and failed.")

        @OptionGroup var options: GlobalOptions

        func run() async throws {
            let settings = try options.loadSettings()
            try await options.withStores(settings) { stores in
                let counts = try await stores.grading.counts()
                print("pending \(counts.pending), done \(counts.done), failed \(counts.failed)")
            }
        }
    }
}

/// Renders grading results.
enum GradingListing {
    struct ExportRow: Encodable {
        var external_userid: String
        var recency: Int?
        var frequency: Int
        var monetary: String
        var r: Int?
        var f: Int?
        var m: Int?
        var rfm_segment: String?
        var abc: String?
        var clv: String?
        var lifecycle: String

        init(_ grade: ContactGrade) {
            external_userid = grade.externalUserID
            recency = grade.recencyDays
            frequency = grade.frequency
            monetary = money(grade.monetaryCents)
            r = grade.r
            f = grade.f
            m = grade.m
            rfm_segment = grade.segment
            abc = grade.abc
            clv = grade.clvCents.map(money)
            lifecycle = grade.lifecycle.rawValue
        }
    }

    static func csv(_ grades: [ContactGrade], to handle: FileHandle) {
        var out = "external_userid,recency,frequency,monetary,r,f,m,rfm_segment,abc,clv,lifecycle\n"
        func field(_ text: String?) -> String {
            guard let text else { return "" }
            return text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
        }
        for grade in grades {
            let row = ExportRow(grade)
            func number(_ value: Int?) -> String { value.map(String.init) ?? "" }
            let cells: [String] = [
                field(row.external_userid), number(row.recency), String(row.frequency), row.monetary, number(row.r), number(row.f),
                number(row.m), field(row.rfm_segment), row.abc ?? "", row.clv ?? "", row.lifecycle,
            ]
            out += cells.joined(separator: ",")
            out += "\n"
            if out.utf8.count > 1 << 20 {
                handle.write(Data(out.utf8))
                out = ""
            }
        }
        handle.write(Data(out.utf8))
    }

    static func plan(_ report: GradingPlanReport) -> String {
        var lines = [
            "grading plan (config \(report.configVersion)): \(report.contacts) contacts, \(report.relations) relations",
            "grades changed: \(report.gradesChanged), lifecycle transitions: \(report.transitions), hand-changed rule tags to correct: \(report.drift)",
        ]
        if !report.grades.isEmpty {
            lines.append("")
            lines.append(TextTable.render(
                header: ["GRADE", "VALUE", "GAIN", "LOSE", "EXAMPLES"],
                rows: report.grades.map { [$0.field, $0.value, "+\($0.gain)", "-\($0.lose)", ($0.sampleGain + $0.sampleLose).prefix(3).joined(separator: " ")] }))
        }
        if !report.tags.isEmpty {
            lines.append("")
            lines.append(TextTable.render(
                header: ["TAG", "GAIN", "LOSE", "EXAMPLES"],
                rows: report.tags.map { [$0.value, "+\($0.gain)", "-\($0.lose)", ($0.sampleGain + $0.sampleLose).prefix(3).joined(separator: " ")] }))
        }
        let platform = report.platform
        lines.append("")
        lines.append(
            "platform: \(platform.markTag) mark_tag calls, \(platform.addCorpTag) add_corp_tag calls"
                + (platform.tagsToCreate.isEmpty ? "" : " (creates \(platform.tagsToCreate.joined(separator: ", ")))"))
        lines.append("expected to finish in \(duration(platform.expectedSeconds)) at the rate limit (\(platform.expectedFinish) if applied now)")
        return lines.joined(separator: "\n")
    }

    static func applied(_ report: GradeRunReport) -> String {
        let written = report.written
        return """
            graded \(report.contacts) contacts, \(report.relations) relations in \(String(format: "%.2f", report.loadSeconds + report.gradeSeconds + report.writeSeconds)) s \
            (load \(String(format: "%.2f", report.loadSeconds)) s, grade \(String(format: "%.2f", report.gradeSeconds)) s, write \(String(format: "%.2f", report.writeSeconds)) s)
            written: \(written.grades) grades, \(written.transitions) lifecycle transitions, \(written.assignments) tag assignments
            queued: \(written.queuedOps) tag writes for the platform (\(written.droppedOps) stale ones dropped); \(report.drift) hand-changed rule tags corrected
            """
    }

    static func duration(_ seconds: Double) -> String {
        if seconds < 90 { return "\(Int(seconds.rounded())) s" }
        if seconds < 5400 { return "\(Int((seconds / 60).rounded())) min" }
        return String(format: "%.1f h", seconds / 3600)
    }
}

func money(_ cents: Int64) -> String { formatCents(cents) }

struct RulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules", abstract: "Work with grading and tag rules.", subcommands: [Test.self])

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the rule fixtures in Config/tests/*.yaml: facts in, expected grades and tags out.",
            discussion: "Prints each failed expectation as path:line: message; exits 1 when any fails.")

        @OptionGroup var options: GlobalOptions

        func run() async throws {
            let rules = try options.loadRules()
            let fixtures: [RuleFixture]
            do {
                fixtures = try FixtureLoader(directory: options.configDirectory).load(timeZone: rules.grading.timeZone)
            } catch {
                printError(error.description)
                throw ExitCode(1)
            }
            var failed = 0
            var checks = 0
            for fixture in fixtures {
                let failures = fixture.run(rules: rules)
                checks += fixture.expectations.count
                failed += failures.count
                print(failures.isEmpty ? "ok    \(fixture.name)" : "FAIL  \(fixture.name)")
                for failure in failures { print("  \(failure)") }
            }
            print("\(fixtures.count) fixtures, \(checks) contacts checked, \(failed) failures")
            if failed > 0 { throw ExitCode(1) }
        }
    }
}
