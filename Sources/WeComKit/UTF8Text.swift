/// UTF-8 bytes as a String; nil when they are not valid UTF-8.
///
/// `String(validating:as:)` is not specialized for the caller and looked up generic metadata
/// on every call: about a tenth of the webhook's decode cost (docs/PERFORMANCE.md). Decoding
/// repairs invalid input only by inserting U+FFFD (EF BF BD), so a result without any EF byte
/// came from valid input; only the rest is validated strictly.
func utf8Text<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String? {
    let decoded = String(decoding: bytes, as: UTF8.self)
    if !decoded.utf8.contains(0xEF) { return decoded }
    return String(validating: bytes, as: UTF8.self)
}
