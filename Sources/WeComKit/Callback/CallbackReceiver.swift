import CohortCore
import Crypto
import Foundation

/// The query parameters WeCom puts on a callback URL, percent-decoded exactly once.
public struct CallbackQuery: Sendable, Hashable {
    public var msgSignature: String?
    public var timestamp: String?
    public var nonce: String?
    public var echostr: String?

    public init(msgSignature: String?, timestamp: String?, nonce: String?, echostr: String? = nil) {
        self.msgSignature = msgSignature
        self.timestamp = timestamp
        self.nonce = nonce
        self.echostr = echostr
    }

    /// Parses a raw query string (without `?`). `+` is kept as `+`: WeCom percent-encodes it as
    /// `%2B`, and a form-style second decode would turn a literal `+` into a space and break the
    /// signature (platform spec 9.4).
    public init(rawQuery: String) {
        self.init(msgSignature: nil, timestamp: nil, nonce: nil)
        var rawQuery = rawQuery
        rawQuery.withUTF8 { bytes in
            var start = 0
            while start < bytes.count {
                var end = start
                while end < bytes.count, bytes[end] != UInt8(ascii: "&") { end += 1 }
                if end > start { take(UnsafeBufferPointer(rebasing: bytes[start..<end])) }
                start = end + 1
            }
        }
    }

    /// Sets the parameter of one `name=value` pair unless an earlier pair set it: the first
    /// occurrence wins. Only the four names Cohort reads are decoded at all.
    private mutating func take(_ pair: UnsafeBufferPointer<UInt8>) {
        let equals = pair.firstIndex(of: UInt8(ascii: "=")) ?? pair.count
        guard let name = Self.parameter(UnsafeBufferPointer(rebasing: pair[..<equals])) else { return }
        let value: String?
        if equals < pair.count {
            value = Self.percentDecoded(UnsafeBufferPointer(rebasing: pair[(equals + 1)...]))
        } else {
            value = ""
        }
        switch name {
        case .msgSignature: if msgSignature == nil { msgSignature = value }
        case .timestamp: if timestamp == nil { timestamp = value }
        case .nonce: if nonce == nil { nonce = value }
        case .echostr: if echostr == nil { echostr = value }
        }
    }

    private enum Parameter {
        case msgSignature, timestamp, nonce, echostr
    }

    private static let parameters: [(name: [UInt8], parameter: Parameter)] = [
        (Array("msg_signature".utf8), .msgSignature), (Array("timestamp".utf8), .timestamp),
        (Array("nonce".utf8), .nonce), (Array("echostr".utf8), .echostr),
    ]

    /// Which of the four parameters a raw (possibly percent-encoded) name is, if any.
    private static func parameter(_ raw: UnsafeBufferPointer<UInt8>) -> Parameter? {
        if raw.contains(UInt8(ascii: "%")) {
            guard let decoded = percentDecoded(raw) else { return nil }
            return parameters.first { $0.name.elementsEqual(decoded.utf8) }?.parameter
        }
        return parameters.first { $0.name.elementsEqual(raw) }?.parameter
    }
}

extension CallbackQuery {
    /// Decodes `%XX` escapes once; `nil` for a malformed escape or invalid UTF-8. Byte-level
    /// because Foundation's `removingPercentEncoding` was a tenth of the webhook's CPU.
    static func percentDecoded(_ raw: UnsafeBufferPointer<UInt8>) -> String? {
        // Most values (hex signatures, digits) have no escape: one copy, no byte loop.
        guard raw.contains(UInt8(ascii: "%")) else { return utf8Text(raw) }
        func hexValue(_ byte: UInt8) -> UInt8? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var index = 0
        while index < raw.count {
            let byte = raw[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < raw.count, let h = hexValue(raw[index + 1]), let l = hexValue(raw[index + 2]) else { return nil }
                out.append(h << 4 | l)
                index += 3
            } else {
                out.append(byte)
                index += 1
            }
        }
        return utf8Text(out)
    }
}

/// Why a callback request is refused, with the HTTP status class it maps to.
public enum CallbackRejection: Error, Hashable, Sendable {
    /// Missing or wrong signature: the sender is not WeCom (401).
    case unauthorized(String)
    /// Authentic-looking but unusable payload: bad base64, padding, length, receive id, XML (400).
    case badRequest(String)

    public var reason: String {
        switch self {
        case .unauthorized(let reason), .badRequest(let reason): return reason
        }
    }
}

/// A verified, decrypted and parsed POST callback.
public struct OpenedCallback: Sendable, Hashable {
    public var envelope: CallbackEnvelope
    /// The decrypted message XML.
    public var xml: String
    public var fields: CallbackFields
    /// Digest of the canonical fields; equal for every delivery of the same event.
    public var dedupKey: String

    public var event: CallbackEvent { CallbackEvent(fields) }
}

/// Verifies, decrypts and parses WeCom callbacks (platform spec section 6).
public struct CallbackReceiver: Sendable {
    public let crypto: CallbackCrypto

    public init(crypto: CallbackCrypto) {
        self.crypto = crypto
    }

    /// URL verification (GET): returns the echo plaintext to answer with.
    public func verifyURL(_ query: CallbackQuery) throws(CallbackRejection) -> String {
        guard let signature = query.msgSignature, let timestamp = query.timestamp, let nonce = query.nonce,
            let echostr = query.echostr
        else { throw .unauthorized("missing msg_signature, timestamp, nonce or echostr") }
        guard crypto.verify(msgSignature: signature, timestamp: timestamp, nonce: nonce, encrypt: echostr) else {
            throw .unauthorized("signature mismatch")
        }
        do {
            return try crypto.decrypt(echostr)
        } catch {
            throw .badRequest(error.description)
        }
    }

    /// Event delivery (POST): checks the signature over the Encrypt text, decrypts, parses.
    public func open(_ query: CallbackQuery, body: some Collection<UInt8>) throws(CallbackRejection) -> OpenedCallback {
        guard let signature = query.msgSignature, let timestamp = query.timestamp, let nonce = query.nonce else {
            throw .unauthorized("missing msg_signature, timestamp or nonce")
        }
        let envelope: CallbackEnvelope
        do {
            envelope = try CallbackXML.parseEnvelope(body)
        } catch {
            throw .badRequest("envelope: \(error.description)")
        }
        guard crypto.verify(msgSignature: signature, timestamp: timestamp, nonce: nonce, encrypt: envelope.encrypt)
        else { throw .unauthorized("signature mismatch") }
        let xml: String
        do {
            xml = try crypto.decrypt(envelope.encrypt)
        } catch {
            throw .badRequest(error.description)
        }
        let fields: CallbackFields
        do {
            fields = try CallbackXML.parseMessage(xml)
        } catch {
            throw .badRequest("message: \(error.description)")
        }
        return OpenedCallback(envelope: envelope, xml: xml, fields: fields, dedupKey: Self.dedupKey(fields))
    }

    /// SHA-256 (hex) of the fields' canonical form.
    public static func dedupKey(_ fields: CallbackFields) -> String {
        hex(SHA256.hash(data: fields.canonicalBytes))
    }
}

private let hexDigits = Array("0123456789abcdef".utf8)

/// Lowercase hex of a byte sequence.
func hex(_ bytes: some Sequence<UInt8>) -> String {
    var out: [UInt8] = []
    out.reserveCapacity(64)
    for byte in bytes {
        out.append(hexDigits[Int(byte >> 4)])
        out.append(hexDigits[Int(byte & 0x0F)])
    }
    return String(decoding: out, as: UTF8.self)
}
