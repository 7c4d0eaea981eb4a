import Foundation

/// Everything a run decided. Nothing is written yet: the plan prints it, apply stores it.
public struct GradingOutcome: Sendable {
    public var asOf: Int64
    public var configVersion: String
    /// Every contact's grades, in population order.
    public var grades: [ContactGrade]
    /// Indices of contacts whose grades differ from the stored ones (or have none).
    public var changedGrades: [Int]
    public var transitions: [LifecycleChange]
    /// Relations with anything to change, on the platform or in the assignments.
    public var relationPlans: [RelationTagPlan]
    /// For incremental re-grades until the next full run (nil for an incremental run).
    public var baseline: GradingBaseline?
}

/// A population with its grades and lifecycle decided, ready for the tag rules, which can
/// then be evaluated (and their results written) a range of relations at a time.
public struct GradedPopulation: @unchecked Sendable {
    // The state is read-only once grading is done; ranges of relations are evaluated from it
    // concurrently.
    let state: GradingRunState
    public let asOf: Int64
    public let configVersion: String
    public var grades: [ContactGrade] { state.grades }
    public let changedGrades: [Int]
    public let transitions: [LifecycleChange]
    public let baseline: GradingBaseline?
    public var relationCount: Int { state.population.relations.count }
}

/// Grades a population: metrics, RFM, ABC, CLV, lifecycle, then tag rules per relation, and
/// the difference from what the store and the platform have. Pure: time is `population.asOf`.
public enum GradingEngine {
    /// - Parameter baseline: nil for a full run (quantiles over this population); a previous
    ///   full run's baseline to score a few contacts incrementally against its cut-offs.
    public static func run(
        _ population: GradingPopulation, rules: GradingRules, plan: MetricPlan, baseline: GradingBaseline? = nil
    ) -> GradingOutcome {
        let graded = grade(population, rules: rules, plan: plan, baseline: baseline)
        return GradingOutcome(
            asOf: graded.asOf, configVersion: graded.configVersion, grades: graded.grades, changedGrades: graded.changedGrades,
            transitions: graded.transitions, relationPlans: tagPlans(graded, rules: rules, range: 0..<graded.relationCount),
            baseline: graded.baseline)
    }

    /// Metrics, RFM, ABC, CLV and lifecycle for every contact.
    public static func grade(
        _ population: GradingPopulation, rules: GradingRules, plan: MetricPlan, baseline: GradingBaseline? = nil
    ) -> GradedPopulation {
        let asOf = population.asOf
        let stride = plan.columns.count
        let columns = population.columns
        precondition(columns.count == population.contacts.count * stride, "one row of aggregates per contact")
        let calendar = plan.calendar
        // Metrics and RFM inputs.
        var inputs: [RFMInput] = []
        inputs.reserveCapacity(population.contacts.count)
        for (index, contact) in population.contacts.enumerated() {
            let base = index * stride
            let orders = Int(columns[base + MetricPlan.rfmOrders])
            let last = columns[base + MetricPlan.lastOrder]
            inputs.append(
                RFMInput(
                    externalUserID: contact.externalUserID,
                    recencyDays: last == AggregateColumn.none ? nil : calendar.daysBetween(last, asOf),
                    frequency: orders, monetaryCents: columns[base + MetricPlan.rfmMonetary]))
        }
        var rfmConfig = rules.grading.rfm
        rfmConfig.clv.windowDays = rules.grading.rfmWindowDays
        var scored: [RFMGrade?]
        var newBaseline: GradingBaseline?
        if let baseline {
            scored = inputs.map {
                RFMGrader.gradeOne(
                    $0, cutoffs: baseline.cutoffs, config: rfmConfig,
                    abcBoundaries: baseline.abc ?? ABCBoundaries(minimumACents: nil, minimumBCents: nil))
            }
        } else {
            let run = RFMGrader.grade(inputs, config: rfmConfig)
            scored = run.grades
            newBaseline = GradingBaseline(asOf: asOf, configVersion: rules.version, cutoffs: run.cutoffs, abc: run.abcBoundaries)
        }
        var grades: [ContactGrade] = []
        grades.reserveCapacity(inputs.count)
        for (index, input) in inputs.enumerated() {
            let score = scored[index]
            let previous = population.contacts[index].previous
            grades.append(
                ContactGrade(
                    externalUserID: input.externalUserID, recencyDays: input.recencyDays, frequency: input.frequency,
                    monetaryCents: input.monetaryCents, r: score?.r, f: score?.f, m: score?.m, segment: score?.segment,
                    abc: score?.abc.rawValue, clvCents: score.map { Int64($0.clvCents.rounded()) },
                    lifecycle: previous?.lifecycle ?? .potential, lifecycleSince: previous?.lifecycleSince ?? asOf))
        }
        inputs = []
        scored = []
        let state = GradingRunState(population: population, plan: plan, grades: grades)
        grades = []
        // Lifecycle: follow transitions from the stored stage until none applies; a stage is
        // entered at most once per run, so contradictory rules cannot loop.
        var transitions: [LifecycleChange] = []
        for index in population.contacts.indices {
            let previous = population.contacts[index].previous
            if previous == nil {
                transitions.append(
                    LifecycleChange(externalUserID: population.contacts[index].externalUserID, from: nil, to: .potential, at: asOf, reason: "first graded"))
            }
            var visited: Set<LifecycleStage> = [state.grades[index].lifecycle]
            while true {
                let current = state.grades[index].lifecycle
                let facts = ContactFacts(state: state, contact: index)
                guard
                    let (transition, rule) = rules.lifecycle.first(where: { entry in
                        entry.transition.from.contains(current) && !visited.contains(entry.transition.to)
                            && entry.rule.evaluate(facts)
                    })
                else { break }
                let explanation = rule.explain(facts)
                transitions.append(
                    LifecycleChange(
                        externalUserID: population.contacts[index].externalUserID, from: current, to: transition.to, at: asOf,
                        reason: "\(transition.to.rawValue): \(rule.source) [\(explanation.conditions.joined(separator: "; "))]"))
                state.grades[index].lifecycle = transition.to
                state.grades[index].lifecycleSince = asOf
                visited.insert(transition.to)
            }
        }
        let changed = population.contacts.indices.filter { index in
            guard var previous = population.contacts[index].previous else { return true }
            // Only grades count as a change; the stage's entry time moves with the stage.
            previous.lifecycleSince = state.grades[index].lifecycleSince
            return previous != state.grades[index]
        }
        return GradedPopulation(
            state: state, asOf: asOf, configVersion: rules.version, changedGrades: changed, transitions: transitions,
            baseline: newBaseline)
    }

    /// Desired rule tags per relation, compared with the platform's tags and the assignments.
    /// Relations are independent and the run state is read-only by now, so large populations
    /// are split across the cores.
    public static func tagPlans(_ graded: GradedPopulation, rules: GradingRules, range: Range<Int>) -> [RelationTagPlan] {
        let state = graded.state
        let count = range.count
        let parts = count >= 20_000 ? max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8)) : 1
        guard parts > 1 else { return tagPlans(state: state, rules: rules, range: range) }
        let results = PartResults(parts)
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            let lower = range.lowerBound + count * part / parts
            let upper = range.lowerBound + count * (part + 1) / parts
            results.set(part, tagPlans(state: state, rules: rules, range: lower..<upper))
        }
        return results.joined()
    }

    /// One slot per part, each written by exactly one iteration of `concurrentPerform`.
    private final class PartResults: @unchecked Sendable {
        private var parts: [[RelationTagPlan]]
        private let lock = NSLock()

        init(_ count: Int) {
            parts = Array(repeating: [], count: count)
        }

        func set(_ index: Int, _ value: [RelationTagPlan]) {
            lock.withLock { parts[index] = value }
        }

        func joined() -> [RelationTagPlan] {
            lock.withLock { parts.flatMap { $0 } }
        }
    }

    private static func tagPlans(state: GradingRunState, rules: GradingRules, range: Range<Int>) -> [RelationTagPlan] {
        let population = state.population
        let asOf = population.asOf
        // Tag id → rule id (`group/name`) for the tags of rule-owned groups.
        var ruleTagIDs: [String: String] = [:]
        let ruleGroupNames = Set(rules.ruleGroups.map(\.spec.name))
        for (id, tag) in state.tagNames where ruleGroupNames.contains(tag.group) { ruleTagIDs[id] = "\(tag.group)/\(tag.name)" }
        var plans: [RelationTagPlan] = []
        var desired: [String] = []
        var current: [String] = []
        for index in range {
            let relation = population.relations[index]
            let facts = RelationFacts(state: state, relation: index)
            var plan: RelationTagPlan?
            desired.removeAll(keepingCapacity: true)
            current.removeAll(keepingCapacity: true)
            let assignments = population.assignments(of: index)
            for id in population.tagIDs(of: index) {
                if let rule = ruleTagIDs[id] { current.append(rule) }
            }
            func change(_ body: (inout RelationTagPlan) -> Void) {
                if plan == nil {
                    let key = RelationKey(externalUserID: population.contacts[relation.contact].externalUserID, userID: relation.userID)
                    plan = RelationTagPlan(key: key)
                }
                body(&plan!)
            }
            for group in rules.ruleGroups {
                var won = false
                for tagRule in group.rules {
                    let holds = !won && tagRule.rule.evaluate(facts)
                    let existing = assignments.isEmpty ? nil : assignments.first { $0.tag == tagRule.id }
                    guard holds else {
                        if existing != nil { change { $0.clear.append(tagRule.id) } }
                        continue
                    }
                    if group.spec.exclusive { won = true }
                    switch existing {
                    case nil:
                        let assignment = TagAssignment(
                            tag: tagRule.id, ruleID: tagRule.id, configVersion: rules.version,
                            facts: tagRule.facts(facts), assignedAt: asOf,
                            expiresAt: tagRule.spec.ttl.map { asOf + $0 })
                        change { $0.assign.append(assignment) }
                        desired.append(tagRule.id)
                    case let assignment? where assignment.status == .active:
                        if let expiresAt = assignment.expiresAt, expiresAt <= asOf {
                            change { $0.expire.append(tagRule.id) }
                        } else {
                            desired.append(tagRule.id)
                        }
                    case _?:
                        break  // expired: stays off while the rule keeps holding
                    }
                }
            }
            if desired != current {
                let key = RelationKey(externalUserID: population.contacts[relation.contact].externalUserID, userID: relation.userID)
                let pending = population.pendingRelations.contains(key)
                for tag in desired where !current.contains(tag) {
                    change { $0.add.append(tag) }
                    // A tag Cohort had put there and nobody queued since: staff took it off.
                    if !pending, assignments.contains(where: { $0.tag == tag && $0.status == .active }) {
                        change { $0.drift.append(tag) }
                    }
                }
                for tag in current where !desired.contains(tag) {
                    change { $0.remove.append(tag) }
                    if !pending, !assignments.contains(where: { $0.tag == tag }) { change { $0.drift.append(tag) } }
                }
            }
            if let plan, !plan.isEmpty { plans.append(plan) }
        }
        return plans
    }
}
