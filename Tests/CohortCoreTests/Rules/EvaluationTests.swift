import CohortCore
import Testing

@Suite("Evaluation")
struct EvaluationTests {
    static let t = RuleValue.bool(true), f = RuleValue.bool(false), n = RuleValue.null

    /// Kleene's strong three-valued logic, written out rather than derived.
    static let kleeneTable: [(a: RuleValue, b: RuleValue, and: RuleValue, or: RuleValue)] = [
        (t, t, t, t), (t, f, f, t), (t, n, n, t),
        (f, t, f, t), (f, f, f, f), (f, n, f, n),
        (n, t, n, t), (n, f, f, n), (n, n, n, n),
    ]

    @Test("and / or follow Kleene three-valued logic", arguments: kleeneTable)
    func kleeneAndOr(row: (a: RuleValue, b: RuleValue, and: RuleValue, or: RuleValue)) throws {
        let fields = ["is_vip": row.a, "opted_in": row.b]
        #expect(try evaluate("is_vip and opted_in", fields: fields) == row.and)
        #expect(try evaluate("is_vip or opted_in", fields: fields) == row.or)
        // A constant on the left exercises the fast evaluator's short-circuit path.
        if !row.b.isNull {
            #expect(try evaluate("\(row.b) and is_vip", fields: fields) == row.and)
            #expect(try evaluate("\(row.b) or is_vip", fields: fields) == row.or)
        }
    }

    @Test("not true = false, not false = true, not null = null", arguments: [(t, f), (f, t), (n, n)])
    func kleeneNot(input: RuleValue, expected: RuleValue) throws {
        #expect(try evaluate("not is_vip", fields: ["is_vip": input]) == expected)
    }

    @Test("a rule whose result is null does not match, and neither does its negation")
    func nullRuleIsFalse() throws {
        var registry = RuleMetricRegistry()
        let rule = try compileRule("r > 3", registry: &registry)
        let negated = try compileRule("not (r > 3)", registry: &registry)
        let unknown = Fixture.facts(registry: registry)
        #expect(rule.value(unknown) == .null)
        #expect(!rule.evaluate(unknown))
        #expect(!negated.evaluate(unknown))
        let known = Fixture.facts(fields: ["r": .number(4)], registry: registry)
        #expect(rule.evaluate(known))
        #expect(!negated.evaluate(known))
    }

    @Test("null operands propagate through comparisons, arithmetic, functions and in", arguments: [
        ("r > 3", RuleValue.null), ("not (r > 3)", .null), ("clv * 2", .null), ("-r", .null),
        ("lower(corp_name)", .null), ("length(corp_name)", .null), ("abs(r)", .null),
        ("rfm in [\"A\"]", .null), ("rfm not in [\"A\"]", .null), ("r in [1, f]", .null),
        ("r between 1 and 5", .null), ("r == f", .null), ("has_tag(corp_name)", .null),
        ("rfm == null", .bool(true)), ("rfm != null", .bool(false)),
        ("false and r > 3", .bool(false)), ("r > 3 and false", .bool(false)),
        ("true or r > 3", .bool(true)), ("r > 3 or true", .bool(true)),
    ])
    func nullPropagation(source: String, expected: RuleValue) throws {
        #expect(try evaluate(source) == expected)
    }

    @Test("division by zero is null, not infinity")
    func divisionByZero() throws {
        #expect(try evaluate("clv / 0", fields: ["clv": .number(10)]) == .null)
        #expect(try evaluate("clv % 0", fields: ["clv": .number(10)]) == .null)
        #expect(try evaluate("since_last_order / r", fields: ["since_last_order": .duration(60), "r": .number(0)]) == .null)
        #expect(try evaluate("clv / 4", fields: ["clv": .number(10)]) == .number(2.5))
    }

    @Test("in over a constant list", arguments: [
        ("At Risk", true), ("Can't Lose Them", true), ("Champions", false), ("at risk", false),
    ])
    func inConstantStrings(rfm: String, expected: Bool) throws {
        #expect(try evaluate("rfm in [\"At Risk\", \"Can't Lose Them\"]", fields: ["rfm": .string(rfm)]) == .bool(expected))
        #expect(try evaluate("rfm not in [\"At Risk\", \"Can't Lose Them\"]", fields: ["rfm": .string(rfm)]) == .bool(!expected))
    }

    @Test("in over constant numbers and durations compares values, not spelling")
    func inConstantNumbers() throws {
        #expect(try evaluate("add_way in [1, 2]", fields: ["add_way": .number(2)]) == .bool(true))
        #expect(try evaluate("add_way in [1, 2]", fields: ["add_way": .number(3)]) == .bool(false))
        #expect(try evaluate("add_way in [1, 4 / 2]", fields: ["add_way": .number(2)]) == .bool(true))
        #expect(try evaluate("since_last_order in [1d, 48h]", fields: ["since_last_order": .duration(172_800)]) == .bool(true))
    }

    @Test("in over a list that depends on facts")
    func inDynamicList() throws {
        let fields: [String: RuleValue] = ["add_way": .number(7), "days_since_added": .number(7)]
        #expect(try evaluate("add_way in [days_since_added, 5]", fields: fields) == .bool(true))
        #expect(try evaluate("add_way + 1 in [days_since_added, 5]", fields: fields) == .bool(false))
        let labels: [String: RuleValue] = ["labels": .list([.string("VIP"), .string("老客")])]
        #expect(try evaluate("\"老客\" in labels", fields: labels) == .bool(true))
        #expect(try evaluate("\"vip\" in labels", fields: labels) == .bool(false))
        #expect(try evaluate("\"vip\" not in labels", fields: labels) == .bool(true))
    }

    @Test("in over the empty list is false, not in is true")
    func inEmptyList() throws {
        #expect(try evaluate("add_way in []", fields: ["add_way": .number(1)]) == .bool(false))
        #expect(try evaluate("add_way not in []", fields: ["add_way": .number(1)]) == .bool(true))
    }

    @Test("built-in functions", arguments: [
        ("contains(lower(corp_name), \"bank\")", ["corp_name": RuleValue.string("China Merchants BANK")], RuleValue.bool(true)),
        ("contains(corp_name, \"bank\")", ["corp_name": .string("China Merchants BANK")], .bool(false)),
        ("starts_with(corp_name, \"中国\")", ["corp_name": .string("中国银行")], .bool(true)),
        ("ends_with(corp_name, \"银行\")", ["corp_name": .string("中国银行")], .bool(true)),
        ("trim(corp_name)", ["corp_name": .string("  Acme \n")], .string("Acme")),
        ("upper(corp_name)", ["corp_name": .string("acme")], .string("ACME")),
        ("length(corp_name)", ["corp_name": .string("免打扰")], .number(3)),
        ("length(labels)", ["labels": .list([.string("a"), .string("b")])], .number(2)),
        ("abs(clv)", ["clv": .number(-3)], .number(3)),
        ("round(clv)", ["clv": .number(2.5)], .number(3)),
        ("round(clv)", ["clv": .number(-2.5)], .number(-3)),
        ("floor(clv)", ["clv": .number(2.7)], .number(2)),
        ("ceil(clv)", ["clv": .number(2.1)], .number(3)),
        ("min(clv, 10)", ["clv": .number(12)], .number(10)),
        ("max(since_last_order, 1d)", ["since_last_order": .duration(3_600)], .duration(86_400)),
        ("days(since_last_order)", ["since_last_order": .duration(129_600)], .number(1.5)),
        ("has_tag(corp_name)", ["corp_name": .string("VIP")], .bool(true)),
    ])
    func builtins(source: String, fields: [String: RuleValue], expected: RuleValue) throws {
        #expect(try evaluate(source, fields: fields, tags: ["VIP"]) == expected)
    }

    @Test("contains matches whole characters only", arguments: [
        ("xcafe", true), ("cafe\u{301} au lait", false), ("caf\u{E9}", false), ("中国银行", false), ("", false),
    ])
    func containsWholeCharacters(corp: String, expected: Bool) throws {
        #expect(try evaluate("contains(corp_name, \"cafe\")", fields: ["corp_name": .string(corp)]) == .bool(expected))
    }

    @Test("contains finds non-ASCII text and treats CR LF as one character")
    func containsUnicode() throws {
        #expect(try evaluate("contains(corp_name, \"银行\")", fields: ["corp_name": .string("中国银行上海分行")]) == .bool(true))
        #expect(try evaluate("contains(corp_name, \"\")", fields: ["corp_name": .string("x")]) == .bool(true))
        #expect(try evaluate("contains(corp_name, \"a\")", fields: ["corp_name": .string("e\u{301}a")]) == .bool(true))
        #expect(try evaluate("contains(corp_name, \"e\")", fields: ["corp_name": .string("e\u{301}a")]) == .bool(false))
        #expect(try evaluate("contains(corp_name, \"\\n\")", fields: ["corp_name": .string("a\r\nb")]) == .bool(false))
        #expect(try evaluate("contains(corp_name, \"\\n\")", fields: ["corp_name": .string("a\nb")]) == .bool(true))
    }

    @Test("has_tag with a group asks for the grouped tag")
    func hasTagGroup() throws {
        var registry = RuleMetricRegistry()
        let rule = try compileRule("has_tag(\"金牌\", group: \"等级\")", registry: &registry)
        var facts = Fixture.facts(tags: ["金牌"], registry: registry)
        #expect(!rule.evaluate(facts))
        facts.groupedTags = ["等级/金牌"]
        #expect(rule.evaluate(facts))
    }

    @Test("facts of the wrong kind count as null instead of trapping")
    func mistypedFacts() throws {
        #expect(try evaluate("r > 3", fields: ["r": .string("4")]) == .null)
        #expect(try evaluate("is_vip and true", fields: ["is_vip": .number(1)]) == .null)
        #expect(try evaluate("r between 1 and 5", fields: ["r": .duration(3)]) == .null)
    }

    @Test("compiled rules and registries can be shared across concurrent tasks")
    func concurrentEvaluation() async throws {
        var registry = RuleMetricRegistry()
        let rule = try compileRule("orders(within: 90d) >= 5 and rfm != null", registry: &registry)
        let frozen = registry
        let matches = await withTaskGroup(of: Bool.self) { group in
            for orders in 0..<10 {
                group.addTask {
                    rule.evaluate(Fixture.facts(fields: ["rfm": .string("A")],
                                                metrics: ["orders(within: 90d)": .number(Double(orders))], registry: frozen))
                }
            }
            var count = 0
            for await matched in group where matched { count += 1 }
            return count
        }
        #expect(matches == 5)
    }

    @Test("many rules over array-backed facts agree with hand-written predicates")
    func bulkArrayFacts() throws {
        var registry = RuleMetricRegistry()
        let sources = [
            "orders(within: 90d) >= 5 and monetary(within: 365d) >= 2000",
            "rfm in [\"At Risk\", \"Can't Lose Them\"] and not has_tag(\"免打扰\")",
            "r between 4 and 5 or (f >= 3 and abc == \"A\")",
            "days_since_added > 30 and add_way in [1, 2]",
            "clv * 0.5 > 1000",
        ]
        let rules = try sources.map { try compileRule($0, registry: &registry) }
        let ordersSlot = try #require(registry.slot(of: RuleMetricRequest(name: "orders", arguments: ["within": .duration(7_776_000)])))
        let monetarySlot = try #require(registry.slot(of: RuleMetricRequest(name: "monetary", arguments: ["within": .duration(31_536_000)])))
        let segments = ["At Risk", "Can't Lose Them", "Champions", "Loyal"]

        var seed: UInt64 = 42
        func next(_ bound: Int) -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((seed >> 33) % UInt64(bound))
        }
        var counts = [Int](repeating: 0, count: rules.count), expected = counts
        for _ in 0..<10_000 {
            let orders = Double(next(10)), monetary = Double(next(4_000))
            let rfm: RuleValue = next(5) == 0 ? .null : .string(segments[next(segments.count)])
            let optedOut = next(3) == 0
            let r = Double(next(6)), f = Double(next(6)), abc = ["A", "B", "C"][next(3)]
            let days = Double(next(60)), addWay = Double(next(4))
            let clv: RuleValue = next(4) == 0 ? .null : .number(Double(next(4_000)))

            var fields = [RuleValue](repeating: .null, count: Fixture.schema.fields.count)
            fields[Fixture.schema.field(named: "rfm")!.slot] = rfm
            fields[Fixture.schema.field(named: "r")!.slot] = .number(r)
            fields[Fixture.schema.field(named: "f")!.slot] = .number(f)
            fields[Fixture.schema.field(named: "abc")!.slot] = .string(abc)
            fields[Fixture.schema.field(named: "days_since_added")!.slot] = .number(days)
            fields[Fixture.schema.field(named: "add_way")!.slot] = .number(addWay)
            fields[Fixture.schema.field(named: "clv")!.slot] = clv
            var metrics = [RuleValue](repeating: .null, count: registry.requests.count)
            metrics[ordersSlot] = .number(orders)
            metrics[monetarySlot] = .number(monetary)
            let facts = ArrayFacts(fields: fields, metrics: metrics, tags: optedOut ? ["免打扰"] : [])

            for (i, rule) in rules.enumerated() where rule.evaluate(facts) { counts[i] += 1 }
            if orders >= 5 && monetary >= 2000 { expected[0] += 1 }
            if case .string(let s) = rfm, s == "At Risk" || s == "Can't Lose Them", !optedOut { expected[1] += 1 }
            if (r >= 4 && r <= 5) || (f >= 3 && abc == "A") { expected[2] += 1 }
            if days > 30 && (addWay == 1 || addWay == 2) { expected[3] += 1 }
            if case .number(let value) = clv, value * 0.5 > 1000 { expected[4] += 1 }
        }
        #expect(counts == expected)
        #expect(counts.allSatisfy { $0 > 0 && $0 < 10_000 })
    }
}

@Suite("Values")
struct ValueTests {
    @Test("values print the way a user writes them", arguments: [
        (RuleValue.number(6), "6"), (.number(12.5), "12.5"), (.number(-3), "-3"), (.string("Champions"), "\"Champions\""),
        (.duration(2_592_000), "30d"), (.duration(43_200), "12h"), (.duration(120), "2m"), (.duration(90), "90s"),
        (.duration(1_209_600), "14d"), (.list([.number(1), .number(2)]), "[1, 2]"), (.null, "null"),
        (.bool(true), "true"), (.string("a\"b\n"), #""a\"b\n""#), (.string("免打扰"), "\"免打扰\""),
    ])
    func valueDescription(value: RuleValue, text: String) {
        #expect(value.description == text)
    }

    @Test("a printed value reads back as the same value", arguments: [
        RuleValue.number(6), .number(12.5), .number(-3), .string("免打扰"), .string("tab\there \"quoted\""),
        .duration(2_592_000), .duration(43_200), .list([.number(1), .number(2)]), .bool(false), .null,
    ])
    func valueRoundTrip(value: RuleValue) throws {
        #expect(try evaluate(value.description) == value)
    }

    @Test("types print in words", arguments: [
        (RuleType.number, "number"), (.list(.string), "list of string"), (.list(.null), "empty list"), (.duration, "duration"),
    ])
    func typeDescription(type: RuleType, text: String) {
        #expect(type.description == text)
    }

    @Test("metric requests print with sorted labels")
    func requestDescription() {
        let request = RuleMetricRequest(name: "count", arguments: ["within": .duration(2_592_000), "kind": .string("feedback")])
        #expect(request.description == "count(kind: \"feedback\", within: 30d)")
    }
}
