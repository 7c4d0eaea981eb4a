/// Type-checked tree with names resolved to slots. Kept in ``CompiledRule`` for explanations;
/// evaluation uses the leaner ``RuleNode`` lowered from it.
indirect enum RuleExpr: Sendable {
    case literal(RuleValue)
    case list([RuleExprNode])
    case field(slot: Int, name: String)
    case metric(slot: Int, request: RuleMetricRequest)
    case hasTag(name: RuleExprNode, group: RuleExprNode?)
    case not(RuleExprNode)
    case negate(RuleExprNode)
    case logical(isAnd: Bool, [RuleExprNode])
    case compare(RuleComparison, RuleExprNode, RuleExprNode)
    case nullCheck(RuleExprNode, isNull: Bool)
    case membership(RuleExprNode, RuleExprNode, negated: Bool)
    case between(RuleExprNode, RuleExprNode, RuleExprNode)
    case arithmetic(RuleArithmetic, RuleExprNode, RuleExprNode)
    case call(RuleBuiltin, [RuleExprNode])
}

struct RuleExprNode: Sendable {
    var expr: RuleExpr
    var type: RuleType
    /// The sub-expression's source text, whitespace and comments collapsed to single spaces.
    var text: String
    /// True when the value does not depend on facts, so it can be folded and left out of explanations.
    var isConstant: Bool

    init(_ expr: RuleExpr, type: RuleType, text: String) {
        self.expr = expr
        self.type = type
        self.text = text
        switch expr {
        case .literal: isConstant = true
        case .field, .metric, .hasTag: isConstant = false
        default: isConstant = expr.operands.allSatisfy(\.isConstant)
        }
    }
}

extension RuleExpr {
    /// Sub-expressions in source order.
    var operands: [RuleExprNode] {
        switch self {
        case .literal, .field, .metric: []
        case .list(let items), .logical(_, let items), .call(_, let items): items
        case .hasTag(let name, let group): [name] + (group.map { [$0] } ?? [])
        case .not(let x), .negate(let x), .nullCheck(let x, _): [x]
        case .compare(_, let a, let b), .membership(let a, let b, _), .arithmetic(_, let a, let b): [a, b]
        case .between(let a, let b, let c): [a, b, c]
        }
    }
}
