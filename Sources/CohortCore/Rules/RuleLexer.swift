enum RuleTokenKind: Equatable, Sendable {
    case number(Double)
    case duration(Double)
    case string(String)
    case identifier(String)
    case keywordAnd, keywordOr, keywordNot, keywordIn, keywordBetween, keywordTrue, keywordFalse, keywordNull
    case leftParen, rightParen, leftBracket, rightBracket, comma, colon
    case plus, minus, star, slash, percent
    case equal, notEqual, less, lessOrEqual, greater, greaterOrEqual
    case end

    /// How the token is named in "expected X, found Y" messages.
    var display: String {
        switch self {
        case .number(let x): "number \(RuleValue.format(number: x))"
        case .duration(let x): "duration \(RuleValue.format(duration: x))"
        case .string(let s): "string \(RuleValue.quote(s))"
        case .identifier(let name): "'\(name)'"
        case .keywordAnd: "'and'"
        case .keywordOr: "'or'"
        case .keywordNot: "'not'"
        case .keywordIn: "'in'"
        case .keywordBetween: "'between'"
        case .keywordTrue: "'true'"
        case .keywordFalse: "'false'"
        case .keywordNull: "'null'"
        case .leftParen: "'('"
        case .rightParen: "')'"
        case .leftBracket: "'['"
        case .rightBracket: "']'"
        case .comma: "','"
        case .colon: "':'"
        case .plus: "'+'"
        case .minus: "'-'"
        case .star: "'*'"
        case .slash: "'/'"
        case .percent: "'%'"
        case .equal: "'=='"
        case .notEqual: "'!='"
        case .less: "'<'"
        case .lessOrEqual: "'<='"
        case .greater: "'>'"
        case .greaterOrEqual: "'>='"
        case .end: "end of rule"
        }
    }
}

struct RuleToken: Sendable {
    var kind: RuleTokenKind
    /// Character offsets into the source, so sub-expression text can be sliced back out.
    var start: Int
    var end: Int
    var location: RuleSourceLocation
    /// Whether whitespace or a comment separates this token from the previous one.
    var spaceBefore: Bool
}

/// Splits rule source into tokens; stops at the first lexical error.
struct RuleLexer {
    static let keywords: [String: RuleTokenKind] = [
        "and": .keywordAnd, "or": .keywordOr, "not": .keywordNot, "in": .keywordIn,
        "between": .keywordBetween, "true": .keywordTrue, "false": .keywordFalse, "null": .keywordNull,
    ]

    /// Look-alike punctuation that Chinese input methods produce; naming the ASCII
    /// replacement saves users from staring at two characters that look the same.
    private static let fullWidth: [Character: String] = [
        "（": "(", "）": ")", "，": ",", "：": ":", "“": "\"", "”": "\"", "‘": "'", "’": "'",
        "【": "[", "】": "]", "［": "[", "］": "]", "＝": "=", "＞": ">", "＜": "<", "！": "!",
    ]

    private static let twoCharacter: [String: RuleTokenKind] = [
        "==": .equal, "!=": .notEqual, "<=": .lessOrEqual, ">=": .greaterOrEqual,
    ]

    private static let single: [Character: RuleTokenKind] = [
        "(": .leftParen, ")": .rightParen, "[": .leftBracket, "]": .rightBracket, ",": .comma, ":": .colon,
        "+": .plus, "-": .minus, "*": .star, "/": .slash, "%": .percent, "<": .less, ">": .greater,
    ]

    private static let durationUnits: [Character: Double] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800]

    static func isDigit(_ c: Character) -> Bool { c.isASCII && c.isWholeNumber }
    static func isIdentifierStart(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c == "_") }
    static func isIdentifierContinue(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c.isWholeNumber || c == "_") }

    static func isIdentifier(_ name: String) -> Bool {
        guard let first = name.first, isIdentifierStart(first) else { return false }
        return name.allSatisfy(isIdentifierContinue)
    }

    let chars: [Character]
    private var index = 0
    private var line = 1
    private var column = 1

    init(_ chars: [Character]) {
        self.chars = chars
    }

    private var location: RuleSourceLocation { RuleSourceLocation(line: line, column: column) }

    private func peek(_ offset: Int = 0) -> Character? {
        index + offset < chars.count ? chars[index + offset] : nil
    }

    private mutating func advance() {
        // "\r\n" is a single Character in Swift, so it counts as one newline.
        if chars[index].isNewline {
            line += 1
            column = 1
        } else {
            column += 1
        }
        index += 1
    }

    mutating func tokenize() throws(RuleDiagnostic) -> [RuleToken] {
        var tokens: [RuleToken] = []
        var spaceBefore = false
        while let c = peek() {
            if c.isWhitespace {
                advance()
                spaceBefore = true
                continue
            }
            if c == "#" {
                while let c = peek(), !c.isNewline { advance() }
                spaceBefore = true
                continue
            }
            let start = index, startLocation = location
            let kind = try lexToken(c, at: startLocation)
            tokens.append(RuleToken(kind: kind, start: start, end: index, location: startLocation, spaceBefore: spaceBefore))
            spaceBefore = false
        }
        tokens.append(RuleToken(kind: .end, start: index, end: index, location: location, spaceBefore: spaceBefore))
        return tokens
    }

    private mutating func lexToken(_ c: Character, at start: RuleSourceLocation) throws(RuleDiagnostic) -> RuleTokenKind {
        if Self.isDigit(c) { return try lexNumber(at: start) }
        if Self.isIdentifierStart(c) {
            var name = ""
            while let c = peek(), Self.isIdentifierContinue(c) {
                name.append(c)
                advance()
            }
            return Self.keywords[name] ?? .identifier(name)
        }
        if c == "\"" || c == "'" { return try lexString(quote: c, at: start) }

        let next = peek(1)
        if let next, let kind = Self.twoCharacter[String([c, next])] {
            advance()
            advance()
            return kind
        }
        if let kind = Self.single[c] {
            advance()
            return kind
        }
        throw badCharacter(c, at: start)
    }

    private func badCharacter(_ c: Character, at start: RuleSourceLocation) -> RuleDiagnostic {
        let message = "unexpected character '\(c)'"
        switch c {
        case "=": return RuleDiagnostic(location: start, message: message, suggestion: "use '==' to compare")
        case "!": return RuleDiagnostic(location: start, message: message, suggestion: "use 'not' to negate, or '!=' to compare")
        case "&": return RuleDiagnostic(location: start, message: message, suggestion: "use 'and'")
        case "|": return RuleDiagnostic(location: start, message: message, suggestion: "use 'or'")
        default: break
        }
        if let ascii = Self.fullWidth[c] {
            return RuleDiagnostic(location: start, message: message, suggestion: "use the ASCII '\(ascii)' instead")
        }
        if c.isLetter {
            // Bare non-ASCII text is almost always a tag or segment name missing its quotes.
            var word = ""
            var offset = 0
            while let c = peek(offset), c.isLetter || c.isNumber {
                word.append(c)
                offset += 1
            }
            return RuleDiagnostic(location: start, message: message,
                                  suggestion: "names are ASCII; put text in quotes: \(RuleValue.quote(word))")
        }
        return RuleDiagnostic(location: start, message: message)
    }

    private mutating func lexNumber(at start: RuleSourceLocation) throws(RuleDiagnostic) -> RuleTokenKind {
        var text = ""
        while let c = peek(), Self.isDigit(c) {
            text.append(c)
            advance()
        }
        var isInteger = true
        if peek() == "." {
            guard let next = peek(1), Self.isDigit(next) else {
                advance()
                throw RuleDiagnostic(location: location, message: "expected digits after '.' in number \(text).")
            }
            isInteger = false
            text.append(".")
            advance()
            while let c = peek(), Self.isDigit(c) {
                text.append(c)
                advance()
            }
        }
        let value = Double(text) ?? 0
        guard let c = peek(), Self.isIdentifierContinue(c) else { return .number(value) }

        var suffix = ""
        while let c = peek(), Self.isIdentifierContinue(c) {
            suffix.append(c)
            advance()
        }
        if suffix.count == 1, let unit = Self.durationUnits[suffix.first!] {
            guard isInteger else {
                throw RuleDiagnostic(location: start, message: "a duration must be a whole number of units",
                                     suggestion: "use a smaller unit, e.g. 36h instead of 1.5d")
            }
            return .duration(value * unit)
        }
        throw RuleDiagnostic(location: start, message: "invalid number '\(text)\(suffix)'",
                             suggestion: Self.durationHint(number: text, suffix: suffix))
    }

    private static func durationHint(number: String, suffix: String) -> String {
        let lower = suffix.lowercased()
        let unit: String? = switch lower {
        case "s", "sec", "secs", "second", "seconds": "s"
        case "m", "min", "mins", "minute", "minutes": "m"
        case "h", "hr", "hrs", "hour", "hours": "h"
        case "d", "day", "days": "d"
        case "w", "wk", "wks", "week", "weeks": "w"
        default: nil
        }
        if let unit { return "write \(number)\(unit)" }
        return "a duration is a whole number followed by one of s, m, h, d, w (e.g. 30d)"
    }

    private mutating func lexString(quote: Character, at start: RuleSourceLocation) throws(RuleDiagnostic) -> RuleTokenKind {
        advance()
        var value = ""
        let unterminated = RuleDiagnostic(location: start, message: "unterminated string",
                                          suggestion: "close it with \(quote) on the same line")
        while true {
            guard let c = peek(), !c.isNewline else { throw unterminated }
            if c == quote {
                advance()
                return .string(value)
            }
            guard c == "\\" else {
                value.append(c)
                advance()
                continue
            }
            let escapeLocation = location
            advance()
            guard let e = peek(), !e.isNewline else { throw unterminated }
            advance()
            switch e {
            case "\"", "'", "\\": value.append(e)
            case "n": value.append("\n")
            case "t": value.append("\t")
            case "u": value.unicodeScalars.append(try unicodeEscape(at: escapeLocation))
            default:
                throw RuleDiagnostic(location: escapeLocation, message: "unknown escape '\\\(e)'",
                                     suggestion: "supported escapes are \\\" \\' \\\\ \\n \\t \\uXXXX")
            }
        }
    }

    private mutating func hexQuad(at escapeLocation: RuleSourceLocation) throws(RuleDiagnostic) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let c = peek(), c.isASCII, let digit = c.hexDigitValue else {
                throw RuleDiagnostic(location: escapeLocation, message: "invalid unicode escape",
                                     suggestion: "write exactly four hex digits, e.g. \\u514D")
            }
            value = value * 16 + UInt32(digit)
            advance()
        }
        return value
    }

    private mutating func unicodeEscape(at escapeLocation: RuleSourceLocation) throws(RuleDiagnostic) -> Unicode.Scalar {
        let first = try hexQuad(at: escapeLocation)
        var code = first
        // Accept UTF-16 surrogate pairs (\uD83D\uDE00) since that is how JSON-minded users write emoji.
        if (0xD800...0xDBFF).contains(first), peek() == "\\", peek(1) == "u" {
            advance()
            advance()
            let second = try hexQuad(at: escapeLocation)
            guard (0xDC00...0xDFFF).contains(second) else {
                throw RuleDiagnostic(location: escapeLocation, message: "invalid unicode escape: unpaired surrogate")
            }
            code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
        }
        guard let scalar = Unicode.Scalar(code) else {
            throw RuleDiagnostic(location: escapeLocation, message: "invalid unicode escape: unpaired surrogate")
        }
        return scalar
    }
}
