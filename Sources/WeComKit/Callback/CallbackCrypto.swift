import Crypto
import Foundation
import CryptoExtras

/// WeCom's callback crypto ("WXBizMsgCrypt"): SHA1 signatures over the sorted
/// (token, timestamp, nonce, encrypt) strings and AES-256-CBC with PKCS#7 padding to 32 bytes,
/// plaintext `random16 ‖ msg_len (big-endian) ‖ msg ‖ receive id` (platform spec 6.4, 6.5).
public struct CallbackCrypto: Sendable {
    /// PKCS#7 block size of the scheme: 32, not AES's 16.
    public static let paddingBlock = 32

    private let token: String
    /// Raw key bytes: `SymmetricKey` is not `Sendable`, so a key is made per operation.
    private let keyBytes: [UInt8]
    private let iv: AES._CBC.IV
    /// The id every plaintext must end with: the corp id for a self-built app.
    public let receiveID: String

    /// - Parameters:
    ///   - token: the callback Token configured in the admin console.
    ///   - encodingAESKey: the 43-character EncodingAESKey.
    ///   - receiveID: the corp id (empty for the platform's personal-account callbacks).
    public init(token: String, encodingAESKey: String, receiveID: String) throws(CallbackCryptoError) {
        guard Self.isValidEncodingAESKey(encodingAESKey),
            let keyData = Data(base64Encoded: encodingAESKey + "="), keyData.count == 32
        else { throw .invalidAESKey }
        self.token = token
        self.keyBytes = [UInt8](keyData)
        do {
            self.iv = try AES._CBC.IV(ivBytes: keyData.prefix(16))
        } catch {
            throw .invalidAESKey
        }
        self.receiveID = receiveID
    }

    /// Whether a string has the shape the admin console gives an EncodingAESKey.
    public static func isValidEncodingAESKey(_ value: String) -> Bool {
        value.utf8.count == 43 && value.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
        }
    }

    /// The lowercase hex SHA1 of the four strings sorted bytewise and joined.
    public func signature(timestamp: String, nonce: String, encrypt: String) -> String {
        // Compared and hashed in place: copying the ~1 KB Encrypt text into an array for every
        // comparison was a visible share of a delivery's CPU (docs/PERFORMANCE.md).
        let parts = [token, timestamp, nonce, encrypt].sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        var hasher = Insecure.SHA1()
        for var part in parts {
            part.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        }
        return hex(hasher.finalize())
    }

    /// Checks `msgSignature` in time independent of where it differs.
    public func verify(msgSignature: String, timestamp: String, nonce: String, encrypt: String) -> Bool {
        let expected = Array(signature(timestamp: timestamp, nonce: nonce, encrypt: encrypt).utf8)
        let given = Array(msgSignature.lowercased().utf8)
        return constantTimeEquals(expected, given)
    }

    /// Decrypts an `Encrypt` text (or `echostr`) and checks the receive id.
    /// - Returns: the message (event XML, or the echo plaintext).
    public func decrypt(_ encrypt: String) throws(CallbackCryptoError) -> String {
        guard let cipher = Data(base64Encoded: encrypt) else { throw .invalidBase64 }
        guard !cipher.isEmpty, cipher.count % Self.paddingBlock == 0 else { throw .invalidCiphertextLength }
        let plain: Data
        do {
            plain = try AES._CBC.decrypt(cipher, using: SymmetricKey(data: keyBytes), iv: iv, noPadding: true)
        } catch {
            throw .decryptFailed
        }
        return try CallbackPlaintext.unpack([UInt8](plain), receiveID: receiveID)
    }

    /// Encrypts a message as the platform does. `random16` pins the random prefix (tests,
    /// vectors); by default it is 16 random alphanumerics.
    public func encrypt(_ message: String, random16: [UInt8]? = nil) -> String {
        var generator = SystemRandomNumberGenerator()
        let prefix = random16 ?? Self.randomPrefix(using: &generator)
        precondition(prefix.count == 16, "the random prefix is 16 bytes")
        let body = Array(message.utf8)
        var plain = prefix
        let length = UInt32(body.count)
        plain += [UInt8(length >> 24), UInt8((length >> 16) & 0xFF), UInt8((length >> 8) & 0xFF), UInt8(length & 0xFF)]
        plain += body
        plain += Array(receiveID.utf8)
        let pad = Self.paddingBlock - plain.count % Self.paddingBlock
        plain += [UInt8](repeating: UInt8(pad), count: pad)
        return encryptBlocks(plain)
    }

    /// Encrypts bytes that are already laid out and padded, exactly as given. For simulators and
    /// tests that must produce payloads a correct sender never would (bad padding, lengths, ids).
    /// - Precondition: `plaintext.count` is a positive multiple of 16.
    public func encryptBlocks(_ plaintext: [UInt8]) -> String {
        precondition(!plaintext.isEmpty && plaintext.count % 16 == 0, "AES-CBC without padding needs whole blocks")
        // Cannot fail: the key is 32 bytes, the IV 16 and the input block-aligned.
        let cipher = (try? AES._CBC.encrypt(plaintext, using: SymmetricKey(data: keyBytes), iv: iv, noPadding: true)) ?? Data()
        return cipher.base64EncodedString()
    }

    static func randomPrefix(using generator: inout some RandomNumberGenerator) -> [UInt8] {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)
        return (0..<16).map { _ in alphabet.randomElement(using: &generator)! }
    }
}

/// Compares two byte strings in time that depends on their lengths only.
public func constantTimeEquals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
    var difference = UInt8(lhs.count == rhs.count ? 0 : 1)
    let count = min(lhs.count, rhs.count)
    for index in 0..<count { difference |= lhs[index] ^ rhs[index] }
    return difference == 0
}
