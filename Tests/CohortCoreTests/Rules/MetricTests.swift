import CohortCore
import Testing

@Suite("Metrics")
struct MetricTests {
    @Test("metric arguments must be constants")
    func nonConstantArgument() throws {
        #expect(try diagnostic("orders(within: since_last_order) > 1")
            == "1:16: argument 'within' of orders must be a constant, not since_last_order; metrics are computed once per contact before rules run; use a literal such as within: 90d")
        #expect(try diagnostic("count(kind: rfm) > 1")
            == "1:13: argument 'kind' of count must be a constant, not rfm; metrics are computed once per contact before rules run; use a literal such as kind: \"feedback\"")
    }

    @Test("constant expressions count as constants and fold to the same request")
    func constantExpressionArgument() throws {
        var registry = RuleMetricRegistry()
        let a = try compileRule("orders(within: 2 * 45d) > 1", registry: &registry)
        let b = try compileRule("orders(within: 90d) > 1", registry: &registry)
        #expect(a.metricSlots == b.metricSlots)
        #expect(registry.requests == [RuleMetricRequest(name: "orders", arguments: ["within": .duration(7_776_000)])])
    }

    @Test("a number where a duration is expected hints at the unit")
    func windowWithoutUnit() throws {
        #expect(try diagnostic("orders(within: 90) > 1") == "1:16: 'within' of orders must be a duration, got number; durations need a unit: write 90d, not 90")
    }

    @Test("windows must be positive", arguments: ["orders(within: 0d) > 1", "orders(within: -5d) > 1"])
    func nonPositiveWindow(source: String) throws {
        let found = diagnostics(source)
        #expect(found.count == 1)
        #expect(found.first?.message.hasPrefix("'within' of orders must be a positive duration") == true)
        #expect(found.first?.location == RuleSourceLocation(line: 1, column: 16))
    }

    @Test("metric arguments must be labelled")
    func positionalArgument() throws {
        #expect(try diagnostic("orders(90d) > 1") == "1:8: arguments of orders must be labelled; write orders(within: 90d)")
    }

    @Test("an unknown parameter suggests the closest one")
    func unknownParameter() throws {
        #expect(try diagnostic("count(kind: \"feedback\", windw: 30d) >= 1") == "1:25: unknown parameter 'windw' for count; did you mean 'within'?")
    }

    @Test("an unknown allowed value suggests the closest one")
    func unknownKind() throws {
        #expect(try diagnostic("count(kind: \"feedbak\", within: 30d) >= 1")
            == "1:13: unknown interaction kind \"feedbak\" for count(kind:); did you mean \"feedback\"?")
        #expect(try diagnostic("count(kind: \"zzzzzzzzzz\") >= 1")
            == "1:13: unknown interaction kind \"zzzzzzzzzz\" for count(kind:); expected one of \"feedback\", \"complaint\", \"visit\", \"call\"")
    }

    @Test("a missing required parameter is reported")
    func missingRequired() throws {
        #expect(try diagnostic("count(within: 30d) >= 1") == "1:1: missing required parameter 'kind' for count; write count(kind: \"feedback\", within: 90d)")
    }

    @Test("a repeated parameter is reported")
    func duplicateParameter() throws {
        #expect(try diagnostic("orders(within: 30d, within: 90d) > 1") == "1:21: duplicate parameter 'within' for orders")
    }

    @Test("the registry gives identical requests in different rules one slot")
    func registryDeduplicates() throws {
        var registry = RuleMetricRegistry()
        let first = try compileRule("orders(within: 90d) >= 5 and monetary(within: 365d) >= 2000", registry: &registry)
        let second = try compileRule("orders(within: 90d) >= 1 or orders(within: 2160h) > 3", registry: &registry)
        #expect(registry.requests.map(\.description) == ["orders(within: 90d)", "monetary(within: 365d)"])
        #expect(first.metricSlots == [0, 1])
        #expect(second.metricSlots == [0])
        #expect(second.metricRequests.map(\.description) == ["orders(within: 90d)"])
    }

    @Test("different windows, kinds or no window are different requests")
    func registryDistinguishes() throws {
        var registry = RuleMetricRegistry()
        let rule = try compileRule("""
            orders(within: 90d) > 1 and orders(within: 30d) > 1 and orders() > 1
              and count(kind: "feedback", within: 30d) > 0 and count(kind: "visit", within: 30d) > 0
            """, registry: &registry)
        #expect(registry.requests.map(\.description) == [
            "orders(within: 90d)", "orders(within: 30d)", "orders()",
            "count(kind: \"feedback\", within: 30d)", "count(kind: \"visit\", within: 30d)",
        ])
        #expect(rule.metricSlots == [0, 1, 2, 3, 4])
        #expect(registry.slot(of: RuleMetricRequest(name: "orders", arguments: ["within": .duration(2_592_000)])) == 1)
    }

    @Test("a rule that fails to compile does not take registry slots")
    func failedRuleLeavesRegistryAlone() {
        var registry = RuleMetricRegistry()
        let result = RuleCompiler.compile("orders(within: 7d) > 1 and ordrs > 1", schema: Fixture.schema, metrics: &registry)
        #expect(throws: RuleCompileErrors.self) { try result.get() }
        #expect(registry.requests.isEmpty)
    }

    @Test("metric values are read from the registry's slots")
    func metricValuesBySlot() throws {
        var registry = RuleMetricRegistry()
        _ = try compileRule("monetary(within: 365d) > 0", registry: &registry)
        let rule = try compileRule("orders(within: 90d) >= 5 and monetary(within: 365d) >= 2000", registry: &registry)
        #expect(rule.metricSlots == [1, 0])
        let facts = ArrayFacts(fields: Array(repeating: .null, count: 12), metrics: [.number(2500), .number(6)])
        #expect(rule.evaluate(facts))
        let swapped = ArrayFacts(fields: Array(repeating: .null, count: 12), metrics: [.number(6), .number(2500)])
        #expect(!rule.evaluate(swapped))
    }
}
