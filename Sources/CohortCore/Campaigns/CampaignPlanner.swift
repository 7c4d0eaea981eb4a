import Foundation

/// A live relation of a campaign candidate: who could send, and what the message may say about it.
public struct CandidateRelation: Sendable, Hashable {
    public var userID: String
    public var staffName: String?
    public var remark: String?
    public var description: String?
    public var createTime: Int64?
    /// The latest interaction naming this staff member with the contact (unix seconds).
    public var lastInteraction: Int64?
    /// The relation's tags as (group, name).
    public var tags: [TagName]

    public init(
        userID: String, staffName: String? = nil, remark: String? = nil, description: String? = nil, createTime: Int64? = nil,
        lastInteraction: Int64? = nil, tags: [TagName] = []
    ) {
        self.userID = userID
        self.staffName = staffName
        self.remark = remark
        self.description = description
        self.createTime = createTime
        self.lastInteraction = lastInteraction
        self.tags = tags
    }
}

/// A tag as messages show it.
public struct TagName: Sendable, Hashable {
    public var group: String
    public var name: String

    public init(group: String, name: String) {
        self.group = group
        self.name = name
    }
}

/// A segment member a campaign may message.
public struct CampaignCandidate: Sendable, Hashable {
    public var externalUserID: String
    public var name: String?
    public var gender: Int?
    public var type: Int?
    public var corpName: String?
    /// Live relations only; none means the contact removed every staff member.
    public var relations: [CandidateRelation]
    public var grade: ContactGrade
    /// Declared attributes by name (absent: the contact has none).
    public var attributes: [String: RuleValue]
    /// The template variant the contact's segments chose.
    public var variant: Int

    public init(
        externalUserID: String, name: String? = nil, gender: Int? = nil, type: Int? = nil, corpName: String? = nil,
        relations: [CandidateRelation], grade: ContactGrade, attributes: [String: RuleValue] = [:], variant: Int = 0
    ) {
        self.externalUserID = externalUserID
        self.name = name
        self.gender = gender
        self.type = type
        self.corpName = corpName
        self.relations = relations
        self.grade = grade
        self.attributes = attributes
        self.variant = variant
    }
}

/// What one message is rendered from.
public struct MessageContext: Sendable {
    public var campaign: String
    public var candidate: CampaignCandidate
    public var sender: CandidateRelation

    public init(campaign: String, candidate: CampaignCandidate, sender: CandidateRelation) {
        self.campaign = campaign
        self.candidate = candidate
        self.sender = sender
    }
}

/// Why a message could not be rendered for a recipient.
public struct MessageRenderFailure: Error, Sendable, Hashable {
    public var reason: ExclusionReason
    public var detail: String

    public init(reason: ExclusionReason, detail: String) {
        self.reason = reason
        self.detail = detail
    }
}

/// Renders campaign messages (the templates module implements it).
public protocol MessageRenderer: Sendable {
    func render(variant: Int, _ context: MessageContext) -> Result<String, MessageRenderFailure>
}

/// Why a segment member gets no message from a campaign.
public enum ExclusionReason: String, Sendable, Hashable, Codable, CaseIterable {
    case optedOut = "opted_out"
    case frequencyCap = "frequency_cap"
    case holdout
    case notCurrentRelation = "not_current_relation"
    /// Another staff member of the contact sends instead (recorded per staff member).
    case duplicateOwner = "duplicate_owner"
    case quietHours = "quiet_hours"
    /// The template needs a value this contact lacks.
    case missingData = "missing_data"
    /// The rendered text is over the platform's 4,000 bytes.
    case tooLong = "too_long"
    case cancelled
}

/// A message Cohort has sent or means to send, for frequency caps.
public struct SendRecord: Sendable, Hashable {
    public var at: Int64
    public var campaign: String
    public var priority: Int
    /// Planned by a campaign that has not created its task yet: a higher-priority campaign may take its place.
    public var pending: Bool

    public init(at: Int64, campaign: String, priority: Int, pending: Bool) {
        self.at = at
        self.campaign = campaign
        self.priority = priority
        self.pending = pending
    }
}

/// Everything a plan is made from; the planner reads no clock and no store.
public struct CampaignPlanInput: Sendable {
    public var campaign: CampaignSpec
    public var candidates: [CampaignCandidate]
    /// Do-not-contact list: external_userid → reason.
    public var optOuts: [String: String]
    /// Other campaigns' sends per contact.
    public var history: [String: [SendRecord]]
    public var caps: [FrequencyCap]
    /// A contact carrying one of these tags (on any relation) is opted out.
    public var optOutTags: Set<String>
    public var now: Int64

    public init(
        campaign: CampaignSpec, candidates: [CampaignCandidate], optOuts: [String: String] = [:],
        history: [String: [SendRecord]] = [:], caps: [FrequencyCap] = [.platformQuota], optOutTags: Set<String> = [], now: Int64
    ) {
        self.optOutTags = optOutTags
        self.campaign = campaign
        self.candidates = candidates
        self.optOuts = optOuts
        self.history = history
        self.caps = caps
        self.now = now
    }
}

public struct PlannedRecipient: Sendable, Hashable, Codable {
    public var externalUserID: String
    public var sender: String
    public var variant: Int
    public var text: String

    public init(externalUserID: String, sender: String, variant: Int, text: String) {
        self.externalUserID = externalUserID
        self.sender = sender
        self.variant = variant
        self.text = text
    }
}

public struct PlannedExclusion: Sendable, Hashable, Codable {
    public var externalUserID: String
    /// Set for `duplicate_owner`: the staff member who does not send.
    public var staff: String?
    public var reason: ExclusionReason
    public var detail: String

    public init(externalUserID: String, staff: String? = nil, reason: ExclusionReason, detail: String) {
        self.externalUserID = externalUserID
        self.staff = staff
        self.reason = reason
        self.detail = detail
    }
}

/// One add_msg_template call: a sender, one text, at most 10,000 recipients.
public struct PlannedTask: Sendable, Hashable, Codable {
    public var sender: String
    public var text: String
    public var recipients: [String]

    public init(sender: String, text: String, recipients: [String]) {
        self.sender = sender
        self.text = text
        self.recipients = recipients
    }
}

/// Another campaign's planned message that gives way to this one under a frequency cap.
public struct BumpedSend: Sendable, Hashable, Codable {
    public var campaign: String
    public var externalUserID: String

    public init(campaign: String, externalUserID: String) {
        self.campaign = campaign
        self.externalUserID = externalUserID
    }
}

/// A campaign's whole plan: who hears what from whom, who does not and why, and the tasks.
public struct CampaignPlan: Sendable {
    public var campaign: String
    /// When dispatch starts (after the schedule and the quiet hours).
    public var dispatchAt: Int64
    public var recipients: [PlannedRecipient]
    public var exclusions: [PlannedExclusion]
    public var tasks: [PlannedTask]
    public var bumped: [BumpedSend]
    /// Senders over the campaign's task cap, with their task counts.
    public var overTaskCap: [String: Int]

    public init(
        campaign: String, dispatchAt: Int64, recipients: [PlannedRecipient], exclusions: [PlannedExclusion], tasks: [PlannedTask],
        bumped: [BumpedSend] = [], overTaskCap: [String: Int] = [:]
    ) {
        self.campaign = campaign
        self.dispatchAt = dispatchAt
        self.recipients = recipients
        self.exclusions = exclusions
        self.tasks = tasks
        self.bumped = bumped
        self.overTaskCap = overTaskCap
    }

    public var tasksPerSender: [String: Int] {
        tasks.reduce(into: [:]) { $0[$1.sender, default: 0] += 1 }
    }

    public var exclusionCounts: [ExclusionReason: Int] {
        exclusions.reduce(into: [:]) { $0[$1.reason, default: 0] += 1 }
    }
}

/// Decides a campaign's recipients, senders, texts and tasks. Pure.
public enum CampaignPlanner {
    /// The platform's limit on recipients per add_msg_template call (spec 4.1).
    public static let maxRecipientsPerTask = 10_000

    public static func plan(_ input: CampaignPlanInput, renderer: some MessageRenderer, calendar: BusinessCalendar) -> CampaignPlan {
        let campaign = input.campaign
        var dispatchAt = max(campaign.startAt ?? input.now, input.now)
        var quiet = false
        if let hours = campaign.quietHours {
            let local = BusinessCalendar(timeZone: campaign.timeZone)
            if hours.contains(minuteOfDay: local.minuteOfDay(dispatchAt)) {
                switch hours.action {
                case .defer_: dispatchAt = local.next(minuteOfDay: hours.end, after: dispatchAt)
                case .skip: quiet = true
                }
            }
        }
        var recipients: [PlannedRecipient] = []
        var exclusions: [PlannedExclusion] = []
        var bumped: [BumpedSend] = []
        recipients.reserveCapacity(input.candidates.count)
        for candidate in input.candidates {
            let id = candidate.externalUserID
            func exclude(_ reason: ExclusionReason, _ detail: String) {
                exclusions.append(PlannedExclusion(externalUserID: id, staff: nil, reason: reason, detail: detail))
            }
            if let reason = input.optOuts[id] {
                exclude(.optedOut, reason)
                continue
            }
            if !input.optOutTags.isEmpty,
                let tag = candidate.relations.lazy.flatMap(\.tags).first(where: { input.optOutTags.contains($0.name) })
            {
                exclude(.optedOut, "tag \(tag.group)/\(tag.name)")
                continue
            }
            guard let sender = chooseSender(candidate.relations, policy: campaign.sender) else {
                exclude(.notCurrentRelation, "the contact has no staff member any more")
                continue
            }
            if campaign.holdout > 0, holdoutFraction(campaign: campaign.name, contact: id) < campaign.holdout {
                exclude(.holdout, "in the \(Int((campaign.holdout * 100).rounded()))% holdout")
                continue
            }
            var history = input.history[id] ?? []
            var capped: String?
            for cap in input.caps {
                while let over = violation(of: cap, history: history, at: dispatchAt, calendar: calendar) {
                    // The lowest-priority pending send in the way gives way to a higher-priority campaign.
                    let yielding = over.indices
                        .filter { history[$0].pending && history[$0].priority < campaign.priority }
                        .min { (history[$0].priority, -history[$0].at) < (history[$1].priority, -history[$1].at) }
                    guard let yielding else {
                        let names = Set(over.map { history[$0].campaign }).sorted().joined(separator: ", ")
                        capped = "\(cap): already \(over.count) (\(names))"
                        break
                    }
                    bumped.append(BumpedSend(campaign: history[yielding].campaign, externalUserID: id))
                    history.remove(at: yielding)
                }
                if capped != nil { break }
            }
            if let capped {
                // Bumps are only worth it when this campaign then sends.
                bumped.removeAll { $0.externalUserID == id }
                exclude(.frequencyCap, capped)
                continue
            }
            if quiet {
                bumped.removeAll { $0.externalUserID == id }
                exclude(.quietHours, "dispatch falls in the quiet hours and the campaign skips them")
                continue
            }
            switch renderer.render(variant: candidate.variant, MessageContext(campaign: campaign.name, candidate: candidate, sender: sender)) {
            case .success(let text):
                recipients.append(PlannedRecipient(externalUserID: id, sender: sender.userID, variant: candidate.variant, text: text))
                for other in candidate.relations where other.userID != sender.userID {
                    exclusions.append(PlannedExclusion(
                        externalUserID: id, staff: other.userID, reason: .duplicateOwner, detail: "\(sender.userID) sends instead"))
                }
            case .failure(let failure):
                bumped.removeAll { $0.externalUserID == id }
                exclude(failure.reason, failure.detail)
            }
        }
        let tasks = tasks(for: recipients)
        var overCap: [String: Int] = [:]
        for (sender, count) in tasks.reduce(into: [String: Int](), { $0[$1.sender, default: 0] += 1 }) where count > campaign.maxTasksPerSender {
            overCap[sender] = count
        }
        return CampaignPlan(
            campaign: campaign.name, dispatchAt: dispatchAt, recipients: recipients, exclusions: exclusions, tasks: tasks,
            bumped: bumped, overTaskCap: overCap)
    }

    /// Groups recipients by (sender, text), each group chunked to the platform's maximum, in a
    /// stable order: senders by userid, texts by first appearance.
    public static func tasks(for recipients: [PlannedRecipient]) -> [PlannedTask] {
        struct Key: Hashable {
            var sender: String
            var text: String
        }
        var groups: [Key: [String]] = [:]
        var order: [Key] = []
        for recipient in recipients {
            let key = Key(sender: recipient.sender, text: recipient.text)
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(recipient.externalUserID)
        }
        let senders = order.enumerated().sorted { ($0.element.sender, $0.offset) < ($1.element.sender, $1.offset) }.map(\.element)
        var tasks: [PlannedTask] = []
        for key in senders {
            let members = groups[key]!
            var start = 0
            while start < members.count {
                let end = min(start + maxRecipientsPerTask, members.count)
                tasks.append(PlannedTask(sender: key.sender, text: key.text, recipients: Array(members[start..<end])))
                start = end
            }
        }
        return tasks
    }

    /// The staff member who messages a contact under `policy`.
    public static func chooseSender(_ relations: [CandidateRelation], policy: SenderPolicy) -> CandidateRelation? {
        let owner = relations.min { ($0.createTime ?? .max, $0.userID) < ($1.createTime ?? .max, $1.userID) }
        guard policy == .recentInteraction else { return owner }
        let recent = relations.filter { $0.lastInteraction != nil }
            .max { ($0.lastInteraction!, $1.userID) < ($1.lastInteraction!, $0.userID) }
        return recent ?? owner
    }

    /// A stable number in [0, 1) per (campaign, contact): the same contacts stay in a
    /// campaign's holdout however often it is planned.
    public static func holdoutFraction(campaign: String, contact: String) -> Double {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in campaign.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        hash ^= 0x1f
        hash &*= 0x100_0000_01b3
        for byte in contact.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        // FNV's low bits mix poorly; fold the high half in before taking the fraction.
        hash ^= hash >> 29
        hash &*= 0xbf58_476d_1ce4_e5b9
        hash ^= hash >> 32
        return Double(hash % 1_000_000) / 1_000_000
    }

    /// The history entries that, with one more send at `at`, break the cap; nil when it holds.
    static func violation(of cap: FrequencyCap, history: [SendRecord], at: Int64, calendar: BusinessCalendar) -> [Int]? {
        // Most contacts have no recent sends: one send breaks a cap only when it allows none,
        // and there is no calendar arithmetic to do.
        if history.isEmpty { return cap.daysInMonth || cap.max >= 1 ? nil : [] }
        switch cap.window {
        case .rollingDays(let days):
            let span = Int64(days) * 86_400
            // Every window of `span` seconds that contains `at` starts in (at - span, at].
            var starts: [Int64] = [at - span + 1]
            for record in history where record.at > at - span && record.at <= at { starts.append(record.at) }
            for start in starts {
                let inside = history.indices.filter { history[$0].at >= start && history[$0].at < start + span }
                if inside.count + 1 > cap.max { return inside }
            }
            return nil
        case .calendarDay, .calendarWeek, .calendarMonth:
            let period = calendar.period(of: cap.window, containing: at)
            let inside = history.indices.filter { period.contains(history[$0].at) }
            let limit = cap.daysInMonth ? calendar.daysInMonth(containing: at) : cap.max
            return inside.count + 1 > limit ? inside : nil
        }
    }
}
