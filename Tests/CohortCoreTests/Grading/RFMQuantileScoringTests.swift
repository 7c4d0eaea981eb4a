import CohortCore
import Testing

@Suite("Quantile scoring")
struct RFMQuantileScoringTests {
    @Test func fiveContactsScoreOneToFiveOnEveryDimension() {
        let inputs = [
            gradingInput("c", days: 30, orders: 3, cents: 300),
            gradingInput("a", days: 50, orders: 1, cents: 100),
            gradingInput("e", days: 10, orders: 5, cents: 500),
            gradingInput("b", days: 40, orders: 2, cents: 200),
            gradingInput("d", days: 20, orders: 4, cents: 400),
        ]
        let scores = RFMQuantileScoring.score(inputs).scores
        #expect(scores.map { $0?.r } == [3, 1, 5, 2, 4])
        #expect(scores.map { $0?.f } == [3, 1, 5, 2, 4])
        #expect(scores.map { $0?.m } == [3, 1, 5, 2, 4])
    }

    @Test func tenContactsScoreInPairs() {
        let inputs = (1...10).reversed().map { gradingInput("id\($0)", orders: $0) }
        let byOrders = Dictionary(
            uniqueKeysWithValues: zip(inputs.map(\.frequency), RFMQuantileScoring.score(inputs).scores.map { $0?.f }))
        #expect((1...10).map { byOrders[$0] } == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
    }

    @Test func sevenAndTwoContactsUseCeilingOfFiveIOverN() {
        let seven = (1...7).map { gradingInput("id\($0)", orders: $0) }
        #expect(RFMQuantileScoring.score(seven).scores.map { $0?.f } == [1, 2, 3, 3, 4, 5, 5])
        let two = [gradingInput("a", orders: 1), gradingInput("b", orders: 2)]
        #expect(RFMQuantileScoring.score(two).scores.map { $0?.f } == [3, 5])
    }

    @Test func tiesAreBrokenByIDAscendingSoTheSmallerIDScoresLower() {
        let inputs = [
            gradingInput("c", orders: 1),
            gradingInput("b", orders: 2),
            gradingInput("a", orders: 2),
            gradingInput("d", orders: 5),
            gradingInput("e", orders: 9),
        ]
        #expect(RFMQuantileScoring.score(inputs).scores.map { $0?.f } == [1, 3, 2, 4, 5])
    }

    @Test func tieBreakUsesStringOrderNotNumericOrder() {
        // "u10" < "u9" as strings, so u10 ranks first among the tied.
        let inputs = [
            gradingInput("u9", orders: 1),
            gradingInput("u10", orders: 1),
            gradingInput("u2", orders: 1),
            gradingInput("u1", orders: 1),
            gradingInput("u3", orders: 1),
        ]
        // Rank: u1, u10, u2, u3, u9.
        #expect(RFMQuantileScoring.score(inputs).scores.map { $0?.f } == [5, 2, 3, 1, 4])
    }

    @Test(arguments: [
        ["ab", "ab\0", "a", "abcdefghij", "abcdefgh"],
        ["b", "", "a\u{0}z", "a", "user-0001"],
        ["ü", "u", "日", "z", "uz"],
    ])
    func idOrderIsStringOrder(ids: [String]) {
        let inputs = ids.map { gradingInput($0, orders: 1) }
        let sorted = ids.sorted()
        let expected = ids.map { id in (sorted.firstIndex(of: id) ?? -1) + 1 }
        #expect(RFMQuantileScoring.score(inputs).scores.map { $0?.f } == expected)
    }

    @Test func singleContactScoresFiveOnEveryDimension() {
        let scores = RFMQuantileScoring.score([gradingInput("only", days: 400, orders: 1, cents: 1)]).scores
        #expect(scores == [RFMScores(r: 5, f: 5, m: 5)])
    }

    @Test func contactsWithoutOrdersHaveNoScoreAndDoNotCountInN() {
        let inputs = [
            gradingInputWithoutOrders("z0"),
            gradingInput("a", orders: 1),
            gradingInput("b", orders: 2),
            gradingInputWithoutOrders("z1"),
            gradingInput("c", orders: 3),
            gradingInput("d", orders: 4),
            gradingInput("e", orders: 5),
            gradingInputWithoutOrders("z2"),
        ]
        let run = RFMQuantileScoring.score(inputs)
        #expect(run.scores.map { $0?.f } == [nil, 1, 2, nil, 3, 4, 5, nil])
        #expect(run.cutoffs?.population == 5)
    }

    @Test func frequencyZeroIsExcludedEvenWithARecencyValue() {
        let inputs = [
            RFMInput(externalUserID: "stale", recencyDays: 3, frequency: 0, monetaryCents: 0),
            gradingInput("a", orders: 1),
            gradingInput("b", orders: 2),
        ]
        #expect(inputs[0].isGradable == false)
        #expect(RFMQuantileScoring.score(inputs).scores.map { $0?.f } == [nil, 3, 5])
    }

    @Test func ordersWithoutARecencyValueAreExcluded() {
        let inconsistent = RFMInput(externalUserID: "x", recencyDays: nil, frequency: 2, monetaryCents: 500)
        #expect(inconsistent.isGradable == false)
        #expect(RFMQuantileScoring.score([inconsistent]).scores == [nil])
    }

    @Test func mostRecentBuyerScoresFiveOnRecency() {
        let inputs = [
            gradingInput("a", days: 1),
            gradingInput("b", days: 10),
            gradingInput("c", days: 100),
            gradingInput("d", days: 1000),
            gradingInput("e", days: 5),
        ]
        #expect(RFMQuantileScoring.score(inputs).scores.map { $0?.r } == [5, 3, 2, 1, 4])
    }

    @Test func recencyTiesAlsoGiveTheSmallerIDTheLowerScore() {
        let inputs = [
            gradingInput("b", days: 7),
            gradingInput("a", days: 7),
        ]
        #expect(RFMQuantileScoring.score(inputs).scores.map { $0?.r } == [5, 3])
    }

    @Test func emptyPopulationHasNoCutoffs() {
        let run = RFMQuantileScoring.score([gradingInputWithoutOrders("z")])
        #expect(run.scores == [nil])
        #expect(run.cutoffs == nil)
    }

    @Test func extremeValuesRankWithoutOverflow() {
        let inputs = [
            gradingInput("a", days: Int.min, cents: Int64.min),
            gradingInput("b", days: Int.max, cents: Int64.max),
        ]
        let scores = RFMQuantileScoring.score(inputs).scores
        #expect(scores.map { $0?.r } == [5, 3])
        #expect(scores.map { $0?.m } == [3, 5])
    }
}
