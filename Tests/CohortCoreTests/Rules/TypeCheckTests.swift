import CohortCore
import Testing

@Suite("Type checker")
struct TypeCheckTests {
    @Test("the example rules from the spec compile", arguments: [
        "orders(within: 90d) >= 5 and monetary(within: 365d) >= 2000",
        "rfm in [\"At Risk\", \"Can't Lose Them\"] and not has_tag(\"免打扰\")",
        "contains(lower(corp_name), \"bank\")",
        "r between 4 and 5 or (f >= 3 and abc == \"A\")",
        "days_since_added > 30 and add_way in [1, 2]",
        "count(kind: \"feedback\", within: 30d) >= 1",
        "clv * 0.5 > 1000",
        "rfm == null",
        "since_last_order > 30d and days(since_last_order) < 90",
        "\"VIP\" in labels and length(labels) > 0",
        "add_way in []",
        "has_tag(\"金牌\", group: \"等级\") or has_tag(name: \"VIP\")",
        "orders() > 10",
        "[[], [1]] != [[2]]",
    ])
    func examplesCompile(source: String) {
        #expect(diagnostics(source) == [])
    }

    @Test("an unknown field suggests the closest name")
    func unknownField() throws {
        #expect(try diagnostic("ordrs >= 5") == "1:1: unknown field 'ordrs'; did you mean 'orders'?")
        #expect(try diagnostic("r > 1 and days_since_add > 3") == "1:11: unknown field 'days_since_add'; did you mean 'days_since_added'?")
    }

    @Test("an unknown field with no close match has no suggestion")
    func unknownFieldNoSuggestion() throws {
        let found = diagnostics("zzzzzz > 1")
        #expect(found == [RuleDiagnostic(location: RuleSourceLocation(line: 1, column: 1), message: "unknown field 'zzzzzz'")])
    }

    @Test("a metric used bare says how to call it")
    func bareMetric() throws {
        #expect(try diagnostic("orders >= 5") == "1:1: 'orders' is a function; write orders(within: 90d)")
        #expect(try diagnostic("count > 1") == "1:1: 'count' is a function; write count(kind: \"feedback\", within: 90d)")
    }

    @Test("a built-in used bare says how to call it")
    func bareBuiltin() throws {
        #expect(try diagnostic("has_tag") == "1:1: 'has_tag' is a function; write has_tag(\"VIP\")")
    }

    @Test("a field called like a function")
    func fieldCalled() throws {
        #expect(try diagnostic("rfm() == \"A\"") == "1:1: 'rfm' is a field, not a function; write rfm without parentheses")
    }

    @Test("an unknown function suggests the closest function")
    func unknownFunction() throws {
        #expect(try diagnostic("lowr(corp_name) == \"x\"") == "1:1: unknown function 'lowr'; did you mean 'lower'?")
        #expect(try diagnostic("monetery(within: 1d) > 0") == "1:1: unknown function 'monetery'; did you mean 'monetary'?")
    }

    @Test("comparing a duration with a plain number hints at the unit")
    func mixedNumberDuration() throws {
        #expect(try diagnostic("since_last_order > 30") == "1:18: cannot compare duration with number; durations need a unit: write 30d, not 30")
        #expect(try diagnostic("since_last_order > r") == "1:18: cannot compare duration with number; numbers and durations don't mix: use days(…) to turn a duration into days, or multiply a number by 1d")
    }

    @Test("comparing different types")
    func comparingDifferentTypes() throws {
        #expect(try diagnostic("rfm == 5") == "1:5: cannot compare string with number")
    }

    @Test("ordering needs an ordered type")
    func orderingBools() throws {
        #expect(try diagnostic("is_vip < true") == "1:8: '<' needs numbers, strings or durations, got bool")
    }

    @Test("'and' / 'or' / 'not' need conditions")
    func logicNeedsBool() throws {
        #expect(try diagnostic("r and f > 1") == "1:1: 'and' needs a condition (true or false), but r is a number; compare it, e.g. r > 0")
        #expect(try diagnostic("f > 1 or rfm") == "1:10: 'or' needs a condition (true or false), but rfm is a string; compare it, e.g. rfm == \"…\"")
        #expect(try diagnostic("not clv") == "1:5: 'not' needs a condition (true or false), but clv is a number; compare it, e.g. clv > 0")
    }

    @Test("a rule must be a condition")
    func ruleMustBeBool() throws {
        #expect(try diagnostic("clv * 0.5") == "1:1: a rule must be a condition (true or false), but this is a number; compare it, e.g. clv * 0.5 > 0")
    }

    @Test("compileExpression checks the expected type")
    func expressionExpectedType() throws {
        #expect(try expressionDiagnostic("rfm", expecting: .number) == "1:1: expected a number, but this is a string")
        var registry = RuleMetricRegistry()
        let compiled = try RuleCompiler.compileExpression("clv * 0.5", schema: Fixture.schema, metrics: &registry, expecting: .number).get()
        #expect(compiled.type == .number)
    }

    @Test("arithmetic type rules", arguments: [
        ("rfm + 1 > 2", "1:5: '+' cannot combine string and number"),
        ("since_last_order + 1 > 1d", "1:18: '+' cannot combine duration and number; durations need a unit: write 1d, not 1"),
        ("1d * 1d > 1d", "1:4: '*' cannot combine duration and duration"),
        ("2 / 1d > 1", "1:3: '/' cannot combine number and duration"),
        ("-rfm == \"x\"", "1:1: '-' needs a number or duration, got string"),
    ])
    func arithmeticTypeErrors(source: String, expected: String) throws {
        #expect(try diagnostic(source) == expected)
    }

    @Test("allowed arithmetic produces the documented types", arguments: [
        ("1d + 2h", RuleValue.duration(93_600)), ("1d - 12h", .duration(43_200)), ("2 * 1d", .duration(172_800)),
        ("1d * 2", .duration(172_800)), ("1d / 4", .duration(21_600)), ("7 % 4", .number(3)),
    ])
    func arithmeticResults(source: String, expected: RuleValue) throws {
        #expect(try evaluate(source) == expected)
    }

    @Test("list elements must share one type")
    func listElementTypes() throws {
        #expect(try diagnostic("add_way in [1, \"2\"]") == "1:16: list elements must all have one type: the first is number, this is string")
        #expect(try diagnostic("since_last_order in [1d, 2]") == "1:26: list elements must all have one type: the first is duration, this is number; durations need a unit: write 2d, not 2")
    }

    @Test("'in' needs a list of the operand's type")
    func membershipTypes() throws {
        #expect(try diagnostic("\"bank\" in corp_name") == "1:11: 'in' needs a list on the right, got string; to look for text inside a string write contains(corp_name, \"bank\")")
        #expect(try diagnostic("add_way in [\"a\"]") == "1:9: cannot look for a number in a list of string")
        #expect(try diagnostic("add_way not in labels") == "1:9: cannot look for a number in a list of string")
    }

    @Test("null is only allowed in == null / != null")
    func nullLiteralMisuse() throws {
        #expect(try diagnostic("r > null") == "1:5: null can only be compared with == or !=; e.g. rfm == null")
        #expect(try diagnostic("rfm in [null]") == "1:9: null cannot be a list element")
        #expect(try diagnostic("not null") == "1:5: null can only be compared with == or !=; e.g. rfm == null")
    }

    @Test("comparing a never-null fact with null is an error")
    func neverNull() throws {
        #expect(try diagnostic("days_since_added == null") == "1:18: 'days_since_added' is never null, so '== null' is always false")
        #expect(try diagnostic("orders(within: 90d) != null") == "1:21: orders(within: 90d) is never null, so '!= null' is always true")
        #expect(diagnostics("avg_order(within: 90d) == null") == [])
    }

    @Test("between needs an ordered operand and bounds of its type")
    func betweenTypes() throws {
        #expect(try diagnostic("r between 1 and \"5\"") == "1:17: bounds of 'r between …' must be a number, got string")
        #expect(try diagnostic("is_vip between true and false") == "1:8: 'between' needs a number, string or duration, got bool")
        #expect(try diagnostic("since_last_order between 1 and 10d") == "1:26: bounds of 'since_last_order between …' must be a duration, got number; durations need a unit: write 1d, not 1")
    }

    @Test("built-in functions check arity, labels and argument types", arguments: [
        ("lower(corp_name, \"x\") == \"a\"", "1:1: lower takes 1 argument, got 2; write lower(text)"),
        ("abs(rfm) > 1", "1:1: abs cannot be applied to (string); usage: abs(number) -> number"),
        ("contains(text: corp_name, \"b\")", "1:10: contains does not take labelled arguments; write contains(text, part)"),
        ("max(1, 1d) > 1d", "1:1: max cannot be applied to (number, duration); durations need a unit: write 1d, not 1"),
        ("contains(labels, \"x\")", "1:1: contains works on text, not lists; write \"x\" in labels"),
        ("days(30) > 1", "1:1: days cannot be applied to (number); usage: days(duration) -> number"),
    ])
    func builtinErrors(source: String, expected: String) throws {
        #expect(try diagnostic(source) == expected)
    }

    @Test("has_tag takes a string name and an optional labelled group", arguments: [
        ("has_tag(123)", "1:9: the tag name must be a string, got number; write has_tag(\"VIP\")"),
        ("has_tag(\"VIP\", \"Level\")", "1:16: only the first argument of has_tag may be unlabelled; write has_tag(\"VIP\", group: \"Level\")"),
        ("has_tag(\"VIP\", grup: \"Level\")", "1:16: unknown parameter 'grup' for has_tag; did you mean 'group'?"),
        ("has_tag()", "1:1: has_tag needs a tag name; write has_tag(\"VIP\")"),
    ])
    func hasTagErrors(source: String, expected: String) throws {
        #expect(try diagnostic(source) == expected)
    }

    @Test("independent errors are all reported, in source order")
    func multipleErrors() {
        let found = diagnostics("monetery(within: 1d) > 0 and rfm == 5 or ordrs > 1")
        #expect(found.map(\.description) == [
            "1:1: unknown function 'monetery'; did you mean 'monetary'?",
            "1:34: cannot compare string with number",
            "1:42: unknown field 'ordrs'; did you mean 'orders'?",
        ])
    }

    @Test("errors on a later line have that line's location")
    func multiLineLocation() throws {
        let found = diagnostics("orders(within: 90d) >= 5\nand ordrs > 1\n  and rfm == 5")
        #expect(found.map(\.location) == [RuleSourceLocation(line: 2, column: 5), RuleSourceLocation(line: 3, column: 11)])
        #expect(found.first?.message == "unknown field 'ordrs'")
        #expect(found.first?.suggestion == "did you mean 'orders'?")
    }

    @Test("compile errors render one diagnostic per line")
    func compileErrorsDescription() {
        var registry = RuleMetricRegistry()
        guard case .failure(let errors) = RuleCompiler.compile("ordrs > 1 and rfm == 5", schema: Fixture.schema, metrics: &registry) else {
            Issue.record("expected a failure")
            return
        }
        #expect(errors.description == "1:1: unknown field 'ordrs'; did you mean 'orders'?\n1:19: cannot compare string with number")
    }

    @Test("referenced fields and tags are listed once, in source order")
    func references() throws {
        let rule = try compileRule("rfm == \"A\" or has_tag(\"VIP\") or r > 1 and rfm != \"B\" and has_tag(\"VIP\") and has_tag(\"新客\", group: \"阶段\")")
        #expect(rule.referencedFields == ["rfm", "r"])
        #expect(rule.referencedTags == ["VIP", "新客"])
    }
}
