import CohortCore
import Foundation
import WeComKit

/// How the simulated platform behaves.
public struct SimulatorConfiguration: Sendable {
    public var corpID = "wx5823bf96d3bd56c7"
    public var secret = "sim-secret"
    /// Callback Token and EncodingAESKey (the spec's sample values by default).
    public var callbackToken = "QDG6eK"
    public var encodingAESKey = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
    /// Where console and client actions send their callbacks; nil sends none.
    public var callbackURL: URL?
    public var tokenLifetime = 7200
    /// Per API, per corp (spec 5.1).
    public var perMinuteLimit = 10_000
    public var perHourLimit = 150_000
    /// How long a minute-window 45009 blocks the API.
    public var frequencyBlockSeconds = 60.0
    /// Whether user/get shows names (apps without the right see the userid instead).
    public var namesVisible = true
    /// Seconds after a mass-message task is created until a staff member decides, and the
    /// probability that they confirm.
    public var confirmDelaySeconds = 5.0
    public var confirmProbability = 1.0
    public var receiveQuota = ReceiveQuota.daysInMonth
    /// Seconds between callback retries (the platform retries 3 more times).
    public var callbackRetryInterval = 5.0
    public var callbackTimeout = 5.0
    /// Seed of the generator behind rate faults, ids and confirmations.
    public var seed: UInt64 = 1

    public init() {}

    /// How often a customer may receive mass messages (spec 4.2).
    public enum ReceiveQuota: String, Sendable, CaseIterable {
        case daysInMonth = "days_in_month"
        case perWeek = "per_week"
        case perDay = "per_day"
    }
}

/// One HTTP request as the simulator sees it.
public struct SimulatorRequest: Sendable {
    public var method: String
    /// Path below `/cgi-bin/`, e.g. `externalcontact/get`.
    public var path: String
    public var query: [String: String]
    public var body: Data

    public init(method: String, path: String, query: [String: String] = [:], body: Data = Data()) {
        self.method = method
        self.path = path
        self.query = query
        self.body = body
    }
}

/// The simulator's answer: an HTTP status and body, after an optional delay; or no answer.
public struct SimulatorResponse: Sendable {
    public var status: Int
    public var body: Data
    public var delay: Double
    /// The connection drops without an answer.
    public var dropped: Bool

    static func json(_ data: Data, delay: Double = 0) -> Self { Self(status: 200, body: data, delay: delay, dropped: false) }
}

/// A local WeCom: the customer-contact API with the spec's validation, limits, error codes,
/// paging and quirks; faults on demand; callbacks for console actions; an inspection log.
public actor WeComSimulator {
    public let configuration: SimulatorConfiguration
    public internal(set) var corp: SimCorp {
        // Any change to the corp may change any row: drop the encoded rows.
        didSet { encodedRows.removeAll(keepingCapacity: true) }
    }
    /// batch/get_by_user rows already encoded, by "userid\u{0}external_userid": a full sync
    /// of a large corp otherwise spends most of the simulator's time in JSONEncoder.
    var encodedRows: [String: Data] = [:]
    let rowEncoder = JSONEncoder()
    let now: @Sendable () -> Date
    var random: SeededRandom

    struct TokenState {
        var expiresAt: Date
        var revoked = false
    }

    var tokens: [String: TokenState] = [:]
    var faults: [SimulatorFault] = []
    /// Per API: call counts by whole second (for the frequency windows).
    var usage: [String: [Int: Int]] = [:]
    var blockedUntil: [String: Date] = [:]
    public internal(set) var calls: [SimulatorCall] = []
    public internal(set) var tagWrites: [SimulatorTagWrite] = []
    var tasks: [String: SimTask] = [:]
    var taskOrder: [String] = []
    /// external_userid → unix times of mass messages received.
    var receipts: [String: [Int64]] = [:]
    var welcomeCodes: [String: WelcomeCode] = [:]
    /// Welcome messages taken, in order.
    public internal(set) var welcomes: [SimWelcomeMessage] = []
    /// Application messages (message/send) taken, in order.
    public internal(set) var applicationMessages: [SimApplicationMessage] = []
    var media: [String: Int64] = [:]
    public internal(set) var callbacks: [SimulatorCallbackDelivery] = []
    var callbackSender: CallbackSender?
    /// Why callbacks cannot be sent although a URL is configured (a malformed key).
    var callbackProblem: String?
    var idCounter = 0

    public init(
        configuration: SimulatorConfiguration = SimulatorConfiguration(), corp: SimCorp = SimCorp(),
        now: @escaping @Sendable () -> Date = { Date() }, callbackTransport: (any PlatformTransport)? = nil
    ) {
        self.configuration = configuration
        self.corp = corp
        self.now = now
        self.random = SeededRandom(seed: configuration.seed)
        if let url = configuration.callbackURL {
            do {
                self.callbackSender = try CallbackSender(
                    configuration: configuration, url: url, transport: callbackTransport ?? URLSessionTransport(timeout: configuration.callbackTimeout))
            } catch {
                self.callbackProblem = "callbacks to \(url) cannot be signed: \(error)"
            }
        }
    }

    /// Answers one request, sleeping for injected latency outside the actor.
    public nonisolated func handle(_ request: SimulatorRequest) async -> SimulatorResponse {
        let response = await process(request)
        if response.delay > 0 { try? await Task.sleep(for: .seconds(response.delay)) }
        return response
    }

    // MARK: Control

    public func addFault(_ fault: SimulatorFault) { faults.append(fault) }
    public func clearFaults() { faults.removeAll() }
    /// Calls received per path.
    public func callCounts() -> [String: Int] { calls.reduce(into: [:]) { $0[$1.path, default: 0] += 1 } }
    public func resetLog() {
        calls.removeAll()
        tagWrites.removeAll()
    }
    public func replaceCorp(_ corp: SimCorp) { self.corp = corp }
    /// Mass-message tasks created through the API, oldest first.
    public func createdTasks() -> [SimTask] { taskOrder.compactMap { tasks[$0] } }

    // MARK: Dispatch

    func process(_ request: SimulatorRequest) -> SimulatorResponse {
        let seq = calls.count + 1
        let at = now()
        var delay = 0.0
        var faultName: String?
        var loseAnswer = false
        func finish(_ response: SimulatorResponse, errcode: Int?) -> SimulatorResponse {
            calls.append(
                SimulatorCall(
                    seq: seq, method: request.method, path: request.path, errcode: errcode, status: response.status,
                    fault: faultName, at: at.timeIntervalSince1970))
            var response = response
            response.delay += delay
            if loseAnswer { response = SimulatorResponse(status: 0, body: Data(), delay: response.delay, dropped: true) }
            return response
        }
        // Faults first: they stand for the network and the platform's bad moments.
        for index in faults.indices where faults[index].matches(request.path) {
            if let after = faults[index].after, after > 0 {
                faults[index].after = after - 1
                continue
            }
            let fault = faults[index]
            let fires: Bool
            if let count = fault.count {
                fires = count > 0
                if fires { faults[index].count = count - 1 }
            } else {
                fires = random.unit() < (fault.rate ?? 1)
            }
            guard fires else { continue }
            faultName = fault.kind.rawValue
            switch fault.kind {
            case .latency:
                delay += Double(fault.latency_ms ?? 1000) / 1000
            case .invalidateToken:
                for key in tokens.keys { tokens[key]?.revoked = true }
            case .expireToken:
                for key in tokens.keys { tokens[key]?.expiresAt = at.addingTimeInterval(-1) }
            case .drop:
                return finish(SimulatorResponse(status: 0, body: Data(), delay: 0, dropped: true), errcode: nil)
            case .lostAnswer:
                loseAnswer = true
            case .http:
                let status = fault.status ?? 502
                return finish(SimulatorResponse(status: status, body: Data("<html>\(status)</html>".utf8), delay: 0, dropped: false), errcode: nil)
            case .errcode:
                let code = fault.errcode ?? -1
                if code == 45009 { blockedUntil[request.path] = at.addingTimeInterval(configuration.frequencyBlockSeconds) }
                return finish(.json(Self.error(code, Self.message(code))), errcode: code)
            }
        }
        faults.removeAll { $0.count == 0 }

        if request.path == "gettoken" {
            let (data, code) = getToken(request.query, at: at)
            return finish(.json(data), errcode: code)
        }
        guard Self.paths.contains(request.path) else {
            return finish(SimulatorResponse(status: 404, body: Data("not found".utf8), delay: 0, dropped: false), errcode: nil)
        }
        if let failure = checkToken(request.query["access_token"], at: at) {
            return finish(.json(Self.error(failure, Self.message(failure))), errcode: failure)
        }
        if let failure = countCall(request.path, at: at) {
            return finish(.json(Self.error(failure, Self.message(failure))), errcode: failure)
        }
        do throws(APIFailure) {
            let answer = try dispatch(request, at: at)
            return finish(.json(answer.data), errcode: 0)
        } catch {
            return finish(.json(error.body), errcode: error.code)
        }
    }

    static let paths: Set<String> = [
        "user/get", "media/upload", "externalcontact/get_follow_user_list", "externalcontact/list",
        "externalcontact/get", "externalcontact/batch/get_by_user", "externalcontact/get_corp_tag_list",
        "externalcontact/add_corp_tag", "externalcontact/edit_corp_tag", "externalcontact/del_corp_tag",
        "externalcontact/mark_tag", "externalcontact/add_msg_template", "externalcontact/get_groupmsg_list_v2",
        "externalcontact/get_groupmsg_task", "externalcontact/get_groupmsg_send_result",
        "externalcontact/remind_groupmsg_send", "externalcontact/cancel_groupmsg_send",
        "externalcontact/send_welcome_msg", "message/send",
    ]

    func dispatch(_ request: SimulatorRequest, at: Date) throws(APIFailure) -> Answer {
        switch request.path {
        case "user/get": try userGet(request, at)
        case "media/upload": try mediaUpload(request, at)
        case "externalcontact/get_follow_user_list": followUserList(request, at)
        case "externalcontact/list": try contactList(request, at)
        case "externalcontact/get": try contactDetail(request, at)
        case "externalcontact/batch/get_by_user": try batchGetByUser(request, at)
        case "externalcontact/get_corp_tag_list": try corpTagList(request, at)
        case "externalcontact/add_corp_tag": try addCorpTag(request, at)
        case "externalcontact/edit_corp_tag": try editCorpTag(request, at)
        case "externalcontact/del_corp_tag": try deleteCorpTag(request, at)
        case "externalcontact/mark_tag": try markTag(request, at)
        case "externalcontact/add_msg_template": try addMessageTemplate(request, at)
        case "externalcontact/get_groupmsg_list_v2": try groupMessageList(request, at)
        case "externalcontact/get_groupmsg_task": try groupMessageTask(request, at)
        case "externalcontact/get_groupmsg_send_result": try groupMessageSendResult(request, at)
        case "externalcontact/remind_groupmsg_send": try remindGroupMessage(request, at)
        case "externalcontact/cancel_groupmsg_send": try cancelGroupMessage(request, at)
        case "externalcontact/send_welcome_msg": try sendWelcomeMessage(request, at)
        case "message/send": try sendApplicationMessage(request, at)
        default: throw Self.fail(-1)
        }
    }

    // MARK: Tokens and limits

    func getToken(_ query: [String: String], at: Date) -> (Data, Int) {
        guard let corpID = query["corpid"], !corpID.isEmpty else { return (Self.error(41002, "corpid missing"), 41002) }
        guard let secret = query["corpsecret"], !secret.isEmpty else { return (Self.error(41004, "corpsecret missing"), 41004) }
        guard corpID == configuration.corpID else { return (Self.error(40013, "invalid corpid"), 40013) }
        guard secret == configuration.secret else { return (Self.error(40001, "invalid credential"), 40001) }
        let token = "simtoken" + nextID(length: 56)
        tokens[token] = TokenState(expiresAt: at.addingTimeInterval(Double(configuration.tokenLifetime)))
        return (Self.ok(TokenAnswer(access_token: token, expires_in: configuration.tokenLifetime)), 0)
    }

    private struct TokenAnswer: Encodable {
        var access_token: String
        var expires_in: Int
    }

    func checkToken(_ token: String?, at: Date) -> Int? {
        guard let token, !token.isEmpty else { return 41001 }
        guard let state = tokens[token], !state.revoked else { return 40014 }
        return state.expiresAt > at ? nil : 42001
    }

    /// Counts a call against both windows; 45009 when a window is full or a block is on.
    func countCall(_ path: String, at: Date) -> Int? {
        if let until = blockedUntil[path] {
            if until > at { return 45009 }
            blockedUntil[path] = nil
        }
        let second = Int(at.timeIntervalSince1970)
        var buckets = usage[path] ?? [:]
        if buckets.count > 4000 { buckets = buckets.filter { $0.key > second - 3600 } }
        var minute = 0
        var hour = 0
        for (bucket, count) in buckets where bucket > second - 3600 {
            hour += count
            if bucket > second - 60 { minute += count }
        }
        buckets[second, default: 0] += 1
        usage[path] = buckets
        if minute >= configuration.perMinuteLimit {
            blockedUntil[path] = at.addingTimeInterval(configuration.frequencyBlockSeconds)
            return 45009
        }
        if hour >= configuration.perHourLimit {
            blockedUntil[path] = at.addingTimeInterval(3600)
            return 45009
        }
        return nil
    }

    // MARK: Helpers

    struct Answer {
        var data: Data
    }

    struct APIFailure: Error {
        var code: Int
        var body: Data
    }

    static func fail(_ code: Int, _ message: String? = nil, empty: [String: [String]] = [:]) -> APIFailure {
        APIFailure(code: code, body: error(code, message ?? Self.message(code), empty: empty))
    }

    /// `{"errcode":0,"errmsg":"ok", …fields of body}`.
    static func ok(_ body: some Encodable) -> Data {
        let encoder = JSONEncoder()
        let data = (try? encoder.encode(body)) ?? Data("{}".utf8)
        var out = Data(#"{"errcode":0,"errmsg":"ok""#.utf8)
        if data.count > 2 {
            out.append(UInt8(ascii: ","))
            out.append(data.dropFirst())
        } else {
            out.append(UInt8(ascii: "}"))
        }
        return out
    }

    static func answer(_ body: some Encodable) -> Answer { Answer(data: ok(body)) }

    struct Empty: Encodable {}

    /// An error body as the platform writes it: errmsg with the hint suffix clients must not
    /// string-match, and empty list fields where the endpoint has them.
    static func error(_ code: Int, _ message: String, empty: [String: [String]] = [:]) -> Data {
        var object: [String: Any] = [
            "errcode": code,
            "errmsg": "\(message), hint: [\(1_700_000_000 + code & 0xffff)_sim], from ip: 127.0.0.1, more info at https://open.work.weixin.qq.com/devtool/query?e=\(code)",
        ]
        for (key, value) in empty { object[key] = value }
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
    }

    static func message(_ code: Int) -> String {
        switch code {
        case -1: "system busy"
        case 40001: "invalid credential"
        case 40003: "invalid userid"
        case 40014: "invalid access_token"
        case 40058: "invalid parameter"
        case 40068: "invalid tagid"
        case 40071: "tag name already exists"
        case 40096: "invalid external userid"
        case 41001: "access_token missing"
        case 41051: "externaluser has started chatting"
        case 42001: "access_token expired"
        case 45009: "api freq out of limit"
        case 45033: "api concurrent out of limit"
        case 47001: "data format error"
        case 48002: "api forbidden"
        case 60020: "not allow to access from your ip"
        case 60111: "userid not found"
        case 84061: "not external contact"
        case 701008: "all userids lack interop license"
        default: "error"
        }
    }

    /// A JSON object body, or 47001 as the platform answers malformed JSON.
    static func object(_ request: SimulatorRequest) throws(APIFailure) -> [String: Any] {
        guard !request.body.isEmpty else { return [:] }
        guard let object = (try? JSONSerialization.jsonObject(with: request.body)) as? [String: Any] else {
            throw fail(47001, "data format error, Warning: wrong json format.")
        }
        return object
    }

    func nextID(length: Int) -> String {
        SimulatorDataset.id("", &random, length: length)
    }

    func unixTime(_ date: Date) -> Int64 { Int64(date.timeIntervalSince1970) }
}

/// Typed reads of a decoded JSON body; a wrong type is the platform's 40058.
extension Dictionary where Key == String, Value == Any {
    func string(_ key: String) throws(WeComSimulator.APIFailure) -> String? {
        guard let value = self[key], !(value is NSNull) else { return nil }
        guard let text = value as? String else { throw WeComSimulator.fail(40058, "invalid parameter: \(key) must be a string") }
        return text
    }

    func strings(_ key: String) throws(WeComSimulator.APIFailure) -> [String]? {
        guard let value = self[key], !(value is NSNull) else { return nil }
        guard let list = value as? [Any] else { throw WeComSimulator.fail(40058, "invalid parameter: \(key) must be a list") }
        var result: [String] = []
        for item in list {
            guard let text = item as? String else { throw WeComSimulator.fail(40058, "invalid parameter: \(key) must hold strings") }
            result.append(text)
        }
        return result
    }

    func int(_ key: String) throws(WeComSimulator.APIFailure) -> Int? {
        guard let value = self[key], !(value is NSNull) else { return nil }
        if let number = value as? NSNumber, !(value is Bool) { return number.intValue }
        if let number = value as? Int { return number }
        throw WeComSimulator.fail(40058, "invalid parameter: \(key) must be a number")
    }

    func bool(_ key: String) -> Bool? { self[key] as? Bool }

    func objects(_ key: String) throws(WeComSimulator.APIFailure) -> [[String: Any]]? {
        guard let value = self[key], !(value is NSNull) else { return nil }
        guard let list = value as? [[String: Any]] else { throw WeComSimulator.fail(40058, "invalid parameter: \(key) must be a list of objects") }
        return list
    }
}
