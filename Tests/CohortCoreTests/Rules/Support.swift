import CohortCore
import Testing

/// Facts backed by plain arrays, the shape the grading engine uses: slot-indexed, no dictionaries.
struct ArrayFacts: RuleFacts {
    var fields: [RuleValue]
    var metrics: [RuleValue]
    var tags: Set<String> = []
    /// "group/name" pairs.
    var groupedTags: Set<String> = []

    func field(_ slot: Int) -> RuleValue { fields[slot] }
    func metric(_ slot: Int) -> RuleValue { slot < metrics.count ? metrics[slot] : .null }
    func hasTag(_ name: String, group: String?) -> Bool {
        if let group { return groupedTags.contains("\(group)/\(name)") }
        return tags.contains(name)
    }
}

enum Fixture {
    static let interactionKinds = ["feedback", "complaint", "visit", "call"]

    static let schema: RuleSchema = {
        var schema = RuleSchema()
        schema.addField("days_since_added", type: .number, nullable: false, doc: "Days since the contact was added")
        schema.addField("add_way", type: .number, nullable: false, doc: "WeCom add_way code")
        schema.addField("corp_name", type: .string, nullable: true, doc: "Contact's company")
        schema.addField("rfm", type: .string, nullable: true, doc: "RFM segment")
        schema.addField("r", type: .number, nullable: true, doc: "Recency score 1-5")
        schema.addField("f", type: .number, nullable: true, doc: "Frequency score 1-5")
        schema.addField("abc", type: .string, nullable: true, doc: "ABC class")
        schema.addField("clv", type: .number, nullable: true, doc: "Customer lifetime value")
        schema.addField("since_last_order", type: .duration, nullable: true, doc: "Time since last order")
        schema.addField("is_vip", type: .bool, nullable: true, doc: "VIP flag")
        schema.addField("opted_in", type: .bool, nullable: true, doc: "Marketing consent")
        schema.addField("labels", type: .list(.string), nullable: false, doc: "Free-form labels")
        let window = RuleMetricParameter(label: "within", type: .duration)
        schema.addMetric("orders", parameters: [window], result: .number, nullable: false, doc: "Orders placed")
        schema.addMetric("monetary", parameters: [window], result: .number, nullable: false, doc: "Amount spent")
        schema.addMetric("avg_order", parameters: [window], result: .number, nullable: true, doc: "Average order value")
        schema.addMetric("count", parameters: [
            RuleMetricParameter(label: "kind", type: .string, required: true, allowed: interactionKinds, allowedName: "interaction kind"),
            window,
        ], result: .number, nullable: false, doc: "Interactions of one kind")
        return schema
    }()

    /// Facts given by name; metrics are keyed by their request description, e.g. `orders(within: 90d)`.
    static func facts(
        fields: [String: RuleValue] = [:],
        metrics: [String: RuleValue] = [:],
        tags: Set<String> = [],
        registry: RuleMetricRegistry
    ) -> ArrayFacts {
        ArrayFacts(
            fields: schema.fields.map { fields[$0.name] ?? .null },
            metrics: registry.requests.map { metrics[$0.description] ?? .null },
            tags: tags)
    }
}

func compileRule(_ source: String, registry: inout RuleMetricRegistry) throws -> CompiledRule {
    try RuleCompiler.compile(source, schema: Fixture.schema, metrics: &registry).get()
}

func compileRule(_ source: String) throws -> CompiledRule {
    var registry = RuleMetricRegistry()
    return try compileRule(source, registry: &registry)
}

/// Diagnostics of a rule that is expected not to compile; empty if it compiles.
func diagnostics(_ source: String) -> [RuleDiagnostic] {
    var registry = RuleMetricRegistry()
    switch RuleCompiler.compile(source, schema: Fixture.schema, metrics: &registry) {
    case .success: return []
    case .failure(let errors): return errors.diagnostics
    }
}

/// The one diagnostic of a rule, rendered as `line:column: message; suggestion`.
func diagnostic(_ source: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
    let found = diagnostics(source)
    try #require(found.count == 1, "expected one diagnostic, got \(found)", sourceLocation: sourceLocation)
    return found[0].description
}

func expressionDiagnostic(_ source: String, expecting: RuleType? = nil) throws -> String {
    var registry = RuleMetricRegistry()
    let result = RuleCompiler.compileExpression(source, schema: Fixture.schema, metrics: &registry, expecting: expecting)
    guard case .failure(let errors) = result else {
        Issue.record("expected \(source) not to compile")
        return ""
    }
    try #require(errors.diagnostics.count == 1, "expected one diagnostic, got \(errors)")
    return errors.diagnostics[0].description
}

/// Compiles and evaluates an expression of any type.
func evaluate(
    _ source: String,
    fields: [String: RuleValue] = [:],
    metrics: [String: RuleValue] = [:],
    tags: Set<String> = []
) throws -> RuleValue {
    var registry = RuleMetricRegistry()
    let compiled = try RuleCompiler.compileExpression(source, schema: Fixture.schema, metrics: &registry).get()
    return compiled.value(Fixture.facts(fields: fields, metrics: metrics, tags: tags, registry: registry))
}
