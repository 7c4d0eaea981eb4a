import CohortCore
import Testing

@Suite("Threshold scoring")
struct RFMThresholdsTests {
    let thresholds = RFMThresholds(
        recencyDays: [180, 90, 30, 7],
        frequency: [2, 4, 8, 16],
        monetaryCents: [1_000, 5_000, 20_000, 100_000])

    @Test func recencyCutoffsAreInclusiveUpperBoundsInDays() {
        let days: [Int64] = [0, 7, 8, 30, 31, 90, 91, 180, 181, 10_000]
        #expect(days.map { thresholds.score(.recency, value: $0) } == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1])
    }

    @Test func frequencyCutoffsAreInclusiveLowerBounds() {
        let orders: [Int64] = [1, 2, 3, 4, 7, 8, 15, 16, 100]
        #expect(orders.map { thresholds.score(.frequency, value: $0) } == [1, 2, 2, 3, 3, 4, 4, 5, 5])
    }

    @Test func monetaryCutoffsAreInclusiveLowerBounds() {
        let cents: [Int64] = [0, 999, 1_000, 4_999, 5_000, 20_000, 99_999, 100_000]
        #expect(cents.map { thresholds.score(.monetary, value: $0) } == [1, 1, 2, 2, 3, 4, 4, 5])
    }

    @Test func scoresForAContact() {
        #expect(thresholds.scores(for: gradingInput("a", days: 30, orders: 8, cents: 999)) == RFMScores(r: 4, f: 4, m: 1))
        #expect(thresholds.scores(for: gradingInputWithoutOrders("b")) == nil)
    }

    @Test func validCutoffsPassValidation() {
        #expect(thresholds.validationError == nil)
    }

    @Test func recencyCutoffsMustDescend() throws {
        var bad = thresholds
        bad.recencyDays = [7, 30, 90, 180]
        let message = try #require(bad.validationError)
        #expect(message.contains("recencyDays"))
        #expect(message.contains("descending"))
    }

    @Test func equalNeighbouringCutoffsAreRejected() throws {
        var bad = thresholds
        bad.frequency = [2, 4, 4, 16]
        let message = try #require(bad.validationError)
        #expect(message.contains("frequency"))
        #expect(message.contains("ascending"))
    }

    @Test func eachDimensionNeedsFourCutoffsAndAllProblemsAreReported() throws {
        var bad = thresholds
        bad.monetaryCents = [1_000, 5_000, 20_000]
        bad.recencyDays = [1, 2, 3, 4]
        let message = try #require(bad.validationError)
        #expect(message.contains("monetaryCents needs 4 cut-offs"))
        #expect(message.contains("recencyDays"))
    }

    @Test func unvalidatedExtraCutoffsStillScoreAtMostFive() {
        let odd = RFMThresholds(recencyDays: [], frequency: [1, 2, 3, 4, 5, 6], monetaryCents: [])
        #expect(odd.score(.frequency, value: 10) == 5)
        #expect(odd.score(.recency, value: 10) == 1)
    }
}
