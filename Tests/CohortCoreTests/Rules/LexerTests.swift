import CohortCore
import Testing

@Suite("Lexer")
struct LexerTests {
    @Test("durations are whole numbers with a unit and evaluate to seconds", arguments: [
        ("10s", 10.0), ("45m", 2_700), ("12h", 43_200), ("30d", 2_592_000), ("2w", 1_209_600),
    ])
    func durationLiterals(source: String, seconds: Double) throws {
        #expect(try evaluate(source) == .duration(seconds))
    }

    @Test("numbers with and without a fraction")
    func numberLiterals() throws {
        #expect(try evaluate("12") == .number(12))
        #expect(try evaluate("12.5") == .number(12.5))
        #expect(try evaluate("0.25") == .number(0.25))
    }

    @Test("a fractional duration is rejected with a smaller-unit hint")
    func fractionalDuration() throws {
        #expect(try expressionDiagnostic("1.5d") == "1:1: a duration must be a whole number of units; use a smaller unit, e.g. 36h instead of 1.5d")
    }

    @Test("a word after a number suggests the one-letter unit", arguments: [
        ("30days", "1:1: invalid number '30days'; write 30d"),
        ("30D", "1:1: invalid number '30D'; write 30d"),
        ("2weeks", "1:1: invalid number '2weeks'; write 2w"),
        ("3x", "1:1: invalid number '3x'; a duration is a whole number followed by one of s, m, h, d, w (e.g. 30d)"),
    ])
    func numberWithWord(source: String, expected: String) throws {
        #expect(try expressionDiagnostic(source) == expected)
    }

    @Test("strings keep Chinese text and both quote styles")
    func unicodeStrings() throws {
        #expect(try evaluate("\"免打扰\"") == .string("免打扰"))
        #expect(try evaluate("'高价值客户'") == .string("高价值客户"))
        #expect(try evaluate("'say \"hi\"'") == .string("say \"hi\""))
    }

    @Test("escapes: quotes, backslash, newline, tab, \\uXXXX and surrogate pairs")
    func escapes() throws {
        #expect(try evaluate(#""a\"b\\c\nd\te""#) == .string("a\"b\\c\nd\te"))
        #expect(try evaluate(#"'Can\'t Lose Them'"#) == .string("Can't Lose Them"))
        #expect(try evaluate(#""\u514D\u6253\u6270""#) == .string("免打扰"))
        #expect(try evaluate(#""\uD83D\uDE00""#) == .string("😀"))
    }

    @Test("an unknown escape is reported at the backslash")
    func unknownEscape() throws {
        #expect(try expressionDiagnostic(#""ab\qc""#) == #"1:4: unknown escape '\q'; supported escapes are \" \' \\ \n \t \uXXXX"#)
    }

    @Test("a short \\u escape is reported")
    func shortUnicodeEscape() throws {
        #expect(try expressionDiagnostic(#""\u51""#) == #"1:2: invalid unicode escape; write exactly four hex digits, e.g. \u514D"#)
    }

    @Test("an unterminated string is reported where it starts, even when the line ends first")
    func unterminatedString() throws {
        #expect(try diagnostic("rfm == \"Champions") == "1:8: unterminated string; close it with \" on the same line")
        #expect(try diagnostic("rfm == 'Champions\n and r > 1") == "1:8: unterminated string; close it with ' on the same line")
    }

    @Test("comments run to the end of the line and newlines are insignificant")
    func commentsAndNewlines() throws {
        var registry = RuleMetricRegistry()
        let rule = try compileRule("""
            orders(within: 90d) >= 5   # recent buyers
              and not has_tag("免打扰") # respect opt-outs
            # a whole-line comment
            """, registry: &registry)
        let facts = Fixture.facts(metrics: ["orders(within: 90d)": .number(6)], registry: registry)
        #expect(rule.evaluate(facts))
        var optedOut = facts
        optedOut.tags = ["免打扰"]
        #expect(!rule.evaluate(optedOut))
    }

    @Test("a bad character is reported with its line and column")
    func badCharacter() throws {
        #expect(try diagnostic("rfm == \"A\" @ r") == "1:12: unexpected character '@'")
    }

    @Test("columns count characters, not UTF-8 bytes")
    func columnsCountCharacters() throws {
        #expect(try diagnostic("rfm == \"免打扰\" @") == "1:14: unexpected character '@'")
    }

    @Test("operators from other languages get a hint", arguments: [
        ("r > 1 && f > 1", "1:7: unexpected character '&'; use 'and'"),
        ("r > 1 || f > 1", "1:7: unexpected character '|'; use 'or'"),
        ("r = 1", "1:3: unexpected character '='; use '==' to compare"),
        ("!is_vip", "1:1: unexpected character '!'; use 'not' to negate, or '!=' to compare"),
    ])
    func foreignOperators(source: String, expected: String) throws {
        #expect(try diagnostic(source) == expected)
    }

    @Test("full-width punctuation from Chinese input methods names the ASCII replacement")
    func fullWidthPunctuation() throws {
        #expect(try diagnostic("has_tag（\"VIP\")") == "1:8: unexpected character '（'; use the ASCII '(' instead")
        #expect(try diagnostic("has_tag(“VIP”)") == "1:9: unexpected character '“'; use the ASCII '\"' instead")
    }

    @Test("bare non-ASCII text suggests quoting it")
    func bareChineseText() throws {
        #expect(try diagnostic("not has_tag(免打扰)") == "1:13: unexpected character '免'; names are ASCII; put text in quotes: \"免打扰\"")
    }

    @Test("a bad character on a later line has that line's column")
    func badCharacterOnSecondLine() throws {
        #expect(try diagnostic("days_since_added > 30\n  && rfm == null") == "2:3: unexpected character '&'; use 'and'")
    }

    @Test("CRLF line endings count as one line break")
    func crlfLineEndings() throws {
        #expect(try diagnostic("days_since_added > 30\r\nand ordrs > 1") == "2:5: unknown field 'ordrs'; did you mean 'orders'?")
    }
}
