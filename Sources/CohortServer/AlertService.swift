import CohortConfig
import CohortCore
import Foundation
import Logging
import ServiceLifecycle
import WeComKit

/// Delivers raised alerts to the configured staff (a WeCom application message) and webhook,
/// and raises one when the platform says Cohort's setup is wrong (48002, 60020, ...).
public struct AlertService: Service {
    public let alerts: any AlertRepository
    public let settings: AlertSettings
    public let client: WeComClient?
    public let transport: any PlatformTransport
    public var interval: Duration = .seconds(10)
    public var now: @Sendable () -> Date = { Date() }
    /// One instance at a time delivers, so an alert reaches people once (a no-op lock on SQLite).
    public var jobLock: any JobLock = LocalJobLock()
    public let logger: Logger

    public init(alerts: any AlertRepository, settings: AlertSettings, client: WeComClient?, transport: any PlatformTransport, logger: Logger) {
        self.alerts = alerts
        self.settings = settings
        self.client = client
        self.transport = transport
        self.logger = logger
    }

    public func run() async throws {
        var seenConfigurationError: Date?
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            if let problem = PlatformHealth.snapshot.configurationError, problem.at != seenConfigurationError {
                seenConfigurationError = problem.at
                _ = try? await alerts.raise(
                    .platformConfiguration, subject: "errcode \(problem.errcode)",
                    message: "the platform refuses Cohort's setup: \(problem.endpoint) answered \(problem.errcode) (\(Self.hint(problem.errcode))); see docs/wecom-setup.md",
                    at: Int64(problem.at.timeIntervalSince1970))
            }
            do {
                _ = try await jobLock.withLock("alerts.deliver") { try await deliverPending() }
            } catch {
                logger.warning("alert delivery pass failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    /// Sends every undelivered alert once and records how it went.
    public func deliverPending() async throws {
        for alert in try await alerts.undelivered(limit: 50) {
            var problems: [String] = []
            let text = "[Cohort] \(alert.kind.rawValue): \(alert.message)"
            if let agentID = settings.agentID, !settings.staff.isEmpty {
                if let client {
                    do throws(PlatformError) {
                        let missed = try await client.sendApplicationMessage(to: settings.staff, agentID: agentID, text: text)
                        if !missed.isEmpty { problems.append("not delivered to \(missed.joined(separator: ", "))") }
                    } catch {
                        problems.append("message/send: \(error)")
                    }
                } else {
                    problems.append("no platform client (WECOM_SECRET) for the application message")
                }
            }
            if let webhook = settings.webhookURL.flatMap(URL.init(string:)) {
                do {
                    let body = try JSONEncoder().encode(WebhookBody(alert))
                    let response = try await transport.send(TransportRequest(method: "POST", url: webhook, body: body, contentType: "application/json"))
                    if !(200..<300).contains(response.status) { problems.append("webhook answered HTTP \(response.status)") }
                } catch {
                    problems.append("webhook: \(error)")
                }
            }
            let error = problems.isEmpty ? nil : problems.joined(separator: "; ")
            try await alerts.markDelivered(alert.id, at: Int64(now().timeIntervalSince1970), error: error)
            logger.notice(
                "alert", metadata: ["kind": "\(alert.kind.rawValue)", "subject": "\(alert.subject)", "delivery": "\(error ?? "ok")"])
        }
    }

    struct WebhookBody: Encodable {
        var kind: String
        var subject: String
        var message: String
        var raised_at: String

        init(_ alert: Alert) {
            kind = alert.kind.rawValue
            subject = alert.subject
            message = alert.message
            raised_at = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(alert.raisedAt)))
        }
    }

    static func hint(_ errcode: Int) -> String {
        switch errcode {
        case 40001: "the secret is wrong"
        case 40013: "the corp id is wrong"
        case 41004: "the secret is missing"
        case 40056: "the agent id is wrong"
        case 48002: "the app may not call this API: add it to 客户联系 → 可调用接口的应用"
        case 60011: "the staff member is outside the app's visible range"
        case 60020: "this server's IP is not in the app's trusted IPs"
        default: "a configuration error"
        }
    }
}
