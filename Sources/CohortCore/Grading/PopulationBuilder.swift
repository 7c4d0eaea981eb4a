/// Per-contact aggregates as a store computes them for a `MetricPlan`: one row of
/// `plan.columns.count` values per contact that has interactions, and the latest value of each
/// declared attribute.
public struct GradingAggregates: Sendable {
    public var ids: [String] = []
    /// Row-major, `ids.count` rows of `plan.columns.count` values.
    public var values: [Int64] = []
    /// (external_userid, attribute position, value).
    public var attributes: [(String, Int, RuleValue)] = []

    public init() {}

    /// Appends one contact's row; a missing value is 0 for counts and sums, `AggregateColumn.none` otherwise.
    public mutating func append(_ id: String, _ row: [Int64?], plan: MetricPlan) {
        ids.append(id)
        for (column, value) in row.enumerated() {
            let measure = plan.columns[column].measure
            values.append(value ?? (measure == .count || measure == .sum ? 0 : AggregateColumn.none))
        }
    }

    /// A stored attribute text as the rule type declares it.
    public static func attributeValue(_ text: String, type: RuleType) -> RuleValue {
        switch type {
        case .number: return Double(text).map { .number($0) } ?? .null
        case .bool: return text == "true" ? .bool(true) : text == "false" ? .bool(false) : .null
        default: return .string(text)
        }
    }
}

/// Builds a `GradingPopulation` from a store's rows, each table read in key order (contacts by
/// external_userid; grades likewise; relations, their tags and assignments by external_userid
/// then userid; byte order, as SQLite's BINARY and PostgreSQL's "C" collation sort). Rows are
/// merged by walking cursors forward, no hashing, and repeated strings (staff ids, tag ids, rule
/// ids) are stored once: a million contacts' population stays within the memory budget.
public struct GradingPopulationBuilder: Sendable {
    public private(set) var population: GradingPopulation
    private var pool: [String: String] = [:]
    private var gradeCursor = 0
    private var relationContactCursor = 0
    private var tagCursor = 0
    private var assignmentCursor = 0

    private let keepsAssignmentDetails: Bool

    /// - Parameter keepsAssignmentDetails: keep each assignment whole (facts, rule, version) for
    ///   `explain`; a full run decides from tag, status and expiry alone.
    public init(asOf: Int64, keepsAssignmentDetails: Bool) {
        population = GradingPopulation(asOf: asOf)
        self.keepsAssignmentDetails = keepsAssignmentDetails
    }

    /// One shared copy of a repeated string.
    public mutating func interned(_ text: String) -> String {
        if let shared = pool[text] { return shared }
        pool[text] = text
        return text
    }

    public mutating func addContact(_ contact: GradingContact) {
        population.contacts.append(contact)
    }

    /// The stored grade of a contact, in external_userid order.
    public mutating func addPrevious(_ grade: ContactGrade) {
        gradeCursor = advance(gradeCursor, to: grade.externalUserID)
        if gradeCursor < population.contacts.count, population.contacts[gradeCursor].externalUserID == grade.externalUserID {
            population.contacts[gradeCursor].previous = grade
        }
    }

    /// A live relation, in (external_userid, userid) order; one of an unknown contact is skipped.
    public mutating func addRelation(externalUserID: String, userID: String, addWay: Int?, state: String?, createTime: Int64?) {
        relationContactCursor = advance(relationContactCursor, to: externalUserID)
        let cursor = relationContactCursor
        guard cursor < population.contacts.count, population.contacts[cursor].externalUserID == externalUserID else { return }
        let relation = GradingRelation(contact: cursor, userID: interned(userID), addWay: addWay, state: state.map { interned($0) }, createTime: createTime)
        population.appendRelation(relation)
        population.contacts[cursor].liveRelations += 1
        if let created = createTime, created < population.contacts[cursor].addedAt ?? .max {
            population.contacts[cursor].addedAt = created
        }
    }

    /// A platform tag on a relation, in (external_userid, userid) order.
    public mutating func addTag(externalUserID: String, userID: String, tagID: String) {
        tagCursor = relationIndex(tagCursor, externalUserID, userID)
        if matches(tagCursor, externalUserID, userID) { population.appendTag(interned(tagID), to: tagCursor) }
    }

    /// A rule assignment on a relation, in (external_userid, userid) order. Its tag, rule id and
    /// config version are interned here.
    public mutating func addAssignment(externalUserID: String, userID: String, _ assignment: TagAssignment) {
        assignmentCursor = relationIndex(assignmentCursor, externalUserID, userID)
        guard matches(assignmentCursor, externalUserID, userID) else { return }
        var shared = assignment
        shared.tag = interned(assignment.tag)
        shared.ruleID = interned(assignment.ruleID)
        shared.configVersion = interned(assignment.configVersion)
        population.appendAssignment(shared, to: assignmentCursor, keepingDetails: keepsAssignmentDetails)
    }

    public mutating func setCatalogue(_ catalogue: [TagGroup]) {
        population.catalogue = catalogue
    }

    public mutating func addPending(_ key: RelationKey) {
        population.pendingRelations.insert(key)
    }

    /// The aggregate rows, matched to contacts by id; contacts without any get the plan's blanks.
    public mutating func setAggregates(_ rows: GradingAggregates, plan: MetricPlan, attributeCount: Int) {
        let stride = plan.columns.count
        let count = population.contacts.count
        var columns = [Int64](repeating: 0, count: count * stride)
        let blank = plan.columns.map { $0.measure == .first || $0.measure == .last ? AggregateColumn.none : 0 }
        for contact in 0..<count {
            for column in 0..<stride { columns[contact * stride + column] = blank[column] }
        }
        var index: [String: Int] = [:]
        index.reserveCapacity(count)
        for (position, contact) in population.contacts.enumerated() { index[contact.externalUserID] = position }
        for (row, id) in rows.ids.enumerated() {
            guard let contact = index[id] else { continue }
            for column in 0..<stride { columns[contact * stride + column] = rows.values[row * stride + column] }
        }
        population.columns = columns
        if attributeCount > 0 {
            for contact in population.contacts.indices {
                population.contacts[contact].attributes = Array(repeating: .null, count: attributeCount)
            }
            for (id, position, value) in rows.attributes {
                if let contact = index[id] { population.contacts[contact].attributes[position] = value }
            }
        }
    }

    /// Byte order of the UTF-8 text (SQLite's BINARY, PostgreSQL's "C").
    @inline(__always)
    public static func compare(_ a: String, _ b: String) -> Int {
        if a == b { return 0 }
        return a.utf8.lexicographicallyPrecedes(b.utf8) ? -1 : 1
    }

    /// The first contact position at or after `cursor` whose id is not below `id`.
    private func advance(_ cursor: Int, to id: String) -> Int {
        var position = cursor
        while position < population.contacts.count, Self.compare(population.contacts[position].externalUserID, id) < 0 { position += 1 }
        return position
    }

    private func relationIndex(_ cursor: Int, _ id: String, _ userID: String) -> Int {
        var position = cursor
        while position < population.relations.count {
            let relation = population.relations[position]
            let order = Self.compare(population.contacts[relation.contact].externalUserID, id)
            if order > 0 || (order == 0 && Self.compare(relation.userID, userID) >= 0) { break }
            position += 1
        }
        return position
    }

    private func matches(_ position: Int, _ id: String, _ userID: String) -> Bool {
        position < population.relations.count && population.relations[position].userID == userID
            && population.contacts[population.relations[position].contact].externalUserID == id
    }
}
