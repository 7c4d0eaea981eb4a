/// Exponential backoff with full jitter and an attempt limit.
///
/// Pure: the caller supplies the random draw so the schedule is testable.
public struct RetryPolicy: Sendable, Hashable {
    /// Delay before the first retry, in seconds.
    public var baseDelay: Double
    /// Upper bound of any delay, in seconds.
    public var maxDelay: Double
    /// Attempts in total (the first run included) before giving up.
    public var maxAttempts: Int

    public init(baseDelay: Double, maxDelay: Double, maxAttempts: Int) {
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxAttempts = maxAttempts
    }

    /// Whether another attempt is allowed after `attempts` failed ones.
    public func allowsRetry(afterAttempts attempts: Int) -> Bool {
        attempts < maxAttempts
    }

    /// The delay before retry number `attempt` (1 = first retry), in seconds.
    /// - Parameter unitRandom: a draw from [0, 1); 1 gives the cap, 0 gives half of it.
    public func delay(beforeRetry attempt: Int, unitRandom: Double) -> Double {
        let exponent = Double(max(0, min(attempt - 1, 30)))
        let cap = min(maxDelay, baseDelay * pow2(exponent))
        // Half fixed, half jitter: never zero, so a hot failure cannot spin.
        return cap / 2 + cap / 2 * min(max(unitRandom, 0), 1)
    }

    private func pow2(_ exponent: Double) -> Double {
        var value = 1.0
        for _ in 0..<Int(exponent) { value *= 2 }
        return value
    }
}
