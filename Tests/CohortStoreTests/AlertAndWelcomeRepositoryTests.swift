import CohortCore
import CohortPostgres
import CohortStore
import CohortTesting
import Foundation
import Testing

/// Alerts and welcome attempts behave the same on both stores.
struct AlertAndWelcomeRepositoryTests {
    /// The repositories of one fresh store.
    func withRepositories(
        _ backend: StoreBackend, _ body: (any AlertRepository, any WelcomeRepository, any InboxRepository) async throws -> Void
    ) async throws {
        switch backend {
        case .sqlite:
            let database = try CohortDatabase()
            try await body(
                SQLiteAlertRepository(database: database, corpID: "wwcorp"), SQLiteCampaignRepository(database: database, corpID: "wwcorp"),
                SQLiteInboxRepository(database: database))
        case .postgres:
            try await withPostgresStore { store in
                try await body(
                    PostgresAlertRepository(store: store, corpID: "wwcorp"), PostgresWelcomeRepository(store: store, corpID: "wwcorp"),
                    PostgresInboxRepository(store: store))
            }
        }
    }

    @Test(arguments: StoreBackend.available)
    func anAlertIsRaisedOnceUntilDeliveredAndQuiet(_ backend: StoreBackend) async throws {
        try await withRepositories(backend) { alerts, _, _ in
            #expect(try await alerts.raise(.deadLetter, subject: "inbox 7", message: "failed 8 times", at: 1_000, quiet: 3_600))
            #expect(try await !alerts.raise(.deadLetter, subject: "inbox 7", message: "again", at: 1_010, quiet: 3_600), "undelivered: not twice")
            #expect(try await alerts.raise(.campaignPaused, subject: "inbox 7", message: "other kind", at: 1_010, quiet: 3_600))
            let undelivered = try await alerts.undelivered(limit: 10)
            #expect(undelivered.map(\.kind) == [.deadLetter, .campaignPaused])
            try await alerts.markDelivered(undelivered[0].id, at: 1_020, error: nil)
            #expect(try await !alerts.raise(.deadLetter, subject: "inbox 7", message: "within quiet", at: 2_000, quiet: 3_600))
            #expect(try await alerts.raise(.deadLetter, subject: "inbox 7", message: "after quiet", at: 5_000, quiet: 3_600))
            let latest = try await alerts.alerts(limit: 10)
            #expect(latest.map(\.message) == ["after quiet", "other kind", "failed 8 times"])
            #expect(latest.last?.deliveredAt == 1_020)
        }
    }

    @Test(arguments: StoreBackend.available)
    func welcomeAttemptsAreKeptAndAnUnattemptedAddIsPending(_ backend: StoreBackend) async throws {
        try await withRepositories(backend) { _, welcome, inbox in
            func add(_ contact: String, welcomeCode: Bool, receivedAt: Double) -> NewInboxEvent {
                var fields = [
                    CallbackField("MsgType", "event"), CallbackField("Event", "change_external_contact"),
                    CallbackField("ChangeType", "add_external_contact"), CallbackField("UserID", "zhangsan"),
                    CallbackField("ExternalUserID", contact), CallbackField("CreateTime", "1700000000"),
                ]
                if welcomeCode { fields.append(CallbackField("WelcomeCode", "CODE")) }
                let xml = "<xml>" + fields.map { "<\($0.name)>\($0.value)</\($0.name)>" }.joined() + "</xml>"
                return NewInboxEvent(
                    corpID: "wwcorp", dedupKey: contact, receivedAt: Date(timeIntervalSince1970: receivedAt), rawXML: xml,
                    fields: CallbackFields(fields), status: .pending)
            }
            _ = try await inbox.append([
                add("wmA", welcomeCode: true, receivedAt: 1_700_000_001), add("wmB", welcomeCode: true, receivedAt: 1_700_000_002),
                add("wmC", welcomeCode: false, receivedAt: 1_700_000_003), add("wmOld", welcomeCode: true, receivedAt: 1_699_000_000),
            ])
            try await welcome.record(
                WelcomeAttempt(externalUserID: "wmA", userID: "zhangsan", template: "welcome", outcome: .failed, errcode: -1, eventTime: 1_700_000_000, attemptedAt: 1_700_000_001))
            try await welcome.record(
                WelcomeAttempt(externalUserID: "wmA", userID: "zhangsan", template: "welcome", outcome: .sent, eventTime: 1_700_000_000, attemptedAt: 1_700_000_002))
            #expect(try await welcome.welcomeAttempts(of: "wmA").map(\.outcome) == [.failed, .sent])
            #expect(try await welcome.welcomeAttempts(of: "wmA").first?.errcode == -1)
            #expect(try await welcome.recentWelcomeAttempts(limit: 1).map(\.outcome) == [.sent])
            // B has a code and no attempt; C has no code; the old one is outside the window.
            let pending = try await welcome.pendingWelcomes(receivedSince: 1_700_000_000)
            #expect(pending.count == 1)
            #expect(pending.first?.rawXML.contains("wmB") == true)
            #expect(pending.first?.receivedAt == 1_700_000_002)
        }
    }
}

/// The audit log behaves the same on both stores.
struct AuditLogTests {
    @Test(arguments: StoreBackend.available)
    func entriesAreKeptPerCorpAndListedNewestFirst(_ backend: StoreBackend) async throws {
        func check(_ log: any AuditLog, _ other: any AuditLog) async throws {
            try await log.record(AuditEntry(at: 100, actor: "cli:ops", action: "config.apply", subject: "v1"))
            try await log.record(AuditEntry(at: 100, actor: "api", action: "campaign.start", subject: "spring", detail: "94957 recipients"))
            try await other.record(AuditEntry(at: 50, actor: "serve", action: "forget", subject: "wmX"))
            let entries = try await log.entries(limit: 10)
            #expect(entries.map(\.action) == ["campaign.start", "config.apply"])
            #expect(entries.first?.detail == "94957 recipients")
            #expect(try await log.entries(limit: 1).count == 1)
            #expect(try await other.entries(limit: 10).map(\.subject) == ["wmX"])
        }
        switch backend {
        case .sqlite:
            let database = try CohortDatabase()
            try await check(SQLiteAuditLog(database: database, corpID: "wwcorp"), SQLiteAuditLog(database: database, corpID: "wwother"))
        case .postgres:
            try await withPostgresStore { store in
                try await check(PostgresAuditLog(store: store, corpID: "wwcorp"), PostgresAuditLog(store: store, corpID: "wwother"))
            }
        }
    }
}
