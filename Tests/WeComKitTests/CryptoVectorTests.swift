import CohortCore
import CohortTesting
import Foundation
import Testing
import WeComKit

/// The published vectors of ../shared/platform/wecom-vectors.json, checked byte for byte.
struct CryptoVectorTests {
    struct VectorFile: Decodable {
        struct Params: Decodable {
            var token: String
            var corpid_receive_id: String
            var encoding_aes_key: String
        }

        var params: Params
        var official_sample_vectors: [Official]
        var deterministic_vectors: [Deterministic]
        var random_prefix_run: RandomRun
    }

    struct Official: Decodable {
        var name: String
        var inputs: [String: String]
        var outputs: [String: String]
    }

    struct Deterministic: Decodable {
        var name: String
        var inputs: [String: String]
        var outputs: [String: String]
    }

    struct RandomRun: Decodable {
        struct Side: Decodable {
            var Encrypt: String
            var msg_signature: String
        }

        var inputs: [String: String]
        var wechatpy_to_weworkapi: Side
        var weworkapi_to_wechatpy: Side
    }

    static let vectors: VectorFile = {
        let url = Bundle.module.url(forResource: "wecom-vectors", withExtension: "json", subdirectory: "Fixtures")!
        return try! JSONDecoder().decode(VectorFile.self, from: Data(contentsOf: url))
    }()

    let crypto: CallbackCrypto

    init() throws {
        let params = Self.vectors.params
        crypto = try CallbackCrypto(
            token: params.token, encodingAESKey: params.encoding_aes_key, receiveID: params.corpid_receive_id)
    }

    func vector(_ name: String) -> Deterministic {
        Self.vectors.deterministic_vectors.first { $0.name == name }!
    }

    @Test func officialURLVerificationVectorDecryptsToTheEchoReply() throws {
        let vector = Self.vectors.official_sample_vectors.first { $0.name == "official_sample_url_verification" }!
        let query = CallbackQuery(rawQuery: "msg_signature=\(vector.inputs["msg_signature"]!)&timestamp=\(vector.inputs["timestamp"]!)&nonce=\(vector.inputs["nonce"]!)&echostr=\(vector.inputs["echostr_as_sent_in_query(urlencoded)"]!)")
        #expect(query.echostr == vector.inputs["echostr"])
        let echo = try CallbackReceiver(crypto: crypto).verifyURL(query)
        #expect(echo == vector.outputs["reply_body_plaintext"])
        #expect(crypto.signature(timestamp: vector.inputs["timestamp"]!, nonce: vector.inputs["nonce"]!, encrypt: vector.inputs["echostr"]!)
            == vector.outputs["signature_recomputed"])
    }

    @Test func officialEncryptedPostVectorVerifiesAndDecrypts() throws {
        let vector = Self.vectors.official_sample_vectors.first { $0.name == "official_sample_encrypted_post" }!
        let query = CallbackQuery(
            msgSignature: vector.inputs["msg_signature"], timestamp: vector.inputs["timestamp"], nonce: vector.inputs["nonce"])
        let opened = try CallbackReceiver(crypto: crypto).open(query, body: Array(vector.inputs["post_body_xml"]!.utf8))
        #expect(opened.xml == vector.outputs["decrypted_xml"])
        #expect(opened.fields["MsgType"] == "text")
        #expect(opened.fields["Content"] == "hello")
        #expect(opened.fields["AgentID"] == "218")
        #expect(opened.event == .unhandled(reason: "MsgType text is not an event"))
    }

    @Test(arguments: ["add_external_contact_fixed_prefix", "add_external_contact_utf8_state"])
    func deterministicVectorEncryptsSignsAndDecryptsExactly(name: String) throws {
        let vector = vector(name)
        let xml = vector.inputs["plaintext_xml"]!
        let encrypt = crypto.encrypt(xml, random16: Array(vector.inputs["random16_ascii"]!.utf8))
        #expect(encrypt == vector.outputs["Encrypt"])
        let signature = crypto.signature(timestamp: vector.inputs["timestamp"]!, nonce: vector.inputs["nonce"]!, encrypt: encrypt)
        #expect(signature == vector.outputs["msg_signature"])
        #expect(try crypto.decrypt(vector.outputs["Encrypt"]!) == xml)
        let query = CallbackQuery(rawQuery: String(vector.outputs["post_url_query"]!.dropFirst()))
        let opened = try CallbackReceiver(crypto: crypto).open(query, body: Array(vector.outputs["post_body_xml"]!.utf8))
        #expect(opened.xml == xml)
        guard case .externalContact(let change) = opened.event else {
            Issue.record("expected a contact event, got \(opened.event)")
            return
        }
        #expect(change.kind == .addExternalContact)
    }

    @Test func utf8VectorNeedsPaddingToThirtyTwoBytes() throws {
        // Pad byte 25 is more than a 16-byte block unpadder accepts; the scheme's 32-byte one must.
        let vector = vector("add_external_contact_utf8_state")
        let decrypted = try crypto.decrypt(vector.outputs["Encrypt"]!)
        #expect(decrypted.contains("春节活动-二维码"))
        #expect(Array(decrypted.utf8).count == 449)
    }

    @Test func echostrWithPlusVerifiesAfterOneDecodeOnly() throws {
        let vector = vector("deterministic_url_verification_echostr_with_plus")
        let raw = String(vector.outputs["get_query_string(properly percent-encoded)"]!.dropFirst())
        let query = CallbackQuery(rawQuery: raw)
        #expect(query.echostr == vector.outputs["echostr"])
        #expect(try CallbackReceiver(crypto: crypto).verifyURL(query) == vector.outputs["expected_http_response_body"])
        // A second, form-style decode turns + into space and must break the signature.
        var doubled = query
        doubled.echostr = query.echostr?.replacingOccurrences(of: "+", with: " ")
        #expect(throws: CallbackRejection.self) { try CallbackReceiver(crypto: crypto).verifyURL(doubled) }
    }

    @Test func paddingDemoVectorEncryptsExactly() {
        let vector = vector("padding_block_32_demo")
        #expect(crypto.encrypt("hello", random16: Array("0123456789abcdef".utf8)) == vector.outputs["Encrypt"])
    }

    @Test func randomPrefixCiphertextsOfOtherLibrariesDecrypt() throws {
        let run = Self.vectors.random_prefix_run
        for side in [run.wechatpy_to_weworkapi, run.weworkapi_to_wechatpy] {
            #expect(try crypto.decrypt(side.Encrypt) == run.inputs["plaintext_xml"])
            #expect(crypto.verify(msgSignature: side.msg_signature, timestamp: run.inputs["timestamp"]!, nonce: run.inputs["nonce"]!, encrypt: side.Encrypt))
        }
    }

    @Test func wrongReceiveIDIsRejected() throws {
        let other = try CallbackCrypto(token: "QDG6eK", encodingAESKey: Vectors.encodingAESKey, receiveID: "ww_other_corp")
        #expect(throws: CallbackCryptoError.receiveIDMismatch) {
            try other.decrypt(vector("add_external_contact_fixed_prefix").outputs["Encrypt"]!)
        }
    }

    @Test func badSignatureIsRejected() {
        let vector = vector("add_external_contact_fixed_prefix")
        let bad = String(vector.outputs["msg_signature"]!.dropLast()) + "0"
        #expect(!crypto.verify(msgSignature: bad, timestamp: vector.inputs["timestamp"]!, nonce: vector.inputs["nonce"]!, encrypt: vector.outputs["Encrypt"]!))
    }

    @Test func encodingAESKeyOfWrongShapeIsRefused() {
        #expect(throws: CallbackCryptoError.invalidAESKey) {
            try CallbackCrypto(token: "t", encodingAESKey: "short", receiveID: "c")
        }
        #expect(throws: CallbackCryptoError.invalidAESKey) {
            try CallbackCrypto(token: "t", encodingAESKey: String(repeating: "+", count: 43), receiveID: "c")
        }
    }
}
