/// The evaluation form of a rule: names are slots, constants are folded, constant lists are
/// hashed sets, and comparisons against a numeric constant have their own case so the hot path
/// is a couple of switches with no allocation.
indirect enum RuleNode: Sendable {
    case constant(RuleValue)
    case field(Int)
    case metric(Int)
    case hasTag(String, group: String?)
    case hasTagDynamic(RuleNode, group: RuleNode?)
    case not(RuleNode)
    case and(RuleNode, RuleNode)
    case or(RuleNode, RuleNode)
    /// `and` over three or more operands.
    case all([RuleNode])
    /// `or` over three or more operands.
    case any([RuleNode])
    case compare(RuleComparison, RuleNode, RuleNode)
    /// Right operand is a constant `.number` or `.duration`.
    case compareConstant(RuleComparison, RuleNode, RuleValue)
    case nullCheck(RuleNode, isNull: Bool)
    case inSet(RuleNode, Set<RuleValue>, negated: Bool)
    case inList(RuleNode, RuleNode, negated: Bool)
    case between(RuleNode, RuleNode, RuleNode)
    /// Bounds are constants of the operand's type.
    case betweenConstant(RuleNode, RuleValue, RuleValue)
    case arithmetic(RuleArithmetic, RuleNode, RuleNode)
    case negate(RuleNode)
    case call1(RuleBuiltin, RuleNode)
    case call2(RuleBuiltin, RuleNode, RuleNode)
    case list([RuleNode])

    static func lower(_ node: RuleExprNode) -> RuleNode {
        if node.isConstant {
            return .constant(lowerStructurally(node).evaluate(RuleNoFacts()))
        }
        return lowerStructurally(node)
    }

    private static func lowerStructurally(_ node: RuleExprNode) -> RuleNode {
        switch node.expr {
        case .literal(let v):
            return .constant(v)
        case .list(let items):
            let lowered = items.map(lower)
            let constants = lowered.compactMap(\.constantValue)
            return constants.count == lowered.count ? .constant(.list(constants)) : .list(lowered)
        case .field(let slot, _):
            return .field(slot)
        case .metric(let slot, _):
            return .metric(slot)
        case .hasTag(let name, let group):
            let n = lower(name), g = group.map(lower)
            if case .string(let tag)? = n.constantValue {
                if g == nil { return .hasTag(tag, group: nil) }
                if case .string(let groupName)? = g?.constantValue { return .hasTag(tag, group: groupName) }
            }
            return .hasTagDynamic(n, group: g)
        case .not(let x):
            return .not(lower(x))
        case .negate(let x):
            return .negate(lower(x))
        case .logical(let isAnd, let operands):
            let lowered = operands.map(lower)
            if lowered.count == 2 {
                return isAnd ? .and(lowered[0], lowered[1]) : .or(lowered[0], lowered[1])
            }
            return isAnd ? .all(lowered) : .any(lowered)
        case .compare(let op, let a, let b):
            let l = lower(a), r = lower(b)
            if let c = r.constantValue, c.isNumeric { return .compareConstant(op, l, c) }
            if let c = l.constantValue, c.isNumeric { return .compareConstant(op.swapped, r, c) }
            return .compare(op, l, r)
        case .nullCheck(let x, let isNull):
            return .nullCheck(lower(x), isNull: isNull)
        case .membership(let a, let b, let negated):
            let l = lower(a), r = lower(b)
            if case .list(let items)? = r.constantValue {
                return .inSet(l, Set(items), negated: negated)
            }
            return .inList(l, r, negated: negated)
        case .between(let a, let b, let c):
            let v = lower(a), low = lower(b), high = lower(c)
            if let lo = low.constantValue, let hi = high.constantValue { return .betweenConstant(v, lo, hi) }
            return .between(v, low, high)
        case .arithmetic(let op, let a, let b):
            return .arithmetic(op, lower(a), lower(b))
        case .call(let fn, let arguments):
            let lowered = arguments.map(lower)
            return lowered.count == 1 ? .call1(fn, lowered[0]) : .call2(fn, lowered[0], lowered[1])
        }
    }

    var constantValue: RuleValue? {
        if case .constant(let v) = self { return v }
        return nil
    }

    func evaluate<F: RuleFacts>(_ facts: F) -> RuleValue {
        switch self {
        case .constant(let v):
            return v
        case .field(let slot):
            return facts.field(slot)
        case .metric(let slot):
            return facts.metric(slot)
        case .hasTag(let name, let group):
            return .bool(facts.hasTag(name, group: group))
        case .hasTagDynamic(let name, let group):
            guard case .string(let tag) = name.evaluate(facts) else { return .null }
            guard let group else { return .bool(facts.hasTag(tag, group: nil)) }
            guard case .string(let groupName) = group.evaluate(facts) else { return .null }
            return .bool(facts.hasTag(tag, group: groupName))
        case .not(let x):
            return RuleOperations.not(x.evaluate(facts))
        case .and(let a, let b):
            let l = a.evaluate(facts)
            if case .bool(false) = l { return l }
            return RuleOperations.and(l, b.evaluate(facts))
        case .or(let a, let b):
            let l = a.evaluate(facts)
            if case .bool(true) = l { return l }
            return RuleOperations.or(l, b.evaluate(facts))
        case .all(let operands):
            var result = RuleValue.bool(true)
            for operand in operands {
                let v = operand.evaluate(facts)
                if case .bool(true) = v { continue }
                if case .bool(false) = v { return v }
                result = .null
            }
            return result
        case .any(let operands):
            var result = RuleValue.bool(false)
            for operand in operands {
                let v = operand.evaluate(facts)
                if case .bool(false) = v { continue }
                if case .bool(true) = v { return v }
                result = .null
            }
            return result
        case .compare(let op, let a, let b):
            return RuleOperations.compare(op, a.evaluate(facts), b.evaluate(facts))
        case .compareConstant(let op, let a, let c):
            switch (a.evaluate(facts), c) {
            case (.number(let x), .number(let y)), (.duration(let x), .duration(let y)):
                return .bool(op.holds(x, y))
            default:
                return .null
            }
        case .nullCheck(let x, let isNull):
            return RuleOperations.nullCheck(x.evaluate(facts), isNull: isNull)
        case .inSet(let x, let set, let negated):
            let v = x.evaluate(facts)
            if v.isNull { return .null }
            return .bool(set.contains(v) != negated)
        case .inList(let x, let list, let negated):
            return RuleOperations.membership(x.evaluate(facts), in: list.evaluate(facts), negated: negated)
        case .between(let x, let low, let high):
            return RuleOperations.between(x.evaluate(facts), low.evaluate(facts), high.evaluate(facts))
        case .betweenConstant(let x, let low, let high):
            let v = x.evaluate(facts)
            switch (v, low, high) {
            case (.number(let n), .number(let lo), .number(let hi)), (.duration(let n), .duration(let lo), .duration(let hi)):
                return .bool(n >= lo && n <= hi)
            default:
                return RuleOperations.between(v, low, high)
            }
        case .arithmetic(let op, let a, let b):
            return RuleOperations.arithmetic(op, a.evaluate(facts), b.evaluate(facts))
        case .negate(let x):
            return RuleOperations.negate(x.evaluate(facts))
        case .call1(let fn, let a):
            return RuleOperations.call(fn, a.evaluate(facts))
        case .call2(let fn, let a, let b):
            return RuleOperations.call(fn, a.evaluate(facts), b.evaluate(facts))
        case .list(let items):
            return .list(items.map { $0.evaluate(facts) })
        }
    }
}

extension RuleValue {
    var isNumeric: Bool {
        switch self {
        case .number, .duration: true
        default: false
        }
    }
}

/// Facts for constant folding; never consulted because folded nodes read no facts.
struct RuleNoFacts: RuleFacts {
    func field(_ slot: Int) -> RuleValue { .null }
    func metric(_ slot: Int) -> RuleValue { .null }
    func hasTag(_ name: String, group: String?) -> Bool { false }
}
