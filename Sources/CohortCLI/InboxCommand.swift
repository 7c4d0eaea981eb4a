import ArgumentParser
import CohortConfig
import CohortCore
import CohortServer
import CohortStore
import Foundation

struct InboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inbox", abstract: "List and replay stored callback events.", subcommands: [List.self, Replay.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List inbox events, newest first.")

        @OptionGroup var options: GlobalOptions
        @Option(help: "Only events with this status: \(InboxStatus.allCases.map(\.rawValue).joined(separator: ", ")).")
        var status: InboxStatus?
        @Option(help: "At most this many events.") var limit = 50
        @Flag(help: "One JSON array of objects instead of a table.") var json = false

        func run() async throws {
            let settings = try options.loadSettings()
            try await options.withStores(settings) { stores in
                let events = try await stores.inbox.list(status: status, limit: limit)
                if json {
                    print(try InboxListing.json(events))
                } else {
                    print(InboxListing.table(events))
                }
            }
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Put events back to pending so their handler runs again (handlers are idempotent).")

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The id of one event.") var id: Int64?
        @Option(help: "Every event received at or after TIME (ISO 8601, e.g. 2026-11-23T08:00:00Z, or an age such as 2h, 30m, 7d).")
        var since: String?

        func validate() throws {
            if (id == nil) == (since == nil) { throw ValidationError("give either an event ID or --since TIME") }
        }

        func run() async throws {
            let selection: InboxReplaySelection
            if let id {
                selection = .id(id)
            } else {
                guard let date = parseTime(since ?? "", now: Date()) else {
                    throw ValidationError("--since: cannot read \"\(since ?? "")\" as a time (ISO 8601 or an age like 2h)")
                }
                selection = .since(date)
            }
            let settings = try options.loadSettings()
            try await options.withStores(settings) { stores in
                let count = try await stores.inbox.replay(selection)
                if case .id(let id) = selection, count == 0 {
                    printError("no inbox event with id \(id)")
                    throw ExitCode(1)
                }
                print("re-queued \(count) event\(count == 1 ? "" : "s"); a running `cohort serve` processes them")
            }
        }
    }
}

extension InboxStatus: ExpressibleByArgument {}

/// Reads an ISO 8601 time or an age (`90s`, `30m`, `2h`, `7d`) counted back from `now`.
func parseTime(_ text: String, now: Date) -> Date? {
    let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
    if let unit = text.last, let seconds = units[unit], let amount = Double(text.dropLast()), amount >= 0 {
        return now.addingTimeInterval(-amount * seconds)
    }
    let full = ISO8601DateFormatter()
    if let date = full.date(from: text) { return date }
    let dateOnly = ISO8601DateFormatter()
    dateOnly.formatOptions = [.withFullDate]
    return dateOnly.date(from: text)
}

/// Renders inbox events for people (a table) and scripts (JSON).
enum InboxListing {
    static func rows(_ events: [InboxEvent]) -> [InboxEventDocument] { events.map(InboxEventDocument.init) }

    static func json(_ events: [InboxEvent]) throws -> String { try prettyJSON(rows(events)) }

    static func table(_ events: [InboxEvent]) -> String {
        let header = ["ID", "RECEIVED", "EVENT", "CHANGE", "USER", "EXTERNAL USER", "STATUS", "TRIES", "ERROR"]
        let body = rows(events).map { row in
            [String(row.id), row.received_at, row.event ?? "-", row.change_type ?? "-", row.user_id ?? "-",
             row.external_user_id ?? "-", row.status, String(row.attempts), row.last_error.map { String($0.prefix(60)) } ?? ""]
        }
        return TextTable.render(header: header, rows: body) + "\n\(events.count) event\(events.count == 1 ? "" : "s")"
    }
}

/// The `--json` form of every listing: indented, keys sorted, slashes left alone.
func prettyJSON(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

/// Left-aligned columns padded to their widest cell.
enum TextTable {
    static func render(header: [String], rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }
}
