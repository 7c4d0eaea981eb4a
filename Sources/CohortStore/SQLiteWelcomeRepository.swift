import CohortCore
import Foundation
import GRDB

extension SQLiteCampaignRepository: WelcomeRepository {
    public func record(_ attempt: WelcomeAttempt) async throws {
        let corpID = self.corpID
        try await writer.write { db in
            try db.execute(
                sql: """
                    INSERT INTO welcome_attempts (corp_id, external_userid, userid, template, outcome, errcode, detail, event_time, attempted_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    corpID, attempt.externalUserID, attempt.userID, attempt.template, attempt.outcome.rawValue, attempt.errcode,
                    attempt.detail, attempt.eventTime, attempt.attemptedAt,
                ])
        }
    }

    public func welcomeAttempts(of externalUserID: String) async throws -> [WelcomeAttempt] {
        let corpID = self.corpID
        return try await writer.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM welcome_attempts WHERE corp_id = ? AND external_userid = ? ORDER BY id",
                arguments: [corpID, externalUserID]
            ).map(Self.attempt)
        }
    }

    public func recentWelcomeAttempts(limit: Int) async throws -> [WelcomeAttempt] {
        let corpID = self.corpID
        return try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM welcome_attempts WHERE corp_id = ? ORDER BY id DESC LIMIT ?", arguments: [corpID, limit])
                .map(Self.attempt)
        }
    }

    public func pendingWelcomes(receivedSince since: Int64) async throws -> [PendingWelcome] {
        let corpID = self.corpID
        return try await writer.read { db in
            // received_at is in milliseconds in the inbox, which has no index on it: only the
            // newest rows (arrival order is id order) can be inside a 20 s window, so start-up
            // reads those, not the whole inbox.
            try Row.fetchAll(
                db,
                sql: """
                    SELECT i.id, i.received_at, i.raw_xml FROM (SELECT * FROM inbox ORDER BY id DESC LIMIT 10000) i
                    WHERE i.corp_id = ? AND i.received_at >= ? AND i.event = 'change_external_contact'
                      AND i.change_type IN ('add_external_contact', 'add_half_external_contact')
                      AND instr(i.raw_xml, 'WelcomeCode') > 0
                      AND NOT EXISTS (
                        SELECT 1 FROM welcome_attempts w
                        WHERE w.corp_id = i.corp_id AND w.external_userid = i.external_user_id AND w.userid = i.user_id
                          AND w.event_time = i.create_time)
                    ORDER BY i.id
                    """, arguments: [corpID, since * 1_000]
            ).map { PendingWelcome(inboxID: $0[0], receivedAt: ($0[1] as Int64) / 1_000, rawXML: $0[2]) }
        }
    }

    static func attempt(_ row: Row) -> WelcomeAttempt {
        WelcomeAttempt(
            externalUserID: row["external_userid"], userID: row["userid"], template: row["template"],
            outcome: WelcomeOutcome(rawValue: row["outcome"]) ?? .failed, errcode: row["errcode"], detail: row["detail"],
            eventTime: row["event_time"], attemptedAt: row["attempted_at"])
    }
}
