import Foundation

/// Why a callback payload was refused by the crypto layer.
public struct CallbackCryptoError: Error, Hashable, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case invalidAESKey
        case invalidBase64
        case invalidCiphertextLength
        case decryptFailed
        case invalidPadding
        case invalidLengthField
        case receiveIDMismatch
        case invalidUTF8
    }

    public let code: Code

    public var description: String {
        switch code {
        case .invalidAESKey: return "EncodingAESKey must be 43 characters of [A-Za-z0-9]"
        case .invalidBase64: return "Encrypt is not valid base64"
        case .invalidCiphertextLength: return "ciphertext length is not a positive multiple of 32 bytes"
        case .decryptFailed: return "AES-CBC decryption failed"
        case .invalidPadding: return "PKCS#7 padding (block 32) is invalid"
        case .invalidLengthField: return "message length field exceeds the plaintext"
        case .receiveIDMismatch: return "receive id does not match the corp id"
        case .invalidUTF8: return "message is not valid UTF-8"
        }
    }

    public static let invalidAESKey = Self(code: .invalidAESKey)
    public static let invalidBase64 = Self(code: .invalidBase64)
    public static let invalidCiphertextLength = Self(code: .invalidCiphertextLength)
    public static let decryptFailed = Self(code: .decryptFailed)
    public static let invalidPadding = Self(code: .invalidPadding)
    public static let invalidLengthField = Self(code: .invalidLengthField)
    public static let receiveIDMismatch = Self(code: .receiveIDMismatch)
    public static let invalidUTF8 = Self(code: .invalidUTF8)
}

/// The decrypted callback plaintext: `random16 ‖ msg_len (big-endian) ‖ msg ‖ receive id`,
/// PKCS#7-padded to 32 bytes (platform spec 6.5). Kept apart from the cipher so that the
/// fuzzer (scripts/fuzz.sh) reaches it without a key.
public enum CallbackPlaintext {
    public static let paddingBlock = 32

    /// The message, after checking the padding, the length field and the receive id.
    public static func unpack(_ bytes: [UInt8], receiveID: String) throws(CallbackCryptoError) -> String {
        guard let pad = bytes.last, pad >= 1, Int(pad) <= paddingBlock, Int(pad) <= bytes.count,
            bytes.suffix(Int(pad)).allSatisfy({ $0 == pad })
        else { throw .invalidPadding }
        let content = bytes[..<(bytes.count - Int(pad))]
        guard content.count >= 20 else { throw .invalidLengthField }
        let base = content.startIndex
        let length = content[(base + 16)..<(base + 20)].reduce(0) { ($0 << 8) | Int($1) }
        guard length <= content.count - 20 else { throw .invalidLengthField }
        let messageStart = base + 20
        let messageEnd = messageStart + length
        guard let receive = utf8Text(content[messageEnd...]), receive == receiveID else {
            throw .receiveIDMismatch
        }
        guard let message = utf8Text(content[messageStart..<messageEnd]) else {
            throw .invalidUTF8
        }
        return message
    }
}
