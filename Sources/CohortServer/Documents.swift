import CohortCore
import Foundation

// The JSON shapes shared by the CLI's `--json` listings and the admin API, so a script can
// read either and get the same fields.

/// A contact with every relation and its tags.
public struct ContactDocument: Encodable, Sendable {
    public struct Relation: Encodable, Sendable {
        public var userid: String
        public var remark: String?
        public var description: String?
        public var createtime: Int64?
        public var add_way: Int?
        public var state: String?
        public var oper_userid: String?
        public var remark_mobiles: [String]
        public var tags: [Tag]
        public var first_seen_at: String
        public var ended_at: String?
        public var end_reason: String?
    }

    public struct Tag: Encodable, Sendable {
        public var id: String
        public var name: String
    }

    public var external_userid: String
    public var name: String?
    public var type: Int?
    public var gender: Int?
    public var unionid: String?
    public var corp_name: String?
    public var first_seen_at: String
    public var ended_at: String?
    public var relations: [Relation]

    public init(_ stored: StoredContact) {
        let formatter = ISO8601DateFormatter()
        external_userid = stored.contact.externalUserID
        name = stored.contact.name
        type = stored.contact.type
        gender = stored.contact.gender
        unionid = stored.contact.unionID
        corp_name = stored.contact.corpName
        first_seen_at = formatter.string(from: stored.firstSeenAt)
        ended_at = stored.endedAt.map(formatter.string(from:))
        relations = stored.relations.map { relation in
            let value = relation.relation
            return Relation(
                userid: value.userID, remark: value.remark, description: value.description, createtime: value.createTime,
                add_way: value.addWay, state: value.state, oper_userid: value.operUserID, remark_mobiles: value.remarkMobiles,
                tags: value.tagIDs.map { Tag(id: $0, name: relation.tagNames[$0] ?? $0) },
                first_seen_at: formatter.string(from: relation.firstSeenAt), ended_at: relation.endedAt.map(formatter.string(from:)),
                end_reason: relation.endReason)
        }
    }
}

/// One inbox event as listings show it.
public struct InboxEventDocument: Encodable, Sendable {
    public var id: Int64
    public var received_at: String
    public var event: String?
    public var change_type: String?
    public var user_id: String?
    public var external_user_id: String?
    public var status: String
    public var attempts: Int
    public var duplicates: Int
    public var last_error: String?

    public init(_ event: InboxEvent) {
        id = event.id
        received_at = ISO8601DateFormatter().string(from: event.receivedAt)
        self.event = event.eventName ?? event.msgType
        change_type = event.changeType
        user_id = event.userID
        external_user_id = event.externalUserID
        status = event.status.rawValue
        attempts = event.attempts
        duplicates = event.duplicates
        last_error = event.lastError
    }
}

/// A segment and its size.
public struct SegmentRow: Encodable, Sendable {
    public var name: String
    public var size: Int
    public var description: String
    public var rule: String
}

/// A segment member and the facts that put it there.
public struct SegmentMember: Encodable, Sendable {
    public var external_userid: String
    public var facts: [String]
}

/// A segment's rule, size and a sample of members.
public struct SegmentDetail: Encodable, Sendable {
    public var name: String
    public var description: String?
    public var rule: String
    public var excludes: [String]
    public var size: Int
    public var sample: [SegmentMember]
}

/// A campaign's whole plan, as the dry run shows it.
public struct DryRunDocument: Encodable, Sendable {
    public var campaign: String
    public var dispatch_at: String
    public var recipients: [PlannedRecipient]
    public var exclusions: [PlannedExclusion]
    public var tasks_per_sender: [String: Int]
    public var task_cap: Int
    public var over_task_cap: [String: Int]
    public var tasks: Int
    public var excluded_by_reason: [String: Int]
    public var bumped: [BumpedSend]

    public init(_ plan: CampaignPlan, cap: Int) {
        campaign = plan.campaign
        dispatch_at = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(plan.dispatchAt)))
        recipients = plan.recipients
        exclusions = plan.exclusions
        tasks_per_sender = plan.tasksPerSender
        task_cap = cap
        over_task_cap = plan.overTaskCap
        tasks = plan.tasks.count
        excluded_by_reason = Dictionary(uniqueKeysWithValues: plan.exclusionCounts.map { ($0.key.rawValue, $0.value) })
        bumped = plan.bumped
    }
}

extension CampaignDesk {
    /// Every segment with its size.
    public func segmentRows(_ snapshot: SegmentSnapshot) -> [SegmentRow] {
        snapshot.segments.segments.enumerated().map { index, segment in
            SegmentRow(
                name: segment.name, size: snapshot.membership.size(of: index), description: segment.spec.description ?? "",
                rule: segment.rule.source.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    /// A segment with `sample` members and why they are in it; nil for an unknown segment.
    public func segmentDetail(_ name: String, sample: Int, snapshot: SegmentSnapshot) -> SegmentDetail? {
        guard let index = snapshot.segments.index(of: name) else { return nil }
        let members = snapshot.membership.members(of: index)
        let shown = members.prefix(max(0, sample)).map { contact -> SegmentMember in
            let why = snapshot.segments.explain(index, contact: contact, population: snapshot.population, plan: snapshot.plan, membership: snapshot.membership)
            return SegmentMember(external_userid: snapshot.population.contacts[contact].externalUserID, facts: why.explanation.facts)
        }
        let segment = snapshot.segments.segments[index]
        return SegmentDetail(
            name: name, description: segment.spec.description, rule: segment.rule.source.trimmingCharacters(in: .whitespacesAndNewlines),
            excludes: segment.spec.exclude.map(\.name), size: members.count, sample: Array(shown))
    }
}

/// A segment under two configs: who enters and who leaves.
public struct SegmentChange: Encodable, Sendable {
    public var name: String
    public var status: String
    public var before: Int
    public var after: Int
    public var entering: Int
    public var leaving: Int
    public var entering_sample: [String]
    public var leaving_sample: [String]
}

extension CampaignDesk {
    /// Every segment of either snapshot, with its members before and after.
    public static func segmentChanges(now: SegmentSnapshot, before: SegmentSnapshot?) -> [SegmentChange] {
        var rows: [SegmentChange] = []
        var names = now.segments.segments.map(\.name)
        for name in before?.segments.segments.map(\.name) ?? [] where !names.contains(name) { names.append(name) }
        func members(_ snapshot: SegmentSnapshot?, _ name: String) -> Set<String> {
            guard let snapshot, let index = snapshot.segments.index(of: name) else { return [] }
            return Set(snapshot.membership.members(of: index).map { snapshot.population.contacts[$0].externalUserID })
        }
        for name in names {
            let current = members(now, name)
            let old = members(before, name)
            let entering = current.subtracting(old).sorted()
            let leaving = old.subtracting(current).sorted()
            let status = now.segments.index(of: name) == nil ? "removed" : (before?.segments.index(of: name) == nil ? "new" : "kept")
            rows.append(
                SegmentChange(
                    name: name, status: status, before: old.count, after: current.count, entering: entering.count, leaving: leaving.count,
                    entering_sample: Array(entering.prefix(5)), leaving_sample: Array(leaving.prefix(5))))
        }
        return rows
    }
}
