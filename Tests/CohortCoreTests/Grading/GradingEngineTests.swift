import CohortCore
import Foundation
import Testing

/// The engine's tag decisions: exclusive groups, TTLs, drift, and the business calendar.
@Suite struct GradingEngineTests {
    static let asOf: Int64 = 1_795_392_000  // 2026-11-23T00:00:00Z, 08:00 in Shanghai
    static let shanghai = TimeZone(identifier: "Asia/Shanghai")!

    static func rules(_ groups: [TagGroupSpec], lifecycle: [LifecycleTransition] = []) throws -> GradingRules {
        let config = GradingConfig(timeZone: shanghai, lifecycle: lifecycle)
        switch GradingRules.compile(grading: config, tags: TagRulesConfig(groups: groups), version: "test") {
        case .success(let rules): return rules
        case .failure(let issues): throw issues
        }
    }

    /// One contact with one relation and the given orders (days before `asOf`, amounts in yuan).
    static func population(
        at asOf: Int64, rules: GradingRules, orders: [(days: Int64, yuan: Int64)], assignments: [TagAssignment] = [],
        tagIDs: [String] = [], catalogue: [TagGroup] = []
    ) -> (GradingPopulation, MetricPlan) {
        let plan = rules.metricPlan(asOf: asOf)
        let interactions = orders.enumerated().map { index, order in
            Interaction(
                kind: "order", contact: .externalUserID("wmA"), occurredAt: asOf - order.days * 86_400, amountCents: order.yuan * 100,
                source: "t", sourceID: "\(index)")
        }
        var population = GradingPopulation(asOf: asOf, catalogue: catalogue)
        population.contacts = [GradingContact(externalUserID: "wmA", liveRelations: 1)]
        population.appendRelation(GradingRelation(contact: 0, userID: "zhangsan"), tagIDs: tagIDs, assignments: assignments)
        population.columns = plan.aggregate(interactions)
        return (population, plan)
    }

    @Test func anExclusiveGroupGetsOnlyTheFirstTagWhoseRuleHolds() throws {
        let rules = try Self.rules([
            TagGroupSpec(
                name: "买家", owner: .rules, exclusive: true,
                tags: [
                    TagRuleSpec(name: "大", rule: RuleText("monetary() >= 1000")),
                    TagRuleSpec(name: "买过", rule: RuleText("orders() >= 1")),
                ])
        ])
        let (population, plan) = Self.population(at: Self.asOf, rules: rules, orders: [(1, 2000)])
        let outcome = GradingEngine.run(population, rules: rules, plan: plan)
        #expect(outcome.relationPlans.first?.add == ["买家/大"])
    }

    @Test func aTagWithATTLGoesWhenItRunsOutAndReturnsOnlyAfterTheRuleWasFalse() throws {
        let rules = try Self.rules([
            TagGroupSpec(name: "动态", owner: .rules, tags: [TagRuleSpec(name: "新单", rule: RuleText("orders(within: 30d) >= 1"), ttl: 7 * 86_400)])
        ])
        // Day 0: the rule turns true; the tag is assigned with an expiry a week out.
        var (population, plan) = Self.population(at: Self.asOf, rules: rules, orders: [(0, 10)])
        var outcome = GradingEngine.run(population, rules: rules, plan: plan)
        let assigned = try #require(outcome.relationPlans.first?.assign.first)
        #expect(outcome.relationPlans.first?.add == ["动态/新单"])
        #expect(assigned.expiresAt == Self.asOf + 7 * 86_400)
        let catalogue = [TagGroup(id: "g", name: "动态", tags: [Tag(id: "t", groupID: "g", name: "新单")])]

        // Day 8: the rule still holds but the TTL ran out: the tag comes off, the assignment expires.
        (population, plan) = Self.population(
            at: Self.asOf + 8 * 86_400, rules: rules, orders: [(8, 10)], assignments: [assigned], tagIDs: ["t"], catalogue: catalogue)
        outcome = GradingEngine.run(population, rules: rules, plan: plan)
        #expect(outcome.relationPlans.first?.remove == ["动态/新单"])
        #expect(outcome.relationPlans.first?.expire == ["动态/新单"])
        var expired = assigned
        expired.status = .expired

        // Day 9: still true, expired: it stays off.
        (population, plan) = Self.population(at: Self.asOf + 9 * 86_400, rules: rules, orders: [(9, 10)], assignments: [expired], catalogue: catalogue)
        outcome = GradingEngine.run(population, rules: rules, plan: plan)
        #expect(outcome.relationPlans.isEmpty)

        // Day 40: the rule is false: the assignment is cleared, so a later order assigns it again.
        (population, plan) = Self.population(at: Self.asOf + 40 * 86_400, rules: rules, orders: [(40, 10)], assignments: [expired], catalogue: catalogue)
        outcome = GradingEngine.run(population, rules: rules, plan: plan)
        #expect(outcome.relationPlans.first?.clear == ["动态/新单"])
        (population, plan) = Self.population(at: Self.asOf + 41 * 86_400, rules: rules, orders: [(0, 10)], catalogue: catalogue)
        outcome = GradingEngine.run(population, rules: rules, plan: plan)
        #expect(outcome.relationPlans.first?.add == ["动态/新单"])
    }

    @Test func aRuleTagAddedByHandIsTakenOffAndCountedAsDrift() throws {
        let rules = try Self.rules([
            TagGroupSpec(name: "价值", owner: .rules, tags: [TagRuleSpec(name: "高", rule: RuleText("monetary() >= 1000"))])
        ])
        let catalogue = [TagGroup(id: "g", name: "价值", tags: [Tag(id: "t", groupID: "g", name: "高")])]
        let (population, plan) = Self.population(at: Self.asOf, rules: rules, orders: [(3, 10)], tagIDs: ["t"], catalogue: catalogue)
        let outcome = GradingEngine.run(population, rules: rules, plan: plan)
        #expect(outcome.relationPlans.first?.remove == ["价值/高"])
        #expect(outcome.relationPlans.first?.drift == ["价值/高"])
    }

    @Test func lifecycleMovesThroughSeveralStagesInOneRunAndRecordsWhy() throws {
        let rules = try Self.rules(
            [],
            lifecycle: [
                LifecycleTransition(to: .customer, from: [.potential, .intent], rule: RuleText("orders() >= 1")),
                LifecycleTransition(to: .loyal, from: [.customer], rule: RuleText("orders() >= 3")),
                LifecycleTransition(to: .churned, from: [.customer, .loyal], rule: RuleText("recency > 180")),
            ])
        let (population, plan) = Self.population(at: Self.asOf, rules: rules, orders: [(1, 10), (2, 10), (3, 10)])
        let outcome = GradingEngine.run(population, rules: rules, plan: plan)
        #expect(outcome.grades[0].lifecycle == .loyal)
        #expect(outcome.transitions.map(\.to) == [.potential, .customer, .loyal])
        #expect(outcome.transitions.last?.reason.contains("orders() >= 3") == true)
    }

    @Test func dayWindowsCountCalendarDaysInTheBusinessTimeZone() {
        let calendar = BusinessCalendar(timeZone: Self.shanghai)
        // 2026-11-22 23:50 and 2026-11-23 00:10 in Shanghai are on different days, 20 minutes apart.
        let lateYesterday: Int64 = 1_795_362_600
        let today = lateYesterday + 1_200
        #expect(calendar.daysBetween(lateYesterday, today) == 1)
        #expect(calendar.windowStart(seconds: 86_400, asOf: today) == today - 600)
        #expect(calendar.windowStart(seconds: 12 * 3600, asOf: today) == today - 12 * 3600)
    }

    @Test func anOrderAtTheFirstInstantOfTheWindowCountsAndOneSecondEarlierDoesNot() throws {
        let rules = try Self.rules([])
        let plan = rules.metricPlan(asOf: Self.asOf)
        let start = BusinessCalendar(timeZone: Self.shanghai).windowStart(seconds: 365 * 86_400, asOf: Self.asOf)
        let inside = Interaction(kind: "order", contact: .externalUserID("wmA"), occurredAt: start, amountCents: 500, source: "t", sourceID: "1")
        var outside = inside
        outside.occurredAt = start - 1
        outside.sourceID = "2"
        let row = plan.aggregate([inside, outside])
        #expect(row[MetricPlan.rfmOrders] == 1)
        #expect(row[MetricPlan.rfmMonetary] == 500)
        #expect(row[MetricPlan.firstOrder] == start - 1)
        // The window is 365 calendar days ending today (Shanghai): it starts at local midnight.
        #expect((start + 8 * 3600) % 86_400 == 0)
    }
}
