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

/// A live relation as grading sees it.
public struct GradingRelation: Sendable {
    /// Index into the population's contacts.
    public var contact: Int
    public var userID: String
    public var addWay: Int?
    public var state: String?
    public var createTime: Int64?
    /// Tag ids on the relation as the platform has them now.
    public var tagIDs: [String]
    /// Cohort's rule assignments on the relation.
    public var assignments: [TagAssignment]

    public init(
        contact: Int, userID: String, addWay: Int? = nil, state: String? = nil, createTime: Int64? = nil,
        tagIDs: [String] = [], assignments: [TagAssignment] = []
    ) {
        self.contact = contact
        self.userID = userID
        self.addWay = addWay
        self.state = state
        self.createTime = createTime
        self.tagIDs = tagIDs
        self.assignments = assignments
    }
}

/// Everything one grading run reads, loaded by the store for a `MetricPlan`.
public struct GradingPopulation: Sendable {
    public var asOf: Int64
    public var contacts: [GradingContact]
    /// Live relations, grouped by contact.
    public var relations: [GradingRelation]
    /// `contacts.count` rows of `plan.columns.count` aggregate values, row-major.
    public var columns: [Int64]
    public var catalogue: [TagGroup]
    /// Relations with a platform write still queued: a missing tag there is not drift.
    public var pendingRelations: Set<RelationKey>

    public init(
        asOf: Int64, contacts: [GradingContact] = [], relations: [GradingRelation] = [], columns: [Int64] = [],
        catalogue: [TagGroup] = [], pendingRelations: Set<RelationKey> = []
    ) {
        self.asOf = asOf
        self.contacts = contacts
        self.relations = relations
        self.columns = columns
        self.catalogue = catalogue
        self.pendingRelations = pendingRelations
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
