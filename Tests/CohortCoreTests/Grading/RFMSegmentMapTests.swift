import Foundation
import CohortCore
import Testing

@Suite("Segment maps")
struct RFMSegmentMapTests {
    @Test func rfGridMatchesThePublishedGridForEveryCell() {
        let grid: [[String]] = [
            ["Hibernating", "Hibernating", "At Risk", "At Risk", "Can't Lose Them"],
            ["Hibernating", "Hibernating", "At Risk", "At Risk", "Can't Lose Them"],
            ["About To Sleep", "About To Sleep", "Need Attention", "Loyal Customers", "Loyal Customers"],
            ["Promising", "Potential Loyalists", "Potential Loyalists", "Loyal Customers", "Loyal Customers"],
            ["New Customers", "Potential Loyalists", "Potential Loyalists", "Champions", "Champions"],
        ]
        for r in 1...5 {
            for f in 1...5 {
                for m in 1...5 {
                    #expect(RFMSegmentMap.rfGrid.segment(r: r, f: f, m: m) == grid[r - 1][f - 1], "r\(r) f\(f) m\(m)")
                }
            }
        }
    }

    @Test func cornerCells() {
        #expect(RFMSegmentMap.rfGrid.segment(r: 5, f: 5, m: 5) == "Champions")
        #expect(RFMSegmentMap.rfGrid.segment(r: 1, f: 1, m: 1) == "Hibernating")
        #expect(RFMSegmentMap.rfmTable.segment(r: 5, f: 5, m: 5) == "Champions")
        #expect(RFMSegmentMap.rfmTable.segment(r: 1, f: 1, m: 1) == "Lost")
    }

    @Test(arguments: [
        (RFMCell(r: 4, f: 4, m: 4), "Champions"),
        (RFMCell(r: 4, f: 3, m: 4), "Loyal Customers"),
        (RFMCell(r: 2, f: 5, m: 5), "Loyal Customers"),
        (RFMCell(r: 5, f: 1, m: 1), "Recent Customers"),
        (RFMCell(r: 4, f: 1, m: 1), "Recent Customers"),
        (RFMCell(r: 3, f: 1, m: 1), "Promising"),
        (RFMCell(r: 4, f: 2, m: 2), "Potential Loyalist"),
        (RFMCell(r: 3, f: 2, m: 3), "Potential Loyalist"),
        (RFMCell(r: 2, f: 2, m: 2), "Customers Needing Attention"),
        (RFMCell(r: 2, f: 2, m: 1), "About To Sleep"),
        (RFMCell(r: 1, f: 5, m: 4), "Can't Lose Them"),
        (RFMCell(r: 1, f: 2, m: 2), "At Risk"),
        (RFMCell(r: 2, f: 1, m: 1), "About To Sleep"),
        (RFMCell(r: 1, f: 1, m: 2), "Hibernating"),
        (RFMCell(r: 1, f: 2, m: 1), "Hibernating"),
    ])
    func rfmTableCells(cell: RFMCell, segment: String) {
        #expect(RFMSegmentMap.rfmTable.segment(r: cell.r, f: cell.f, m: cell.m) == segment)
    }

    @Test func builtInMapsLintClean() {
        #expect(RFMSegmentMap.rfGrid.lint().isClean)
        #expect(RFMSegmentMap.rfmTable.lint().isClean)
        #expect(Set(RFMSegmentMap.rfGrid.rules.map(\.segment)).count == 10)
        #expect(Set(RFMSegmentMap.rfmTable.rules.map(\.segment)).count == 11)
    }

    @Test func atRiskBeforeCantLoseThemMakesCantLoseThemUnreachable() throws {
        var map = RFMSegmentMap.rfmTable
        let cantLose = try #require(map.rules.firstIndex { $0.segment == "Can't Lose Them" })
        let atRisk = try #require(map.rules.firstIndex { $0.segment == "At Risk" })
        map.rules.swapAt(cantLose, atRisk)
        let lint = map.lint()
        #expect(lint.unreachable == ["Can't Lose Them"])
        #expect(lint.unmatched.isEmpty)
        #expect(lint.shadowedRules == [atRisk])
    }

    @Test func missingRegionIsReportedCellByCell() {
        var map = RFMSegmentMap.rfGrid
        map.rules.removeAll { $0.segment == "Champions" }
        let lint = map.lint()
        var expected: [RFMCell] = []
        for f in 4...5 {
            for m in 1...5 { expected.append(RFMCell(r: 5, f: f, m: m)) }
        }
        #expect(lint.unmatched == expected)
        #expect(lint.unreachable.isEmpty)
        #expect(map.segment(r: 5, f: 5, m: 5) == nil)
    }

    @Test func publishedOrderAndRangesLeaveFourSegmentsUnreachable() {
        // The table as usually printed, in printed order: why rfmTable reorders and narrows Lost.
        let published = RFMSegmentMap(
            name: "published",
            rules: [
                RFMSegmentRule(segment: "Champions", r: 4...5, fm: 4...5),
                RFMSegmentRule(segment: "Loyal Customers", r: 2...5, fm: 3...5),
                RFMSegmentRule(segment: "Potential Loyalist", r: 3...5, fm: 1...3),
                RFMSegmentRule(segment: "Recent Customers", r: 4...5, fm: 0...1),
                RFMSegmentRule(segment: "Promising", r: 3...4, fm: 0...1),
                RFMSegmentRule(segment: "Customers Needing Attention", r: 2...3, fm: 2...3),
                RFMSegmentRule(segment: "About To Sleep", r: 2...3, fm: 0...2),
                RFMSegmentRule(segment: "At Risk", r: 0...2, fm: 2...5),
                RFMSegmentRule(segment: "Can't Lose Them", r: 0...1, fm: 4...5),
                RFMSegmentRule(segment: "Hibernating", r: 1...2, fm: 1...2),
                RFMSegmentRule(segment: "Lost", r: 0...2, fm: 0...2),
            ])
        let lint = published.lint()
        #expect(lint.unreachable == ["Recent Customers", "Promising", "Can't Lose Them", "Lost"])
        #expect(lint.unmatched.isEmpty)
    }

    @Test func publishedLostAndHibernatingCoverTheSameCells() {
        let lost = RFMSegmentRule(segment: "Lost", r: 0...2, fm: 0...2)
        let hibernating = RFMSegmentRule(segment: "Hibernating", r: 1...2, fm: 1...2)
        for r in 1...5 {
            for f in 1...5 {
                for m in 1...5 {
                    #expect(lost.matches(r: r, f: f, m: m) == hibernating.matches(r: r, f: f, m: m))
                }
            }
        }
    }

    @Test func fmRangesSeeHalfScores() {
        let rule = RFMSegmentRule(segment: "x", fm: 1.5...1.5)
        #expect(rule.matches(r: 3, f: 1, m: 2))
        #expect(rule.matches(r: 3, f: 2, m: 1))
        #expect(!rule.matches(r: 3, f: 1, m: 1))
        #expect(RFMSegmentRule(segment: "all").matches(r: 1, f: 5, m: 3))
    }

    @Test func everyRuleRangeMustContainTheValue() {
        let rule = RFMSegmentRule(segment: "x", r: 2...3, f: 1...1, m: 4...5)
        #expect(rule.matches(r: 2, f: 1, m: 5))
        #expect(!rule.matches(r: 1, f: 1, m: 5))
        #expect(!rule.matches(r: 2, f: 2, m: 5))
        #expect(!rule.matches(r: 2, f: 1, m: 3))
    }

    @Test func mapsRoundTripThroughJSON() throws {
        let data = try JSONEncoder().encode(RFMSegmentMap.rfmTable)
        #expect(try JSONDecoder().decode(RFMSegmentMap.self, from: data) == RFMSegmentMap.rfmTable)
    }
}
