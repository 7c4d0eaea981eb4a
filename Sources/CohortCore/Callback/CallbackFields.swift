/// The value of one element of a decrypted callback message.
///
/// WeCom messages are flat `<xml>` documents with one level of nesting at most
/// (`<MemChangeList><Item>…</Item></MemChangeList>`), so a value is either text or an
/// ordered list of child elements.
public indirect enum CallbackValue: Sendable, Hashable, Codable {
    case text(String)
    case children([CallbackField])

    /// The text of a leaf element; `nil` for an element with children.
    public var text: String? {
        if case .text(let value) = self { return value }
        return nil
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            self = .text(text)
        } else {
            self = .children(try container.decode([CallbackField].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .text(let text): try container.encode(text)
        case .children(let children): try container.encode(children)
        }
    }
}

/// One element of a callback message, in the order it was received.
public struct CallbackField: Sendable, Hashable, Codable {
    public var name: String
    public var value: CallbackValue

    public init(name: String, value: CallbackValue) {
        self.name = name
        self.value = value
    }

    public init(_ name: String, _ text: String) {
        self.init(name: name, value: .text(text))
    }
}

/// All elements of one decrypted callback message (the children of `<xml>`).
public struct CallbackFields: Sendable, Hashable, Codable {
    public var fields: [CallbackField]

    public init(_ fields: [CallbackField]) {
        self.fields = fields
    }

    /// Coded as the bare array of fields, the shape `json` writes.
    public init(from decoder: any Decoder) throws {
        self.fields = try decoder.singleValueContainer().decode([CallbackField].self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(fields)
    }

    /// The text of the first element named `name`, or `nil` when it is absent or empty.
    public subscript(name: String) -> String? {
        guard let value = fields.first(where: { $0.name == name })?.value.text, !value.isEmpty else { return nil }
        return value
    }

    /// The texts of the children of the element named `name` (for lists such as `MemChangeList`).
    public func items(_ name: String) -> [String] {
        guard case .children(let children)? = fields.first(where: { $0.name == name })?.value else { return [] }
        return children.compactMap { $0.value.text }
    }

    /// A canonical rendering of every field: sorted by name (stable for repeated names),
    /// children kept in their order, with separators that cannot occur in XML text.
    ///
    /// Two deliveries of the same event produce the same string whatever their element order
    /// or CDATA use, and events that differ in any field produce different strings. The
    /// deduplication key is a digest of this string.
    public var canonicalForm: String {
        var out = ""
        Self.appendCanonical(fields, to: &out)
        return out
    }

    private static func appendCanonical(_ fields: [CallbackField], to out: inout String) {
        let sorted = fields.enumerated().sorted { lhs, rhs in
            lhs.element.name == rhs.element.name ? lhs.offset < rhs.offset : lhs.element.name < rhs.element.name
        }
        for (_, field) in sorted {
            out += field.name
            switch field.value {
            case .text(let text):
                // U+001F and U+001E are not allowed in XML 1.0 text, so they cannot be forged.
                out += "\u{1F}"
                out += text
            case .children(let children):
                out += "\u{1D}"
                // Children keep document order: MemChangeList order is part of the event.
                for child in children {
                    out += child.name
                    out += "\u{1F}"
                    if case .text(let text) = child.value { out += text } else { appendCanonical([child], to: &out) }
                    out += "\u{1C}"
                }
            }
            out += "\u{1E}"
        }
    }
}
