import CohortCore
import CohortTesting
import Foundation
import Testing
import WeComKit

/// Random messages survive encrypt → sign → verify → decrypt, and any single changed byte of the
/// Encrypt text, timestamp, nonce or signature is rejected (CBC alone would not notice every change).
struct CryptoPropertyTests {
    static let alphabet: [String] = ["a", "Z", "0", " ", "<", "&", "客", "户", "联", "系", "é", "😀", "\u{10FFFD}", "]]>"]

    /// A random XML message whose UTF-8 length gives exactly `pad` bytes of padding.
    static func message(pad: Int, using random: inout SeededRandom) -> String {
        var text = "<xml><State><![CDATA["
        for _ in 0..<Int.random(in: 0...40, using: &random) { text += alphabet.randomElement(using: &random)! }
        text += "]]></State><Note>"
        // Fill with one-byte characters until the plaintext length gives the wanted pad.
        let fixed = 16 + 4 + Vectors.corpID.utf8.count + "</Note></xml>".utf8.count
        while (32 - (fixed + text.utf8.count) % 32) != pad { text += "x" }
        return text + "</Note></xml>"
    }

    @Test(arguments: 1...32)
    func randomMessageRoundTripsWithEveryPadLength(pad: Int) throws {
        let crypto = try Vectors.crypto()
        var random = SeededRandom(seed: UInt64(pad))
        for _ in 0..<8 {
            let xml = Self.message(pad: pad, using: &random)
            let encrypt = crypto.encrypt(xml)
            let cipher = Data(base64Encoded: encrypt)!
            #expect(cipher.count % 32 == 0)
            let timestamp = String(Int.random(in: 1_600_000_000...1_900_000_000, using: &random))
            let nonce = String(UInt32.random(in: 0...UInt32.max, using: &random))
            let signature = crypto.signature(timestamp: timestamp, nonce: nonce, encrypt: encrypt)
            #expect(crypto.verify(msgSignature: signature, timestamp: timestamp, nonce: nonce, encrypt: encrypt))
            #expect(try crypto.decrypt(encrypt) == xml)
        }
    }

    @Test func anyFlippedByteOfAnySignedInputIsRejected() throws {
        let crypto = try Vectors.crypto()
        let factory = CallbackFactory(crypto: crypto)
        let receiver = CallbackReceiver(crypto: crypto)
        var random = SeededRandom(seed: 42)
        let xml = CallbackFactory.contactEventXML()
        let encrypt = crypto.encrypt(xml)
        let timestamp = "1700000000"
        let nonce = "1597212914"
        let signature = crypto.signature(timestamp: timestamp, nonce: nonce, encrypt: encrypt)
        _ = factory

        func opens(_ signature: String, _ timestamp: String, _ nonce: String, _ encrypt: String) -> Bool {
            let body = Array(CallbackXML.envelope(toUserName: Vectors.corpID, agentID: nil, encrypt: encrypt).utf8)
            return (try? receiver.open(CallbackQuery(msgSignature: signature, timestamp: timestamp, nonce: nonce), body: body)) != nil
        }
        #expect(opens(signature, timestamp, nonce, encrypt))

        func flipped(_ text: String, at index: Int, using random: inout SeededRandom) -> String {
            var bytes = Array(text.utf8)
            let original = bytes[index]
            // Replace with another printable ASCII byte so the string stays text.
            var replacement = original
            while replacement == original { replacement = UInt8.random(in: 0x21...0x7E, using: &random) }
            bytes[index] = replacement
            return String(decoding: bytes, as: UTF8.self)
        }
        for index in 0..<encrypt.utf8.count {
            #expect(!opens(signature, timestamp, nonce, flipped(encrypt, at: index, using: &random)), "Encrypt byte \(index)")
        }
        for index in 0..<timestamp.utf8.count {
            #expect(!opens(signature, flipped(timestamp, at: index, using: &random), nonce, encrypt), "timestamp byte \(index)")
        }
        for index in 0..<nonce.utf8.count {
            #expect(!opens(signature, timestamp, flipped(nonce, at: index, using: &random), encrypt), "nonce byte \(index)")
        }
        for index in 0..<signature.utf8.count {
            var bytes = Array(signature.utf8)
            // Stay within hex so only the value changes, not the case.
            let hexDigits = Array("0123456789abcdef".utf8)
            var replacement = bytes[index]
            while replacement == bytes[index] { replacement = hexDigits.randomElement(using: &random)! }
            bytes[index] = replacement
            #expect(!opens(String(decoding: bytes, as: UTF8.self), timestamp, nonce, encrypt), "signature byte \(index)")
        }
    }

    @Test func decryptRejectsBrokenLayouts() throws {
        let crypto = try Vectors.crypto()
        let message = Array("<xml><A>1</A></xml>".utf8)
        let corp = Array(Vectors.corpID.utf8)
        let badPad = crypto.encryptBlocks(CallbackFactory.rawPlaintext(message: message, receiveID: corp, padByte: 0))
        #expect(throws: CallbackCryptoError.invalidPadding) { try crypto.decrypt(badPad) }
        let overPad = crypto.encryptBlocks(CallbackFactory.rawPlaintext(message: message, receiveID: corp, padByte: 33))
        #expect(throws: CallbackCryptoError.invalidPadding) { try crypto.decrypt(overPad) }
        let longLength = crypto.encryptBlocks(CallbackFactory.rawPlaintext(message: message, receiveID: corp, lengthField: 0xFFFF_FFFF))
        #expect(throws: CallbackCryptoError.invalidLengthField) { try crypto.decrypt(longLength) }
        let wrongID = crypto.encryptBlocks(CallbackFactory.rawPlaintext(message: message, receiveID: Array("wwOther".utf8)))
        #expect(throws: CallbackCryptoError.receiveIDMismatch) { try crypto.decrypt(wrongID) }
        #expect(throws: CallbackCryptoError.invalidBase64) { try crypto.decrypt("not base64!!") }
        #expect(throws: CallbackCryptoError.invalidCiphertextLength) { try crypto.decrypt(Data(repeating: 1, count: 48).base64EncodedString()) }
    }
}
