import CohortCore
import CohortTesting
import Foundation
import Testing
import WeComKit
import WeComSimulator

/// The API client against the in-process simulator: token races, every fault kind, paging edges.
@Suite struct ClientAgainstSimulatorTests {
    @Test func concurrentCallsDuringAnExpiryFetchExactlyOneToken() async throws {
        let platform = SimulatedPlatform(corp: SimCorps.corp(relationsPerStaff: [3]))
        let client = platform.client()
        _ = try await client.followUserList()
        #expect(await client.tokens.fetches == 1)
        // Past the token's lifetime: every caller sees it expired at once.
        platform.clock.advance(7200)
        try await withThrowingTaskGroup(of: [String].self) { group in
            for _ in 0..<50 { group.addTask { try await client.followUserList() } }
            for try await staff in group { #expect(staff == ["u0"]) }
        }
        #expect(await client.tokens.fetches == 2)
        #expect(await platform.simulator.callCounts()["gettoken"] == 2)
    }

    @Test func concurrentCallsHitByAnInvalidatedTokenRefreshItOnce() async throws {
        let platform = SimulatedPlatform(corp: SimCorps.corp(relationsPerStaff: [3]))
        let client = platform.client()
        _ = try await client.followUserList()
        await platform.simulator.addFault(SimulatorFault(kind: .invalidateToken, count: 1))
        try await withThrowingTaskGroup(of: [String].self) { group in
            for _ in 0..<40 { group.addTask { try await client.externalContacts(of: "u0") } }
            for try await ids in group { #expect(ids.count == 3) }
        }
        #expect(await platform.simulator.callCounts()["gettoken"] == 2)
        let failures = await platform.simulator.calls.filter { $0.errcode == 40014 }.count
        #expect(failures >= 1)
    }

    @Test func anExpiredTokenAnswered42001IsRefreshedAndTheCallRepeatedOnce() async throws {
        let platform = SimulatedPlatform(corp: SimCorps.corp(relationsPerStaff: [2]))
        let client = platform.client()
        _ = try await client.followUserList()
        await platform.simulator.addFault(SimulatorFault(kind: .expireToken, count: 1))
        #expect(try await client.followUserList() == ["u0"])
        let codes = await platform.simulator.calls.map(\.errcode)
        #expect(codes.contains(42001))
        #expect(await client.tokens.fetches == 2)
    }

    @Test(arguments: [
        SimulatorFault.errcode(-1, count: 2), SimulatorFault.errcode(45033, count: 2), SimulatorFault.http(502, count: 2),
        SimulatorFault.http(500, count: 1), SimulatorFault(kind: .drop, count: 2),
        SimulatorFault(kind: .latency, latency_ms: 1, count: 3),
    ])
    func transientFaultsAreRetriedUntilTheCallSucceeds(fault: SimulatorFault) async throws {
        let platform = SimulatedPlatform(corp: SimCorps.corp(relationsPerStaff: [5]))
        let client = platform.client()
        await platform.simulator.addFault(fault)
        #expect(try await client.externalContacts(of: "u0").count == 5)
        let listCalls = await platform.simulator.calls.filter { $0.path == "externalcontact/list" }
        #expect(listCalls.count == (fault.kind == .latency ? 1 : (fault.count ?? 0) + 1))
        #expect(listCalls.last?.errcode == 0)
    }

    @Test func frequencyLimitWaitsOutTheSixtySecondBlock() async throws {
        let platform = SimulatedPlatform(corp: SimCorps.corp(relationsPerStaff: [1]))
        let client = platform.client()
        await platform.simulator.addFault(.errcode(45009, endpoint: "externalcontact/list", count: 1))
        #expect(try await client.externalContacts(of: "u0").count == 1)
        #expect(platform.clock.slept == [60])
        // A retry inside the block would have been answered 45009 again.
        let codes = await platform.simulator.calls.filter { $0.path == "externalcontact/list" }.map(\.errcode)
        #expect(codes == [45009, 0])
    }

    @Test func exceedingThePerMinuteWindowIsAnswered45009UntilTheBlockEnds() async throws {
        let platform = SimulatedPlatform(corp: SimCorps.corp(relationsPerStaff: [1])) { $0.perMinuteLimit = 5 }
        let client = platform.client()
        for _ in 0..<5 { _ = try await client.followUserList() }
        // The client's own limiter is off here, so the platform's window decides.
        #expect(try await client.followUserList() == ["u0"])
        #expect(await platform.simulator.calls.contains { $0.errcode == 45009 })
        #expect(platform.clock.slept.contains(60))
    }

    @Test(arguments: [48002, 60020, 40058])
    func configurationAndRequestErrorsFailFastWithTheCode(code: Int) async throws {
        let platform = SimulatedPlatform(corp: SimCorps.corp(relationsPerStaff: [1]))
        let client = platform.client()
        await platform.simulator.addFault(.errcode(code, count: 1))
        let error = await #expect(throws: PlatformError.self) { try await client.followUserList() }
        #expect(error?.errcode == code)
        #expect(await platform.simulator.calls.filter { $0.path == "externalcontact/get_follow_user_list" }.count == 1)
        if code == 48002 { #expect(error?.description.contains("可调用接口的应用") == true) }
        if code == 60020 { #expect(error?.description.contains("trusted IP") == true) }
    }

    @Test func aWrongSecretIsAConfigurationErrorNotARetryLoop() async throws {
        let platform = SimulatedPlatform(corp: SimCorps.corp(relationsPerStaff: [1]))
        let client = platform.client(secret: "wrong")
        let error = await #expect(throws: PlatformError.self) { try await client.followUserList() }
        #expect(error?.errcode == 40001)
        #expect(await platform.simulator.callCounts()["gettoken"] == 1)
    }

    @Test(arguments: [0, 1, 100, 101, 250])
    func batchPagingReturnsEveryRelationOnceAtAnyCount(relations: Int) async throws {
        let platform = SimulatedPlatform(corp: SimCorps.corp(relationsPerStaff: [relations, 0, 1]))
        let client = platform.client()
        var seen: [String] = []
        var cursor: String?
        var pages = 0
        repeat {
            let page = try await client.batchGetByUser(BatchGetByUserRequest(userid_list: ["u0", "u1", "u2"], cursor: cursor, limit: 100))
            seen += (page.external_contact_list ?? []).map { $0.follow_info.userid + "/" + $0.external_contact.external_userid }
            cursor = page.next_cursor
            pages += 1
        } while !(cursor ?? "").isEmpty
        #expect(seen.count == relations + 1)
        #expect(Set(seen).count == seen.count)
        #expect(pages == max(1, Int((Double(relations + 1) / 100).rounded(.up))))
    }

    @Test func batchLimitDefaultsToFiftyAndClampsToOneHundred() async throws {
        let platform = SimulatedPlatform(corp: SimCorps.corp(relationsPerStaff: [150]))
        let client = platform.client()
        let defaulted = try await client.batchGetByUser(BatchGetByUserRequest(userid_list: ["u0"], limit: nil))
        #expect(defaulted.external_contact_list?.count == 50)
        let clamped = try await client.batchGetByUser(BatchGetByUserRequest(userid_list: ["u0"], limit: 500))
        #expect(clamped.external_contact_list?.count == 100)
    }

    @Test func aCustomerFollowedByTwoListedMembersAppearsOncePerRelation() async throws {
        let platform = SimulatedPlatform(corp: SimCorps.corp(relationsPerStaff: [], sharedFollowers: 2))
        let page = try await platform.client().batchGetByUser(BatchGetByUserRequest(userid_list: ["f0", "f1"]))
        let rows = page.external_contact_list ?? []
        #expect(rows.count == 2)
        #expect(Set(rows.map(\.external_contact.external_userid)).count == 1)
        #expect(rows.map(\.follow_info.userid) == ["f0", "f1"])
    }

    @Test func aCustomerWith501FollowersIsReadAcrossTwoPages() async throws {
        let platform = SimulatedPlatform(corp: SimCorps.corp(relationsPerStaff: [], sharedFollowers: 501))
        let external = "wmSHARED".padding(toLength: 32, withPad: "B", startingAt: 0)
        let detail = try await platform.client().externalContact(external)
        #expect(detail.follow_user?.count == 501)
        #expect(Set(detail.follow_user?.map(\.userid) ?? []).count == 501)
        #expect(await platform.simulator.callCounts()["externalcontact/get"] == 2)
    }

    @Test func unlicensedMembersAreReportedAndAllUnlicensedFails() async throws {
        var corp = SimCorps.corp(relationsPerStaff: [2, 3])
        corp.staff[1].licensed = false
        let platform = SimulatedPlatform(corp: corp)
        let client = platform.client()
        let page = try await client.batchGetByUser(BatchGetByUserRequest(userid_list: ["u0", "u1"]))
        #expect(page.external_contact_list?.count == 2)
        #expect(page.fail_info?.unlicensed_userid_list == ["u1"])
        let error = await #expect(throws: PlatformError.self) { try await client.batchGetByUser(BatchGetByUserRequest(userid_list: ["u1"])) }
        #expect(error?.errcode == 701008)
    }

    @Test func aMemberWithoutCustomersListsAsEmpty() async throws {
        let platform = SimulatedPlatform(corp: SimCorps.corp(relationsPerStaff: [0]))
        #expect(try await platform.client().externalContacts(of: "u0") == [])
        #expect(await platform.simulator.calls.last?.errcode == 84061)
    }

    @Test func userGetGivesNamesOnlyWhereTheAppMayReadThem() async throws {
        let visible = SimulatedPlatform(corp: SimCorps.corp(relationsPerStaff: [0]))
        #expect(try await visible.client().user("u0").name == "员工0")
        let hidden = SimulatedPlatform(corp: SimCorps.corp(relationsPerStaff: [0])) { $0.namesVisible = false }
        #expect(try await hidden.client().user("u0").name == "u0")
    }
}
