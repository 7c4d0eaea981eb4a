import CohortCore
import Foundation
import Yams

/// Reads the rule fixtures in Config/tests/*.yaml.
public struct FixtureLoader: Sendable {
    public var directory: String

    public init(directory: String = "Config") {
        self.directory = directory
    }

    /// Every fixture file, parsed; problems are reported like any config problem.
    public func load(timeZone: TimeZone) throws(ConfigError) -> [RuleFixture] {
        let folder = directory.hasSuffix("/") ? directory + "tests" : directory + "/tests"
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        var fixtures: [RuleFixture] = []
        var issues: [ConfigIssue] = []
        for name in names {
            let file = folder + "/" + name
            let collector = IssueCollector(file: file)
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                collector.add("cannot read file", at: nil)
                issues += collector.issues
                continue
            }
            if let root = composeYAML(text, issues: collector), collector.issues.isEmpty,
                let fixture = read(MappingReader(root, path: "", issues: collector), file: file, timeZone: timeZone)
            {
                if collector.issues.isEmpty { fixtures.append(fixture) }
            }
            issues += collector.issues
        }
        guard issues.isEmpty else { throw ConfigError(issues: issues) }
        return fixtures
    }

    private func time(_ reader: MappingReader, _ key: String, timeZone: TimeZone) -> Int64? {
        guard let text = reader.string(key) else { return nil }
        guard let value = InteractionRowParser.parseTime(text, timeZone: timeZone) else {
            reader.issues.add("\(reader.path).\(key): \"\(text)\" is not a date or date-time", at: reader.node(key)?.mark)
            return nil
        }
        return value
    }

    private func list(_ node: Node?, path: String, issues: IssueCollector) -> [Node] {
        guard let node else { return [] }
        guard case .sequence(let items) = node else {
            issues.add("\(path) must be a list", at: node.mark)
            return []
        }
        return Array(items)
    }

    private func read(_ root: MappingReader, file: String, timeZone: TimeZone) -> RuleFixture? {
        let issues = root.issues
        let name = root.string("name") ?? URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
        guard let asOf = time(root, "as_of", timeZone: timeZone) else {
            if !root.has("as_of") { root.missing("as_of", hint: "the moment the fixture is graded at, e.g. 2026-11-23T12:00:00+08:00") }
            root.finish()
            return nil
        }
        var contacts: [RuleFixture.FixtureContact] = []
        for (position, item) in list(root.node("contacts"), path: "contacts", issues: issues).enumerated() {
            let entry = MappingReader(item, path: "contacts[\(position)]", issues: issues)
            guard let id = entry.string("id") else {
                entry.missing("id")
                entry.finish()
                continue
            }
            var contact = RuleFixture.FixtureContact(id: id)
            if let gender = entry.string("gender") {
                switch gender {
                case "male": contact.gender = 1
                case "female": contact.gender = 2
                case "unknown": contact.gender = 0
                default: issues.add("gender must be male, female or unknown", at: entry.node("gender")?.mark)
                }
            }
            contact.corpName = entry.string("corp_name")
            if let stage = entry.choice("lifecycle", of: LifecycleStage.self) { contact.previousLifecycle = stage }
            let attributes = entry.mapping("attributes")
            for key in attributes.keys {
                guard let node = attributes.node(key), case .scalar(let scalar) = node else { continue }
                if let number = node.float ?? node.int.map(Double.init) {
                    contact.attributes[key] = .number(number)
                } else if let flag = node.bool {
                    contact.attributes[key] = .bool(flag)
                } else {
                    contact.attributes[key] = .string(scalar.string)
                }
            }
            attributes.finish()
            for (relationPosition, relationNode) in list(entry.node("relations"), path: "\(entry.path).relations", issues: issues).enumerated() {
                let relation = MappingReader(relationNode, path: "\(entry.path).relations[\(relationPosition)]", issues: issues)
                guard let staff = relation.string("staff") else {
                    relation.missing("staff")
                    relation.finish()
                    continue
                }
                var value = RuleFixture.FixtureRelation(staff: staff)
                value.addWay = relation.int("add_way")
                value.state = relation.string("state")
                value.createTime = time(relation, "added", timeZone: timeZone)
                value.tags = list(relation.node("tags"), path: "\(relation.path).tags", issues: issues).compactMap(\.string)
                relation.finish()
                contact.relations.append(value)
            }
            for (itemPosition, interactionNode) in list(entry.node("interactions"), path: "\(entry.path).interactions", issues: issues)
                .enumerated()
            {
                let interaction = MappingReader(interactionNode, path: "\(entry.path).interactions[\(itemPosition)]", issues: issues)
                let kind = interaction.string("kind") ?? "order"
                let at = time(interaction, "at", timeZone: timeZone)
                if at == nil, !interaction.has("at") { interaction.missing("at") }
                var cents: Int64?
                if let amount = interaction.double("amount") { cents = Int64((amount * 100).rounded()) }
                var attributes: [String: String] = [:]
                let attributeReader = interaction.mapping("attributes")
                for key in attributeReader.keys { attributes[key] = attributeReader.node(key)?.string }
                attributeReader.finish()
                interaction.finish()
                if let at {
                    contact.interactions.append(
                        Interaction(
                            kind: kind, contact: .externalUserID(id), occurredAt: at, amountCents: cents, source: "fixture",
                            sourceID: "\(id)-\(itemPosition)", attributes: attributes))
                }
            }
            entry.finish()
            contacts.append(contact)
        }
        var expectations: [RuleFixture.Expectation] = []
        for (position, item) in list(root.node("expect"), path: "expect", issues: issues).enumerated() {
            let entry = MappingReader(item, path: "expect[\(position)]", issues: issues)
            guard let contact = entry.string("contact") else {
                entry.missing("contact")
                entry.finish()
                continue
            }
            var expectation = RuleFixture.Expectation(contact: contact, line: item.mark?.line ?? 0)
            for field in ["r", "f", "m", "rfm", "abc", "clv", "lifecycle", "recency", "frequency", "monetary"] {
                if let node = entry.node(field) {
                    expectation.grades[field] =
                        if let number = node.float, field == "clv" || field == "monetary" { String(format: "%.2f", number) } else {
                            node.string ?? ""
                        }
                }
            }
            let tags = entry.mapping("tags")
            for staff in tags.keys {
                expectation.tags[staff] = list(tags.node(staff), path: "\(entry.path).tags.\(staff)", issues: issues).compactMap(\.string)
            }
            tags.finish()
            entry.finish()
            expectations.append(expectation)
        }
        root.finish()
        return RuleFixture(file: file, name: name, asOf: asOf, contacts: contacts, expectations: expectations)
    }
}
