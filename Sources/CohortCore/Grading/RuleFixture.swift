import Foundation

/// A rule test: a handful of contacts with their facts, and the grades and tags the rules
/// must give them (Config/tests/*.yaml, run by `cohort rules test` and in CI).
public struct RuleFixture: Sendable {
    public struct FixtureRelation: Sendable {
        public var staff: String
        public var addWay: Int?
        public var state: String?
        public var createTime: Int64?
        /// Tags already on the relation (`group/name`).
        public var tags: [String]

        public init(staff: String, addWay: Int? = nil, state: String? = nil, createTime: Int64? = nil, tags: [String] = []) {
            self.staff = staff
            self.addWay = addWay
            self.state = state
            self.createTime = createTime
            self.tags = tags
        }
    }

    public struct FixtureContact: Sendable {
        public var id: String
        public var gender: Int?
        public var corpName: String?
        public var attributes: [String: RuleValue]
        public var relations: [FixtureRelation]
        public var interactions: [Interaction]
        public var previousLifecycle: LifecycleStage?

        public init(
            id: String, gender: Int? = nil, corpName: String? = nil, attributes: [String: RuleValue] = [:],
            relations: [FixtureRelation] = [], interactions: [Interaction] = [], previousLifecycle: LifecycleStage? = nil
        ) {
            self.id = id
            self.gender = gender
            self.corpName = corpName
            self.attributes = attributes
            self.relations = relations
            self.interactions = interactions
            self.previousLifecycle = previousLifecycle
        }
    }

    /// Expected values for one contact; absent keys are not checked.
    public struct Expectation: Sendable {
        public var contact: String
        /// Grade field (`r`, `f`, `m`, `rfm`, `abc`, `clv`, `lifecycle`, `recency`, `frequency`,
        /// `monetary`) to its expected value as text (`none` for no value).
        public var grades: [String: String]
        /// Staff userid to the exact rule tags the relation should carry after the run.
        public var tags: [String: [String]]
        /// Where the expectation is written, for messages.
        public var line: Int

        public init(contact: String, grades: [String: String] = [:], tags: [String: [String]] = [:], line: Int = 0) {
            self.contact = contact
            self.grades = grades
            self.tags = tags
            self.line = line
        }
    }

    public var file: String
    public var name: String
    public var asOf: Int64
    public var contacts: [FixtureContact]
    public var expectations: [Expectation]

    public init(file: String, name: String, asOf: Int64, contacts: [FixtureContact], expectations: [Expectation]) {
        self.file = file
        self.name = name
        self.asOf = asOf
        self.contacts = contacts
        self.expectations = expectations
    }

    /// Runs the fixture; returns one message per expectation that does not hold.
    public func run(rules: GradingRules) -> [String] {
        let plan = rules.metricPlan(asOf: asOf)
        var catalogue: [String: TagGroup] = [:]
        var tagIDs: [String: String] = [:]
        for contact in contacts {
            for relation in contact.relations {
                for tag in relation.tags where tagIDs[tag] == nil {
                    let (group, name) = Self.split(tag)
                    let id = "fixture-tag-\(tagIDs.count)"
                    tagIDs[tag] = id
                    catalogue[group, default: TagGroup(id: "fixture-group-\(group)", name: group)].tags.append(
                        Tag(id: id, groupID: "fixture-group-\(group)", name: name))
                }
            }
        }
        var population = GradingPopulation(asOf: asOf, catalogue: Array(catalogue.values))
        for (index, contact) in contacts.sorted(by: { $0.id < $1.id }).enumerated() {
            var attributes: [RuleValue] = []
            for attribute in rules.grading.attributes {
                if let value = contact.attributes[attribute.name] {
                    attributes.append(value)
                } else if let latest = contact.interactions.filter({ $0.attributes[attribute.name] != nil }).max(by: { $0.occurredAt < $1.occurredAt }),
                    let text = latest.attributes[attribute.name]
                {
                    switch attribute.type {
                    case .number: attributes.append(Double(text).map { .number($0) } ?? .null)
                    case .bool: attributes.append(text == "true" ? .bool(true) : text == "false" ? .bool(false) : .null)
                    default: attributes.append(.string(text))
                    }
                } else {
                    attributes.append(.null)
                }
            }
            let previous = contact.previousLifecycle.map {
                ContactGrade(externalUserID: contact.id, lifecycle: $0, lifecycleSince: asOf - 86_400)
            }
            population.contacts.append(
                GradingContact(
                    externalUserID: contact.id, gender: contact.gender, corpName: contact.corpName,
                    addedAt: contact.relations.compactMap(\.createTime).min(), liveRelations: contact.relations.count,
                    attributes: attributes, previous: previous))
            for relation in contact.relations {
                population.appendRelation(
                    GradingRelation(
                        contact: index, userID: relation.staff, addWay: relation.addWay, state: relation.state,
                        createTime: relation.createTime),
                    tagIDs: relation.tags.compactMap { tagIDs[$0] })
            }
            population.columns += plan.aggregate(contact.interactions)
        }
        let outcome = GradingEngine.run(population, rules: rules, plan: plan)
        var failures: [String] = []
        let ruleGroups = Set(rules.ruleGroups.map(\.spec.name))
        for expectation in expectations {
            let prefix = "\(file):\(expectation.line): \(name): \(expectation.contact)"
            guard let index = population.contacts.firstIndex(where: { $0.externalUserID == expectation.contact }) else {
                failures.append("\(prefix): no such contact in the fixture")
                continue
            }
            let grade = outcome.grades[index]
            for (field, expected) in expectation.grades.sorted(by: { $0.key < $1.key }) {
                let actual = Self.gradeValue(field, grade)
                if actual != expected { failures.append("\(prefix): \(field) is \(actual ?? "unknown field"), expected \(expected)") }
            }
            for (staff, expected) in expectation.tags.sorted(by: { $0.key < $1.key }) {
                guard let relation = contacts.first(where: { $0.id == expectation.contact })?.relations.first(where: { $0.staff == staff }) else {
                    failures.append("\(prefix): no relation with \(staff)")
                    continue
                }
                let key = RelationKey(externalUserID: expectation.contact, userID: staff)
                let plan = outcome.relationPlans.first { $0.key == key }
                var tags = Set(relation.tags.filter { ruleGroups.contains(Self.split($0).0) })
                tags.subtract(plan?.remove ?? [])
                tags.formUnion(plan?.add ?? [])
                if tags != Set(expected) {
                    failures.append("\(prefix): tags on \(staff) are [\(tags.sorted().joined(separator: ", "))], expected [\(expected.sorted().joined(separator: ", "))]")
                }
            }
        }
        return failures
    }

    static func split(_ tag: String) -> (String, String) {
        guard let slash = tag.firstIndex(of: "/") else { return ("", tag) }
        return (String(tag[..<slash]), String(tag[tag.index(after: slash)...]))
    }

    static func gradeValue(_ field: String, _ grade: ContactGrade) -> String? {
        func text(_ value: Int?) -> String { value.map(String.init) ?? "none" }
        switch field {
        case "r": return text(grade.r)
        case "f": return text(grade.f)
        case "m": return text(grade.m)
        case "rfm", "segment": return grade.segment ?? "none"
        case "abc": return grade.abc ?? "none"
        case "clv": return grade.clvCents.map { String(format: "%.2f", Double($0) / 100) } ?? "none"
        case "lifecycle": return grade.lifecycle.rawValue
        case "recency": return text(grade.recencyDays)
        case "frequency": return String(grade.frequency)
        case "monetary": return String(format: "%.2f", Double(grade.monetaryCents) / 100)
        default: return nil
        }
    }
}
