import Foundation

/// Turns one row of named text fields (a CSV line, after column mapping) into an interaction,
/// or says what is wrong with it. Shared by the CSV import and the HTTP API so both accept the
/// same values.
public struct InteractionRowParser: Sendable {
    /// The fields a row may carry; any other column becomes an attribute.
    public static let fields = [
        "kind", "external_userid", "unionid", "phone", "staff", "occurred_at", "amount", "source", "source_id",
    ]

    public var knownKinds: Set<String>
    /// Dates and date-times without an offset are read in the business time zone.
    public var timeZone: TimeZone
    /// Used when a row has no `kind` (the import's `--kind`).
    public var defaultKind: String?
    /// Used when a row has no `source` (the import names the file).
    public var defaultSource: String?

    public init(knownKinds: Set<String>, timeZone: TimeZone, defaultKind: String? = nil, defaultSource: String? = nil) {
        self.knownKinds = knownKinds
        self.timeZone = timeZone
        self.defaultKind = defaultKind
        self.defaultSource = defaultSource
    }

    /// The interaction a row describes. Empty values count as absent.
    public func parse(_ row: [String: String]) -> Result<Interaction, InteractionRowError> {
        func value(_ key: String) -> String? {
            guard let text = row[key]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
            return text
        }
        guard let kind = value("kind") ?? defaultKind else { return .failure(.init("missing kind")) }
        guard knownKinds.contains(kind) else {
            return .failure(.init("unknown kind \"\(kind)\" (known: \(knownKinds.sorted().joined(separator: ", ")))"))
        }
        let references = ContactReference.fieldNames.compactMap { name in value(name).map { (name, $0) } }
        guard let (type, text) = references.first else {
            return .failure(.init("no contact: give external_userid, unionid or phone"))
        }
        let reference: ContactReference
        if type == "phone" {
            guard let phone = ContactReference.normalizedPhone(text) else {
                return .failure(.init("phone has too few digits"))
            }
            reference = .phone(phone)
        } else {
            reference = ContactReference(type: type, value: text)!
        }
        guard let timeText = value("occurred_at") else { return .failure(.init("missing occurred_at")) }
        guard let occurredAt = Self.parseTime(timeText, timeZone: timeZone) else {
            return .failure(.init("occurred_at \"\(timeText)\" is not a date (2026-11-23, 2026-11-23T10:00:00+08:00, 2026-11-23 10:00:00 or unix seconds)"))
        }
        var amount: Int64?
        if let amountText = value("amount") {
            guard let cents = Self.parseCents(amountText) else {
                return .failure(.init("amount \"\(amountText)\" is not a number with at most 2 decimals"))
            }
            amount = cents
        }
        if kind == "order", amount == nil { return .failure(.init("an order needs an amount")) }
        guard let source = value("source") ?? defaultSource else { return .failure(.init("missing source")) }
        guard let sourceID = value("source_id") else { return .failure(.init("missing source_id")) }
        var attributes: [String: String] = [:]
        for (key, text) in row where !Self.fields.contains(key) {
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            if !trimmed.isEmpty { attributes[key] = trimmed }
        }
        return .success(
            Interaction(
                kind: kind, contact: reference, staff: value("staff"), occurredAt: occurredAt, amountCents: amount,
                source: source, sourceID: sourceID, attributes: attributes))
    }

    /// Exact decimal to cents: `128.5` → 12850, `-3` → -300. No floating point on the way.
    public static func parseCents(_ text: String) -> Int64? {
        var body = Substring(text)
        var negative = false
        if body.first == "-" || body.first == "+" {
            negative = body.first == "-"
            body = body.dropFirst()
        }
        let parts = body.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = parts.first, !whole.isEmpty, whole.allSatisfy(\.isASCIIDigit) else { return nil }
        let fraction = parts.count == 2 ? parts[1] : ""
        guard fraction.count <= 2, fraction.allSatisfy(\.isASCIIDigit), whole.count <= 15 else { return nil }
        guard let units = Int64(whole), let decimals = Int64(fraction.isEmpty ? "0" : String(fraction)) else { return nil }
        let cents = units * 100 + (fraction.count == 1 ? decimals * 10 : decimals)
        return negative ? -cents : cents
    }

    /// Unix seconds from an ISO 8601 date-time (with or without offset), `yyyy-MM-dd HH:mm:ss`,
    /// a plain date (midnight in `timeZone`), or a number of unix seconds.
    public static func parseTime(_ text: String, timeZone: TimeZone) -> Int64? {
        if text.allSatisfy(\.isASCIIDigit), text.count >= 9, text.count <= 11, let seconds = Int64(text) { return seconds }
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: false).parse(text) {
            return Int64(date.timeIntervalSince1970)
        }
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) {
            return Int64(date.timeIntervalSince1970)
        }
        // Local forms: split into numbers rather than trusting a locale-dependent formatter.
        let numbers = text.split(whereSeparator: { !$0.isASCIIDigit }).compactMap { Int($0) }
        guard numbers.count == 3 || numbers.count == 5 || numbers.count == 6 else { return nil }
        var components = DateComponents()
        components.year = numbers[0]
        components.month = numbers[1]
        components.day = numbers[2]
        if numbers.count >= 5 {
            components.hour = numbers[3]
            components.minute = numbers[4]
            components.second = numbers.count == 6 ? numbers[5] : 0
        }
        guard (1970...9999).contains(numbers[0]), (1...12).contains(numbers[1]), (1...31).contains(numbers[2]),
            (components.hour ?? 0) < 24, (components.minute ?? 0) < 60, (components.second ?? 0) < 61
        else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        guard let date = calendar.date(from: components), calendar.component(.day, from: date) == numbers[2] else { return nil }
        return Int64(date.timeIntervalSince1970)
    }
}

/// Why a row was not imported.
public struct InteractionRowError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isWholeNumber }
}
