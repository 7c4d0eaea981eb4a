/// Comparison operators (`in` and `between` are separate nodes).
enum RuleComparison: Sendable {
    case equal, notEqual, less, lessOrEqual, greater, greaterOrEqual

    var symbol: String {
        switch self {
        case .equal: "=="
        case .notEqual: "!="
        case .less: "<"
        case .lessOrEqual: "<="
        case .greater: ">"
        case .greaterOrEqual: ">="
        }
    }

    var isOrdering: Bool { self != .equal && self != .notEqual }

    /// The operator that gives the same answer with operands swapped (`5 < x` is `x > 5`).
    var swapped: RuleComparison {
        switch self {
        case .less: .greater
        case .lessOrEqual: .greaterOrEqual
        case .greater: .less
        case .greaterOrEqual: .lessOrEqual
        default: self
        }
    }

    @inline(__always)
    func holds<T: Comparable>(_ a: T, _ b: T) -> Bool {
        switch self {
        case .equal: a == b
        case .notEqual: a != b
        case .less: a < b
        case .lessOrEqual: a <= b
        case .greater: a > b
        case .greaterOrEqual: a >= b
        }
    }
}

enum RuleArithmetic: Sendable {
    case add, subtract, multiply, divide, remainder

    var symbol: String {
        switch self {
        case .add: "+"
        case .subtract: "-"
        case .multiply: "*"
        case .divide: "/"
        case .remainder: "%"
        }
    }

    /// The static result type, or nil when the combination is not allowed.
    func resultType(_ l: RuleType, _ r: RuleType) -> RuleType? {
        switch (self, l, r) {
        case (_, .number, .number): .number
        case (.add, .duration, .duration), (.subtract, .duration, .duration): .duration
        case (.multiply, .number, .duration), (.multiply, .duration, .number), (.divide, .duration, .number): .duration
        default: nil
        }
    }
}

/// Built-in functions, always available regardless of the schema.
enum RuleBuiltin: String, CaseIterable, Sendable {
    case hasTag = "has_tag"
    case lower, upper, trim
    case contains
    case startsWith = "starts_with"
    case endsWith = "ends_with"
    case length
    case abs, round, floor, ceil
    case min, max
    case days

    var name: String { rawValue }

    /// How to call it, used in hints.
    var usage: String {
        switch self {
        case .hasTag: "has_tag(\"VIP\")"
        case .lower, .upper, .trim: "\(name)(text)"
        case .contains: "contains(text, part)"
        case .startsWith: "starts_with(text, prefix)"
        case .endsWith: "ends_with(text, suffix)"
        case .length: "length(text_or_list)"
        case .abs, .round, .floor, .ceil: "\(name)(number)"
        case .min, .max: "\(name)(a, b)"
        case .days: "days(duration)"
        }
    }

    var signature: String {
        switch self {
        case .hasTag: "has_tag(name: string [, group: string]) -> bool"
        case .lower, .upper, .trim: "\(name)(string) -> string"
        case .contains, .startsWith, .endsWith: "\(name)(string, string) -> bool"
        case .length: "length(string or list) -> number"
        case .abs, .round, .floor, .ceil: "\(name)(number) -> number"
        case .min, .max: "\(name)(a, b) -> number or duration (a and b of the same type)"
        case .days: "days(duration) -> number"
        }
    }

    var arity: Int {
        switch self {
        case .contains, .startsWith, .endsWith, .min, .max: 2
        default: 1
        }
    }
}

/// The semantics shared by fast evaluation, constant folding and explanation, so the three
/// can never disagree. Every operation is null-propagating (Kleene logic for and/or/not), and a
/// value of an unexpected kind — which the type checker rules out except for mistyped facts —
/// is treated as null rather than trapping.
enum RuleOperations {
    @inline(__always)
    static func not(_ v: RuleValue) -> RuleValue {
        if case .bool(let b) = v { return .bool(!b) }
        return .null
    }

    @inline(__always)
    static func and(_ l: RuleValue, _ r: RuleValue) -> RuleValue {
        switch (l, r) {
        case (.bool(false), _), (_, .bool(false)): .bool(false)
        case (.bool(true), .bool(true)): .bool(true)
        default: .null
        }
    }

    @inline(__always)
    static func or(_ l: RuleValue, _ r: RuleValue) -> RuleValue {
        switch (l, r) {
        case (.bool(true), _), (_, .bool(true)): .bool(true)
        case (.bool(false), .bool(false)): .bool(false)
        default: .null
        }
    }

    static func compare(_ op: RuleComparison, _ l: RuleValue, _ r: RuleValue) -> RuleValue {
        switch (l, r) {
        case (.number(let a), .number(let b)), (.duration(let a), .duration(let b)):
            return .bool(op.holds(a, b))
        case (.string(let a), .string(let b)):
            return .bool(op.holds(a, b))
        case (.bool(let a), .bool(let b)) where !op.isOrdering:
            return .bool((a == b) == (op == .equal))
        case (.list, .list) where !op.isOrdering:
            return .bool((l == r) == (op == .equal))
        default:
            return .null
        }
    }

    @inline(__always)
    static func nullCheck(_ v: RuleValue, isNull: Bool) -> RuleValue {
        .bool(v.isNull == isNull)
    }

    static func membership(_ v: RuleValue, in list: RuleValue, negated: Bool) -> RuleValue {
        guard !v.isNull, case .list(let items) = list else { return .null }
        return .bool(items.contains(v) != negated)
    }

    static func between(_ v: RuleValue, _ low: RuleValue, _ high: RuleValue) -> RuleValue {
        and(compare(.greaterOrEqual, v, low), compare(.lessOrEqual, v, high))
    }

    static func arithmetic(_ op: RuleArithmetic, _ l: RuleValue, _ r: RuleValue) -> RuleValue {
        let result: RuleValue
        switch (op, l, r) {
        case (_, .number(let a), .number(let b)):
            switch op {
            case .add: result = .number(a + b)
            case .subtract: result = .number(a - b)
            case .multiply: result = .number(a * b)
            // Division by zero yields null ("unknown") instead of infinity, so a rule such as
            // `monetary / orders > 100` is simply not satisfied for contacts without orders.
            case .divide: result = b == 0 ? .null : .number(a / b)
            case .remainder: result = b == 0 ? .null : .number(a.truncatingRemainder(dividingBy: b))
            }
        case (.add, .duration(let a), .duration(let b)): result = .duration(a + b)
        case (.subtract, .duration(let a), .duration(let b)): result = .duration(a - b)
        case (.multiply, .number(let a), .duration(let b)), (.multiply, .duration(let a), .number(let b)):
            result = .duration(a * b)
        case (.divide, .duration(let a), .number(let b)): result = b == 0 ? .null : .duration(a / b)
        default: return .null
        }
        switch result {
        case .number(let x), .duration(let x):
            return x.isFinite ? result : .null
        default:
            return result
        }
    }

    static func negate(_ v: RuleValue) -> RuleValue {
        switch v {
        case .number(let x): .number(-x)
        case .duration(let x): .duration(-x)
        default: .null
        }
    }

    static func call(_ fn: RuleBuiltin, _ a: RuleValue) -> RuleValue {
        switch (fn, a) {
        case (.lower, .string(let s)): return .string(s.lowercased())
        case (.upper, .string(let s)): return .string(s.uppercased())
        case (.trim, .string(let s)):
            var text = Substring(s)
            while let c = text.first, c.isWhitespace { text.removeFirst() }
            while let c = text.last, c.isWhitespace { text.removeLast() }
            return .string(String(text))
        case (.length, .string(let s)): return .number(Double(s.count))
        case (.length, .list(let items)): return .number(Double(items.count))
        case (.abs, .number(let x)): return .number(Swift.abs(x))
        // Half away from zero (2.5 → 3), which is what spreadsheet users expect.
        case (.round, .number(let x)): return .number(x.rounded(.toNearestOrAwayFromZero))
        case (.floor, .number(let x)): return .number(x.rounded(.down))
        case (.ceil, .number(let x)): return .number(x.rounded(.up))
        case (.days, .duration(let seconds)): return .number(seconds / 86_400)
        default: return .null
        }
    }

    static func call(_ fn: RuleBuiltin, _ a: RuleValue, _ b: RuleValue) -> RuleValue {
        switch (fn, a, b) {
        case (.contains, .string(let s), .string(let part)): return .bool(substring(part, of: s))
        case (.startsWith, .string(let s), .string(let prefix)): return .bool(s.hasPrefix(prefix))
        case (.endsWith, .string(let s), .string(let suffix)): return .bool(s.hasSuffix(suffix))
        case (.min, .number(let x), .number(let y)): return .number(Swift.min(x, y))
        case (.max, .number(let x), .number(let y)): return .number(Swift.max(x, y))
        case (.min, .duration(let x), .duration(let y)): return .duration(Swift.min(x, y))
        case (.max, .duration(let x), .duration(let y)): return .duration(Swift.max(x, y))
        default: return .null
        }
    }

    /// Substring search on UTF-8 bytes. The generic `String.contains` goes through the
    /// string-processing machinery and costs microseconds per call, which dominates a run over a
    /// million contacts. A byte match is accepted only if it starts and ends on Character
    /// boundaries, so "e" is not found inside a decomposed "é"; like the byte search itself,
    /// this compares text as stored, without Unicode normalization.
    static func substring(_ part: String, of text: String) -> Bool {
        if part.isEmpty { return true }
        let found = text.utf8.withContiguousStorageIfAvailable { haystack in
            part.utf8.withContiguousStorageIfAvailable { needle in
                firstMatch(needle, in: haystack) { offset in
                    let utf8 = text.utf8
                    let start = utf8.index(utf8.startIndex, offsetBy: offset)
                    let end = utf8.index(start, offsetBy: needle.count)
                    return start.samePosition(in: text) != nil && end.samePosition(in: text) != nil
                }
            }
        }
        // Strings without contiguous UTF-8 (bridged ones) take the slow general path.
        return (found ?? nil) ?? text.contains(part)
    }

    private static func firstMatch(
        _ needle: UnsafeBufferPointer<UInt8>,
        in haystack: UnsafeBufferPointer<UInt8>,
        onCharacterBoundaries: (Int) -> Bool
    ) -> Bool {
        guard needle.count <= haystack.count else { return false }
        let first = needle[0]
        var i = 0
        while i <= haystack.count - needle.count {
            if haystack[i] == first {
                var j = 1
                while j < needle.count && haystack[i + j] == needle[j] { j += 1 }
                if j == needle.count {
                    let end = i + needle.count
                    if isBoundary(haystack, i) && isBoundary(haystack, end) { return true }
                    if onCharacterBoundaries(i) { return true }
                }
            }
            i += 1
        }
        return false
    }

    /// A cheap sufficient test for a Character boundary: between two ASCII bytes other than CR LF.
    @inline(__always)
    private static func isBoundary(_ bytes: UnsafeBufferPointer<UInt8>, _ i: Int) -> Bool {
        if i == 0 || i == bytes.count { return true }
        let before = bytes[i - 1], after = bytes[i]
        return before < 0x80 && after < 0x80 && !(before == 0x0D && after == 0x0A)
    }

    static func call(_ fn: RuleBuiltin, _ arguments: [RuleValue]) -> RuleValue {
        switch arguments.count {
        case 1: call(fn, arguments[0])
        case 2: call(fn, arguments[0], arguments[1])
        default: .null
        }
    }
}
