import Foundation

/// A failed platform call: either the platform answered with a non-zero `errcode` (HTTP 200
/// with an error body counts), or the call never got a usable answer.
public struct PlatformError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        /// The platform answered `errcode` (never 0) with `errmsg`.
        case api(errcode: Int, errmsg: String)
        /// HTTP status other than 200.
        case http(status: Int)
        /// No answer: timeout, refused or dropped connection.
        case transport(String)
        /// An answer that is not the JSON the endpoint documents.
        case malformedResponse(String)
        /// A request the platform would refuse, caught before it was sent.
        case invalidRequest(String)
    }

    public var kind: Kind
    /// The endpoint path, e.g. `externalcontact/get`.
    public var endpoint: String

    public init(_ kind: Kind, endpoint: String) {
        self.kind = kind
        self.endpoint = endpoint
    }

    /// The platform's error code, if it answered one.
    public var errcode: Int? {
        if case .api(let code, _) = kind { return code }
        return nil
    }

    /// The call may have reached the platform and taken effect: no errcode came back.
    public var isUncertain: Bool {
        switch kind {
        case .transport, .http, .malformedResponse: true
        case .api, .invalidRequest: false
        }
    }

    public var description: String {
        switch kind {
        case .api(let code, let message):
            let advice = Self.advice[code].map { " — \($0)" } ?? ""
            // errmsg carries hints and the caller's IP; keep only its first clause.
            let short = message.split(separator: ",", maxSplits: 1).first.map(String.init) ?? message
            return "\(endpoint): errcode \(code) (\(short))\(advice)"
        case .http(let status): return "\(endpoint): HTTP \(status)"
        case .transport(let reason): return "\(endpoint): \(reason)"
        case .malformedResponse(let reason): return "\(endpoint): malformed response: \(reason)"
        case .invalidRequest(let reason): return "\(endpoint): invalid request: \(reason)"
        }
    }

    /// What an operator should change for codes that mean a console setting is wrong.
    static let advice: [Int: String] = [
        48002: "the app is not allowed to call customer-contact APIs: add it under 客户联系 → 可调用接口的应用 (API → apps allowed to call), or use the customer-contact secret",
        60020: "this server's IP is not trusted: add it to the app's 企业可信IP (trusted IP) list in the admin console",
        40001: "the secret is wrong: check WECOM_SECRET (the secret of the app allowed to call customer-contact APIs)",
        40013: "the corp id is wrong: check WECOM_CORP_ID",
    ]

    /// Token errors after which a fresh token and one retry may succeed.
    public static let tokenErrors: Set<Int> = [40014, 42001, 40001]
}

/// What the client does about a failed attempt (pure; the client carries it out).
public enum RetryDecision: Hashable, Sendable {
    /// Fetch a new token (if the failed one is still cached) and repeat once.
    case refreshToken
    /// Wait and repeat.
    case retry(after: Double)
    /// Give up with the error.
    case fail
}

/// The platform's error handling rules (spec 1.3, 5.2 and 9): which failures are retried, how
/// long to wait, and which are final.
public struct PlatformRetryRules: Hashable, Sendable {
    /// Attempts in total for transient failures (-1, 45033, 5xx, transport).
    public var maxAttempts = 5
    /// First backoff in seconds; doubles per attempt with jitter.
    public var baseDelay = 0.5
    public var maxDelay = 30.0
    /// How long a minute-window 45009 blocks calls.
    public var frequencyBlock = 60.0
    /// Repeats after 45009 before giving up.
    public var maxFrequencyWaits = 3

    public init() {}

    /// Decides about attempt number `attempt` (1-based) that failed with `error`.
    /// - Parameters:
    ///   - tokenRefreshed: whether this call already refreshed its token once.
    ///   - unitRandom: a draw from [0, 1) for jitter.
    public func decide(_ error: PlatformError, attempt: Int, tokenRefreshed: Bool, unitRandom: Double) -> RetryDecision {
        switch error.kind {
        case .api(let code, _):
            if PlatformError.tokenErrors.contains(code) { return tokenRefreshed ? .fail : .refreshToken }
            if code == 45009 { return attempt <= maxFrequencyWaits ? .retry(after: frequencyBlock) : .fail }
            if code == -1 || code == 45033 || code == 6000 { return backoff(attempt, unitRandom) }
            return .fail
        case .http(let status):
            return status >= 500 ? backoff(attempt, unitRandom) : .fail
        case .transport:
            return backoff(attempt, unitRandom)
        case .malformedResponse, .invalidRequest:
            return .fail
        }
    }

    private func backoff(_ attempt: Int, _ unitRandom: Double) -> RetryDecision {
        guard attempt < maxAttempts else { return .fail }
        var cap = baseDelay
        for _ in 1..<max(attempt, 1) { cap = min(maxDelay, cap * 2) }
        return .retry(after: cap / 2 + cap / 2 * min(max(unitRandom, 0), 1))
    }
}
