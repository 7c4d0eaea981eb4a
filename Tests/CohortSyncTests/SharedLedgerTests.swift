import CohortCore
import CohortPostgres
import CohortStore
import CohortSync
import CohortTesting
import Foundation
import Testing
import WeComKit
import WeComSimulator

/// The campaign ledger on each store backend, and dispatchers sharing it: every recipient is
/// sent once however many dispatchers (instances) work on one campaign.
@Suite struct SharedLedgerTests {
    /// Two ledgers on one store: on SQLite the same file, on PostgreSQL two instances (pools),
    /// each with its presence held.
    static func withTwoLedgers(
        _ backend: StoreBackend, _ body: (any CampaignRepository, any CampaignRepository) async throws -> Void
    ) async throws {
        switch backend {
        case .sqlite:
            let database = try CohortDatabase()
            try await body(SQLiteCampaignRepository(database: database, corpID: "ww"), SQLiteCampaignRepository(database: database, corpID: "ww"))
        case .postgres:
            try await withPostgresStore { first in
                try await withSecondInstance(of: first) { second in
                    let a = PostgresInstancePresence(store: first)
                    let b = PostgresInstancePresence(store: second)
                    try await a.holding {
                        try await b.holding {
                            try await body(
                                PostgresCampaignRepository(store: first, corpID: "ww", instance: a.instance),
                                PostgresCampaignRepository(store: second, corpID: "ww", instance: b.instance))
                        }
                    }
                }
            }
        }
    }

    /// A plan over a simulated corp: each customer hears from the first staff member who added
    /// them, in tasks of `perTask`; every seventh customer is held out.
    static func plan(_ corp: SimCorp, name: String = "spring", perTask: Int = 7, at: Int64) -> CampaignPlan {
        var recipients: [PlannedRecipient] = []
        var exclusions: [PlannedExclusion] = []
        var bySender: [String: [String]] = [:]
        for (index, id) in corp.customers.keys.sorted().enumerated() {
            guard let sender = corp.followers[id]?.first else { continue }
            if index % 7 == 0 {
                exclusions.append(PlannedExclusion(externalUserID: id, reason: .holdout, detail: "held out"))
                continue
            }
            recipients.append(PlannedRecipient(externalUserID: id, sender: sender, variant: index % 2, text: "春季上新"))
            bySender[sender, default: []].append(id)
        }
        let tasks = bySender.keys.sorted().flatMap { sender in
            let members = bySender[sender]!
            return stride(from: 0, to: members.count, by: perTask).map {
                PlannedTask(sender: sender, text: "春季上新", recipients: Array(members[$0..<min($0 + perTask, members.count)]))
            }
        }
        return CampaignPlan(campaign: name, dispatchAt: at, recipients: recipients, exclusions: exclusions, tasks: tasks)
    }

    static let config = CampaignsConfig(campaigns: [CampaignSpec(name: "spring", segment: NameReference("everyone"), variants: [])])

    @Test(arguments: StoreBackend.available)
    func twoDispatchersOnOneLedgerSendEveryRecipientExactlyOnce(_ backend: StoreBackend) async throws {
        let corp = SimulatorDataset(staff: 12, contacts: 400, seed: 5).generate()
        let platform = SimulatedPlatform(corp: corp)
        let clock = platform.clock
        try await Self.withTwoLedgers(backend) { first, second in
            let plan = Self.plan(corp, at: Int64(clock.now.timeIntervalSince1970))
            try await first.start(plan, priority: 0, configVersion: "v1", state: .dispatching, at: Int64(clock.now.timeIntervalSince1970))
            let dispatchers = [first, second].map { ledger in
                CampaignDispatcher(client: platform.client(), ledger: ledger, config: Self.config, now: { clock.now }, sleep: { clock.sleep($0) })
            }
            async let a = dispatchers[0].dispatch(campaign: "spring")
            async let b = dispatchers[1].dispatch(campaign: "spring")
            let reports = try await [a, b]
            #expect(reports.map(\.tasksCreated).reduce(0, +) == plan.tasks.count)
            #expect(reports.allSatisfy { $0.resolvedRequeued == 0 && $0.resolvedAdopted == 0 && $0.failed == 0 })

            let sent = await platform.simulator.createdTasks().flatMap(\.parts).flatMap(\.recipients)
            #expect(sent.count == plan.recipients.count, "no recipient sent twice")
            #expect(Set(sent) == Set(plan.recipients.map(\.externalUserID)))
            let report = try #require(try await second.report("spring"))
            #expect(report.tasksCreated == plan.tasks.count)
            #expect(report.awaitingConfirmation == plan.recipients.count)
            #expect(report.excluded["holdout"] == plan.exclusions.count)
            #expect(try await first.undispatchedCount(campaign: "spring") == 0)
        }
    }

    @Test(arguments: StoreBackend.available)
    func theLedgerKeepsItsInvariantsOnEveryBackend(_ backend: StoreBackend) async throws {
        let corp = SimulatorDataset(staff: 3, contacts: 40, seed: 9).generate()
        try await Self.withTwoLedgers(backend) { ledger, other in
            let plan = Self.plan(corp, perTask: 5, at: 100)
            try await ledger.start(plan, priority: 2, configVersion: "v1", state: .scheduled, at: 100)
            // A campaign sends once, whichever instance is asked to start it again.
            await #expect(throws: CampaignAlreadyStarted.self) {
                try await other.start(plan, priority: 2, configVersion: "v1", state: .scheduled, at: 101)
            }
            #expect(try await ledger.campaign(named: "spring")?.state == .scheduled)
            try await ledger.setState("spring", .dispatching, from: [.scheduled, .paused], reason: nil, at: 102)

            // An opt-out withdraws a planned message before it is handed to the platform.
            let withdrawn = plan.tasks[0].recipients[0]
            try await other.setOptOut(withdrawn, reason: "complained", source: "api", at: 103)
            #expect(try await ledger.optOutReason(of: withdrawn) == "complained (api)")
            let due = try await ledger.dueTasks(campaign: nil, now: 104, limit: 100)
            #expect(due.count == plan.tasks.count)
            #expect(due.map(\.id) == due.map(\.id).sorted())
            #expect(!due[0].recipients.contains(withdrawn))

            // A claim is taken once: the second claimant gets nothing.
            let claimed = try #require(try await ledger.markCalling(due[0].id, at: 105))
            #expect(claimed == plan.tasks[0].recipients.filter { $0 != withdrawn })
            #expect(try await other.markCalling(due[0].id, at: 105) == nil)
            try await ledger.markCreated(due[0].id, msgid: "msg-1", rejected: [claimed[0]], at: 106)
            try await ledger.recordResults(
                due[0].id, claimed.dropFirst().enumerated().map { RecipientResult(externalUserID: $1, status: $0 == 0 ? 1 : 3, sendTime: 107) },
                final: true, at: 108)
            #expect(try await other.knownMessageIDs(since: 0) == ["msg-1"])

            // The frequency-cap history names the other campaign's planned and sent messages.
            let history = try await other.sendHistory(of: plan.recipients.map(\.externalUserID), excluding: "autumn", since: 0)
            #expect(history[claimed[1]]?.first?.pending == false)
            #expect(history[due[1].recipients[0]]?.first?.pending == true)
            #expect(history[withdrawn] == nil)

            let cancelled = try #require(try await other.cancel("spring", at: 110))
            #expect(cancelled.isEmpty, "the created task is final")
            #expect(try await ledger.cancel("spring", at: 111) == nil, "a second cancel changes nothing")
            let report = try #require(try await ledger.report("spring"))
            #expect(report.state == .cancelled)
            #expect(report.delivered == 1)
            #expect(report.failed["rejected"] == 1)
            #expect(report.failed["quota"] == claimed.count - 2)
            #expect(report.excluded["opted_out"] == 1)
            #expect(report.excluded["cancelled"] == plan.recipients.count - plan.tasks[0].recipients.count)
            #expect(report.tasksCreated == 1)
            let rows = try await ledger.recipients("spring")
            #expect(rows.map(\.externalUserID) == rows.map(\.externalUserID).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
            #expect(rows.first { $0.externalUserID == claimed[1] }?.msgid == "msg-1")
            #expect(try await ledger.removeOptOut(withdrawn))
            #expect(try await ledger.removeOptOut(withdrawn) == false)
        }
    }

    @Test(.enabled(if: StoreBackend.postgresURL != nil, "needs COHORT_TEST_POSTGRES_URL"))
    func aCallInFlightOnALiveInstanceIsLeftAloneUntilThatInstanceIsGone() async throws {
        let corp = SimulatorDataset(staff: 2, contacts: 20, seed: 3).generate()
        try await withPostgresStore { store in
            try await withSecondInstance(of: store) { otherStore in
                let survivor = PostgresInstancePresence(store: otherStore)
                try await survivor.holding {
                    let other = PostgresCampaignRepository(store: otherStore, corpID: "ww", instance: survivor.instance)
                    let doomed = PostgresInstancePresence(store: store)
                    let taskID: Int64 = try await doomed.holding {
                        let ledger = PostgresCampaignRepository(store: store, corpID: "ww", instance: doomed.instance)
                        try await ledger.start(Self.plan(corp, at: 1), priority: 0, configVersion: "v1", state: .dispatching, at: 1)
                        let task = try #require(try await ledger.dueTasks(campaign: nil, now: 2, limit: 1).first)
                        _ = try await ledger.markCalling(task.id, at: 2)
                        // The claimant's own next pass sees its call as uncertain; another live instance does not.
                        #expect(try await ledger.uncertainTasks(campaign: nil).map(\.id) == [task.id])
                        #expect(try await other.uncertainTasks(campaign: nil).isEmpty)
                        return task.id
                    }
                    // The claimant is gone (its presence released, as when its connection drops).
                    let uncertain = try await other.uncertainTasks(campaign: "spring")
                    #expect(uncertain.map(\.id) == [taskID])
                    #expect(uncertain.first?.recipients.isEmpty == false)
                }
            }
        }
    }

    @Test(.enabled(if: StoreBackend.postgresURL != nil, "needs COHORT_TEST_POSTGRES_URL"))
    func twoSurvivorsNeverBothResolveOneAbandonedCall() async throws {
        let corp = SimulatorDataset(staff: 2, contacts: 20, seed: 4).generate()
        try await withPostgresStore { store in
            try await withSecondInstance(of: store) { secondStore in
                try await withSecondInstance(of: store) { thirdStore in
                    let second = PostgresInstancePresence(store: secondStore)
                    let third = PostgresInstancePresence(store: thirdStore)
                    try await second.holding {
                        try await third.holding {
                            var b = PostgresCampaignRepository(store: secondStore, corpID: "ww", instance: second.instance)
                            let c = PostgresCampaignRepository(store: thirdStore, corpID: "ww", instance: third.instance)
                            let doomed = PostgresInstancePresence(store: store)
                            let now = Int64(Date().timeIntervalSince1970)
                            let taskID: Int64 = try await doomed.holding {
                                let ledger = PostgresCampaignRepository(store: store, corpID: "ww", instance: doomed.instance)
                                try await ledger.start(Self.plan(corp, at: now), priority: 0, configVersion: "v1", state: .dispatching, at: now)
                                let task = try #require(try await ledger.dueTasks(campaign: nil, now: now, limit: 1).first)
                                #expect(try await ledger.markCalling(task.id, at: now) != nil)
                                return task.id
                            }
                            // Its claimant is gone, but the call started just now: it may still be
                            // on its way to the platform, so nobody asks about it yet.
                            #expect(try await b.uncertainTasks(campaign: nil).isEmpty)
                            b.abandonAfter = 0
                            // The first survivor to look takes the call over; the second finds nothing.
                            #expect(try await b.uncertainTasks(campaign: nil).map(\.id) == [taskID])
                            #expect(try await c.uncertainTasks(campaign: nil).isEmpty)
                            // An outcome from an instance that does not hold the claim changes nothing.
                            try await c.markRetry(taskID, error: "stale", nextAttemptAt: now)
                            try await c.markCreated(taskID, msgid: "msg-stale", rejected: [], at: now)
                            var task = try #require(try await b.tasks(campaign: "spring").first { $0.id == taskID })
                            #expect(task.state == .calling)
                            #expect(task.msgid == nil)
                            try await b.markCreated(taskID, msgid: "msg-1", rejected: [], at: now)
                            task = try #require(try await b.tasks(campaign: "spring").first { $0.id == taskID })
                            #expect(task.state == .created)
                            #expect(task.msgid == "msg-1")
                        }
                    }
                }
            }
        }
    }

    @Test(arguments: StoreBackend.available)
    func aClaimWaitsOutItsBackoffAndAPauseAndNoStateChangeOverwritesAnother(_ backend: StoreBackend) async throws {
        let corp = SimulatorDataset(staff: 2, contacts: 30, seed: 5).generate()
        try await Self.withTwoLedgers(backend) { ledger, other in
            try await ledger.start(Self.plan(corp, perTask: 5, at: 1), priority: 0, configVersion: "v1", state: .dispatching, at: 1)
            let due = try await ledger.dueTasks(campaign: nil, now: 2, limit: 2)
            #expect(due.count == 2)
            // A task put back with a backoff is not claimed before its time, even from a stale list.
            try await other.markRetry(due[0].id, error: "busy", nextAttemptAt: 100)
            #expect(try await ledger.markCalling(due[0].id, at: 50) == nil)
            // An operator pauses the campaign: a dispatcher still working through its list stops.
            #expect(try await other.setState("spring", .paused, from: [.scheduled, .dispatching], reason: "operator", at: 60))
            #expect(try await ledger.markCalling(due[1].id, at: 60) == nil)
            // Moves that assume another state never undo the pause.
            #expect(try await ledger.setState("spring", .dispatching, from: [.scheduled], reason: nil, at: 61) == false)
            #expect(try await ledger.setState("spring", .dispatched, from: [.dispatching], reason: nil, at: 62) == false)
            #expect(try await ledger.campaign(named: "spring")?.state == .paused)
            #expect(try await ledger.setState("spring", .dispatching, from: [.paused], reason: nil, at: 63))
            #expect(try await ledger.markCalling(due[0].id, at: 100) != nil)
            // A cancel that lost the race to completion leaves the finished campaign alone.
            #expect(try await other.setState("spring", .completed, from: [.dispatching], reason: nil, at: 101))
            #expect(try await ledger.cancel("spring", at: 102) == nil)
            #expect(try await ledger.campaign(named: "spring")?.state == .completed)
        }
    }

}
