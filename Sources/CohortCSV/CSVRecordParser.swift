/// An incremental, allocation-light RFC 4180 CSV parser.
///
/// Feed it chunks of bytes of any size (chunk boundaries may fall anywhere, even inside a
/// UTF-8 sequence or a `\r\n` pair); each call returns the records completed by that chunk.
/// Call ``finish()`` once at end of input to get the last record if the input does not end
/// with a line break.
///
/// - Separator: any single ASCII byte except `"`, `\r`, `\n` (default `,`).
/// - Quoting: `"` with `""` as escaped quote; quoted fields may contain separators and line breaks.
/// - Line ends: `\n`, `\r\n` (and a lone `\r`) end a record outside quotes.
/// - A UTF-8 BOM at the very start is skipped; empty lines are skipped.
/// - Per-record problems are returned as `.failure` elements and parsing continues with the
///   next record; only an unterminated quote at end of input is thrown by ``finish()``.
public struct CSVRecordParser: Sendable {
    public typealias Element = Result<CSVRecord, CSVError>

    /// The field separator byte.
    public let separator: UInt8

    private enum State: UInt8, Sendable {
        case recordStart     // nothing of the current record seen yet
        case fieldStart      // at the first byte of a field
        case unquoted        // inside an unquoted field
        case quoted          // inside a quoted field
        case quoteInQuoted   // saw `"` inside a quoted field: closing quote or first half of `""`
        case afterQuote      // after a closing quote: expect separator or line end
    }

    // Each field is turned into a String as soon as it ends, directly from the chunk being
    // parsed. Only a field that spans chunks is copied (into `partial`). Field positions
    // (`fieldStart`, `quoteEnd`) are offsets into `partial ++ chunk`.
    private var state: State = .recordStart
    private var line = 1            // current physical line (1-based)
    private var recordLine = 1      // line where the current record starts
    private var fieldLine = 1       // line where the current field starts
    private var prevCR = false      // last consumed byte was `\r` (so a following `\n` is not a new line)
    private var recordError: CSVError?  // first error of the current record
    private var recordFailed = false    // recordError != nil (cheap to test per field)
    private var fieldStart = 0      // offset of the current field's first content byte
    private var quoteEnd = 0        // offset of the closing quote of the current quoted field
    private var fieldEscaped = false  // current quoted field contains `""`
    private var fields: [String] = []  // completed fields of the current record
    private var partial: [UInt8] = []  // raw bytes of the current field from previous chunks
    private var expectedFieldCount = 8
    private var chunkIsASCII = false   // the chunk being parsed is pure ASCII: skip UTF-8 validation
    private var bomChecked = false
    private var bomPending: [UInt8] = []

    private static let quote = UInt8(ascii: "\"")
    private static let cr = UInt8(ascii: "\r")
    private static let lf = UInt8(ascii: "\n")
    private static let ones: UInt64 = 0x0101_0101_0101_0101

    /// High bit set in each byte of the result at or above the first zero byte of `x`; the
    /// lowest set bit marks exactly the first zero byte (little-endian order).
    @inline(__always)
    private static func zeroBytes(_ x: UInt64) -> UInt64 {
        (x &- ones) & ~x & 0x8080_8080_8080_8080
    }

    public init(separator: UInt8 = UInt8(ascii: ",")) {
        precondition(separator < 0x80 && separator != Self.quote && separator != Self.cr
                     && separator != Self.lf, "CSV separator must be an ASCII byte other than \", CR, LF")
        self.separator = separator
    }

    /// The current 1-based physical line (the line the next byte fed belongs to).
    public var currentLine: Int { line }

    /// Parses `bytes` and returns the records completed by them, in input order.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> [Element] {
        var out: [Element] = []
        feed(bytes, into: &out)
        return out
    }

    /// Parses `bytes` and returns the records completed by them, in input order.
    /// Contiguous collections (`[UInt8]`, `ArraySlice`, `Data`, ...) are parsed in place.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [Element] {
        var out: [Element] = []
        let done: Void? = bytes.withContiguousStorageIfAvailable { feed(UnsafeRawBufferPointer($0), into: &out) }
        if done == nil {
            Array(bytes).withUnsafeBytes { feed($0, into: &out) }
        }
        return out
    }

    /// Parses `bytes` and appends the records completed by them to `out`.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, into out: inout [Element]) {
        var chunk = bytes
        if !bomChecked {
            let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
            var i = 0
            while bomPending.count < 3, i < chunk.count, chunk[i] == bom[bomPending.count] {
                bomPending.append(chunk[i])
                i += 1
            }
            if bomPending.count == 3 {
                bomChecked = true
                bomPending = []
            } else if i == chunk.count {
                return  // still a possible BOM prefix; wait for more bytes
            } else {
                bomChecked = true
                let pending = bomPending
                bomPending = []
                pending.withUnsafeBytes { parse($0, into: &out) }
            }
            chunk = UnsafeRawBufferPointer(rebasing: chunk[i...])
        }
        parse(chunk, into: &out)
    }

    /// Ends the input: returns the final record if the input did not end with a line break,
    /// and resets the parser to its initial state.
    /// - Throws: ``CSVError/unterminatedQuote(line:)`` if a quoted field is still open.
    public mutating func finish() throws(CSVError) -> [Element] {
        var out: [Element] = []
        if !bomChecked && !bomPending.isEmpty {
            bomChecked = true
            let pending = bomPending
            bomPending = []
            pending.withUnsafeBytes { parse($0, into: &out) }
        }
        let state = self.state
        let quoteLine = self.fieldLine
        defer { self = CSVRecordParser(separator: separator) }
        let empty = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
        let delta = partial.count
        switch state {
        case .recordStart:
            return out
        case .quoted:
            throw .unterminatedQuote(line: quoteLine)
        case .fieldStart:
            endField(empty, start: 0, end: 0, escaped: false, delta: 0)
        case .unquoted:
            endField(empty, start: fieldStart, end: delta, escaped: false, delta: delta)
        case .quoteInQuoted, .afterQuote:
            endField(empty, start: fieldStart, end: quoteEnd, escaped: fieldEscaped, delta: delta)
        }
        endRecord(into: &out)
        return out
    }

    // MARK: - Core

    private mutating func parse(_ raw: UnsafeRawBufferPointer, into out: inout [Element]) {
        guard !raw.isEmpty else { return }
        raw.withMemoryRebound(to: UInt8.self) { p in
            parse(p, into: &out)
        }
    }

    /// The state machine. Kept out of line so its tight loops are compiled the same way
    /// whatever the caller looks like (it runs once per chunk, so the call costs nothing).
    @inline(never)
    private mutating func parse(_ p: UnsafeBufferPointer<UInt8>, into out: inout [Element]) {
        let sep = separator
        let quote = Self.quote, cr = Self.cr, lf = Self.lf
        let n = p.count
        guard let base = p.baseAddress, n > 0 else { return }
        let sepWord = Self.ones &* UInt64(sep), quoteWord = Self.ones &* UInt64(quote)
        let lfWord = Self.ones &* UInt64(lf), crWord = Self.ones &* UInt64(cr)
        var i = 0
        var state = self.state
        var line = self.line
        var prevCR = self.prevCR
        var fieldStart = self.fieldStart
        var quoteEnd = self.quoteEnd
        var fieldEscaped = self.fieldEscaped
        // Offset of p[0] in `partial ++ p`: non-zero only while the field continued from the
        // previous chunk is open.
        var delta = partial.count
        chunkIsASCII = Self.isASCII(p)

        scan: while i < n {
            switch state {
            case .recordStart:
                let b = p[i]
                if b == lf {
                    if !prevCR { line += 1 }
                    prevCR = false
                    i += 1
                } else if b == cr {
                    line += 1
                    prevCR = true
                    i += 1
                } else {
                    prevCR = false
                    recordLine = line
                    state = .fieldStart
                }

            case .fieldStart:
                fieldLine = line
                if p[i] == quote {
                    i += 1
                    fieldStart = i
                    fieldEscaped = false
                    state = .quoted
                } else {
                    fieldStart = i
                    state = .unquoted
                }

            case .unquoted:
                // Tight loop over consecutive unquoted fields of a record.
                while true {
                    // Find the next separator, quote or line break, 8 bytes at a time.
                    var found = false
                    while i &+ 8 <= n {
                        let w = UInt64(littleEndian: UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self))
                        let m = Self.zeroBytes(w ^ sepWord) | Self.zeroBytes(w ^ quoteWord)
                            | Self.zeroBytes(w ^ lfWord) | Self.zeroBytes(w ^ crWord)
                        if m != 0 {
                            i &+= m.trailingZeroBitCount &>> 3
                            found = true
                            break
                        }
                        i &+= 8
                    }
                    if !found {
                        while i < n {
                            let b = p[i]
                            if b == sep || (b <= quote && (b == quote || b == lf || b == cr)) { break }
                            i += 1
                        }
                        if i == n { break scan }
                    }
                    let b = p[i]
                    i += 1
                    if b == quote {
                        fail(.quoteInUnquotedField(line: line, field: fields.count + 1))
                        continue
                    }
                    if delta == 0 {
                        addField(UnsafeBufferPointer(rebasing: p[fieldStart..<(i - 1)]), escaped: false,
                                 validate: !chunkIsASCII)
                    } else {
                        endField(p, start: fieldStart, end: i - 1 + delta, escaped: false, delta: delta)
                        delta = 0
                    }
                    if b == sep {
                        if i < n && p[i] != quote {
                            fieldLine = line
                            fieldStart = i
                            continue
                        }
                        state = .fieldStart
                    } else {  // line end
                        endRecord(into: &out)
                        line += 1
                        prevCR = b == cr
                        state = .recordStart
                    }
                    break
                }

            case .quoted:
                let start = i
                scanWords: while i &+ 8 <= n {
                    let w = UInt64(littleEndian: UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self))
                    let m = Self.zeroBytes(w ^ quoteWord) | Self.zeroBytes(w ^ lfWord)
                        | Self.zeroBytes(w ^ crWord)
                    if m != 0 {
                        i &+= m.trailingZeroBitCount &>> 3
                        break scanWords
                    }
                    i &+= 8
                }
                while i < n {
                    let b = p[i]
                    if b <= quote && (b == quote || b == lf || b == cr) { break }
                    i += 1
                }
                if i > start { prevCR = false }
                if i == n { break scan }
                let b = p[i]
                if b == quote {
                    quoteEnd = i + delta
                    prevCR = false
                    state = .quoteInQuoted
                } else if b == lf {
                    if !prevCR { line += 1 }
                    prevCR = false
                } else {  // \r
                    line += 1
                    prevCR = true
                }
                i += 1

            case .quoteInQuoted:
                if p[i] == quote {  // escaped quote
                    fieldEscaped = true
                    state = .quoted
                    i += 1
                } else {
                    state = .afterQuote
                }

            case .afterQuote:
                let b = p[i]
                if b == sep || b == lf || b == cr {
                    i += 1
                    endField(p, start: fieldStart, end: quoteEnd, escaped: fieldEscaped, delta: delta)
                    delta = 0
                    if b == sep {
                        state = .fieldStart
                    } else {
                        endRecord(into: &out)
                        line += 1
                        prevCR = b == cr
                        state = .recordStart
                    }
                } else {
                    fail(.characterAfterClosingQuote(line: line, field: fields.count + 1))
                    state = .unquoted  // skip the rest of the field
                }
            }
        }

        switch state {
        case .unquoted, .quoted, .quoteInQuoted, .afterQuote:
            // The field continues in the next chunk: keep its bytes, re-based to `partial`.
            let from = max(0, fieldStart - delta)
            partial.append(contentsOf: UnsafeBufferPointer(rebasing: p[from..<n]))
            quoteEnd -= fieldStart
            fieldStart = 0
        case .recordStart, .fieldStart:
            break
        }
        self.state = state
        self.line = line
        self.prevCR = prevCR
        self.fieldStart = fieldStart
        self.quoteEnd = quoteEnd
        self.fieldEscaped = fieldEscaped
    }

    /// Completes the current field, whose raw content is `(partial ++ p)[start..<end]`
    /// (`delta == partial.count`), and clears `partial`.
    private mutating func endField(_ p: UnsafeBufferPointer<UInt8>, start: Int, end: Int, escaped: Bool, delta: Int) {
        if delta == 0 {
            addField(UnsafeBufferPointer(rebasing: p[start..<end]), escaped: escaped, validate: !chunkIsASCII)
        } else {
            if end > delta {
                partial.append(contentsOf: UnsafeBufferPointer(rebasing: p[0..<(end - delta)]))
            }
            var bytes: [UInt8] = []
            swap(&bytes, &partial)
            bytes.withUnsafeBufferPointer {
                addField(UnsafeBufferPointer(rebasing: $0[start..<end]), escaped: escaped, validate: true)
            }
            bytes.removeAll(keepingCapacity: true)
            swap(&bytes, &partial)
        }
    }

    @inline(__always)
    private mutating func addField(_ raw: UnsafeBufferPointer<UInt8>, escaped: Bool, validate: Bool) {
        guard !recordFailed else { return }
        guard !validate || Self.isValidUTF8(raw) else {
            fail(.invalidUTF8(line: fieldLine, field: fields.count + 1))
            return
        }
        if fields.isEmpty { fields.reserveCapacity(expectedFieldCount) }
        fields.append(escaped ? Self.unescape(raw) : Self.string(raw))
    }

    /// Records the first error of the current record; the record is reported as a failure.
    private mutating func fail(_ error: CSVError) {
        guard !recordFailed else { return }
        recordError = error
        recordFailed = true
    }

    private mutating func endRecord(into out: inout [Element]) {
        if recordFailed, let recordError {
            out.append(.failure(recordError))
            self.recordError = nil
            recordFailed = false
            fields.removeAll(keepingCapacity: true)
        } else {
            expectedFieldCount = fields.count
            out.append(.success(CSVRecord(fields: fields, line: recordLine)))
            fields = []
        }
    }

    /// A String from already validated UTF-8 (copies the bytes once; small strings are stored inline).
    @inline(__always)
    private static func string(_ utf8: UnsafeBufferPointer<UInt8>) -> String {
        guard let base = utf8.baseAddress, !utf8.isEmpty else { return "" }
        return String(unsafeUninitializedCapacity: utf8.count) { buffer in
            buffer.baseAddress!.initialize(from: base, count: utf8.count)
            return utf8.count
        }
    }

    /// Content of a quoted field containing `""`: every quote in it is the first of a pair.
    private static func unescape(_ raw: UnsafeBufferPointer<UInt8>) -> String {
        String(unsafeUninitializedCapacity: raw.count) { buffer in
            var j = 0, k = 0
            while j < raw.count {
                let b = raw[j]
                buffer[k] = b
                k += 1
                j += b == quote ? 2 : 1
            }
            return k
        }
    }

    private static func isASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let p = bytes.baseAddress else { return true }
        let n = bytes.count
        var i = 0
        var acc: UInt64 = 0
        while i + 32 <= n {
            let r = UnsafeRawPointer(p + i)
            acc |= r.loadUnaligned(fromByteOffset: 0, as: UInt64.self) | r.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
                 | r.loadUnaligned(fromByteOffset: 16, as: UInt64.self) | r.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
            i += 32
        }
        var tail: UInt8 = 0
        while i < n {
            tail |= p[i]
            i += 1
        }
        return (acc & 0x8080_8080_8080_8080) == 0 && tail < 0x80
    }

    /// UTF-8 validation (rejects overlongs, surrogates, > U+10FFFF) with an ASCII fast path.
    @inline(__always)
    static func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let p = bytes.baseAddress else { return true }
        let n = bytes.count
        var i = 0
        while i + 8 <= n {
            if UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self) & 0x8080_8080_8080_8080 != 0 {
                return validateNonASCII(bytes)
            }
            i += 8
        }
        while i < n {
            if p[i] >= 0x80 { return validateNonASCII(bytes) }
            i += 1
        }
        return true
    }

    private static func validateNonASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let p = bytes.baseAddress else { return true }
        let n = bytes.count
        var i = 0
        while i < n {
            while i + 8 <= n,
                  UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                i += 8
            }
            if i == n { break }
            let c = p[i]
            if c < 0x80 {
                i += 1
                continue
            }
            @inline(__always) func cont(_ k: Int) -> Bool { i + k < n && p[i + k] & 0xC0 == 0x80 }
            if c < 0xC2 {
                return false
            } else if c < 0xE0 {
                guard cont(1) else { return false }
                i += 2
            } else if c < 0xF0 {
                guard i + 1 < n else { return false }
                let c1 = p[i + 1]
                let lo: UInt8 = c == 0xE0 ? 0xA0 : 0x80
                let hi: UInt8 = c == 0xED ? 0x9F : 0xBF
                guard c1 >= lo, c1 <= hi, cont(2) else { return false }
                i += 3
            } else if c < 0xF5 {
                guard i + 1 < n else { return false }
                let c1 = p[i + 1]
                let lo: UInt8 = c == 0xF0 ? 0x90 : 0x80
                let hi: UInt8 = c == 0xF4 ? 0x8F : 0xBF
                guard c1 >= lo, c1 <= hi, cont(2), cont(3) else { return false }
                i += 4
            } else {
                return false
            }
        }
        return true
    }
}
