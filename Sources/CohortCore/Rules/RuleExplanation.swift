/// One sub-expression of an explained rule and the value it had.
public struct RuleExplanationNode: Sendable, Codable, Hashable {
    /// The sub-expression as written (whitespace and comments collapsed to single spaces).
    public var text: String
    /// Its value for the explained relation; `.null` means "unknown".
    public var value: RuleValue
    /// Sub-expressions that depend on facts. Constants such as `5` or `["A", "B"]` are omitted
    /// because they explain nothing.
    public var children: [RuleExplanationNode]

    /// A node; explanations are normally built by ``CompiledRule/explain(_:)``.
    public init(text: String, value: RuleValue, children: [RuleExplanationNode] = []) {
        self.text = text
        self.value = value
        self.children = children
    }
}

/// Why a rule did or did not match one relation.
///
/// Every sub-expression is evaluated, even where evaluation would short-circuit, so
/// `facts` lists everything the rule looks at.
public struct RuleExplanation: Sendable, Codable, Hashable, CustomStringConvertible {
    /// The rule's source.
    public var source: String
    /// Whether the rule matched; a null (unknown) outcome counts as false.
    public var result: Bool
    /// The whole expression; `root.value` keeps the raw three-valued outcome.
    public var root: RuleExplanationNode
    /// Each distinct field, metric and tag read, in source order, e.g. `orders(within: 90d) = 6`,
    /// `has_tag("VIP") = false`, `rfm = null`.
    public var facts: [String]
    /// Each comparison with its operand values and outcome, in source order,
    /// e.g. `orders(within: 90d) >= 5  (6 >= 5: true)`.
    public var conditions: [String]

    /// An explanation; normally built by ``CompiledRule/explain(_:)``.
    public init(source: String, result: Bool, root: RuleExplanationNode, facts: [String], conditions: [String]) {
        self.source = source
        self.result = result
        self.root = root
        self.facts = facts
        self.conditions = conditions
    }

    /// The result followed by the expression tree, one node per line, children indented.
    public var description: String {
        var lines = ["result: \(result)"]
        func render(_ node: RuleExplanationNode, depth: Int) {
            lines.append(String(repeating: "  ", count: depth) + "\(node.text) → \(node.value)")
            for child in node.children { render(child, depth: depth + 1) }
        }
        render(root, depth: 0)
        return lines.joined(separator: "\n")
    }
}

/// Walks the typed tree without short-circuiting, recording facts and conditions.
/// Values come from ``RuleOperations``, the same code the fast evaluator uses.
struct RuleExplainer<F: RuleFacts> {
    let facts: F
    var factLines: [String] = []
    var seenFacts: Set<String> = []
    var conditions: [String] = []

    init(facts: F) {
        self.facts = facts
    }

    private mutating func record(_ name: String, _ value: RuleValue) {
        if seenFacts.insert(name).inserted { factLines.append("\(name) = \(value)") }
    }

    mutating func visit(_ node: RuleExprNode) -> RuleExplanationNode {
        var children: [RuleExplanationNode] = []
        var values: [RuleValue] = []
        for operand in node.expr.operands {
            let explained = visit(operand)
            if !operand.isConstant { children.append(explained) }
            values.append(explained.value)
        }
        return RuleExplanationNode(text: node.text, value: combine(node, values), children: children)
    }

    /// The node's value from its operands' values (in ``RuleExpr/operands`` order), recording
    /// facts and conditions on the way. Kept apart from `visit` so the recursive frame stays small.
    private mutating func combine(_ node: RuleExprNode, _ values: [RuleValue]) -> RuleValue {
        switch node.expr {
        case .literal(let v):
            return v
        case .list:
            return .list(values)
        case .field(let slot, let name):
            let value = facts.field(slot)
            record(name, value)
            return value
        case .metric(let slot, let request):
            let value = facts.metric(slot)
            record(request.description, value)
            return value
        case .hasTag:
            return hasTag(values)
        case .not:
            return RuleOperations.not(values[0])
        case .negate:
            return RuleOperations.negate(values[0])
        case .logical(let isAnd, _):
            return values.dropFirst().reduce(values[0]) { isAnd ? RuleOperations.and($0, $1) : RuleOperations.or($0, $1) }
        case .compare(let op, _, _):
            let value = RuleOperations.compare(op, values[0], values[1])
            conditions.append("\(node.text)  (\(values[0]) \(op.symbol) \(values[1]): \(value))")
            return value
        case .nullCheck(_, let isNull):
            let value = RuleOperations.nullCheck(values[0], isNull: isNull)
            conditions.append("\(node.text)  (\(values[0]) \(isNull ? "==" : "!=") null: \(value))")
            return value
        case .membership(_, _, let negated):
            let value = RuleOperations.membership(values[0], in: values[1], negated: negated)
            conditions.append("\(node.text)  (\(values[0]): \(value))")
            return value
        case .between:
            let value = RuleOperations.between(values[0], values[1], values[2])
            conditions.append("\(node.text)  (\(values[0]) between \(values[1]) and \(values[2]): \(value))")
            return value
        case .arithmetic(let op, _, _):
            return RuleOperations.arithmetic(op, values[0], values[1])
        case .call(let fn, _):
            return RuleOperations.call(fn, values)
        }
    }

    private mutating func hasTag(_ values: [RuleValue]) -> RuleValue {
        guard case .string(let tag) = values[0] else { return .null }
        if values.count == 1 {
            let value = RuleValue.bool(facts.hasTag(tag, group: nil))
            record("has_tag(\(values[0]))", value)
            return value
        }
        guard case .string(let group) = values[1] else { return .null }
        let value = RuleValue.bool(facts.hasTag(tag, group: group))
        record("has_tag(\(values[0]), group: \(values[1]))", value)
        return value
    }
}
