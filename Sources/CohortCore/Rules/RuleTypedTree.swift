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
    case logical(isAnd: Bool, RuleExprNode, RuleExprNode)
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
        case .list(let items), .call(_, let items): isConstant = items.allSatisfy(\.isConstant)
        case .not(let x), .negate(let x), .nullCheck(let x, _): isConstant = x.isConstant
        case .logical(_, let a, let b), .compare(_, let a, let b), .membership(let a, let b, _), .arithmetic(_, let a, let b):
            isConstant = a.isConstant && b.isConstant
        case .between(let a, let b, let c): isConstant = a.isConstant && b.isConstant && c.isConstant
        }
    }
}
