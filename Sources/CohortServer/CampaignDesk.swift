import CohortConfig
import CohortCore
import CohortTemplates
import Foundation
import Logging
import WeComKit

/// Segment membership over the stored grades, with what produced it.
public struct SegmentSnapshot: Sendable {
    public let population: GradingPopulation
    public let plan: MetricPlan
    public let membership: SegmentMembership
    public let segments: SegmentSet

    public func size(of name: String) -> Int? {
        segments.index(of: name).map { membership.size(of: $0) }
    }
}

/// One rendered message, or why a contact gets none.
public struct MessagePreview: Sendable, Codable {
    public var externalUserID: String
    public var sender: String?
    public var variant: String?
    public var text: String?
    public var excluded: String?
}

/// Segments and campaigns over the store: membership, plans, previews, starting a campaign.
/// Planning reads the store and the config; it never calls the platform.
public struct CampaignDesk: Sendable {
    public let grading: GradingRules
    public let rules: CampaignRules
    public let gradingRepository: any GradingRepository
    public let ledger: any CampaignRepository
    public var now: @Sendable () -> Date
    public var logger: Logger
    /// Where starts, pauses, resumes and cancels are recorded, and by whom.
    public var audit: (any AuditLog)?
    public var actor = "cli"

    public struct Refusal: Error, CustomStringConvertible {
        public var description: String
    }

    public init(
        grading: GradingRules, rules: CampaignRules, gradingRepository: any GradingRepository, ledger: any CampaignRepository,
        now: @escaping @Sendable () -> Date = { Date() }, logger: Logger = Logger(label: "cohort.campaigns")
    ) {
        self.grading = grading
        self.rules = rules
        self.gradingRepository = gradingRepository
        self.ledger = ledger
        self.now = now
        self.logger = logger
    }

    private var seconds: Int64 { Int64(now().timeIntervalSince1970) }

    /// Every segment's members as of now, under `segments` (default: the loaded ones).
    public func snapshot(segments: SegmentSet? = nil) async throws -> SegmentSnapshot {
        let segments = segments ?? rules.segments
        let plan = segments.metricPlan(asOf: seconds, grading: grading)
        let population = try await gradingRepository.population(plan: plan, attributes: grading.grading.attributes, contacts: nil)
        return SegmentSnapshot(population: population, plan: plan, membership: segments.evaluate(population, plan: plan), segments: segments)
    }

    public func campaign(_ name: String) throws -> CampaignSpec {
        guard let spec = rules.config.campaign(named: name) else {
            let names = rules.config.campaigns.map(\.name)
            throw Refusal(description: "no campaign \"\(name)\" in campaigns.yaml (campaigns: \(names.isEmpty ? "none" : names.joined(separator: ", ")))")
        }
        return spec
    }

    /// The campaign's candidates (segment members, or only `contacts`), with grades,
    /// attributes and template variants filled in.
    public func candidates(_ spec: CampaignSpec, snapshot: SegmentSnapshot, contacts: [String]? = nil) async throws -> [CampaignCandidate] {
        guard let segment = snapshot.segments.index(of: spec.segment.name) else {
            throw Refusal(description: "campaign \(spec.name) names unknown segment \(spec.segment.name)")
        }
        let population = snapshot.population
        var indices: [Int]
        if let contacts {
            var position: [String: Int] = [:]
            for (index, contact) in population.contacts.enumerated() { position[contact.externalUserID] = index }
            indices = []
            for id in contacts {
                guard let index = position[id] else { throw Refusal(description: "no contact \(id) in the store") }
                indices.append(index)
            }
        } else {
            indices = snapshot.membership.members(of: segment)
        }
        let details = try await ledger.candidates(indices.map { population.contacts[$0].externalUserID })
        let attributeNames = grading.grading.attributes.map(\.name)
        return indices.compactMap { index -> CampaignCandidate? in
            let contact = population.contacts[index]
            guard var candidate = details[contact.externalUserID] else { return nil }
            Self.enrich(&candidate, from: contact, attributeNames: attributeNames)
            candidate.variant = rules.variant(of: spec, contact: index, membership: snapshot.membership)
            return candidate
        }
    }

    /// Stored grades and declared attributes, as messages show them.
    static func enrich(_ candidate: inout CampaignCandidate, from contact: GradingContact, attributeNames: [String]) {
        candidate.grade = contact.previous ?? ContactGrade(externalUserID: contact.externalUserID)
        for (position, name) in attributeNames.enumerated() where position < contact.attributes.count {
            if contact.attributes[position] != .null { candidate.attributes[name] = contact.attributes[position] }
        }
    }

    /// The whole plan, computed against the ledger's history but not written.
    public func plan(_ name: String, snapshot: SegmentSnapshot? = nil) async throws -> CampaignPlan {
        let spec = try campaign(name)
        let current: SegmentSnapshot
        if let snapshot { current = snapshot } else { current = try await self.snapshot() }
        let snapshot = current
        let candidates = try await candidates(spec, snapshot: snapshot)
        return try await plan(spec, candidates: candidates)
    }

    /// The plan for these candidates, against the ledger's send history.
    public func plan(_ spec: CampaignSpec, candidates: [CampaignCandidate]) async throws -> CampaignPlan {
        let ids = candidates.map(\.externalUserID)
        let history = try await ledger.sendHistory(of: ids, excluding: spec.name, since: seconds - 62 * 86_400)
        let input = CampaignPlanInput(
            campaign: spec, candidates: candidates, optOuts: try await ledger.optOuts(), history: history,
            caps: rules.config.dispatch.frequencyCaps, optOutTags: Set(rules.config.dispatch.optOutTags), now: seconds)
        return CampaignPlanner.plan(input, renderer: rules.renderer(for: spec), calendar: BusinessCalendar(timeZone: grading.grading.timeZone))
    }

    /// Rendered messages for chosen contacts, or for the first `sample` segment members.
    public func preview(_ name: String, contacts: [String]?, sample: Int) async throws -> [MessagePreview] {
        let spec = try campaign(name)
        let snapshot = try await snapshot()
        var candidates = try await candidates(spec, snapshot: snapshot, contacts: contacts)
        if contacts == nil { candidates = Array(candidates.prefix(sample)) }
        let renderer = rules.renderer(for: spec)
        return candidates.map { candidate in
            var preview = MessagePreview(externalUserID: candidate.externalUserID)
            preview.variant = spec.variants[candidate.variant].template.name
            guard let sender = CampaignPlanner.chooseSender(candidate.relations, policy: spec.sender) else {
                preview.excluded = "not_current_relation: the contact has no staff member any more"
                return preview
            }
            preview.sender = sender.userID
            switch renderer.render(variant: candidate.variant, MessageContext(campaign: spec.name, candidate: candidate, sender: sender)) {
            case .success(let text): preview.text = text
            case .failure(let failure): preview.excluded = "\(failure.reason.rawValue): \(failure.detail)"
            }
            return preview
        }
    }

    /// Plans the campaign and writes the whole ledger before anything is sent. Refused when a
    /// sender would exceed the task cap or the campaign was started before.
    @discardableResult
    public func start(_ name: String) async throws -> CampaignPlan {
        let spec = try campaign(name)
        if let existing = try await ledger.campaign(named: name) {
            throw Refusal(description: "campaign \(name) was started before (\(existing.state.rawValue)); a campaign sends once, so copy it under a new name to send again")
        }
        let plan = try await plan(name)
        if !plan.overTaskCap.isEmpty {
            let worst = plan.overTaskCap.sorted { $0.value > $1.value }.prefix(5).map { "\($0.key): \($0.value) tasks" }.joined(separator: ", ")
            throw Refusal(description: "campaign \(name) would ask staff to confirm more than \(spec.maxTasksPerSender) tasks each (\(worst)); personalise less or raise max_tasks_per_sender")
        }
        let state: CampaignState = plan.dispatchAt <= seconds ? .dispatching : .scheduled
        try await ledger.start(plan, priority: spec.priority, configVersion: rules.version, state: state, at: seconds)
        await note("campaign.start", name, "\(plan.recipients.count) recipients in \(plan.tasks.count) tasks, config \(rules.version)")
        logger.info("campaign started", metadata: [
            "campaign": "\(name)", "recipients": "\(plan.recipients.count)", "tasks": "\(plan.tasks.count)", "state": "\(state.rawValue)",
        ])
        return plan
    }
}

extension CampaignDesk {
    /// Pauses a scheduled or dispatching campaign: no further tasks until resumed.
    public func pause(_ name: String) async throws {
        try await transition(name, from: [.scheduled, .dispatching], to: .paused, reason: "paused by an operator")
    }

    /// Resumes a paused campaign.
    public func resume(_ name: String) async throws {
        try await transition(name, from: [.paused], to: .dispatching, reason: nil)
    }

    func transition(_ name: String, from: [CampaignState], to: CampaignState, reason: String?) async throws {
        guard let record = try await ledger.campaign(named: name) else {
            throw Refusal(description: "campaign \(name) has not been started")
        }
        guard from.contains(record.state) else {
            throw Refusal(description: "campaign \(name) is \(record.state.rawValue); this works on \(from.map(\.rawValue).joined(separator: " or ")) campaigns")
        }
        guard try await ledger.setState(name, to, from: Set(from), reason: reason, at: seconds) else {
            throw Refusal(description: "campaign \(name) changed state meanwhile; look again with `cohort campaign list`")
        }
        await note("campaign.\(to == .paused ? "pause" : "resume")", name, "from \(record.state.rawValue)")
        logger.info("campaign state", metadata: ["campaign": "\(name)", "state": "\(to.rawValue)"])
    }

    /// What a cancel did on the platform.
    public struct Cancellation: Sendable, Codable {
        /// Created tasks staff had not confirmed, withdrawn with cancel_groupmsg_send.
        public var withdrawn: Int
        /// Tasks that could not be withdrawn, with the reason.
        public var failures: [String]
    }

    /// Cancels a campaign: pending tasks are dropped and created tasks staff have not
    /// confirmed are withdrawn on the platform (when a client is given).
    public func cancel(_ name: String, client: WeComClient?) async throws -> Cancellation {
        guard let record = try await ledger.campaign(named: name), record.state != .cancelled, record.state != .completed else {
            throw Refusal(description: "campaign \(name) is not running")
        }
        guard let open = try await ledger.cancel(name, at: seconds) else {
            throw Refusal(description: "campaign \(name) finished or was cancelled meanwhile")
        }
        var result = Cancellation(withdrawn: 0, failures: [])
        for task in open {
            guard let msgid = task.msgid else { continue }
            guard let client else {
                result.failures.append("task \(msgid): no platform client (WECOM_SECRET) to withdraw it")
                continue
            }
            do {
                try await client.cancelGroupMessage(msgid)
                result.withdrawn += 1
            } catch {
                result.failures.append("task \(msgid): \(error)")
            }
        }
        await note("campaign.cancel", name, "\(result.withdrawn) unconfirmed tasks withdrawn")
        logger.info("campaign cancelled", metadata: ["campaign": "\(name)", "withdrawn": "\(result.withdrawn)"])
        return result
    }
}

extension CampaignDesk {
    /// Records an operator action; a failing audit write is logged, never fatal to the action.
    func note(_ action: String, _ subject: String, _ detail: String) async {
        guard let audit else { return }
        do {
            try await audit.record(AuditEntry(at: seconds, actor: actor, action: action, subject: subject, detail: detail))
        } catch {
            logger.error("audit entry not written", metadata: ["action": "\(action)", "error": "\(error)"])
        }
    }
}
