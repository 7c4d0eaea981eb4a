import Foundation

/// UTF-8 bytes as a String; nil when they are not valid UTF-8.
///
/// `String(validating:as:)` is not specialized for the caller and looked up generic metadata
/// on every call: about a tenth of the webhook's decode cost (docs/PERFORMANCE.md). Decoding
/// repairs invalid input only by inserting U+FFFD (EF BF BD), so a result without any EF byte
/// came from valid input; only the rest is validated strictly. The EF search is one `memchr`
/// over the string's storage: iterating the UTF-8 view byte by byte cost as much as the parse.
func utf8Text<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String? {
    let decoded = String(decoding: bytes, as: UTF8.self)
    let mayBeRepaired =
        decoded.utf8.withContiguousStorageIfAvailable { storage in
            guard let base = storage.baseAddress, !storage.isEmpty else { return false }
            return memchr(base, 0xEF, storage.count) != nil
        } ?? true
    return mayBeRepaired ? String(validating: bytes, as: UTF8.self) : decoded
}
