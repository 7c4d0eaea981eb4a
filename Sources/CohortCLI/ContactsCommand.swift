import ArgumentParser
import CohortConfig
import CohortCore
import CohortServer
import CohortStore
import Foundation

struct ContactsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contacts", abstract: "Look at the synced customers.", subcommands: [List.self, Show.self, ForgetCommand.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List customers with a live relation, by external_userid.")

        @OptionGroup var options: GlobalOptions
        @Option(help: "Only customers carrying this tag (id, name, or group/name) on a live relation.") var tag: String?
        @Option(help: "Only customers this staff member (userid) follows.") var staff: String?
        @Option(help: "At most this many.") var limit: Int?
        @Option(name: .customLong("search"), help: "Text in the name, company, external_userid, a remark or a phone number.") var text: String?
        @Flag(help: "Include customers no staff member follows any more.") var all = false
        @Flag(help: "One JSON array instead of a table.") var json = false

        func run() async throws {
            let settings = try options.loadSettings()
            try await options.withStores(settings) { stores in
                let contacts = try await stores.directory.contacts(
                    ContactFilter(tag: tag, staff: staff, includeEnded: all, limit: limit, text: text))
                print(json ? try ContactListing.json(contacts) : ContactListing.table(contacts))
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One customer with every relation and its tags.")

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The customer's external_userid.") var id: String
        @Flag(help: "JSON instead of text.") var json = false

        func run() async throws {
            let settings = try options.loadSettings()
            try await options.withStores(settings) { stores in
                guard let contact = try await stores.directory.contact(id) else {
                    printError("no contact \(id)")
                    throw ExitCode(1)
                }
                print(json ? try ContactListing.json(contact) : ContactListing.text(contact))
            }
        }
    }
}

/// Renders contacts for people and scripts.
enum ContactListing {
    static func json(_ contacts: [StoredContact]) throws -> String { try prettyJSON(contacts.map(ContactDocument.init)) }
    static func json(_ contact: StoredContact) throws -> String { try prettyJSON(ContactDocument(contact)) }

    static func table(_ contacts: [StoredContact]) -> String {
        let rows = contacts.map { stored -> [String] in
            let live = stored.relations.filter { $0.endedAt == nil }
            let tags = Set(live.flatMap { relation in relation.relation.tagIDs.map { relation.tagNames[$0] ?? $0 } }).sorted()
            return [
                stored.contact.externalUserID, stored.contact.name ?? "-", live.map(\.relation.userID).joined(separator: ","),
                stored.endedAt == nil ? "" : "gone", tags.joined(separator: ", "),
            ]
        }
        return TextTable.render(header: ["EXTERNAL USERID", "NAME", "STAFF", "", "TAGS"], rows: rows)
            + "\n\(contacts.count) contact\(contacts.count == 1 ? "" : "s")"
    }

    static func text(_ stored: StoredContact) -> String {
        let contact = stored.contact
        let kind = contact.type == 2 ? "WeCom user" : contact.type == 1 ? "WeChat user" : "unknown type"
        var lines = ["\(contact.externalUserID)  \(contact.name ?? "-")  (\(kind))"]
        if let corp = contact.corpName { lines.append("company: \(corp)") }
        if let ended = stored.endedAt { lines.append("gone since \(ISO8601DateFormatter().string(from: ended))") }
        for relation in stored.relations {
            let value = relation.relation
            let status = relation.endedAt.map { "ended \(ISO8601DateFormatter().string(from: $0)) (\(relation.endReason ?? ""))" } ?? "live"
            let added = value.createTime.map { ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double($0))) } ?? "-"
            lines.append("- \(value.userID): \(status), added \(added), add_way \(value.addWay.map(String.init) ?? "-")\(value.state.map { ", state \($0)" } ?? "")")
            if let remark = value.remark, !remark.isEmpty { lines.append("    remark: \(remark)") }
            if !value.remarkMobiles.isEmpty { lines.append("    mobiles: \(value.remarkMobiles.joined(separator: ", "))") }
            if !value.tagIDs.isEmpty { lines.append("    tags: " + value.tagIDs.map { relation.tagNames[$0] ?? $0 }.joined(separator: ", ")) }
        }
        return lines.joined(separator: "\n")
    }
}
