import CohortCore
import Crypto
import Foundation
import Metrics
import Synchronization

/// Calls the WeCom server API for one (corp, secret) pair: token cache, the platform's error
/// rules (retries, 45009 blocks, token refresh), the shared rate limiter. Requests and answers
/// are JSON; the access token travels in the query string and is never logged.
public final class WeComClient: Sendable {
    /// Sleeps the given seconds (injected so tests need not wait out a 45009 block).
    public typealias Sleep = @Sendable (Double) async throws -> Void

    public let apiBase: URL
    public let corpID: String
    private let secret: String
    private let transport: any PlatformTransport
    private let rules: PlatformRetryRules
    private let limiter: RateLimiter?
    private let sleep: Sleep
    private let random: @Sendable () -> Double
    public let tokens: AccessTokenCache
    private let calls = Mutex<[String: Int]>([:])

    public init(
        apiBase: URL, corpID: String, secret: String, transport: any PlatformTransport,
        rules: PlatformRetryRules = PlatformRetryRules(), limiter: RateLimiter? = RateLimiter(),
        sharedTokens: (any SharedTokenStore)? = nil,
        now: @escaping @Sendable () -> Date = { Date() },
        sleep: @escaping Sleep = { try await Task.sleep(for: .seconds($0)) },
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.apiBase = apiBase
        self.corpID = corpID
        self.secret = secret
        self.transport = transport
        self.rules = rules
        self.limiter = limiter
        self.sleep = sleep
        self.random = random
        let fetchToken = Self.tokenFetcher(apiBase: apiBase, corpID: corpID, secret: secret, transport: transport)
        // Instances share the token of one (corp, secret); the key names the secret by a digest only.
        let key = corpID + ":" + SHA256.hash(data: Data(secret.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
        self.tokens = AccessTokenCache(now: now, shared: sharedTokens.map { ($0, key) }, fetch: fetchToken)
    }

    private init(sharing other: WeComClient, rules: PlatformRetryRules) {
        self.apiBase = other.apiBase
        self.corpID = other.corpID
        self.secret = other.secret
        self.transport = other.transport
        self.rules = rules
        self.limiter = other.limiter
        self.sleep = other.sleep
        self.random = other.random
        self.tokens = other.tokens
    }

    /// This client (token cache, rate limiter, transport) under other retry rules: for calls
    /// on a deadline, such as welcome messages, that retry on their own clock.
    public func with(rules: PlatformRetryRules) -> WeComClient {
        WeComClient(sharing: self, rules: rules)
    }

    /// Requests sent per endpoint path (attempts, so retries count), gettoken not included.
    public var callCounts: [String: Int] { calls.withLock { $0 } }

    /// `GET /cgi-bin/<path>?access_token=…&<query>`.
    public func get<Response: Decodable & Sendable>(
        _ path: String, query: [(String, String)] = [], as type: Response.Type = Response.self
    ) async throws(PlatformError) -> Response {
        try await call(path, method: "GET", query: query, body: nil)
    }

    /// `POST /cgi-bin/<path>?access_token=…` with a JSON body.
    ///
    /// - Parameter uncertainIsFinal: for calls that must not run twice (add_msg_template):
    ///   an answer that may have come after the platform acted (a lost connection, a 5xx, an
    ///   unreadable body) is thrown at once instead of retried; errors the platform answered
    ///   with (errcodes) are still retried by the rules.
    public func post<Response: Decodable & Sendable>(
        _ path: String, body: some Encodable, as type: Response.Type = Response.self, uncertainIsFinal: Bool = false
    ) async throws(PlatformError) -> Response {
        let data: Data
        do {
            data = try JSONEncoder().encode(body)
        } catch {
            throw PlatformError(.invalidRequest("cannot encode: \(error)"), endpoint: path)
        }
        return try await call(path, method: "POST", query: [], body: data, uncertainIsFinal: uncertainIsFinal)
    }

    /// `POST /cgi-bin/media/upload?access_token=…&type=TYPE` with one multipart part named
    /// `media` (docs/wecom-api-additions.md). The media id lives three days.
    public func uploadMedia(type: String, filename: String, contentType: String, data: Data) async throws(PlatformError) -> MediaUploadResponse {
        let boundary = "cohort-\(UUID().uuidString)"
        var body = Data("--\(boundary)\r\n".utf8)
        let safeName = filename.replacingOccurrences(of: "\"", with: "_")
        body.append(Data("Content-Disposition: form-data; name=\"media\"; filename=\"\(safeName)\"; filelength=\(data.count)\r\n".utf8))
        body.append(Data("Content-Type: \(contentType)\r\n\r\n".utf8))
        body.append(data)
        body.append(Data("\r\n--\(boundary)--\r\n".utf8))
        return try await call(
            "media/upload", method: "POST", query: [("type", type)], body: body, contentType: "multipart/form-data; boundary=\(boundary)")
    }

    private func call<Response: Decodable & Sendable>(
        _ path: String, method: String, query: [(String, String)], body: Data?, contentType: String? = nil,
        uncertainIsFinal: Bool = false
    ) async throws(PlatformError) -> Response {
        var attempt = 0
        var refreshed = false
        while true {
            attempt += 1
            let (outcome, token) = await attemptOnce(
                path, method: method, query: query, body: body, contentType: contentType, as: Response.self)
            let failure: PlatformError
            switch outcome {
            case .success(let response): return response
            case .failure(let error): failure = error
            }
            // gettoken itself refusing the secret or corp is a configuration error: final.
            if failure.endpoint == "gettoken", let code = failure.errcode, PlatformError.tokenErrors.contains(code) {
                throw failure
            }
            if uncertainIsFinal, failure.endpoint != "gettoken", failure.isUncertain { throw failure }
            switch rules.decide(failure, attempt: attempt, tokenRefreshed: refreshed, unitRandom: random()) {
            case .fail:
                throw failure
            case .refreshToken:
                refreshed = true
                if let token { await tokens.invalidate(token) }
            case .retry(let seconds):
                do {
                    try await sleep(seconds)
                } catch {
                    throw failure
                }
            }
        }
    }

    /// One try: a token, a rate-limit slot, the request. Returns the outcome and the token used.
    private func attemptOnce<Response: Decodable & Sendable>(
        _ path: String, method: String, query: [(String, String)], body: Data?, contentType: String?, as type: Response.Type
    ) async -> (Result<Response, PlatformError>, String?) {
        let token: String
        do {
            token = try await tokens.current()
        } catch {
            let failure = Self.platformError(error, endpoint: "gettoken")
            Self.count("gettoken", outcome: Self.outcome(failure))
            return (.failure(failure), nil)
        }
        try? await limiter?.acquire(path)
        calls.withLock { $0[path, default: 0] += 1 }
        do {
            let url = Self.url(apiBase, path, [("access_token", token)] + query)
            let response = try await Self.perform(
                TransportRequest(method: method, url: url, body: body, contentType: contentType), path: path, transport: transport)
            let decoded: Response = try Self.decode(response, path: path)
            Self.count(path, outcome: "0")
            return (.success(decoded), token)
        } catch {
            let failure = Self.platformError(error, endpoint: path)
            Self.count(path, outcome: Self.outcome(failure))
            return (.failure(failure), token)
        }
    }

    /// Calls by endpoint and errcode (0 for success; http_NNN, transport, malformed otherwise),
    /// and whether the platform answered at all: the dashboard's reachability.
    static func count(_ path: String, outcome: String) {
        Counter(label: "cohort_platform_calls_total", dimensions: [("endpoint", path), ("errcode", outcome)]).increment()
        Gauge(label: "cohort_platform_reachable").record(outcome == "transport" ? 0 : 1)
        if outcome == "transport" {
            PlatformHealth.unreachable(at: Date(), error: "\(path): no answer")
        } else {
            PlatformHealth.answered(at: Date())
            if let code = Int(outcome), PlatformHealth.configurationErrcodes.contains(code) {
                PlatformHealth.configurationError(code, endpoint: path, at: Date())
            }
        }
    }

    static func outcome(_ error: PlatformError) -> String {
        switch error.kind {
        case .api(let code, _): String(code)
        case .http(let status): "http_\(status)"
        case .transport: "transport"
        case .malformedResponse: "malformed"
        case .invalidRequest: "invalid_request"
        }
    }

    static func platformError(_ error: any Error, endpoint: String) -> PlatformError {
        (error as? PlatformError) ?? PlatformError(.transport("\(error)"), endpoint: endpoint)
    }

    static func url(_ base: URL, _ path: String, _ query: [(String, String)]) -> URL {
        var components = URLComponents(url: base.appendingPathComponent("cgi-bin").appendingPathComponent(path), resolvingAgainstBaseURL: false)!
        // Strict encoding: secrets and ids may contain '+', '/' or '='.
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        components.percentEncodedQuery = query.map { name, value in
            "\(name)=\(value.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")"
        }.joined(separator: "&")
        return components.url!
    }

    static func perform(_ request: TransportRequest, path: String, transport: any PlatformTransport) async throws -> TransportResponse {
        let response: TransportResponse
        do {
            response = try await transport.send(request)
        } catch {
            throw PlatformError(.transport(String(describing: type(of: error)) + ": " + error.localizedDescription), endpoint: path)
        }
        guard response.status == 200 else { throw PlatformError(.http(status: response.status), endpoint: path) }
        return response
    }

    private struct Status: Decodable {
        var errcode: Int?
        var errmsg: String?
    }

    /// The status and the body from one parse of the document: large pages (batch/get_by_user)
    /// cost most of a sync's client time in JSON, so the answer is read once, not twice.
    private struct Envelope<Response: Decodable>: Decodable {
        var status: Status
        var response: Result<Response, any Error>

        init(from decoder: any Decoder) throws {
            status = try Status(from: decoder)
            response = Result { try Response(from: decoder) }
        }
    }

    /// An HTTP 200 with `errcode != 0` is an error; otherwise the body decodes as `Response`.
    static func decode<Response: Decodable>(_ response: TransportResponse, path: String) throws(PlatformError) -> Response {
        let envelope: Envelope<Response>
        do {
            envelope = try JSONDecoder().decode(Envelope<Response>.self, from: response.body)
        } catch {
            throw PlatformError(.malformedResponse("not JSON"), endpoint: path)
        }
        if let code = envelope.status.errcode, code != 0 {
            throw PlatformError(.api(errcode: code, errmsg: envelope.status.errmsg ?? ""), endpoint: path)
        }
        switch envelope.response {
        case .success(let value): return value
        case .failure(let error): throw PlatformError(.malformedResponse("\(error)"), endpoint: path)
        }
    }

    private struct TokenResponse: Decodable, Sendable {
        var access_token: String
        var expires_in: Int
    }

    private static func tokenFetcher(
        apiBase: URL, corpID: String, secret: String, transport: any PlatformTransport
    ) -> @Sendable () async throws -> (token: String, expiresIn: Int) {
        {
            let url = url(apiBase, "gettoken", [("corpid", corpID), ("corpsecret", secret)])
            let response = try await perform(TransportRequest(method: "GET", url: url), path: "gettoken", transport: transport)
            let token: TokenResponse = try decode(response, path: "gettoken")
            return (token.access_token, token.expires_in)
        }
    }
}

extension WeComClient {
    /// The gettoken URL the tests' client would call (checks query encoding).
    static func urlForTesting() -> URL {
        url(URL(string: "https://qyapi.example")!, "gettoken", [("corpid", "wwcorp"), ("corpsecret", "s+e/c=ret")])
    }
}

/// A body that carries nothing but `errcode`/`errmsg` (the answer of most write calls).
public struct EmptyResponse: Decodable, Sendable, Hashable {
    public init() {}
}
