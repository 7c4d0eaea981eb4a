/// Fixed cut-offs per score, as an alternative to ranking the population.
///
/// Each dimension has four cut-offs, for scores 2, 3, 4 and 5 in that order; all are inclusive:
/// - Recency, lower days is better, cut-offs strictly descending (e.g. `[180, 90, 30, 7]`):
///   score = 1 + number of cut-offs `c` with `recencyDays <= c`. So 7 days scores 5, 8 scores 4,
///   181 scores 1.
/// - Frequency and monetary, higher is better, cut-offs strictly ascending:
///   score = 1 + number of cut-offs `c` with `value >= c`.
///
/// Scoring does not validate; check ``validationError`` when the config is saved. An invalid
/// config still scores deterministically by the formula above, capped at 5.
public struct RFMThresholds: Sendable, Hashable, Codable {
    /// Recency cut-offs in days for scores 2...5, strictly descending.
    public var recencyDays: [Int]
    /// Frequency cut-offs in orders for scores 2...5, strictly ascending.
    public var frequency: [Int]
    /// Monetary cut-offs in cents for scores 2...5, strictly ascending.
    public var monetaryCents: [Int64]

    /// Creates threshold scoring from the cut-offs for scores 2, 3, 4, 5.
    public init(recencyDays: [Int], frequency: [Int], monetaryCents: [Int64]) {
        self.recencyDays = recencyDays
        self.frequency = frequency
        self.monetaryCents = monetaryCents
    }

    /// A message naming every problem, or `nil` when the cut-offs are valid: each dimension needs
    /// exactly four cut-offs, strictly monotonic in its direction.
    ///
    /// Equal neighbouring cut-offs are rejected as well, because the score between them could then
    /// never be given — almost certainly a typo.
    public var validationError: String? {
        var problems: [String] = []
        func check(_ name: String, _ values: [Int64], descending: Bool) {
            let direction = descending ? "strictly descending" : "strictly ascending"
            let rendered = "[" + values.map(String.init).joined(separator: ", ") + "]"
            if values.count != 4 {
                problems.append(
                    "\(name) needs 4 cut-offs (for scores 2, 3, 4, 5), got \(values.count): \(rendered)")
                return
            }
            for index in 1..<values.count {
                let ordered = descending ? values[index] < values[index - 1] : values[index] > values[index - 1]
                if !ordered {
                    problems.append("\(name) cut-offs must be \(direction), got \(rendered)")
                    return
                }
            }
        }
        check("recencyDays", recencyDays.map(Int64.init), descending: true)
        check("frequency", frequency.map(Int64.init), descending: false)
        check("monetaryCents", monetaryCents, descending: false)
        return problems.isEmpty ? nil : problems.joined(separator: "; ")
    }

    /// The score of `value` (days, orders or cents) on `dimension`.
    public func score(_ dimension: RFMDimension, value: Int64) -> Int {
        var met = 0
        switch dimension {
        case .recency:
            for cutoff in recencyDays where value <= Int64(cutoff) { met += 1 }
        case .frequency:
            for cutoff in frequency where value >= Int64(cutoff) { met += 1 }
        case .monetary:
            for cutoff in monetaryCents where value >= cutoff { met += 1 }
        }
        // The cap keeps an unvalidated config with extra cut-offs inside the 1...5 contract.
        return min(1 + met, 5)
    }

    /// The scores of one contact, or `nil` when it is not gradable.
    public func scores(for input: RFMInput) -> RFMScores? {
        guard let r = RFMDimension.recency.metric(of: input),
            let f = RFMDimension.frequency.metric(of: input),
            let m = RFMDimension.monetary.metric(of: input)
        else { return nil }
        return RFMScores(r: score(.recency, value: r), f: score(.frequency, value: f), m: score(.monetary, value: m))
    }
}
