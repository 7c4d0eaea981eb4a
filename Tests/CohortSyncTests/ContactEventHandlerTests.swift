import CohortCore
import CohortStore
import CohortSync
import CohortTesting
import Foundation
import Testing
import WeComKit
import WeComSimulator

/// Callback events from simulated console actions, applied by the handler.
@Suite struct ContactEventHandlerTests {
    let platform = SimulatedPlatform(corp: SimCorps.corp(relationsPerStaff: [2, 1]))
    let repository: SQLiteDirectoryRepository
    let handler: ContactEventHandler

    init() throws {
        repository = SQLiteDirectoryRepository(database: try CohortDatabase(inMemory: ()), corpID: "wx5823bf96d3bd56c7")
        let clock = platform.clock
        handler = ContactEventHandler(client: platform.client(), repository: repository, now: { clock.now })
    }

    func sync() async throws {
        let clock = platform.clock
        _ = try await FullSync(client: platform.client(), repository: repository, now: { clock.now }).run()
    }

    /// Performs the action on the simulator and hands its callbacks to the handler.
    @discardableResult
    func act(_ action: ConsoleAction) async throws -> [InboxDelivery] {
        let result = try await platform.simulator.perform(action)
        var deliveries: [InboxDelivery] = []
        for delivery in result.deliveries {
            let fields = try CallbackXML.parseMessage(delivery.xml)
            let record = InboxEvent(id: Int64(delivery.seq), corpID: "wx5823bf96d3bd56c7", dedupKey: "k\(delivery.seq)", receivedAt: platform.clock.now, rawXML: delivery.xml, status: .pending)
            let inbox = InboxDelivery(record: record, fields: fields)
            try await handler.handle(inbox)
            deliveries.append(inbox)
        }
        return deliveries
    }

    @Test func anAddedCustomerIsFetchedAndStored() async throws {
        let events = try await act(ConsoleAction(.addContact, userid: "u1", name: "王五", state: "booth_07"))
        let external = try #require(events.first?.fields["ExternalUserID"])
        let stored = try #require(try await repository.contact(external))
        #expect(stored.contact.name == "王五")
        #expect(stored.relations.map(\.relation.userID) == ["u1"])
        #expect(stored.relations.first?.relation.state == "booth_07")
    }

    @Test func editsRefreshTagsAndRemarksAndReplayingChangesNothing() async throws {
        try await sync()
        let customer = await platform.simulator.corp.listing["u0"]![1]
        let events = try await act(ConsoleAction(.editContact, userid: "u0", external_userid: customer, remark: "老客户", add_tag: ["etTAG0000000000000000000000002"]))
        let relation = try #require(try await repository.contact(customer)?.relations.first?.relation)
        #expect(relation.remark == "老客户")
        #expect(relation.tagIDs == ["etTAG0000000000000000000000002"])
        let before = try await repository.state()
        for event in events { try await handler.handle(event) }
        #expect(try await repository.state() == before)
        #expect(try await FullSync(client: platform.client(), repository: repository).check().isEmpty)
    }

    @Test func addsAndEditsReReadTheCustomerSoTheyAnswerItsEditsButDeletesAnswerNothing() throws {
        func delivery(_ changeType: String) throws -> InboxDelivery {
            let fields = CallbackFields([
                CallbackField("MsgType", "event"), CallbackField("Event", "change_external_contact"),
                CallbackField("ChangeType", changeType), CallbackField("UserID", "u0"), CallbackField("ExternalUserID", "wmX"),
                CallbackField("CreateTime", "1700000000"),
            ])
            let record = InboxEvent(id: 1, corpID: "wx5823bf96d3bd56c7", dedupKey: "k", receivedAt: Date(), rawXML: CallbackXML.render(fields), status: .pending)
            return InboxDelivery(record: record, fields: fields)
        }
        let edits = InboxRefresh(externalUserID: "wmX", changeTypes: ["edit_external_contact"])
        for changeType in ["add_external_contact", "add_half_external_contact", "edit_external_contact"] {
            #expect(handler.refresh(for: try delivery(changeType)) == edits, "\(changeType)")
        }
        for changeType in ["del_external_contact", "del_follow_user", "transfer_fail"] {
            #expect(handler.refresh(for: try delivery(changeType)) == nil, "\(changeType)")
        }
    }

    @Test func aDeletedRelationEndsWithItsReasonUnlessTheCustomerWasAddedAgainLater() async throws {
        try await sync()
        let customer = await platform.simulator.corp.listing["u0"]![0]
        let deletion = try await act(ConsoleAction(.deleteContact, userid: "u0", external_userid: customer, reason: "DELETE_BY_TRANSFER"))
        var stored = try #require(try await repository.contact(customer))
        #expect(stored.relations.first?.endReason == "del_external_contact: DELETE_BY_TRANSFER")
        #expect(stored.endedAt != nil)
        // The customer is added back a minute later; replaying the old deletion must not end it.
        platform.clock.advance(60)
        try await act(ConsoleAction(.addContact, userid: "u0", external_userid: customer))
        for event in deletion { try await handler.handle(event) }
        stored = try #require(try await repository.contact(customer))
        #expect(stored.relations.first?.endedAt == nil)
        #expect(stored.endedAt == nil)
    }

    @Test func aCustomerWhoDeletesTheirStaffMemberIsALostCustomerRecordedOnce() async throws {
        try await sync()
        let customer = await platform.simulator.corp.listing["u1"]![0]
        let events = try await act(ConsoleAction(.customerDeletesStaff, userid: "u1", external_userid: customer))
        for event in events { try await handler.handle(event) }
        let lost = try await repository.events(kind: .lostCustomer, limit: 10)
        #expect(lost.map(\.externalUserID) == [customer])
        #expect(try await repository.contact(customer)?.relations.first?.endReason == "del_follow_user")
    }

    @Test func transferFailuresAndGroupChatChangesAreRecorded() async throws {
        try await act(ConsoleAction(.transferFail, userid: "u0", external_userid: "wmX".padding(toLength: 32, withPad: "Q", startingAt: 0), reason: "customer_limit_exceed"))
        let failures = try await repository.events(kind: .transferFailed, limit: 10)
        #expect(failures.first?.detail == "customer_limit_exceed")
        let chat = CallbackFields([
            CallbackField("ToUserName", "wx5823bf96d3bd56c7"), CallbackField("FromUserName", "sys"), CallbackField("CreateTime", "1700000640"),
            CallbackField("MsgType", "event"), CallbackField("Event", "change_external_chat"), CallbackField("ChatId", "wrCHAT"),
            CallbackField("ChangeType", "update"), CallbackField("UpdateDetail", "add_member"),
        ])
        let record = InboxEvent(id: 1, corpID: "wx5823bf96d3bd56c7", dedupKey: "c", receivedAt: Date(), rawXML: "", status: .pending)
        try await handler.handle(InboxDelivery(record: record, fields: chat))
        try await handler.handle(InboxDelivery(record: record, fields: chat))
        let chats = try await repository.events(kind: .chatChanged, limit: 10)
        #expect(chats.map(\.detail) == ["update:add_member"])
    }

    @Test func tagCatalogueEventsRefreshTheirEntry() async throws {
        try await sync()
        let created = try await act(ConsoleAction(.createTag, name: "钻石卡", group_name: "等级"))
        let tagID = try #require(created.last?.fields["Id"])
        var groups = try await repository.state().tagGroups
        #expect(groups.first?.tags.contains { $0.id == tagID && $0.name == "钻石卡" } == true)
        try await act(ConsoleAction(.updateTag, name: "黑金卡", id: tagID))
        groups = try await repository.state().tagGroups
        #expect(groups.first?.tags.first { $0.id == tagID }?.name == "黑金卡")
        try await act(ConsoleAction(.deleteTag, id: tagID))
        groups = try await repository.state().tagGroups
        #expect(groups.first?.tags.contains { $0.id == tagID } == false)
        // A new group with its first tag, then the whole group removed.
        let other = try await act(ConsoleAction(.createTag, name: "A", group_name: "新分组"))
        let groupID = try #require(other.first?.fields["Id"])
        #expect(try await repository.state().tagGroups.contains { $0.id == groupID })
        try await act(ConsoleAction(.deleteTag, id: groupID))
        #expect(try await repository.state().tagGroups.contains { $0.id == groupID } == false)
        #expect(try await FullSync(client: platform.client(), repository: repository).check().isEmpty)
    }
}
