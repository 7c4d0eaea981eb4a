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

#if canImport(Glibc)
import Glibc
#endif

/// What anyone who can reach the webhook may send, against a live server on a real socket:
/// every forged or malformed request gets a 4xx, nothing from it is stored, and the server keeps
/// answering real callbacks.
@Suite(.serialized) struct MaliciousInputTests {
    let database: CohortDatabase
    let inbox: SQLiteInboxRepository
    let factory: CallbackFactory

    init() throws {
        database = try CohortDatabase()
        inbox = SQLiteInboxRepository(database: database)
        factory = try CallbackFactory()
    }

    func withLiveApp(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        var settings = CallbackEndpointTests.settings()
        settings.server.port = 0
        var dependencies = AppDependencies(sqlite: database, settings: settings)
        dependencies.runsInboxProcessor = false
        let app = try CohortApplication.build(dependencies, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        try await app.test(.live, body)
    }

    func status(_ client: any TestClientProtocol, uri: String, body: ByteBuffer?) async throws -> HTTPResponse.Status {
        try await client.execute(uri: uri, method: .post, body: body) { $0.status }
    }

    func stored() async throws -> Int {
        try await inbox.list(status: nil, limit: 10_000).count
    }

    /// A real callback, to show the server still works after the attack.
    func realCallback(_ client: any TestClientProtocol, id: String) async throws -> HTTPResponse.Status {
        let callback = factory.post(xml: CallbackFactory.contactEventXML(externalUserID: "wm" + id))
        return try await status(client, uri: callback.uri, body: ByteBuffer(string: callback.body))
    }

    @Test func deeplyNestedInvalidAndTruncatedBodiesAre4xxAndStoreNothing() async throws {
        try await withLiveApp { client in
            let valid = factory.post(xml: CallbackFactory.contactEventXML())
            let nested = String(repeating: "<a>", count: 20_000) + String(repeating: "</a>", count: 1_000)
            var invalidUTF8 = ByteBuffer(string: "<xml><Encrypt><![CDATA[")
            invalidUTF8.writeBytes([0xC3, 0x28, 0xFF, 0xFE, 0xED, 0xA0, 0x80])
            invalidUTF8.writeString("]]></Encrypt></xml>")
            let cases: [(String, ByteBuffer)] = [
                ("nested 20,000 deep", ByteBuffer(string: nested)),
                ("invalid UTF-8", invalidUTF8),
                ("truncated envelope", ByteBuffer(string: String(valid.body.prefix(valid.body.count / 2)))),
                ("empty", ByteBuffer()),
                ("not XML", ByteBuffer(string: "{\"json\": true}")),
                ("a DOCTYPE with entities", ByteBuffer(string: "<!DOCTYPE x [<!ENTITY a \"aaaa\">]><xml><Encrypt>&a;</Encrypt></xml>")),
            ]
            for (name, body) in cases {
                let answer = try await status(client, uri: valid.uri, body: body)
                #expect((400..<500).contains(answer.code), "\(name): \(answer.code)")
            }
            let huge = ByteBuffer(string: "<xml><Encrypt>" + String(repeating: "A", count: 2 << 20) + "</Encrypt></xml>")
            #expect(try await status(client, uri: valid.uri, body: huge) == .contentTooLarge)
            #expect(try await stored() == 0)
            #expect(try await realCallback(client, id: "after") == .ok)
            #expect(try await stored() == 1)
        }
    }

    @Test func aReplayedAuthenticDeliveryIsAnswered200AndStoredOnce() async throws {
        try await withLiveApp { client in
            let callback = factory.post(xml: CallbackFactory.contactEventXML(), timestamp: "1700000000")
            for _ in 0..<5 {
                #expect(try await status(client, uri: callback.uri, body: ByteBuffer(string: callback.body)) == .ok)
            }
            let events = try await inbox.list(status: nil, limit: 10)
            #expect(events.count == 1)
            #expect(events.first?.duplicates == 4)
        }
    }

    @Test func thousandsOfDistinctJunkRequestsAreRefusedAndTheServerKeepsAnswering() async throws {
        try await withLiveApp { client in
            var random = SeededRandom(seed: 7)
            var refused = 0
            for index in 0..<2_000 {
                let length = Int.random(in: 0..<2_000, using: &random)
                let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
                let signature = (0..<40).map { _ in String(UInt8.random(in: 0..<16, using: &random), radix: 16) }.joined()
                let uri = "/wecom/callback?msg_signature=\(signature)&timestamp=\(index)&nonce=\(index)"
                let answer = try await status(client, uri: uri, body: index % 2 == 0 ? ByteBuffer(bytes: bytes) : ByteBuffer(string: "<xml><Encrypt>\(bytes.count)</Encrypt></xml>"))
                if (400..<500).contains(answer.code) { refused += 1 }
            }
            #expect(refused == 2_000)
            #expect(try await stored() == 0)
            #expect(try await realCallback(client, id: "still") == .ok)
        }
    }

    @Test func slowConnectionsThatNeverFinishDoNotBlockRealCallbacks() async throws {
        try await withLiveApp { client in
            let port = try #require(client.port)
            var sockets: [Int32] = []
            defer { for socket in sockets { close(socket) } }
            for _ in 0..<200 {
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_port = in_port_t(UInt16(port).bigEndian)
                address.sin_addr.s_addr = inet_addr("127.0.0.1")
                let connected = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                guard connected == 0 else {
                    close(fd)
                    continue
                }
                // Headers that never end, and a promised body that never comes.
                let partial = "POST /wecom/callback?msg_signature=x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 60000\r\nX-Slow: "
                _ = partial.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
                sockets.append(fd)
            }
            #expect(sockets.count >= 150)
            let started = ContinuousClock.now
            #expect(try await realCallback(client, id: "beside-the-slow-ones") == .ok)
            #expect(ContinuousClock.now - started < .seconds(2))
            #expect(try await stored() == 1)
        }
    }
}
