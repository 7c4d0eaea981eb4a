import Foundation

/// What the store holds, counted: the numbers /metrics and the dashboard show.
public struct StoreOverview: Sendable, Codable, Hashable {
    public struct CampaignProgress: Sendable, Codable, Hashable {
        public var name: String
        public var state: String
        /// Recipients per ledger state (planned, queued, task_created, sent, failed, excluded).
        public var recipients: [String: Int]
        public var tasks: Int
        public var tasksConfirmed: Int

        public init(name: String, state: String, recipients: [String: Int], tasks: Int, tasksConfirmed: Int) {
            self.name = name
            self.state = state
            self.recipients = recipients
            self.tasks = tasks
            self.tasksConfirmed = tasksConfirmed
        }
    }

    public var contacts = 0
    public var liveRelations = 0
    public var staff = 0
    public var inbox: [String: Int] = [:]
    /// Received time (unix seconds) of the oldest event still waiting for its handler.
    public var oldestOpenInboxEvent: Int64?
    public var lifecycle: [String: Int] = [:]
    /// Contacts per (R, F) score, keyed "r,f".
    public var rfGrid: [String: Int] = [:]
    public var rfmSegments: [String: Int] = [:]
    public var abc: [String: Int] = [:]
    public var graded = 0
    public var tagWrites: [String: Int] = [:]
    public var campaigns: [CampaignProgress] = []
    public var welcome: [String: Int] = [:]
    public var optOuts = 0

    public init() {}
}

/// The overview's counts in one consistent read (port; the store implements it).
public protocol OverviewReader: Sendable {
    /// - Parameter grades: also the R×F grid, RFM segments and ABC split (three more passes over
    ///   the grades, which the dashboard shows and the metrics scrape does not need).
    func read(grades: Bool) async throws -> StoreOverview
}

extension OverviewReader {
    public func read() async throws -> StoreOverview { try await read(grades: true) }
}

/// A config set as it was applied.
public struct AppliedConfig: Sendable, Hashable {
    public var id: Int64
    public var version: String
    public var appliedAt: Int64
    /// File name → content.
    public var files: [String: String]

    public init(id: Int64, version: String, appliedAt: Int64, files: [String: String]) {
        self.id = id
        self.version = version
        self.appliedAt = appliedAt
        self.files = files
    }
}

/// Every config set Cohort acted under, newest last: what `segments plan` compares against (port).
public protocol ConfigHistory: Sendable {
    /// Records the set unless it is the latest already; returns whether it was new.
    func record(version: String, files: [String: String], at: Int64) async throws -> Bool
    func latest() async throws -> AppliedConfig?
    /// Every applied config set, newest first (without file contents).
    func history(limit: Int) async throws -> [AppliedConfig]
    /// One applied set by its id, or by a version (or a unique prefix of one, newest first).
    func find(_ reference: String) async throws -> AppliedConfig?
    /// Every applied set with its files, oldest first.
    func all() async throws -> [AppliedConfig]
}

extension ConfigHistory {
    public func history() async throws -> [AppliedConfig] { try await history(limit: 100) }
}

/// What a retention pass dropped.
public struct RetentionReport: Sendable, Hashable, Codable {
    public var relations = 0
    public var interactions = 0

    public init() {}
}

/// Drops what the retention settings say is kept no longer (port).
public protocol RetentionStore: Sendable {
    /// Relations that ended before `endedBefore` (with their tags, phone numbers and rule
    /// assignments) and interactions before `interactionsBefore` go; nil keeps them all.
    func apply(endedBefore: Date?, interactionsBefore: Date?) async throws -> RetentionReport
}
