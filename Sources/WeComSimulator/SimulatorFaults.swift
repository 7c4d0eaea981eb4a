import Foundation

/// A fault the simulator injects on demand: on the next `count` matching calls, or on each
/// matching call with probability `rate` (drawn from the simulator's seeded generator).
public struct SimulatorFault: Codable, Sendable, Hashable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// Answer HTTP 200 with this `errcode` (-1, 45033, 48002, 60020, …). 45009 also
        /// starts the API's frequency block.
        case errcode
        /// Answer this HTTP status (5xx) with no JSON.
        case http
        /// Answer late by `latency_ms`.
        case latency
        /// Drop the connection: no answer at all.
        case drop
        /// Act on the call, then drop the connection: the caller cannot tell whether it took effect.
        case lostAnswer = "lost_answer"
        /// Revoke every issued token before the call (it then fails 40014).
        case invalidateToken = "invalidate_token"
        /// Expire every issued token before the call (it then fails 42001).
        case expireToken = "expire_token"
    }

    public var kind: Kind
    /// An endpoint path such as `externalcontact/batch/get_by_user`; nil matches every API
    /// call except gettoken.
    public var endpoint: String?
    public var errcode: Int?
    public var status: Int?
    public var latency_ms: Int?
    /// Probability per matching call.
    public var rate: Double?
    /// How many matching calls are faulted (then the fault is spent).
    public var count: Int?
    /// Matching calls to let through before the fault starts.
    public var after: Int?

    public init(
        kind: Kind, endpoint: String? = nil, errcode: Int? = nil, status: Int? = nil, latency_ms: Int? = nil,
        rate: Double? = nil, count: Int? = nil, after: Int? = nil
    ) {
        self.kind = kind
        self.endpoint = endpoint
        self.errcode = errcode
        self.status = status
        self.latency_ms = latency_ms
        self.rate = rate
        self.count = count
        self.after = after
    }

    public static func errcode(_ code: Int, endpoint: String? = nil, rate: Double? = nil, count: Int? = nil, after: Int? = nil) -> Self {
        Self(kind: .errcode, endpoint: endpoint, errcode: code, rate: rate, count: count, after: after)
    }

    public static func http(_ status: Int, endpoint: String? = nil, rate: Double? = nil, count: Int? = nil) -> Self {
        Self(kind: .http, endpoint: endpoint, status: status, rate: rate, count: count)
    }

    func matches(_ path: String) -> Bool {
        if let endpoint { return endpoint == path }
        return path != "gettoken"
    }
}

/// One API call the simulator received, for the inspection endpoint.
public struct SimulatorCall: Codable, Sendable, Hashable {
    public var seq: Int
    public var method: String
    public var path: String
    /// The errcode answered (0 for success); nil for HTTP faults and drops.
    public var errcode: Int?
    public var status: Int
    public var fault: String?
    public var at: Double
}

/// A mark_tag call that changed a relation's tags.
public struct SimulatorTagWrite: Codable, Sendable, Hashable {
    public var userid: String
    public var external_userid: String
    public var add_tag: [String]
    public var remove_tag: [String]
}

/// A callback the simulator sent (or tried to send).
public struct SimulatorCallbackDelivery: Codable, Sendable, Hashable {
    public var seq: Int
    public var event: String
    public var change_type: String
    public var attempts: Int
    /// HTTP status of the last attempt; nil when it timed out or could not connect.
    public var last_status: Int?
    public var delivered: Bool
    public var xml: String
}
