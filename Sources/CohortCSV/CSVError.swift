/// Errors produced while reading CSV.
///
/// Two kinds exist:
/// - **Per-record** errors (`invalidUTF8`, `quoteInUnquotedField`, `characterAfterClosingQuote`)
///   are delivered as `.failure` elements in the result arrays returned by
///   `CSVRecordParser.feed(_:)` and `CSVFileReader.next()`; only the offending record is dropped
///   and parsing continues with the next record.
/// - **Fatal** errors (`unterminatedQuote`, `io`) are thrown and end the stream.
///
/// `line` is always a 1-based physical line number in the input (lines inside quoted
/// multi-line fields are counted); `field` is the 1-based field index within the record.
public enum CSVError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Fatal: the quoted field opened on `line` is still open at end of input.
    case unterminatedQuote(line: Int)
    /// Per-record: field `field`, which starts on `line`, is not valid UTF-8.
    case invalidUTF8(line: Int, field: Int)
    /// Per-record: a `"` appears inside the unquoted field `field` on `line`.
    case quoteInUnquotedField(line: Int, field: Int)
    /// Per-record: something other than a separator or line end follows the closing quote
    /// of field `field` on `line` (e.g. `"ab"c`).
    case characterAfterClosingQuote(line: Int, field: Int)
    /// Fatal: the file could not be opened or read.
    case io(path: String, message: String)

    /// The physical line the error refers to, if any.
    public var line: Int? {
        switch self {
        case .unterminatedQuote(let line),
             .invalidUTF8(let line, _),
             .quoteInUnquotedField(let line, _),
             .characterAfterClosingQuote(let line, _):
            return line
        case .io:
            return nil
        }
    }

    /// `true` for errors that end the stream (thrown), `false` for per-record errors.
    public var isFatal: Bool {
        switch self {
        case .unterminatedQuote, .io: return true
        case .invalidUTF8, .quoteInUnquotedField, .characterAfterClosingQuote: return false
        }
    }

    public var description: String {
        switch self {
        case .unterminatedQuote(let line):
            return "line \(line): quoted field is never closed"
        case .invalidUTF8(let line, let field):
            return "line \(line): field \(field) is not valid UTF-8"
        case .quoteInUnquotedField(let line, let field):
            return "line \(line): field \(field) contains a quote but is not quoted"
        case .characterAfterClosingQuote(let line, let field):
            return "line \(line): field \(field) has characters after its closing quote"
        case .io(let path, let message):
            return "\(path): \(message)"
        }
    }
}
