import Foundation

/// What storing a run changed.
public struct GradingWriteReport: Sendable, Hashable, Codable {
    public var grades = 0
    public var transitions = 0
    public var assignments = 0
    /// mark_tag operations queued (or replaced) for the platform.
    public var queuedOps = 0
    /// Stale queued operations dropped because the rules no longer want them.
    public var droppedOps = 0

    public init() {}
}

/// Grades, lifecycle history and tag assignments (port; the store implements it).
public protocol GradingRepository: Sendable {
    /// Loads what a run needs: every contact (or only `contacts`, by external_userid), their
    /// live relations with platform tags and assignments, and the plan's aggregates.
    func population(plan: MetricPlan, attributes: [(name: String, type: RuleType)], contacts: [String]?) async throws
        -> GradingPopulation
    /// The last full run's baseline, if any.
    func baseline() async throws -> GradingBaseline?
    /// Stores the grades of the contacts at `changed` and the lifecycle transitions.
    func saveGrades(_ grades: [ContactGrade], changed: [Int], transitions: [LifecycleChange], asOf: Int64, configVersion: String)
        async throws
    /// Stores the assignments of some relations and queues (or replaces) their platform writes;
    /// drops the queued writes of `stale` relations, which the run covered and no longer wants changed.
    func savePlans(_ plans: [RelationTagPlan], dropping stale: [RelationKey], at time: Date) async throws
        -> (assignments: Int, queued: Int, dropped: Int)
    /// Records a finished run; a full run's baseline is what incremental re-grades use next.
    func recordRun(
        asOf: Int64, configVersion: String, baseline: GradingBaseline?, report: GradingWriteReport, startedAt: Date, finishedAt: Date)
        async throws
    /// Stored grades, by external_userid.
    func grades() async throws -> [ContactGrade]
    func grade(of externalUserID: String) async throws -> ContactGrade?
    func lifecycleHistory(of externalUserID: String) async throws -> [LifecycleChange]
    /// Assignments per relation of one contact, keyed by userid.
    func assignments(of externalUserID: String) async throws -> [String: [TagAssignment]]
}

/// A write Cohort owes the platform, queued so it survives restarts and is rate-limited.
public struct PlatformOp: Sendable, Hashable, Codable {
    public var id: Int64
    public var kind: String
    /// For mark_tag: `external_userid/userid`.
    public var target: String
    public var payload: MarkTagPayload
    public var attempts: Int

    public init(id: Int64, kind: String, target: String, payload: MarkTagPayload, attempts: Int) {
        self.id = id
        self.kind = kind
        self.target = target
        self.payload = payload
        self.attempts = attempts
    }
}

/// One relation's tag changes, by name (`group/name`): ids are resolved, and missing tags
/// created, when the write is made, so a tag created meanwhile is not created twice.
public struct MarkTagPayload: Sendable, Hashable, Codable {
    public var externalUserID: String
    public var userID: String
    public var add: [String]
    public var remove: [String]

    public init(externalUserID: String, userID: String, add: [String], remove: [String]) {
        self.externalUserID = externalUserID
        self.userID = userID
        self.add = add
        self.remove = remove
    }
}

extension MarkTagPayload {
    /// The payload as stored JSON (sorted keys), written by hand: a first apply queues a row per
    /// relation, and JSONEncoder costs several microseconds each.
    public var storedJSON: String {
        func quoted(_ text: String) -> String {
            var out = "\""
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case _ where scalar.value < 0x20:
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                default: out.unicodeScalars.append(scalar)
                }
            }
            return out + "\""
        }
        let add = add.map(quoted).joined(separator: ",")
        let remove = remove.map(quoted).joined(separator: ",")
        return "{\"add\":[\(add)],\"externalUserID\":\(quoted(externalUserID)),\"remove\":[\(remove)],\"userID\":\(quoted(userID))}"
    }
}

extension RelationKey {
    /// How a queued platform write names its relation: `external_userid/userid`.
    public var target: String { "\(externalUserID)/\(userID)" }

    /// The relation a queued write's target names (a userid holds no `/`).
    public init?(target: String) {
        guard let slash = target.lastIndex(of: "/") else { return nil }
        self.init(externalUserID: String(target[..<slash]), userID: String(target[target.index(after: slash)...]))
    }
}

/// Counts of queued platform writes by status.
public struct PlatformOpCounts: Sendable, Hashable, Codable {
    public var pending = 0
    public var done = 0
    public var failed = 0

    public init(pending: Int = 0, done: Int = 0, failed: Int = 0) {
        self.pending = pending
        self.done = done
        self.failed = failed
    }
}

/// The queue of platform writes (port).
public protocol PlatformOpRepository: Sendable {
    /// Pending operations due at `time`, oldest first. A row whose payload cannot be read is
    /// failed (with the reason) rather than returned.
    func due(at time: Date, limit: Int) async throws -> [PlatformOp]
    /// Marks an operation done and records its effect on the mirrored relation tags.
    func complete(_ op: PlatformOp, addedTagIDs: [String], removedTagIDs: [String], at time: Date) async throws
    /// Records a failed attempt: retried at `retryAt`, or failed for good when nil.
    func fail(_ op: PlatformOp, error: String, retryAt: Date?, at time: Date) async throws
    func counts() async throws -> PlatformOpCounts
}

extension GradingRepository {
    /// Stores a whole outcome: grades, transitions, assignments and queued writes. Queued writes
    /// of the population's relations that the outcome no longer wants are dropped (a population
    /// loaded for a few contacts only holds their own).
    @discardableResult
    public func save(_ outcome: GradingOutcome, population: GradingPopulation, full: Bool, startedAt: Date, finishedAt: Date)
        async throws -> GradingWriteReport
    {
        try await saveGrades(
            outcome.grades, changed: outcome.changedGrades, transitions: outcome.transitions, asOf: outcome.asOf,
            configVersion: outcome.configVersion)
        let wanted = Set(outcome.relationPlans.filter(\.changesPlatform).map(\.key))
        let stale = population.pendingRelations.filter { !wanted.contains($0) }
        let counts = try await savePlans(outcome.relationPlans, dropping: Array(stale), at: finishedAt)
        var report = GradingWriteReport()
        report.grades = outcome.changedGrades.count
        report.transitions = outcome.transitions.count
        report.assignments = counts.assignments
        report.queuedOps = counts.queued
        report.droppedOps = counts.dropped
        if full {
            try await recordRun(
                asOf: outcome.asOf, configVersion: outcome.configVersion, baseline: outcome.baseline, report: report,
                startedAt: startedAt, finishedAt: finishedAt)
        }
        return report
    }
}
