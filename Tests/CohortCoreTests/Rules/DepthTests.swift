import Foundation
import CohortCore
import Testing

@Suite("Nesting limits")
struct DepthTests {
    /// Runs `body` on a thread with the 512 KiB stack that secondary threads get on Apple platforms.
    private func onSmallStack(_ body: @escaping @Sendable () -> Void) {
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            body()
            done.signal()
        }
        thread.stackSize = 512 * 1024
        thread.start()
        done.wait()
    }

    @Test("rules at the nesting limit compile, evaluate and explain on a 512 KiB stack")
    func deepRulesWork() {
        let sources = [
            String(repeating: "(", count: 31) + "r > 1" + String(repeating: ")", count: 31),
            String(repeating: "not ", count: 30) + "r > 1",
            Array(repeating: "r", count: 31).joined(separator: " + ") + " > 1",
            String(repeating: "[", count: 30) + "1" + String(repeating: "]", count: 30) + " == []",
        ]
        onSmallStack {
            for source in sources {
                var registry = RuleMetricRegistry()
                guard case .success(let rule) = RuleCompiler.compile(source, schema: Fixture.schema, metrics: &registry) else {
                    Issue.record("expected \(source.prefix(40))… to compile")
                    continue
                }
                let facts = Fixture.facts(fields: ["r": .number(2)], registry: registry)
                #expect(rule.value(facts) != .null)
                #expect(rule.explain(facts).result == rule.evaluate(facts))
            }
        }
    }

    @Test("long and/or chains are flat, so they have no length limit")
    func longChains() throws {
        var registry = RuleMetricRegistry()
        let terms = (1...2_000).map { "add_way == \($0)" }
        let anyOf = try compileRule(terms.joined(separator: " or "), registry: &registry)
        let allOf = try compileRule(terms.joined(separator: " and "), registry: &registry)
        let facts = Fixture.facts(fields: ["add_way": .number(1_999)], registry: registry)
        #expect(anyOf.evaluate(facts))
        #expect(!allOf.evaluate(facts))
        #expect(anyOf.explain(facts).conditions.count == 2_000)
    }

    @Test("rules nested deeper than the limit are rejected instead of overflowing the stack", arguments: [
        String(repeating: "(", count: 32) + "r > 1" + String(repeating: ")", count: 32),
        String(repeating: "(", count: 100_000) + "true" + String(repeating: ")", count: 100_000),
        String(repeating: "not ", count: 100_000) + "true",
        String(repeating: "-", count: 100_000) + "1 > 0",
        String(repeating: "[", count: 100_000),
        String(repeating: "abs(", count: 100_000),
        Array(repeating: "r", count: 40).joined(separator: " + ") + " > 1",
    ])
    func tooDeep(source: String) throws {
        let found = diagnostics(source)
        #expect(found.count == 1)
        #expect(found.first?.message == "the rule is nested too deeply (more than 32 levels)")
    }
}
