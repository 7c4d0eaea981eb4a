import CohortCore
import Testing

@Suite("ABC classification")
struct ABCClassifierTests {
    @Test func handExampleWithDefaultShares() {
        // Ranked a 500, b 300, c 100, d 50, e 50 of 1,000; prefixes 0, 500, 800, 900, 950.
        // d's prefix is exactly 90 %, and the bound is strict, so d is C.
        let inputs = [
            gradingInput("c", cents: 100),
            gradingInput("e", cents: 50),
            gradingInput("a", cents: 500),
            gradingInput("d", cents: 50),
            gradingInput("b", cents: 300),
        ]
        let run = ABCClassifier.classify(inputs, config: ABCConfig())
        #expect(run.classes == [.b, .c, .a, .c, .a])
        #expect(run.boundaries == ABCBoundaries(minimumACents: 300, minimumBCents: 100))
    }

    @Test func prefixOfExactlyTheAShareIsNotA() {
        let run = ABCClassifier.classify([gradingInput("x", cents: 700), gradingInput("y", cents: 300)], config: ABCConfig())
        #expect(run.classes == [.a, .b])
    }

    @Test func tiesOnMonetaryAreRankedByIDAndIncrementalGradingFavoursTheTie() {
        // x and y tie at 300; x ranks first (prefix 400 → A), y second (prefix 700 → B).
        let inputs = [gradingInput("y", cents: 300), gradingInput("w", cents: 400), gradingInput("x", cents: 300)]
        let run = ABCClassifier.classify(inputs, config: ABCConfig())
        #expect(run.classes == [.b, .a, .a])
        #expect(run.boundaries == ABCBoundaries(minimumACents: 300, minimumBCents: 300))
        // The documented approximation: by value, y's 300 is "still A".
        #expect(run.boundaries.classify(monetaryCents: 300) == .a)
    }

    @Test func zeroTotalMakesEveryContactC() {
        let inputs = [gradingInput("a", cents: 0), gradingInput("b", cents: 0)]
        let run = ABCClassifier.classify(inputs, config: ABCConfig())
        #expect(run.classes == [.c, .c])
        #expect(run.boundaries == ABCBoundaries(minimumACents: nil, minimumBCents: nil))
        #expect(run.boundaries.classify(monetaryCents: 1_000_000) == .c)
    }

    @Test func negativeTotalMakesEveryContactC() {
        let inputs = [gradingInput("a", cents: 100), gradingInput("b", cents: -500)]
        #expect(ABCClassifier.classify(inputs, config: ABCConfig()).classes == [.c, .c])
    }

    @Test func singleContactWithRevenueIsA() {
        #expect(ABCClassifier.classify([gradingInput("a", cents: 1)], config: ABCConfig()).classes == [.a])
        #expect(ABCClassifier.classify([gradingInput("a", cents: 0)], config: ABCConfig()).classes == [.c])
    }

    @Test func zeroRevenueBuyersTakePartAndAreC() {
        let inputs = [gradingInput("a", cents: 0), gradingInput("b", cents: 1_000), gradingInput("c", cents: 0)]
        #expect(ABCClassifier.classify(inputs, config: ABCConfig()).classes == [.c, .a, .c])
    }

    @Test func refundsRankLastAndAreC() {
        // Net total 1,000: b (prefix 0) is A, c (prefix 1,100) is past 90 %, the refund is last.
        let inputs = [gradingInput("a", cents: -200), gradingInput("b", cents: 1_100), gradingInput("c", cents: 100)]
        #expect(ABCClassifier.classify(inputs, config: ABCConfig()).classes == [.c, .a, .c])
    }

    @Test func contactsWithoutOrdersAreNeitherClassifiedNorCounted() {
        let stray = RFMInput(externalUserID: "z", recencyDays: nil, frequency: 0, monetaryCents: 1_000_000)
        let run = ABCClassifier.classify([stray, gradingInput("a", cents: 800), gradingInput("b", cents: 200)], config: ABCConfig())
        #expect(run.classes == [nil, .a, .b])
    }

    @Test func customSharesApply() {
        let inputs = (1...10).map { gradingInput("id\($0)", cents: 100) }
        let run = ABCClassifier.classify(inputs, config: ABCConfig(aShare: 0.2, bShare: 0.5))
        // Rank by id as strings: id1, id10, id2, …; prefixes 0, 100, 200, …
        let byID = Dictionary(uniqueKeysWithValues: zip(inputs.map(\.externalUserID), run.classes))
        let rankOrder = ["id1", "id10", "id2", "id3", "id4", "id5", "id6", "id7", "id8", "id9"]
        let classes: [ABCClass?] = rankOrder.map { byID[$0] ?? nil }
        let expected: [ABCClass?] = [.a, .a, .b, .b, .b, .c, .c, .c, .c, .c]
        #expect(classes == expected)
    }

    @Test func sharesBecomeRoundedBasisPoints() {
        #expect(ABCConfig().aBasisPoints == 7_000)
        #expect(ABCConfig().bBasisPoints == 9_000)
        #expect(ABCConfig(aShare: 0.33337, bShare: 0.33333).aBasisPoints == 3_334)
        #expect(ABCConfig(aShare: 0.33337, bShare: 0.33333).bBasisPoints == 3_333)
        #expect(ABCConfig(aShare: -0.1, bShare: 1.5).aBasisPoints == 0)
        #expect(ABCConfig(aShare: -0.1, bShare: 1.5).bBasisPoints == 10_000)
        #expect(ABCConfig(aShare: .nan, bShare: .infinity).aBasisPoints == 0)
        #expect(ABCConfig(aShare: .nan, bShare: .infinity).bBasisPoints == 10_000)
    }

    @Test func sharesAreValidated() {
        #expect(ABCConfig().validationError == nil)
        #expect(ABCConfig(aShare: 0.9, bShare: 0.7).validationError != nil)
        #expect(ABCConfig(aShare: 0.5, bShare: 1.2).validationError != nil)
        #expect(ABCConfig(aShare: .nan, bShare: 0.9).validationError != nil)
    }

    @Test func boundariesClassifyByValue() {
        let boundaries = ABCBoundaries(minimumACents: 500, minimumBCents: 100)
        #expect([600, 500, 499, 100, 99, 0].map { boundaries.classify(monetaryCents: $0) } == [.a, .a, .b, .b, .c, .c])
        let noB = ABCBoundaries(minimumACents: 500, minimumBCents: nil)
        #expect(noB.classify(monetaryCents: 499) == .c)
    }
}
