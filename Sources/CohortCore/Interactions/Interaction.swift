import Foundation

/// How an interaction names its contact. Order systems rarely know the platform's
/// external_userid, so a unionid or a phone number the staff wrote into the relation's
/// `remark_mobiles` also identifies a contact.
public enum ContactReference: Sendable, Hashable, Codable, CustomStringConvertible {
    case externalUserID(String)
    case unionID(String)
    /// Digits only, as `normalizedPhone` leaves them.
    case phone(String)

    /// The column names an import file or API batch uses for each kind of reference.
    public static let fieldNames = ["external_userid", "unionid", "phone"]

    public var type: String {
        switch self {
        case .externalUserID: "external_userid"
        case .unionID: "unionid"
        case .phone: "phone"
        }
    }

    public var value: String {
        switch self {
        case .externalUserID(let value), .unionID(let value), .phone(let value): value
        }
    }

    public init?(type: String, value: String) {
        switch type {
        case "external_userid": self = .externalUserID(value)
        case "unionid": self = .unionID(value)
        case "phone": self = .phone(value)
        default: return nil
        }
    }

    public var description: String { "\(type) \(type == "phone" ? Self.maskedPhone(value) : value)" }

    /// Digits only, with a leading `+86`/`0086`/`86` country code dropped from 13-digit numbers,
    /// so `+86 138-0013-8000` and `13800138000` meet. Nil when fewer than 5 digits remain.
    public static func normalizedPhone(_ text: String) -> String? {
        var digits = String(text.unicodeScalars.filter { $0.properties.numericType == .decimal && $0.isASCII })
        if digits.hasPrefix("0086") { digits.removeFirst(4) }
        if digits.count == 13, digits.hasPrefix("86") { digits.removeFirst(2) }
        return digits.count >= 5 ? digits : nil
    }

    /// `138****8000`: enough for an operator to recognise, not enough to call.
    public static func maskedPhone(_ phone: String) -> String {
        guard phone.count > 6 else { return String(repeating: "*", count: phone.count) }
        return String(phone.prefix(3)) + String(repeating: "*", count: phone.count - 7) + String(phone.suffix(4))
    }
}

/// Something a contact did or had done: an order, a message, a service case, feedback, or a
/// kind the operator names in config. `(source, sourceID)` is unique, so importing the same
/// record again changes nothing (or corrects it).
public struct Interaction: Sendable, Hashable, Codable {
    /// The kinds every installation has; `grading.yaml` adds its own.
    public static let builtInKinds = ["order", "message", "service", "feedback"]

    public var kind: String
    public var contact: ContactReference
    /// The staff member (userid) involved, if any.
    public var staff: String?
    /// Unix seconds.
    public var occurredAt: Int64
    /// In cents; orders always have one.
    public var amountCents: Int64?
    /// The system the record came from (`shop`, `crm`, `import:orders.csv`).
    public var source: String
    /// The record's id in that system.
    public var sourceID: String
    /// Free attributes; the latest value of each becomes a contact attribute rules can read.
    public var attributes: [String: String]

    public init(
        kind: String, contact: ContactReference, staff: String? = nil, occurredAt: Int64, amountCents: Int64? = nil,
        source: String, sourceID: String, attributes: [String: String] = [:]
    ) {
        self.kind = kind
        self.contact = contact
        self.staff = staff
        self.occurredAt = occurredAt
        self.amountCents = amountCents
        self.source = source
        self.sourceID = sourceID
        self.attributes = attributes
    }

    /// The attributes as stores keep them: JSON with sorted keys, so the same attributes always
    /// store the same text (and compare equal); nil when there are none.
    public var storedAttributes: String? {
        guard !attributes.isEmpty else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // A [String: String] always encodes.
        return (try? encoder.encode(attributes)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Attributes read back from ``storedAttributes``; empty for nil or unreadable text.
    public static func attributes(stored text: String?) -> [String: String] {
        text.flatMap { try? JSONDecoder().decode([String: String].self, from: Data($0.utf8)) } ?? [:]
    }
}

/// What an import or API batch did.
public struct InteractionImportCounts: Sendable, Hashable, Codable {
    public var inserted = 0
    public var updated = 0
    public var unchanged = 0
    /// Rows (of those written) whose contact is known now.
    public var matched = 0
    /// Rows kept until their contact appears.
    public var unmatched = 0

    public init(inserted: Int = 0, updated: Int = 0, unchanged: Int = 0, matched: Int = 0, unmatched: Int = 0) {
        self.inserted = inserted
        self.updated = updated
        self.unchanged = unchanged
        self.matched = matched
        self.unmatched = unmatched
    }

    public static func + (lhs: Self, rhs: Self) -> Self {
        Self(
            inserted: lhs.inserted + rhs.inserted, updated: lhs.updated + rhs.updated,
            unchanged: lhs.unchanged + rhs.unchanged, matched: lhs.matched + rhs.matched,
            unmatched: lhs.unmatched + rhs.unmatched)
    }
}

/// Interaction records of one corp (port; the store implements it).
public protocol InteractionRepository: Sendable {
    /// Stores a batch in one transaction: new records inserted, changed ones updated, the
    /// same ones left alone; each is matched to its contact when the contact is known.
    func store(_ batch: [Interaction], at time: Date) async throws -> InteractionImportCounts
    /// Matches kept records whose contact has appeared since. Returns how many were matched,
    /// with the external_userids they now belong to.
    func matchPending() async throws -> [String]
    /// Matches kept records that could name this contact (its external_userid, unionid and
    /// remark phones): the cheap form for one contact event. Returns the contacts matched.
    func matchPending(contact externalUserID: String) async throws -> [String]
    /// The external_userids the references name now (unknown ones are left out).
    func resolve(_ references: [ContactReference]) async throws -> [String]
    /// Every matched interaction of one contact, oldest first.
    func interactions(of externalUserID: String) async throws -> [Interaction]
}
