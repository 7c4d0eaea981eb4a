import Foundation

/// Why a contact has its grades and tags: the values, the thresholds and the rules.
public struct GradingExplanation: Sendable, Codable {
    public struct Score: Sendable, Codable {
        public var dimension: String
        /// The figure ranked or compared (days, orders, currency units).
        public var value: String
        public var score: Int?
        /// How the score follows from the value (quantile boundaries or cut-offs).
        public var reason: String
    }

    public struct TagLine: Sendable, Codable {
        public var tag: String
        public var rule: String
        public var holds: Bool
        /// Each comparison with its values.
        public var conditions: [String]
        /// Whether the relation carries it on the platform now.
        public var onPlatform: Bool
        /// Cohort's record of assigning it, if any.
        public var assignment: TagAssignment?
    }

    public struct RelationLine: Sendable, Codable {
        public var staff: String
        public var tags: [TagLine]
    }

    public var contact: String
    public var asOf: Int64
    public var configVersion: String
    public var note: String?
    /// Grades as stored by the last run.
    public var stored: ContactGrade?
    /// Grades recomputed now.
    public var current: ContactGrade
    public var scores: [Score]
    public var segment: String
    public var abc: String
    public var clv: String
    public var lifecycle: String
    public var history: [LifecycleChange]
    public var relations: [RelationLine]

    /// Loads one contact and explains it as of `now`.
    public static func load(_ contact: String, rules: GradingRules, repository: any GradingRepository, now: Date) async throws
        -> GradingExplanation?
    {
        let asOf = Int64(now.timeIntervalSince1970)
        let plan = rules.metricPlan(asOf: asOf)
        let population = try await repository.population(plan: plan, attributes: rules.grading.attributes, contacts: [contact])
        guard !population.contacts.isEmpty else { return nil }
        let baseline = try await repository.baseline()
        return make(
            population: population, rules: rules, plan: plan, baseline: baseline,
            history: try await repository.lifecycleHistory(of: contact))
    }

    /// Explains the first contact of a (one-contact) population.
    public static func make(
        population: GradingPopulation, rules: GradingRules, plan: MetricPlan, baseline: GradingBaseline?, history: [LifecycleChange]
    ) -> GradingExplanation {
        let outcome = GradingEngine.run(population, rules: rules, plan: plan, baseline: baseline)
        let grade = outcome.grades[0]
        let contact = population.contacts[0]
        let rfm = rules.grading.rfm
        var scores: [Score] = []
        let dimensions: [(RFMDimension, String, Int?, String)] = [
            (.recency, grade.recencyDays.map { "\($0) days since the last order" } ?? "no order", grade.r, "r"),
            (.frequency, "\(grade.frequency) orders in \(rules.grading.rfmWindowDays) days", grade.f, "f"),
            (.monetary, "\(Self.money(grade.monetaryCents)) in \(rules.grading.rfmWindowDays) days", grade.m, "m"),
        ]
        for (dimension, value, score, name) in dimensions {
            var reason: String
            if grade.frequency == 0 {
                reason = "no order in the RFM window: no score"
            } else {
                switch rfm.scoring {
                case .quantiles:
                    if let cutoffs = baseline?.cutoffs {
                        let bounds = cutoffs.boundaries(dimension).map { "\($0.score) up to \(Self.figure(dimension, $0.value))" }
                        reason = "quantiles of the last full run (\(cutoffs.population) contacts): " + bounds.joined(separator: ", ")
                    } else {
                        reason = "quantiles: no full run yet, ranked among this contact alone"
                    }
                case .thresholds(let thresholds):
                    let cuts: [String] =
                        switch dimension {
                        case .recency: thresholds.recencyDays.map { "\($0) days" }
                        case .frequency: thresholds.frequency.map { "\($0) orders" }
                        case .monetary: thresholds.monetaryCents.map(Self.money)
                        }
                    reason = "cut-offs for scores 2-5: " + cuts.joined(separator: ", ")
                }
            }
            scores.append(Score(dimension: name, value: value, score: score, reason: reason))
        }
        var segment = "none (no RFM score)"
        if let r = grade.r, let f = grade.f, let m = grade.m {
            if let rule = rfm.segmentMap.rules.first(where: { $0.matches(r: r, f: f, m: m) }) {
                let ranges = [
                    rule.r.map { "R \($0.lowerBound)-\($0.upperBound)" }, rule.f.map { "F \($0.lowerBound)-\($0.upperBound)" },
                    rule.m.map { "M \($0.lowerBound)-\($0.upperBound)" }, rule.fm.map { "FM \($0.lowerBound)-\($0.upperBound)" },
                ].compactMap { $0 }
                segment = "\(rule.segment): (R \(r), F \(f), M \(m)) is the first match in \(rfm.segmentMap.name) at \(ranges.joined(separator: ", "))"
            } else {
                segment = "none: (R \(r), F \(f), M \(m)) matches no segment of \(rfm.segmentMap.name)"
            }
        }
        var abc = "none (no orders in the window)"
        if let tier = grade.abc {
            if let bounds = baseline?.abc {
                abc = "\(tier): monetary \(Self.money(grade.monetaryCents)); A from \(bounds.minimumACents.map(Self.money) ?? "-"), B from \(bounds.minimumBCents.map(Self.money) ?? "-") (last full run, shares \(rfm.abc.aShare)/\(rfm.abc.bShare))"
            } else {
                abc = "\(tier): monetary \(Self.money(grade.monetaryCents)) (shares \(rfm.abc.aShare)/\(rfm.abc.bShare))"
            }
        }
        var clv = "none (no orders in the window)"
        var clvConfig = rfm.clv
        clvConfig.windowDays = rules.grading.rfmWindowDays
        if let breakdown = clvConfig.breakdown(frequency: grade.frequency, monetaryCents: grade.monetaryCents) {
            clv = String(
                format: "%@ = average order %@ x %.2f orders a year x %.1f years x margin %.2f", Self.money(Int64(breakdown.clvCents.rounded())),
                Self.money(Int64(breakdown.avgOrderValueCents.rounded())), breakdown.ordersPerYear, breakdown.lifetimeYears, breakdown.margin)
        }
        let transitions = outcome.transitions.filter { $0.from != nil }.map { "\($0.from!.rawValue) -> \($0.to.rawValue): \($0.reason)" }
        let lifecycle =
            "\(grade.lifecycle.rawValue)" + (transitions.isEmpty ? " (no transition rule applies now)" : " after " + transitions.joined(separator: "; "))
        // Tags, per relation.
        var relations: [RelationLine] = []
        do {
            let state = GradingRunState(population: population, plan: plan, grades: outcome.grades)
            for (index, relation) in population.relations.enumerated() {
                let facts = RelationFacts(state: state, relation: index)
                var lines: [TagLine] = []
                for group in rules.ruleGroups {
                    for rule in group.rules {
                        let explanation = rule.rule.explain(facts)
                        let onPlatform = RelationFacts.relation(index, state: state, has: rule.spec.name, group: group.spec.name)
                        lines.append(
                            TagLine(
                                tag: rule.id, rule: rule.rule.source, holds: explanation.result, conditions: explanation.conditions,
                                onPlatform: onPlatform, assignment: population.assignment(rule.id, of: index)))
                    }
                }
                relations.append(RelationLine(staff: relation.userID, tags: lines))
            }
        }
        return GradingExplanation(
            contact: contact.externalUserID, asOf: population.asOf, configVersion: rules.version,
            note: baseline == nil ? "no full run yet: run cohort grade --apply" : nil, stored: contact.previous, current: grade,
            scores: scores, segment: segment, abc: abc, clv: clv, lifecycle: lifecycle, history: history, relations: relations)
    }

    static func money(_ cents: Int64) -> String { formatCents(cents) }

    static func figure(_ dimension: RFMDimension, _ value: Int64) -> String {
        switch dimension {
        case .recency: "\(value) days"
        case .frequency: "\(value) orders"
        case .monetary: money(value)
        }
    }
}

extension GradingExplanation: CustomStringConvertible {
    public var description: String {
        var lines = ["\(contact) (config \(configVersion))"]
        if let note { lines.append("note: \(note)") }
        lines.append("RFM")
        for score in scores {
            lines.append("  \(score.dimension) = \(score.score.map(String.init) ?? "none"): \(score.value); \(score.reason)")
        }
        lines.append("  segment: \(segment)")
        lines.append("ABC: \(abc)")
        lines.append("CLV: \(clv)")
        lines.append("lifecycle: \(lifecycle)")
        for change in history {
            let when = Date(timeIntervalSince1970: TimeInterval(change.at)).formatted(.iso8601)
            lines.append("  \(when) \(change.from?.rawValue ?? "-") -> \(change.to.rawValue): \(change.reason)")
        }
        for relation in relations {
            lines.append("tags with \(relation.staff)")
            for tag in relation.tags {
                let mark = tag.holds ? "+" : "-"
                let platform = tag.onPlatform ? "on platform" : "not on platform"
                lines.append("  \(mark) \(tag.tag) [\(platform)] when \(tag.rule.replacingOccurrences(of: "\n", with: " "))")
                for condition in tag.conditions { lines.append("      \(condition)") }
                if let assignment = tag.assignment {
                    lines.append("      assigned \(Date(timeIntervalSince1970: TimeInterval(assignment.assignedAt)).formatted(.iso8601)) by config \(assignment.configVersion) (\(assignment.status.rawValue)): \(assignment.facts)")
                }
            }
        }
        return lines.joined(separator: "\n")
    }
}
