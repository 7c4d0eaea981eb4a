/// Resolves names against the schema, type-checks, and collects every independent error
/// (a failed sub-expression returns nil so its parent stays quiet instead of cascading).
struct RuleChecker {
    let schema: RuleSchema
    /// A working copy; the compiler adopts it only when the whole rule compiles,
    /// so failed rules never occupy metric slots.
    var metrics: RuleMetricRegistry
    let tokens: [RuleToken]
    let chars: [Character]
    var diagnostics: [RuleDiagnostic] = []
    var referencedFields: [String] = []
    var referencedTags: [String] = []
    var metricSlots: [Int] = []

    init(schema: RuleSchema, metrics: RuleMetricRegistry, tokens: [RuleToken], chars: [Character]) {
        self.schema = schema
        self.metrics = metrics
        self.tokens = tokens
        self.chars = chars
    }

    /// Source text of a token range, with each gap (whitespace, newlines, comments) shown as one space.
    func text(_ range: Range<Int>) -> String {
        var out = ""
        for i in range {
            let token = tokens[i]
            if i != range.lowerBound && token.spaceBefore { out += " " }
            out += String(chars[token.start..<token.end])
        }
        return out
    }

    func text(_ syntax: RuleSyntax) -> String { text(syntax.tokens) }

    mutating func error(_ location: RuleSourceLocation, _ message: String, _ suggestion: String? = nil) {
        diagnostics.append(RuleDiagnostic(location: location, message: message, suggestion: suggestion))
    }

    // Each case delegates to its own function: check recurses once per tree level, and
    // unoptimized builds reserve stack for the locals of every case in one frame.
    mutating func check(_ syntax: RuleSyntax) -> RuleExprNode? {
        switch syntax.kind {
        case .literal(let value):
            return RuleExprNode(.literal(value), type: Self.literalType(value), text: text(syntax))
        case .list(let elements):
            return checkList(elements, syntax)
        case .name(let name):
            return checkName(name, syntax)
        case .call(let name, let arguments):
            return checkCall(name, arguments, syntax)
        case .negate(let x):
            return checkNegate(x, syntax)
        case .not(let x):
            return checkNot(x, syntax)
        case .logical(let isAnd, let operands):
            return checkLogical(isAnd: isAnd, operands, syntax)
        case .binary(.comparison(let comparison), let a, let b):
            return checkComparison(comparison, a, b, syntax)
        case .binary(.membership(let negated), let a, let b):
            return checkMembership(negated: negated, a, b, syntax)
        case .binary(.arithmetic(let arithmetic), let a, let b):
            return checkArithmetic(arithmetic, a, b, syntax)
        case .between(let x, let low, let high):
            return checkBetween(x, low, high, syntax)
        }
    }

    mutating func checkNegate(_ x: RuleSyntax, _ syntax: RuleSyntax) -> RuleExprNode? {
        guard let operand = check(x), !rejectNull(operand, x) else { return nil }
        guard operand.type == .number || operand.type == .duration else {
            error(syntax.location, "'-' needs a number or duration, got \(operand.type)")
            return nil
        }
        return RuleExprNode(.negate(operand), type: operand.type, text: text(syntax))
    }

    mutating func checkNot(_ x: RuleSyntax, _ syntax: RuleSyntax) -> RuleExprNode? {
        guard let operand = check(x), requireBool(operand, x, operator: "not") else { return nil }
        return RuleExprNode(.not(operand), type: .bool, text: text(syntax))
    }

    mutating func checkLogical(isAnd: Bool, _ operands: [RuleSyntax], _ syntax: RuleSyntax) -> RuleExprNode? {
        var nodes: [RuleExprNode] = []
        var ok = true
        for operand in operands {
            guard let node = check(operand), requireBool(node, operand, operator: isAnd ? "and" : "or") else {
                ok = false
                continue
            }
            nodes.append(node)
        }
        guard ok else { return nil }
        return RuleExprNode(.logical(isAnd: isAnd, nodes), type: .bool, text: text(syntax))
    }

    mutating func checkArithmetic(_ op: RuleArithmetic, _ a: RuleSyntax, _ b: RuleSyntax, _ syntax: RuleSyntax) -> RuleExprNode? {
        let l = check(a), r = check(b)
        guard let l, let r else { return nil }
        let lNull = rejectNull(l, a), rNull = rejectNull(r, b)
        guard !lNull, !rNull else { return nil }
        guard let type = op.resultType(l.type, r.type) else {
            // Only + and - have a "forgot the unit" reading; `2 / 1d` has no valid fix of that kind.
            let hint = op == .add || op == .subtract ? mixedUnitHint(l, a, r, b) : nil
            error(syntax.anchor, "'\(op.symbol)' cannot combine \(l.type) and \(r.type)", hint)
            return nil
        }
        return RuleExprNode(.arithmetic(op, l, r), type: type, text: text(syntax))
    }

    static func literalType(_ value: RuleValue) -> RuleType {
        switch value {
        case .null: .null
        case .number: .number
        case .string: .string
        case .bool: .bool
        case .duration: .duration
        case .list: .list(.null)
        }
    }

    // MARK: - Shared checks

    /// Reports a `null` literal used anywhere but `== null` / `!= null`.
    mutating func rejectNull(_ node: RuleExprNode, _ syntax: RuleSyntax) -> Bool {
        guard node.type == .null else { return false }
        error(syntax.location, "null can only be compared with == or !=", "e.g. rfm == null")
        return true
    }

    mutating func requireBool(_ node: RuleExprNode, _ syntax: RuleSyntax, operator name: String) -> Bool {
        if node.type == .bool { return true }
        if rejectNull(node, syntax) { return false }
        error(syntax.location, "'\(name)' needs a condition (true or false), but \(node.text) is \(node.type.withArticle)",
              Self.conditionHint(node))
        return false
    }

    static func conditionHint(_ node: RuleExprNode) -> String? {
        switch node.type {
        case .number: "compare it, e.g. \(node.text) > 0"
        case .duration: "compare it, e.g. \(node.text) > 30d"
        case .string: "compare it, e.g. \(node.text) == \"…\""
        case .list: "test membership, e.g. \"…\" in \(node.text)"
        default: nil
        }
    }

    /// The "write 30d, not 30" hint when numbers and durations meet.
    func mixedUnitHint(_ a: RuleExprNode, _ sa: RuleSyntax?, _ b: RuleExprNode, _ sb: RuleSyntax?) -> String? {
        mixedUnitHint(types: a.type, b.type, numberSyntax: a.type == .number ? sa : sb)
    }

    func mixedUnitHint(types a: RuleType, _ b: RuleType, numberSyntax: RuleSyntax?) -> String? {
        guard Set([a, b]) == [.number, .duration] else { return nil }
        if case .literal(.number(let x))? = numberSyntax?.kind, x >= 0, x == x.rounded(.towardZero) {
            let written = RuleValue.format(number: x)
            return "durations need a unit: write \(written)d, not \(written)"
        }
        return "numbers and durations don't mix: use days(…) to turn a duration into days, or multiply a number by 1d"
    }

    /// Text for "is never null" checks, when the operand reads a non-nullable fact directly.
    func neverNullName(_ node: RuleExprNode) -> String? {
        switch node.expr {
        case .field(let slot, let name): schema.fields[slot].nullable ? nil : "'\(name)'"
        case .metric(_, let request): schema.metric(named: request.name)?.nullable == false ? "\(request)" : nil
        case .literal(let value) where !value.isNull: "\(value)"
        default: nil
        }
    }

    // MARK: - Operators

    mutating func checkComparison(_ op: RuleComparison, _ a: RuleSyntax, _ b: RuleSyntax, _ syntax: RuleSyntax) -> RuleExprNode? {
        let l = check(a), r = check(b)
        guard let l, let r else { return nil }
        if !op.isOrdering, a.isNullLiteral || b.isNullLiteral {
            let other = a.isNullLiteral ? r : l
            if let name = neverNullName(other) {
                error(syntax.anchor, "\(name) is never null, so '\(op.symbol) null' is always \(op == .equal ? "false" : "true")")
                return nil
            }
            return RuleExprNode(.nullCheck(other, isNull: op == .equal), type: .bool, text: text(syntax))
        }
        let lNull = rejectNull(l, a), rNull = rejectNull(r, b)
        guard !lNull, !rNull else { return nil }
        guard l.type.accepts(r.type) else {
            error(syntax.anchor, "cannot compare \(l.type) with \(r.type)", mixedUnitHint(l, a, r, b))
            return nil
        }
        if op.isOrdering, !l.type.isOrdered {
            error(syntax.anchor, "'\(op.symbol)' needs numbers, strings or durations, got \(l.type)")
            return nil
        }
        return RuleExprNode(.compare(op, l, r), type: .bool, text: text(syntax))
    }

    mutating func checkMembership(negated: Bool, _ a: RuleSyntax, _ b: RuleSyntax, _ syntax: RuleSyntax) -> RuleExprNode? {
        let keyword = negated ? "not in" : "in"
        let l = check(a), r = check(b)
        guard let l, let r else { return nil }
        let lNull = rejectNull(l, a), rNull = rejectNull(r, b)
        guard !lNull, !rNull else { return nil }
        guard case .list(let element) = r.type else {
            let hint = r.type == .string && l.type == .string
                ? "to look for text inside a string write contains(\(r.text), \(l.text))"
                : "write a list such as [1, 2]"
            error(b.location, "'\(keyword)' needs a list on the right, got \(r.type)", hint)
            return nil
        }
        guard element == .null || element == l.type else {
            error(syntax.anchor, "cannot look for \(l.type.withArticle) in \(r.type.withArticle)",
                  mixedUnitHint(types: l.type, element, numberSyntax: nil))
            return nil
        }
        return RuleExprNode(.membership(l, r, negated: negated), type: .bool, text: text(syntax))
    }

    mutating func checkBetween(_ x: RuleSyntax, _ low: RuleSyntax, _ high: RuleSyntax, _ syntax: RuleSyntax) -> RuleExprNode? {
        let v = check(x), lo = check(low), hi = check(high)
        guard let v, let lo, let hi else { return nil }
        var ok = true
        for (node, part) in [(v, x), (lo, low), (hi, high)] where rejectNull(node, part) { ok = false }
        guard ok else { return nil }
        guard v.type.isOrdered else {
            error(syntax.anchor, "'between' needs a number, string or duration, got \(v.type)")
            return nil
        }
        for (bound, part) in [(lo, low), (hi, high)] where bound.type != v.type {
            error(part.location, "bounds of '\(v.text) between …' must be \(v.type.withArticle), got \(bound.type)",
                  mixedUnitHint(bound, part, v, x))
            ok = false
        }
        guard ok else { return nil }
        return RuleExprNode(.between(v, lo, hi), type: .bool, text: text(syntax))
    }

    mutating func checkList(_ elements: [RuleSyntax], _ syntax: RuleSyntax) -> RuleExprNode? {
        var nodes: [RuleExprNode] = []
        var first: (type: RuleType, syntax: RuleSyntax)?
        var ok = true
        for element in elements {
            guard let node = check(element) else {
                ok = false
                continue
            }
            if node.type == .null {
                error(element.location, "null cannot be a list element")
                ok = false
                continue
            }
            if let current = first, !current.type.accepts(node.type) {
                error(element.location, "list elements must all have one type: the first is \(current.type), this is \(node.type)",
                      mixedUnitHint(types: current.type, node.type,
                                    numberSyntax: node.type == .number ? element : current.syntax))
                ok = false
                continue
            }
            // An empty inner list says nothing about the element type; a later element may.
            if first == nil || first?.type == .list(.null) { first = (node.type, element) }
            nodes.append(node)
        }
        guard ok else { return nil }
        return RuleExprNode(.list(nodes), type: .list(first?.type ?? .null), text: text(syntax))
    }

    // MARK: - Names and calls

    var allNames: [String] {
        schema.fields.map(\.name) + schema.metrics.map(\.name) + RuleBuiltin.allCases.map(\.name)
    }

    var functionNames: [String] {
        schema.metrics.map(\.name) + RuleBuiltin.allCases.map(\.name)
    }

    mutating func checkName(_ name: String, _ syntax: RuleSyntax) -> RuleExprNode? {
        if let field = schema.field(named: name) {
            if !referencedFields.contains(name) { referencedFields.append(name) }
            return RuleExprNode(.field(slot: field.slot, name: name), type: field.type, text: text(syntax))
        }
        if let metric = schema.metric(named: name) {
            error(syntax.location, "'\(name)' is a function", "write \(metric.example)")
        } else if let builtin = RuleBuiltin(rawValue: name) {
            error(syntax.location, "'\(name)' is a function", "write \(builtin.usage)")
        } else if RuleLexer.keywords[name.lowercased()] != nil {
            error(syntax.location, "unknown field '\(name)'", "keywords are lowercase: write '\(name.lowercased())'")
        } else {
            error(syntax.location, "unknown field '\(name)'",
                  RuleSpelling.closest(to: name, among: allNames).map { "did you mean '\($0)'?" })
        }
        return nil
    }

    mutating func checkCall(_ name: String, _ arguments: [RuleSyntaxArgument], _ syntax: RuleSyntax) -> RuleExprNode? {
        if let builtin = RuleBuiltin(rawValue: name) {
            return builtin == .hasTag ? checkHasTag(arguments, syntax) : checkBuiltin(builtin, arguments, syntax)
        }
        if let metric = schema.metric(named: name) {
            return checkMetric(metric, arguments, syntax)
        }
        if schema.field(named: name) != nil {
            error(syntax.location, "'\(name)' is a field, not a function", "write \(name) without parentheses")
        } else {
            error(syntax.location, "unknown function '\(name)'",
                  RuleSpelling.closest(to: name, among: functionNames).map { "did you mean '\($0)'?" })
        }
        // Still check the arguments: their mistakes are independent of the misspelt name.
        for argument in arguments { _ = check(argument.value) }
        return nil
    }

    mutating func checkHasTag(_ arguments: [RuleSyntaxArgument], _ syntax: RuleSyntax) -> RuleExprNode? {
        var name: RuleExprNode?, group: RuleExprNode?
        var seen = Set<String>()
        var ok = true
        for (index, argument) in arguments.enumerated() {
            guard let label = argument.label ?? (index == 0 ? "name" : nil) else {
                error(argument.location, "only the first argument of has_tag may be unlabelled",
                      "write has_tag(\"VIP\", group: \"Level\")")
                ok = false
                _ = check(argument.value)
                continue
            }
            guard label == "name" || label == "group" else {
                error(argument.location, "unknown parameter '\(label)' for has_tag",
                      RuleSpelling.closest(to: label, among: ["name", "group"], closedSet: true).map { "did you mean '\($0)'?" }
                        ?? "has_tag takes name and group")
                ok = false
                _ = check(argument.value)
                continue
            }
            guard seen.insert(label).inserted else {
                error(argument.location, "duplicate parameter '\(label)' for has_tag")
                ok = false
                continue
            }
            guard let node = check(argument.value) else {
                ok = false
                continue
            }
            guard !rejectNull(node, argument.value) else {
                ok = false
                continue
            }
            guard node.type == .string else {
                error(argument.value.location, "the tag \(label) must be a string, got \(node.type)",
                      "write has_tag(\"VIP\")")
                ok = false
                continue
            }
            if label == "name" { name = node } else { group = node }
        }
        guard let name, ok else {
            if ok { error(syntax.location, "has_tag needs a tag name", "write has_tag(\"VIP\")") }
            return nil
        }
        if name.isConstant, case .string(let tag)? = RuleNode.lower(name).constantValue, !referencedTags.contains(tag) {
            referencedTags.append(tag)
        }
        return RuleExprNode(.hasTag(name: name, group: group), type: .bool, text: text(syntax))
    }

    mutating func checkBuiltin(_ fn: RuleBuiltin, _ arguments: [RuleSyntaxArgument], _ syntax: RuleSyntax) -> RuleExprNode? {
        var ok = true
        for argument in arguments where argument.label != nil {
            error(argument.location, "\(fn.name) does not take labelled arguments", "write \(fn.usage)")
            ok = false
        }
        let nodes = arguments.map { check($0.value) }
        guard arguments.count == fn.arity else {
            error(syntax.location, "\(fn.name) takes \(fn.arity) argument\(fn.arity == 1 ? "" : "s"), got \(arguments.count)",
                  "write \(fn.usage)")
            return nil
        }
        let checked = nodes.compactMap { $0 }
        guard ok, checked.count == nodes.count else { return nil }
        for (node, argument) in zip(checked, arguments) where rejectNull(node, argument.value) { ok = false }
        guard ok else { return nil }

        let types = checked.map(\.type)
        let resultType: RuleType?
        switch fn {
        case .lower, .upper, .trim:
            resultType = types == [.string] ? .string : nil
        case .contains, .startsWith, .endsWith:
            if fn == .contains, case .list = types[0] {
                error(syntax.location, "contains works on text, not lists", "write \(checked[1].text) in \(checked[0].text)")
                return nil
            }
            resultType = types == [.string, .string] ? .bool : nil
        case .length:
            if case .list = types[0] { resultType = .number } else { resultType = types == [.string] ? .number : nil }
        case .abs, .round, .floor, .ceil:
            resultType = types == [.number] ? .number : nil
        case .min, .max:
            resultType = types[0] == types[1] && (types[0] == .number || types[0] == .duration) ? types[0] : nil
        case .days:
            resultType = types == [.duration] ? .number : nil
        case .hasTag:
            resultType = nil
        }
        guard let resultType else {
            let got = types.map(\.description).joined(separator: ", ")
            let unitHint = fn.arity == 2 ? mixedUnitHint(checked[0], arguments[0].value, checked[1], arguments[1].value) : nil
            error(syntax.location, "\(fn.name) cannot be applied to (\(got))", unitHint ?? "usage: \(fn.signature)")
            return nil
        }
        return RuleExprNode(.call(fn, checked), type: resultType, text: text(syntax))
    }

    mutating func checkMetric(_ metric: RuleMetricDeclaration, _ arguments: [RuleSyntaxArgument], _ syntax: RuleSyntax) -> RuleExprNode? {
        var values: [String: RuleValue] = [:]
        var seen = Set<String>()
        var ok = true, labelsOK = true
        for argument in arguments {
            guard let label = argument.label else {
                let hint = metric.parameters.count == 1
                    ? "write \(metric.name)(\(metric.parameters[0].label): \(text(argument.value)))"
                    : "write \(metric.example)"
                error(argument.location, "arguments of \(metric.name) must be labelled", hint)
                ok = false
                labelsOK = false
                continue
            }
            guard let parameter = metric.parameters.first(where: { $0.label == label }) else {
                let labels = metric.parameters.map(\.label)
                // Labels the call already uses are not what the user meant to type.
                let provided = Set(arguments.compactMap(\.label))
                let hint = RuleSpelling.closest(to: label, among: labels.filter { !provided.contains($0) }, closedSet: true)
                    .map { "did you mean '\($0)'?" }
                    ?? (labels.isEmpty ? "\(metric.name) takes no arguments" : "\(metric.name) takes " + labels.joined(separator: ", "))
                error(argument.location, "unknown parameter '\(label)' for \(metric.name)", hint)
                ok = false
                labelsOK = false
                continue
            }
            guard seen.insert(label).inserted else {
                error(argument.location, "duplicate parameter '\(label)' for \(metric.name)")
                ok = false
                continue
            }
            guard let value = checkMetricArgument(argument.value, parameter, metric) else {
                ok = false
                continue
            }
            values[label] = value
        }
        if labelsOK {
            for parameter in metric.parameters where parameter.required && !seen.contains(parameter.label) {
                error(syntax.location, "missing required parameter '\(parameter.label)' for \(metric.name)",
                      "write \(metric.example)")
                ok = false
            }
        }
        guard ok else { return nil }
        let request = RuleMetricRequest(name: metric.name, arguments: values)
        let slot = metrics.slot(for: request)
        if !metricSlots.contains(slot) { metricSlots.append(slot) }
        return RuleExprNode(.metric(slot: slot, request: request), type: metric.result, text: text(syntax))
    }

    private mutating func checkMetricArgument(_ syntax: RuleSyntax, _ parameter: RuleMetricParameter, _ metric: RuleMetricDeclaration) -> RuleValue? {
        let label = parameter.label
        guard let node = check(syntax), !rejectNull(node, syntax) else { return nil }
        guard node.isConstant else {
            let example = switch parameter.type {
            case .duration: "90d"
            case .string: RuleValue.quote(parameter.allowed?.first ?? "…")
            default: "1"
            }
            error(syntax.location, "argument '\(label)' of \(metric.name) must be a constant, not \(node.text)",
                  "metrics are computed once per contact before rules run; use a literal such as \(label): \(example)")
            return nil
        }
        guard node.type == parameter.type else {
            error(syntax.location, "'\(label)' of \(metric.name) must be \(parameter.type.withArticle), got \(node.type)",
                  mixedUnitHint(types: node.type, parameter.type, numberSyntax: syntax))
            return nil
        }
        let value = RuleNode.lower(node).constantValue ?? .null
        switch value {
        case .duration(let seconds) where seconds <= 0:
            error(syntax.location, "'\(label)' of \(metric.name) must be a positive duration, got \(value)", "e.g. \(label): 90d")
            return nil
        case .string(let s):
            if let allowed = parameter.allowed, !allowed.contains(s) {
                let hint = RuleSpelling.closest(to: s, among: allowed, closedSet: true).map { "did you mean \(RuleValue.quote($0))?" }
                    ?? "expected one of " + allowed.map(RuleValue.quote).joined(separator: ", ")
                error(syntax.location, "unknown \(parameter.allowedName ?? "value") \(value) for \(metric.name)(\(label):)", hint)
                return nil
            }
        case .null:
            error(syntax.location, "'\(label)' of \(metric.name) evaluates to null")
            return nil
        default:
            break
        }
        return value
    }
}
