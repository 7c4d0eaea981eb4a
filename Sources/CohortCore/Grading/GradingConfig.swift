import Foundation

/// A rule as the operator wrote it, with where it was written, so a compile error in the
/// rule can be reported at the file, line and column of the mistake.
public struct RuleText: Sendable, Hashable {
    public var text: String
    public var file: String
    /// Position of the rule's first character in the file (1-based).
    public var line: Int
    public var column: Int
    /// True for YAML block scalars (`|`), whose lines each start at `column` on the following lines.
    public var isBlock: Bool

    public init(_ text: String, file: String = "", line: Int = 1, column: Int = 1, isBlock: Bool = false) {
        self.text = text
        self.file = file
        self.line = line
        self.column = column
        self.isBlock = isBlock
    }

    /// The file position of a position inside the rule text.
    public func filePosition(line ruleLine: Int, column ruleColumn: Int) -> (line: Int, column: Int) {
        if isBlock { return (line + ruleLine - 1, column + ruleColumn - 1) }
        return ruleLine == 1 ? (line, column + ruleColumn - 1) : (line + ruleLine - 1, ruleColumn)
    }
}

/// Lifecycle stages, in the order a customer normally moves through them.
public enum LifecycleStage: String, Sendable, Hashable, Codable, CaseIterable {
    case potential, intent, customer, loyal, churned
}

/// One lifecycle transition: from any of `from` to `to` when the rule is true.
public struct LifecycleTransition: Sendable, Hashable {
    public var to: LifecycleStage
    public var from: [LifecycleStage]
    public var rule: RuleText

    public init(to: LifecycleStage, from: [LifecycleStage], rule: RuleText) {
        self.to = to
        self.from = from
        self.rule = rule
    }
}

/// When the full re-grade runs by itself.
public struct GradingSchedule: Sendable, Hashable {
    /// Local time of day (minutes after midnight) of the daily full re-grade; nil: on demand only.
    public var dailyAtMinute: Int?

    public init(dailyAtMinute: Int? = 3 * 60) {
        self.dailyAtMinute = dailyAtMinute
    }
}

/// Config/grading.yaml: how contacts are graded.
public struct GradingConfig: Sendable {
    public var timeZone: TimeZone
    public var rfmWindowDays: Int
    public var rfm: RFMConfig
    /// Interaction kinds beyond the built-in ones (order, message, service, feedback).
    public var customKinds: [String]
    /// Contact attributes rules may read, with their types (the latest value of the attribute
    /// on any of the contact's interactions).
    public var attributes: [(name: String, type: RuleType)]
    public var lifecycle: [LifecycleTransition]
    public var schedule: GradingSchedule

    public init(
        timeZone: TimeZone = TimeZone(identifier: "Asia/Shanghai")!, rfmWindowDays: Int = 365,
        rfm: RFMConfig = RFMConfig(clv: CLVConfig(lifetimeYears: 3, margin: 0.3, windowDays: 365)),
        customKinds: [String] = [], attributes: [(name: String, type: RuleType)] = [], lifecycle: [LifecycleTransition] = [],
        schedule: GradingSchedule = GradingSchedule()
    ) {
        self.timeZone = timeZone
        self.rfmWindowDays = rfmWindowDays
        self.rfm = rfm
        self.customKinds = customKinds
        self.attributes = attributes
        self.lifecycle = lifecycle
        self.schedule = schedule
    }

    public var kinds: [String] { Interaction.builtInKinds + customKinds }
}

/// Who may change the tags of a group.
public enum TagGroupOwner: String, Sendable, Hashable, CaseIterable {
    /// Cohort adds and removes the group's tags by its rules.
    case rules
    /// Staff manage the group; Cohort never touches it.
    case staff
}

/// One tag of a rule-owned group.
public struct TagRuleSpec: Sendable, Hashable {
    public var name: String
    public var rule: RuleText
    /// Seconds the tag stays after its rule turns true; nil: as long as the rule holds.
    public var ttl: Int64?

    public init(name: String, rule: RuleText, ttl: Int64? = nil) {
        self.name = name
        self.rule = rule
        self.ttl = ttl
    }
}

/// A tag group of Config/tags.yaml.
public struct TagGroupSpec: Sendable, Hashable {
    public var name: String
    public var owner: TagGroupOwner
    /// At most one tag of the group per relation: the first whose rule is true.
    public var exclusive: Bool
    public var tags: [TagRuleSpec]

    public init(name: String, owner: TagGroupOwner, exclusive: Bool = false, tags: [TagRuleSpec] = []) {
        self.name = name
        self.owner = owner
        self.exclusive = exclusive
        self.tags = tags
    }
}

/// Config/tags.yaml.
public struct TagRulesConfig: Sendable, Hashable {
    public var groups: [TagGroupSpec]

    public init(groups: [TagGroupSpec] = []) {
        self.groups = groups
    }
}
