import CohortConfig
import CohortCore
import CohortServer
import CohortStore
import CohortTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing
import WeComKit

/// In-process HTTP tests of `/wecom/callback`: every bad input of the foundation issue, and
/// duplicate delivery.
struct CallbackEndpointTests {
    static func settings() -> CohortSettings {
        var settings = CohortSettings()
        settings.platform.corpID = Vectors.corpID
        settings.secrets.callbackToken = Vectors.token
        settings.secrets.encodingAESKey = Vectors.encodingAESKey
        settings.inbox.pollIntervalMilliseconds = 20
        return settings
    }

    let database: CohortDatabase
    let inbox: SQLiteInboxRepository
    let factory: CallbackFactory

    init() throws {
        database = try CohortDatabase()
        inbox = SQLiteInboxRepository(database: database)
        factory = try CallbackFactory()
    }

    func withApp(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let app = try CohortApplication.build(
            AppDependencies(sqlite: database, settings: Self.settings()), logger: Logger(label: "test"))
        try await app.test(.router, body)
    }

    func post(_ client: any TestClientProtocol, _ callback: SignedCallback) async throws -> (HTTPResponse.Status, String) {
        try await client.execute(uri: callback.uri, method: .post, body: ByteBuffer(string: callback.body)) { response in
            (response.status, String(buffer: response.body))
        }
    }

    func expectStatus(
        _ expected: HTTPResponse.Status, _ client: any TestClientProtocol, _ callback: SignedCallback,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let status = try await post(client, callback).0
        #expect(status == expected, sourceLocation: sourceLocation)
    }

    func stored() async throws -> [InboxEvent] {
        try await inbox.list(status: nil, limit: 100)
    }

    @Test func urlVerificationAnswersExactlyThePlaintext() async throws {
        try await withApp { client in
            let uri = "/wecom/callback?msg_signature=66ee246bca5f04587861c209b1f671413d71a399&timestamp=1700000200&nonce=1372623149&echostr=gimQrtH1ACV014qB%2BOFBj7O8c4IjgWuj6Hi2j%2FaeXgn257Wr7VGK0oMgE1%2BNmzTVo9qtp0A2FI8MFxaNOvmsLg%3D%3D"
            try await client.execute(uri: uri, method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "6394823519285375410")
            }
        }
    }

    @Test func urlVerificationWithBadSignatureIs401() async throws {
        try await withApp { client in
            let uri = "/wecom/callback?msg_signature=0000000000000000000000000000000000000000&timestamp=1700000200&nonce=1372623149&echostr=gimQrtH1ACV014qB%2BOFBj7O8c4IjgWuj6Hi2j%2FaeXgn257Wr7VGK0oMgE1%2BNmzTVo9qtp0A2FI8MFxaNOvmsLg%3D%3D"
            try await client.execute(uri: uri, method: .get) { response in
                #expect(response.status == .unauthorized)
            }
        }
    }

    @Test func publishedVectorIsStoredAndAnsweredWithAnEmpty200() async throws {
        try await withApp { client in
            let uri = "/wecom/callback?msg_signature=5c55739567f072934937b73d615cf15904526f56&timestamp=1700000000&nonce=1597212914"
            let body = "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><AgentID><![CDATA[1000002]]></AgentID><Encrypt><![CDATA[\(Self.vectorEncrypt)]]></Encrypt></xml>"
            try await client.execute(uri: uri, method: .post, body: ByteBuffer(string: body)) { response in
                #expect(response.status == .ok)
                #expect(response.body.readableBytes == 0)
            }
        }
        let events = try await stored()
        #expect(events.count == 1)
        #expect(events.first?.rawXML == Vectors.addExternalContactXML)
        #expect(events.first?.status == .pending || events.first?.status == .processed)
        #expect(events.first?.externalUserID == "wmAbCdEfGhIjKlMnOpQrStUvWxYz012345")
    }

    @Test func retriedDeliveryIsStoredOnceWhetherIdenticalReencryptedReorderedOrWithoutCDATA() async throws {
        let reordered = "<xml><WelcomeCode>WELCOME_CODE_0001</WelcomeCode><State>qr_spring_2024</State><ExternalUserID>wmAbCdEfGhIjKlMnOpQrStUvWxYz012345</ExternalUserID><UserID>zhangsan</UserID><ChangeType>add_external_contact</ChangeType><Event>change_external_contact</Event><MsgType>event</MsgType><CreateTime>1700000000</CreateTime><FromUserName>sys</FromUserName><ToUserName>wx5823bf96d3bd56c7</ToUserName></xml>"
        try await withApp { client in
            let first = factory.post(xml: Vectors.addExternalContactXML)
            try await expectStatus(.ok, client, first)
            try await expectStatus(.ok, client, first)
            // The platform re-encrypts each retry: new random prefix, new timestamp and nonce.
            try await expectStatus(.ok, client, factory.post(xml: Vectors.addExternalContactXML, timestamp: "1700000005", nonce: "42"))
            try await expectStatus(.ok, client, factory.post(xml: reordered, timestamp: "1700000010", nonce: "43"))
        }
        let events = try await stored()
        #expect(events.count == 1)
        #expect(events.first?.duplicates == 3)
    }

    @Test func distinctEventsSharingACreateTimeSecondAreAllKept() async throws {
        try await withApp { client in
            for customer in ["wmA", "wmB", "wmC"] {
                let xml = CallbackFactory.contactEventXML(externalUserID: customer, createTime: 1_700_000_000)
                try await expectStatus(.ok, client, factory.post(xml: xml))
            }
            let chat = "<xml><ToUserName>wx5823bf96d3bd56c7</ToUserName><FromUserName>sys</FromUserName><CreateTime>1700000000</CreateTime><MsgType>event</MsgType><Event>change_external_chat</Event><ChatId>wr1</ChatId><ChangeType>update</ChangeType><UpdateDetail>add_member</UpdateDetail><MemChangeList><Item>wmA</Item></MemChangeList></xml>"
            let chat2 = chat.replacingOccurrences(of: "<Item>wmA</Item>", with: "<Item>wmB</Item>")
            try await expectStatus(.ok, client, factory.post(xml: chat))
            try await expectStatus(.ok, client, factory.post(xml: chat2))
        }
        #expect(try await stored().count == 5)
    }

    @Test func unknownEventsAndTextMessagesAreStoredUnhandledAndAnswered200() async throws {
        try await withApp { client in
            let unknown = "<xml><ToUserName>wx5823bf96d3bd56c7</ToUserName><FromUserName>sys</FromUserName><CreateTime>1700000000</CreateTime><MsgType>event</MsgType><Event>change_external_contact</Event><ChangeType>msg_audit_approved</ChangeType><UserID>u</UserID></xml>"
            try await expectStatus(.ok, client, factory.post(xml: unknown))
            let text = "<xml><ToUserName>wx5823bf96d3bd56c7</ToUserName><FromUserName>mycreate</FromUserName><CreateTime>1409659813</CreateTime><MsgType>text</MsgType><Content>hello</Content><MsgId>4561255354251345929</MsgId><AgentID>218</AgentID></xml>"
            try await expectStatus(.ok, client, factory.post(xml: text))
        }
        let events = try await stored()
        #expect(events.count == 2)
        #expect(events.allSatisfy { $0.status == .unhandled })
    }

    @Test func wrongOrMissingSignatureIs401AndStoresNothing() async throws {
        try await withApp { client in
            var callback = factory.post(xml: Vectors.addExternalContactXML)
            callback.query = callback.query.replacingOccurrences(of: "msg_signature=", with: "msg_signature=0")
            try await expectStatus(.unauthorized, client, callback)
            callback.query = "timestamp=1700000000&nonce=1"
            try await expectStatus(.unauthorized, client, callback)
            // Signed over one Encrypt text, delivering another.
            let signed = factory.post(xml: Vectors.addExternalContactXML)
            let other = factory.post(xml: CallbackFactory.contactEventXML(externalUserID: "wmOther"))
            try await expectStatus(.unauthorized, client, SignedCallback(query: signed.query, body: other.body))
        }
        #expect(try await stored().isEmpty)
    }

    @Test func undecryptablePayloadsAre400AndStoreNothing() async throws {
        let crypto = try Vectors.crypto()
        let message = Array(Vectors.addExternalContactXML.utf8)
        let corp = Array(Vectors.corpID.utf8)
        let payloads = [
            "bad base64 !!!",
            Data(repeating: 7, count: 40).base64EncodedString(),
            crypto.encryptBlocks(CallbackFactory.rawPlaintext(message: message, receiveID: corp, padByte: 0)),
            crypto.encryptBlocks(CallbackFactory.rawPlaintext(message: message, receiveID: corp, lengthField: 1_000_000)),
            crypto.encryptBlocks(CallbackFactory.rawPlaintext(message: message, receiveID: Array("wwSomeoneElse".utf8))),
            crypto.encrypt("<xml><Unclosed></xml>"),
            crypto.encrypt("plain words, not xml"),
        ]
        try await withApp { client in
            for payload in payloads {
                let status = try await post(client, factory.sign(encrypt: payload)).0
                #expect(status == .badRequest, "payload \(payload.prefix(20))")
            }
            let malformedEnvelope = SignedCallback(query: factory.post(xml: "<xml/>").query, body: "<xml><Encrypt>abc")
            try await expectStatus(.badRequest, client, malformedEnvelope)
            let noEncrypt = SignedCallback(query: factory.post(xml: "<xml/>").query, body: "<xml><ToUserName>x</ToUserName></xml>")
            try await expectStatus(.badRequest, client, noEncrypt)
        }
        #expect(try await stored().isEmpty)
    }

    @Test func bodyOver64KiBIs413() async throws {
        try await withApp { client in
            let callback = factory.post(xml: Vectors.addExternalContactXML)
            let huge = String(repeating: "a", count: 64 * 1024 + 1)
            try await client.execute(uri: callback.uri, method: .post, body: ByteBuffer(string: huge)) { response in
                #expect(response.status == .contentTooLarge)
            }
        }
        #expect(try await stored().isEmpty)
    }

    @Test func aDeclaredLengthOver64KiBIs413BeforeTheBodyIsRead() async throws {
        try await withApp { client in
            // No body sent: the test client would overwrite the header with the body's length.
            // Read, the empty body would be a 400; only the declared length makes it a 413.
            let callback = factory.post(xml: Vectors.addExternalContactXML)
            try await client.execute(uri: callback.uri, method: .post, headers: [.contentLength: "\(64 * 1024 + 1)"]) { response in
                #expect(response.status == .contentTooLarge)
            }
        }
        #expect(try await stored().isEmpty)
    }

    @Test(arguments: [HTTPRequest.Method.put, .delete, .patch, .options])
    func otherMethodsOnTheCallbackPathAre405(method: HTTPRequest.Method) async throws {
        try await withApp { client in
            try await client.execute(uri: "/wecom/callback", method: method) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "GET, POST")
            }
        }
    }

    @Test func healthAndReadinessAnswer() async throws {
        try await withApp { client in
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/readyz", method: .get) { #expect($0.status == .ok) }
        }
    }

    @Test func concurrentDeliveriesAreAllStoredInFewerCommits() async throws {
        let factory = self.factory
        try await withApp { client in
            try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for index in 0..<200 {
                    group.addTask {
                        let xml = CallbackFactory.contactEventXML(externalUserID: "wm\(index)")
                        let callback = factory.post(xml: xml)
                        return try await client.execute(uri: callback.uri, method: .post, body: ByteBuffer(string: callback.body)) { $0.status }
                    }
                }
                for try await status in group { #expect(status == .ok) }
            }
        }
        #expect(try await inbox.list(status: nil, limit: 1000).count == 200)
    }

    static let vectorEncrypt = "gUS1o0c0zf0GEYLgz9ph3JaTmE2FjEw4NFA0uno5pfUIx0keWnCoYOM/RCDMjHap/EBGwsBC7FjUBc17LqQLlck1u3Pdt+A3wdFBYzNsCcCUiKMURSpV2JMM+uvpRItPnbyNhgJ0HVhbt3VRYVCE1its8ZNaYHSSJ62O1rui1OKX5fvYA/Szdh4fKs/allI8ek95CCCMqdK4RqMh6i3RG8m0fmMIBdQoptHKZzIIJi1tceUCFrj1rh9U8URuz/3T7yi0V0RVhOCrPjKbg7WWihBvqBuKUOMPeKC8VDZb6KLIFRDcDB1DoGfuCL3JVZIMV+NXwct2WzPKVMqUMsAich7irlCTP6JMi+OMDqONFrfHy0nq5qMthTYRfz2vP+PdI3DsSbgGYctYCn/4f3WpqNB8F38vnE2imU6b6QIvCA+FtlKfFER+9FKho0FuZ5BKK7weR6tKnaF5+u8SOJZs136BSE6ZdCRA88GTHSC8ogSbcmvfFTUoLTOSqe2sqmP7TIBfms39PnMo2Y/i5RX8+CbCUczeGnS4Y01Fkkl2FY7Yzq1BEPJo5TgSYA8OFQjSmLLNNOEIbQIQBWAfmGoh38htLzAcNUxdyXVrVsXwmcT6yelVViIOPuL2Z3kG2YpcRLSgWVoSVnzaqRYtxLAPhIFhjeGDTpWB4+/m3icLOU4vMwtSsIp++de3/PsQLVXFttsq4Av7Fi/Kj6f/umZXfA=="
}
