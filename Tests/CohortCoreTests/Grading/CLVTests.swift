import CohortCore
import Testing

@Suite("CLV")
struct CLVTests {
    @Test func handComputedYearWindow() throws {
        // 4 orders worth 1,200.00 in a 365-day window: 300.00 per order, 4 a year,
        // × 3 years × 25 % margin = 900.00.
        let config = CLVConfig(lifetimeYears: 3, margin: 0.25, windowDays: 365)
        let clv = try #require(config.breakdown(frequency: 4, monetaryCents: 120_000))
        #expect(clv == CLVBreakdown(avgOrderValueCents: 30_000, ordersPerYear: 4, lifetimeYears: 3, margin: 0.25, clvCents: 90_000))
    }

    @Test func shortWindowScalesToAYear() throws {
        // 120,000 × 365/180 × 3 × 0.25 = 182,500.
        let config = CLVConfig(lifetimeYears: 3, margin: 0.25, windowDays: 180)
        let clv = try #require(config.breakdown(frequency: 4, monetaryCents: 120_000))
        #expect(abs(clv.clvCents - 182_500) < 1e-6)
        #expect(abs(clv.ordersPerYear - 4.0 * 365 / 180) < 1e-12)
        let product = clv.avgOrderValueCents * clv.ordersPerYear * clv.lifetimeYears * clv.margin
        #expect(abs(product - clv.clvCents) < 1e-6)
    }

    @Test func noOrdersMeansNoCLV() {
        let config = CLVConfig(lifetimeYears: 3, margin: 0.25, windowDays: 365)
        #expect(config.breakdown(frequency: 0, monetaryCents: 0) == nil)
        #expect(config.breakdown(for: gradingInputWithoutOrders("a")) == nil)
    }

    @Test func parametersAreValidated() {
        #expect(CLVConfig(lifetimeYears: 3, margin: 0.25, windowDays: 365).validationError == nil)
        #expect(CLVConfig(lifetimeYears: 3, margin: 0.25, windowDays: 0).validationError != nil)
        #expect(CLVConfig(lifetimeYears: -1, margin: 0.25, windowDays: 365).validationError != nil)
        #expect(CLVConfig(lifetimeYears: 3, margin: 25, windowDays: 365).validationError != nil)
    }
}
