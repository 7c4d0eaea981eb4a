import CohortConfig
import CohortCore
import CohortStore
import Foundation

/// What a config set would change against another: files, grades and tags, segments, audiences.
public struct ConfigPlan: Encodable, Sendable {
    public struct Audience: Encodable, Sendable {
        public var campaign: String
        public var segment: String
        public var before: Int?
        public var after: Int?
    }

    public var candidate: String
    public var running: String?
    public var files: [String]
    public var grading: GradingPlanReport?
    public var grading_error: String?
    public var segments: [SegmentChange]
    public var campaign_audiences: [Audience]
    public var campaign_error: String?
}

/// Plans a config set against another by loading each from a scratch directory.
public struct ConfigPlanner: Sendable {
    public let settings: CohortSettings
    public let stores: Stores
    /// Templates for sets recorded before templates were recorded.
    public let templatesDirectory: String

    public init(settings: CohortSettings, stores: Stores, templatesDirectory: String) {
        self.settings = settings
        self.stores = stores
        self.templatesDirectory = templatesDirectory
    }

    public func plan(candidate: ConfigSet, running: ConfigSet?) async throws -> ConfigPlan {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-config-plan-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        func materialize(_ set: ConfigSet, _ name: String) throws -> (config: String, templates: String) {
            let config = scratch.appendingPathComponent(name + "/Config").path
            let templates = scratch.appendingPathComponent(name + "/Templates").path
            // Sets recorded before templates were recorded use the templates on disk.
            if !set.files.keys.contains(where: { $0.hasPrefix("Templates/") }) {
                try FileManager.default.createDirectory(atPath: templates, withIntermediateDirectories: true)
                for name in (try? FileManager.default.contentsOfDirectory(atPath: templatesDirectory)) ?? [] {
                    try? FileManager.default.copyItem(atPath: templatesDirectory + "/" + name, toPath: templates + "/" + name)
                }
            }
            try set.write(configDirectory: config, templatesDirectory: templates)
            return (config, templates)
        }
        let next = try materialize(candidate, "candidate")
        let before = try running.map { try materialize($0, "running") }
        var plan = ConfigPlan(
            candidate: candidate.version, running: running?.version, files: candidate.changes(from: running), segments: [], campaign_audiences: [])
        let repository = stores.grading
        let ledger = stores.campaigns
        var nextGrading: GradingRules?
        do {
            let rules = try GradingLoader(directory: next.config).load()
            nextGrading = rules
            plan.grading = try await Grader(rules: rules, repository: repository).plan(callsPerHour: settings.callsPerHour)
        } catch let error as ConfigError {
            plan.grading_error = error.description
        }
        guard let nextGrading else { return plan }
        do {
            let nextRules = try CampaignLoader(directory: next.config, templatesDirectory: next.templates).load(grading: nextGrading)
            let desk = CampaignDesk(grading: nextGrading, rules: nextRules, gradingRepository: repository, ledger: ledger)
            let after = try await desk.snapshot()
            var previous: SegmentSnapshot?
            var previousRules: CampaignRules?
            if let before, let grading = try? GradingLoader(directory: before.config).load(),
                let rules = try? CampaignLoader(directory: before.config, templatesDirectory: before.templates).load(grading: grading)
            {
                previousRules = rules
                previous = try await CampaignDesk(grading: grading, rules: rules, gradingRepository: repository, ledger: ledger).snapshot()
            }
            plan.segments = CampaignDesk.segmentChanges(now: after, before: previous)
            var names = nextRules.config.campaigns.map(\.name)
            for name in previousRules?.config.campaigns.map(\.name) ?? [] where !names.contains(name) { names.append(name) }
            for name in names {
                let spec = nextRules.config.campaign(named: name) ?? previousRules?.config.campaign(named: name)
                let segment = spec?.segment.name ?? "-"
                let was = previousRules?.config.campaign(named: name).flatMap { previous?.size(of: $0.segment.name) }
                let will = nextRules.config.campaign(named: name).flatMap { after.size(of: $0.segment.name) }
                plan.campaign_audiences.append(ConfigPlan.Audience(campaign: name, segment: segment, before: was, after: will))
            }
        } catch let error as ConfigError {
            plan.campaign_error = error.description
        }
        return plan
    }
}

/// Records a config set as applied (when it differs from the last record) with an audit entry
/// naming what changed.
public struct ConfigHistoryRecorder: Sendable {
    public let stores: Stores

    public init(stores: Stores) {
        self.stores = stores
    }

    @discardableResult
    public func record(_ set: ConfigSet, action: String, detail: String = "", actor: String) async throws -> Bool {
        let history = stores.configHistory
        let previous = try await history.latest().map { ConfigSet(files: $0.files) }
        let isNew = try await history.record(version: set.version, files: set.files, at: Int64(Date().timeIntervalSince1970))
        if isNew {
            let summary = ([detail] + [set.changes(from: previous).joined(separator: ", ")]).filter { !$0.isEmpty }.joined(separator: "; ")
            try await stores.audit.record(
                AuditEntry(at: Int64(Date().timeIntervalSince1970), actor: actor, action: action, subject: set.version, detail: summary))
        }
        return isNew
    }
}

/// Puts an earlier config set back on disk, validating it first in a scratch directory so a set
/// that no longer passes (the code or environment changed since) never replaces the files an
/// operator has.
public enum ConfigRollback {
    /// Writes `set` into the config and templates directories when it passes `cohort config
    /// check`; otherwise writes nothing and returns every problem (paths name the scratch copy's
    /// file names).
    public static func write(
        _ set: ConfigSet, configDirectory: String, templatesDirectory: String,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> [ConfigIssue] {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-rollback-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let config = scratch.appendingPathComponent("Config").path
        let templates = scratch.appendingPathComponent("Templates").path
        // Templates the set does not carry (recorded before templates were) stay as they are.
        try FileManager.default.createDirectory(atPath: templates, withIntermediateDirectories: true)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: templatesDirectory)) ?? [] {
            try? FileManager.default.copyItem(atPath: templatesDirectory + "/" + name, toPath: templates + "/" + name)
        }
        try set.write(configDirectory: config, templatesDirectory: templates)
        var scratchEnvironment = environment
        scratchEnvironment["COHORT_TEMPLATES_DIR"] = templates
        let issues = ConfigLoader(directory: config, environment: scratchEnvironment).check()
        guard issues.isEmpty else { return issues }
        try set.write(configDirectory: configDirectory, templatesDirectory: templatesDirectory)
        return []
    }
}
