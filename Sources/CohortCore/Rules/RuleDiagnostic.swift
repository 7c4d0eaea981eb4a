/// A position inside a rule's own source text.
public struct RuleSourceLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// 1-based line number.
    public var line: Int
    /// 1-based column, counted in `Character`s (so `免` is one column, not three bytes).
    public var column: Int

    /// A location; both numbers are 1-based.
    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    /// `line:column`.
    public var description: String { "\(line):\(column)" }

    /// Orders by line, then column.
    public static func < (lhs: RuleSourceLocation, rhs: RuleSourceLocation) -> Bool {
        (lhs.line, lhs.column) < (rhs.line, rhs.column)
    }
}

/// One problem found while compiling a rule.
public struct RuleDiagnostic: Error, Sendable, Hashable, CustomStringConvertible {
    /// Where the problem is, relative to the rule's source.
    public var location: RuleSourceLocation
    /// What is wrong, e.g. `unknown field 'ordrs'`.
    public var message: String
    /// How to fix it, when there is an obvious fix, e.g. `did you mean 'orders'?`.
    public var suggestion: String?

    /// A diagnostic at `location`, with an optional fix.
    public init(location: RuleSourceLocation, message: String, suggestion: String? = nil) {
        self.location = location
        self.message = message
        self.suggestion = suggestion
    }

    /// `line:column: message; suggestion`.
    public var description: String {
        var text = "\(location): \(message)"
        if let suggestion { text += "; \(suggestion)" }
        return text
    }
}

/// All problems found while compiling one rule, ordered by location.
public struct RuleCompileErrors: Error, Sendable, Hashable, CustomStringConvertible {
    /// At least one diagnostic, sorted by location.
    public var diagnostics: [RuleDiagnostic]

    /// Wraps diagnostics as thrown/returned by the compiler.
    public init(_ diagnostics: [RuleDiagnostic]) {
        self.diagnostics = diagnostics
    }

    /// One diagnostic per line.
    public var description: String {
        diagnostics.map(\.description).joined(separator: "\n")
    }
}

/// "Did you mean" support shared by the lexer, parser and checker.
enum RuleSpelling {
    /// Levenshtein distance over `Character`s, case-insensitive.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a.lowercased()), b = Array(b.lowercased())
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }

    /// The closest candidate close enough to be a plausible typo.
    ///
    /// Open-ended name lists (fields, functions) only tolerate about one edit per three
    /// characters, or suggestions become noise. A small closed set (a metric's parameters,
    /// its allowed kinds) tolerates much more, because almost any guess is better than none.
    static func closest(to word: String, among candidates: [String], closedSet: Bool = false) -> String? {
        var best: (name: String, distance: Int)?
        for candidate in candidates where candidate != word {
            let d = distance(word, candidate)
            let longest = Swift.max(word.count, candidate.count)
            let limit = closedSet ? longest * 2 / 3 : Swift.max(1, longest / 3)
            if d <= limit, best == nil || d < best!.distance {
                best = (candidate, d)
            }
        }
        return best?.name
    }
}
