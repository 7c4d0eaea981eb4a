import CohortCore
import Foundation


/// Why a callback body or decrypted message is not usable XML.
public struct CallbackXMLError: Error, Hashable, CustomStringConvertible, Sendable {
    public let message: String

    public var description: String { message }

    public static func malformed(_ detail: String) -> Self { Self(message: "malformed XML: \(detail)") }
    public static let missingEncrypt = Self(message: "envelope has no Encrypt element")
    public static let forbiddenMarkup = Self(message: "DOCTYPE and entity declarations are not accepted")
    public static let tooDeep = Self(message: "XML nests deeper than a callback can")
}

/// The outer, unencrypted part of a POST callback.
public struct CallbackEnvelope: Sendable, Hashable {
    public var toUserName: String?
    /// The receiving app; may be empty or absent.
    public var agentID: String?
    /// The `Encrypt` text, surrounding whitespace removed (the signature is over the bare base64).
    public var encrypt: String

    public init(toUserName: String?, agentID: String?, encrypt: String) {
        self.toUserName = toUserName
        self.agentID = agentID
        self.encrypt = encrypt
    }
}

/// Parses and writes WeCom callback XML: text or CDATA, any element order, one level of
/// nesting for lists. Refuses DOCTYPE/ENTITY declarations and deep nesting, which no callback
/// carries, so hostile XML cannot expand or recurse (see `CallbackXMLScanner`).
public enum CallbackXML {
    /// Deepest element nesting accepted: `<xml>` → field → list item → (one spare level).
    static let maxDepth = 4

    /// Parses a POST body's envelope.
    public static func parseEnvelope(_ body: some Collection<UInt8>) throws(CallbackXMLError) -> CallbackEnvelope {
        let fields = try parseFields(Array(body))
        // Leaf text is already trimmed by the parser; the signature is over the bare base64.
        guard let encrypt = fields["Encrypt"], !encrypt.isEmpty else {
            throw .missingEncrypt
        }
        return CallbackEnvelope(toUserName: fields["ToUserName"], agentID: fields["AgentID"], encrypt: encrypt)
    }

    /// Parses a decrypted message into its fields (the children of the root element).
    public static func parseMessage(_ xml: String) throws(CallbackXMLError) -> CallbackFields {
        try parseFields(Array(xml.utf8))
    }

    static func parseFields(_ bytes: [UInt8]) throws(CallbackXMLError) -> CallbackFields {
        var scanner = CallbackXMLScanner(bytes, maxDepth: maxDepth)
        return CallbackFields(try scanner.parse())
    }

    /// Writes a message as the platform does: every text value in CDATA except purely numeric
    /// ones, with `]]>` split across sections.
    public static func render(_ fields: CallbackFields, root: String = "xml") -> String {
        var out = "<\(root)>"
        for field in fields.fields { render(field, into: &out) }
        out += "</\(root)>"
        return out
    }

    private static func render(_ field: CallbackField, into out: inout String) {
        out += "<\(field.name)>"
        switch field.value {
        case .text(let text):
            if !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
                out += text
            } else {
                out += cdata(text)
            }
        case .children(let children):
            for child in children { render(child, into: &out) }
        }
        out += "</\(field.name)>"
    }

    /// Wraps text in CDATA, splitting any `]]>` so it cannot close the section early.
    public static func cdata(_ text: String) -> String {
        "<![CDATA[" + text.replacingOccurrences(of: "]]>", with: "]]]]><![CDATA[>") + "]]>"
    }

    /// Builds a POST envelope around an `Encrypt` text.
    public static func envelope(toUserName: String, agentID: String?, encrypt: String) -> String {
        var fields = [CallbackField("ToUserName", toUserName)]
        if let agentID { fields.append(CallbackField("AgentID", agentID)) }
        fields.append(CallbackField("Encrypt", encrypt))
        return render(CallbackFields(fields))
    }
}
