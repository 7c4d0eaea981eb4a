/// The static type of a rule expression, as decided by the type checker.
public indirect enum RuleType: Sendable, Hashable, CustomStringConvertible {
    case number
    case string
    case bool
    /// A length of time; values are measured in seconds.
    case duration
    /// A homogeneous list. `.list(.null)` is the type of the empty list literal `[]`,
    /// which is compatible with every list type.
    case list(RuleType)
    /// The type of the `null` literal, which may only be compared with `==` / `!=`.
    case null

    /// How the type is named in diagnostics and documentation: "number", "list of string", ...
    public var description: String {
        switch self {
        case .number: "number"
        case .string: "string"
        case .bool: "bool"
        case .duration: "duration"
        case .list(.null): "empty list"
        case .list(let element): "list of \(element)"
        case .null: "null"
        }
    }

    /// Types that support `<`, `<=`, `>`, `>=` and `between`.
    var isOrdered: Bool {
        switch self {
        case .number, .string, .duration: true
        default: false
        }
    }

    /// Whether a value of type `other` may stand where `self` is expected.
    /// Only the empty list is flexible; everything else must match exactly.
    func accepts(_ other: RuleType) -> Bool {
        if self == other { return true }
        if case .list = self, other == .list(.null) { return true }
        if case .list(.null) = self, case .list = other { return true }
        return false
    }

    /// Article + name, for messages such as "expects a duration".
    var withArticle: String {
        switch self {
        case .list(.null): "an empty list"
        case .list: "a \(description)"
        case .null: "null"
        default: description.first.map { "aeiou".contains($0) } == true ? "an \(description)" : "a \(description)"
        }
    }
}

/// A runtime value. Facts supplied by the caller and results of evaluation are `RuleValue`s.
public enum RuleValue: Sendable, Hashable, CustomStringConvertible {
    case null
    case number(Double)
    case string(String)
    case bool(Bool)
    /// A length of time in seconds.
    case duration(Double)
    case list([RuleValue])

    /// True for `.null`.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The value written the way a user would write it in a rule:
    /// `6`, `12.5`, `"Champions"`, `30d`, `[1, 2]`, `null`, `true`.
    public var description: String {
        switch self {
        case .null: "null"
        case .number(let x): Self.format(number: x)
        case .string(let s): Self.quote(s)
        case .bool(let b): b ? "true" : "false"
        case .duration(let seconds): Self.format(duration: seconds)
        case .list(let items): "[" + items.map(\.description).joined(separator: ", ") + "]"
        }
    }

    static func format(number x: Double) -> String {
        // Integral values print without ".0" so that `6` reads back as the user wrote it;
        // the bound keeps the Int64 conversion exact.
        if x.isFinite, x == x.rounded(.towardZero), Swift.abs(x) < 1e15 {
            return String(Int64(x))
        }
        return String(x)
    }

    static func format(duration seconds: Double) -> String {
        guard seconds.isFinite, seconds == seconds.rounded(.towardZero), Swift.abs(seconds) < 1e15 else {
            return format(number: seconds) + "s"
        }
        let whole = Int64(seconds)
        if whole == 0 { return "0s" }
        // Days are preferred over weeks because CRM windows are usually written in days (14d, 90d).
        for (unit, size) in [("d", Int64(86_400)), ("h", 3_600), ("m", 60)] where whole % size == 0 {
            return "\(whole / size)\(unit)"
        }
        return "\(whole)s"
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16, uppercase: true)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

extension RuleValue: Codable {
    // JSON-native encoding so explanations stored in reports stay readable:
    // null, numbers, strings, bools and arrays map directly; a duration becomes {"duration": seconds}
    // because it has no JSON counterpart and must not be confused with a plain number.
    private enum CodingKeys: String, CodingKey { case duration }

    /// Decodes the JSON-native form written by ``encode(to:)``.
    public init(from decoder: any Decoder) throws {
        if let keyed = try? decoder.container(keyedBy: CodingKeys.self) {
            self = .duration(try keyed.decode(Double.self, forKey: .duration))
            return
        }
        let single = try decoder.singleValueContainer()
        if single.decodeNil() {
            self = .null
        } else if let b = try? single.decode(Bool.self) {
            self = .bool(b)
        } else if let x = try? single.decode(Double.self) {
            self = .number(x)
        } else if let s = try? single.decode(String.self) {
            self = .string(s)
        } else {
            self = .list(try single.decode([RuleValue].self))
        }
    }

    /// Encodes as plain JSON values; a duration as `{"duration": seconds}`.
    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .duration(let seconds):
            var keyed = encoder.container(keyedBy: CodingKeys.self)
            try keyed.encode(seconds, forKey: .duration)
        case .null:
            var single = encoder.singleValueContainer()
            try single.encodeNil()
        case .number(let x):
            var single = encoder.singleValueContainer()
            try single.encode(x)
        case .string(let s):
            var single = encoder.singleValueContainer()
            try single.encode(s)
        case .bool(let b):
            var single = encoder.singleValueContainer()
            try single.encode(b)
        case .list(let items):
            var single = encoder.singleValueContainer()
            try single.encode(items)
        }
    }
}
