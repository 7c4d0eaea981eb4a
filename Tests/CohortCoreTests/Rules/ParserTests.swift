import CohortCore
import Testing

@Suite("Parser")
struct ParserTests {
    @Test("'not' binds tighter than 'and'")
    func notBindsTighterThanAnd() throws {
        // (not false) and false = false; not (false and false) would be true.
        #expect(try evaluate("not false and false") == .bool(false))
    }

    @Test("'not' binds looser than comparisons")
    func notBindsLooserThanComparison() throws {
        // not (1 == 2); `(not 1) == 2` would not type-check.
        #expect(try evaluate("not 1 == 2") == .bool(true))
    }

    @Test("'and' binds tighter than 'or'")
    func andBindsTighterThanOr() throws {
        #expect(try evaluate("true or false and false") == .bool(true))
        #expect(try evaluate("false and true or true") == .bool(true))
        #expect(try evaluate("false and (true or true)") == .bool(false))
    }

    @Test("the tree of 'a or b and c' groups 'b and c'")
    func orAndTreeShape() throws {
        let rule = try compileRule("is_vip or r > 1 and f > 1")
        let explanation = rule.explain(ArrayFacts(fields: Array(repeating: .null, count: 12), metrics: []))
        #expect(explanation.root.children.map(\.text) == ["is_vip", "r > 1 and f > 1"])
    }

    @Test("arithmetic: * / % before + -, left-associative, unary minus tightest", arguments: [
        ("1 + 2 * 3", 7.0), ("(1 + 2) * 3", 9), ("10 - 4 - 3", 3), ("12 / 3 / 2", 2),
        ("-2 * 3", -6), ("- -2", 2), ("7 % 4 + 1", 4), ("2 + 10 % 4", 4), ("1 - -1", 2),
    ])
    func arithmeticPrecedence(source: String, expected: Double) throws {
        #expect(try evaluate(source) == .number(expected))
    }

    @Test("arithmetic binds tighter than comparison, comparison tighter than 'and'")
    func arithmeticBeforeComparison() throws {
        #expect(try evaluate("2 * 3 > 5 and 1 + 1 == 2") == .bool(true))
    }

    @Test("'between … and …' takes its 'and' before the logical 'and'")
    func betweenAnd() throws {
        #expect(try evaluate("5 between 1 and 10 and false") == .bool(false))
        #expect(try evaluate("5 between 1 and 10 or false") == .bool(true))
        #expect(try evaluate("3 between 1 + 1 and 2 * 2") == .bool(true))
        #expect(try evaluate("4 between 4 and 5") == .bool(true))
        #expect(try evaluate("5.5 between 4 and 5") == .bool(false))
    }

    @Test("'between' without 'and' is a syntax error")
    func betweenWithoutAnd() throws {
        #expect(try diagnostic("r between 1 or 2") == "1:13: expected 'and' in 'between … and …', found 'or'")
    }

    @Test("'not in' is one operator")
    func notIn() throws {
        #expect(try evaluate("3 not in [1, 2]") == .bool(true))
        #expect(try evaluate("2 not in [1, 2]") == .bool(false))
    }

    @Test("lists allow a trailing comma")
    func trailingComma() throws {
        #expect(try evaluate("2 in [1, 2,]") == .bool(true))
    }

    @Test("comparisons cannot be chained")
    func chainedComparison() throws {
        #expect(try diagnostic("1 < r < 3") == "1:7: comparisons cannot be chained; combine them with 'and', e.g. a < b and b < c")
    }

    @Test("infix string operators are rejected with the function form")
    func infixContains() throws {
        #expect(try diagnostic("lower(corp_name) contains \"bank\"")
            == "1:18: unexpected 'contains'; functions are called with parentheses: write contains(text, part)")
    }

    @Test("uppercase keywords are rejected with the lowercase spelling")
    func uppercaseKeyword() throws {
        #expect(try diagnostic("r > 1 AND f > 1") == "1:7: unexpected 'AND'; keywords are lowercase: write 'and'")
    }

    @Test("a missing ')' points at what came instead and at the '('")
    func unclosedParenthesis() throws {
        #expect(try diagnostic("(r > 1\n  and f > 1") == "2:12: expected ')' to close '(' at 1:1, found end of rule")
    }

    @Test("a stray ')' is reported")
    func strayParenthesis() throws {
        #expect(try diagnostic("r > 1)") == "1:6: unexpected ')'; this ')' has no matching '('")
    }

    @Test("an empty rule is an error")
    func emptyRule() throws {
        #expect(try diagnostic("  # nothing here\n") == "2:1: the rule is empty; write a condition such as orders(within: 90d) >= 5")
    }

    @Test("a missing operand is reported where the expression should start")
    func missingOperand() throws {
        #expect(try diagnostic("r > and f > 1") == "1:5: expected an expression, found 'and'")
    }

    @Test("two conditions without a connective suggest 'and' / 'or'")
    func missingConnective() throws {
        #expect(try diagnostic("r > 1 f > 1") == "1:7: unexpected 'f'; join conditions with 'and' or 'or'")
    }

    @Test("labelled and positional call arguments parse")
    func callArguments() throws {
        var registry = RuleMetricRegistry()
        let rule = try compileRule("count(kind: \"feedback\", within: 30d) >= 1 and has_tag(\"VIP\")", registry: &registry)
        #expect(registry.requests.map(\.description) == ["count(kind: \"feedback\", within: 30d)"])
        #expect(rule.referencedTags == ["VIP"])
    }
}
