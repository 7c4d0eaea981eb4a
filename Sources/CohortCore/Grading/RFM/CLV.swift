/// Parameters of the simple customer-lifetime-value estimate.
///
/// CLV = average order value × orders per year × expected lifetime in years × margin, with
/// - average order value = `monetaryCents / frequency`,
/// - orders per year = `frequency × 365 / windowDays` (the window scaled to a 365-day year),
///
/// which simplifies to `monetaryCents × 365 × lifetimeYears × margin / windowDays` cents. The
/// simplified form is what ``CLVBreakdown/clvCents`` holds, computed in that order in `Double`
/// (one rounding fewer than multiplying the breakdown's factors), so the factors multiply to it
/// up to floating-point rounding.
public struct CLVConfig: Sendable, Hashable, Codable {
    /// Expected remaining customer lifetime in years.
    public var lifetimeYears: Double
    /// Gross margin as a fraction, e.g. 0.3 for 30 %.
    public var margin: Double
    /// Length of the RFM window in days.
    public var windowDays: Int

    /// Creates CLV parameters.
    public init(lifetimeYears: Double, margin: Double, windowDays: Int) {
        self.lifetimeYears = lifetimeYears
        self.margin = margin
        self.windowDays = windowDays
    }

    /// A message naming every problem, or `nil` when `windowDays > 0`, `lifetimeYears >= 0`
    /// and `0 <= margin <= 1`, all finite.
    public var validationError: String? {
        var problems: [String] = []
        if windowDays <= 0 { problems.append("CLV windowDays must be > 0, got \(windowDays)") }
        if !(lifetimeYears.isFinite && lifetimeYears >= 0) {
            problems.append("CLV lifetimeYears must be finite and ≥ 0, got \(lifetimeYears)")
        }
        if !(margin.isFinite && margin >= 0 && margin <= 1) {
            problems.append("CLV margin must be within 0...1, got \(margin)")
        }
        return problems.isEmpty ? nil : problems.joined(separator: "; ")
    }

    /// The CLV and its factors, or `nil` when there are no orders (`frequency <= 0`).
    public func breakdown(frequency: Int, monetaryCents: Int64) -> CLVBreakdown? {
        guard frequency > 0 else { return nil }
        let monetary = Double(monetaryCents)
        let window = Double(windowDays)
        return CLVBreakdown(
            avgOrderValueCents: monetary / Double(frequency),
            ordersPerYear: Double(frequency) * 365 / window,
            lifetimeYears: lifetimeYears,
            margin: margin,
            clvCents: monetary * 365 * lifetimeYears * margin / window)
    }

    /// The CLV and its factors for one contact, or `nil` when it is not gradable.
    public func breakdown(for input: RFMInput) -> CLVBreakdown? {
        guard input.isGradable else { return nil }
        return breakdown(frequency: input.frequency, monetaryCents: input.monetaryCents)
    }
}

/// The factors of one contact's CLV, for explaining the number.
public struct CLVBreakdown: Sendable, Hashable, Codable {
    /// Average order value in cents.
    public var avgOrderValueCents: Double
    /// Orders per 365-day year.
    public var ordersPerYear: Double
    /// Expected lifetime in years.
    public var lifetimeYears: Double
    /// Margin as a fraction.
    public var margin: Double
    /// The resulting lifetime value in cents.
    public var clvCents: Double

    /// Creates a breakdown.
    public init(
        avgOrderValueCents: Double, ordersPerYear: Double, lifetimeYears: Double, margin: Double,
        clvCents: Double
    ) {
        self.avgOrderValueCents = avgOrderValueCents
        self.ordersPerYear = ordersPerYear
        self.lifetimeYears = lifetimeYears
        self.margin = margin
        self.clvCents = clvCents
    }
}
