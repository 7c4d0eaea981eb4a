import CohortCore
import CohortPostgres
import CohortStore
import CohortTesting
import Foundation
import Testing

/// A fresh, empty directory for corp `ww` on `backend`.
func withDirectory(_ backend: StoreBackend, _ body: (any DirectoryRepository) async throws -> Void) async throws {
    switch backend {
    case .sqlite:
        try await body(SQLiteDirectoryRepository(database: try CohortDatabase(), corpID: "ww"))
    case .postgres:
        try await withPostgresStore { store in try await body(PostgresDirectoryRepository(store: store, corpID: "ww")) }
    }
}

/// The directory port, the same expectations on SQLite and PostgreSQL.
struct DirectoryRepositoryTests {
    static let t0 = Date(timeIntervalSince1970: 1_700_000_000)

    static let catalogue = [
        TagGroup(id: "gA", name: "客户等级", order: 2, createTime: 1_600_000_000, tags: [
            Tag(id: "tA1", groupID: "gA", name: "VIP", order: 5), Tag(id: "tA2", groupID: "gA", name: "普通", order: 1),
        ]),
        TagGroup(id: "gB", name: "来源", order: 1, tags: [Tag(id: "tB1", groupID: "gB", name: "展会")]),
    ]

    static func snapshot() -> DirectorySnapshot {
        let contacts = [
            Contact(externalUserID: "wmA", name: "张三", type: 1, gender: 1, unionID: "unA", corpName: "甲公司"),
            Contact(externalUserID: "wmB", name: "李四", type: 2, gender: 2, position: "经理"),
        ]
        let relations = [
            Relation(externalUserID: "wmA", userID: "u1", remark: "老客户", createTime: 1_650_000_000, addWay: 1,
                     remarkMobiles: ["138-0013-8000"], tagIDs: ["tA1", "tB1"]),
            Relation(externalUserID: "wmA", userID: "u2", createTime: 1_650_000_100, state: "booth_07"),
            Relation(externalUserID: "wmB", userID: "u1", description: "采购", createTime: 1_660_000_000, tagIDs: ["tA2"]),
        ]
        return DirectorySnapshot(
            staff: [StaffMember(userID: "u1", name: "王五"), StaffMember(userID: "u2")],
            contacts: Dictionary(uniqueKeysWithValues: contacts.map { ($0.externalUserID, $0) }),
            relations: Dictionary(uniqueKeysWithValues: relations.map { ($0.key, $0) }), tagGroups: catalogue)
    }

    /// Applies the diff from what is stored to `snapshot`, as a full sync does.
    @discardableResult
    static func sync(_ directory: any DirectoryRepository, to snapshot: DirectorySnapshot, at time: Date = t0) async throws -> Int {
        try await directory.apply(DirectoryDiff.changes(from: try await directory.state(), to: snapshot), at: time)
    }

    @Test(arguments: StoreBackend.available)
    func aSyncedSnapshotReadsBackEqualAndWritingItAgainChangesNothing(_ backend: StoreBackend) async throws {
        try await withDirectory(backend) { directory in
            let snapshot = Self.snapshot()
            #expect(try await Self.sync(directory, to: snapshot) > 0)
            let state = try await directory.state()
            #expect(state.contacts == snapshot.contacts)
            #expect(state.relations == snapshot.relations)
            #expect(state.tagGroups == snapshot.tagGroups)
            #expect(state.staff == ["u1": StaffMember(userID: "u1", name: "王五"), "u2": StaffMember(userID: "u2")])
            #expect(try await directory.catalogue() == snapshot.tagGroups)
            #expect(try await Self.sync(directory, to: snapshot) == 0)
            #expect(try await directory.upsert(snapshot.contacts["wmB"]!, relations: [snapshot.relations[RelationKey(externalUserID: "wmB", userID: "u1")]!], at: Self.t0) == 0)
        }
    }

    @Test(arguments: StoreBackend.available)
    func whatASyncNoLongerSeesEndsAndComesBackWhenSeenAgain(_ backend: StoreBackend) async throws {
        try await withDirectory(backend) { directory in
            let full = Self.snapshot()
            try await Self.sync(directory, to: full)
            var smaller = full
            smaller.contacts["wmB"] = nil
            smaller.relations[RelationKey(externalUserID: "wmB", userID: "u1")] = nil
            var edited = smaller.relations[RelationKey(externalUserID: "wmA", userID: "u1")]!
            edited.remark = "大客户"
            edited.tagIDs = ["tA2"]
            smaller.relations[edited.key] = edited
            smaller.tagGroups = [full.tagGroups[0]]
            try await Self.sync(directory, to: smaller, at: Self.t0.addingTimeInterval(60))
            let state = try await directory.state()
            #expect(state.contacts["wmB"] == nil)
            #expect(state.relations == smaller.relations)
            #expect(try await directory.catalogue().map(\.id) == ["gA"])
            let ended = try #require(try await directory.contacts(ContactFilter(includeEnded: true)).first { $0.contact.externalUserID == "wmB" })
            #expect(ended.endedAt == Self.t0.addingTimeInterval(60))
            #expect(ended.relations.first?.endReason == "not seen by sync")
            #expect(ended.relations.first?.relation.tagIDs == [])
            try await Self.sync(directory, to: full, at: Self.t0.addingTimeInterval(120))
            #expect(try await directory.state().relations == full.relations)
            #expect(try await directory.contact("wmB")?.endedAt == nil)
        }
    }

    @Test(arguments: StoreBackend.available)
    func listingsFilterByTagNameStaffAndTextAndResolveTagNames(_ backend: StoreBackend) async throws {
        try await withDirectory(backend) { directory in
            try await Self.sync(directory, to: Self.snapshot())
            func ids(_ filter: ContactFilter) async throws -> [String] {
                try await directory.contacts(filter).map(\.contact.externalUserID)
            }
            #expect(try await ids(ContactFilter()) == ["wmA", "wmB"])
            #expect(try await ids(ContactFilter(tag: "VIP")) == ["wmA"])
            #expect(try await ids(ContactFilter(tag: "客户等级/普通")) == ["wmB"])
            #expect(try await ids(ContactFilter(tag: "tB1")) == ["wmA"])
            #expect(try await ids(ContactFilter(tag: "no such tag")) == [])
            #expect(try await ids(ContactFilter(staff: "u2")) == ["wmA"])
            #expect(try await ids(ContactFilter(text: "李")) == ["wmB"])
            #expect(try await ids(ContactFilter(text: "老客")) == ["wmA"])
            #expect(try await ids(ContactFilter(text: "0013")) == ["wmA"])
            #expect(try await ids(ContactFilter(text: "%")) == [])
            #expect(try await ids(ContactFilter(limit: 1)) == ["wmA"])
            let a = try #require(try await directory.contact("wmA"))
            #expect(a.contact.name == "张三")
            #expect(a.firstSeenAt == Self.t0)
            #expect(a.relations.map(\.relation.userID) == ["u1", "u2"])
            #expect(a.relations.first?.tagNames == ["tA1": "客户等级/VIP", "tB1": "来源/展会"])
            #expect(try await directory.contact("wmZ") == nil)
        }
    }

    @Test(arguments: StoreBackend.available)
    func anEndedRelationEndsItsCustomerOnlyWhenNoOneFollowsThemAndNeverOneAddedAfterTheEvent(_ backend: StoreBackend) async throws {
        try await withDirectory(backend) { directory in
            try await Self.sync(directory, to: Self.snapshot())
            // Created at 1,650,000,100: a delete from before that is about an earlier relation.
            #expect(try await !directory.endRelation(RelationKey(externalUserID: "wmA", userID: "u2"), reason: "del_follow_user", eventTime: 1_650_000_000, at: Self.t0))
            #expect(try await directory.endRelation(RelationKey(externalUserID: "wmA", userID: "u1"), reason: "del_external_contact", eventTime: 1_700_000_500, at: Self.t0))
            #expect(try await directory.contact("wmA")?.endedAt == nil)
            #expect(try await directory.endRelation(RelationKey(externalUserID: "wmA", userID: "u2"), reason: "del_follow_user", eventTime: 1_700_000_600, at: Self.t0))
            let a = try #require(try await directory.contact("wmA"))
            #expect(a.endedAt == Date(timeIntervalSince1970: 1_700_000_600))
            #expect(a.relations.map(\.endReason) == ["del_external_contact", "del_follow_user"])
            #expect(try await !directory.endRelation(RelationKey(externalUserID: "wmA", userID: "u1"), reason: "again", eventTime: 1_700_000_700, at: Self.t0))
        }
    }

    @Test(arguments: StoreBackend.available)
    func contactEventsAreRecordedOnceAndListedNewestFirst(_ backend: StoreBackend) async throws {
        try await withDirectory(backend) { directory in
            let lost = ContactEvent(kind: .lostCustomer, externalUserID: "wmA", userID: "u1", occurredAt: 100)
            let first = try await directory.record(lost, at: Self.t0)
            let again = try await directory.record(lost, at: Self.t0)
            let chat = try await directory.record(ContactEvent(kind: .chatChanged, chatID: "wr1", occurredAt: 200, detail: "add_member"), at: Self.t0)
            #expect(first)
            #expect(!again)
            #expect(chat)
            #expect(try await directory.events(kind: nil, limit: 10).map(\.occurredAt) == [200, 100])
            #expect(try await directory.events(kind: .lostCustomer, limit: 10) == [lost])
            #expect(try await directory.events(kind: nil, limit: 1).count == 1)
        }
    }

    @Test(arguments: StoreBackend.available)
    func deletedTagsAndGroupsLeaveTheCatalogueAndKeepTheirNames(_ backend: StoreBackend) async throws {
        try await withDirectory(backend) { directory in
            try await Self.sync(directory, to: Self.snapshot())
            #expect(try await directory.endTags(tagIDs: ["tA2"], groupIDs: ["gB"], at: Self.t0) == 3)
            #expect(try await directory.endTags(tagIDs: ["tA2"], groupIDs: ["gB"], at: Self.t0) == 0)
            let catalogue = try await directory.catalogue()
            #expect(catalogue.map(\.id) == ["gA"])
            #expect(catalogue.first?.tags.map(\.id) == ["tA1"])
            // Still named on the relation that carries it.
            #expect(try await directory.contact("wmA")?.relations.first?.tagNames["tB1"] == "来源/展会")
            #expect(try await directory.upsertTagGroups(Self.catalogue, at: Self.t0) == 3)
            #expect(try await directory.catalogue() == Self.catalogue)
        }
    }
}
