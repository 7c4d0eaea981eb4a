import Foundation
import CohortCore
import Testing

@Suite("Explanation")
struct ExplanationTests {
    private func explain(
        _ source: String,
        fields: [String: RuleValue] = [:],
        metrics: [String: RuleValue] = [:],
        tags: Set<String> = []
    ) throws -> RuleExplanation {
        var registry = RuleMetricRegistry()
        let rule = try compileRule(source, registry: &registry)
        return rule.explain(Fixture.facts(fields: fields, metrics: metrics, tags: tags, registry: registry))
    }

    @Test("facts and conditions show each metric read and each comparison with its operands")
    func metricFactsAndConditions() throws {
        let explanation = try explain("orders(within: 90d) >= 5 and monetary(within: 365d) >= 2000",
                                      metrics: ["orders(within: 90d)": .number(6), "monetary(within: 365d)": .number(2500)])
        #expect(explanation.result)
        #expect(explanation.facts == ["orders(within: 90d) = 6", "monetary(within: 365d) = 2500"])
        #expect(explanation.conditions == [
            "orders(within: 90d) >= 5  (6 >= 5: true)",
            "monetary(within: 365d) >= 2000  (2500 >= 2000: true)",
        ])
    }

    @Test("short-circuiting does not hide facts from the explanation")
    func noShortCircuit() throws {
        let explanation = try explain("rfm in [\"At Risk\", \"Can't Lose Them\"] and not has_tag(\"免打扰\")",
                                      fields: ["rfm": .string("Champions")])
        #expect(!explanation.result)
        #expect(explanation.facts == ["rfm = \"Champions\"", "has_tag(\"免打扰\") = false"])
        #expect(explanation.conditions == ["rfm in [\"At Risk\", \"Can't Lose Them\"]  (\"Champions\": false)"])
    }

    @Test("unknown facts show as null and a null outcome is reported as false")
    func nullFacts() throws {
        let explanation = try explain("rfm in [\"At Risk\"] or r > 3")
        #expect(!explanation.result)
        #expect(explanation.root.value == .null)
        #expect(explanation.facts == ["rfm = null", "r = null"])
        #expect(explanation.conditions == ["rfm in [\"At Risk\"]  (null: null)", "r > 3  (null > 3: null)"])
    }

    @Test("a fact read twice is listed once; each condition is listed")
    func distinctFacts() throws {
        let explanation = try explain("r > 1 and r < 5 and orders(within: 90d) > 0 and orders(within: 2160h) < 9",
                                      fields: ["r": .number(3)], metrics: ["orders(within: 90d)": .number(2)])
        #expect(explanation.facts == ["r = 3", "orders(within: 90d) = 2"])
        #expect(explanation.conditions.count == 4)
        #expect(explanation.conditions[3] == "orders(within: 2160h) < 9  (2 < 9: true)")
    }

    @Test("between and null checks have their own condition format")
    func betweenAndNullConditions() throws {
        let explanation = try explain("r between 4 and 5 or rfm == null", fields: ["r": .number(3)])
        #expect(explanation.result)
        #expect(explanation.conditions == [
            "r between 4 and 5  (3 between 4 and 5: false)",
            "rfm == null  (null == null: true)",
        ])
    }

    @Test("tags with a group are shown with the group")
    func groupedTagFact() throws {
        let explanation = try explain("has_tag(\"金牌\", group: \"等级\") or has_tag(\"VIP\")", tags: ["VIP"])
        #expect(explanation.facts == ["has_tag(\"金牌\", group: \"等级\") = false", "has_tag(\"VIP\") = true"])
    }

    @Test("the tree omits constants and renders indented")
    func treeDescription() throws {
        let explanation = try explain("clv * 0.5 > 1000", fields: ["clv": .number(2500)])
        #expect(explanation.description == """
            result: true
            clv * 0.5 > 1000 → true
              clv * 0.5 → 1250
                clv → 2500
            """)
    }

    @Test("node text collapses newlines and comments of multi-line rules")
    func multiLineText() throws {
        let explanation = try explain("""
            orders(within: 90d) >= 5   # recent
              and (r > 1 or
                   f > 1)
            """, fields: ["r": .number(2)], metrics: ["orders(within: 90d)": .number(1)])
        #expect(explanation.root.text == "orders(within: 90d) >= 5 and (r > 1 or f > 1)")
        #expect(explanation.root.children.map(\.text) == ["orders(within: 90d) >= 5", "(r > 1 or f > 1)"])
        #expect(explanation.conditions.first == "orders(within: 90d) >= 5  (1 >= 5: false)")
    }

    @Test("the explained result always equals evaluate", arguments: [
        "r between 4 and 5 or (f >= 3 and abc == \"A\")",
        "not (is_vip and opted_in) or rfm == null",
        "rfm not in [\"Champions\"] and clv / r > 100",
    ])
    func explanationAgreesWithEvaluation(source: String) throws {
        var registry = RuleMetricRegistry()
        let rule = try compileRule(source, registry: &registry)
        let numbers: [RuleValue] = [.null, .number(0), .number(3), .number(5)]
        let bools: [RuleValue] = [.null, .bool(true), .bool(false)]
        let strings: [RuleValue] = [.null, .string("A"), .string("Champions")]
        var checked = 0
        for r in numbers {
            for f in numbers {
                for flag in bools {
                    for text in strings {
                        let facts = Fixture.facts(fields: [
                            "r": r, "f": f, "clv": f, "is_vip": flag, "opted_in": .bool(true), "abc": text, "rfm": text,
                        ], registry: registry)
                        let explanation = rule.explain(facts)
                        #expect(explanation.result == rule.evaluate(facts))
                        #expect(explanation.root.value == rule.value(facts))
                        checked += 1
                    }
                }
            }
        }
        #expect(checked == 144)
    }

    @Test("explanations survive a JSON round trip, durations included")
    func codableRoundTrip() throws {
        let explanation = try explain("since_last_order > 30d and rfm in [\"A\", \"B\"] and r == null",
                                      fields: ["since_last_order": .duration(3_024_000), "rfm": .string("A")])
        let data = try JSONEncoder().encode(explanation)
        let decoded = try JSONDecoder().decode(RuleExplanation.self, from: data)
        #expect(decoded == explanation)
        let json = try #require(String(data: data, encoding: .utf8))
        #expect(json.contains("{\"duration\":3024000}"))
    }

    @Test("every kind of value survives a JSON round trip", arguments: [
        RuleValue.null, .number(6), .number(12.5), .string("免打扰"), .bool(true), .bool(false),
        .duration(86_400), .list([.number(1), .string("x"), .duration(60), .null]),
    ])
    func valueCodable(value: RuleValue) throws {
        let data = try JSONEncoder().encode([value])
        #expect(try JSONDecoder().decode([RuleValue].self, from: data) == [value])
    }
}
