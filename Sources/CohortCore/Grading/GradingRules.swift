import Foundation

/// Every problem in the rules of a config, located in their files.
public struct GradingRuleIssues: Error, Sendable, Hashable {
    public var issues: [GradingRuleIssue]
}

/// A problem in a rule, located in its config file.
public struct GradingRuleIssue: Sendable, Hashable {
    public var file: String
    public var line: Int
    public var column: Int
    public var message: String

    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }
}

/// A tag rule ready to evaluate.
public struct CompiledTagRule: Sendable {
    /// `group/name`, also the rule's id.
    public var id: String
    public var spec: TagRuleSpec
    public var rule: CompiledRule
    /// What the rule reads, as (label, field slot) and (label, metric slot): the facts stored
    /// with an assignment are read directly, without building a whole explanation (a first
    /// apply stores millions of them).
    var fieldFacts: [(label: String, slot: Int)] = []
    var metricFacts: [(label: String, slot: Int)] = []

    init(id: String, spec: TagRuleSpec, rule: CompiledRule, schema: RuleSchema) {
        self.id = id
        self.spec = spec
        self.rule = rule
        fieldFacts = rule.referencedFields.compactMap { name in schema.field(named: name).map { (name, $0.slot) } }
        metricFacts = zip(rule.metricRequests, rule.metricSlots).map { ($0.description, $1) }
    }

    /// `name = value; …` for every field, metric and tag the rule reads.
    func facts<F: RuleFacts>(_ facts: F) -> String {
        var parts: [String] = []
        parts.reserveCapacity(fieldFacts.count + metricFacts.count + rule.referencedTags.count)
        for (label, slot) in fieldFacts { parts.append("\(label) = \(facts.field(slot))") }
        for (label, slot) in metricFacts { parts.append("\(label) = \(facts.metric(slot))") }
        for tag in rule.referencedTags { parts.append("has_tag(\"\(tag)\") = \(facts.hasTag(tag, group: nil))") }
        return parts.joined(separator: "; ")
    }
}

/// A rule-owned group ready to evaluate.
public struct CompiledTagGroup: Sendable {
    public var spec: TagGroupSpec
    public var rules: [CompiledTagRule]
}

/// grading.yaml and tags.yaml, type-checked as a whole: nothing is used unless every rule compiles.
public struct GradingRules: Sendable {
    public let grading: GradingConfig
    public let tags: TagRulesConfig
    public let schema: GradingSchema
    public let metrics: RuleMetricRegistry
    public let lifecycle: [(transition: LifecycleTransition, rule: CompiledRule)]
    /// Rule-owned groups only, in file order.
    public let ruleGroups: [CompiledTagGroup]
    /// Names of staff-owned groups: never touched.
    public let staffGroups: Set<String>
    /// Identifies the config a grade or tag came from (a hash of the files).
    public let version: String

    /// Compiles every rule; returns all problems found, positioned in their files.
    public static func compile(grading: GradingConfig, tags: TagRulesConfig, version: String) -> Result<GradingRules, GradingRuleIssues> {
        let schema = GradingSchema(kinds: grading.kinds, attributes: grading.attributes)
        var registry = RuleMetricRegistry()
        var issues: [GradingRuleIssue] = []
        func compile(_ text: RuleText, schema: RuleSchema) -> CompiledRule? {
            switch RuleCompiler.compile(text.text, schema: schema, metrics: &registry) {
            case .success(let rule):
                return rule
            case .failure(let errors):
                for diagnostic in errors.diagnostics {
                    let position = text.filePosition(line: diagnostic.location.line, column: diagnostic.location.column)
                    let hint = diagnostic.suggestion.map { "; \($0)" } ?? ""
                    issues.append(
                        GradingRuleIssue(file: text.file, line: position.line, column: position.column, message: diagnostic.message + hint))
                }
                return nil
            }
        }
        var lifecycle: [(LifecycleTransition, CompiledRule)] = []
        for transition in grading.lifecycle {
            if let rule = compile(transition.rule, schema: schema.contact) { lifecycle.append((transition, rule)) }
        }
        var groups: [CompiledTagGroup] = []
        var staffGroups: Set<String> = []
        for group in tags.groups {
            guard group.owner == .rules else {
                staffGroups.insert(group.name)
                continue
            }
            var compiled = CompiledTagGroup(spec: group, rules: [])
            for tag in group.tags {
                if let rule = compile(tag.rule, schema: schema.relation) {
                    compiled.rules.append(CompiledTagRule(id: "\(group.name)/\(tag.name)", spec: tag, rule: rule, schema: schema.relation))
                }
            }
            groups.append(compiled)
        }
        guard issues.isEmpty else { return .failure(GradingRuleIssues(issues: issues)) }
        return .success(
            GradingRules(
                grading: grading, tags: tags, schema: schema, metrics: registry, lifecycle: lifecycle, ruleGroups: groups,
                staffGroups: staffGroups, version: version))
    }

    /// The aggregate columns a run as of `asOf` needs.
    public func metricPlan(asOf: Int64) -> MetricPlan {
        MetricPlan(
            requests: metrics.requests, rfmWindowDays: grading.rfmWindowDays, asOf: asOf,
            calendar: BusinessCalendar(timeZone: grading.timeZone))
    }

    /// A stable short hash of config file contents, for `version`.
    public static func version(of contents: [String]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for text in contents {
            for byte in text.utf8 {
                hash ^= UInt64(byte)
                hash &*= 0x100_0000_01b3
            }
            hash ^= 0xff
            hash &*= 0x100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
