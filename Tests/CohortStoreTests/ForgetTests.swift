import CohortCore
import CohortStore
import CohortTesting
import Foundation
import GRDB
import Testing

/// Forgetting a person erases their data and keeps it erased, whatever writes it later.
struct ForgetTests {
    let database: CohortDatabase
    let directory: SQLiteDirectoryRepository
    let interactions: SQLiteInteractionRepository
    let now = Date(timeIntervalSince1970: 1_795_392_000)

    init() throws {
        database = try CohortDatabase()
        directory = SQLiteDirectoryRepository(database: database, corpID: "wwcorp")
        interactions = SQLiteInteractionRepository(database: database, corpID: "wwcorp")
    }

    func personal() async throws -> [String?] {
        try await database.writer.read { db in
            let contact = try Row.fetchOne(db, sql: "SELECT name, unionid, corp_name FROM contacts WHERE external_userid = 'wmA'")!
            let relation = try Row.fetchOne(db, sql: "SELECT remark, description, remark_mobiles FROM relations WHERE external_userid = 'wmA'")!
            let phones = try Int.fetchOne(db, sql: "SELECT count(*) FROM contact_phones WHERE external_userid = 'wmA'")!
            let attributes = try String.fetchAll(db, sql: "SELECT ifnull(attributes, '') || ref_value FROM interactions")
            return [contact[0], contact[1], contact[2], relation[0], relation[1], relation[2], String(phones)] + attributes
        }
    }

    func sync() async throws {
        _ = try await directory.upsert(
            Contact(externalUserID: "wmA", name: "王小明", unionID: "oUNION", corpName: "小明科技"),
            relations: [Relation(externalUserID: "wmA", userID: "zhangsan", remark: "王总", description: "VIP", remarkMobiles: ["13800138000"])],
            at: now)
    }

    @Test func personalDataIsErasedAndStaysErasedAfterASyncAndAReimport() async throws {
        try await sync()
        var order = Interaction(kind: "order", contact: .phone("13800138000"), occurredAt: 1_795_000_000, amountCents: 990, source: "shop", sourceID: "1")
        order.attributes = ["address": "上海市某路1号"]
        _ = try await interactions.store([order], at: now)
        #expect(try await personal().contains("王小明"))

        let report = try #require(try await directory.forget("wmA", at: 1))
        #expect(report.relationRows == 1 && report.phoneRows == 1 && report.interactionRows == 1)
        let erased: [String?] = [nil, nil, nil, nil, nil, "", "0", "wmA"]
        #expect(try await personal() == erased)

        // The platform still has the name and remark: a sync and a re-import bring nothing back.
        try await sync()
        _ = try await interactions.store([order], at: now)
        #expect(try await personal() == erased)
        #expect(try await interactions.interactions(of: "wmA").map(\.amountCents) == [990], "the amounts stay")
        #expect(try await directory.forget("wmNOBODY", at: 1) == nil)
    }

    /// The same through the ports only, on every backend: what an operator and the grader read back.
    @Test(arguments: StoreBackend.available)
    func aForgottenPersonStaysErasedThroughSyncsAndReimportsOnEveryBackend(_ backend: StoreBackend) async throws {
        let now = self.now
        try await withInteractions(backend) { directory, interactions in
            func sync() async throws {
                _ = try await directory.upsert(
                    Contact(externalUserID: "wmA", name: "王小明", unionID: "oUNION", corpName: "小明科技"),
                    relations: [Relation(externalUserID: "wmA", userID: "zhangsan", remark: "王总", description: "VIP", remarkMobiles: ["13800138000"])],
                    at: now)
            }
            func erased() async throws -> Bool {
                let stored = try #require(try await directory.contact("wmA"))
                let relation = try #require(stored.relations.first?.relation)
                let orders = try await interactions.interactions(of: "wmA")
                return stored.contact.name == nil && stored.contact.unionID == nil && stored.contact.corpName == nil
                    && relation.remark == nil && relation.description == nil && relation.remarkMobiles.isEmpty
                    && orders.allSatisfy { $0.attributes.isEmpty && $0.contact == .externalUserID("wmA") }
            }
            try await sync()
            var order = Interaction(kind: "order", contact: .phone("13800138000"), occurredAt: 1_795_000_000, amountCents: 990, source: "shop", sourceID: "1")
            order.attributes = ["address": "上海市某路1号"]
            _ = try await interactions.store([order], at: now)
            #expect(try await directory.contact("wmA")?.contact.name == "王小明")

            let report = try #require(try await directory.forget("wmA", at: 1))
            #expect(report.contactRows == 1 && report.relationRows == 1 && report.phoneRows == 1 && report.interactionRows == 1)
            #expect(try await erased())
            #expect(try await interactions.resolve([.phone("13800138000")]).isEmpty, "the phone no longer finds the person")

            // The platform still has the name and remark: a sync and a re-import bring nothing back.
            try await sync()
            _ = try await interactions.store([order], at: now)
            #expect(try await erased())
            #expect(try await interactions.interactions(of: "wmA").map(\.amountCents) == [990], "the amounts stay")
            #expect(try await directory.forget("wmNOBODY", at: 1) == nil)
        }
    }

    @Test func aBackupIsAWholeConsistentCopyAndNeverOverwrites() async throws {
        try await sync()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-backup-\(UUID().uuidString).sqlite").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try database.backup(to: path)
        let copy = try DatabaseQueue(path: path)
        #expect(try await copy.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM contacts") } == 1)
        #expect(throws: StoreError.self) { try database.backup(to: path) }
    }
}

/// After a crash, the welcome lane finds add events of the last seconds that have no attempt.
struct PendingWelcomeTests {
    @Test func anAddEventWithAWelcomeCodeIsPendingUntilAnAttemptIsRecorded() async throws {
        let database = try CohortDatabase()
        let inbox = SQLiteInboxRepository(database: database)
        let welcomes = SQLiteCampaignRepository(database: database, corpID: "ww")
        let received = Date(timeIntervalSince1970: 1_795_392_000)
        func event(_ key: String, change: String, welcome: Bool) -> NewInboxEvent {
            var fields = [
                CallbackField("MsgType", "event"), CallbackField("Event", "change_external_contact"), CallbackField("ChangeType", change),
                CallbackField("UserID", "u1"), CallbackField("ExternalUserID", "wm" + key), CallbackField("CreateTime", "1795392000"),
            ]
            if welcome { fields.append(CallbackField("WelcomeCode", "CODE" + key)) }
            let raw = "<xml>" + fields.map { "<\($0.name)>\($0.value.text ?? "")</\($0.name)>" }.joined() + "</xml>"
            return NewInboxEvent(corpID: "ww", dedupKey: key, receivedAt: received, rawXML: raw, fields: CallbackFields(fields), status: .pending)
        }
        _ = try await inbox.append([
            event("A", change: "add_external_contact", welcome: true), event("B", change: "edit_external_contact", welcome: false),
            event("C", change: "add_half_external_contact", welcome: true),
        ])
        let since = Int64(received.timeIntervalSince1970) - 20
        #expect(try await welcomes.pendingWelcomes(receivedSince: since).count == 2)
        #expect(try await welcomes.pendingWelcomes(receivedSince: since + 21).isEmpty, "outside the window")
        try await welcomes.record(WelcomeAttempt(externalUserID: "wmA", userID: "u1", outcome: .sent, eventTime: 1_795_392_000, attemptedAt: 1))
        #expect(try await welcomes.pendingWelcomes(receivedSince: since).map { $0.rawXML.contains("wmC") } == [true])
    }
}
