/// The greatest ranking key that received a given score in a full quantile run.
public struct RFMScoreBoundary: Sendable, Hashable, Codable {
    /// The score, 1...5.
    public var score: Int
    /// The raw figure of the ranking key: days for recency, orders for frequency, cents for
    /// monetary. Recency keys compare in descending order of days (see ``RFMDimension``).
    public var value: Int64
    /// The id half of the ranking key.
    public var externalUserID: String

    /// Creates a boundary.
    public init(score: Int, value: Int64, externalUserID: String) {
        self.score = score
        self.value = value
        self.externalUserID = externalUserID
    }
}

/// The cut-offs of a full quantile run, kept (e.g. as JSON) to grade single contacts later
/// without ranking the whole population again.
///
/// For each dimension it holds, per score that anybody received, the greatest ranking key that
/// received it. A contact re-graded later gets the smallest score whose boundary is `>=` its key,
/// and 5 when its key is above every boundary. This reproduces the full run's score for every
/// contact that took part in it with unchanged figures, because scores never decrease along the
/// ranking. Scores nobody received (possible when `population < 5`) have no boundary.
public struct RFMQuantileCutoffs: Sendable, Hashable, Codable {
    /// Number of gradable contacts in the full run (its `n`).
    public var population: Int
    /// Recency boundaries, ascending by score.
    public var recency: [RFMScoreBoundary]
    /// Frequency boundaries, ascending by score.
    public var frequency: [RFMScoreBoundary]
    /// Monetary boundaries, ascending by score.
    public var monetary: [RFMScoreBoundary]

    /// Creates cut-offs from stored boundaries.
    public init(
        population: Int,
        recency: [RFMScoreBoundary],
        frequency: [RFMScoreBoundary],
        monetary: [RFMScoreBoundary]
    ) {
        self.population = population
        self.recency = recency
        self.frequency = frequency
        self.monetary = monetary
    }

    /// The boundaries of one dimension.
    public func boundaries(_ dimension: RFMDimension) -> [RFMScoreBoundary] {
        switch dimension {
        case .recency: recency
        case .frequency: frequency
        case .monetary: monetary
        }
    }

    /// The score of ranking key `(value, externalUserID)` on `dimension`.
    public func score(_ dimension: RFMDimension, value: Int64, externalUserID: String) -> Int {
        // A minimum over all boundaries rather than the first hit, so that hand-edited or
        // reordered JSON still scores correctly.
        var best = 5
        for boundary in boundaries(dimension) where boundary.score < best {
            let boundaryBelowKey = dimension.ranksBelow(
                boundary.value, boundary.externalUserID, value, externalUserID)
            if !boundaryBelowKey {
                best = boundary.score
            }
        }
        return best
    }

    /// The scores of one contact, or `nil` when it is not gradable.
    public func scores(for input: RFMInput) -> RFMScores? {
        guard input.isGradable,
            let r = RFMDimension.recency.metric(of: input),
            let f = RFMDimension.frequency.metric(of: input),
            let m = RFMDimension.monetary.metric(of: input)
        else { return nil }
        let id = input.externalUserID
        return RFMScores(
            r: score(.recency, value: r, externalUserID: id),
            f: score(.frequency, value: f, externalUserID: id),
            m: score(.monetary, value: m, externalUserID: id))
    }
}

/// The result of ``RFMQuantileScoring/score(_:)``.
public struct RFMQuantileRun: Sendable, Hashable, Codable {
    /// Scores aligned with the inputs; `nil` for contacts that are not gradable.
    public var scores: [RFMScores?]
    /// Cut-offs for incremental grading; `nil` when no contact was gradable.
    public var cutoffs: RFMQuantileCutoffs?

    /// Creates a run result.
    public init(scores: [RFMScores?], cutoffs: RFMQuantileCutoffs?) {
        self.scores = scores
        self.cutoffs = cutoffs
    }
}

/// Quantile (quintile) scoring over a population.
///
/// The gradable contacts are ranked per dimension as described in ``RFMDimension``; the i-th of
/// `n` (1-based) scores `ceil(5 * i / n)`, computed as `(5 * i + n - 1) / n` in integers. So 5
/// contacts score 1...5, 10 score 1,1,2,2,…,5,5, and a lone contact scores 5.
public enum RFMQuantileScoring {
    /// Scores every gradable contact of `inputs` and derives the cut-offs for later re-grades.
    public static func score(_ inputs: [RFMInput]) -> RFMQuantileRun {
        let population = RFMPopulation(inputs)
        let result = run(inputs, population)
        var scores = [RFMScores?](repeating: nil, count: inputs.count)
        for slot in 0..<population.count {
            scores[population.inputIndex[slot]] = RFMScores(
                r: result.r[slot], f: result.f[slot], m: result.m[slot])
        }
        return RFMQuantileRun(scores: scores, cutoffs: result.cutoffs)
    }

    /// Per-slot scores of all three dimensions plus the cut-offs.
    static func run(
        _ inputs: [RFMInput], _ population: RFMPopulation
    ) -> (r: [Int], f: [Int], m: [Int], cutoffs: RFMQuantileCutoffs?) {
        let r = scoreDimension(.recency, inputs, population)
        let f = scoreDimension(.frequency, inputs, population)
        let m = scoreDimension(.monetary, inputs, population)
        let cutoffs: RFMQuantileCutoffs? =
            population.count == 0
            ? nil
            : RFMQuantileCutoffs(
                population: population.count,
                recency: r.boundaries, frequency: f.boundaries, monetary: m.boundaries)
        return (r.scores, f.scores, m.scores, cutoffs)
    }

    private static func scoreDimension(
        _ dimension: RFMDimension, _ inputs: [RFMInput], _ population: RFMPopulation
    ) -> (scores: [Int], boundaries: [RFMScoreBoundary]) {
        let n = population.count
        var metrics = [Int64](repeating: 0, count: n)
        var sortValues = [Int64](repeating: 0, count: n)
        for slot in 0..<n {
            // Every slot is gradable, so the metric exists.
            let metric = dimension.metric(of: inputs[population.inputIndex[slot]]) ?? 0
            metrics[slot] = metric
            sortValues[slot] = dimension.sortValue(metric)
        }
        let ranked = population.rankedSlots(bySortValue: sortValues)
        var scores = [Int](repeating: 0, count: n)
        var boundaries: [RFMScoreBoundary] = []
        for (position, slot) in ranked.enumerated() {
            let score = quantileScore(position: position + 1, of: n)
            scores[slot] = score
            let isLastWithScore =
                position == n - 1 || quantileScore(position: position + 2, of: n) != score
            if isLastWithScore {
                boundaries.append(
                    RFMScoreBoundary(
                        score: score, value: metrics[slot],
                        externalUserID: inputs[population.inputIndex[slot]].externalUserID))
            }
        }
        return (scores, boundaries)
    }

    /// `ceil(5 * i / n)` for 1-based position `i`.
    static func quantileScore(position i: Int, of n: Int) -> Int {
        (5 * i + n - 1) / n
    }
}
