import CohortCore
import Foundation
import Logging
import WeComKit

/// What one polling pass learned.
public struct PollReport: Sendable, Hashable, Codable {
    public var tasksPolled = 0
    public var confirmed = 0
    public var delivered = 0
    public var failed = 0
    public var reminded = 0
    public var closed = 0
    public var completedCampaigns: [String] = []

    public init() {}
}

/// Fills per-recipient results from get_groupmsg_task and get_groupmsg_send_result, and
/// reminds staff who have not confirmed (at the configured times, never more than the
/// platform's three per task per 24 hours).
public struct CampaignResultPoller: Sendable {
    public let client: WeComClient
    public let ledger: any CampaignRepository
    public let settings: DispatchSettings
    public var now: @Sendable () -> Date
    public var logger: Logger

    public init(
        client: WeComClient, ledger: any CampaignRepository, settings: DispatchSettings, now: @escaping @Sendable () -> Date = { Date() },
        logger: Logger = Logger(label: "cohort.campaigns")
    ) {
        self.client = client
        self.ledger = ledger
        self.settings = settings
        self.now = now
        self.logger = logger
    }

    private var seconds: Int64 { Int64(now().timeIntervalSince1970) }

    public func poll() async throws -> PollReport {
        var report = PollReport()
        for task in try await ledger.openTasks(since: 0) {
            guard let msgid = task.msgid else { continue }
            report.tasksPolled += 1
            let status = try await memberStatus(msgid, sender: task.sender)
            let createdAt = task.createdAt ?? seconds
            let expired = seconds - createdAt > settings.pollFor
            if status == 2 {
                if task.memberStatus != 2 {
                    try await ledger.recordMemberStatus(task.id, status: 2)
                    report.confirmed += 1
                }
                let results = try await sendResults(msgid, sender: task.sender)
                let pending = Set(task.recipients)
                let relevant = results.filter { pending.contains($0.externalUserID) }
                // Once the member has sent, a recipient still at 0 was left out by the member.
                try await ledger.recordResults(task.id, relevant, final: true, at: seconds)
                report.delivered += relevant.count { $0.status == 1 }
                report.failed += relevant.count { $0.status == 2 || $0.status == 3 }
                report.closed += 1
                continue
            }
            if expired {
                try await ledger.recordResults(task.id, [], final: true, at: seconds)
                report.closed += 1
                continue
            }
            if try await remindIfDue(task, msgid: msgid, createdAt: createdAt) { report.reminded += 1 }
        }
        // A dispatched campaign is complete when none of its tasks waits for results.
        let open = Set(try await ledger.openTasks(since: 0).map(\.campaign))
        for campaign in try await ledger.campaigns() where campaign.state == .dispatched && !open.contains(campaign.name) {
            if try await ledger.setState(campaign.name, .completed, from: [.dispatched], reason: nil, at: seconds) {
                report.completedCampaigns.append(campaign.name)
            }
        }
        return report
    }

    private func remindIfDue(_ task: CampaignTaskRecord, msgid: String, createdAt: Int64) async throws -> Bool {
        let age = seconds - createdAt
        let due = settings.reminders.filter { $0 <= age }.count
        guard due > task.reminders.count else { return false }
        let lastDay = task.reminders.filter { seconds - $0 < 86_400 }.count
        guard lastDay < 3 else { return false }
        do throws(PlatformError) {
            try await client.remindGroupMessage(msgid)
        } catch {
            logger.warning("reminder failed", metadata: ["msgid": "\(msgid)", "error": "\(error)"])
            return false
        }
        try await ledger.recordReminder(task.id, at: seconds)
        return true
    }

    /// The sender's status on the task: 0 not sent, 2 sent.
    private func memberStatus(_ msgid: String, sender: String) async throws -> Int {
        var cursor: String?
        var seen: Set<String> = []
        repeat {
            let page = try await client.groupMessageTask(GroupMessageTaskRequest(msgid: msgid, limit: 1000, cursor: cursor))
            if let entry = page.task_list?.first(where: { $0.userid == sender }) { return entry.status }
            cursor = page.next_cursor
        } while cursor.map({ !$0.isEmpty && seen.insert($0).inserted }) == true
        return 0
    }

    private func sendResults(_ msgid: String, sender: String) async throws -> [RecipientResult] {
        var results: [RecipientResult] = []
        var cursor: String?
        var seen: Set<String> = []
        repeat {
            let page = try await client.groupMessageSendResult(GroupMessageTaskRequest(msgid: msgid, userid: sender, limit: 1000, cursor: cursor))
            for entry in page.send_list ?? [] {
                guard let id = entry.external_userid else { continue }
                results.append(RecipientResult(externalUserID: id, status: entry.status, sendTime: entry.send_time))
            }
            cursor = page.next_cursor
        } while cursor.map({ !$0.isEmpty && seen.insert($0).inserted }) == true
        return results
    }
}
