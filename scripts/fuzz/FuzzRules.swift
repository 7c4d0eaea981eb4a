// libFuzzer target: the rule expression language (lexer, parser, type checker) against the
// relation schema of a grading config with attributes. Built by scripts/fuzz.sh.

private let schema = GradingSchema(kinds: ["order", "message", "service", "feedback", "inquiry", "cart"], attributes: [
    (name: "vip_level", type: .number), (name: "city", type: .string),
])

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRules(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    var metrics = RuleMetricRegistry()
    _ = RuleCompiler.compile(text, schema: schema.relation, metrics: &metrics)
    var more = RuleMetricRegistry()
    _ = RuleCompiler.compileExpression(text, schema: schema.contact, metrics: &more)
    return 0
}
