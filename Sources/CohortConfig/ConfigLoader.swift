import Foundation
import Yams

/// Loads and validates the operator's configuration: every file in the config directory plus
/// the environment. Nothing is returned unless the whole set is valid.
public struct ConfigLoader: Sendable {
    /// The config directory (default `Config`).
    public var directory: String
    public var environment: [String: String]

    /// Files Cohort reads from the config directory. Anything else there is reported, so a
    /// misnamed file is not silently ignored.
    public static let knownFiles = ["cohort.yaml", "grading.yaml", "tags.yaml", "segments.yaml", "campaigns.yaml"]

    /// Where message templates live (default `Templates`, or $COHORT_TEMPLATES_DIR).
    public var templatesDirectory: String {
        environment["COHORT_TEMPLATES_DIR"] ?? "Templates"
    }

    public init(directory: String = "Config", environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.directory = directory
        self.environment = environment
    }

    /// Every problem in the directory and environment; empty when the configuration is usable.
    public func check() -> [ConfigIssue] {
        var issues: [ConfigIssue] = []
        if case .failure(let error) = loadResult() { issues += error.issues }
        do {
            let grading = try GradingLoader(directory: directory).load()
            _ = try CampaignLoader(directory: directory, templatesDirectory: templatesDirectory).load(grading: grading)
        } catch {
            issues += error.issues
        }
        return issues.sorted()
    }

    /// The validated settings, or every problem found.
    public func load() throws(ConfigError) -> CohortSettings {
        try loadResult().get()
    }

    private func loadResult() -> Result<CohortSettings, ConfigError> {
        var issues: [ConfigIssue] = []
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            return .failure(ConfigError(issues: [ConfigIssue(file: directory, line: 0, column: 0, message: "config directory not found")]))
        }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for name in entries.sorted() where (name.hasSuffix(".yaml") || name.hasSuffix(".yml")) && !Self.knownFiles.contains(name) {
            let hint = suggestion(for: name, among: Self.knownFiles).map { "; did you mean \($0)?" } ?? ""
            issues.append(ConfigIssue(file: path(name), line: 1, column: 1, message: "unknown config file\(hint) (known: \(Self.knownFiles.joined(separator: ", ")))"))
        }
        var settings = CohortSettings()
        let file = path("cohort.yaml")
        let collector = IssueCollector(file: file)
        var fileRead = false
        if let text = read(file, collector: collector) {
            let root = composeYAML(text, issues: collector)
            if collector.issues.isEmpty {
                readCohortYAML(MappingReader(root, path: "", issues: collector), into: &settings)
                fileRead = true
            }
        }
        issues += collector.issues
        issues += applyEnvironment(to: &settings)
        // Only a file that could be read can be said to lack a value.
        if fileRead, settings.platform.corpID.isEmpty, !issues.contains(where: { $0.message.contains("platform.corp_id") }) {
            issues.append(ConfigIssue(file: file, line: 1, column: 1, message: "missing required value platform.corp_id (or set WECOM_CORP_ID)"))
        }
        return issues.isEmpty ? .success(settings) : .failure(ConfigError(issues: issues))
    }

    private func path(_ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    private func read(_ file: String, collector: IssueCollector) -> String? {
        guard let data = FileManager.default.contents(atPath: file) else {
            collector.add("cannot read file", at: nil)
            return nil
        }
        guard let text = String(data: data, encoding: .utf8) else {
            collector.add("file is not UTF-8", at: nil)
            return nil
        }
        return text
    }

    private func readCohortYAML(_ root: MappingReader, into settings: inout CohortSettings) {
        let server = root.mapping("server")
        if let host = server.string("host") { settings.server.host = host }
        if let port = server.int("port", in: 0...65535) { settings.server.port = port }
        if let max = server.int("max_body_bytes", in: 1024...(16 * 1024 * 1024)) { settings.server.maxBodyBytes = max }
        server.forbid("admin_token", because: "server.admin_token is a secret: set COHORT_ADMIN_TOKEN in the environment instead")
        server.finish()

        let database = root.mapping("database")
        if let path = database.string("path") { settings.database.path = path }
        if let durability = database.choice("durability", of: DatabaseSettings.Durability.self) {
            settings.database.durability = durability
        }
        database.finish()

        let platform = root.mapping("platform")
        if let corpID = platform.string("corp_id") { settings.platform.corpID = corpID }
        if let apiBase = platform.string("api_base") {
            if let problem = Self.apiBaseProblem(apiBase) {
                root.issues.add("platform.api_base \(problem)", at: platform.node("api_base")?.mark)
            } else {
                settings.platform.apiBase = apiBase
            }
        }
        let rateLimit = platform.mapping("rate_limit")
        if let value = rateLimit.int("per_minute", in: 1...1_000_000) { settings.platform.perMinuteLimit = value }
        if let value = rateLimit.int("per_hour", in: 1...100_000_000) { settings.platform.perHourLimit = value }
        rateLimit.finish()
        settings.platform.staffNames = platform.stringMap("staff_names")
        for (key, variable) in [("secret", "WECOM_SECRET"), ("corp_secret", "WECOM_SECRET"), ("token", "WECOM_TOKEN"),
            ("aes_key", "WECOM_AES_KEY"), ("encoding_aes_key", "WECOM_AES_KEY")] {
            platform.forbid(key, because: "platform.\(key) is a secret: set \(variable) in the environment instead")
        }
        platform.finish()

        let inbox = root.mapping("inbox")
        if let value = inbox.int("max_attempts", in: 1...1000) { settings.inbox.maxAttempts = value }
        if let value = inbox.double("retry_base_seconds", in: 0.01...86400) { settings.inbox.retryBaseSeconds = value }
        if let value = inbox.double("retry_max_seconds", in: 0.01...604_800) { settings.inbox.retryMaxSeconds = value }
        if let value = inbox.int("poll_interval_ms", in: 10...600_000) { settings.inbox.pollIntervalMilliseconds = value }
        if let value = inbox.int("batch_size", in: 1...10_000) { settings.inbox.batchSize = value }
        inbox.finish()

        let sync = root.mapping("sync")
        if let value = sync.int("concurrency", in: 1...64) { settings.sync.concurrency = value }
        if let value = sync.int("interval_hours", in: 1...8_760) { settings.sync.intervalHours = value }
        sync.finish()

        let alerts = root.mapping("alerts")
        settings.alerts.staff = alerts.stringList("staff")
        if let value = alerts.int("agent_id", in: 1...Int(Int32.max)) { settings.alerts.agentID = value }
        if let url = alerts.string("webhook_url") {
            if let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil {
                settings.alerts.webhookURL = url
            } else {
                root.issues.add("alerts.webhook_url must be an http(s) URL, not \"\(url)\"", at: alerts.node("webhook_url")?.mark)
            }
        }
        if !settings.alerts.staff.isEmpty, settings.alerts.agentID == nil {
            root.issues.add("alerts.staff needs alerts.agent_id: the app that sends the message", at: alerts.node("staff")?.mark)
        }
        alerts.finish()

        let retention = root.mapping("retention")
        if let value = retention.int("ended_relations_days", in: 1...36_500) { settings.retention.endedRelationsDays = value }
        if let value = retention.int("interactions_days", in: 1...36_500) { settings.retention.interactionsDays = value }
        retention.finish()

        let logging = root.mapping("logging")
        if let level = logging.choice("level", of: LoggingSettings.Level.self) { settings.logging.level = level }
        if let format = logging.choice("format", of: LoggingSettings.Format.self) { settings.logging.format = format }
        logging.finish()

        root.finish()
    }

    static func apiBaseProblem(_ value: String) -> String? {
        guard let url = URL(string: value), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            return "must be an http(s) URL such as https://qyapi.weixin.qq.com, not \"\(value)\""
        }
        if url.path.contains("cgi-bin") { return "is scheme and host only: Cohort appends /cgi-bin/..." }
        return nil
    }

    /// Applies environment overrides and secrets; returns problems with their values.
    private func applyEnvironment(to settings: inout CohortSettings) -> [ConfigIssue] {
        var issues: [ConfigIssue] = []
        func issue(_ variable: String, _ message: String) {
            issues.append(ConfigIssue(file: "environment", line: 0, column: 0, message: "\(variable) \(message)"))
        }
        func value(_ name: String) -> String? {
            guard let value = environment[name], !value.isEmpty else { return nil }
            return value
        }
        if let corpID = value("WECOM_CORP_ID") { settings.platform.corpID = corpID }
        if let apiBase = value("WECOM_API_BASE") {
            if let problem = Self.apiBaseProblem(apiBase) { issue("WECOM_API_BASE", problem) } else { settings.platform.apiBase = apiBase }
        }
        if let path = value("COHORT_DATABASE") { settings.database.path = path }
        if let url = value("COHORT_ALERT_WEBHOOK") { settings.alerts.webhookURL = url }
        if let host = value("COHORT_HTTP_HOST") { settings.server.host = host }
        if let port = value("COHORT_HTTP_PORT") {
            if let number = Int(port), (0...65535).contains(number) { settings.server.port = number } else {
                issue("COHORT_HTTP_PORT", "must be a port number from 0 to 65535, not \"\(port)\"")
            }
        }
        if let level = value("COHORT_LOG_LEVEL") {
            if let parsed = LoggingSettings.Level(rawValue: level) { settings.logging.level = parsed } else {
                issue("COHORT_LOG_LEVEL", "must be one of \(LoggingSettings.Level.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }
        settings.secrets.wecomSecret = value("WECOM_SECRET")
        settings.secrets.callbackToken = value("WECOM_TOKEN")
        settings.secrets.adminToken = value("COHORT_ADMIN_TOKEN")
        settings.secrets.ingestToken = value("COHORT_INGEST_TOKEN")
        if let key = value("WECOM_AES_KEY") {
            // The key's value never appears in a message.
            if Self.isEncodingAESKey(key) { settings.secrets.encodingAESKey = key } else {
                issue("WECOM_AES_KEY", "must be the 43-character EncodingAESKey from the admin console (letters and digits; got \(key.count) characters)")
            }
        }
        return issues
    }

    static func isEncodingAESKey(_ value: String) -> Bool {
        value.utf8.count == 43 && value.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)) }
    }
}
