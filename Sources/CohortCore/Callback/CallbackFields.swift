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
        String(decoding: canonicalBytes, as: UTF8.self)
    }

    /// ``canonicalForm`` as UTF-8 bytes, built without intermediate strings: the webhook
    /// digests it for every delivery.
    public var canonicalBytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        Self.appendCanonical(fields, to: &out)
        return out
    }

    private static func appendCanonical(_ fields: [CallbackField], to out: inout [UInt8]) {
        // Insertion sort of positions: stable, and no allocation beyond the index list for the
        // ten or so elements a message has. Names compare as Strings, the order keys were
        // first stored in.
        var order = Array(fields.indices)
        for position in order.indices.dropFirst() {
            let moving = order[position]
            var slot = position
            while slot > 0, fields[moving].name < fields[order[slot - 1]].name {
                order[slot] = order[slot - 1]
                slot -= 1
            }
            order[slot] = moving
        }
        for index in order {
            let field = fields[index]
            out.append(contentsOf: field.name.utf8)
            switch field.value {
            case .text(let text):
                // U+001F and U+001E are not allowed in XML 1.0 text, so they cannot be forged.
                out.append(0x1F)
                out.append(contentsOf: text.utf8)
            case .children(let children):
                out.append(0x1D)
                // Children keep document order: MemChangeList order is part of the event.
                for child in children {
                    out.append(contentsOf: child.name.utf8)
                    out.append(0x1F)
                    if case .text(let text) = child.value { out.append(contentsOf: text.utf8) } else { appendCanonical([child], to: &out) }
                    out.append(0x1C)
                }
            }
            out.append(0x1E)
        }
    }
}
