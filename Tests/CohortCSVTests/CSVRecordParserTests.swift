import CohortCSV
import Foundation
import Testing

typealias Row = CSVRecordParser.Element

/// Parses `bytes` fed in the given chunk sizes (cycled), then finishes.
func parse(_ bytes: [UInt8], separator: UInt8 = UInt8(ascii: ","), chunks: [Int]? = nil) throws(CSVError) -> [Row] {
    var parser = CSVRecordParser(separator: separator)
    var out: [Row] = []
    if let chunks {
        var offset = 0, k = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + max(1, chunks[k % chunks.count]))
            out += parser.feed(bytes[offset..<end])
            offset = end
            k += 1
        }
    } else {
        out += parser.feed(bytes)
    }
    out += try parser.finish()
    return out
}

func parse(_ text: String, separator: UInt8 = UInt8(ascii: ",")) throws(CSVError) -> [Row] {
    try parse(Array(text.utf8), separator: separator)
}

func rec(_ line: Int, _ fields: String...) -> Row {
    .success(CSVRecord(fields: fields, line: line))
}

func rec(_ line: Int, _ fields: [String]) -> Row {
    .success(CSVRecord(fields: fields, line: line))
}

/// Physical line breaks (`\n`, `\r\n`, lone `\r`) in `bytes`.
func lineBreaks(_ bytes: [UInt8]) -> Int {
    var count = 0
    for (i, b) in bytes.enumerated() where b == 10 || b == 13 {
        if b == 10 && i > 0 && bytes[i - 1] == 13 { continue }
        count += 1
    }
    return count
}

@Suite struct BasicParsing {
    @Test func simpleRecords() throws {
        #expect(try parse("a,b,c\n1,2,3\n") == [rec(1, "a", "b", "c"), rec(2, "1", "2", "3")])
    }

    @Test func trailingNewlineOptional() throws {
        #expect(try parse("a,b\n1,2") == [rec(1, "a", "b"), rec(2, "1", "2")])
        var parser = CSVRecordParser()
        #expect(parser.feed(Array("x,y".utf8)).isEmpty)
        #expect(try parser.finish() == [rec(1, "x", "y")])
    }

    @Test func quotedCommasAndEscapedQuotes() throws {
        let input = #"name,quote"# + "\n" + #""Smith, John","He said ""hi""""# + "\n" + #""""""# + "\n"
        #expect(try parse(input) == [
            rec(1, "name", "quote"),
            rec(2, "Smith, John", #"He said "hi""#),
            rec(3, "\""),
        ])
    }

    @Test func emptyFieldsAndTrailingSeparator() throws {
        #expect(try parse(",,\na,,b\nx,\n\"\",\"\"\ny,") == [
            rec(1, "", "", ""),
            rec(2, "a", "", "b"),
            rec(3, "x", ""),
            rec(4, "", ""),
            rec(5, "y", ""),
        ])
    }

    @Test func emptyLinesSkipped() throws {
        #expect(try parse("\n\na\n\r\n\nb\n\n") == [rec(3, "a"), rec(6, "b")])
        #expect(try parse("") == [])
        #expect(try parse("\n\r\n") == [])
    }

    @Test func crlfAndLoneCR() throws {
        #expect(try parse("a,b\r\nc,d\r\n\r\ne\r\n") == [rec(1, "a", "b"), rec(2, "c", "d"), rec(4, "e")])
        #expect(try parse("a\rb\r\rc") == [rec(1, "a"), rec(2, "b"), rec(4, "c")])
        #expect(try parse("\"a\",\"b\"\r\n\"c\"\r\n") == [rec(1, "a", "b"), rec(2, "c")])
    }

    @Test func byteOrderMarkStripped() throws {
        #expect(try parse([0xEF, 0xBB, 0xBF] + Array("id,name\n1,x\n".utf8)) == [rec(1, "id", "name"), rec(2, "1", "x")])
        // BOM only at the very start; a lone BOM yields nothing.
        #expect(try parse([0xEF, 0xBB, 0xBF]) == [])
        #expect(try parse([0xEF, 0xBB, 0xBF] + Array("\"q\"".utf8)) == [rec(1, "q")])
    }

    @Test func customSeparators() throws {
        #expect(try parse("a;b,c;\"d;e\"\n", separator: UInt8(ascii: ";")) == [rec(1, "a", "b,c", "d;e")])
        #expect(try parse("a\tb c\t\n", separator: UInt8(ascii: "\t")) == [rec(1, "a", "b c", "")])
    }

    @Test func chineseText() throws {
        let input = "姓名,城市,备注\n张伟,北京,\"你好，世界\"\n李娜,上海,\"多行\n文本\"\n王芳,广州,😀\n"
        #expect(try parse(input) == [
            rec(1, "姓名", "城市", "备注"),
            rec(2, "张伟", "北京", "你好，世界"),
            rec(3, "李娜", "上海", "多行\n文本"),
            rec(5, "王芳", "广州", "😀"),
        ])
    }

    @Test func spacesArePreserved() throws {
        #expect(try parse(" a , b \n") == [rec(1, " a ", " b ")])
    }
}

@Suite struct LineNumbers {
    @Test func multiLineQuotedFields() throws {
        let input = "id,text\n1,\"line one\nline two\nline three\"\n2,plain\n3,\"x\r\ny\"\r\n4,\"\"\"\n\"\"\"\n5,end\n"
        #expect(try parse(input) == [
            rec(1, "id", "text"),
            rec(2, "1", "line one\nline two\nline three"),
            rec(5, "2", "plain"),
            rec(6, "3", "x\r\ny"),
            rec(8, "4", "\"\n\""),
            rec(10, "5", "end"),
        ])
    }

    @Test func errorLinesInsideMultiLineRecords() throws {
        // The stray quote is on physical line 3, inside a record starting on line 2.
        let input = "h\n\"a\nb\",c\"d\nnext\n"
        #expect(try parse(input) == [
            rec(1, "h"),
            .failure(.quoteInUnquotedField(line: 3, field: 2)),
            rec(4, "next"),
        ])
    }
}

@Suite struct Errors {
    @Test func unterminatedQuoteAtEOF() throws {
        var parser = CSVRecordParser()
        let rows = parser.feed(Array("a,b\n1,\"open\nmore\n".utf8))
        #expect(rows == [rec(1, "a", "b")])
        #expect(throws: CSVError.unterminatedQuote(line: 2)) { try parser.finish() }
        // The parser is reset after finish and can be reused.
        #expect(parser.feed(Array("x\n".utf8)) == [rec(1, "x")])
    }

    @Test func strayQuoteIsPerRecordError() throws {
        #expect(try parse("a,b\n1,ab\"c\n2,ok\n3,x\"\n4,\"fine\"\n") == [
            rec(1, "a", "b"),
            .failure(.quoteInUnquotedField(line: 2, field: 2)),
            rec(3, "2", "ok"),
            .failure(.quoteInUnquotedField(line: 4, field: 2)),
            rec(5, "4", "fine"),
        ])
    }

    @Test func charactersAfterClosingQuote() throws {
        #expect(try parse("\"ab\"c,d\nok,1\nx,\"y\" \n\"z\"") == [
            .failure(.characterAfterClosingQuote(line: 1, field: 1)),
            rec(2, "ok", "1"),
            .failure(.characterAfterClosingQuote(line: 3, field: 2)),
            rec(4, "z"),
        ])
    }

    @Test func invalidUTF8IsPerRecordError() throws {
        let bytes: [UInt8] = Array("a,b\n".utf8) + [0x41, 0x2C, 0xFF, 0x0A] + Array("c,\"".utf8) + [0xE4, 0xBD] + Array("\"\nd,é\n".utf8)
        #expect(try parse(bytes) == [
            rec(1, "a", "b"),
            .failure(.invalidUTF8(line: 2, field: 2)),
            .failure(.invalidUTF8(line: 3, field: 2)),
            rec(4, "d", "é"),
        ])
        // Overlong encoding and UTF-16 surrogate are rejected.
        #expect(try parse([0xC0, 0xAF, 0x0A]) == [.failure(.invalidUTF8(line: 1, field: 1))])
        #expect(try parse([0xED, 0xA0, 0x80, 0x0A]) == [.failure(.invalidUTF8(line: 1, field: 1))])
    }

    @Test func onlyFirstErrorOfRecordReported() throws {
        #expect(try parse("a\"b,\"c\"d\n") == [.failure(.quoteInUnquotedField(line: 1, field: 1))])
    }

    @Test func descriptions() {
        #expect(CSVError.quoteInUnquotedField(line: 17, field: 3).description
                == "line 17: field 3 contains a quote but is not quoted")
        #expect(CSVError.unterminatedQuote(line: 4).description == "line 4: quoted field is never closed")
        #expect(CSVError.invalidUTF8(line: 2, field: 1).line == 2)
        #expect(CSVError.io(path: "/x", message: "No such file or directory").line == nil)
        #expect(CSVError.unterminatedQuote(line: 1).isFatal)
        #expect(!CSVError.characterAfterClosingQuote(line: 1, field: 1).isFatal)
    }
}

@Suite struct ChunkBoundaries {
    static let sample: [UInt8] = [0xEF, 0xBB, 0xBF] + Array((
        "id,name,comment\r\n"
        + "1,\"Smith, John\",\"He said \"\"hi\"\"\"\r\n"
        + "\n"
        + "2,张伟,\"多行\r\n文本，\"\"引号\"\"\n第三行\"\n"
        + "3,bad\"quote,x\n"
        + "4,\"ab\"c,y\n"
        + "5,,\n"
        + "6,😀🇩🇪,\"\"\r"
        + "7,\"\",\"\"\"\"\n"
        + "8,last,\"no newline\""
    ).utf8)

    static let expected: [Row] = [
        rec(1, "id", "name", "comment"),
        rec(2, "1", "Smith, John", #"He said "hi""#),
        rec(4, "2", "张伟", "多行\r\n文本，\"引号\"\n第三行"),
        .failure(.quoteInUnquotedField(line: 7, field: 2)),
        .failure(.characterAfterClosingQuote(line: 8, field: 2)),
        rec(9, "5", "", ""),
        rec(10, "6", "😀🇩🇪", ""),
        rec(11, "7", "", "\""),
        rec(12, "8", "last", "no newline"),
    ]

    @Test func wholeInput() throws {
        #expect(try parse(Self.sample) == Self.expected)
    }

    @Test func byteByByte() throws {
        #expect(try parse(Self.sample, chunks: [1]) == Self.expected)
    }

    @Test func everySplitPoint() throws {
        for split in 0...Self.sample.count {
            #expect(try parse(Self.sample, chunks: [split == 0 ? Self.sample.count : split, Self.sample.count]) == Self.expected,
                    "split at \(split)")
        }
    }

    @Test func randomChunkSizes() throws {
        var rng = SplitMix64(seed: 42)
        for _ in 0..<300 {
            let sizes = (0..<8).map { _ in Int(rng.next() % 13) + 1 }
            #expect(try parse(Self.sample, chunks: sizes) == Self.expected, "chunks \(sizes)")
        }
    }

    @Test func randomChunksOfLargerGeneratedInput() throws {
        var rng = SplitMix64(seed: 7)
        let alphabet = Array("ab,\"\n\r中é ;".utf8)
        for _ in 0..<40 {
            let bytes = (0..<600).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            let whole = Result { () throws(CSVError) in try parse(bytes) }
            let sizes = (0..<5).map { _ in Int(rng.next() % 70) + 1 }
            let chunked = Result { () throws(CSVError) in try parse(bytes, chunks: sizes) }
            let bytewise = Result { () throws(CSVError) in try parse(bytes, chunks: [1]) }
            #expect(whole == chunked)
            #expect(whole == bytewise)
        }
    }

    /// Random well-formed CSV with an independently computed expectation (fields and start
    /// lines), parsed whole, byte by byte and in random chunks.
    @Test func randomWellFormedInputAgainstOracle() throws {
        var rng = SplitMix64(seed: 2024)
        let pieces = ["a", "7", "-1.5", " ", "中文", "é", "😀", ",", "\"", "\n", "\r\n", "\r", ";"]
        for _ in 0..<60 {
            var bytes: [UInt8] = []
            var expected: [Row] = []
            var line = 1
            for _ in 0..<Int(rng.next() % 30) + 1 {
                if rng.next() % 5 == 0 {  // empty line
                    bytes += Array("\n".utf8)
                    line += 1
                }
                var fields: [String] = []
                var encoded: [UInt8] = []
                let fieldCount = Int(rng.next() % 5) + 1
                for f in 0..<fieldCount {
                    var value = ""
                    for _ in 0..<Int(rng.next() % 5) { value += pieces[Int(rng.next() % UInt64(pieces.count))] }
                    let special = value.utf8.contains { [UInt8(ascii: ","), UInt8(ascii: "\""), 10, 13].contains($0) }
                    let mustQuote = special || (fieldCount == 1 && value.isEmpty)
                    if f > 0 { encoded.append(UInt8(ascii: ",")) }
                    if mustQuote || rng.next() % 4 == 0 {
                        encoded += Array(("\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\"").utf8)
                    } else {
                        encoded += Array(value.utf8)
                    }
                    fields.append(value)
                }
                expected.append(rec(line, fields))
                line += lineBreaks(encoded) + 1
                bytes += encoded + Array((rng.next() % 2 == 0 ? "\n" : "\r\n").utf8)
            }
            if rng.next() % 2 == 0 { bytes.removeLast(bytes.last == 10 && bytes.dropLast().last == 13 ? 2 : 1) }
            #expect(try parse(bytes) == expected)
            #expect(try parse(bytes, chunks: [1]) == expected)
            let sizes = (0..<6).map { _ in Int(rng.next() % 40) + 1 }
            #expect(try parse(bytes, chunks: sizes) == expected)
        }
    }

    @Test func longFieldsSpanningChunks() throws {
        let long = String(repeating: "long text, \"quoted\" 中文 ", count: 20)
        let escaped = "\"" + long.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        let input = Array("a,\(escaped),\(String(repeating: "x", count: 300))\nb\n".utf8)
        let expected = [rec(1, "a", long, String(repeating: "x", count: 300)), rec(2, "b")]
        for sizes in [[1], [7], [64], [3, 50, 11], [input.count]] {
            #expect(try parse(input, chunks: sizes) == expected, "chunks \(sizes)")
        }
    }

    @Test func invalidUTF8InFieldSpanningIntoASCIIChunk() throws {
        // The invalid byte arrives in one chunk; the rest of the field in a pure ASCII chunk.
        let input: [UInt8] = Array("a,xy".utf8) + [0xFF] + Array("zzzzzzzzzzzz\nb\n".utf8)
        for split in 1..<input.count {
            #expect(try parse(input, chunks: [split, input.count]) == [.failure(.invalidUTF8(line: 1, field: 2)), rec(2, "b")],
                    "split at \(split)")
        }
    }

    @Test func unterminatedQuoteAcrossChunks() {
        #expect(throws: CSVError.unterminatedQuote(line: 2)) {
            try parse(Array("a\n\"b\nc,d\n".utf8), chunks: [3, 1, 2])
        }
    }

    @Test func genericSequenceFeed() throws {
        var parser = CSVRecordParser()
        let rows = parser.feed("a,b\n".utf8) + parser.feed(Data("c,d\n".utf8)) + parser.feed(AnySequence(Array("e\n".utf8)))
        #expect(rows == [rec(1, "a", "b"), rec(2, "c", "d"), rec(3, "e")])
    }
}

/// Deterministic PRNG for reproducible chunkings.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
