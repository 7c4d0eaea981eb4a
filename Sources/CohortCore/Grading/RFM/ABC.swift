/// A contact's share of revenue over the RFM window.
public enum ABCClass: String, Sendable, Hashable, Codable, CaseIterable {
    /// Among the top customers that together make the first `aShare` of revenue.
    case a = "A"
    /// In the next band, up to `bShare` of revenue.
    case b = "B"
    /// Everyone else.
    case c = "C"
}

/// Shares of total revenue that bound the A and B classes.
///
/// The shares are used as whole basis points (1/10,000), rounded to the nearest, halves away
/// from zero, and clamped to 0...10,000, so that every comparison is exact integer math: 0.7
/// becomes 7,000 and 0.33337 becomes 3,334. Non-finite or negative shares count as 0.
public struct ABCConfig: Sendable, Hashable, Codable {
    /// Share of revenue that A customers make up, default 0.70.
    public var aShare: Double
    /// Share of revenue that A and B customers make up together, default 0.90.
    public var bShare: Double

    /// Creates ABC shares.
    public init(aShare: Double = 0.70, bShare: Double = 0.90) {
        self.aShare = aShare
        self.bShare = bShare
    }

    /// ``aShare`` in basis points as used for classification.
    public var aBasisPoints: Int { Self.basisPoints(aShare) }
    /// ``bShare`` in basis points as used for classification.
    public var bBasisPoints: Int { Self.basisPoints(bShare) }

    /// A message naming the problem, or `nil` when `0 <= aShare <= bShare <= 1`.
    public var validationError: String? {
        guard aShare.isFinite, bShare.isFinite, aShare >= 0, aShare <= bShare, bShare <= 1 else {
            return "ABC shares need 0 ≤ aShare ≤ bShare ≤ 1, got aShare \(aShare), bShare \(bShare)"
        }
        return nil
    }

    private static func basisPoints(_ share: Double) -> Int {
        let scaled = (share * 10_000).rounded()
        // Written so that NaN fails the first test and lands on 0.
        guard scaled >= 0 else { return 0 }
        return scaled >= 10_000 ? 10_000 : Int(scaled)
    }
}

/// The monetary values at which a full ABC run switched class, for classifying single contacts
/// later.
///
/// This is an approximation: the full run classifies by revenue *rank*, this by revenue *value*.
/// A contact whose revenue equals a boundary value is classified as the better class, even if in
/// the full run it ranked (by id) behind the last contact of that class; and a contact's own
/// revenue does not move the boundaries as it would in a full run.
public struct ABCBoundaries: Sendable, Hashable, Codable {
    /// The smallest monetary value that was still A; `nil` when nobody was A.
    public var minimumACents: Int64?
    /// The smallest monetary value that was still B; `nil` when nobody was B.
    public var minimumBCents: Int64?

    /// Creates boundaries.
    public init(minimumACents: Int64?, minimumBCents: Int64?) {
        self.minimumACents = minimumACents
        self.minimumBCents = minimumBCents
    }

    /// A when `monetaryCents >= minimumACents`, else B when `>= minimumBCents`, else C.
    public func classify(monetaryCents: Int64) -> ABCClass {
        if let minimumACents, monetaryCents >= minimumACents { return .a }
        if let minimumBCents, monetaryCents >= minimumBCents { return .b }
        return .c
    }
}

/// The result of ``ABCClassifier/classify(_:config:)``.
public struct ABCRun: Sendable, Hashable, Codable {
    /// Classes aligned with the inputs; `nil` for contacts that are not gradable.
    public var classes: [ABCClass?]
    /// Boundaries for classifying single contacts later.
    public var boundaries: ABCBoundaries

    /// Creates a run result.
    public init(classes: [ABCClass?], boundaries: ABCBoundaries) {
        self.classes = classes
        self.boundaries = boundaries
    }
}

/// ABC (Pareto) classification over the RFM window.
///
/// The gradable contacts (see ``RFMInput/isGradable``) are ranked by monetary *descending*,
/// ties by `externalUserID` ascending. With `prefix` the revenue of everyone ranked above a
/// contact and `total` the revenue of all of them, a contact is
/// - A when `prefix * 10_000 < aBasisPoints * total`,
/// - B when `prefix * 10_000 < bBasisPoints * total`,
/// - C otherwise.
///
/// The arithmetic is exact (128-bit), so e.g. a contact whose prefix is exactly 90 % of the total
/// is C, never B by a float rounding. The top contact is A whenever `total > 0`.
///
/// Zero revenue: contacts with orders but zero revenue in the window take part in the ranking
/// like everyone else. Everyone with positive revenue ranks above them, so their prefix is the
/// whole total and they are C. When `total <= 0` (all zero, or refunds outweighing sales) every
/// contact is C, because there is no revenue to have a share of. Negative revenue (net refunds)
/// ranks last and is C; it also lowers `total`, which is net revenue.
public enum ABCClassifier {
    /// Classifies every gradable contact of `inputs`.
    public static func classify(_ inputs: [RFMInput], config: ABCConfig) -> ABCRun {
        let population = RFMPopulation(inputs)
        let result = run(inputs, population, config)
        var classes = [ABCClass?](repeating: nil, count: inputs.count)
        for slot in 0..<population.count {
            classes[population.inputIndex[slot]] = result.classes[slot]
        }
        return ABCRun(classes: classes, boundaries: result.boundaries)
    }

    /// Per-slot classes plus the boundaries.
    static func run(
        _ inputs: [RFMInput], _ population: RFMPopulation, _ config: ABCConfig
    ) -> (classes: [ABCClass], boundaries: ABCBoundaries) {
        let n = population.count
        var monetary = [Int64](repeating: 0, count: n)
        var sortValues = [Int64](repeating: 0, count: n)
        var total: Int128 = 0
        for slot in 0..<n {
            let cents = inputs[population.inputIndex[slot]].monetaryCents
            monetary[slot] = cents
            // Bitwise NOT sorts descending without the overflow of negating Int64.min.
            sortValues[slot] = ~cents
            total += Int128(cents)
        }
        var classes = [ABCClass](repeating: .c, count: n)
        guard total > 0 else {
            return (classes, ABCBoundaries(minimumACents: nil, minimumBCents: nil))
        }
        let aLimit = Int128(config.aBasisPoints) * total
        let bLimit = Int128(config.bBasisPoints) * total
        var minimumA: Int64?
        var minimumB: Int64?
        var prefix: Int128 = 0
        for slot in population.rankedSlots(bySortValue: sortValues) {
            let scaledPrefix = prefix * 10_000
            if scaledPrefix < aLimit {
                classes[slot] = .a
                minimumA = monetary[slot]
            } else if scaledPrefix < bLimit {
                classes[slot] = .b
                minimumB = monetary[slot]
            }
            prefix += Int128(monetary[slot])
        }
        return (classes, ABCBoundaries(minimumACents: minimumA, minimumBCents: minimumB))
    }
}
