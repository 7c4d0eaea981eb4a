/// What a rule can read about one (staff, contact) relation.
///
/// Slots are assigned at compile time: field slots by ``RuleSchema/addField(_:type:nullable:doc:)``,
/// metric slots by the ``RuleMetricRegistry`` the rules were compiled with. A value whose kind
/// does not match the declared type is treated as null.
public protocol RuleFacts {
    /// The value of the field with this slot; `.null` when unknown.
    func field(_ slot: Int) -> RuleValue
    /// The value of the metric request with this slot (see ``RuleMetricRegistry/requests``).
    func metric(_ slot: Int) -> RuleValue
    /// Whether the contact carries the tag, optionally only within one tag group.
    func hasTag(_ name: String, group: String?) -> Bool
}

/// A checked, ready-to-evaluate rule or expression.
public struct CompiledRule: Sendable {
    // One reference instead of seven fields: callers keep rules in arrays and copy them per
    // evaluation, and each copy of a multi-field struct costs a retain/release per field.
    private let program: RuleProgram

    init(program: RuleProgram) {
        self.program = program
    }

    /// The source text the rule was compiled from.
    public var source: String { program.source }
    /// The expression's type; `.bool` for rules compiled with ``RuleCompiler/compile(_:schema:metrics:)``.
    public var type: RuleType { program.type }
    /// Distinct field names read, in source order.
    public var referencedFields: [String] { program.referencedFields }
    /// Distinct tag names passed to `has_tag` as constants, in source order.
    public var referencedTags: [String] { program.referencedTags }
    /// Distinct metric slots read, in source order.
    public var metricSlots: [Int] { program.metricSlots }
    /// The requests behind ``metricSlots``, in the same order.
    public var metricRequests: [RuleMetricRequest] { program.metricRequests }

    /// Whether the rule matches; an unknown (null) outcome does not match.
    public func evaluate<F: RuleFacts>(_ facts: F) -> Bool {
        if case .bool(true) = program.root.evaluate(facts) { return true }
        return false
    }

    /// The expression's raw value, including `.null` for "unknown".
    public func value<F: RuleFacts>(_ facts: F) -> RuleValue {
        program.root.evaluate(facts)
    }

    /// Evaluates every sub-expression (no short-circuit) and reports facts, conditions and the value tree.
    public func explain<F: RuleFacts>(_ facts: F) -> RuleExplanation {
        var explainer = RuleExplainer(facts: facts)
        let root = explainer.visit(program.tree)
        let matched: Bool = if case .bool(true) = root.value { true } else { false }
        return RuleExplanation(source: program.source, result: matched, root: root,
                               facts: explainer.factLines, conditions: explainer.conditions)
    }
}

final class RuleProgram: Sendable {
    let source: String
    let type: RuleType
    let referencedFields: [String]
    let referencedTags: [String]
    let metricSlots: [Int]
    let metricRequests: [RuleMetricRequest]
    let root: RuleNode
    let tree: RuleExprNode

    init(source: String, type: RuleType, referencedFields: [String], referencedTags: [String], metricSlots: [Int],
         metricRequests: [RuleMetricRequest], root: RuleNode, tree: RuleExprNode) {
        self.source = source
        self.type = type
        self.referencedFields = referencedFields
        self.referencedTags = referencedTags
        self.metricSlots = metricSlots
        self.metricRequests = metricRequests
        self.root = root
        self.tree = tree
    }
}

/// Compiles rule source text against a schema.
public enum RuleCompiler {
    /// Compiles a rule, which must be a boolean condition.
    ///
    /// Metric requests get slots in `metrics` only if the rule compiles, so a registry shared by
    /// all rules lists exactly what the caller must compute per contact.
    public static func compile(_ source: String, schema: RuleSchema, metrics: inout RuleMetricRegistry) -> Result<CompiledRule, RuleCompileErrors> {
        compile(source, schema: schema, metrics: &metrics, expecting: .bool, isRule: true)
    }

    /// Compiles an expression of any type (or of `expecting`, when given), e.g. `clv * 0.5`
    /// for a score column. Evaluate it with ``CompiledRule/value(_:)``.
    public static func compileExpression(_ source: String, schema: RuleSchema, metrics: inout RuleMetricRegistry, expecting: RuleType? = nil) -> Result<CompiledRule, RuleCompileErrors> {
        compile(source, schema: schema, metrics: &metrics, expecting: expecting, isRule: false)
    }

    private static func compile(_ source: String, schema: RuleSchema, metrics: inout RuleMetricRegistry, expecting: RuleType?, isRule: Bool) -> Result<CompiledRule, RuleCompileErrors> {
        let chars = Array(source)
        var lexer = RuleLexer(chars)
        let tokens: [RuleToken]
        do {
            tokens = try lexer.tokenize()
        } catch {
            return .failure(RuleCompileErrors([error]))
        }
        var parser = RuleParser(tokens: tokens)
        let syntax: RuleSyntax
        do {
            syntax = try parser.parseRule()
        } catch {
            return .failure(RuleCompileErrors([error]))
        }

        var checker = RuleChecker(schema: schema, metrics: metrics, tokens: tokens, chars: chars)
        let typed = checker.check(syntax)
        if let typed, let expecting, !expecting.accepts(typed.type) {
            let message = isRule
                ? "a rule must be a condition (true or false), but this is \(typed.type.withArticle)"
                : "expected \(expecting.withArticle), but this is \(typed.type.withArticle)"
            checker.error(syntax.location, message, isRule ? RuleChecker.conditionHint(typed) : nil)
        }
        guard let typed, checker.diagnostics.isEmpty else {
            let ordered = checker.diagnostics.enumerated()
                .sorted { ($0.element.location, $0.offset) < ($1.element.location, $1.offset) }
                .map(\.element)
            return .failure(RuleCompileErrors(ordered))
        }
        metrics = checker.metrics
        return .success(CompiledRule(program: RuleProgram(
            source: source,
            type: typed.type,
            referencedFields: checker.referencedFields,
            referencedTags: checker.referencedTags,
            metricSlots: checker.metricSlots,
            metricRequests: checker.metricSlots.map { checker.metrics.requests[$0] },
            root: RuleNode.lower(typed),
            tree: typed)))
    }
}
