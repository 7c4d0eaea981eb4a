import CohortCore
import CohortTesting
import Foundation
import Synchronization
import Testing
import WeComKit
import WeComSimulator

/// The simulator keeps the platform's rules (spec sections 3, 4 and 10).
@Suite struct SimulatorBehaviourTests {
    let gold = "etTAG0000000000000000000000001"
    let silver = "etTAG0000000000000000000000002"
    let group = "etGROUP000000000000000000000001"

    @Test func deletedFlagsAppearOnlyOnQueriesById() async throws {
        let platform = SimulatedPlatform(corp: SimCorps.corp(relationsPerStaff: [2]))
        let client = platform.client()
        try await client.deleteCorpTag(DeleteCorpTagRequest(tag_id: [silver]))
        let listing = try await client.corpTagList()
        #expect(listing.flatMap { $0.tag ?? [] }.map(\.id) == [gold])
        #expect(listing.allSatisfy { $0.deleted == nil })
        let byID = try await client.corpTagList(CorpTagListRequest(tag_id: [silver]))
        #expect(byID.first?.tag?.first?.deleted == true)
        // With both filters only group_id counts.
        let both = try await client.corpTagList(CorpTagListRequest(tag_id: [silver], group_id: [group]))
        #expect(both.first?.tag?.count == 2)
    }

    @Test func deletingTheLastTagOfAGroupDeletesTheGroup() async throws {
        let platform = SimulatedPlatform(corp: SimCorps.corp(relationsPerStaff: [2]))
        let client = platform.client()
        try await client.deleteCorpTag(DeleteCorpTagRequest(tag_id: [gold, silver]))
        #expect(try await client.corpTagList().isEmpty)
        #expect(try await client.corpTagList(CorpTagListRequest(group_id: [group])).first?.deleted == true)
        // The relations lost the tag too.
        let detail = try await client.externalContact(await platform.simulator.corp.listing["u0"]![0])
        #expect(detail.follow_user?.first?.tags?.isEmpty == true)
    }

    @Test func addingTagsCollapsesSameNamesAndJoinsAGroupByName() async throws {
        let platform = SimulatedPlatform(corp: SimCorps.corp(relationsPerStaff: [0]))
        let client = platform.client()
        let added = try await client.addCorpTag(
            AddCorpTagRequest(group_name: "等级", tag: [.init(name: "铜卡"), .init(name: "铜卡"), .init(name: "金卡")]))
        #expect(added.group_id == group)
        #expect(added.tag?.map(\.name).sorted() == ["金卡", "铜卡"])
        #expect(added.tag?.first { $0.name == "金卡" }?.id == gold)
        let error = await #expect(throws: PlatformError.self) { try await client.addCorpTag(AddCorpTagRequest(group_name: "空", tag: [])) }
        #expect(error?.errcode == 40058)
    }

    @Test func renamingOntoAnExistingNameIs40071() async throws {
        let platform = SimulatedPlatform(corp: SimCorps.corp(relationsPerStaff: [0]))
        let error = await #expect(throws: PlatformError.self) {
            try await platform.client().editCorpTag(EditCorpTagRequest(id: silver, name: "金卡"))
        }
        #expect(error?.errcode == 40071)
    }

    @Test func markTagChecksTheRelationAndTheTagsAndSendsNoCallback() async throws {
        let sent = Mutex(0)
        let transport = RecordingTransport { _ in
            sent.withLock { $0 += 1 }
            return TransportResponse(status: 200, body: Data())
        }
        var configuration = SimulatorConfiguration()
        configuration.callbackURL = URL(string: "http://cohort.local/wecom/callback")
        let simulator = WeComSimulator(configuration: configuration, corp: SimCorps.corp(relationsPerStaff: [1]), callbackTransport: transport)
        let client = WeComClient(
            apiBase: URL(string: "http://wecom.sim")!, corpID: configuration.corpID, secret: configuration.secret,
            transport: SimulatorTransport(simulator), limiter: nil)
        let customer = await simulator.corp.listing["u0"]![0]
        try await client.markTag(MarkTagRequest(userid: "u0", external_userid: customer, add_tag: [silver]))
        #expect(await simulator.corp.relation("u0", customer)?.tagIDs.contains(silver) == true)
        #expect(await simulator.tagWrites.count == 1)
        #expect(sent.withLock { $0 } == 0)
        let stranger = await #expect(throws: PlatformError.self) {
            try await client.markTag(MarkTagRequest(userid: "u0", external_userid: "wmNOTACUSTOMER0000000000000000AA", add_tag: [silver]))
        }
        #expect(stranger?.errcode == 84061)
        let unknownTag = await #expect(throws: PlatformError.self) {
            try await client.markTag(MarkTagRequest(userid: "u0", external_userid: customer, add_tag: ["etNOPE"]))
        }
        #expect(unknownTag?.errcode == 40068)
        let empty = await #expect(throws: PlatformError.self) {
            try await client.markTag(MarkTagRequest(userid: "u0", external_userid: customer))
        }
        #expect(empty?.errcode == 40058)
    }

    @Test func consoleActionsSendSignedEncryptedCallbacksAndRetryOnFailure() async throws {
        let bodies = Mutex<[TransportRequest]>([])
        let transport = RecordingTransport { request in
            let count = bodies.withLock { list -> Int in
                list.append(request)
                return list.count
            }
            return TransportResponse(status: count < 3 ? 500 : 200, body: Data())
        }
        var configuration = SimulatorConfiguration()
        configuration.callbackURL = URL(string: "http://cohort.local/wecom/callback")
        configuration.callbackRetryInterval = 0
        let simulator = WeComSimulator(configuration: configuration, corp: SimCorps.corp(relationsPerStaff: [1]), callbackTransport: transport)
        let result = try await simulator.perform(ConsoleAction(.addContact, userid: "u0", name: "新客户", state: "qr_1"))
        #expect(result.deliveries.first?.attempts == 3)
        #expect(result.deliveries.first?.delivered == true)
        let request = try #require(bodies.withLock { $0.last })
        let query = try #require(URLComponents(url: request.url, resolvingAgainstBaseURL: false)?.queryItems)
        let values = Dictionary(uniqueKeysWithValues: query.map { ($0.name, $0.value ?? "") })
        let envelope = try CallbackXML.parseEnvelope(Array(request.body ?? Data()))
        let crypto = try Vectors.crypto()
        #expect(crypto.verify(msgSignature: values["msg_signature"]!, timestamp: values["timestamp"]!, nonce: values["nonce"]!, encrypt: envelope.encrypt))
        let fields = try CallbackXML.parseMessage(try crypto.decrypt(envelope.encrypt))
        #expect(fields["ChangeType"] == "add_external_contact")
        #expect(fields["ExternalUserID"] == result.id)
        #expect(fields["State"] == "qr_1")
        #expect(fields["WelcomeCode"] == result.welcome_code)
    }

    @Test func aCallbackThatNeverLandsIsTriedFourTimes() async throws {
        let transport = RecordingTransport { _ in throw URLError(.timedOut) }
        var configuration = SimulatorConfiguration()
        configuration.callbackURL = URL(string: "http://cohort.local/wecom/callback")
        configuration.callbackRetryInterval = 0
        let simulator = WeComSimulator(configuration: configuration, corp: SimCorps.corp(relationsPerStaff: [1]), callbackTransport: transport)
        let customer = await simulator.corp.listing["u0"]![0]
        let result = try await simulator.perform(ConsoleAction(.customerDeletesStaff, userid: "u0", external_userid: customer))
        #expect(result.deliveries.first?.attempts == 4)
        #expect(result.deliveries.first?.delivered == false)
        #expect(await simulator.corp.relation("u0", customer) == nil)
    }

    @Test func aConsoleActionWhoseCallbackCannotBeSignedIsRefusedBeforeItChangesAnything() async throws {
        var configuration = SimulatorConfiguration()
        configuration.callbackURL = URL(string: "http://cohort.local/wecom/callback")
        configuration.encodingAESKey = "too-short"
        let simulator = WeComSimulator(configuration: configuration, corp: SimCorps.corp(relationsPerStaff: [1]))
        let error = await #expect(throws: ConsoleActionError.self) { try await simulator.perform(ConsoleAction(.addContact, userid: "u0")) }
        #expect(error?.description.contains("cannot be signed") == true)
        #expect(await simulator.corp.relationCount == 1)
    }

    @Test func welcomeCodesWorkOnceWithinTwentySeconds() async throws {
        let platform = SimulatedPlatform(corp: SimCorps.corp(relationsPerStaff: [0]))
        let client = platform.client()
        let first = try await platform.simulator.perform(ConsoleAction(.addContact, userid: "u0"))
        let code = try #require(first.welcome_code)
        try await client.sendWelcomeMessage(WelcomeMessageRequest(welcome_code: code, text: MessageText(content: "欢迎")))
        let again = await #expect(throws: PlatformError.self) {
            try await client.sendWelcomeMessage(WelcomeMessageRequest(welcome_code: code, text: MessageText(content: "欢迎")))
        }
        #expect(again?.errcode == 41051)
        let late = try #require(try await platform.simulator.perform(ConsoleAction(.addContact, userid: "u0")).welcome_code)
        platform.clock.advance(21)
        await #expect(throws: PlatformError.self) {
            try await client.sendWelcomeMessage(WelcomeMessageRequest(welcome_code: late, text: MessageText(content: "欢迎")))
        }
    }

    @Test func aMassMessageIsATaskThatSendsOnlyAfterTheMemberConfirms() async throws {
        let platform = SimulatedPlatform(corp: SimCorps.corp(relationsPerStaff: [3])) { $0.confirmDelaySeconds = 30 }
        let client = platform.client()
        let customers = await platform.simulator.corp.listing["u0"]!
        let created = try await client.addMessageTemplate(
            AddMessageTemplateRequest(external_userid: customers + ["wmSTRANGER00000000000000000000AA"], sender: "u0", text: MessageText(content: "双十一")))
        #expect(created.fail_list == ["wmSTRANGER00000000000000000000AA"])
        let msgid = try #require(created.msgid)
        #expect(msgid.hasPrefix("msg"))
        let pending = try await client.groupMessageTask(GroupMessageTaskRequest(msgid: msgid))
        #expect(pending.task_list?.map(\.status) == [0])
        platform.clock.advance(31)
        let sent = try await client.groupMessageTask(GroupMessageTaskRequest(msgid: msgid))
        #expect(sent.task_list?.map(\.status) == [2])
        let results = try await client.groupMessageSendResult(GroupMessageTaskRequest(msgid: msgid, userid: "u0"))
        #expect(results.send_list?.map(\.status) == [1, 1, 1])
        #expect(results.send_list?.allSatisfy { $0.send_time != nil } == true)
        let listed = try await client.groupMessageList(
            GroupMessageListRequest(start_time: Int64(platform.clock.now.timeIntervalSince1970) - 3600, end_time: Int64(platform.clock.now.timeIntervalSince1970)))
        #expect(listed.group_msg_list?.first?.msgid == msgid)
        #expect(listed.group_msg_list?.first?.create_type == 0)
        #expect(listed.group_msg_list?.first?.creator == nil)
    }

    @Test func aCustomerOverTheDailyQuotaGetsStatusThree() async throws {
        let platform = SimulatedPlatform(corp: SimCorps.corp(relationsPerStaff: [1])) {
            $0.confirmDelaySeconds = 0
            $0.receiveQuota = .perDay
        }
        let client = platform.client()
        let customer = await platform.simulator.corp.listing["u0"]![0]
        var statuses: [Int] = []
        for _ in 0..<2 {
            let msgid = try #require(try await client.addMessageTemplate(AddMessageTemplateRequest(external_userid: [customer], sender: "u0", text: MessageText(content: "hi"))).msgid)
            platform.clock.advance(1)
            statuses += try await client.groupMessageSendResult(GroupMessageTaskRequest(msgid: msgid, userid: "u0")).send_list?.map(\.status) ?? []
        }
        #expect(statuses == [1, 3])
    }

    @Test func remindersAreLimitedToThreePerTaskPerDay() async throws {
        let platform = SimulatedPlatform(corp: SimCorps.corp(relationsPerStaff: [1]))
        let client = platform.client()
        let customer = await platform.simulator.corp.listing["u0"]![0]
        let msgid = try #require(try await client.addMessageTemplate(AddMessageTemplateRequest(external_userid: [customer], sender: "u0", text: MessageText(content: "hi"))).msgid)
        for _ in 0..<3 { try await client.remindGroupMessage(msgid) }
        await #expect(throws: PlatformError.self) { try await client.remindGroupMessage(msgid) }
        platform.clock.advance(86_401)
        try await client.remindGroupMessage(msgid)
    }

    @Test func massMessageValidationFollowsTheSpecLimits() async throws {
        let platform = SimulatedPlatform(corp: SimCorps.corp(relationsPerStaff: [1]))
        let client = platform.client()
        let long = String(repeating: "字", count: 1400)  // 4,200 bytes
        let tooLong = await #expect(throws: PlatformError.self) {
            try await client.addMessageTemplate(AddMessageTemplateRequest(external_userid: [], sender: "u0", text: MessageText(content: long)))
        }
        #expect(tooLong?.errcode == 40058)
        let empty = await #expect(throws: PlatformError.self) {
            try await client.addMessageTemplate(AddMessageTemplateRequest(external_userid: [], sender: "u0", text: nil))
        }
        #expect(empty?.errcode == 40058)
        let badSpan = await #expect(throws: PlatformError.self) {
            try await client.groupMessageList(GroupMessageListRequest(start_time: 0, end_time: 40 * 86_400))
        }
        #expect(badSpan?.errcode == 40058)
    }

    @Test func anUploadedImageCanBeAttachedForThreeDays() async throws {
        let platform = SimulatedPlatform(corp: SimCorps.corp(relationsPerStaff: [1]))
        let client = platform.client()
        let upload = try await client.uploadMedia(type: "image", filename: "poster.png", contentType: "image/png", data: Data(repeating: 7, count: 2048))
        #expect(upload.type == "image")
        var request = AddMessageTemplateRequest(external_userid: [], sender: "u0", text: MessageText(content: "看图"))
        request.attachments = [MessageAttachment(msgtype: "image", image: .init(media_id: upload.media_id))]
        #expect(try await client.addMessageTemplate(request).msgid != nil)
        platform.clock.advance(3 * 86_400)
        let expired = await #expect(throws: PlatformError.self) { try await client.addMessageTemplate(request) }
        #expect(expired?.errcode == 40007)
        let badType = await #expect(throws: PlatformError.self) {
            try await client.uploadMedia(type: "movie", filename: "a", contentType: "video/mp4", data: Data([1]))
        }
        #expect(badType?.errcode == 40004)
    }

    @Test func theSeededDatasetIsDeterministic() {
        let first = SimulatorDataset(staff: 5, contacts: 300, seed: 42).generate()
        let second = SimulatorDataset(staff: 5, contacts: 300, seed: 42).generate()
        let other = SimulatorDataset(staff: 5, contacts: 300, seed: 43).generate()
        #expect(first == second)
        #expect(first != other)
        #expect(first.customers.count == 300)
        #expect(first.relationCount > 300)
        #expect(first.customers.keys.allSatisfy { ($0.hasPrefix("wm") || $0.hasPrefix("wo")) && $0.count == 32 })
        #expect(first.tags.keys.allSatisfy { $0.hasPrefix("et") })
    }
}

/// A callback receiver stand-in.
struct RecordingTransport: PlatformTransport {
    let answer: @Sendable (TransportRequest) throws -> TransportResponse

    init(_ answer: @escaping @Sendable (TransportRequest) throws -> TransportResponse) {
        self.answer = answer
    }

    func send(_ request: TransportRequest) async throws -> TransportResponse { try answer(request) }
}
