// libFuzzer target: everything of a callback an attacker reaches, or reaches once the cipher is
// past: the envelope XML (before the signature check), the decrypted plaintext layout (padding,
// length field, receive id) and the event XML. Built by scripts/fuzz.sh, not by SwiftPM.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCallback(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    _ = try? CallbackXML.parseEnvelope(bytes)
    if let message = try? CallbackPlaintext.unpack(bytes, receiveID: "wx5823bf96d3bd56c7") {
        _ = try? CallbackXML.parseMessage(message)
    }
    _ = try? CallbackXML.parseMessage(String(decoding: bytes, as: UTF8.self))
    return 0
}
