import CohortCore
import Foundation
import Synchronization
import Testing
@testable import WeComKit

/// A scripted platform: answers per path from a queue of canned responses (then a default),
/// counts calls, and hands out numbered tokens.
final class ScriptedTransport: PlatformTransport {
    enum Answer: Sendable {
        case json(String)
        case status(Int)
        case drop
    }

    private struct State {
        var scripts: [String: [Answer]] = [:]
        var calls: [String] = []
        var tokenCount = 0
        var seenTokens: [String] = []
    }

    private let state = Mutex(State())
    let tokenDelay: Duration

    init(tokenDelay: Duration = .zero) {
        self.tokenDelay = tokenDelay
    }

    func script(_ path: String, _ answers: [Answer]) {
        state.withLock { $0.scripts[path, default: []] += answers }
    }

    func calls(_ path: String) -> Int { state.withLock { $0.calls.filter { $0 == path }.count } }
    var seenTokens: [String] { state.withLock { $0.seenTokens } }

    func send(_ request: TransportRequest) async throws -> TransportResponse {
        let path = String(request.url.path.dropFirst("/cgi-bin/".count))
        let query = URLComponents(url: request.url, resolvingAgainstBaseURL: false)?.queryItems ?? []
        if path == "gettoken" {
            if tokenDelay > .zero { try await Task.sleep(for: tokenDelay) }
        }
        let answer = state.withLock { state -> Answer in
            state.calls.append(path)
            if let token = query.first(where: { $0.name == "access_token" })?.value { state.seenTokens.append(token) }
            if var queue = state.scripts[path], !queue.isEmpty {
                let next = queue.removeFirst()
                state.scripts[path] = queue
                return next
            }
            if path == "gettoken" {
                state.tokenCount += 1
                return .json(#"{"errcode":0,"errmsg":"ok","access_token":"token\#(state.tokenCount)","expires_in":7200}"#)
            }
            return .json(#"{"errcode":0,"errmsg":"ok","follow_user":["zhangsan"]}"#)
        }
        switch answer {
        case .json(let text): return TransportResponse(status: 200, body: Data(text.utf8))
        case .status(let code): return TransportResponse(status: code, body: Data())
        case .drop: throw URLError(.networkConnectionLost)
        }
    }
}

struct FollowUsers: Decodable, Sendable {
    var follow_user: [String]
}

/// Records requested sleeps instead of sleeping.
final class SleepRecorder: Sendable {
    private let sleeps = Mutex<[Double]>([])
    var recorded: [Double] { sleeps.withLock { $0 } }
    var sleep: WeComClient.Sleep { { seconds in self.sleeps.withLock { $0.append(seconds) } } }
}

struct WeComClientTests {
    static func client(_ transport: ScriptedTransport, sleeps: SleepRecorder = SleepRecorder()) -> WeComClient {
        WeComClient(
            apiBase: URL(string: "https://qyapi.example")!, corpID: "wwcorp", secret: "s+e/c=ret", transport: transport,
            limiter: nil, sleep: sleeps.sleep, random: { 0.5 })
    }

    @Test func concurrentCallsDuringExpiryFetchExactlyOneToken() async throws {
        let transport = ScriptedTransport(tokenDelay: .milliseconds(50))
        let client = Self.client(transport)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<50 {
                group.addTask { _ = try await client.get("externalcontact/get_follow_user_list", as: FollowUsers.self) }
            }
            try await group.waitForAll()
        }
        #expect(transport.calls("gettoken") == 1)
        #expect(transport.calls("externalcontact/get_follow_user_list") == 50)
        #expect(Set(transport.seenTokens) == ["token1"])
    }

    @Test(arguments: [40014, 42001, 40001])
    func invalidTokenIsRefreshedAndTheCallRetriedOnce(code: Int) async throws {
        let transport = ScriptedTransport()
        transport.script("externalcontact/get_follow_user_list", [.json(#"{"errcode":\#(code),"errmsg":"invalid access_token"}"#)])
        let users = try await Self.client(transport).get("externalcontact/get_follow_user_list", as: FollowUsers.self)
        #expect(users.follow_user == ["zhangsan"])
        #expect(transport.calls("gettoken") == 2)
        #expect(transport.seenTokens == ["token1", "token2"])
    }

    @Test func aSecondTokenFailureIsNotRetriedAgain() async throws {
        let transport = ScriptedTransport()
        let expired = ScriptedTransport.Answer.json(#"{"errcode":42001,"errmsg":"access_token expired"}"#)
        transport.script("externalcontact/get_follow_user_list", [expired, expired])
        await #expect(throws: PlatformError.self) {
            try await Self.client(transport).get("externalcontact/get_follow_user_list", as: FollowUsers.self)
        }
        #expect(transport.calls("externalcontact/get_follow_user_list") == 2)
    }

    @Test func aStaleTokenFailureDoesNotDropAFreshToken() async throws {
        let transport = ScriptedTransport()
        let client = Self.client(transport)
        _ = try await client.tokens.current()
        await client.tokens.invalidate("token-from-long-ago")
        #expect(try await client.tokens.current() == "token1")
        #expect(transport.calls("gettoken") == 1)
    }

    @Test(arguments: [-1, 45033])
    func busyAndConcurrencyErrorsRetryWithBackoff(code: Int) async throws {
        let transport = ScriptedTransport()
        let busy = ScriptedTransport.Answer.json(#"{"errcode":\#(code),"errmsg":"busy"}"#)
        transport.script("externalcontact/get_follow_user_list", [busy, busy])
        let sleeps = SleepRecorder()
        _ = try await Self.client(transport, sleeps: sleeps).get("externalcontact/get_follow_user_list", as: FollowUsers.self)
        #expect(transport.calls("externalcontact/get_follow_user_list") == 3)
        #expect(sleeps.recorded.count == 2)
        #expect(sleeps.recorded[1] > sleeps.recorded[0])
    }

    @Test func frequencyLimitWaitsOutTheSixtySecondBlock() async throws {
        let transport = ScriptedTransport()
        transport.script("externalcontact/get_follow_user_list", [.json(#"{"errcode":45009,"errmsg":"api freq out of limit"}"#)])
        let sleeps = SleepRecorder()
        _ = try await Self.client(transport, sleeps: sleeps).get("externalcontact/get_follow_user_list", as: FollowUsers.self)
        #expect(sleeps.recorded == [60])
    }

    @Test func serverErrorsAndDroppedConnectionsRetryUpToTheLimit() async throws {
        let transport = ScriptedTransport()
        transport.script("externalcontact/get_follow_user_list", [.status(502), .drop, .status(500), .drop, .status(503)])
        await #expect(throws: PlatformError.self) {
            try await Self.client(transport).get("externalcontact/get_follow_user_list", as: FollowUsers.self)
        }
        #expect(transport.calls("externalcontact/get_follow_user_list") == 5)
    }

    @Test func configurationErrorsFailFastNamingTheSettingToFix() async throws {
        let transport = ScriptedTransport()
        transport.script("externalcontact/get_follow_user_list", [.json(#"{"errcode":48002,"errmsg":"api forbidden, hint: [x], from ip: 1.2.3.4"}"#)])
        do {
            _ = try await Self.client(transport).get("externalcontact/get_follow_user_list", as: FollowUsers.self)
            Issue.record("expected 48002")
        } catch {
            #expect(error.errcode == 48002)
            #expect(error.description.contains("可调用接口的应用"))
            #expect(!error.description.contains("1.2.3.4"))
        }
        #expect(transport.calls("externalcontact/get_follow_user_list") == 1)
    }

    @Test func wrongSecretAtGettokenIsFinal() async throws {
        let transport = ScriptedTransport()
        transport.script("gettoken", [.json(#"{"errcode":40001,"errmsg":"invalid credential"}"#)])
        do {
            _ = try await Self.client(transport).get("externalcontact/get_follow_user_list", as: FollowUsers.self)
            Issue.record("expected 40001")
        } catch {
            #expect(error.endpoint == "gettoken")
            #expect(error.description.contains("WECOM_SECRET"))
        }
        #expect(transport.calls("externalcontact/get_follow_user_list") == 0)
    }

    @Test func secretsAndTokensArePercentEncodedInTheQuery() async throws {
        let url = WeComClient.urlForTesting()
        #expect(url.absoluteString == "https://qyapi.example/cgi-bin/gettoken?corpid=wwcorp&corpsecret=s%2Be%2Fc%3Dret")
    }
}

struct RateLimiterTests {
    @Test func callsBeyondAWindowWaitUntilItsOldestSecondAgesOut() async throws {
        let clock = Mutex(Date(timeIntervalSince1970: 1_000_000))
        let sleeps = SleepRecorder()
        let limiter = RateLimiter(
            windows: [RateLimiter.Window(seconds: 60, limit: 3)], now: { clock.withLock { $0 } },
            sleep: { seconds in
                try await sleeps.sleep(seconds)
                clock.withLock { $0 = $0.addingTimeInterval(seconds) }
            })
        for _ in 0..<3 { try await limiter.acquire("list") }
        try await limiter.acquire("other")
        #expect(sleeps.recorded.isEmpty)
        try await limiter.acquire("list")
        #expect(sleeps.recorded == [60])
        #expect(await limiter.expectedSeconds(forCalls: 6, api: "list") == 120)
    }
}

struct WeComEndpointTests {
    @Test func memberWithoutCustomersReadsAsEmptyNot84061() async throws {
        let transport = ScriptedTransport()
        transport.script("externalcontact/list", [.json(#"{"errcode":84061,"errmsg":"not external contact","external_userid":[]}"#)])
        #expect(try await WeComClientTests.client(transport).externalContacts(of: "nobody") == [])
    }

    @Test func customerWithManyFollowUsersIsPagedToTheEnd() async throws {
        let transport = ScriptedTransport()
        transport.script("externalcontact/get", [
            .json(#"{"errcode":0,"errmsg":"ok","external_contact":{"external_userid":"wm1","name":"李四","type":1},"follow_user":[{"userid":"a","createtime":1,"remark_mobiles":[13800000001]}],"next_cursor":"c1"}"#),
            .json(#"{"errcode":0,"errmsg":"ok","external_contact":{"external_userid":"wm1"},"follow_user":[{"userid":"b","tags":[{"group_name":"g","tag_name":"t","type":2}]}],"next_cursor":""}"#),
        ])
        let detail = try await WeComClientTests.client(transport).externalContact("wm1")
        #expect(detail.follow_user?.map(\.userid) == ["a", "b"])
        #expect(detail.follow_user?.first?.remark_mobiles == [Mobile("13800000001")])
        #expect(detail.external_contact.name == "李四")
        #expect(transport.calls("externalcontact/get") == 2)
    }

    @Test func batchOfMoreThanAHundredMembersIsRefusedBeforeSending() async throws {
        let transport = ScriptedTransport()
        let ids = (0..<101).map { "u\($0)" }
        do {
            _ = try await WeComClientTests.client(transport).batchGetByUser(BatchGetByUserRequest(userid_list: ids))
            Issue.record("expected a refusal")
        } catch {
            #expect(error.description.contains("101 ids"))
        }
        #expect(transport.calls("externalcontact/batch/get_by_user") == 0)
    }

    @Test func batchRowsDecodeWithUnlicensedMembers() async throws {
        let transport = ScriptedTransport()
        transport.script("externalcontact/batch/get_by_user", [
            .json(#"{"errcode":0,"errmsg":"ok","external_contact_list":[{"external_contact":{"external_userid":"wm1","name":"n","type":2,"gender":1},"follow_info":{"userid":"rocky","createtime":1525779812,"tag_id":["et1"],"add_way":1,"state":"s"}}],"next_cursor":"","fail_info":{"unlicensed_userid_list":["bob"]}}"#),
        ])
        let page = try await WeComClientTests.client(transport).batchGetByUser(BatchGetByUserRequest(userid_list: ["rocky", "bob"]))
        #expect(page.external_contact_list?.first?.follow_info.tag_id == ["et1"])
        #expect(page.fail_info?.unlicensed_userid_list == ["bob"])
        #expect(page.next_cursor == "")
    }
}

/// A shared token store in memory: what the PostgreSQL one does across instances, for the
/// client's side of the contract.
actor MemoryTokenStore: SharedTokenStore {
    private var stored: [String: (token: String, expiresAt: Date)] = [:]
    private(set) var keys: [String] = []

    func token(
        key: String, now: Date, margin: TimeInterval, refresh: @Sendable () async throws -> (token: String, expiresIn: Int)
    ) async throws -> (token: String, expiresAt: Date) {
        keys.append(key)
        if let token = stored[key], token.expiresAt > now.addingTimeInterval(margin) { return token }
        let fresh = try await refresh()
        let token = (fresh.token, now.addingTimeInterval(Double(fresh.expiresIn)))
        stored[key] = token
        return token
    }

    func invalidate(key: String, token: String) {
        if stored[key]?.token == token { stored[key] = nil }
    }
}

struct SharedTokenTests {
    static func instance(_ transport: ScriptedTransport, _ store: MemoryTokenStore) -> WeComClient {
        WeComClient(
            apiBase: URL(string: "https://qyapi.example")!, corpID: "wwcorp", secret: "s+e/c=ret", transport: transport,
            limiter: nil, sharedTokens: store, sleep: SleepRecorder().sleep, random: { 0.5 })
    }

    @Test func instancesSharingATokenStoreFetchOneTokenAndReplaceItTogether() async throws {
        let transport = ScriptedTransport()
        let store = MemoryTokenStore()
        let first = Self.instance(transport, store)
        let second = Self.instance(transport, store)
        _ = try await first.get("externalcontact/get_follow_user_list", as: FollowUsers.self)
        _ = try await second.get("externalcontact/get_follow_user_list", as: FollowUsers.self)
        #expect(transport.calls("gettoken") == 1, "the second instance used the stored token")
        // The platform rejects the token at the second instance: it drops it from the store and
        // fetches once; a third instance starting now reads the fresh one.
        transport.script("externalcontact/get_follow_user_list", [.json(#"{"errcode":42001,"errmsg":"access_token expired"}"#)])
        _ = try await second.get("externalcontact/get_follow_user_list", as: FollowUsers.self)
        _ = try await Self.instance(transport, store).get("externalcontact/get_follow_user_list", as: FollowUsers.self)
        #expect(transport.calls("gettoken") == 2)
        #expect(transport.seenTokens.last == "token2")
        // The store's key names the corp and a digest of the secret, never the secret.
        let keys = await store.keys
        #expect(keys.allSatisfy { $0.hasPrefix("wwcorp:") && !$0.contains("ret") })
    }
}

struct SharedCallBudgetTests {
    /// A budget that counts in memory, standing in for the database.
    actor MemoryBudget: SharedCallBudget {
        var calls: [String: [Int64: Int]] = [:]

        func take(api: String, second: Int64, windows: [CallWindow]) -> Int {
            let wait = CallWindow.delay(calls: calls[api] ?? [:], at: second, windows: windows)
            if wait == 0 { calls[api, default: [:]][second, default: 0] += 1 }
            return wait
        }
    }

    @Test func limitersOfTwoInstancesTogetherStayUnderTheWindow() async throws {
        let budget = MemoryBudget()
        let clock = Mutex(Date(timeIntervalSince1970: 1_000_000))
        let sleeps = SleepRecorder()
        func limiter() -> RateLimiter {
            RateLimiter(
                windows: [RateLimiter.Window(seconds: 60, limit: 4)], shared: budget, now: { clock.withLock { $0 } },
                sleep: { seconds in
                    try await sleeps.sleep(seconds)
                    clock.withLock { $0 = $0.addingTimeInterval(seconds) }
                })
        }
        let a = limiter()
        let b = limiter()
        for _ in 0..<2 { try await a.acquire("list") }
        for _ in 0..<2 { try await b.acquire("list") }
        #expect(sleeps.recorded.isEmpty)
        // Each instance made 2 of the 4 calls: a fifth from either waits for the window.
        try await b.acquire("list")
        #expect(sleeps.recorded == [60])
    }
}
