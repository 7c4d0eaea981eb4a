import CohortCore

/// A strict parser for the XML subset WeCom callbacks use: one root element whose children are
/// text, CDATA or, one level down, lists of items. It accepts an XML declaration, comments,
/// processing instructions, attributes (ignored), the five predefined entities and character
/// references; it refuses DOCTYPE and any other declaration, unknown entities, mismatched or
/// unclosed tags, text outside the root, invalid UTF-8 and nesting past `maxDepth`.
///
/// Why not Foundation's `XMLParser`: on Linux it recovers from malformed input and still
/// reports success, it brings libxml2's DTD and entity machinery to an endpoint anyone can
/// reach, and it cost about 80% of the CPU of an ingested event (docs/DESIGN.md).
struct CallbackXMLScanner {
    private let bytes: [UInt8]
    private var position = 0
    private let maxDepth: Int

    init(_ bytes: [UInt8], maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    /// An open element. Its text is usually one run of the input (plain text or one CDATA
    /// section), kept as a range without copying; only text in pieces (entities, several
    /// sections) is assembled in `pieces`.
    private struct Frame {
        var name: ArraySlice<UInt8>
        var run: Range<Int>?
        var pieces: [UInt8]?
        var children: [CallbackField] = []

        init(name: ArraySlice<UInt8>) {
            self.name = name
        }

        /// Text beside child elements is never read (an element with children is a list), so
        /// the whitespace between them is not kept.
        mutating func append(_ range: Range<Int>, of bytes: [UInt8]) {
            guard !range.isEmpty, children.isEmpty else { return }
            if pieces != nil {
                pieces! += bytes[range]
            } else if let current = run {
                pieces = Array(bytes[current]) + bytes[range]
                run = nil
            } else {
                run = range
            }
        }

        mutating func append(decoded: some Collection<UInt8>, of bytes: [UInt8]) {
            guard children.isEmpty else { return }
            if pieces == nil { pieces = run.map { Array(bytes[$0]) } ?? [] }
            run = nil
            pieces! += decoded
        }
    }

    private static let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
    private static let piEnd: [UInt8] = Array("?>".utf8)
    private static let commentStart: [UInt8] = Array("<!--".utf8)
    private static let commentEnd: [UInt8] = Array("-->".utf8)
    private static let cdataStart: [UInt8] = Array("<![CDATA[".utf8)
    private static let cdataEnd: [UInt8] = Array("]]>".utf8)
    private static let selfClose: [UInt8] = Array("/>".utf8)
    private static let piStart: [UInt8] = Array("<?".utf8)

    mutating func parse() throws(CallbackXMLError) -> [CallbackField] {
        if bytes.starts(with: Self.bom) { position = 3 }
        var stack: [Frame] = []
        var root: [CallbackField]?
        while position < bytes.count {
            let byte = bytes[position]
            if byte != UInt8(ascii: "<") {
                if stack.isEmpty {
                    guard isSpace(byte) else { throw fail("text outside the root element") }
                    position += 1
                } else {
                    try readText(into: &stack[stack.count - 1])
                }
                continue
            }
            guard position + 1 < bytes.count else { throw fail("unexpected end") }
            switch bytes[position + 1] {
            case UInt8(ascii: "?"):
                try skip(past: Self.piEnd, what: "processing instruction")
            case UInt8(ascii: "!"):
                if matches(Self.commentStart) {
                    try skip(past: Self.commentEnd, what: "comment")
                } else if matches(Self.cdataStart) {
                    guard !stack.isEmpty else { throw fail("CDATA outside the root element") }
                    position += 9
                    let start = position
                    guard let end = find(Self.cdataEnd) else { throw fail("unterminated CDATA section") }
                    stack[stack.count - 1].append(start..<end, of: bytes)
                    position = end + 3
                } else {
                    throw .forbiddenMarkup
                }
            case UInt8(ascii: "/"):
                position += 2
                let name = try readName()
                skipSpace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: ">") else { throw fail("malformed end tag") }
                position += 1
                guard let frame = stack.popLast(), frame.name == name else { throw fail("mismatched end tag") }
                let field = try finish(frame)
                if stack.isEmpty {
                    root = frame.children
                    _ = field
                    try expectOnlyMisc()
                } else {
                    stack[stack.count - 1].children.append(field)
                }
            default:
                guard root == nil else { throw fail("more than one root element") }
                position += 1
                let name = try readName()
                let selfClosing = try skipAttributes()
                guard stack.count < maxDepth else { throw .tooDeep }
                let frame = Frame(name: name)
                if selfClosing {
                    let field = try finish(frame)
                    if stack.isEmpty {
                        root = []
                        try expectOnlyMisc()
                    } else {
                        stack[stack.count - 1].children.append(field)
                    }
                } else {
                    stack.append(frame)
                }
            }
        }
        guard stack.isEmpty else { throw fail("unclosed element") }
        guard let root else { throw fail("no root element") }
        return root
    }

    private func fail(_ detail: String) -> CallbackXMLError {
        var line = 1
        for byte in bytes[..<min(position, bytes.count)] where byte == 0x0A { line += 1 }
        return .malformed("\(detail) at line \(line)")
    }

    private func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    private func matches(_ pattern: [UInt8], at index: Int? = nil) -> Bool {
        let start = index ?? position
        guard start + pattern.count <= bytes.count else { return false }
        for offset in 0..<pattern.count where bytes[start + offset] != pattern[offset] { return false }
        return true
    }

    private func find(_ pattern: [UInt8]) -> Int? {
        var index = position
        while index + pattern.count <= bytes.count {
            if bytes[index] == pattern[0] && matches(pattern, at: index) { return index }
            index += 1
        }
        return nil
    }

    private mutating func skip(past terminator: [UInt8], what: String) throws(CallbackXMLError) {
        guard let end = find(terminator) else { throw fail("unterminated \(what)") }
        position = end + terminator.count
    }

    private mutating func skipSpace() {
        while position < bytes.count, isSpace(bytes[position]) { position += 1 }
    }

    private func isNameByte(_ byte: UInt8, first: Bool) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "_"), UInt8(ascii: ":"), 0x80...0xFF:
            return true
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."):
            return !first
        default:
            return false
        }
    }

    private mutating func readName() throws(CallbackXMLError) -> ArraySlice<UInt8> {
        let start = position
        while position < bytes.count, isNameByte(bytes[position], first: position == start) { position += 1 }
        guard position > start else { throw fail("expected a name") }
        return bytes[start..<position]
    }

    /// Skips `name="value"` pairs up to `>` or `/>`; returns whether the tag closed itself.
    private mutating func skipAttributes() throws(CallbackXMLError) -> Bool {
        while true {
            skipSpace()
            guard position < bytes.count else { throw fail("unterminated start tag") }
            if bytes[position] == UInt8(ascii: ">") {
                position += 1
                return false
            }
            if matches(Self.selfClose) {
                position += 2
                return true
            }
            _ = try readName()
            skipSpace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "=") else { throw fail("attribute without value") }
            position += 1
            skipSpace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") || bytes[position] == UInt8(ascii: "'") else {
                throw fail("unquoted attribute value")
            }
            let quote = bytes[position]
            position += 1
            while position < bytes.count, bytes[position] != quote {
                if bytes[position] == UInt8(ascii: "<") { throw fail("< in attribute value") }
                position += 1
            }
            guard position < bytes.count else { throw fail("unterminated attribute value") }
            position += 1
        }
    }

    /// Reads character data up to the next `<`, decoding entity and character references.
    private mutating func readText(into frame: inout Frame) throws(CallbackXMLError) {
        while position < bytes.count, bytes[position] != UInt8(ascii: "<") {
            if bytes[position] != UInt8(ascii: "&") {
                // A whole run at once: per-byte appends were most of the scanner's cost.
                let start = position
                while position < bytes.count, bytes[position] != UInt8(ascii: "<"), bytes[position] != UInt8(ascii: "&") {
                    position += 1
                }
                frame.append(start..<position, of: bytes)
                continue
            }
            guard let semicolon = bytes[position...].prefix(12).firstIndex(of: UInt8(ascii: ";")) else {
                throw fail("unterminated entity reference")
            }
            let entity = bytes[(position + 1)..<semicolon]
            position = semicolon + 1
            switch String(decoding: entity, as: UTF8.self) {
            case "lt": frame.append(decoded: CollectionOfOne(UInt8(ascii: "<")), of: bytes)
            case "gt": frame.append(decoded: CollectionOfOne(UInt8(ascii: ">")), of: bytes)
            case "amp": frame.append(decoded: CollectionOfOne(UInt8(ascii: "&")), of: bytes)
            case "quot": frame.append(decoded: CollectionOfOne(UInt8(ascii: "\"")), of: bytes)
            case "apos": frame.append(decoded: CollectionOfOne(UInt8(ascii: "'")), of: bytes)
            case let reference where reference.hasPrefix("#"):
                let digits = reference.dropFirst()
                let value = digits.hasPrefix("x") ? UInt32(digits.dropFirst(), radix: 16) : UInt32(digits, radix: 10)
                guard let value, value != 0, let scalar = Unicode.Scalar(value) else { throw fail("invalid character reference") }
                frame.append(decoded: Array(String(Character(scalar)).utf8), of: bytes)
            default:
                throw fail("unknown entity &\(String(decoding: entity, as: UTF8.self));")
            }
        }
    }

    private func finish(_ frame: Frame) throws(CallbackXMLError) -> CallbackField {
        guard let name = utf8Text(frame.name) else { throw fail("element name is not UTF-8") }
        if !frame.children.isEmpty { return CallbackField(name: name, value: .children(frame.children)) }
        let text: String?
        if let pieces = frame.pieces {
            text = trimmedText(pieces[...])
        } else if let run = frame.run {
            text = trimmedText(bytes[run])
        } else {
            text = ""
        }
        guard let text else { throw fail("element \(name) is not valid UTF-8") }
        return CallbackField(name: name, value: .text(text))
    }

    /// The text without surrounding XML whitespace; nil when it is not UTF-8.
    private func trimmedText(_ raw: ArraySlice<UInt8>) -> String? {
        var start = raw.startIndex
        var end = raw.endIndex
        while start < end, isSpace(raw[start]) { start += 1 }
        while end > start, isSpace(raw[end - 1]) { end -= 1 }
        return utf8Text(raw[start..<end])
    }

    /// After the root closes only whitespace, comments and processing instructions may follow.
    private mutating func expectOnlyMisc() throws(CallbackXMLError) {
        while position < bytes.count {
            if isSpace(bytes[position]) {
                position += 1
            } else if matches(Self.commentStart) {
                try skip(past: Self.commentEnd, what: "comment")
            } else if matches(Self.piStart) {
                try skip(past: Self.piEnd, what: "processing instruction")
            } else {
                throw fail("content after the root element")
            }
        }
    }
}
