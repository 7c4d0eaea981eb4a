import CohortCore
import Foundation
import Logging
import Metrics
import Synchronization
import WeComKit

/// What one dispatch pass did.
public struct DispatchReport: Sendable, Hashable, Codable {
    public var tasksCreated = 0
    public var recipients = 0
    public var rejected = 0
    public var retried = 0
    public var failed = 0
    /// In-flight calls found on the platform after a crash (adopted) or found never made (re-queued).
    public var resolvedAdopted = 0
    public var resolvedRequeued = 0
    /// Campaigns that paused themselves, with why.
    public var paused: [String: String] = [:]
    public var completedCampaigns: [String] = []

    public init() {}
}

/// Creates campaign tasks on the platform from the ledger, one add_msg_template per task.
///
/// Crash safety: a task is marked `calling` (its recipients `queued`) before its call. A call
/// that never answered leaves it there; before anything is re-sent, the platform's task list
/// for the call's time window is matched against the task's recipients (get_groupmsg_list_v2,
/// then get_groupmsg_send_result for the task's sender). A platform task that names only
/// recipients of this task is this task: adopted, not re-sent. Only when none matches is the
/// call made again.
public struct CampaignDispatcher: Sendable {
    public let client: WeComClient
    public let ledger: any CampaignRepository
    public let config: CampaignsConfig
    /// Seconds a call's task may take to appear in the platform's list before a missing task
    /// means the call never happened.
    public var uncertainGrace: Int64 = 3
    public var now: @Sendable () -> Date
    public var sleep: @Sendable (Double) async throws -> Void
    public var logger: Logger
    /// Where a campaign that pauses itself is reported for a person to look at.
    public var alerts: (any AlertRepository)?
    /// Resolves a campaign's attachments (uploading images) once per dispatcher.
    private let attachments: AttachmentCache

    public init(
        client: WeComClient, ledger: any CampaignRepository, config: CampaignsConfig, baseDirectory: String = ".",
        now: @escaping @Sendable () -> Date = { Date() },
        sleep: @escaping @Sendable (Double) async throws -> Void = { try await Task.sleep(for: .seconds($0)) },
        logger: Logger = Logger(label: "cohort.campaigns")
    ) {
        self.client = client
        self.ledger = ledger
        self.config = config
        self.now = now
        self.sleep = sleep
        self.logger = logger
        self.attachments = AttachmentCache(client: client, baseDirectory: baseDirectory)
    }

    private var seconds: Int64 { Int64(now().timeIntervalSince1970) }

    /// Moves scheduled campaigns whose time has come to dispatching.
    public func activateDue() async throws {
        for campaign in try await ledger.campaigns() where campaign.state == .scheduled && campaign.dispatchAt <= seconds {
            try await ledger.setState(campaign.name, .dispatching, from: [.scheduled], reason: nil, at: seconds)
        }
    }

    /// One pass: resolves in-flight calls, then creates due tasks (all of them unless `limit`).
    /// With `campaign`, only that campaign's tasks.
    public func dispatch(campaign: String? = nil, limit: Int = .max, progress: (@Sendable (Int) -> Void)? = nil) async throws
        -> DispatchReport
    {
        var report = DispatchReport()
        try await activateDue()
        try await resolveUncertain(campaign: campaign, report: &report)
        var outcomes: [String: [Bool]] = [:]
        var done = 0
        while done < limit {
            let batch = try await ledger.dueTasks(campaign: campaign, now: seconds, limit: min(100, limit - done))
            if batch.isEmpty { break }
            var stopped: Set<String> = []
            for task in batch where !stopped.contains(task.campaign) {
                guard let spec = config.campaign(named: task.campaign) else {
                    try await pause(task.campaign, "the campaign is no longer in campaigns.yaml", report: &report)
                    stopped.insert(task.campaign)
                    continue
                }
                if let quiet = spec.quietHours {
                    let calendar = BusinessCalendar(timeZone: spec.timeZone)
                    if quiet.contains(minuteOfDay: calendar.minuteOfDay(seconds)) {
                        switch quiet.action {
                        case .defer_:
                            // Picked up again when the quiet hours end.
                            stopped.insert(task.campaign)
                            continue
                        case .skip:
                            // The state first: a campaign paused meanwhile keeps its recipients.
                            if try await ledger.setState(
                                task.campaign, .dispatched, from: [.dispatching], reason: "quiet hours began; the rest was skipped", at: seconds)
                            {
                                try await ledger.skipRemaining(
                                    task.campaign, reason: ExclusionReason.quietHours.rawValue,
                                    detail: "quiet hours began before its task was created", at: seconds)
                            }
                            stopped.insert(task.campaign)
                            continue
                        }
                    }
                }
                let failure = try await send(task, spec: spec, report: &report)
                done += 1
                progress?(done)
                var window = outcomes[task.campaign, default: []]
                window.append(failure == nil)
                if window.count > config.dispatch.errorWindow { window.removeFirst(window.count - config.dispatch.errorWindow) }
                outcomes[task.campaign] = window
                let failures = window.count { !$0 }
                if window.count >= max(2, config.dispatch.errorWindow / 2),
                    Double(failures) / Double(window.count) > config.dispatch.pauseErrorRate
                {
                    let reason = "\(failures) of the last \(window.count) add_msg_template calls failed (last: \(failure ?? "none"))"
                    try await pause(task.campaign, reason, report: &report)
                    stopped.insert(task.campaign)
                }
                if done >= limit { break }
            }
            if !stopped.isEmpty && batch.allSatisfy({ stopped.contains($0.campaign) }) { break }
        }
        for record in try await ledger.campaigns() where record.state == .dispatching && (campaign == nil || record.name == campaign) {
            if try await ledger.undispatchedCount(campaign: record.name) == 0 {
                if try await ledger.setState(record.name, .dispatched, from: [.dispatching], reason: nil, at: seconds) {
                    report.completedCampaigns.append(record.name)
                }
            }
        }
        return report
    }

    private func pause(_ campaign: String, _ reason: String, report: inout DispatchReport) async throws {
        logger.warning("campaign paused itself", metadata: ["campaign": "\(campaign)", "reason": "\(reason)"])
        // Only a campaign still dispatching: an operator's pause or cancel stands as it is.
        guard try await ledger.setState(campaign, .paused, from: [.dispatching], reason: reason, at: seconds) else { return }
        report.paused[campaign] = reason
        _ = try? await alerts?.raise(.campaignPaused, subject: campaign, message: "campaign \(campaign) paused itself: \(reason); resume it with `cohort campaign resume \(campaign)` once the cause is fixed", at: seconds)
    }

    /// One call; the error when it failed (for the error rate and the pause reason).
    private func send(_ task: CampaignTaskRecord, spec: CampaignSpec, report: inout DispatchReport) async throws -> String? {
        let attachments: [MessageAttachment]
        do {
            attachments = try await self.attachments.resolve(spec)
        } catch {
            try await ledger.markRetry(task.id, error: "attachment: \(error)", nextAttemptAt: seconds + backoff(task.attempts))
            report.retried += 1
            return "attachment: \(error)"
        }
        guard let recipients = try await ledger.markCalling(task.id, at: seconds) else {
            // Claimed by another dispatcher between reading and claiming.
            return nil
        }
        guard !recipients.isEmpty else {
            // Everyone was withdrawn (opt-out, a higher-priority campaign) since planning.
            try await ledger.markFailed(task.id, error: "no recipients left", at: seconds)
            return nil
        }
        let request = AddMessageTemplateRequest(
            external_userid: recipients, sender: task.sender, text: task.text.isEmpty ? nil : MessageText(content: task.text),
            attachments: attachments.isEmpty ? nil : attachments)
        let outcome: Result<AddMessageTemplateResponse, PlatformError>
        do throws(PlatformError) {
            outcome = .success(try await client.addMessageTemplate(request))
        } catch {
            outcome = .failure(error)
        }
        switch outcome {
        case .success(let response):
            guard let msgid = response.msgid, !msgid.isEmpty else {
                try await ledger.markFailed(task.id, error: "add_msg_template answered without a msgid", at: seconds)
                report.failed += 1
                return "add_msg_template answered without a msgid"
            }
            let rejected = response.fail_list ?? []
            try await ledger.markCreated(task.id, msgid: msgid, rejected: rejected, at: seconds)
            Counter(label: "cohort_campaign_tasks_created_total").increment()
            Counter(label: "cohort_campaign_recipients_queued_total").increment(by: Int64(recipients.count - rejected.count))
            report.tasksCreated += 1
            report.recipients += recipients.count - rejected.count
            report.rejected += rejected.count
            return nil
        case .failure(let error) where error.isUncertain:
            // The task may exist: leave the call in flight and ask the platform before re-sending.
            logger.warning("add_msg_template outcome unknown", metadata: ["task": "\(task.id)", "error": "\(error)"])
            let started = seconds
            try await sleep(Double(uncertainGrace))
            var inner = DispatchReport()
            try await resolve(task.with(recipients: recipients, callStartedAt: started), report: &inner)
            report.resolvedAdopted += inner.resolvedAdopted
            report.resolvedRequeued += inner.resolvedRequeued
            report.tasksCreated += inner.tasksCreated
            report.recipients += inner.recipients
            return error.description
        case .failure(let error) where Self.isTransient(error):
            try await ledger.markRetry(task.id, error: error.description, nextAttemptAt: seconds + backoff(task.attempts + 1))
            report.retried += 1
            return error.description
        case .failure(let error):
            try await ledger.markFailed(task.id, error: error.description, at: seconds)
            report.failed += 1
            return error.description
        }
    }

    static func isTransient(_ error: PlatformError) -> Bool {
        guard let code = error.errcode else { return error.isUncertain }
        return [-1, 6000, 45009, 45033, 40014, 42001].contains(code)
    }

    private func backoff(_ attempts: Int) -> Int64 {
        min(1_800, 30 << Int64(min(max(attempts - 1, 0), 6)))
    }

    // MARK: Resolving calls that never answered

    /// Settles every task left `calling` by a crash: adopted when the platform has it, re-queued otherwise.
    public func resolveUncertain(campaign: String? = nil) async throws -> DispatchReport {
        var report = DispatchReport()
        try await resolveUncertain(campaign: campaign, report: &report)
        return report
    }

    private func resolveUncertain(campaign: String?, report: inout DispatchReport) async throws {
        let uncertain = try await ledger.uncertainTasks(campaign: campaign)
        guard !uncertain.isEmpty else { return }
        // A task created just before the crash may need a moment to show in the list.
        if let latest = uncertain.compactMap(\.callStartedAt).max(), seconds - latest < uncertainGrace {
            try await sleep(Double(uncertainGrace - (seconds - latest)))
        }
        for task in uncertain { try await resolve(task, report: &report) }
    }

    private func resolve(_ task: CampaignTaskRecord, report: inout DispatchReport) async throws {
        let started = task.callStartedAt ?? seconds
        let recipients = Set(task.recipients)
        // The list's window may span at most a month; a call is never that old in practice.
        let start = max(started - 60, seconds - 29 * 86_400)
        let end = seconds + 60
        let known = try await ledger.knownMessageIDs(since: start - 86_400)
        var cursor: String?
        var seenCursors: Set<String> = []
        repeat {
            let page = try await client.groupMessageList(
                GroupMessageListRequest(start_time: start, end_time: end, filter_type: 0, limit: 100, cursor: cursor))
            for message in page.group_msg_list ?? [] where !known.contains(message.msgid) {
                if let text = message.text?.content, text != task.text { continue }
                let named = try await sendResult(message.msgid, sender: task.sender)
                guard !named.isEmpty, named.isSubset(of: recipients) else { continue }
                let rejected = task.recipients.filter { !named.contains($0) }
                logger.notice("adopted a task created before a crash", metadata: ["task": "\(task.id)", "msgid": "\(message.msgid)"])
                try await ledger.markCreated(task.id, msgid: message.msgid, rejected: rejected, at: message.create_time ?? seconds)
                report.resolvedAdopted += 1
                report.tasksCreated += 1
                report.recipients += named.count
                return
            }
            cursor = page.next_cursor
        } while cursor.map({ !$0.isEmpty && seenCursors.insert($0).inserted }) == true
        // No platform task holds these recipients: the call never took effect.
        try await ledger.markRetry(task.id, error: "call outcome unknown; no task on the platform, sending again", nextAttemptAt: seconds)
        report.resolvedRequeued += 1
    }

    /// Every recipient the platform lists for `sender` on a task, sent or not.
    private func sendResult(_ msgid: String, sender: String) async throws -> Set<String> {
        var named: Set<String> = []
        var cursor: String?
        var seenCursors: Set<String> = []
        repeat {
            let page = try await client.groupMessageSendResult(GroupMessageTaskRequest(msgid: msgid, userid: sender, limit: 1000, cursor: cursor))
            for recipient in page.send_list ?? [] {
                if let id = recipient.external_userid { named.insert(id) }
            }
            cursor = page.next_cursor
        } while cursor.map({ !$0.isEmpty && seenCursors.insert($0).inserted }) == true
        return named
    }
}

extension CampaignTaskRecord {
    func with(recipients: [String], callStartedAt: Int64) -> CampaignTaskRecord {
        var copy = self
        copy.recipients = recipients
        copy.callStartedAt = callStartedAt
        return copy
    }
}

/// A campaign's attachments as the platform takes them; images are uploaded once per run
/// (a media id lives three days).
final class AttachmentCache: Sendable {
    private let client: WeComClient
    private let baseDirectory: String
    private let cache = Mutex<[String: [MessageAttachment]]>([:])

    init(client: WeComClient, baseDirectory: String) {
        self.client = client
        self.baseDirectory = baseDirectory
    }

    func resolve(_ spec: CampaignSpec) async throws -> [MessageAttachment] {
        if let cached = cache.withLock({ $0[spec.name] }) { return cached }
        var result: [MessageAttachment] = []
        for attachment in spec.attachments {
            switch attachment {
            case .link(let title, let url, let description, let picture):
                result.append(MessageAttachment(msgtype: "link", link: .init(title: title, picurl: picture, desc: description, url: url)))
            case .image(let file, let picURL):
                if let file {
                    let media = try await upload(file)
                    result.append(MessageAttachment(msgtype: "image", image: .init(media_id: media)))
                } else {
                    result.append(MessageAttachment(msgtype: "image", image: .init(media_id: nil, pic_url: picURL)))
                }
            case .miniProgram(let title, let appID, let page, let pictureFile):
                let media = try await upload(pictureFile)
                result.append(MessageAttachment(msgtype: "miniprogram", miniprogram: .init(title: title, pic_media_id: media, appid: appID, page: page)))
            }
        }
        cache.withLock { $0[spec.name] = result }
        return result
    }

    private func upload(_ file: String) async throws -> String {
        let path = file.hasPrefix("/") ? file : baseDirectory + "/" + file
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let type = file.lowercased().hasSuffix(".png") ? "image/png" : "image/jpeg"
        let name = (file as NSString).lastPathComponent
        return try await client.uploadMedia(type: "image", filename: name, contentType: type, data: data).media_id
    }
}
