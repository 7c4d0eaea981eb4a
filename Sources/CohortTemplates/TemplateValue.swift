import Foundation

/// A value in a message's rendering context.
public enum TemplateValue: Sendable, Hashable {
    case null
    case string(String)
    /// Shown without a fraction when whole (3, not 3.0), else with up to two decimals.
    case number(Double)
    case bool(Bool)
    case list([TemplateValue])
    case object([String: TemplateValue])

    /// The value at a dotted path (`contact.name`), nil when any step is missing.
    public func lookup(_ path: [Substring]) -> TemplateValue? {
        var current = self
        for step in path {
            guard case .object(let children) = current, let next = children[String(step)] else { return nil }
            current = next
        }
        return current
    }

    /// Whether the value is there to print: not null, not an empty string.
    var isPresent: Bool {
        switch self {
        case .null: false
        case .string(let text): !text.isEmpty
        default: true
        }
    }

    static func format(_ number: Double) -> String {
        if number.rounded() == number, abs(number) < 1e15 { return String(Int64(number)) }
        var text = String(format: "%.2f", number)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }

    /// What swift-mustache renders: strings, booleans, arrays and dictionaries. Nulls are left
    /// out so sections over them are falsy.
    var mustache: Any? {
        switch self {
        case .null: nil
        case .string(let text): text
        case .number(let number): Self.format(number)
        case .bool(let flag): flag
        case .list(let items): items.compactMap(\.mustache)
        case .object(let children):
            children.reduce(into: [String: Any]()) { result, entry in
                if let value = entry.value.mustache { result[entry.key] = value }
            }
        }
    }
}

/// The names a template may use: a tree of what the data can supply.
public indirect enum TemplateShape: Sendable, Hashable {
    /// A printable value; nullable when some contacts lack it.
    case scalar(nullable: Bool)
    /// Iterated by a section; names inside resolve against the item first.
    case list(item: TemplateShape)
    /// Dotted names: `contact.name`.
    case object([String: TemplateShape])

    /// Every printable dotted name, for suggestions.
    func names(prefix: String = "") -> [String] {
        switch self {
        case .scalar: return prefix.isEmpty ? [] : [prefix]
        case .list: return prefix.isEmpty ? [] : [prefix]
        case .object(let children):
            return children.keys.sorted().flatMap { key in
                let name = prefix.isEmpty ? key : prefix + "." + key
                return [name] + children[key]!.names(prefix: name).filter { $0 != name }
            }
        }
    }
}

/// A problem in a template, at its line and column.
public struct TemplateIssue: Error, Sendable, Hashable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var message: String

    public init(line: Int, column: Int, message: String) {
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String { "\(line):\(column): \(message)" }
}

/// Every problem found in a template.
public struct TemplateIssues: Error, Sendable, Hashable {
    public var issues: [TemplateIssue]
}

/// Why a message could not be rendered for one context.
public enum TemplateRenderError: Error, Sendable, Hashable, CustomStringConvertible {
    case missingValue(name: String)
    case tooLong(bytes: Int, limit: Int)

    public var description: String {
        switch self {
        case .missingValue(let name): "the data has no value for \(name)"
        case .tooLong(let bytes, let limit): "the message is \(bytes) bytes; the platform takes at most \(limit)"
        }
    }
}
