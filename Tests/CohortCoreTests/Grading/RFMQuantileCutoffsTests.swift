import Foundation
import CohortCore
import Testing

@Suite("Quantile cut-offs")
struct RFMQuantileCutoffsTests {
    @Test func cutoffsHoldTheGreatestKeyPerScore() throws {
        let inputs = (1...10).map { gradingInput("id\($0)", days: 100 - $0, orders: $0, cents: Int64($0) * 100) }
        let cutoffs = try #require(RFMQuantileScoring.score(inputs).cutoffs)
        #expect(cutoffs.population == 10)
        #expect(
            cutoffs.frequency == [
                RFMScoreBoundary(score: 1, value: 2, externalUserID: "id2"),
                RFMScoreBoundary(score: 2, value: 4, externalUserID: "id4"),
                RFMScoreBoundary(score: 3, value: 6, externalUserID: "id6"),
                RFMScoreBoundary(score: 4, value: 8, externalUserID: "id8"),
                RFMScoreBoundary(score: 5, value: 10, externalUserID: "id10"),
            ])
        // Recency keys are in days; the most recent (fewest days) is the greatest key.
        #expect(cutoffs.recency.map(\.value) == [98, 96, 94, 92, 90])
    }

    @Test func scoresNobodyReceivedHaveNoBoundary() throws {
        let inputs = [gradingInput("a", orders: 1), gradingInput("b", orders: 3)]
        let cutoffs = try #require(RFMQuantileScoring.score(inputs).cutoffs)
        #expect(cutoffs.frequency.map(\.score) == [3, 5])
        #expect(cutoffs.score(.frequency, value: 1, externalUserID: "0") == 3)
        #expect(cutoffs.score(.frequency, value: 2, externalUserID: "z") == 5)
    }

    @Test func keysBelowAndAboveEveryBoundaryScoreOneAndFive() throws {
        let inputs = (1...5).map { gradingInput("id\($0)", days: $0 * 10, orders: $0 * 2, cents: Int64($0) * 1_000) }
        let cutoffs = try #require(RFMQuantileScoring.score(inputs).cutoffs)
        #expect(cutoffs.scores(for: gradingInput("new", days: 1, orders: 1_000, cents: 1_000_000)) == RFMScores(r: 5, f: 5, m: 5))
        #expect(cutoffs.scores(for: gradingInput("new", days: 999, orders: 1, cents: 0)) == RFMScores(r: 1, f: 1, m: 1))
        // Equal value: the id decides which side of the boundary the key falls.
        #expect(cutoffs.score(.frequency, value: 2, externalUserID: "id0") == 1)
        #expect(cutoffs.score(.frequency, value: 2, externalUserID: "id1") == 1)
        #expect(cutoffs.score(.frequency, value: 2, externalUserID: "id2") == 2)
        // Recency: score 1's boundary is the oldest buyer (50 days, "id5").
        #expect(cutoffs.score(.recency, value: 50, externalUserID: "id4") == 1)
        #expect(cutoffs.score(.recency, value: 50, externalUserID: "id6") == 2)
    }

    @Test func contactsWithoutOrdersGetNoIncrementalScore() throws {
        let cutoffs = try #require(RFMQuantileScoring.score([gradingInput("a")]).cutoffs)
        #expect(cutoffs.scores(for: gradingInputWithoutOrders("b")) == nil)
    }

    @Test(arguments: [1, 2, 3, 4, 5, 7, 11, 50, 333, 2_000], [false, true])
    func cutoffsReproduceTheFullRunOnRandomDataWithTies(count: Int, nonASCII: Bool) throws {
        for seed in UInt64(1)...UInt64(8) {
            let inputs = gradingRandomPopulation(seed: seed &* 7_919 &+ UInt64(count), count: count, nonASCII: nonASCII)
            let run = RFMQuantileScoring.score(inputs)
            guard let stored = run.cutoffs else {
                #expect(run.scores.allSatisfy { $0 == nil })
                continue
            }
            // Go through JSON, as the product stores them.
            let data = try JSONEncoder().encode(stored)
            let cutoffs = try JSONDecoder().decode(RFMQuantileCutoffs.self, from: data)
            #expect(cutoffs == stored)
            for (input, scores) in zip(inputs, run.scores) {
                #expect(cutoffs.scores(for: input) == scores, "seed \(seed), contact \(input.externalUserID)")
            }
        }
    }

    @Test func incrementalScoresAgreeWithBoundaryOrderAfterReordering() throws {
        let inputs = gradingRandomPopulation(seed: 42, count: 200)
        let run = RFMQuantileScoring.score(inputs)
        var cutoffs = try #require(run.cutoffs)
        cutoffs.frequency.reverse()
        cutoffs.monetary.reverse()
        cutoffs.recency.reverse()
        for (input, scores) in zip(inputs, run.scores) {
            #expect(cutoffs.scores(for: input) == scores)
        }
    }
}
