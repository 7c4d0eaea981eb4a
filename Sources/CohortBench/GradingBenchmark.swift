import ArgumentParser
import CohortConfig
import CohortCore
import CohortServer
import CohortStore
import Foundation

/// A deterministic contacts-and-orders dataset: the same seed gives the same rows in the
/// benchmark's store and in `gen`'s CSV files, so other tools can grade the same data.
struct GradingDataset {
    var contacts: Int
    var orders: Int
    var seed: UInt64
    var staff = 200
    /// Orders fall in the three years before this instant.
    var asOf: Int64

    /// A unique, unordered-looking id per index (multiplication by an odd constant is a
    /// bijection modulo 2^40), so id order does not follow activity.
    func externalUserID(_ index: Int) -> String {
        let mixed = (UInt64(index) &* 0x9E37_79B9_7F4B) & 0xFF_FFFF_FFFF
        let hex = String(mixed, radix: 16)
        return "wm" + String(repeating: "0", count: 10 - hex.count) + hex
    }

    func seedContacts() -> [BulkSeeder.SeedContact] {
        var random = SeededRandom(seed: seed)
        return (0..<contacts).map { index in
            let first = Int(random.next() % UInt64(staff))
            var relations = [(userID: "staff\(first)", createTime: asOf - Int64(random.next() % (4 * 365 * 86_400)))]
            if random.next() % 5 == 0 {
                let second = (first + 1 + Int(random.next() % UInt64(staff - 1))) % staff
                relations.append((userID: "staff\(second)", createTime: asOf - Int64(random.next() % (4 * 365 * 86_400))))
            }
            return BulkSeeder.SeedContact(externalUserID: externalUserID(index), gender: Int(random.next() % 3), relations: relations)
        }
    }

    /// Orders per contact: 70% of contacts buy, with a long tail of frequent buyers.
    func orderCounts() -> [Int32] {
        var random = SeededRandom(seed: seed ^ 0x5EED)
        var counts = [Int32](repeating: 0, count: contacts)
        let buyers = Double(max(1, contacts * 7 / 10))
        for _ in 0..<orders {
            let u = Double(random.next() >> 11) / Double(1 << 53)
            counts[min(contacts - 1, Int(buyers * pow(u, 1.5)))] += 1
        }
        return counts
    }

    /// The orders, contact by contact.
    func seedOrders(counts: [Int32]) -> some Sequence<BulkSeeder.SeedOrder> {
        var random = SeededRandom(seed: seed ^ 0x0DE5)
        var contact = 0
        var left = counts.first ?? 0
        let asOf = self.asOf
        return AnySequence {
            AnyIterator { () -> BulkSeeder.SeedOrder? in
                while left == 0 {
                    contact += 1
                    guard contact < counts.count else { return nil }
                    left = counts[contact]
                }
                left -= 1
                let u = Double(random.next() >> 11) / Double(1 << 53)
                let occurredAt = asOf - Int64(u * 3 * 365 * 86_400)
                let amount = 1_000 + Int64(pow(Double(random.next() >> 11) / Double(1 << 53), 3) * 500_000) + Int64(random.next() % 100)
                return BulkSeeder.SeedOrder(contact: contact, occurredAt: occurredAt, amountCents: amount)
            }
        }
    }
}

/// `cohort-bench gen`: writes the dataset as CSV (contacts.csv, orders.csv).
struct GenerateBenchmarkData: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gen", abstract: "Write generated contacts and orders as CSV so other tools can grade the same data.")

    @Option(help: "Contacts.") var contacts = 1_000_000
    @Option(help: "Orders.") var orders = 10_000_000
    @Option(help: "Seed.") var seed: UInt64 = 42
    @Option(help: "Output directory.") var out: String
    @Option(help: "Orders fall in the three years before this unix time (default 2026-11-23T00:00:00Z).") var asOf: Int64 = 1_795_392_000

    func run() async throws {
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let dataset = GradingDataset(contacts: contacts, orders: orders, seed: seed, asOf: asOf)
        let people = dataset.seedContacts()
        var text = "external_userid,staff,gender,added_at\n"
        let contactsFile = try Self.open(out + "/contacts.csv")
        for person in people {
            for relation in person.relations {
                text += "\(person.externalUserID),\(relation.userID),\(person.gender),\(relation.createTime)\n"
            }
            if text.utf8.count > 1 << 20 {
                contactsFile.write(Data(text.utf8))
                text = ""
            }
        }
        contactsFile.write(Data(text.utf8))
        try contactsFile.close()
        let ordersFile = try Self.open(out + "/orders.csv")
        text = "kind,source,source_id,external_userid,occurred_at,amount\n"
        var written = 0
        for order in dataset.seedOrders(counts: dataset.orderCounts()) {
            text += "order,bench,\(written),\(people[order.contact].externalUserID),\(order.occurredAt),\(formatCents(order.amountCents))\n"
            written += 1
            if text.utf8.count > 1 << 20 {
                ordersFile.write(Data(text.utf8))
                text = ""
            }
        }
        ordersFile.write(Data(text.utf8))
        try ordersFile.close()
        print(jsonLine(["scenario": "gen", "contacts": contacts, "orders": written, "seed": seed, "out": out, "as_of": asOf]))
    }

    static func open(_ path: String) throws -> FileHandle {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        guard let handle = FileHandle(forWritingAtPath: path) else { throw ValidationError("cannot write \(path)") }
        return handle
    }
}

/// `cohort-bench grade`: seeds a store with the dataset, then times a first full apply, an
/// unchanged full apply, and incremental re-grades of single contacts after a new order.
struct GradingBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "grade", abstract: "Full and incremental re-grade on a generated store.")

    @Option(help: "Contacts.") var contacts = 1_000_000
    @Option(help: "Orders.") var orders = 10_000_000
    @Option(help: "Seed.") var seed: UInt64 = 42
    @Option(help: "Config directory with grading.yaml and tags.yaml.") var config = "Config"
    @Option(help: "Incremental re-grades to time.") var incremental = 500
    @Option(help: "Keep the seeded database here (reused when it exists).") var database: String?
    @Flag(help: "Print resident and peak memory at each phase of a full run to standard error.") var memoryTrace = false

    @Sendable static func traceMemory(phase: String, done: Int, total: Int) {
        progress("\(phase) \(done)/\(total): resident \(Int(residentMiB())) MiB, peak \(Int(peakResidentMiB())) MiB")
    }

    func run() async throws {
        let rules = try GradingLoader(directory: config).load()
        let corpID = "wwbench"
        let asOf: Int64 = 1_795_392_000
        let path = database ?? FileManager.default.temporaryDirectory.appendingPathComponent("cohort-bench-grade-\(UUID().uuidString).sqlite").path
        let reuse = database != nil && FileManager.default.fileExists(atPath: path)
        defer { if database == nil { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } } }
        let store = try CohortDatabase(path: path)
        let dataset = GradingDataset(contacts: contacts, orders: orders, seed: seed, asOf: asOf)
        let ids = (0..<contacts).map(dataset.externalUserID)
        if !reuse {
            progress("seeding \(contacts) contacts and \(orders) orders")
            let started = ContinuousClock.now
            let seeder = BulkSeeder(database: store, corpID: corpID)
            let seqs = try await seeder.seedContacts(dataset.seedContacts(), at: Date())
            let loaded = try await seeder.seedOrders(dataset.seedOrders(counts: dataset.orderCounts()), seqs: seqs, source: "bench", at: Date())
            progress("seeded \(loaded) orders in \(Int((ContinuousClock.now - started).inSeconds)) s")
        }
        let seededRSS = peakResidentMiB()
        let repository = SQLiteGradingRepository(database: store, corpID: corpID)
        let clockTime = Date(timeIntervalSince1970: TimeInterval(asOf))
        let grader = Grader(rules: rules, repository: repository, now: { clockTime })
        for run in ["full-first", "full-steady"] {
            if run == "full-steady" {
                // The queue drained and the platform carries the tags: what a daily re-grade sees.
                progress("marking \(try await BulkSeeder(database: store, corpID: corpID).simulateDrain(at: Date())) queued writes done")
            }
            progress("grade \(run)")
            let started = ContinuousClock.now
            let report = try await grader.apply(progress: memoryTrace ? Self.traceMemory : nil)
            let wall = (ContinuousClock.now - started).inSeconds
            print(
                jsonLine([
                    "scenario": "grade-\(run)", "contacts": report.contacts, "relations": report.relations, "orders": orders,
                    "wall_seconds": SyncBenchmark.round(wall), "load_seconds": SyncBenchmark.round(report.loadSeconds),
                    "grade_seconds": SyncBenchmark.round(report.gradeSeconds), "write_seconds": SyncBenchmark.round(report.writeSeconds),
                    "grades_written": report.written.grades, "transitions": report.written.transitions,
                    "assignments": report.written.assignments, "platform_calls_queued": report.written.queuedOps,
                    "platform_drain_hours_at_150k_per_hour": SyncBenchmark.round(Double(report.written.queuedOps) / 150_000),
                    "peak_rss_mib": SyncBenchmark.round(peakResidentMiB()), "peak_rss_after_seeding_mib": SyncBenchmark.round(seededRSS),
                ]))
        }
        // Incremental: a new order for one contact, then that contact's re-grade alone.
        let interactions = SQLiteInteractionRepository(database: store, corpID: corpID)
        var random = SeededRandom(seed: seed ^ 0x1AC)
        var times: [Double] = []
        for round in 0..<incremental {
            let id = ids[Int(random.next() % UInt64(ids.count))]
            _ = try await interactions.store(
                [Interaction(kind: "order", contact: .externalUserID(id), occurredAt: asOf - 60, amountCents: 9_900, source: "bench-incremental", sourceID: "\(round)")],
                at: Date())
            let started = ContinuousClock.now
            try await grader.regrade([id])
            times.append((ContinuousClock.now - started).inSeconds * 1000)
        }
        times.sort()
        func percentile(_ p: Double) -> Double { times.isEmpty ? 0 : times[min(times.count - 1, Int(Double(times.count) * p))] }
        print(
            jsonLine([
                "scenario": "grade-incremental", "contacts": contacts, "regrades": times.count,
                "p50_ms": SyncBenchmark.round(percentile(0.5)), "p99_ms": SyncBenchmark.round(percentile(0.99)),
                "max_ms": SyncBenchmark.round(times.last ?? 0),
            ]))
    }
}
