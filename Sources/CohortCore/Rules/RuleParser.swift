enum RuleBinaryOperator: Sendable {
    case comparison(RuleComparison)
    case membership(negated: Bool)
    case arithmetic(RuleArithmetic)
}

/// Untyped syntax tree straight from the parser.
indirect enum RuleSyntaxKind: Sendable {
    case literal(RuleValue)
    case list([RuleSyntax])
    case name(String)
    case call(String, [RuleSyntaxArgument])
    case negate(RuleSyntax)
    case not(RuleSyntax)
    /// `a and b and c` is one node, so long generated chains don't deepen the tree.
    case logical(isAnd: Bool, [RuleSyntax])
    case binary(RuleBinaryOperator, RuleSyntax, RuleSyntax)
    case between(RuleSyntax, RuleSyntax, RuleSyntax)
}

struct RuleSyntax: Sendable {
    var kind: RuleSyntaxKind
    /// Token indices covered, used to recover the sub-expression's source text.
    var tokens: Range<Int>
    /// Where the expression starts.
    var location: RuleSourceLocation
    /// Where diagnostics about the operation itself point (the operator of a binary expression).
    var anchor: RuleSourceLocation
    /// Height of the tree below and including this node.
    var depth: Int

    var isNullLiteral: Bool {
        if case .literal(.null) = kind { return true }
        return false
    }
}

struct RuleSyntaxArgument: Sendable {
    var label: String?
    var location: RuleSourceLocation
    var value: RuleSyntax
}

/// Recursive-descent parser for the grammar in rules-grammar.md; stops at the first syntax error.
struct RuleParser {
    let tokens: [RuleToken]
    private var position = 0
    private var nesting = 0

    init(tokens: [RuleToken]) {
        self.tokens = tokens
    }

    private var current: RuleToken { tokens[position] }

    private func peekKind(_ offset: Int) -> RuleTokenKind {
        tokens[Swift.min(position + offset, tokens.count - 1)].kind
    }

    private mutating func advance() {
        if position < tokens.count - 1 { position += 1 }
    }

    mutating func parseRule() throws(RuleDiagnostic) -> RuleSyntax {
        if current.kind == .end {
            throw RuleDiagnostic(location: current.location, message: "the rule is empty", suggestion: "write a condition such as orders(within: 90d) >= 5")
        }
        let expression = try parseOr()
        guard current.kind == .end else { throw unexpected() }
        return expression
    }

    private func node(_ kind: RuleSyntaxKind, from start: Int, anchor: RuleSourceLocation? = nil) throws(RuleDiagnostic) -> RuleSyntax {
        let children: [RuleSyntax] = switch kind {
        case .literal, .name: []
        case .list(let items): items
        case .call(_, let arguments): arguments.map(\.value)
        case .negate(let x), .not(let x): [x]
        case .logical(_, let operands): operands
        case .binary(_, let a, let b): [a, b]
        case .between(let a, let b, let c): [a, b, c]
        }
        let depth = 1 + (children.map(\.depth).max() ?? 0)
        guard depth <= Self.maxDepth else { throw tooDeep(at: tokens[start].location) }
        return RuleSyntax(kind: kind, tokens: start..<position, location: tokens[start].location,
                          anchor: anchor ?? tokens[start].location, depth: depth)
    }

    /// Checking, evaluation and explanation all recurse over the tree, and rules may be evaluated
    /// on threads with small stacks; real rules nest a few levels, so a hard cap costs nothing.
    static let maxDepth = 32

    private func tooDeep(at location: RuleSourceLocation) -> RuleDiagnostic {
        RuleDiagnostic(location: location, message: "the rule is nested too deeply (more than \(Self.maxDepth) levels)",
                       suggestion: "split it into simpler rules, or use 'in [...]' instead of long 'or' chains")
    }

    /// Guards the parser's own recursion, which happens before any node (and its depth) exists.
    private mutating func enter() throws(RuleDiagnostic) {
        nesting += 1
        if nesting > Self.maxDepth { throw tooDeep(at: current.location) }
    }

    private mutating func parseOr() throws(RuleDiagnostic) -> RuleSyntax {
        try enter()
        defer { nesting -= 1 }
        let start = position
        let first = try parseAnd()
        guard current.kind == .keywordOr else { return first }
        let anchor = current.location
        var operands = [first]
        while current.kind == .keywordOr {
            advance()
            operands.append(try parseAnd())
        }
        return try node(.logical(isAnd: false, operands), from: start, anchor: anchor)
    }

    private mutating func parseAnd() throws(RuleDiagnostic) -> RuleSyntax {
        let start = position
        let first = try parseNot()
        guard current.kind == .keywordAnd else { return first }
        let anchor = current.location
        var operands = [first]
        while current.kind == .keywordAnd {
            advance()
            operands.append(try parseNot())
        }
        return try node(.logical(isAnd: true, operands), from: start, anchor: anchor)
    }

    private mutating func parseNot() throws(RuleDiagnostic) -> RuleSyntax {
        guard current.kind == .keywordNot else { return try parseComparison() }
        try enter()
        defer { nesting -= 1 }
        let start = position
        advance()
        let operand = try parseNot()
        return try node(.not(operand), from: start)
    }

    private static func comparison(_ kind: RuleTokenKind) -> RuleComparison? {
        switch kind {
        case .equal: .equal
        case .notEqual: .notEqual
        case .less: .less
        case .lessOrEqual: .lessOrEqual
        case .greater: .greater
        case .greaterOrEqual: .greaterOrEqual
        default: nil
        }
    }

    private var atComparison: Bool {
        Self.comparison(current.kind) != nil || current.kind == .keywordIn || current.kind == .keywordBetween
            || (current.kind == .keywordNot && peekKind(1) == .keywordIn)
    }

    private mutating func parseComparison() throws(RuleDiagnostic) -> RuleSyntax {
        let start = position
        let lhs = try parseAdditive()
        guard atComparison else { return lhs }
        let result = try parseComparisonOperator(lhs, from: start)
        if atComparison {
            throw RuleDiagnostic(location: current.location, message: "comparisons cannot be chained",
                                 suggestion: "combine them with 'and', e.g. a < b and b < c")
        }
        return result
    }

    // Split from parseComparison (and parsePrimary into helpers below) to keep the frames of
    // the recursive path small: unoptimized builds reserve stack for every case's locals.
    private mutating func parseComparisonOperator(_ lhs: RuleSyntax, from start: Int) throws(RuleDiagnostic) -> RuleSyntax {
        let anchor = current.location
        if let op = Self.comparison(current.kind) {
            advance()
            let rhs = try parseAdditive()
            return try node(.binary(.comparison(op), lhs, rhs), from: start, anchor: anchor)
        }
        if current.kind == .keywordBetween {
            advance()
            let low = try parseAdditive()
            guard current.kind == .keywordAnd else {
                throw unexpected(expected: "'and' in 'between … and …'")
            }
            advance()
            let high = try parseAdditive()
            return try node(.between(lhs, low, high), from: start, anchor: anchor)
        }
        let negated = current.kind == .keywordNot
        if negated { advance() }
        advance()
        let rhs = try parseAdditive()
        return try node(.binary(.membership(negated: negated), lhs, rhs), from: start, anchor: anchor)
    }

    private mutating func parseAdditive() throws(RuleDiagnostic) -> RuleSyntax {
        let start = position
        var lhs = try parseMultiplicative()
        while true {
            let op: RuleArithmetic
            switch current.kind {
            case .plus: op = .add
            case .minus: op = .subtract
            default: return lhs
            }
            let anchor = current.location
            advance()
            let rhs = try parseMultiplicative()
            lhs = try node(.binary(.arithmetic(op), lhs, rhs), from: start, anchor: anchor)
        }
    }

    private mutating func parseMultiplicative() throws(RuleDiagnostic) -> RuleSyntax {
        let start = position
        var lhs = try parseUnary()
        while true {
            let op: RuleArithmetic
            switch current.kind {
            case .star: op = .multiply
            case .slash: op = .divide
            case .percent: op = .remainder
            default: return lhs
            }
            let anchor = current.location
            advance()
            let rhs = try parseUnary()
            lhs = try node(.binary(.arithmetic(op), lhs, rhs), from: start, anchor: anchor)
        }
    }

    private mutating func parseUnary() throws(RuleDiagnostic) -> RuleSyntax {
        guard current.kind == .minus else { return try parsePrimary() }
        try enter()
        defer { nesting -= 1 }
        let start = position
        advance()
        let operand = try parseUnary()
        return try node(.negate(operand), from: start)
    }

    private mutating func parsePrimary() throws(RuleDiagnostic) -> RuleSyntax {
        switch current.kind {
        case .leftBracket: return try parseList()
        case .leftParen: return try parseParenthesized()
        case .identifier: return try parseNameOrCall()
        default: return try parseLiteral()
        }
    }

    private mutating func parseLiteral() throws(RuleDiagnostic) -> RuleSyntax {
        let literal: RuleValue
        switch current.kind {
        case .number(let x): literal = .number(x)
        case .duration(let x): literal = .duration(x)
        case .string(let s): literal = .string(s)
        case .keywordTrue: literal = .bool(true)
        case .keywordFalse: literal = .bool(false)
        case .keywordNull: literal = .null
        default: throw unexpected(expected: "an expression")
        }
        let start = position
        advance()
        return try node(.literal(literal), from: start)
    }

    private mutating func parseList() throws(RuleDiagnostic) -> RuleSyntax {
        let start = position
        advance()
        var elements: [RuleSyntax] = []
        while current.kind != .rightBracket {
            elements.append(try parseOr())
            if current.kind == .comma {
                advance()
            } else if current.kind != .rightBracket {
                throw unexpected(expected: "',' or ']' in list")
            }
        }
        advance()
        return try node(.list(elements), from: start)
    }

    private mutating func parseParenthesized() throws(RuleDiagnostic) -> RuleSyntax {
        let start = position
        let open = current.location
        advance()
        var inner = try parseOr()
        guard current.kind == .rightParen else {
            throw unexpected(expected: "')' to close '(' at \(open)")
        }
        advance()
        // Keep the parentheses in the node's text so explanations quote what the user wrote.
        inner.tokens = start..<position
        return inner
    }

    private mutating func parseNameOrCall() throws(RuleDiagnostic) -> RuleSyntax {
        let start = position
        guard case .identifier(let name) = current.kind else { throw unexpected(expected: "a name") }
        advance()
        guard current.kind == .leftParen else { return try node(.name(name), from: start) }
        advance()
        var arguments: [RuleSyntaxArgument] = []
        if current.kind != .rightParen {
            while true {
                let location = current.location
                var label: String?
                if case .identifier(let l) = current.kind, peekKind(1) == .colon {
                    label = l
                    advance()
                    advance()
                }
                arguments.append(RuleSyntaxArgument(label: label, location: location, value: try parseOr()))
                guard current.kind == .comma else { break }
                advance()
            }
        }
        guard current.kind == .rightParen else {
            throw unexpected(expected: "',' or ')' in the arguments of \(name)")
        }
        advance()
        return try node(.call(name, arguments), from: start)
    }

    /// A diagnostic for the current token, with a hint for the usual ways rules go wrong.
    private func unexpected(expected: String? = nil) -> RuleDiagnostic {
        let token = current
        let message = expected.map { "expected \($0), found \(token.kind.display)" } ?? "unexpected \(token.kind.display)"
        var suggestion: String?
        switch token.kind {
        case .identifier(let name):
            if RuleLexer.keywords[name.lowercased()] != nil {
                suggestion = "keywords are lowercase: write '\(name.lowercased())'"
            } else if let builtin = RuleBuiltin(rawValue: name) {
                suggestion = "functions are called with parentheses: write \(builtin.usage)"
            } else if position > 0 {
                suggestion = "join conditions with 'and' or 'or'"
            }
        case .string, .number, .duration, .keywordNot:
            if position > 0 && expected == nil { suggestion = "join conditions with 'and' or 'or'" }
        case .rightParen where expected == nil:
            suggestion = "this ')' has no matching '('"
        default:
            break
        }
        return RuleDiagnostic(location: token.location, message: message, suggestion: suggestion)
    }
}
