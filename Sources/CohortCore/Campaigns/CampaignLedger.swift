import Foundation

/// Where a started campaign is.
public enum CampaignState: String, Sendable, Hashable, Codable, CaseIterable {
    /// Planned and waiting for its start time (or for a dispatcher).
    case scheduled
    case dispatching
    /// Paused by an operator or by itself (see ``CampaignRecord/pausedReason``).
    case paused
    /// Every task is created; results are still being polled.
    case dispatched
    /// Every result is in (or polling gave up).
    case completed
    case cancelled

    public var isActive: Bool { self == .scheduled || self == .dispatching || self == .paused }
}

/// A recipient's place in the ledger.
public enum RecipientState: String, Sendable, Hashable, Codable, CaseIterable {
    /// Written with the plan, before any platform call.
    case planned
    /// Its task's call is in flight: after a crash the platform is asked before anything is re-sent.
    case queued
    /// In a task the platform created (msgid); waiting for the staff member to confirm.
    case taskCreated = "task_created"
    /// Delivered (send status 1).
    case sent
    /// Not delivered: see the failure reason.
    case failed
    /// Never part of a task: see the exclusion reason.
    case excluded
}

/// Why a recipient in a task was not delivered.
public enum DeliveryFailure: String, Sendable, Hashable, Codable, CaseIterable {
    /// Send status 2: the contact is no longer the staff member's friend.
    case notFriend = "not_friend"
    /// Send status 3: the contact already received another mass message within the platform's quota.
    case quota
    /// The platform put the contact in add_msg_template's fail_list.
    case rejected
    /// The staff member sent the task without this contact, or never confirmed it in time.
    case notSent = "not_sent"
    /// The call failed for good (an error that retrying cannot fix).
    case platformError = "platform_error"
}

/// One add_msg_template call in the ledger.
public enum TaskState: String, Sendable, Hashable, Codable, CaseIterable {
    case pending
    /// The call started; its outcome is unknown until it answers or the platform is asked.
    case calling
    case created
    case failed
    case cancelled
}

public struct CampaignRecord: Sendable, Hashable, Codable {
    public var name: String
    public var state: CampaignState
    public var priority: Int
    public var dispatchAt: Int64
    public var configVersion: String
    public var startedAt: Int64
    public var pausedReason: String?
    public var finishedAt: Int64?

    public init(
        name: String, state: CampaignState, priority: Int, dispatchAt: Int64, configVersion: String, startedAt: Int64,
        pausedReason: String? = nil, finishedAt: Int64? = nil
    ) {
        self.name = name
        self.state = state
        self.priority = priority
        self.dispatchAt = dispatchAt
        self.configVersion = configVersion
        self.startedAt = startedAt
        self.pausedReason = pausedReason
        self.finishedAt = finishedAt
    }
}

public struct CampaignTaskRecord: Sendable, Hashable, Codable {
    public var id: Int64
    public var campaign: String
    public var sender: String
    public var text: String
    public var recipients: [String]
    public var state: TaskState
    public var attempts: Int
    /// When the current (or last) call started (unix seconds).
    public var callStartedAt: Int64?
    public var msgid: String?
    public var createdAt: Int64?
    /// The sender's status on the task: 0 not sent yet, 2 sent.
    public var memberStatus: Int?
    /// When staff were reminded (unix seconds).
    public var reminders: [Int64]
    public var error: String?

    public init(
        id: Int64, campaign: String, sender: String, text: String, recipients: [String], state: TaskState, attempts: Int = 0,
        callStartedAt: Int64? = nil, msgid: String? = nil, createdAt: Int64? = nil, memberStatus: Int? = nil,
        reminders: [Int64] = [], error: String? = nil
    ) {
        self.id = id
        self.campaign = campaign
        self.sender = sender
        self.text = text
        self.recipients = recipients
        self.state = state
        self.attempts = attempts
        self.callStartedAt = callStartedAt
        self.msgid = msgid
        self.createdAt = createdAt
        self.memberStatus = memberStatus
        self.reminders = reminders
        self.error = error
    }
}

/// A recipient's result as the platform reports it (get_groupmsg_send_result).
public struct RecipientResult: Sendable, Hashable {
    public var externalUserID: String
    /// 0 not sent, 1 sent, 2 not a friend, 3 over quota.
    public var status: Int
    public var sendTime: Int64?

    public init(externalUserID: String, status: Int, sendTime: Int64? = nil) {
        self.externalUserID = externalUserID
        self.status = status
        self.sendTime = sendTime
    }
}

/// What `cohort campaign report` shows.
public struct CampaignReport: Sendable, Hashable, Codable {
    public var campaign: String
    public var state: CampaignState
    public var pausedReason: String?
    /// Recipients with a message planned (everyone not excluded).
    public var planned: Int
    public var excluded: [String: Int]
    /// Staff members not chosen as sender for contacts they share.
    public var duplicateOwners: Int
    public var tasks: Int
    public var tasksCreated: Int
    /// Tasks the sending staff member confirmed.
    public var tasksConfirmed: Int
    public var tasksFailed: Int
    public var awaitingDispatch: Int
    public var awaitingConfirmation: Int
    public var delivered: Int
    public var failed: [String: Int]

    public init(campaign: String, state: CampaignState, pausedReason: String? = nil) {
        self.campaign = campaign
        self.state = state
        self.pausedReason = pausedReason
        planned = 0
        excluded = [:]
        duplicateOwners = 0
        tasks = 0
        tasksCreated = 0
        tasksConfirmed = 0
        tasksFailed = 0
        awaitingDispatch = 0
        awaitingConfirmation = 0
        delivered = 0
        failed = [:]
    }
}

/// One ledger row, for listings.
public struct CampaignRecipientRow: Sendable, Hashable, Codable {
    public var externalUserID: String
    public var state: RecipientState
    public var sender: String?
    public var reason: String?
    public var detail: String?
    public var msgid: String?
    public var platformStatus: Int?

    public init(
        externalUserID: String, state: RecipientState, sender: String? = nil, reason: String? = nil, detail: String? = nil,
        msgid: String? = nil, platformStatus: Int? = nil
    ) {
        self.externalUserID = externalUserID
        self.state = state
        self.sender = sender
        self.reason = reason
        self.detail = detail
        self.msgid = msgid
        self.platformStatus = platformStatus
    }
}

/// Starting a campaign that was started before: a campaign sends once.
public struct CampaignAlreadyStarted: Error, CustomStringConvertible, Sendable {
    public var campaign: String

    public init(campaign: String) {
        self.campaign = campaign
    }

    public var description: String { "campaign \"\(campaign)\" was started before; a campaign sends once (copy it under a new name to send again)" }
}

extension RecipientResult {
    /// The ledger state (and failure reason) a platform send status means for the recipient.
    public var outcome: (state: RecipientState, reason: String?) {
        switch status {
        case 1: (.sent, nil)
        case 2: (.failed, DeliveryFailure.notFriend.rawValue)
        case 3: (.failed, DeliveryFailure.quota.rawValue)
        default: (.taskCreated, nil)
        }
    }
}

extension CampaignReport {
    /// Adds `count` recipients in `state` (with their exclusion or failure reason, or "").
    public mutating func count(recipients count: Int, state: RecipientState, reason: String) {
        switch state {
        case .excluded: excluded[reason, default: 0] += count
        case .planned, .queued:
            planned += count
            awaitingDispatch += count
        case .taskCreated:
            planned += count
            awaitingConfirmation += count
        case .sent:
            planned += count
            delivered += count
        case .failed:
            planned += count
            failed[reason, default: 0] += count
        }
    }

    /// Adds `count` tasks in `state` whose sender's status is `memberStatus` (2: sent).
    public mutating func count(tasks count: Int, state: TaskState?, memberStatus: Int) {
        tasks += count
        switch state {
        case .created:
            tasksCreated += count
            if memberStatus == 2 { tasksConfirmed += count }
        case .failed: tasksFailed += count
        default: break
        }
    }
}

/// The campaign ledger and what planning reads (port; the store implements it).
///
/// Invariant: every recipient has a row before any platform call for its campaign, and a
/// contact has at most one row per campaign, so nobody gets a campaign twice.
public protocol CampaignRepository: Sendable {
    /// Contact details for planning and rendering: live relations with staff names, remarks,
    /// tags and the latest interaction per staff member.
    func candidates(_ externalUserIDs: [String]) async throws -> [String: CampaignCandidate]
    /// Do-not-contact list: external_userid → reason.
    func optOuts() async throws -> [String: String]
    /// One contact's do-not-contact reason, or nil when it is not on the list.
    func optOutReason(of externalUserID: String) async throws -> String?
    func setOptOut(_ externalUserID: String, reason: String, source: String, at: Int64) async throws
    /// Returns false when the contact was not on the list.
    func removeOptOut(_ externalUserID: String) async throws -> Bool
    /// Messages of other campaigns to these contacts, sent or still planned, for frequency caps.
    func sendHistory(of contacts: [String], excluding campaign: String, since: Int64) async throws -> [String: [SendRecord]]

    func campaign(named name: String) async throws -> CampaignRecord?
    func campaigns() async throws -> [CampaignRecord]
    /// Writes the campaign, every recipient and exclusion, and every task, in one transaction;
    /// bumped sends of other campaigns become `frequency_cap` exclusions there. Fails if the
    /// campaign was started before.
    func start(_ plan: CampaignPlan, priority: Int, configVersion: String, state: CampaignState, at: Int64) async throws
    /// Moves a campaign to `state` if it is in one of `from` now (compare and set: a pause or a
    /// cancel another process made in between is never overwritten); false when it was not.
    @discardableResult
    func setState(_ name: String, _ state: CampaignState, from: Set<CampaignState>, reason: String?, at: Int64) async throws -> Bool

    /// Pending tasks of dispatching campaigns that may be called now, oldest first.
    func dueTasks(campaign: String?, now: Int64, limit: Int) async throws -> [CampaignTaskRecord]
    /// Tasks whose call started but never answered (a crash or a lost connection).
    func uncertainTasks(campaign: String?) async throws -> [CampaignTaskRecord]
    func tasks(campaign: String) async throws -> [CampaignTaskRecord]
    /// Marks a call as started and its recipients queued, before the call; returns the
    /// recipients the call must name (a recipient withdrawn since the task was read is not among them);
    /// nil when the task is no longer pending (another dispatcher claimed it).
    func markCalling(_ task: Int64, at: Int64) async throws -> [String]?
    /// Records the created task: recipients become task_created, `rejected` ones failed.
    func markCreated(_ task: Int64, msgid: String, rejected: [String], at: Int64) async throws
    /// The call did not happen or failed transiently: back to pending.
    func markRetry(_ task: Int64, error: String?, nextAttemptAt: Int64) async throws
    /// The call failed for good: its recipients fail with `platform_error`.
    func markFailed(_ task: Int64, error: String, at: Int64) async throws
    /// msgids already recorded by some task (a task found on the platform that one of these names is not ours to adopt).
    func knownMessageIDs(since: Int64) async throws -> Set<String>
    /// Pending or in-flight tasks left; the campaign is dispatched when none are.
    func undispatchedCount(campaign: String) async throws -> Int

    /// Created tasks whose results are not final, created after `since`.
    func openTasks(since: Int64) async throws -> [CampaignTaskRecord]
    func recordMemberStatus(_ task: Int64, status: Int) async throws
    /// Per-recipient results; `final` closes the task (unsent recipients fail `not_sent`).
    func recordResults(_ task: Int64, _ results: [RecipientResult], final: Bool, at: Int64) async throws
    func recordReminder(_ task: Int64, at: Int64) async throws
    /// Cancels pending tasks (their recipients become excluded `cancelled`); returns created
    /// tasks whose sender has not sent, for cancel_groupmsg_send. Compare-and-set: returns nil
    /// and changes nothing when the campaign is missing, completed or already cancelled, so a
    /// cancel racing the move to `completed` never marks a finished campaign cancelled.
    func cancel(_ name: String, at: Int64) async throws -> [CampaignTaskRecord]?
    /// Excludes every recipient not yet handed to the platform with `reason` and drops the
    /// pending tasks, leaving the campaign's state alone (quiet hours that skip).
    func skipRemaining(_ name: String, reason: String, detail: String, at: Int64) async throws

    func report(_ name: String) async throws -> CampaignReport?
    func recipients(_ name: String) async throws -> [CampaignRecipientRow]
}
