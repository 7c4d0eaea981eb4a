import CohortCore
import Foundation
import WeComKit

/// Values of the platform spec's published crypto vectors, shared by the tests.
public enum Vectors {
    public static let token = "QDG6eK"
    public static let corpID = "wx5823bf96d3bd56c7"
    public static let encodingAESKey = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"

    public static func crypto() throws -> CallbackCrypto {
        try CallbackCrypto(token: token, encodingAESKey: encodingAESKey, receiveID: corpID)
    }

    /// The first `add_external_contact` example of spec section 7.1.
    public static let addExternalContactXML =
        "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA[add_external_contact]]></ChangeType><UserID><![CDATA[zhangsan]]></UserID><ExternalUserID><![CDATA[wmAbCdEfGhIjKlMnOpQrStUvWxYz012345]]></ExternalUserID><State><![CDATA[qr_spring_2024]]></State><WelcomeCode><![CDATA[WELCOME_CODE_0001]]></WelcomeCode></xml>"
}

/// A signed, encrypted POST callback as the platform would send it.
public struct SignedCallback: Sendable {
    /// The query string without `?`, percent-encoded.
    public var query: String
    public var body: String

    public init(query: String, body: String) {
        self.query = query
        self.body = body
    }

    public var uri: String { "/wecom/callback?\(query)" }
}

/// Builds callbacks for tests: events, envelopes and signatures, correct or deliberately broken.
public struct CallbackFactory: Sendable {
    public let crypto: CallbackCrypto

    public init(crypto: CallbackCrypto) {
        self.crypto = crypto
    }

    public init() throws {
        self.crypto = try Vectors.crypto()
    }

    /// A contact event's XML with the fields in the given order.
    public static func contactEventXML(
        changeType: String = "add_external_contact", userID: String = "zhangsan",
        externalUserID: String = "wmAbCdEfGhIjKlMnOpQrStUvWxYz012345", createTime: Int = 1_700_000_000,
        extra: [CallbackField] = []
    ) -> String {
        CallbackXML.render(
            CallbackFields(
                [
                    CallbackField("ToUserName", Vectors.corpID), CallbackField("FromUserName", "sys"),
                    CallbackField("CreateTime", String(createTime)), CallbackField("MsgType", "event"),
                    CallbackField("Event", "change_external_contact"), CallbackField("ChangeType", changeType),
                    CallbackField("UserID", userID), CallbackField("ExternalUserID", externalUserID),
                ] + extra))
    }

    /// Encrypts `xml`, wraps it in an envelope and signs it.
    public func post(
        xml: String, timestamp: String = "1700000000", nonce: String = "1597212914", agentID: String? = "1000002"
    ) -> SignedCallback {
        sign(encrypt: crypto.encrypt(xml), timestamp: timestamp, nonce: nonce, agentID: agentID)
    }

    /// Wraps an already encrypted text and signs it.
    public func sign(encrypt: String, timestamp: String = "1700000000", nonce: String = "1597212914", agentID: String? = "1000002")
        -> SignedCallback
    {
        let signature = crypto.signature(timestamp: timestamp, nonce: nonce, encrypt: encrypt)
        let body = CallbackXML.envelope(toUserName: crypto.receiveID, agentID: agentID, encrypt: encrypt)
        return SignedCallback(query: "msg_signature=\(signature)&timestamp=\(timestamp)&nonce=\(nonce)", body: body)
    }

    /// Lays out and pads a plaintext by hand, so tests can break any part of it.
    public static func rawPlaintext(
        message: [UInt8], receiveID: [UInt8], lengthField: UInt32? = nil, padByte: UInt8? = nil
    ) -> [UInt8] {
        var plain = Array("0123456789abcdef".utf8)
        let length = lengthField ?? UInt32(message.count)
        plain += [UInt8(length >> 24), UInt8((length >> 16) & 0xFF), UInt8((length >> 8) & 0xFF), UInt8(length & 0xFF)]
        plain += message + receiveID
        let pad = 32 - plain.count % 32
        plain += [UInt8](repeating: padByte ?? UInt8(pad), count: pad)
        return plain
    }
}
