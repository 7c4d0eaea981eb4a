/// One row of a segment map: a segment name and the score ranges a contact must fall in.
///
/// A rule matches when every range it has contains the contact's value; a `nil` range matches
/// anything, so a rule without ranges matches everybody.
public struct RFMSegmentRule: Sendable, Hashable, Codable {
    /// The segment a matching contact is put in.
    public var segment: String
    /// Allowed recency scores.
    public var r: ClosedRange<Int>?
    /// Allowed frequency scores.
    public var f: ClosedRange<Int>?
    /// Allowed monetary scores.
    public var m: ClosedRange<Int>?
    /// Allowed values of `(f + m) / 2`, which may end in `.5`.
    public var fm: ClosedRange<Double>?

    /// Creates a rule; omitted ranges match anything.
    public init(
        segment: String,
        r: ClosedRange<Int>? = nil,
        f: ClosedRange<Int>? = nil,
        m: ClosedRange<Int>? = nil,
        fm: ClosedRange<Double>? = nil
    ) {
        self.segment = segment
        self.r = r
        self.f = f
        self.m = m
        self.fm = fm
    }

    /// Whether the rule matches scores `(r, f, m)`.
    public func matches(r: Int, f: Int, m: Int) -> Bool {
        if let range = self.r, !range.contains(r) { return false }
        if let range = self.f, !range.contains(f) { return false }
        if let range = self.m, !range.contains(m) { return false }
        if let range = self.fm, !range.contains(Double(f + m) / 2) { return false }
        return true
    }
}

/// A named, ordered list of segment rules; the first matching rule wins.
public struct RFMSegmentMap: Sendable, Hashable, Codable {
    /// A name to show and store the map under.
    public var name: String
    /// The rules in evaluation order.
    public var rules: [RFMSegmentRule]

    /// Creates a map; `rules` are evaluated in the given order.
    public init(name: String, rules: [RFMSegmentRule]) {
        self.name = name
        self.rules = rules
    }

    /// The segment of the first rule matching `(r, f, m)`, or `nil` when none does.
    public func segment(r: Int, f: Int, m: Int) -> String? {
        rules.first { $0.matches(r: r, f: f, m: m) }?.segment
    }

    /// Checks the map over all 125 score combinations in `1...5`³.
    public func lint() -> RFMSegmentMapLint {
        var ruleWins = [Bool](repeating: false, count: rules.count)
        var unmatched: [RFMCell] = []
        for r in 1...5 {
            for f in 1...5 {
                for m in 1...5 {
                    if let index = rules.firstIndex(where: { $0.matches(r: r, f: f, m: m) }) {
                        ruleWins[index] = true
                    } else {
                        unmatched.append(RFMCell(r: r, f: f, m: m))
                    }
                }
            }
        }
        var reached = Set<String>()
        for (index, rule) in rules.enumerated() where ruleWins[index] {
            reached.insert(rule.segment)
        }
        var unreachable: [String] = []
        var seen = Set<String>()
        for rule in rules where !reached.contains(rule.segment) && seen.insert(rule.segment).inserted {
            unreachable.append(rule.segment)
        }
        let shadowed = rules.indices.filter { !ruleWins[$0] }
        return RFMSegmentMapLint(unreachable: unreachable, unmatched: unmatched, shadowedRules: shadowed)
    }

    /// The segment of every cell in `1...5`³, indexed by ``cellIndex(r:f:m:)``, so grading a
    /// million contacts is one array lookup each instead of a rule scan.
    func cellTable() -> [String?] {
        var table = [String?](repeating: nil, count: 125)
        for r in 1...5 {
            for f in 1...5 {
                for m in 1...5 {
                    table[Self.cellIndex(r: r, f: f, m: m)] = segment(r: r, f: f, m: m)
                }
            }
        }
        return table
    }

    static func cellIndex(r: Int, f: Int, m: Int) -> Int {
        (r - 1) * 25 + (f - 1) * 5 + (m - 1)
    }
}

/// One score combination `(r, f, m)`.
public struct RFMCell: Sendable, Hashable, Codable {
    /// Recency score.
    public var r: Int
    /// Frequency score.
    public var f: Int
    /// Monetary score.
    public var m: Int

    /// Creates a cell.
    public init(r: Int, f: Int, m: Int) {
        self.r = r
        self.f = f
        self.m = m
    }
}

/// What ``RFMSegmentMap/lint()`` found over the 125 combinations in `1...5`³.
public struct RFMSegmentMapLint: Sendable, Hashable, Codable {
    /// Segments that no combination reaches given the rule order, in rule order.
    public var unreachable: [String]
    /// Combinations no rule matches, ascending by `(r, f, m)`; such contacts get no segment.
    public var unmatched: [RFMCell]
    /// Indices of rules that never win — dead rows even when their segment is reached via
    /// another rule.
    public var shadowedRules: [Int]

    /// Creates a lint result.
    public init(unreachable: [String], unmatched: [RFMCell], shadowedRules: [Int]) {
        self.unreachable = unreachable
        self.unmatched = unmatched
        self.shadowedRules = shadowedRules
    }

    /// Whether nothing was found.
    public var isClean: Bool {
        unreachable.isEmpty && unmatched.isEmpty && shadowedRules.isEmpty
    }
}

extension RFMSegmentMap {
    /// The classic R×F grid of ten segments; M is ignored. The rules partition the 25 (r, f)
    /// cells, so their order does not matter:
    ///
    /// | R \ F | 1 | 2 | 3 | 4 | 5 |
    /// |---|---|---|---|---|---|
    /// | 1–2 | Hibernating | Hibernating | At Risk | At Risk | Can't Lose Them |
    /// | 3 | About To Sleep | About To Sleep | Need Attention | Loyal Customers | Loyal Customers |
    /// | 4 | Promising | Potential Loyalists | Potential Loyalists | Loyal Customers | Loyal Customers |
    /// | 5 | New Customers | Potential Loyalists | Potential Loyalists | Champions | Champions |
    public static let rfGrid = RFMSegmentMap(
        name: "R×F grid",
        rules: [
            RFMSegmentRule(segment: "Hibernating", r: 1...2, f: 1...2),
            RFMSegmentRule(segment: "At Risk", r: 1...2, f: 3...4),
            RFMSegmentRule(segment: "Can't Lose Them", r: 1...2, f: 5...5),
            RFMSegmentRule(segment: "About To Sleep", r: 3...3, f: 1...2),
            RFMSegmentRule(segment: "Need Attention", r: 3...3, f: 3...3),
            RFMSegmentRule(segment: "Loyal Customers", r: 3...4, f: 4...5),
            RFMSegmentRule(segment: "Promising", r: 4...4, f: 1...1),
            RFMSegmentRule(segment: "Potential Loyalists", r: 4...5, f: 2...3),
            RFMSegmentRule(segment: "New Customers", r: 5...5, f: 1...1),
            RFMSegmentRule(segment: "Champions", r: 5...5, f: 4...5),
        ])

    /// The eleven-segment R/FM table, where FM = `(f + m) / 2`. Its ranges overlap, so the order
    /// below is part of the contract:
    ///
    /// | # | Segment | R | FM | Cells it wins (R; FM) |
    /// |---|---|---|---|---|
    /// | 1 | Champions | 4–5 | 4–5 | 4–5; 4–5 |
    /// | 2 | Loyal Customers | 2–5 | 3–5 | 2–3; 3–5 and 4–5; 3–3.5 |
    /// | 3 | Recent Customers | 4–5 | 0–1 | 4–5; 1 |
    /// | 4 | Promising | 3–4 | 0–1 | 3; 1 |
    /// | 5 | Potential Loyalist | 3–5 | 1–3 | 3–5; 1.5–2.5 |
    /// | 6 | Customers Needing Attention | 2–3 | 2–3 | 2; 2–2.5 |
    /// | 7 | About To Sleep | 2–3 | 0–2 | 2; 1–1.5 |
    /// | 8 | Can't Lose Them | 0–1 | 4–5 | 1; 4–5 |
    /// | 9 | At Risk | 0–2 | 2–5 | 1; 2–3.5 |
    /// | 10 | Lost | 0–2 | **0–1** | 1; 1 (i.e. r = f = m = 1) |
    /// | 11 | Hibernating | 1–2 | 1–2 | 1; 1.5 |
    ///
    /// Why this order: it is the published order, moved only where containment forces it.
    /// Champions sits inside Loyal Customers, so it comes first. Recent Customers and Promising
    /// sit inside Potential Loyalist, so they move ahead of it. Can't Lose Them sits inside At
    /// Risk, so it moves ahead of that. The general regions (Loyal Customers, Potential Loyalist,
    /// At Risk, Hibernating) come after the specific ones they contain, and together the rules
    /// cover every combination.
    ///
    /// One deliberate deviation from the published ranges: with scores in 1...5 the published
    /// Lost (R 0–2, FM 0–2) and Hibernating (R 1–2, FM 1–2) are the *same* cells, so one of them
    /// could never be reached in any order. Lost is narrowed to FM ≤ 1 — "lowest recency,
    /// frequency and monetary" — and placed before Hibernating. Zero lower bounds are kept as
    /// published; they just mean "from 1".
    public static let rfmTable = RFMSegmentMap(
        name: "R/FM table",
        rules: [
            RFMSegmentRule(segment: "Champions", r: 4...5, fm: 4...5),
            RFMSegmentRule(segment: "Loyal Customers", r: 2...5, fm: 3...5),
            RFMSegmentRule(segment: "Recent Customers", r: 4...5, fm: 0...1),
            RFMSegmentRule(segment: "Promising", r: 3...4, fm: 0...1),
            RFMSegmentRule(segment: "Potential Loyalist", r: 3...5, fm: 1...3),
            RFMSegmentRule(segment: "Customers Needing Attention", r: 2...3, fm: 2...3),
            RFMSegmentRule(segment: "About To Sleep", r: 2...3, fm: 0...2),
            RFMSegmentRule(segment: "Can't Lose Them", r: 0...1, fm: 4...5),
            RFMSegmentRule(segment: "At Risk", r: 0...2, fm: 2...5),
            RFMSegmentRule(segment: "Lost", r: 0...2, fm: 0...1),
            RFMSegmentRule(segment: "Hibernating", r: 1...2, fm: 1...2),
        ])
}
