import Foundation

/// What a run would change, for `cohort grade --plan`: per tag and per grade value how many
/// contacts gain or lose it, with a few examples, and the platform calls it would queue.
public struct GradingPlanReport: Sendable, Hashable, Codable {
    public struct Delta: Sendable, Hashable, Codable {
        /// `rfm`, `abc`, `lifecycle`, or `tag`.
        public var field: String
        /// The grade value or the tag (`group/name`).
        public var value: String
        public var gain: Int
        public var lose: Int
        /// A few contacts (or `contact/staff` relations for tags) that gain it, then that lose it.
        public var sampleGain: [String]
        public var sampleLose: [String]
    }

    public struct PlatformCalls: Sendable, Hashable, Codable {
        /// One mark_tag per relation with every add and remove for it.
        public var markTag: Int
        /// Tags the rules need that the platform's catalogue lacks (created first).
        public var tagsToCreate: [String]
        public var addCorpTag: Int
        /// At the configured rate limit, how long the queue takes to drain.
        public var expectedSeconds: Double
        /// When it would be done if started at the plan's time (ISO 8601).
        public var expectedFinish: String
    }

    public var asOf: Int64
    public var configVersion: String
    public var contacts: Int
    public var relations: Int
    public var gradesChanged: Int
    public var transitions: Int
    /// Rule tags staff changed by hand that the run puts back (or takes off).
    public var drift: Int
    public var grades: [Delta]
    public var tags: [Delta]
    public var platform: PlatformCalls

    /// - Parameter callsPerHour: the platform write budget (the lower of the minute and hour limits).
    public static func make(
        outcome: GradingOutcome, population: GradingPopulation, rules: GradingRules, callsPerHour: Double, samples: Int = 3
    ) -> GradingPlanReport {
        var grades: [String: Delta] = [:]
        func note(_ field: String, _ value: String?, gain: Bool, contact: String) {
            guard let value else { return }
            let key = field + "\u{0}" + value
            var delta = grades[key] ?? Delta(field: field, value: value, gain: 0, lose: 0, sampleGain: [], sampleLose: [])
            if gain {
                delta.gain += 1
                if delta.sampleGain.count < samples { delta.sampleGain.append(contact) }
            } else {
                delta.lose += 1
                if delta.sampleLose.count < samples { delta.sampleLose.append(contact) }
            }
            grades[key] = delta
        }
        for index in outcome.changedGrades {
            let new = outcome.grades[index]
            let old = population.contacts[index].previous
            for (field, before, after) in [
                ("rfm", old?.segment, new.segment), ("abc", old?.abc, new.abc),
                ("lifecycle", old?.lifecycle.rawValue, new.lifecycle.rawValue),
            ] where before != after {
                note(field, before, gain: false, contact: new.externalUserID)
                note(field, after, gain: true, contact: new.externalUserID)
            }
        }
        var tags: [String: Delta] = [:]
        for group in rules.ruleGroups {
            for rule in group.rules {
                tags[rule.id] = Delta(field: "tag", value: rule.id, gain: 0, lose: 0, sampleGain: [], sampleLose: [])
            }
        }
        var known: Set<String> = []
        for group in population.catalogue {
            for tag in group.tags { known.insert("\(group.name)/\(tag.name)") }
        }
        var missing: Set<String> = []
        var drift = 0
        var markTag = 0
        for plan in outcome.relationPlans {
            drift += plan.drift.count
            if plan.changesPlatform { markTag += 1 }
            for tag in plan.add {
                tags[tag, default: Delta(field: "tag", value: tag, gain: 0, lose: 0, sampleGain: [], sampleLose: [])].gain += 1
                if tags[tag]!.sampleGain.count < samples { tags[tag]!.sampleGain.append(plan.key.description) }
                if !known.contains(tag) { missing.insert(tag) }
            }
            for tag in plan.remove {
                tags[tag, default: Delta(field: "tag", value: tag, gain: 0, lose: 0, sampleGain: [], sampleLose: [])].lose += 1
                if tags[tag]!.sampleLose.count < samples { tags[tag]!.sampleLose.append(plan.key.description) }
            }
        }
        let calls = markTag + missing.count
        let seconds = callsPerHour > 0 ? Double(calls) / callsPerHour * 3600 : 0
        let finish = Date(timeIntervalSince1970: TimeInterval(outcome.asOf) + seconds)
        return GradingPlanReport(
            asOf: outcome.asOf, configVersion: outcome.configVersion, contacts: population.contacts.count,
            relations: population.relations.count, gradesChanged: outcome.changedGrades.count,
            transitions: outcome.transitions.count, drift: drift,
            grades: grades.values.sorted { ($0.field, $0.value) < ($1.field, $1.value) },
            tags: tags.values.sorted { $0.value < $1.value },
            platform: PlatformCalls(
                markTag: markTag, tagsToCreate: missing.sorted(), addCorpTag: missing.count, expectedSeconds: seconds,
                expectedFinish: finish.formatted(.iso8601)))
    }
}
