import Foundation

/// A staff member of the simulated corp.
public struct SimStaff: Sendable, Hashable, Codable {
    public var userid: String
    public var name: String
    /// Staff without an interop licence are skipped by batch/get_by_user (`fail_info`).
    public var licensed: Bool

    public init(userid: String, name: String, licensed: Bool = true) {
        self.userid = userid
        self.name = name
        self.licensed = licensed
    }
}

/// A customer of the simulated corp.
public struct SimCustomer: Sendable, Hashable, Codable {
    public var externalUserID: String
    public var name: String
    public var type: Int
    public var gender: Int
    public var unionid: String?
    public var corpName: String?
    public var corpFullName: String?
    public var position: String?

    public init(
        externalUserID: String, name: String, type: Int = 1, gender: Int = 0, unionid: String? = nil,
        corpName: String? = nil, corpFullName: String? = nil, position: String? = nil
    ) {
        self.externalUserID = externalUserID
        self.name = name
        self.type = type
        self.gender = gender
        self.unionid = unionid
        self.corpName = corpName
        self.corpFullName = corpFullName
        self.position = position
    }
}

/// One staff member following one customer.
public struct SimRelation: Sendable, Hashable, Codable {
    public var userid: String
    public var externalUserID: String
    public var remark: String
    public var description: String
    public var createtime: Int64
    public var addWay: Int
    public var state: String?
    public var operUserID: String
    public var remarkCorpName: String?
    public var remarkMobiles: [String]
    /// Corp tag ids.
    public var tagIDs: [String]
    /// Personal tag names (no id; `get` shows them as type 2, batch never does).
    public var personalTags: [String]
    /// When the staff member last chatted with the customer: mass messages go to the most recent.
    public var lastChatAt: Int64

    public init(
        userid: String, externalUserID: String, remark: String = "", description: String = "", createtime: Int64,
        addWay: Int = 1, state: String? = nil, operUserID: String? = nil, remarkCorpName: String? = nil,
        remarkMobiles: [String] = [], tagIDs: [String] = [], personalTags: [String] = [], lastChatAt: Int64? = nil
    ) {
        self.userid = userid
        self.externalUserID = externalUserID
        self.remark = remark
        self.description = description
        self.createtime = createtime
        self.addWay = addWay
        self.state = state
        self.operUserID = operUserID ?? userid
        self.remarkCorpName = remarkCorpName
        self.remarkMobiles = remarkMobiles
        self.tagIDs = tagIDs
        self.personalTags = personalTags
        self.lastChatAt = lastChatAt ?? createtime
    }
}

/// A corp tag.
public struct SimTag: Sendable, Hashable, Codable {
    public var id: String
    public var groupID: String
    public var name: String
    public var order: UInt32
    public var createTime: Int64
    public var deleted = false

    public init(id: String, groupID: String, name: String, order: UInt32, createTime: Int64) {
        self.id = id
        self.groupID = groupID
        self.name = name
        self.order = order
        self.createTime = createTime
    }
}

/// A corp tag group.
public struct SimTagGroup: Sendable, Hashable, Codable {
    public var id: String
    public var name: String
    public var order: UInt32
    public var createTime: Int64
    public var deleted = false
    /// Tag ids in creation order.
    public var tagIDs: [String]

    public init(id: String, name: String, order: UInt32, createTime: Int64, tagIDs: [String] = []) {
        self.id = id
        self.name = name
        self.order = order
        self.createTime = createTime
        self.tagIDs = tagIDs
    }
}

/// The whole simulated corp: what a seeded dataset produces and what the API serves.
public struct SimCorp: Sendable, Hashable {
    public var staff: [SimStaff] = [] {
        didSet { staffPositions = Dictionary(staff.enumerated().map { ($1.userid, $0) }, uniquingKeysWith: { first, _ in first }) }
    }
    /// userid → position in `staff`, kept with it.
    private var staffPositions: [String: Int] = [:]
    public var customers: [String: SimCustomer] = [:]
    /// userid → external_userid → relation.
    public private(set) var relations: [String: [String: SimRelation]] = [:]
    /// userid → external_userids in the order the platform lists them.
    public private(set) var listing: [String: [String]] = [:]
    /// external_userid → userids following the customer, in the order they added them.
    public private(set) var followers: [String: [String]] = [:]
    public var groups: [String: SimTagGroup] = [:]
    public var tags: [String: SimTag] = [:]
    /// Group ids in creation order.
    public var groupOrder: [String] = []

    public init() {}

    public var relationCount: Int { relations.values.reduce(0) { $0 + $1.count } }

    public func staffMember(_ userid: String) -> SimStaff? { staffPositions[userid].map { staff[$0] } }

    public func relation(_ userid: String, _ externalUserID: String) -> SimRelation? { relations[userid]?[externalUserID] }

    /// The relations of one customer, in the order their staff added them.
    public func relations(of externalUserID: String) -> [SimRelation] {
        (followers[externalUserID] ?? []).compactMap { relations[$0]?[externalUserID] }
    }

    /// Adds or replaces a relation (a re-added customer moves to the end of the listing).
    public mutating func put(_ relation: SimRelation) {
        let userid = relation.userid
        let external = relation.externalUserID
        if relations[userid]?[external] == nil {
            listing[userid, default: []].append(external)
            followers[external, default: []].append(userid)
        }
        relations[userid, default: [:]][external] = relation
    }

    /// Removes a relation; the customer stays known to the corp.
    @discardableResult
    public mutating func remove(_ userid: String, _ externalUserID: String) -> SimRelation? {
        guard let removed = relations[userid]?.removeValue(forKey: externalUserID) else { return nil }
        listing[userid]?.removeAll { $0 == externalUserID }
        followers[externalUserID]?.removeAll { $0 == userid }
        return removed
    }

    /// Applies `change` to a relation if it exists.
    public mutating func update(_ userid: String, _ externalUserID: String, _ change: (inout SimRelation) -> Void) -> Bool {
        guard var relation = relations[userid]?[externalUserID] else { return false }
        change(&relation)
        relations[userid]?[externalUserID] = relation
        return true
    }

    /// Removes a tag id from every relation (the tag was deleted).
    public mutating func untagEverywhere(_ tagIDs: Set<String>) {
        for (userid, byCustomer) in relations {
            for (external, relation) in byCustomer where relation.tagIDs.contains(where: tagIDs.contains) {
                relations[userid]?[external]?.tagIDs.removeAll(where: tagIDs.contains)
            }
        }
    }

    /// Live tag groups in display order (larger `order` first, then creation).
    public var liveGroups: [SimTagGroup] {
        groupOrder.compactMap { groups[$0] }.filter { !$0.deleted }.enumerated()
            .sorted { ($0.element.order, -$0.offset) > ($1.element.order, -$1.offset) }.map(\.element)
    }
}
