import CohortCore
import Foundation
import Logging
import PostgresNIO

/// Alerts of one corp on PostgreSQL. Raising is serialized per (kind, subject) with a
/// transaction-scoped advisory lock, so two instances seeing the same failure raise it once.
public struct PostgresAlertRepository: AlertRepository {
    private let store: PostgresStore
    public let corpID: String

    public init(store: PostgresStore, corpID: String) {
        self.store = store
        self.corpID = corpID
    }

    public func raise(_ kind: AlertKind, subject: String, message: String, at: Int64, quiet: Int64) async throws -> Bool {
        let logger = store.logger
        let corpID = self.corpID
        let lock = store.lockName("alert." + corpID + "." + kind.rawValue + "." + subject)
        return try await store.transaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(hashtext(\(lock)))", logger: logger)
            let recent = try await connection.query(
                """
                SELECT 1 FROM alerts WHERE corp_id = \(corpID) AND kind = \(kind.rawValue) AND subject = \(subject)
                  AND (delivered_at IS NULL OR raised_at > \(at - quiet)) LIMIT 1
                """, logger: logger)
            for try await _ in recent { return false }
            try await connection.query(
                """
                INSERT INTO alerts (corp_id, kind, subject, message, raised_at)
                VALUES (\(corpID), \(kind.rawValue), \(subject), \(message), \(at))
                """, logger: logger)
            return true
        }
    }

    public func undelivered(limit: Int) async throws -> [Alert] {
        try await alerts(
            "SELECT \(unescaped: Self.columns) FROM alerts WHERE corp_id = \(corpID) AND delivered_at IS NULL ORDER BY id LIMIT \(limit)")
    }

    public func markDelivered(_ id: Int64, at: Int64, error: String?) async throws {
        try await store.client.query("UPDATE alerts SET delivered_at = \(at), delivery_error = \(error) WHERE id = \(id)", logger: store.logger)
    }

    public func alerts(limit: Int) async throws -> [Alert] {
        try await alerts("SELECT \(unescaped: Self.columns) FROM alerts WHERE corp_id = \(corpID) ORDER BY id DESC LIMIT \(limit)")
    }

    private static let columns = "id, kind, subject, message, raised_at, delivered_at, delivery_error"

    private func alerts(_ query: PostgresQuery) async throws -> [Alert] {
        var alerts: [Alert] = []
        let rows = try await store.client.query(query, logger: store.logger)
        for try await (id, kind, subject, message, raisedAt, deliveredAt, deliveryError) in rows.decode(
            (Int64, String, String, String, Int64, Int64?, String?).self)
        {
            alerts.append(
                Alert(
                    id: id, kind: AlertKind(rawValue: kind) ?? .deadLetter, subject: subject, message: message, raisedAt: raisedAt,
                    deliveredAt: deliveredAt, deliveryError: deliveryError))
        }
        return alerts
    }
}

/// Welcome attempts of one corp on PostgreSQL.
public struct PostgresWelcomeRepository: WelcomeRepository {
    private let store: PostgresStore
    public let corpID: String

    public init(store: PostgresStore, corpID: String) {
        self.store = store
        self.corpID = corpID
    }

    public func record(_ attempt: WelcomeAttempt) async throws {
        try await store.client.query(
            """
            INSERT INTO welcome_attempts (corp_id, external_userid, userid, template, outcome, errcode, detail, event_time, attempted_at)
            VALUES (\(corpID), \(attempt.externalUserID), \(attempt.userID), \(attempt.template), \(attempt.outcome.rawValue),
                \(attempt.errcode), \(attempt.detail), \(attempt.eventTime), \(attempt.attemptedAt))
            """, logger: store.logger)
    }

    public func welcomeAttempts(of externalUserID: String) async throws -> [WelcomeAttempt] {
        try await attempts(
            "SELECT \(unescaped: Self.columns) FROM welcome_attempts WHERE corp_id = \(corpID) AND external_userid = \(externalUserID) ORDER BY id")
    }

    public func recentWelcomeAttempts(limit: Int) async throws -> [WelcomeAttempt] {
        try await attempts("SELECT \(unescaped: Self.columns) FROM welcome_attempts WHERE corp_id = \(corpID) ORDER BY id DESC LIMIT \(limit)")
    }

    public func pendingWelcomes(receivedSince since: Int64) async throws -> [PendingWelcome] {
        // The inbox is indexed by received_at here, so the window is read directly.
        let rows = try await store.client.query(
            """
            SELECT i.id, i.received_at, i.raw_xml FROM inbox i
            WHERE i.corp_id = \(corpID) AND i.received_at >= \(since * 1_000) AND i.event = 'change_external_contact'
              AND i.change_type IN ('add_external_contact', 'add_half_external_contact')
              AND strpos(i.raw_xml, 'WelcomeCode') > 0
              AND NOT EXISTS (
                SELECT 1 FROM welcome_attempts w
                WHERE w.corp_id = i.corp_id AND w.external_userid = i.external_user_id AND w.userid = i.user_id
                  AND w.event_time = i.create_time)
            ORDER BY i.id
            """, logger: store.logger)
        var pending: [PendingWelcome] = []
        for try await (id, receivedAt, rawXML) in rows.decode((Int64, Int64, String).self) {
            pending.append(PendingWelcome(inboxID: id, receivedAt: receivedAt / 1_000, rawXML: rawXML))
        }
        return pending
    }

    private static let columns = "external_userid, userid, template, outcome, errcode, detail, event_time, attempted_at"

    private func attempts(_ query: PostgresQuery) async throws -> [WelcomeAttempt] {
        var attempts: [WelcomeAttempt] = []
        let rows = try await store.client.query(query, logger: store.logger)
        for try await (external, userid, template, outcome, errcode, detail, eventTime, attemptedAt) in rows.decode(
            (String, String, String?, String, Int32?, String?, Int64, Int64).self)
        {
            attempts.append(
                WelcomeAttempt(
                    externalUserID: external, userID: userid, template: template, outcome: WelcomeOutcome(rawValue: outcome) ?? .failed,
                    errcode: errcode.map(Int.init), detail: detail, eventTime: eventTime, attemptedAt: attemptedAt))
        }
        return attempts
    }
}
