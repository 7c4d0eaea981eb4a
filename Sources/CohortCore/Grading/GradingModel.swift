import Foundation

/// A contact's grades as Cohort stores and exports them.
public struct ContactGrade: Sendable, Hashable, Codable {
    public var externalUserID: String
    /// Days since the last order (all time); nil without orders.
    public var recencyDays: Int?
    /// Orders in the RFM window.
    public var frequency: Int
    /// Order amounts in the RFM window, in cents.
    public var monetaryCents: Int64
    public var r: Int?
    public var f: Int?
    public var m: Int?
    public var segment: String?
    public var abc: String?
    public var clvCents: Int64?
    public var lifecycle: LifecycleStage
    /// When the contact entered its lifecycle stage (unix seconds).
    public var lifecycleSince: Int64

    public init(
        externalUserID: String, recencyDays: Int? = nil, frequency: Int = 0, monetaryCents: Int64 = 0, r: Int? = nil,
        f: Int? = nil, m: Int? = nil, segment: String? = nil, abc: String? = nil, clvCents: Int64? = nil,
        lifecycle: LifecycleStage = .potential, lifecycleSince: Int64 = 0
    ) {
        self.externalUserID = externalUserID
        self.recencyDays = recencyDays
        self.frequency = frequency
        self.monetaryCents = monetaryCents
        self.r = r
        self.f = f
        self.m = m
        self.segment = segment
        self.abc = abc
        self.clvCents = clvCents
        self.lifecycle = lifecycle
        self.lifecycleSince = lifecycleSince
    }
}

/// A tag Cohort put on a relation by rule, and what it remembers about it.
public struct TagAssignment: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Hashable, Codable {
        /// The rule holds and the tag is (or is being put) on the relation.
        case active
        /// The tag's TTL ran out while the rule still held; it stays off until the rule has
        /// been false once.
        case expired
    }

    /// `group/name`.
    public var tag: String
    public var ruleID: String
    public var status: Status
    public var configVersion: String
    /// The values that made the rule true when the tag was assigned.
    public var facts: String
    public var assignedAt: Int64
    public var expiresAt: Int64?

    public init(
        tag: String, ruleID: String, status: Status = .active, configVersion: String, facts: String, assignedAt: Int64,
        expiresAt: Int64? = nil
    ) {
        self.tag = tag
        self.ruleID = ruleID
        self.status = status
        self.configVersion = configVersion
        self.facts = facts
        self.assignedAt = assignedAt
        self.expiresAt = expiresAt
    }
}

/// A contact as grading sees it.
public struct GradingContact: Sendable {
    public var externalUserID: String
    public var gender: Int?
    public var type: Int?
    public var corpName: String?
    /// When the first live relation was added (unix seconds).
    public var addedAt: Int64?
    public var liveRelations: Int
    /// Declared attributes in `grading.yaml` order, `.null` when the contact has none.
    public var attributes: [RuleValue]
    /// The stored grades from the last run, if any.
    public var previous: ContactGrade?

    public init(
        externalUserID: String, gender: Int? = nil, type: Int? = nil, corpName: String? = nil, addedAt: Int64? = nil,
        liveRelations: Int = 0, attributes: [RuleValue] = [], previous: ContactGrade? = nil
    ) {
        self.externalUserID = externalUserID
        self.gender = gender
        self.type = type
        self.corpName = corpName
        self.addedAt = addedAt
        self.liveRelations = liveRelations
        self.attributes = attributes
        self.previous = previous
    }
}

/// A live relation as grading sees it. Its platform tags and Cohort's assignments live in the
/// population's flat arrays (`GradingPopulation.tagIDs(of:)`, `assignments(of:)`): a million
/// relations with two small arrays each cost two heap blocks apiece, the flat arrays two in all.
public struct GradingRelation: Sendable {
    /// Index into the population's contacts.
    public var contact: Int
    public var userID: String
    public var addWay: Int?
    public var state: String?
    public var createTime: Int64?
    /// This relation's span of `GradingPopulation.relationTagIDs`.
    var tags: Range<Int32> = 0..<0
    /// This relation's span of `GradingPopulation.relationAssignments`.
    var assigned: Range<Int32> = 0..<0

    public init(contact: Int, userID: String, addWay: Int? = nil, state: String? = nil, createTime: Int64? = nil) {
        self.contact = contact
        self.userID = userID
        self.addWay = addWay
        self.state = state
        self.createTime = createTime
    }
}

/// What a run decides from about a stored assignment: its tag, status and expiry (a third of a
/// `TagAssignment`'s size, for the millions a full run reads).
public struct AssignmentState: Sendable, Hashable {
    /// `group/name`.
    public var tag: String
    public var expiresAt: Int64?
    public var status: TagAssignment.Status

    public init(_ assignment: TagAssignment) {
        tag = assignment.tag
        expiresAt = assignment.expiresAt
        status = assignment.status
    }
}

/// Everything one grading run reads, loaded by the store for a `MetricPlan`.
public struct GradingPopulation: Sendable {
    public var asOf: Int64
    public var contacts: [GradingContact]
    /// Live relations, grouped by contact (append with `appendRelation`).
    public private(set) var relations: [GradingRelation] = []
    /// Every relation's platform tag ids, relation after relation.
    public private(set) var relationTagIDs: [String] = []
    /// Every relation's assignments, relation after relation.
    public private(set) var relationAssignments: [AssignmentState] = []
    /// The whole stored assignments (with their facts), parallel to `relationAssignments`, when
    /// the loader kept them (`explain` shows them; a full run decides without).
    public private(set) var assignmentDetails: [TagAssignment] = []
    /// `contacts.count` rows of `plan.columns.count` aggregate values, row-major.
    public var columns: [Int64]
    public var catalogue: [TagGroup]
    /// Relations with a platform write still queued: a missing tag there is not drift.
    public var pendingRelations: Set<RelationKey>
    private var lastTagged = 0
    private var lastAssigned = 0

    public init(
        asOf: Int64, contacts: [GradingContact] = [], columns: [Int64] = [], catalogue: [TagGroup] = [],
        pendingRelations: Set<RelationKey> = []
    ) {
        self.asOf = asOf
        self.contacts = contacts
        self.columns = columns
        self.catalogue = catalogue
        self.pendingRelations = pendingRelations
    }

    /// Adds a relation with its platform tags and stored assignments (kept whole).
    public mutating func appendRelation(_ relation: GradingRelation, tagIDs: [String] = [], assignments: [TagAssignment] = []) {
        var relation = relation
        relation.tags = 0..<0
        relation.assigned = 0..<0
        relations.append(relation)
        for id in tagIDs { appendTag(id, to: relations.count - 1) }
        for assignment in assignments { appendAssignment(assignment, to: relations.count - 1, keepingDetails: true) }
    }

    /// Adds a platform tag to a relation. Tags are added in relation order (the flat array
    /// holds each relation's tags together).
    mutating func appendTag(_ id: String, to relation: Int) {
        precondition(relations[relation].tags.isEmpty ? relation >= lastTagged : relation == lastTagged, "tags in relation order")
        relationTagIDs.append(id)
        relations[relation].tags = Self.span(relations[relation].tags, end: relationTagIDs.count)
        lastTagged = relation
    }

    /// Adds an assignment to a relation, in relation order. Details are kept for all or for none.
    mutating func appendAssignment(_ assignment: TagAssignment, to relation: Int, keepingDetails: Bool) {
        precondition(
            relations[relation].assigned.isEmpty ? relation >= lastAssigned : relation == lastAssigned, "assignments in relation order")
        relationAssignments.append(AssignmentState(assignment))
        if keepingDetails { assignmentDetails.append(assignment) }
        relations[relation].assigned = Self.span(relations[relation].assigned, end: relationAssignments.count)
        lastAssigned = relation
    }

    /// A relation's span grows at the end of its flat array; the first entry starts it there.
    private static func span(_ span: Range<Int32>, end: Int) -> Range<Int32> {
        span.isEmpty ? Int32(end - 1)..<Int32(end) : span.lowerBound..<Int32(end)
    }

    /// The relation's tag ids as the platform has them now.
    public func tagIDs(of relation: Int) -> ArraySlice<String> {
        let span = relations[relation].tags
        return relationTagIDs[Int(span.lowerBound)..<Int(span.upperBound)]
    }

    /// Cohort's rule assignments on the relation.
    public func assignments(of relation: Int) -> ArraySlice<AssignmentState> {
        let span = relations[relation].assigned
        return relationAssignments[Int(span.lowerBound)..<Int(span.upperBound)]
    }

    /// The stored assignment of `tag` on the relation, whole, when the loader kept details.
    public func assignment(_ tag: String, of relation: Int) -> TagAssignment? {
        guard !assignmentDetails.isEmpty else { return nil }
        let span = relations[relation].assigned
        return assignmentDetails[Int(span.lowerBound)..<Int(span.upperBound)].first { $0.tag == tag }
    }
}

/// What a full run leaves for incremental re-grades: the quantile cut-offs and ABC boundaries
/// a single contact is scored against until the next full run.
public struct GradingBaseline: Sendable, Hashable, Codable {
    public var asOf: Int64
    public var configVersion: String
    public var cutoffs: RFMQuantileCutoffs?
    public var abc: ABCBoundaries?

    public init(asOf: Int64, configVersion: String, cutoffs: RFMQuantileCutoffs?, abc: ABCBoundaries?) {
        self.asOf = asOf
        self.configVersion = configVersion
        self.cutoffs = cutoffs
        self.abc = abc
    }
}

/// A lifecycle stage change.
public struct LifecycleChange: Sendable, Hashable, Codable {
    public var externalUserID: String
    public var from: LifecycleStage?
    public var to: LifecycleStage
    public var at: Int64
    /// The rule and the values that made it true.
    public var reason: String

    public init(externalUserID: String, from: LifecycleStage?, to: LifecycleStage, at: Int64, reason: String) {
        self.externalUserID = externalUserID
        self.from = from
        self.to = to
        self.at = at
        self.reason = reason
    }
}

/// What a run changes on one relation.
public struct RelationTagPlan: Sendable, Hashable, Codable {
    public var key: RelationKey
    /// Tags (`group/name`) to put on the relation on the platform.
    public var add: [String]
    /// Tags to take off it.
    public var remove: [String]
    /// New or renewed assignments to store.
    public var assign: [TagAssignment]
    /// Assignments whose TTL ran out (stored as expired).
    public var expire: [String]
    /// Assignments whose rule no longer holds (deleted).
    public var clear: [String]
    /// Tags staff changed against the rules (a rule tag removed or added by hand).
    public var drift: [String]

    public init(
        key: RelationKey, add: [String] = [], remove: [String] = [], assign: [TagAssignment] = [], expire: [String] = [],
        clear: [String] = [], drift: [String] = []
    ) {
        self.key = key
        self.add = add
        self.remove = remove
        self.assign = assign
        self.expire = expire
        self.clear = clear
        self.drift = drift
    }

    public var changesPlatform: Bool { !add.isEmpty || !remove.isEmpty }
    public var isEmpty: Bool { !changesPlatform && assign.isEmpty && expire.isEmpty && clear.isEmpty }
}
