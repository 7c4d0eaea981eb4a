import Foundation
import CohortCore
import Testing

@Suite("Grader")
struct RFMGraderTests {
    let clv = CLVConfig(lifetimeYears: 2, margin: 0.5, windowDays: 365)

    @Test func gradesAPopulationWithQuantiles() throws {
        let inputs = [
            gradingInput("a", days: 5, orders: 10, cents: 500),
            gradingInput("b", days: 50, orders: 4, cents: 300),
            gradingInputWithoutOrders("z"),
            gradingInput("c", days: 100, orders: 3, cents: 100),
            gradingInput("d", days: 200, orders: 2, cents: 50),
            gradingInput("e", days: 300, orders: 1, cents: 50),
        ]
        let run = RFMGrader.grade(inputs, config: RFMConfig(clv: clv))
        #expect(run.grades[2] == nil)
        #expect(run.grades[0] == RFMGrade(r: 5, f: 5, m: 5, segment: "Champions", abc: .a, clvCents: 500))
        #expect(run.grades[1] == RFMGrade(r: 4, f: 4, m: 4, segment: "Loyal Customers", abc: .a, clvCents: 300))
        #expect(run.grades[3] == RFMGrade(r: 3, f: 3, m: 3, segment: "Need Attention", abc: .b, clvCents: 100))
        // d and e tie at 50 cents; d has the smaller id, so the lower M.
        #expect(run.grades[4] == RFMGrade(r: 2, f: 2, m: 1, segment: "Hibernating", abc: .c, clvCents: 50))
        #expect(run.grades[5] == RFMGrade(r: 1, f: 1, m: 2, segment: "Hibernating", abc: .c, clvCents: 50))
        #expect(run.cutoffs?.population == 5)
        #expect(run.abcBoundaries == ABCBoundaries(minimumACents: 300, minimumBCents: 100))
    }

    @Test func thresholdScoringHasNoCutoffs() throws {
        let thresholds = RFMThresholds(recencyDays: [180, 90, 30, 7], frequency: [2, 3, 4, 5], monetaryCents: [100, 200, 300, 400])
        let config = RFMConfig(scoring: .thresholds(thresholds), segmentMap: .rfmTable, clv: clv)
        let run = RFMGrader.grade([gradingInput("a", days: 7, orders: 5, cents: 400), gradingInput("b", days: 181, orders: 1, cents: 99)], config: config)
        #expect(run.cutoffs == nil)
        #expect(run.grades.map { $0?.segment } == ["Champions", "Lost"])
        #expect(run.grades.map { $0.map { RFMScores(r: $0.r, f: $0.f, m: $0.m) } } == [RFMScores(r: 5, f: 5, m: 5), RFMScores(r: 1, f: 1, m: 1)])
        let one = RFMGrader.gradeOne(gradingInput("c", days: 30, orders: 3, cents: 250), cutoffs: nil, config: config, abcBoundaries: run.abcBoundaries)
        #expect(one.map { RFMScores(r: $0.r, f: $0.f, m: $0.m) } == RFMScores(r: 4, f: 3, m: 3))
    }

    @Test(arguments: [RFMSegmentMap.rfGrid, RFMSegmentMap.rfmTable])
    func gradeOneReproducesTheFullRun(map: RFMSegmentMap) throws {
        // Distinct monetary values, so the ABC value-boundary approximation is exact too.
        var rng = GradingTestRNG(seed: 7)
        let inputs = (0..<500).map { index in
            index % 9 == 0
                ? gradingInputWithoutOrders("u\(index)")
                : gradingInput("u\(index)", days: rng.below(40), orders: 1 + rng.below(5), cents: Int64(index) * 37)
        }
        let config = RFMConfig(segmentMap: map, clv: clv)
        let run = RFMGrader.grade(inputs, config: config)
        let data = try JSONEncoder().encode(run)
        let stored = try JSONDecoder().decode(RFMRun.self, from: data)
        #expect(stored == run)
        for (input, grade) in zip(inputs, run.grades) {
            let again = RFMGrader.gradeOne(input, cutoffs: stored.cutoffs, config: config, abcBoundaries: stored.abcBoundaries)
            #expect(again == grade, "\(input.externalUserID)")
        }
    }

    @Test func gradeOneNeedsOrdersAndQuantileCutoffs() {
        let config = RFMConfig(clv: clv)
        let boundaries = ABCBoundaries(minimumACents: nil, minimumBCents: nil)
        #expect(RFMGrader.gradeOne(gradingInput("a"), cutoffs: nil, config: config, abcBoundaries: boundaries) == nil)
        let cutoffs = RFMQuantileScoring.score([gradingInput("a")]).cutoffs
        #expect(RFMGrader.gradeOne(gradingInputWithoutOrders("b"), cutoffs: cutoffs, config: config, abcBoundaries: boundaries) == nil)
        #expect(RFMGrader.gradeOne(gradingInput("b"), cutoffs: cutoffs, config: config, abcBoundaries: boundaries) != nil)
    }

    @Test func emptyPopulation() {
        let run = RFMGrader.grade([], config: RFMConfig(clv: clv))
        #expect(run.grades.isEmpty)
        #expect(run.cutoffs == nil)
    }

    @Test func configValidationCollectsEveryProblem() throws {
        #expect(RFMConfig(clv: clv).validationError == nil)
        let bad = RFMConfig(
            scoring: .thresholds(RFMThresholds(recencyDays: [7, 30, 90, 180], frequency: [1, 2, 3, 4], monetaryCents: [1, 2, 3, 4])),
            abc: ABCConfig(aShare: 0.95, bShare: 0.9),
            clv: CLVConfig(lifetimeYears: 1, margin: 0.3, windowDays: 0))
        let message = try #require(bad.validationError)
        #expect(message.contains("recencyDays"))
        #expect(message.contains("ABC"))
        #expect(message.contains("windowDays"))
    }

    @Test func configRoundTripsThroughJSON() throws {
        let config = RFMConfig(
            scoring: .thresholds(RFMThresholds(recencyDays: [180, 90, 30, 7], frequency: [2, 3, 4, 5], monetaryCents: [1, 2, 3, 4])),
            segmentMap: .rfmTable, clv: clv)
        let data = try JSONEncoder().encode(config)
        #expect(try JSONDecoder().decode(RFMConfig.self, from: data) == config)
        let quantiles = RFMConfig(clv: clv)
        #expect(try JSONDecoder().decode(RFMConfig.self, from: JSONEncoder().encode(quantiles)) == quantiles)
    }

    @Test func scoringIsStoredWithAKindTag() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let quantiles = String(decoding: try encoder.encode(RFMScoring.quantiles), as: UTF8.self)
        #expect(quantiles == #"{"kind":"quantiles"}"#)
        let thresholds = RFMThresholds(recencyDays: [4, 3, 2, 1], frequency: [1, 2, 3, 4], monetaryCents: [1, 2, 3, 4])
        let stored = String(decoding: try encoder.encode(RFMScoring.thresholds(thresholds)), as: UTF8.self)
        #expect(stored == #"{"kind":"thresholds","thresholds":{"frequency":[1,2,3,4],"monetaryCents":[1,2,3,4],"recencyDays":[4,3,2,1]}}"#)
    }
}
