import Foundation
import Testing

@testable import CohortCore

@Suite struct SegmentSetTests {
    static func rules() throws -> GradingRules {
        try GradingRules.compile(grading: GradingConfig(), tags: TagRulesConfig(), version: "v").get()
    }

    static func spec(_ name: String, _ rule: String, exclude: [String] = []) -> SegmentSpec {
        SegmentSpec(name: NameReference(name, file: "segments.yaml", line: 1, column: 9), rule: RuleText(rule, file: "segments.yaml"), exclude: exclude.map { NameReference($0, file: "segments.yaml") })
    }

    @Test func segmentsReadOtherSegmentsAndExclusionsApply() throws {
        let config = SegmentsConfig(segments: [
            Self.spec("wecom", #"contact_type == "wecom""#),
            Self.spec("female", #"gender == "female""#),
            Self.spec("women_at_companies", "wecom and female"),
            Self.spec("others", "relations >= 0", exclude: ["wecom"]),
        ])
        let set = try SegmentSet.compile(config, grading: Self.rules(), version: "s").get()
        let rules = try Self.rules()
        let plan = set.metricPlan(asOf: 1_000_000, grading: rules)
        let contacts = [
            GradingContact(externalUserID: "a", gender: 2, type: 2, liveRelations: 1),
            GradingContact(externalUserID: "b", gender: 1, type: 2, liveRelations: 1),
            GradingContact(externalUserID: "c", gender: 2, type: 1, liveRelations: 1),
        ]
        let population = GradingPopulation(
            asOf: 1_000_000, contacts: contacts, columns: [Int64](repeating: AggregateColumn.none, count: contacts.count * plan.columns.count))
        let membership = set.evaluate(population, plan: plan)
        func members(_ name: String) -> [String] { membership.members(of: set.index(of: name)!).map { contacts[$0].externalUserID } }
        #expect(members("women_at_companies") == ["a"])
        #expect(members("others") == ["c"])
    }

    @Test func aCycleAndAnUnknownExclusionAreConfigErrors() throws {
        let cycle = SegmentsConfig(segments: [Self.spec("a", "b"), Self.spec("b", "a")])
        guard case .failure(let issues) = SegmentSet.compile(cycle, grading: try Self.rules(), version: "s") else {
            Issue.record("a cycle compiled")
            return
        }
        #expect(issues.issues.contains { $0.message.contains("cycle") && $0.message.contains("a → b → a") })
        let unknown = SegmentsConfig(segments: [Self.spec("a", "relations >= 1", exclude: ["bb"]), Self.spec("b", "relations >= 1")])
        guard case .failure(let problems) = SegmentSet.compile(unknown, grading: try Self.rules(), version: "s") else {
            Issue.record("an unknown exclusion compiled")
            return
        }
        #expect(problems.issues.first?.message.contains("unknown segment \"bb\"") == true)
    }

    @Test func aSegmentNamedLikeAFieldIsRefused() throws {
        let clash = SegmentsConfig(segments: [Self.spec("rfm", "relations >= 1")])
        guard case .failure(let issues) = SegmentSet.compile(clash, grading: try Self.rules(), version: "s") else {
            Issue.record("a clashing name compiled")
            return
        }
        #expect(issues.issues.first?.line == 1 && issues.issues.first?.column == 9)
    }
}
