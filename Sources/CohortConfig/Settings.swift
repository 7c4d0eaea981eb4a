import CohortCore

/// Everything `Config/cohort.yaml` and the environment say about running Cohort.
public struct CohortSettings: Sendable {
    public var server = ServerSettings()
    public var database = DatabaseSettings()
    public var platform = PlatformSettings()
    public var inbox = InboxSettings()
    public var sync = SyncSettings()
    public var logging = LoggingSettings()
    public var alerts = AlertSettings()
    public var retention = RetentionSettings()
    /// Secrets, from environment variables only.
    public var secrets = Secrets()

    public init() {}
}

public struct ServerSettings: Sendable, Hashable {
    /// `server.host`, env `COHORT_HTTP_HOST`.
    public var host = "127.0.0.1"
    /// `server.port`, env `COHORT_HTTP_PORT`.
    public var port = 8080
    /// `server.max_body_bytes`: larger callback bodies get 413.
    public var maxBodyBytes = 64 * 1024

    public init() {}
}

public struct DatabaseSettings: Sendable, Hashable {
    /// `database.path`, env `COHORT_DATABASE`: the SQLite file.
    public var path = "data/cohort.sqlite"
    /// `database.durability`: `normal` survives kill -9, `full` also power loss.
    public var durability = Durability.normal

    public enum Durability: String, Sendable, CaseIterable {
        case normal, full
    }

    public init() {}
}

public struct PlatformSettings: Sendable, Hashable {
    /// `platform.corp_id`, env `WECOM_CORP_ID`: also the receive id every callback must carry.
    public var corpID = ""
    /// `platform.api_base`, env `WECOM_API_BASE`: scheme and host; Cohort appends `/cgi-bin/...`.
    public var apiBase = "https://qyapi.weixin.qq.com"
    /// `platform.rate_limit.per_minute` and `per_hour`: calls per API Cohort allows itself,
    /// shared by sync, tag writes and sends (the platform's defaults).
    public var perMinuteLimit = 10_000
    public var perHourLimit = 150_000
    /// `platform.staff_names`: display names for staff whose names the app may not read.
    public var staffNames: [String: String] = [:]

    public init() {}
}

/// Where alerts go: staff members as a WeCom application message, and/or a webhook.
public struct AlertSettings: Sendable, Hashable {
    /// `alerts.staff`: userids who receive alerts as an application message (needs `agent_id`).
    public var staff: [String] = []
    /// `alerts.agent_id`: the AgentId of the self-built app whose secret is WECOM_SECRET.
    public var agentID: Int?
    /// `alerts.webhook_url`, env `COHORT_ALERT_WEBHOOK`: POSTed one JSON object per alert.
    public var webhookURL: String?

    public init() {}
}

/// How long data is kept; nil keeps it forever.
public struct RetentionSettings: Sendable, Hashable {
    /// `retention.ended_relations_days`: relations that ended longer ago are dropped.
    public var endedRelationsDays: Int?
    /// `retention.interactions_days`: interactions older than this are dropped.
    public var interactionsDays: Int?

    public init() {}

    public var isEnabled: Bool { endedRelationsDays != nil || interactionsDays != nil }
}

public struct SyncSettings: Sendable, Hashable {
    /// `sync.concurrency`: batch/get_by_user chains a full sync runs at once.
    public var concurrency = 16
    /// `sync.interval_hours`: `cohort serve` runs a full sync this often (nil: only by hand).
    public var intervalHours: Int?

    public init() {}
}

public struct InboxSettings: Sendable, Hashable {
    /// `inbox.max_attempts`: handler runs before an event is dead-lettered.
    public var maxAttempts = 8
    /// `inbox.retry_base_seconds`: delay before the first retry; doubles each time.
    public var retryBaseSeconds = 2.0
    /// `inbox.retry_max_seconds`: cap of any retry delay.
    public var retryMaxSeconds = 600.0
    /// `inbox.poll_interval_ms`: how often the processor looks for due retries when idle.
    public var pollIntervalMilliseconds = 500
    /// `inbox.batch_size`: events fetched per processor pass.
    public var batchSize = 100

    public init() {}

    public var retryPolicy: RetryPolicy {
        RetryPolicy(baseDelay: retryBaseSeconds, maxDelay: retryMaxSeconds, maxAttempts: maxAttempts)
    }
}

public struct LoggingSettings: Sendable, Hashable {
    public enum Level: String, Sendable, CaseIterable {
        case trace, debug, info, notice, warning, error, critical
    }

    public enum Format: String, Sendable, CaseIterable {
        case text, json
    }

    /// `logging.level`, env `COHORT_LOG_LEVEL`.
    public var level = Level.info
    /// `logging.format`: `text` or `json` (one object per line).
    public var format = Format.text

    public init() {}
}

/// Secrets. They come from the environment only and never print.
public struct Secrets: Sendable, CustomStringConvertible {
    /// `WECOM_SECRET`: the customer-contact app secret for API calls.
    public var wecomSecret: String?
    /// `WECOM_TOKEN`: the callback Token.
    public var callbackToken: String?
    /// `WECOM_AES_KEY`: the callback EncodingAESKey (43 characters).
    public var encodingAESKey: String?
    /// `COHORT_ADMIN_TOKEN`: bearer token of the admin API; unset means the API is off.
    public var adminToken: String?
    /// `COHORT_INGEST_TOKEN`: a bearer token that may only import interactions (for order systems).
    public var ingestToken: String?

    public init() {}

    public var description: String {
        func state(_ value: String?) -> String { value == nil ? "unset" : "set" }
        return "Secrets(WECOM_SECRET: \(state(wecomSecret)), WECOM_TOKEN: \(state(callbackToken)), "
            + "WECOM_AES_KEY: \(state(encodingAESKey)), COHORT_ADMIN_TOKEN: \(state(adminToken)), COHORT_INGEST_TOKEN: \(state(ingestToken)))"
    }
}

extension CohortSettings {
    /// The platform write budget per hour: the tighter of the minute and hour limits.
    public var callsPerHour: Double {
        min(Double(platform.perMinuteLimit) * 60, Double(platform.perHourLimit))
    }
}
