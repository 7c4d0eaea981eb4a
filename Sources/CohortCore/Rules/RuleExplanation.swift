/// One sub-expression of an explained rule and the value it had.
public struct RuleExplanationNode: Sendable, Codable, Hashable {
    /// The sub-expression as written (whitespace and comments collapsed to single spaces).
    public var text: String
    /// Its value for the explained relation; `.null` means "unknown".
    public var value: RuleValue
    /// Sub-expressions that depend on facts. Constants such as `5` or `["A", "B"]` are omitted
    /// because they explain nothing.
    public var children: [RuleExplanationNode]

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

    private mutating func child(_ node: RuleExprNode, _ children: inout [RuleExplanationNode]) -> RuleValue {
        let explained = visit(node)
        if !node.isConstant { children.append(explained) }
        return explained.value
    }

    mutating func visit(_ node: RuleExprNode) -> RuleExplanationNode {
        var children: [RuleExplanationNode] = []
        let value: RuleValue
        switch node.expr {
        case .literal(let v):
            value = v
        case .list(let items):
            var values: [RuleValue] = []
            for item in items { values.append(child(item, &children)) }
            value = .list(values)
        case .field(let slot, let name):
            value = facts.field(slot)
            record(name, value)
        case .metric(let slot, let request):
            value = facts.metric(slot)
            record(request.description, value)
        case .hasTag(let nameNode, let groupNode):
            let name = child(nameNode, &children)
            let group = groupNode.map { child($0, &children) }
            switch (name, group) {
            case (.string(let tag), nil):
                value = .bool(facts.hasTag(tag, group: nil))
                record("has_tag(\(name))", value)
            case (.string(let tag), .string(let groupName)?):
                value = .bool(facts.hasTag(tag, group: groupName))
                record("has_tag(\(name), group: \(group!))", value)
            default:
                value = .null
            }
        case .not(let x):
            value = RuleOperations.not(child(x, &children))
        case .negate(let x):
            value = RuleOperations.negate(child(x, &children))
        case .logical(let isAnd, let a, let b):
            let l = child(a, &children), r = child(b, &children)
            value = isAnd ? RuleOperations.and(l, r) : RuleOperations.or(l, r)
        case .compare(let op, let a, let b):
            let l = child(a, &children), r = child(b, &children)
            value = RuleOperations.compare(op, l, r)
            conditions.append("\(node.text)  (\(l) \(op.symbol) \(r): \(value))")
        case .nullCheck(let x, let isNull):
            let v = child(x, &children)
            value = RuleOperations.nullCheck(v, isNull: isNull)
            conditions.append("\(node.text)  (\(v) \(isNull ? "==" : "!=") null: \(value))")
        case .membership(let a, let b, let negated):
            let v = child(a, &children), list = child(b, &children)
            value = RuleOperations.membership(v, in: list, negated: negated)
            conditions.append("\(node.text)  (\(v): \(value))")
        case .between(let a, let b, let c):
            let v = child(a, &children), low = child(b, &children), high = child(c, &children)
            value = RuleOperations.between(v, low, high)
            conditions.append("\(node.text)  (\(v) between \(low) and \(high): \(value))")
        case .arithmetic(let op, let a, let b):
            let l = child(a, &children), r = child(b, &children)
            value = RuleOperations.arithmetic(op, l, r)
        case .call(let fn, let arguments):
            var values: [RuleValue] = []
            for argument in arguments { values.append(child(argument, &children)) }
            value = RuleOperations.call(fn, values)
        }
        return RuleExplanationNode(text: node.text, value: value, children: children)
    }
}
