import CohortCore
import Testing

struct RetryPolicyTests {
    let policy = RetryPolicy(baseDelay: 2, maxDelay: 60, maxAttempts: 4)

    @Test func delayDoublesPerRetryWithinHalfToFullOfTheCap() {
        #expect(policy.delay(beforeRetry: 1, unitRandom: 0) == 1)
        #expect(policy.delay(beforeRetry: 1, unitRandom: 1) == 2)
        #expect(policy.delay(beforeRetry: 3, unitRandom: 1) == 8)
        #expect(policy.delay(beforeRetry: 3, unitRandom: 0.5) == 6)
    }

    @Test func delayNeverExceedsTheMaximum() {
        #expect(policy.delay(beforeRetry: 20, unitRandom: 1) == 60)
        #expect(policy.delay(beforeRetry: 10_000, unitRandom: 1) == 60)
    }

    @Test func retriesStopAtMaxAttempts() {
        #expect(policy.allowsRetry(afterAttempts: 3))
        #expect(!policy.allowsRetry(afterAttempts: 4))
    }
}
