import Foundation
import Mustache

/// A Mustache template that renders a customer message as plain text (nothing is
/// HTML-escaped) and refuses to leave a blank where the data lacks a value.
///
/// Names are checked when the template is loaded: every tag must name something the
/// ``TemplateShape`` says the data can supply. A nullable name used outside any section is
/// required: rendering fails for a contact without it, instead of sending a message with a gap.
public struct PlainTextTemplate: Sendable {
    public let name: String
    /// Dotted names that must have a value for a message to render.
    public let requiredNames: [String]
    /// The top-level names the template reads (`contact`, `staff`, ...): a message depends on
    /// nothing else, so equal values there render equal text.
    public let roots: Set<String>
    private let required: [[Substring]]
    private let template: MustacheTemplate

    /// Pragma that switches escaping off, put before the operator's text on the same line so
    /// line numbers stay the operator's.
    private static let pragma = "{{% CONTENT_TYPE: TEXT}}"

    public init(source: String, name: String, shape: TemplateShape) throws(TemplateIssues) {
        self.name = name
        var scanner = TemplateScanner(source: source, shape: shape)
        scanner.scan()
        var issues = scanner.issues
        var parsed: MustacheTemplate?
        do {
            parsed = try MustacheTemplate(string: Self.pragma + source)
        } catch let error as MustacheTemplate.ParserError {
            let line = error.context.lineNumber
            let column = line == 1 ? max(1, error.context.columnNumber - Self.pragma.count) : error.context.columnNumber
            if !issues.contains(where: { $0.line == line }) {
                issues.append(TemplateIssue(line: line, column: column, message: "template syntax: \(Self.describe(error.error))"))
            }
        } catch {
            issues.append(TemplateIssue(line: 1, column: 1, message: "template syntax: \(error)"))
        }
        guard issues.isEmpty, let parsed else {
            throw TemplateIssues(issues: issues.sorted { ($0.line, $0.column) < ($1.line, $1.column) })
        }
        template = parsed
        requiredNames = scanner.required
        roots = scanner.roots
        required = scanner.required.map { $0.split(separator: ".") }
    }

    /// Renders for one context; fails when a required name has no value or the text is over `maxBytes`.
    public func render(_ context: TemplateValue, maxBytes: Int = 4000) throws(TemplateRenderError) -> String {
        for (index, path) in required.enumerated() {
            guard let value = context.lookup(path), value.isPresent else { throw .missingValue(name: requiredNames[index]) }
        }
        let text = template.render(context.mustache ?? [String: Any]())
        let bytes = text.utf8.count
        if bytes > maxBytes { throw .tooLong(bytes: bytes, limit: maxBytes) }
        return text
    }

    private static func describe(_ error: any Error) -> String {
        guard let error = error as? MustacheTemplate.Error else { return "\(error)" }
        switch error {
        case .sectionCloseNameIncorrect: return "a closing tag does not match the open section"
        case .unfinishedName: return "a tag is not closed"
        case .expectedSectionEnd: return "a section is never closed"
        case .invalidSetDelimiter: return "bad delimiter change"
        default: return "\(error)"
        }
    }
}

/// Walks a template's tags with their positions, checking names against the shape.
struct TemplateScanner {
    let chars: [Character]
    let shape: TemplateShape
    var issues: [TemplateIssue] = []
    var required: [String] = []
    var roots: Set<String> = []
    private var open = "{{"
    private var close = "}}"
    /// Open sections: name, the shape names resolve against inside it, where it opened.
    private var sections: [(name: String, scope: TemplateShape?, line: Int, column: Int)] = []
    private var index = 0
    private var line = 1
    private var column = 1

    init(source: String, shape: TemplateShape) {
        self.chars = Array(source)
        self.shape = shape
    }

    private func starts(with token: String, at position: Int) -> Bool {
        var offset = position
        for character in token {
            guard offset < chars.count, chars[offset] == character else { return false }
            offset += 1
        }
        return true
    }

    private mutating func advance(_ count: Int) {
        for _ in 0..<count where index < chars.count {
            if chars[index] == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
            index += 1
        }
    }

    mutating func scan() {
        while index < chars.count {
            guard starts(with: open, at: index) else {
                advance(1)
                continue
            }
            let tagLine = line
            let tagColumn = column
            advance(open.count)
            var triple = false
            if open == "{{", index < chars.count, chars[index] == "{" {
                triple = true
                advance(1)
            }
            let closing = triple ? "}" + close : close
            var body = ""
            while index < chars.count, !starts(with: closing, at: index) {
                body.append(chars[index])
                advance(1)
            }
            guard index < chars.count else {
                issue(tagLine, tagColumn, "this tag is never closed with \(closing)")
                return
            }
            advance(closing.count)
            tag(body, triple: triple, line: tagLine, column: tagColumn)
        }
        if let section = sections.last {
            issue(section.line, section.column, "section \(section.name) is never closed with {{/\(section.name)}}")
        }
    }

    private mutating func issue(_ line: Int, _ column: Int, _ message: String) {
        issues.append(TemplateIssue(line: line, column: column, message: message))
    }

    private mutating func tag(_ raw: String, triple: Bool, line: Int, column: Int) {
        let body = raw.trimmingCharacters(in: .whitespaces)
        if triple {
            variable(body, line: line, column: column)
            return
        }
        guard let sigil = body.first else {
            issue(line, column, "empty tag")
            return
        }
        let rest = body.dropFirst().trimmingCharacters(in: .whitespaces)
        switch sigil {
        case "!", "%":
            return
        case "=":
            let inner = rest.hasSuffix("=") ? String(rest.dropLast()) : rest
            let parts = inner.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count == 2 else {
                issue(line, column, "a delimiter change is written {{=<% %>=}}")
                return
            }
            open = String(parts[0])
            close = String(parts[1])
        case "#", "^":
            let scope = resolve(rest, line: line, column: column, asSection: true)
            sections.append((rest, scope, line, column))
        case "/":
            guard let last = sections.last else {
                issue(line, column, "{{/\(rest)}} closes no open section")
                return
            }
            if last.name != rest {
                issue(line, column, "{{/\(rest)}} does not match the open section \(last.name) (line \(last.line))")
            }
            sections.removeLast()
        case ">", "<", "$":
            issue(line, column, "partials and template inheritance are not supported in messages; write the text in this template")
        case "&":
            variable(rest, line: line, column: column)
        default:
            variable(body, line: line, column: column)
        }
    }

    private mutating func variable(_ name: String, line: Int, column: Int) {
        guard let resolved = resolve(name, line: line, column: column, asSection: false) else { return }
        switch resolved {
        case .scalar(let nullable):
            if nullable, sections.isEmpty, !required.contains(name) { required.append(name) }
        case .list:
            issue(line, column, "'\(name)' is a list; iterate it with {{#\(name)}}…{{/\(name)}}")
        case .object:
            issue(line, column, "'\(name)' holds several values; name one, such as \(shape.names(prefix: name).first(where: { $0 != name }) ?? name + ".…")")
        }
    }

    /// The shape a name refers to, from the innermost section outwards; nil (with an issue) when unknown.
    /// For a section, the shape names inside it resolve against.
    private mutating func resolve(_ name: String, line: Int, column: Int, asSection: Bool) -> TemplateShape? {
        if name == "." {
            if let scope = sections.last(where: { $0.scope != nil })?.scope, case .scalar = scope { return scope }
            if sections.isEmpty { issue(line, column, "{{.}} only means something inside a section over a list of values") }
            return sections.last?.scope
        }
        let path = name.split(separator: ".", omittingEmptySubsequences: false)
        guard !path.isEmpty, !path.contains(where: \.isEmpty) else {
            issue(line, column, "'\(name)' is not a name")
            return nil
        }
        let scopes = sections.reversed().compactMap(\.scope) + [shape]
        for (position, scope) in scopes.enumerated() {
            guard case .object(let children) = scope, var current = children[String(path[0])] else { continue }
            if position == scopes.count - 1 { roots.insert(String(path[0])) }
            for step in path.dropFirst() {
                guard case .object(let inner) = current, let next = inner[String(step)] else {
                    unknown(name, line: line, column: column)
                    return nil
                }
                current = next
            }
            if asSection, case .list(let item) = current { return item }
            return current
        }
        unknown(name, line: line, column: column)
        return nil
    }

    private mutating func unknown(_ name: String, line: Int, column: Int) {
        var candidates = shape.names()
        for section in sections { if let scope = section.scope { candidates += scope.names() } }
        let hint = closest(name, candidates).map { "; did you mean '\($0)'?" } ?? ""
        issue(line, column, "unknown name '\(name)'\(hint)")
    }

    private func closest(_ word: String, _ candidates: [String]) -> String? {
        var best: (String, Int)?
        for candidate in candidates {
            let distance = Self.distance(Array(word), Array(candidate))
            if distance <= max(1, candidate.count / 3), best == nil || distance < best!.1 { best = (candidate, distance) }
        }
        return best?.0
    }

    private static func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
