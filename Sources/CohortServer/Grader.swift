import CohortConfig
import CohortCore
import CohortStore
import CohortSync
import Foundation
import Logging
import WeComKit

#if os(Linux)
/// glibc's `malloc_trim` (malloc.h is not in the Glibc module map).
@_silgen_name("malloc_trim")
private func glibcMallocTrim(_ pad: Int) -> Int32
#endif

/// What `grade --apply` or an incremental re-grade did, with timings.
public struct GradeRunReport: Sendable, Codable {
    public var full: Bool
    public var contacts: Int
    public var relations: Int
    public var loadSeconds: Double
    public var gradeSeconds: Double
    public var writeSeconds: Double
    public var written: GradingWriteReport
    public var drift: Int
}

/// Runs grading over the store: load, grade, and (for apply) save and queue the platform
/// writes. One instance per process; the rules are the validated config.
public struct Grader: Sendable {
    public let rules: GradingRules
    public let repository: any GradingRepository
    public var now: @Sendable () -> Date
    public var logger: Logger

    public init(
        rules: GradingRules, repository: any GradingRepository, now: @escaping @Sendable () -> Date = { Date() },
        logger: Logger = Logger(label: "cohort.grading")
    ) {
        self.rules = rules
        self.repository = repository
        self.now = now
        self.logger = logger
    }

    /// A full run, computed but not written.
    public func plan(callsPerHour: Double) async throws -> GradingPlanReport {
        let asOf = Int64(now().timeIntervalSince1970)
        let plan = rules.metricPlan(asOf: asOf)
        let population = try await repository.population(plan: plan, attributes: rules.grading.attributes, contacts: nil)
        let outcome = GradingEngine.run(population, rules: rules, plan: plan)
        return GradingPlanReport.make(outcome: outcome, population: population, rules: rules, callsPerHour: callsPerHour)
    }

    /// A full run, written: grades, lifecycle history, assignments, queued platform writes, and
    /// the baseline incremental re-grades use until the next full run.
    /// - Parameter progress: called with a phase name and, while tag rules are written, the
    ///   relations done and the total.
    public func apply(progress: (@Sendable (_ phase: String, _ done: Int, _ total: Int) -> Void)? = nil) async throws -> GradeRunReport {
        defer { Self.returnFreedMemory() }
        // The run's population and outcome are gone when `run` returns: only then is there a
        // gigabyte of freed pages to hand back.
        return try await run(progress: progress)
    }

    private func run(progress: (@Sendable (_ phase: String, _ done: Int, _ total: Int) -> Void)?) async throws -> GradeRunReport {
        let started = now()
        let clock = ContinuousClock()
        let t0 = clock.now
        let asOf = Int64(started.timeIntervalSince1970)
        let plan = rules.metricPlan(asOf: asOf)
        progress?("loading contacts and interactions", 0, 0)
        let population = try await repository.population(plan: plan, attributes: rules.grading.attributes, contacts: nil)
        let t1 = clock.now
        progress?("grading \(population.contacts.count) contacts", 0, 0)
        let graded = GradingEngine.grade(population, rules: rules, plan: plan)
        var gradeTime = clock.now - t1
        var writeTime = Duration.zero
        var mark = clock.now
        try await repository.saveGrades(
            graded.grades, changed: graded.changedGrades, transitions: graded.transitions, asOf: asOf, configVersion: rules.version)
        writeTime += clock.now - mark
        var written = GradingWriteReport()
        written.grades = graded.changedGrades.count
        written.transitions = graded.transitions.count
        var drift = 0
        // Tag rules a slice of relations at a time: a million relations' plans never sit in
        // memory at once, and each slice is written before the next is evaluated.
        for lower in stride(from: 0, to: graded.relationCount, by: Self.slice) {
            let range = lower..<min(lower + Self.slice, graded.relationCount)
            mark = clock.now
            let plans = GradingEngine.tagPlans(graded, rules: rules, range: range)
            var wanted: Set<RelationKey> = []
            for plan in plans where plan.changesPlatform { wanted.insert(plan.key) }
            var stale: [RelationKey] = []
            if !population.pendingRelations.isEmpty {
                for index in range {
                    let relation = population.relations[index]
                    let key = RelationKey(externalUserID: population.contacts[relation.contact].externalUserID, userID: relation.userID)
                    if population.pendingRelations.contains(key), !wanted.contains(key) { stale.append(key) }
                }
            }
            drift += plans.reduce(0) { $0 + $1.drift.count }
            gradeTime += clock.now - mark
            mark = clock.now
            let counts = try await repository.savePlans(plans, dropping: stale, at: now())
            writeTime += clock.now - mark
            written.assignments += counts.assignments
            written.queuedOps += counts.queued
            written.droppedOps += counts.dropped
            progress?("tag rules", range.upperBound, graded.relationCount)
        }
        mark = clock.now
        try await repository.recordRun(
            asOf: asOf, configVersion: rules.version, baseline: graded.baseline, report: written, startedAt: started, finishedAt: now())
        writeTime += clock.now - mark
        if drift > 0 { logger.notice("rule tags changed by hand were put back", metadata: ["drift": "\(drift)"]) }
        return GradeRunReport(
            full: true, contacts: population.contacts.count, relations: population.relations.count,
            loadSeconds: (t1 - t0).inSeconds, gradeSeconds: gradeTime.inSeconds, writeSeconds: writeTime.inSeconds,
            written: written, drift: drift)
    }

    /// A full run frees a gigabyte of short-lived arrays; glibc keeps freed pages mapped, so the
    /// next run would stack its peak on top of them. Handing them back keeps a long-running
    /// serve at one run's peak.
    static func returnFreedMemory() {
        #if os(Linux)
        _ = glibcMallocTrim(0)
        #endif
    }

    /// Relations evaluated and written per step of a full apply.
    static let slice = 100_000

    /// Re-grades a few contacts against the last full run's cut-offs, writing only what changed.
    /// Before any full run there are no cut-offs: quantile scores stay empty until one runs
    /// (a full run is never started from here: it can take a minute, and this runs on the
    /// event path).
    @discardableResult
    public func regrade(_ externalUserIDs: [String]) async throws -> GradeRunReport {
        let baseline =
            try await repository.baseline() ?? GradingBaseline(asOf: 0, configVersion: rules.version, cutoffs: nil, abc: nil)
        var total = GradeRunReport(
            full: false, contacts: 0, relations: 0, loadSeconds: 0, gradeSeconds: 0, writeSeconds: 0, written: GradingWriteReport(),
            drift: 0)
        // Bounded batches: a sync can make thousands of kept interactions matchable at once,
        // and each batch is one query with a placeholder per contact.
        for start in stride(from: 0, to: externalUserIDs.count, by: 500) {
            let report = try await regrade(Array(externalUserIDs[start..<min(start + 500, externalUserIDs.count)]), baseline: baseline)
            total.contacts += report.contacts
            total.relations += report.relations
            total.loadSeconds += report.loadSeconds
            total.gradeSeconds += report.gradeSeconds
            total.writeSeconds += report.writeSeconds
            total.written.grades += report.written.grades
            total.written.transitions += report.written.transitions
            total.written.assignments += report.written.assignments
            total.written.queuedOps += report.written.queuedOps
            total.written.droppedOps += report.written.droppedOps
            total.drift += report.drift
        }
        return total
    }

    private func regrade(_ externalUserIDs: [String], baseline: GradingBaseline) async throws -> GradeRunReport {
        let started = now()
        let clock = ContinuousClock()
        let t0 = clock.now
        let asOf = Int64(started.timeIntervalSince1970)
        let plan = rules.metricPlan(asOf: asOf)
        let population = try await repository.population(plan: plan, attributes: rules.grading.attributes, contacts: externalUserIDs)
        let t1 = clock.now
        let outcome = GradingEngine.run(population, rules: rules, plan: plan, baseline: baseline)
        let t2 = clock.now
        let written = try await repository.save(outcome, population: population, full: false, startedAt: started, finishedAt: now())
        let t3 = clock.now
        return GradeRunReport(
            full: false, contacts: population.contacts.count, relations: population.relations.count,
            loadSeconds: (t1 - t0).inSeconds, gradeSeconds: (t2 - t1).inSeconds, writeSeconds: (t3 - t2).inSeconds,
            written: written, drift: outcome.relationPlans.reduce(0) { $0 + $1.drift.count })
    }
}

/// Builds the platform tag writer from settings.
public enum TagWriterFactory {
    public static func make(settings: CohortSettings, stores: Stores, rules: GradingRules, transport: (any PlatformTransport)? = nil)
        throws(StartupError) -> TagWriter
    {
        let client = try Platform.client(settings, stores: stores, transport: transport)
        return TagWriter(client: client, directory: stores.directory, ops: stores.grading, staffGroups: rules.staffGroups)
    }
}
