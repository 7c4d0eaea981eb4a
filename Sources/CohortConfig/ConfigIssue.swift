/// One problem in the operator's configuration, located at a file, line and column.
public struct ConfigIssue: Sendable, Hashable, CustomStringConvertible, Comparable {
    /// The file as the operator names it (e.g. `Config/cohort.yaml`), or `environment`.
    public var file: String
    /// 1-based line; 0 when the problem concerns an environment variable.
    public var line: Int
    /// 1-based column.
    public var column: Int
    public var message: String

    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    /// `path:line:column: message`, the form editors and CI annotate.
    public var description: String {
        line > 0 ? "\(file):\(line):\(column): \(message)" : "\(file): \(message)"
    }

    public static func < (lhs: ConfigIssue, rhs: ConfigIssue) -> Bool {
        (lhs.file, lhs.line, lhs.column, lhs.message) < (rhs.file, rhs.line, rhs.column, rhs.message)
    }
}

/// A configuration that cannot be used, with every problem found.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var issues: [ConfigIssue]

    public init(issues: [ConfigIssue]) {
        self.issues = issues.sorted()
    }

    public var description: String {
        issues.map(\.description).joined(separator: "\n")
    }
}

/// The closest candidate by edit distance, if it is close enough to be a likely typo.
func suggestion(for word: String, among candidates: some Sequence<String>) -> String? {
    var best: (String, Int)?
    for candidate in candidates {
        let distance = editDistance(Array(word), Array(candidate))
        if distance <= max(1, candidate.count / 3), best == nil || distance < best!.1 { best = (candidate, distance) }
    }
    return best?.0
}

/// Optimal string alignment distance: edits plus adjacent transpositions (`prot` → `port` is 1).
private func editDistance(_ a: [Character], _ b: [Character]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
    for i in 0...a.count { d[i][0] = i }
    for j in 0...b.count { d[0][j] = j }
    for i in 1...a.count {
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
        }
    }
    return d[a.count][b.count]
}
