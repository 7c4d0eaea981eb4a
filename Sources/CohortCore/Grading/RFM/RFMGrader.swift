/// How R, F and M scores are assigned.
///
/// Stored as `{"kind": "quantiles"}` or `{"kind": "thresholds", "thresholds": {…}}`; the
/// synthesized form would key the cut-offs as `_0`, which is no format to keep in a database.
public enum RFMScoring: Sendable, Hashable, Codable {
    /// Rank the population into quintiles (see ``RFMQuantileScoring``).
    case quantiles
    /// Fixed cut-offs (see ``RFMThresholds``).
    case thresholds(RFMThresholds)

    private enum CodingKeys: String, CodingKey {
        case kind
        case thresholds
    }

    private enum Kind: String, Codable {
        case quantiles
        case thresholds
    }

    /// Decodes the `kind`-tagged form.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        switch try container.decode(Kind.self, forKey: .kind) {
        case .quantiles: self = .quantiles
        case .thresholds: self = .thresholds(try container.decode(RFMThresholds.self, forKey: .thresholds))
        }
    }

    /// Encodes the `kind`-tagged form.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .quantiles:
            try container.encode(Kind.quantiles, forKey: .kind)
        case .thresholds(let thresholds):
            try container.encode(Kind.thresholds, forKey: .kind)
            try container.encode(thresholds, forKey: .thresholds)
        }
    }
}

/// Everything a grading run needs besides the contacts.
public struct RFMConfig: Sendable, Hashable, Codable {
    /// How scores are assigned.
    public var scoring: RFMScoring
    /// How scores map to segment names.
    public var segmentMap: RFMSegmentMap
    /// ABC shares.
    public var abc: ABCConfig
    /// CLV parameters.
    public var clv: CLVConfig

    /// Creates a config.
    public init(
        scoring: RFMScoring = .quantiles,
        segmentMap: RFMSegmentMap = .rfGrid,
        abc: ABCConfig = ABCConfig(),
        clv: CLVConfig
    ) {
        self.scoring = scoring
        self.segmentMap = segmentMap
        self.abc = abc
        self.clv = clv
    }

    /// A message naming every problem of the thresholds, ABC shares and CLV parameters, or `nil`.
    ///
    /// The segment map is not judged here: gaps and unreachable segments are legitimate if odd,
    /// so check ``RFMSegmentMap/lint()`` separately.
    public var validationError: String? {
        var problems: [String] = []
        if case .thresholds(let thresholds) = scoring, let problem = thresholds.validationError {
            problems.append(problem)
        }
        if let problem = abc.validationError { problems.append(problem) }
        if let problem = clv.validationError { problems.append(problem) }
        return problems.isEmpty ? nil : problems.joined(separator: "; ")
    }
}

/// The grade of one gradable contact.
public struct RFMGrade: Sendable, Hashable, Codable {
    /// Recency score 1...5.
    public var r: Int
    /// Frequency score 1...5.
    public var f: Int
    /// Monetary score 1...5.
    public var m: Int
    /// The segment from the config's map; `nil` when no rule matches.
    public var segment: String?
    /// ABC class.
    public var abc: ABCClass
    /// Customer lifetime value in cents (see ``CLVConfig``).
    public var clvCents: Double

    /// Creates a grade.
    public init(r: Int, f: Int, m: Int, segment: String?, abc: ABCClass, clvCents: Double) {
        self.r = r
        self.f = f
        self.m = m
        self.segment = segment
        self.abc = abc
        self.clvCents = clvCents
    }

    /// The combined frequency/monetary score `(f + m) / 2`.
    public var fm: Double {
        Double(f + m) / 2
    }
}

/// The result of grading a population.
public struct RFMRun: Sendable, Hashable, Codable {
    /// Grades aligned with the inputs; `nil` for contacts that are not gradable.
    public var grades: [RFMGrade?]
    /// Quantile cut-offs for incremental grading; `nil` under threshold scoring or when nobody
    /// was gradable.
    public var cutoffs: RFMQuantileCutoffs?
    /// ABC boundaries for incremental grading.
    public var abcBoundaries: ABCBoundaries

    /// Creates a run result.
    public init(grades: [RFMGrade?], cutoffs: RFMQuantileCutoffs?, abcBoundaries: ABCBoundaries) {
        self.grades = grades
        self.cutoffs = cutoffs
        self.abcBoundaries = abcBoundaries
    }
}

/// Grades contacts: RFM scores, segment, ABC class and CLV.
public enum RFMGrader {
    /// Grades a whole population in one pass.
    ///
    /// Only gradable contacts (see ``RFMInput/isGradable``) take part in the quantile ranking and
    /// the ABC ranking; the others get `nil`. The config is not validated here (see
    /// ``RFMConfig/validationError``).
    public static func grade(_ inputs: [RFMInput], config: RFMConfig) -> RFMRun {
        let population = RFMPopulation(inputs)
        let n = population.count
        var r: [Int]
        var f: [Int]
        var m: [Int]
        var cutoffs: RFMQuantileCutoffs?
        switch config.scoring {
        case .quantiles:
            (r, f, m, cutoffs) = RFMQuantileScoring.run(inputs, population)
        case .thresholds(let thresholds):
            r = [Int](repeating: 0, count: n)
            f = r
            m = r
            for slot in 0..<n {
                let input = inputs[population.inputIndex[slot]]
                r[slot] = thresholds.score(.recency, value: Int64(input.recencyDays ?? 0))
                f[slot] = thresholds.score(.frequency, value: Int64(input.frequency))
                m[slot] = thresholds.score(.monetary, value: input.monetaryCents)
            }
        }
        let abc = ABCClassifier.run(inputs, population, config.abc)
        let segments = config.segmentMap.cellTable()
        var grades = [RFMGrade?](repeating: nil, count: inputs.count)
        for slot in 0..<n {
            let index = population.inputIndex[slot]
            let input = inputs[index]
            // Never nil: a gradable contact has orders.
            let clv = config.clv.breakdown(frequency: input.frequency, monetaryCents: input.monetaryCents)
            grades[index] = RFMGrade(
                r: r[slot], f: f[slot], m: m[slot],
                segment: segments[RFMSegmentMap.cellIndex(r: r[slot], f: f[slot], m: m[slot])],
                abc: abc.classes[slot],
                clvCents: clv?.clvCents ?? 0)
        }
        return RFMRun(grades: grades, cutoffs: cutoffs, abcBoundaries: abc.boundaries)
    }

    /// Grades one contact against a previous full run, e.g. after it placed an order.
    ///
    /// Under quantile scoring the scores come from `cutoffs` (a contact that took part in the
    /// full run with the same figures gets the same scores); without cut-offs there is nothing to
    /// rank against and the result is `nil`. Under threshold scoring `cutoffs` is ignored. The
    /// ABC class comes from `abcBoundaries`, an approximation described at ``ABCBoundaries``.
    ///
    /// - Returns: `nil` when the contact is not gradable, or quantile scoring has no cut-offs.
    public static func gradeOne(
        _ input: RFMInput,
        cutoffs: RFMQuantileCutoffs?,
        config: RFMConfig,
        abcBoundaries: ABCBoundaries
    ) -> RFMGrade? {
        let scores: RFMScores?
        switch config.scoring {
        case .quantiles: scores = cutoffs?.scores(for: input)
        case .thresholds(let thresholds): scores = thresholds.scores(for: input)
        }
        guard let scores, let clv = config.clv.breakdown(for: input) else { return nil }
        return RFMGrade(
            r: scores.r, f: scores.f, m: scores.m,
            segment: config.segmentMap.segment(r: scores.r, f: scores.f, m: scores.m),
            abc: abcBoundaries.classify(monetaryCents: input.monetaryCents),
            clvCents: clv.clvCents)
    }
}
