import Foundation

/// A name written in a config file, with where it was written.
public struct NameReference: Sendable, Hashable {
    public var name: String
    public var file: String
    public var line: Int
    public var column: Int

    public init(_ name: String, file: String = "", line: Int = 1, column: Int = 1) {
        self.name = name
        self.file = file
        self.line = line
        self.column = column
    }
}

/// One named segment of Config/segments.yaml.
public struct SegmentSpec: Sendable, Hashable {
    public var name: NameReference
    public var description: String?
    /// A condition over the contact's grades, metrics, tags, attributes and other segments
    /// (a segment's name reads as true for its members).
    public var rule: RuleText
    /// Segments whose members are left out of this one.
    public var exclude: [NameReference]

    public init(name: NameReference, description: String? = nil, rule: RuleText, exclude: [NameReference] = []) {
        self.name = name
        self.description = description
        self.rule = rule
        self.exclude = exclude
    }
}

/// Config/segments.yaml.
public struct SegmentsConfig: Sendable, Hashable {
    public var segments: [SegmentSpec]

    public init(segments: [SegmentSpec] = []) {
        self.segments = segments
    }
}

/// A segment ready to evaluate.
public struct CompiledSegment: Sendable {
    public var spec: SegmentSpec
    public var name: String { spec.name.name }
    public var rule: CompiledRule
    /// Indices (into ``SegmentSet/segments``) of the excluded segments.
    public var excluded: [Int]
    /// Indices of every segment this one reads, through its rule or its exclusions.
    public var dependencies: [Int]
}

/// Every segment, type-checked as a whole against the grading schema, with the segments'
/// names as boolean fields so segments can build on each other.
public struct SegmentSet: Sendable {
    /// In file order.
    public let segments: [CompiledSegment]
    /// Evaluation order: every segment after the segments it reads.
    public let order: [Int]
    /// The contact schema plus one field per segment.
    public let schema: RuleSchema
    /// The grading rules' metric requests plus the segments' own.
    public let metrics: RuleMetricRegistry
    /// A hash of segments.yaml.
    public let version: String
    let segmentBase: Int

    public func index(of name: String) -> Int? {
        segments.firstIndex { $0.name == name }
    }

    /// Compiles every segment against `grading`'s contact schema. Names must be identifiers
    /// that are not already fields; references must exist and must not form a cycle.
    public static func compile(_ config: SegmentsConfig, grading: GradingRules, version: String) -> Result<SegmentSet, GradingRuleIssues> {
        var issues: [GradingRuleIssue] = []
        func issue(_ at: NameReference, _ message: String) {
            issues.append(GradingRuleIssue(file: at.file, line: at.line, column: at.column, message: message))
        }
        var schema = grading.schema.contact
        let base = schema.fields.count
        var seen: [String: Int] = [:]
        for (index, spec) in config.segments.enumerated() {
            let name = spec.name.name
            if seen[name] != nil {
                issue(spec.name, "segment \"\(name)\" is defined twice")
                continue
            }
            guard Self.isIdentifier(name) else {
                issue(spec.name, "segment name \"\(name)\" must start with a lowercase letter and hold only a-z, 0-9 and _ (rules refer to it by name)")
                continue
            }
            if schema.field(named: name) != nil || schema.metric(named: name) != nil || RuleSchema.builtinFunctions.contains(name) {
                issue(spec.name, "segment name \"\(name)\" is already a field or function in rules; pick another name")
                continue
            }
            seen[name] = index
            _ = schema.addField(name, type: .bool, nullable: false, doc: "member of segment \(name)")
        }
        var registry = grading.metrics
        var compiled: [CompiledSegment?] = Array(repeating: nil, count: config.segments.count)
        for (index, spec) in config.segments.enumerated() where seen[spec.name.name] == index {
            var excluded: [Int] = []
            for reference in spec.exclude {
                guard let target = seen[reference.name] else {
                    let hint = RuleSpelling.closest(to: reference.name, among: Array(seen.keys)).map { "; did you mean \"\($0)\"?" } ?? ""
                    issue(reference, "exclude: unknown segment \"\(reference.name)\"\(hint)")
                    continue
                }
                excluded.append(target)
            }
            switch RuleCompiler.compile(spec.rule.text, schema: schema, metrics: &registry) {
            case .success(let rule):
                let reads = rule.referencedFields.compactMap { seen[$0] }
                var dependencies: [Int] = []
                for target in reads + excluded where !dependencies.contains(target) { dependencies.append(target) }
                compiled[index] = CompiledSegment(spec: spec, rule: rule, excluded: excluded, dependencies: dependencies)
            case .failure(let errors):
                for diagnostic in errors.diagnostics {
                    let position = spec.rule.filePosition(line: diagnostic.location.line, column: diagnostic.location.column)
                    let hint = diagnostic.suggestion.map { "; \($0)" } ?? ""
                    issues.append(GradingRuleIssue(file: spec.rule.file, line: position.line, column: position.column, message: diagnostic.message + hint))
                }
            }
        }
        guard issues.isEmpty else { return .failure(GradingRuleIssues(issues: issues)) }
        let segments = compiled.map { $0! }
        // Depth-first order; a segment met again while still open closes a cycle.
        var order: [Int] = []
        var state = [UInt8](repeating: 0, count: segments.count)  // 0 new, 1 open, 2 done
        var path: [Int] = []
        func visit(_ index: Int) {
            if state[index] == 2 { return }
            if state[index] == 1 {
                let start = path.firstIndex(of: index) ?? 0
                let cycle = (path[start...] + [index]).map { segments[$0].name }.joined(separator: " → ")
                if !issues.contains(where: { $0.message.hasSuffix(cycle) }) {
                    issue(segments[index].spec.name, "segments refer to each other in a cycle: \(cycle)")
                }
                return
            }
            state[index] = 1
            path.append(index)
            for dependency in segments[index].dependencies { visit(dependency) }
            path.removeLast()
            state[index] = 2
            order.append(index)
        }
        for index in segments.indices { visit(index) }
        guard issues.isEmpty else { return .failure(GradingRuleIssues(issues: issues)) }
        return .success(SegmentSet(segments: segments, order: order, schema: schema, metrics: registry, version: version, segmentBase: base))
    }

    /// The aggregate columns a population must carry for grading and these segments.
    public func metricPlan(asOf: Int64, grading: GradingRules) -> MetricPlan {
        MetricPlan(
            requests: metrics.requests, rfmWindowDays: grading.grading.rfmWindowDays, asOf: asOf,
            calendar: BusinessCalendar(timeZone: grading.grading.timeZone))
    }

    /// Which contacts belong to which segments, from their stored grades (a contact never
    /// graded reads as a potential customer with no scores).
    public func evaluate(_ population: GradingPopulation, plan: MetricPlan) -> SegmentMembership {
        let grades = population.contacts.map { $0.previous ?? ContactGrade(externalUserID: $0.externalUserID) }
        let state = GradingRunState(population: population, plan: plan, grades: grades)
        let count = segments.count
        var bits = [Bool](repeating: false, count: population.contacts.count * count)
        let row = MembershipRow(count: count)
        for contact in population.contacts.indices {
            row.reset()
            let facts = SegmentFacts(contact: ContactFacts(state: state, contact: contact), row: row, base: segmentBase)
            for index in order {
                let segment = segments[index]
                var member = segment.rule.evaluate(facts)
                if member { member = !segment.excluded.contains { row.values[$0] } }
                row.values[index] = member
            }
            let offset = contact * count
            for index in 0..<count where row.values[index] { bits[offset + index] = true }
        }
        return SegmentMembership(names: segments.map(\.name), contacts: population.contacts.map(\.externalUserID), bits: bits)
    }

    /// Why a contact is or is not in a segment: the rule's explanation and any exclusion that bit.
    public func explain(_ segment: Int, contact: Int, population: GradingPopulation, plan: MetricPlan, membership: SegmentMembership)
        -> (explanation: RuleExplanation, excludedBy: [String])
    {
        let grades = population.contacts.map { $0.previous ?? ContactGrade(externalUserID: $0.externalUserID) }
        let state = GradingRunState(population: population, plan: plan, grades: grades)
        let row = MembershipRow(count: segments.count)
        for index in segments.indices { row.values[index] = membership.contains(contact: contact, segment: index) }
        let facts = SegmentFacts(contact: ContactFacts(state: state, contact: contact), row: row, base: segmentBase)
        let explanation = segments[segment].rule.explain(facts)
        let excludedBy = segments[segment].excluded.filter { row.values[$0] }.map { segments[$0].name }
        return (explanation, excludedBy)
    }

    static func isIdentifier(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, ("a"..."z").contains(first) else { return false }
        return text.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }
}

/// Segment membership of a population, one bit per (contact, segment).
public struct SegmentMembership: Sendable {
    public let names: [String]
    /// external_userid per contact, in population order.
    public let contacts: [String]
    let bits: [Bool]

    public func contains(contact: Int, segment: Int) -> Bool {
        bits[contact * names.count + segment]
    }

    /// Population indices of a segment's members, in population order.
    public func members(of segment: Int) -> [Int] {
        contacts.indices.filter { bits[$0 * names.count + segment] }
    }

    public func size(of segment: Int) -> Int {
        var total = 0
        for contact in contacts.indices where bits[contact * names.count + segment] { total += 1 }
        return total
    }
}

/// One contact's memberships while segments are evaluated in order.
final class MembershipRow {
    var values: [Bool]

    init(count: Int) {
        values = [Bool](repeating: false, count: count)
    }

    func reset() {
        for index in values.indices { values[index] = false }
    }
}

/// A contact's facts plus its memberships so far, for segment rules.
struct SegmentFacts: RuleFacts {
    let contact: ContactFacts
    let row: MembershipRow
    let base: Int

    func field(_ slot: Int) -> RuleValue {
        slot >= base ? .bool(row.values[slot - base]) : contact.field(slot)
    }

    func metric(_ slot: Int) -> RuleValue { contact.metric(slot) }

    func hasTag(_ name: String, group: String?) -> Bool { contact.hasTag(name, group: group) }
}
