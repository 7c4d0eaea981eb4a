import CohortCore
import CohortStore
import CohortSync
import CohortTesting
import Foundation
import Testing
import WeComKit
import WeComSimulator

/// Full sync against the simulator into an in-memory store.
@Suite struct FullSyncTests {
    static let syncTime = Date(timeIntervalSince1970: 1_790_000_000)

    func makeSync(_ platform: SimulatedPlatform, _ repository: any DirectoryRepository, names: [String: String] = [:]) -> FullSync {
        FullSync(client: platform.client(), repository: repository, configuredNames: names, concurrency: 4, now: { Self.syncTime })
    }

    func repository() throws -> SQLiteDirectoryRepository {
        SQLiteDirectoryRepository(database: try CohortDatabase(inMemory: ()), corpID: "wx5823bf96d3bd56c7")
    }

    @Test func aFullSyncStoresEveryRelationAndASecondRunWritesNothing() async throws {
        let corp = SimulatorDataset(staff: 12, contacts: 800, seed: 3).generate()
        let platform = SimulatedPlatform(corp: corp)
        let repository = try repository()
        let sync = makeSync(platform, repository)
        let first = try await sync.run()
        #expect(first.contacts == 800)
        #expect(first.relations == corp.relationCount)
        #expect(first.rowsChanged > 0)
        let state = try await repository.state()
        #expect(state.contacts.count == 800)
        #expect(state.relations.count == corp.relationCount)
        #expect(state.staff.count == 12)
        #expect(state.staff["staff0001"]?.name == corp.staff[0].name)
        let sample = try #require(corp.relationsByKey.first)
        #expect(state.relations[sample.key]?.tagIDs == sample.value.tagIDs.sorted())
        #expect(state.relations[sample.key]?.remarkMobiles == sample.value.remarkMobiles)

        let second = try await sync.run()
        #expect(second.rowsChanged == 0)
        #expect(second.changes.isEmpty)
        #expect(try await sync.check().isEmpty)
    }

    @Test func withTenPercentOfCallsFaultedTheStoreEndsTheSameAsAFaultFreeRun() async throws {
        let corp = SimulatorDataset(staff: 30, contacts: 3000, seed: 11).generate()
        let clean = try repository()
        _ = try await makeSync(SimulatedPlatform(corp: corp), clean).run()

        let faulty = SimulatedPlatform(corp: corp) { $0.seed = 99 }
        for fault in [
            SimulatorFault.errcode(-1, rate: 0.02), .errcode(45033, rate: 0.02), .http(502, rate: 0.02),
            SimulatorFault(kind: .drop, rate: 0.02), .errcode(45009, rate: 0.01), SimulatorFault(kind: .invalidateToken, rate: 0.01),
        ] {
            await faulty.simulator.addFault(fault)
        }
        let recovered = try repository()
        let report = try await makeSync(faulty, recovered).run()
        let faulted = await faulty.simulator.calls.filter { $0.fault != nil }.count
        let total = await faulty.simulator.calls.count
        #expect(Double(faulted) / Double(total) > 0.05)
        #expect(report.relations == corp.relationCount)
        #expect(try await recovered.state() == (try await clean.state()))
        #expect(try await recovered.contacts(ContactFilter(includeEnded: true)) == (try await clean.contacts(ContactFilter(includeEnded: true))))
    }

    @Test func aFailedSyncWritesNothing() async throws {
        var corp = SimCorps.corp(relationsPerStaff: [3, 2])
        let platform = SimulatedPlatform(corp: corp)
        let repository = try repository()
        _ = try await makeSync(platform, repository).run()
        let before = try await repository.state()
        // The platform changes, then the pass breaks half way.
        corp.remove("u0", corp.listing["u0"]![0])
        await platform.simulator.replaceCorp(corp)
        await platform.simulator.addFault(.errcode(48002, endpoint: "externalcontact/batch/get_by_user", count: 1))
        await #expect(throws: PlatformError.self) { try await makeSync(platform, repository).run() }
        #expect(try await repository.state() == before)
    }

    @Test func aPassThatFailsHalfWayWritesNothing() async throws {
        var corp = SimCorps.corp(relationsPerStaff: [150, 2])
        let platform = SimulatedPlatform(corp: corp)
        let repository = try repository()
        _ = try await makeSync(platform, repository).run()
        let edited = corp.listing["u0"]![0]
        let removed = corp.listing["u1"]![0]
        _ = corp.update("u0", edited) { $0.remark = "changed" }
        corp.remove("u1", removed)
        await platform.simulator.replaceCorp(corp)
        // One chain: the first page (u0's first 100, with the edit) arrives, the second call fails for good.
        await platform.simulator.addFault(.errcode(48002, endpoint: "externalcontact/batch/get_by_user", count: 1, after: 1))
        let sync = FullSync(client: platform.client(), repository: repository, concurrency: 1, now: { Self.syncTime })
        await #expect(throws: PlatformError.self) { try await sync.run() }
        let state = try await repository.state()
        #expect(state.relations[RelationKey(externalUserID: edited, userID: "u0")]?.remark != "changed")
        #expect(state.relations[RelationKey(externalUserID: removed, userID: "u1")] != nil)
        // The next complete pass writes both.
        let report = try await sync.run()
        #expect(report.changes.relationsEnded == [RelationKey(externalUserID: removed, userID: "u1")])
        #expect(report.changes.relationsUpdated.map(\.key) == [RelationKey(externalUserID: edited, userID: "u0")])
    }

    @Test func relationsNoLongerSeenAreEndedNotDeletedAndUnlicensedStaffKeepTheirs() async throws {
        var corp = SimCorps.corp(relationsPerStaff: [3, 2])
        let platform = SimulatedPlatform(corp: corp)
        let repository = try repository()
        _ = try await makeSync(platform, repository).run()
        let gone = corp.listing["u0"]![0]
        let keptByUnlicensed = corp.listing["u1"]![0]
        corp.remove("u0", gone)
        corp.remove("u1", keptByUnlicensed)
        corp.staff[1].licensed = false
        await platform.simulator.replaceCorp(corp)
        let report = try await makeSync(platform, repository).run()
        #expect(report.unlicensedStaff == ["u1"])
        #expect(report.changes.relationsEnded == [RelationKey(externalUserID: gone, userID: "u0")])
        #expect(report.changes.contactsEnded == [gone])
        let state = try await repository.state()
        #expect(state.relations[RelationKey(externalUserID: keptByUnlicensed, userID: "u1")] != nil)
        let ended = try #require(try await repository.contact(gone))
        #expect(ended.endedAt == Self.syncTime)
        #expect(ended.relations.first?.endReason == "not seen by sync")
        #expect(try await repository.contacts(ContactFilter()).count == 4)
        #expect(try await repository.contacts(ContactFilter(includeEnded: true)).count == 5)
    }

    @Test func checkReportsDriftWithoutWriting() async throws {
        var corp = SimCorps.corp(relationsPerStaff: [2])
        let platform = SimulatedPlatform(corp: corp)
        let repository = try repository()
        _ = try await makeSync(platform, repository).run()
        let customer = corp.listing["u0"]![1]
        _ = corp.update("u0", customer) { $0.tagIDs = ["etTAG0000000000000000000000002"] }
        await platform.simulator.replaceCorp(corp)
        let before = try await repository.state()
        let drift = try await makeSync(platform, repository).check()
        #expect(drift.relationTagChanges == [RelationTagChange(key: RelationKey(externalUserID: customer, userID: "u0"), added: ["etTAG0000000000000000000000002"], removed: [])])
        #expect(try await repository.state() == before)
    }

    @Test func staffNamesComeFromUserGetOrElseFromConfig() async throws {
        let platform = SimulatedPlatform(corp: SimCorps.corp(relationsPerStaff: [1, 1])) { $0.namesVisible = false }
        let repository = try repository()
        _ = try await makeSync(platform, repository, names: ["u0": "张三"]).run()
        let staff = try await repository.state().staff
        #expect(staff["u0"]?.name == "张三")
        #expect(staff["u1"]?.name == nil)
    }

    @Test func contactsFilterByStaffAndTagNameOrID() async throws {
        let platform = SimulatedPlatform(corp: SimCorps.corp(relationsPerStaff: [4, 3]))
        let repository = try repository()
        _ = try await makeSync(platform, repository).run()
        #expect(try await repository.contacts(ContactFilter(staff: "u1")).count == 3)
        // Even-numbered customers carry 金卡: 2 of u0's, 2 of u1's.
        #expect(try await repository.contacts(ContactFilter(tag: "金卡")).count == 4)
        #expect(try await repository.contacts(ContactFilter(tag: "等级/金卡", staff: "u0")).count == 2)
        #expect(try await repository.contacts(ContactFilter(tag: "etTAG0000000000000000000000001")).count == 4)
        #expect(try await repository.contacts(ContactFilter(tag: "不存在")).isEmpty)
        let shown = try #require(try await repository.contacts(ContactFilter(tag: "金卡", limit: 1)).first)
        #expect(shown.relations.first?.tagNames["etTAG0000000000000000000000001"] == "等级/金卡")
    }
}

extension SimCorp {
    var relationsByKey: [(key: RelationKey, value: SimRelation)] {
        relations.flatMap { userid, byCustomer in
            byCustomer.map { (RelationKey(externalUserID: $0.key, userID: userid), $0.value) }
        }.sorted { $0.key < $1.key }
    }
}
