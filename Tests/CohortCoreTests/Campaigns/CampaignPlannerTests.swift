import Foundation
import Testing

@testable import CohortCore

@Suite struct CampaignPlannerTests {
    struct EchoRenderer: MessageRenderer {
        func render(variant: Int, _ context: MessageContext) -> Result<String, MessageRenderFailure> {
            if context.candidate.name == nil { return .failure(MessageRenderFailure(reason: .missingData, detail: "no name")) }
            return .success("hi \(context.sender.userID)")
        }
    }

    static let calendar = BusinessCalendar(timeZone: TimeZone(identifier: "Asia/Shanghai")!)
    static let now: Int64 = 1_795_000_000

    static func candidate(_ id: String, relations: [CandidateRelation] = [CandidateRelation(userID: "u1")], name: String? = "n") -> CampaignCandidate {
        CampaignCandidate(externalUserID: id, name: name, relations: relations, grade: ContactGrade(externalUserID: id))
    }

    static func spec(priority: Int = 0, holdout: Double = 0) -> CampaignSpec {
        CampaignSpec(
            name: "c", segment: NameReference("s"), variants: [CampaignVariant(segment: nil, template: NameReference("t"))],
            priority: priority, holdout: holdout)
    }

    @Test func theMostRecentInteractionChoosesTheSenderAndTheOwnerOtherwise() {
        let owner = CandidateRelation(userID: "b", createTime: 100)
        let later = CandidateRelation(userID: "a", createTime: 200)
        #expect(CampaignPlanner.chooseSender([later, owner], policy: .recentInteraction)?.userID == "b")
        var talked = later
        talked.lastInteraction = 5_000
        #expect(CampaignPlanner.chooseSender([talked, owner], policy: .recentInteraction)?.userID == "a")
        #expect(CampaignPlanner.chooseSender([talked, owner], policy: .owner)?.userID == "b")
    }

    @Test func everyCandidateIsPlannedOrExcludedWithItsReason() {
        let shared = Self.candidate("w2", relations: [CandidateRelation(userID: "u1", createTime: 1), CandidateRelation(userID: "u2", createTime: 2)])
        let input = CampaignPlanInput(
            campaign: Self.spec(),
            candidates: [Self.candidate("w1"), shared, Self.candidate("w3", relations: []), Self.candidate("w4"), Self.candidate("w5", name: nil)],
            optOuts: ["w4": "asked (cli)"], now: Self.now)
        let plan = CampaignPlanner.plan(input, renderer: EchoRenderer(), calendar: Self.calendar)
        #expect(plan.recipients.map(\.externalUserID) == ["w1", "w2"])
        let reasons = Dictionary(uniqueKeysWithValues: plan.exclusions.map { ("\($0.externalUserID)/\($0.staff ?? "")", $0.reason) })
        #expect(reasons == ["w2/u2": .duplicateOwner, "w3/": .notCurrentRelation, "w4/": .optedOut, "w5/": .missingData])
        #expect(plan.tasks.count == 1)
        #expect(plan.tasks[0].recipients == ["w1", "w2"])
    }

    @Test func theHoldoutIsStableAndNearItsShare() {
        let ids = (0..<10_000).map { "wm\($0)" }
        let held = ids.filter { CampaignPlanner.holdoutFraction(campaign: "c", contact: $0) < 0.1 }
        #expect(held.count > 900 && held.count < 1_100)
        #expect(held == ids.filter { CampaignPlanner.holdoutFraction(campaign: "c", contact: $0) < 0.1 })
        let other = ids.filter { CampaignPlanner.holdoutFraction(campaign: "d", contact: $0) < 0.1 }
        #expect(Set(held) != Set(other), "each campaign holds out its own contacts")
    }

    @Test func aHigherPriorityCampaignTakesTheSlotOfALowerPriorityPendingOne() {
        let caps = [FrequencyCap(max: 1, window: .calendarDay)]
        let pendingLow = SendRecord(at: Self.now, campaign: "low", priority: 1, pending: true)
        let high = CampaignPlanInput(campaign: Self.spec(priority: 5), candidates: [Self.candidate("w1")], history: ["w1": [pendingLow]], caps: caps, now: Self.now)
        let plan = CampaignPlanner.plan(high, renderer: EchoRenderer(), calendar: Self.calendar)
        #expect(plan.recipients.map(\.externalUserID) == ["w1"])
        #expect(plan.bumped == [BumpedSend(campaign: "low", externalUserID: "w1")])

        let sentHigh = SendRecord(at: Self.now - 60, campaign: "earlier", priority: 9, pending: false)
        let blocked = CampaignPlanInput(campaign: Self.spec(priority: 5), candidates: [Self.candidate("w1")], history: ["w1": [sentHigh]], caps: caps, now: Self.now)
        let refused = CampaignPlanner.plan(blocked, renderer: EchoRenderer(), calendar: Self.calendar)
        #expect(refused.recipients.isEmpty)
        #expect(refused.exclusions.first?.reason == .frequencyCap)
        #expect(refused.bumped.isEmpty)
    }

    @Test func aRollingCapCountsOnlySendsInsideTheWindow() {
        let cap = FrequencyCap(max: 2, window: .rollingDays(30))
        let old = SendRecord(at: Self.now - 31 * 86_400, campaign: "a", priority: 0, pending: false)
        let recent = SendRecord(at: Self.now - 10 * 86_400, campaign: "b", priority: 0, pending: false)
        #expect(CampaignPlanner.violation(of: cap, history: [old, recent], at: Self.now, calendar: Self.calendar) == nil)
        let another = SendRecord(at: Self.now - 86_400, campaign: "c", priority: 0, pending: false)
        #expect(CampaignPlanner.violation(of: cap, history: [old, recent, another], at: Self.now, calendar: Self.calendar) != nil)
    }

    @Test func quietHoursDeferTheDispatchToTheirEnd() {
        var spec = Self.spec()
        spec.quietHours = QuietHours(start: 21 * 60, end: 9 * 60)
        // 23:00 in Shanghai.
        let night = Self.calendar.startOfDay(Self.calendar.dayNumber(Self.now)) + 23 * 3_600
        let plan = CampaignPlanner.plan(
            CampaignPlanInput(campaign: spec, candidates: [Self.candidate("w1")], now: night), renderer: EchoRenderer(), calendar: Self.calendar)
        #expect(Self.calendar.minuteOfDay(plan.dispatchAt) == 9 * 60)
        #expect(plan.dispatchAt > night && plan.dispatchAt - night == 10 * 3_600)
    }
}
