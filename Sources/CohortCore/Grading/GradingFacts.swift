import Foundation

/// Shared, read-mostly state of one run that the facts views read through.
final class GradingRunState: @unchecked Sendable {
    // Written only by the engine's single thread while it runs; never shared across threads.
    let population: GradingPopulation
    let plan: MetricPlan
    let stride: Int
    let calendar: BusinessCalendar
    var grades: [ContactGrade]
    /// Tag id to (group, name), from the catalogue.
    let tagNames: [String: (group: String, name: String)]
    /// Relations of contact i are `relationStart[i]..<relationStart[i + 1]` (they are grouped by contact).
    let relationStart: [Int]

    init(population: GradingPopulation, plan: MetricPlan, grades: [ContactGrade]) {
        self.population = population
        self.plan = plan
        self.stride = plan.columns.count
        self.calendar = plan.calendar
        self.grades = grades
        var names: [String: (group: String, name: String)] = [:]
        for group in population.catalogue {
            for tag in group.tags { names[tag.id] = (group.name, tag.name) }
        }
        self.tagNames = names
        var starts = [Int](repeating: 0, count: population.contacts.count + 1)
        for relation in population.relations { starts[relation.contact + 1] += 1 }
        for index in 0..<population.contacts.count { starts[index + 1] += starts[index] }
        self.relationStart = starts
    }

    @inline(__always)
    func column(_ column: Int, contact: Int) -> Int64 {
        population.columns[contact * stride + column]
    }

    @inline(__always)
    func metric(_ slot: Int, contact: Int) -> RuleValue {
        plan.value(slot: slot, columns: population.columns, base: contact * stride)
    }

    func days(since instant: Int64?) -> RuleValue {
        guard let instant else { return .null }
        return .number(Double(calendar.daysBetween(instant, population.asOf)))
    }

    func contactField(_ field: GradingSchema.Field, contact index: Int) -> RuleValue {
        // Fields are read in place: copying a ContactGrade would retain its strings per read.
        switch field {
        case .recency: return grades[index].recencyDays.map { .number(Double($0)) } ?? .null
        case .frequency: return .number(Double(grades[index].frequency))
        case .monetary: return .number(Double(grades[index].monetaryCents) / 100)
        case .averageOrder:
            let frequency = grades[index].frequency
            return frequency == 0 ? .null : .number(Double(grades[index].monetaryCents) / Double(frequency) / 100)
        case .daysSinceFirstOrder:
            let first = column(MetricPlan.firstOrder, contact: index)
            return first == AggregateColumn.none ? .null : days(since: first)
        case .r: return grades[index].r.map { .number(Double($0)) } ?? .null
        case .f: return grades[index].f.map { .number(Double($0)) } ?? .null
        case .m: return grades[index].m.map { .number(Double($0)) } ?? .null
        case .rfm: return grades[index].segment.map { .string($0) } ?? .null
        case .abc: return grades[index].abc.map { .string($0) } ?? .null
        case .clv: return grades[index].clvCents.map { .number(Double($0) / 100) } ?? .null
        case .lifecycle: return .string(grades[index].lifecycle.rawValue)
        case .gender:
            switch population.contacts[index].gender {
            case 1: return .string("male")
            case 2: return .string("female")
            default: return .string("unknown")
            }
        case .contactType:
            switch population.contacts[index].type {
            case 1: return .string("wechat")
            case 2: return .string("wecom")
            default: return .string("unknown")
            }
        case .corpName: return population.contacts[index].corpName.map { .string($0) } ?? .null
        case .relations: return .number(Double(population.contacts[index].liveRelations))
        case .daysSinceAdded: return days(since: population.contacts[index].addedAt)
        case .staff, .addWay, .state: return .null
        }
    }

    func attribute(_ index: Int, contact: Int) -> RuleValue {
        let attributes = population.contacts[contact].attributes
        return index < attributes.count ? attributes[index] : .null
    }
}

/// A contact's facts, for lifecycle rules.
struct ContactFacts: RuleFacts {
    let state: GradingRunState
    let contact: Int

    func field(_ slot: Int) -> RuleValue {
        if slot >= GradingSchema.contactAttributeBase {
            return state.attribute(slot - GradingSchema.contactAttributeBase, contact: contact)
        }
        return state.contactField(GradingSchema.Field(rawValue: slot)!, contact: contact)
    }

    func metric(_ slot: Int) -> RuleValue {
        state.metric(slot, contact: contact)
    }

    /// Lifecycle rules see the tags of any of the contact's relations.
    func hasTag(_ name: String, group: String?) -> Bool {
        for index in state.relationStart[contact]..<state.relationStart[contact + 1] {
            if RelationFacts.relation(index, state: state, has: name, group: group) { return true }
        }
        return false
    }
}

/// A relation's facts (its contact's plus its own), for tag rules.
struct RelationFacts: RuleFacts {
    let state: GradingRunState
    let relation: Int

    func field(_ slot: Int) -> RuleValue {
        let contact = state.population.relations[relation].contact
        if slot >= GradingSchema.relationAttributeBase {
            return state.attribute(slot - GradingSchema.relationAttributeBase, contact: contact)
        }
        let field = GradingSchema.Field(rawValue: slot)!
        switch field {
        case .staff: return .string(state.population.relations[relation].userID)
        case .addWay: return state.population.relations[relation].addWay.map { .number(Double($0)) } ?? .null
        case .state: return state.population.relations[relation].state.map { .string($0) } ?? .null
        case .daysSinceAdded:
            return state.days(since: state.population.relations[relation].createTime ?? state.population.contacts[contact].addedAt)
        default: return state.contactField(field, contact: contact)
        }
    }

    func metric(_ slot: Int) -> RuleValue {
        state.metric(slot, contact: state.population.relations[relation].contact)
    }

    func hasTag(_ name: String, group: String?) -> Bool {
        Self.relation(relation, state: state, has: name, group: group)
    }

    static func relation(_ relation: Int, state: GradingRunState, has name: String, group: String?) -> Bool {
        for id in state.population.tagIDs(of: relation) {
            guard let tag = state.tagNames[id], tag.name == name else { continue }
            if group == nil || tag.group == group { return true }
        }
        return false
    }
}

extension GradedPopulation {
    /// The index of the first rule that holds for the relation (`userID`, `contact`), a nil
    /// rule holding for every relation; nil when none holds or the relation is not in the
    /// population. Rules must be compiled against the relation schema and this population's
    /// metric plan.
    public func firstMatch(_ rules: [CompiledRule?], contact externalUserID: String, userID: String) -> Int? {
        guard let contact = state.population.contacts.firstIndex(where: { $0.externalUserID == externalUserID }) else { return nil }
        guard
            let relation = (state.relationStart[contact]..<state.relationStart[contact + 1]).first(where: {
                state.population.relations[$0].userID == userID
            })
        else { return nil }
        let facts = RelationFacts(state: state, relation: relation)
        return rules.firstIndex { $0?.evaluate(facts) ?? true }
    }
}
