import CohortCore
import Foundation

#if canImport(FoundationXML)
import FoundationXML
#endif

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
/// carries, so hostile XML cannot expand or recurse.
public enum CallbackXML {
    /// Deepest element nesting accepted: `<xml>` → field → list item → (one spare level).
    static let maxDepth = 4

    /// Parses a POST body's envelope.
    public static func parseEnvelope(_ body: some Collection<UInt8>) throws(CallbackXMLError) -> CallbackEnvelope {
        let fields = try parseFields(Data(body))
        // Leaf text is already trimmed by the parser; the signature is over the bare base64.
        guard let encrypt = fields["Encrypt"], !encrypt.isEmpty else {
            throw .missingEncrypt
        }
        return CallbackEnvelope(toUserName: fields["ToUserName"], agentID: fields["AgentID"], encrypt: encrypt)
    }

    /// Parses a decrypted message into its fields (the children of the root element).
    public static func parseMessage(_ xml: String) throws(CallbackXMLError) -> CallbackFields {
        try parseFields(Data(xml.utf8))
    }

    static func parseFields(_ data: Data) throws(CallbackXMLError) -> CallbackFields {
        if containsDeclaration(data) { throw .forbiddenMarkup }
        let parser = XMLParser(data: data)
        let collector = FieldCollector()
        parser.delegate = collector
        parser.shouldResolveExternalEntities = false
        parser.shouldProcessNamespaces = false
        let ok = parser.parse()
        if let error = collector.error { throw error }
        // Linux's XMLParser recovers from some errors and still returns true: any reported
        // error, or a root that never closed, makes the document malformed.
        guard ok, parser.parserError == nil, !collector.sawError, collector.sawRoot, collector.rootClosed else {
            let detail = parser.parserError.map { "\(($0 as NSError).code)" } ?? "no root element"
            throw .malformed("line \(parser.lineNumber) (\(detail))")
        }
        return CallbackFields(collector.root)
    }

    private static func containsDeclaration(_ data: Data) -> Bool {
        // "<!" followed by a letter starts DOCTYPE/ENTITY/ELEMENT; "<![CDATA[" and "<!--" are fine.
        let bytes = [UInt8](data)
        guard bytes.count > 2 else { return false }
        for index in 0..<(bytes.count - 2) where bytes[index] == 0x3C && bytes[index + 1] == 0x21 {
            let next = bytes[index + 2]
            if (next >= 0x41 && next <= 0x5A) || (next >= 0x61 && next <= 0x7A) { return true }
        }
        return false
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

/// The bytes without leading and trailing XML whitespace (space, tab, CR, LF).
/// Byte-level on purpose: Foundation's `trimmingCharacters` dominated ingest profiles.
private func trimmed(_ bytes: [UInt8]) -> ArraySlice<UInt8> {
    func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }
    var start = bytes.startIndex
    var end = bytes.endIndex
    while start < end, isSpace(bytes[start]) { start += 1 }
    while end > start, isSpace(bytes[end - 1]) { end -= 1 }
    return bytes[start..<end]
}

/// Collects the children of the root element. A reference type because XMLParser's delegate is.
private final class FieldCollector: NSObject, XMLParserDelegate {
    private struct Frame {
        var name: String
        var text: [UInt8] = []
        var children: [CallbackField] = []
    }

    var root: [CallbackField] = []
    var sawRoot = false
    var rootClosed = false
    var sawError = false
    var error: CallbackXMLError?
    private var stack: [Frame] = []

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String] = [:]
    ) {
        if stack.isEmpty && sawRoot {
            error = .malformed("more than one root element")
            parser.abortParsing()
            return
        }
        sawRoot = true
        guard stack.count < CallbackXML.maxDepth else {
            error = .tooDeep
            parser.abortParsing()
            return
        }
        stack.append(Frame(name: elementName))
    }

    func parser(_ parser: XMLParser, parseErrorOccurred parseError: any Error) {
        sawError = true
    }

    func parser(_ parser: XMLParser, validationErrorOccurred validationError: any Error) {
        sawError = true
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        guard !stack.isEmpty else { return }
        stack[stack.count - 1].text += Array(string.utf8)
    }

    func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
        guard !stack.isEmpty else { return }
        stack[stack.count - 1].text += [UInt8](CDATABlock)
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
        guard let frame = stack.popLast() else { return }
        let value: CallbackValue
        if frame.children.isEmpty {
            guard let text = String(validating: trimmed(frame.text), as: UTF8.self) else {
                error = .malformed("element \(frame.name) is not valid UTF-8")
                parser.abortParsing()
                return
            }
            value = .text(text)
        } else {
            value = .children(frame.children)
        }
        let field = CallbackField(name: frame.name, value: value)
        if stack.isEmpty {
            root = frame.children
            rootClosed = true
        } else {
            stack[stack.count - 1].children.append(field)
        }
    }
}
