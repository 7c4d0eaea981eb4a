import Foundation
import Yams

/// Collects the issues of one file while its YAML is read.
final class IssueCollector {
    let file: String
    private(set) var issues: [ConfigIssue] = []

    init(file: String) {
        self.file = file
    }

    func add(_ message: String, at mark: Mark?) {
        issues.append(ConfigIssue(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1, message: message))
    }
}

/// Reads the YAML text of a config file into a node tree, reporting syntax errors with their position.
func composeYAML(_ text: String, issues: IssueCollector) -> Node? {
    do {
        return try Yams.compose(yaml: text)
    } catch let error as YamlError {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            // Rules like `orders(within: 90d)` hold ": ", which YAML reads as a key.
            let hint = problem.contains("mapping values are not allowed")
                ? " (a value containing \": \", such as a rule with within: 30d, must be quoted or written as a block: rule: |)" : ""
            issues.add("YAML syntax error: \(problem)\(hint)", at: mark)
        case .duplicatedKeysInMapping(let duplicates, let context):
            issues.add("duplicate key \(duplicates.joined(separator: ", "))", at: context.mark)
        default:
            issues.add("YAML error: \(error)", at: nil)
        }
    } catch {
        issues.add("YAML error: \(error)", at: nil)
    }
    return nil
}

/// Reads one YAML mapping, recording every key it is asked for so that any other key can be
/// reported as unknown, with a suggestion, when the mapping is finished.
final class MappingReader {
    let issues: IssueCollector
    /// Dotted path of this mapping, for messages (`server`, `platform`).
    let path: String
    let mark: Mark?
    private var entries: [(key: String, keyMark: Mark?, value: Node)] = []
    private var known: [String] = []
    /// Keys that must not appear, with the message to give (secrets belong in the environment).
    private var forbidden: [String: String] = [:]

    /// Wraps `node`, reporting a type error when it is not a mapping. A missing node reads as empty.
    init(_ node: Node?, path: String, issues: IssueCollector) {
        self.issues = issues
        self.path = path
        self.mark = node?.mark
        switch node {
        case .mapping(let mapping)?:
            for (key, value) in mapping {
                entries.append((key.string ?? "\(key)", key.mark, value))
            }
        case nil:
            break
        case let scalar? where scalar.null != nil:
            break
        case let other?:
            issues.add("\(path.isEmpty ? "the file" : path) must be a mapping of keys to values", at: other.mark)
        }
    }

    var isEmpty: Bool { entries.isEmpty }

    /// Keys in file order (for mappings whose keys are names the operator chooses).
    var keys: [String] { entries.map(\.key) }

    private func qualified(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The node for `key`, marking the key known.
    func node(_ key: String) -> Node? {
        known.append(key)
        return entries.first(where: { $0.key == key })?.value
    }

    /// Declares a key that must not be written here, with the reason given when it is.
    func forbid(_ key: String, because message: String) {
        forbidden[key] = message
    }

    func has(_ key: String) -> Bool { entries.contains { $0.key == key } }

    func mapping(_ key: String) -> MappingReader {
        MappingReader(node(key), path: qualified(key), issues: issues)
    }

    /// A list of strings (`[a, b]` or one per line).
    func stringList(_ key: String) -> [String] {
        guard let node = node(key) else { return [] }
        guard case .sequence(let items) = node else {
            issues.add("\(qualified(key)) must be a list of strings, not \(describe(node))", at: node.mark)
            return []
        }
        var result: [String] = []
        for item in items {
            if case .scalar(let scalar) = item, !scalar.string.isEmpty {
                result.append(scalar.string)
            } else {
                issues.add("\(qualified(key)) must be a list of strings, not \(describe(item))", at: item.mark)
            }
        }
        return result
    }

    func string(_ key: String) -> String? {
        guard let node = node(key) else { return nil }
        guard case .scalar(let scalar) = node else {
            issues.add("\(qualified(key)) must be a string, not \(describe(node))", at: node.mark)
            return nil
        }
        // `key:` with no value, or `~`, leaves the setting unset.
        return node.null != nil ? nil : scalar.string
    }

    func int(_ key: String, in range: ClosedRange<Int>? = nil) -> Int? {
        number(key, in: range, kind: "a whole number") { $0.int }
    }

    func double(_ key: String, in range: ClosedRange<Double>? = nil) -> Double? {
        number(key, in: range, kind: "a number") { $0.float ?? $0.int.map(Double.init) }
    }

    /// A scalar read by `extract`, reported when it is not one or falls outside `range`.
    private func number<T: Comparable>(
        _ key: String, in range: ClosedRange<T>?, kind: String, extract: (Node) -> T?
    ) -> T? {
        guard let node = node(key) else { return nil }
        guard case .scalar = node, let value = extract(node) else {
            issues.add("\(qualified(key)) must be \(kind), not \(describe(node))", at: node.mark)
            return nil
        }
        if let range, !range.contains(value) {
            issues.add("\(qualified(key)) must be between \(range.lowerBound) and \(range.upperBound), not \(value)", at: node.mark)
            return nil
        }
        return value
    }

    /// A mapping of names to strings (e.g. userid to display name).
    func stringMap(_ key: String) -> [String: String] {
        let inner = mapping(key)
        var result: [String: String] = [:]
        for entry in inner.entries {
            if let value = inner.string(entry.key) { result[entry.key] = value }
        }
        return result
    }

    func bool(_ key: String) -> Bool? {
        guard let node = node(key) else { return nil }
        guard case .scalar = node, let value = node.bool else {
            issues.add("\(qualified(key)) must be true or false, not \(describe(node))", at: node.mark)
            return nil
        }
        return value
    }

    func choice<T: RawRepresentable & CaseIterable>(_ key: String, of type: T.Type) -> T? where T.RawValue == String {
        guard let node = node(key) else { return nil }
        let options = T.allCases.map(\.rawValue)
        guard case .scalar(let scalar) = node, let value = T(rawValue: scalar.string) else {
            issues.add("\(qualified(key)) must be one of \(options.joined(separator: ", ")), not \(describe(node))", at: node.mark)
            return nil
        }
        return value
    }

    /// Reports a missing required value at this mapping.
    func missing(_ key: String, hint: String = "") {
        issues.add("missing required value \(qualified(key))\(hint.isEmpty ? "" : " (\(hint))")", at: mark)
    }

    /// Reports every key that was never asked for: unknown keys, with the likely intended one.
    func finish() {
        for entry in entries where !known.contains(entry.key) {
            if let message = forbidden[entry.key] {
                issues.add(message, at: entry.keyMark)
            } else if let guess = suggestion(for: entry.key, among: known) {
                issues.add("unknown key \(qualified(entry.key)); did you mean \(guess)?", at: entry.keyMark)
            } else {
                let allowed = known.isEmpty ? "none" : known.joined(separator: ", ")
                issues.add("unknown key \(qualified(entry.key)) (known keys: \(allowed))", at: entry.keyMark)
            }
        }
    }
}

func describe(_ node: Node) -> String {
    switch node {
    case .scalar(let scalar): return "\"\(scalar.string)\""
    case .mapping: return "a mapping"
    case .sequence: return "a list"
    case .alias: return "an alias"
    }
}
