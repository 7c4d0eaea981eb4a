import CohortCore
import CohortServer
import CohortStore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing
import WeComKit

/// A handler that fails a chosen number of times per event, and records every call.
final class ScriptedHandler: InboxEventHandler {
    private let failures: Int
    private let calls = Mutex<[Int64]>([])

    init(failures: Int) {
        self.failures = failures
    }

    var handled: [Int64] { calls.withLock { $0 } }

    func handle(_ delivery: InboxDelivery) async throws {
        let id = delivery.record.id
        let count = calls.withLock { calls -> Int in
            calls.append(id)
            return calls.filter { $0 == id }.count
        }
        if count <= failures { throw HandlerFailure(attempt: count) }
    }

    struct HandlerFailure: Error, CustomStringConvertible {
        var attempt: Int
        var description: String { "scripted failure \(attempt)" }
    }
}

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    private let current = Mutex(Date(timeIntervalSince1970: 1_700_000_000))
    var now: Date { current.withLock { $0 } }
    func advance(_ seconds: Double) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

struct InboxProcessorTests {
    static func event(_ key: String, status: InboxStatus = .pending) -> NewInboxEvent {
        let fields = CallbackFields([
            CallbackField("MsgType", "event"), CallbackField("Event", "change_external_contact"),
            CallbackField("ChangeType", "edit_external_contact"), CallbackField("UserID", "u"),
            CallbackField("ExternalUserID", "wm\(key)"), CallbackField("CreateTime", "1700000000"),
        ])
        return NewInboxEvent(
            corpID: "ww", dedupKey: key, receivedAt: Date(timeIntervalSince1970: 1_700_000_000),
            rawXML: CallbackXML.render(fields), fields: fields, status: status)
    }

    static let parse: @Sendable (String) throws -> CallbackFields = { try CallbackXML.parseMessage($0) }

    @Test func eventsAreHandledInArrivalOrderAndMarkedProcessed() async throws {
        let inbox = SQLiteInboxRepository(database: try CohortDatabase())
        _ = try await inbox.append([Self.event("a"), Self.event("b"), Self.event("c")])
        let handler = ScriptedHandler(failures: 0)
        let processor = InboxProcessor(
            repository: inbox, handler: handler, policy: RetryPolicy(baseDelay: 1, maxDelay: 10, maxAttempts: 3),
            logger: Logger(label: "test"), parse: Self.parse)
        #expect(try await processor.processDue() == 3)
        #expect(handler.handled == [1, 2, 3])
        #expect(try await inbox.counts() == [.processed: 3])
    }

    @Test func aPassStopsAtItsTimeBudgetAndLeavesTheRestForTheNext() async throws {
        let inbox = SQLiteInboxRepository(database: try CohortDatabase())
        _ = try await inbox.append([Self.event("a"), Self.event("b"), Self.event("c")])
        let handler = ScriptedHandler(failures: 0)
        var processor = InboxProcessor(
            repository: inbox, handler: handler, policy: RetryPolicy(baseDelay: 1, maxDelay: 10, maxAttempts: 3),
            logger: Logger(label: "test"), parse: Self.parse)
        processor.passBudget = .zero
        try await processor.processDue()
        #expect(handler.handled == [1], "one event, then the budget is spent")
        #expect(try await inbox.counts() == [.processed: 1, .pending: 2])
        processor.passBudget = .seconds(120)
        try await processor.processDue()
        #expect(handler.handled == [1, 2, 3])
        #expect(try await inbox.counts() == [.processed: 3])
    }

    @Test func failuresRetryWithBackoffThenDeadLetterKeepingTheError() async throws {
        let inbox = SQLiteInboxRepository(database: try CohortDatabase())
        _ = try await inbox.append([Self.event("a")])
        let clock = ManualClock()
        let handler = ScriptedHandler(failures: 10)
        let processor = InboxProcessor(
            repository: inbox, handler: handler, policy: RetryPolicy(baseDelay: 1, maxDelay: 10, maxAttempts: 3),
            logger: Logger(label: "test"), parse: Self.parse, now: { clock.now })
        try await processor.processDue()
        var event = try await inbox.event(id: 1)
        #expect(event?.status == .failed)
        #expect(event?.attempts == 1)
        // Not due before its backoff has passed.
        #expect(try await processor.processDue() == 0)
        clock.advance(11)
        try await processor.processDue()
        clock.advance(11)
        try await processor.processDue()
        event = try await inbox.event(id: 1)
        #expect(event?.status == .dead)
        #expect(event?.attempts == 3)
        #expect(event?.lastError == "scripted failure 3")
        #expect(handler.handled == [1, 1, 1])
        clock.advance(1000)
        #expect(try await processor.processDue() == 0)
    }

    @Test func aFailureThatRecoversEndsProcessed() async throws {
        let inbox = SQLiteInboxRepository(database: try CohortDatabase())
        _ = try await inbox.append([Self.event("a")])
        let clock = ManualClock()
        let processor = InboxProcessor(
            repository: inbox, handler: ScriptedHandler(failures: 1), policy: RetryPolicy(baseDelay: 1, maxDelay: 10, maxAttempts: 3),
            logger: Logger(label: "test"), parse: Self.parse, now: { clock.now })
        try await processor.processDue()
        clock.advance(11)
        try await processor.processDue()
        let event = try await inbox.event(id: 1)
        #expect(event?.status == .processed)
        #expect(event?.lastError == "scripted failure 1")
    }

    @Test func replayedUnhandledEventIsMarkedUnhandledNotRunThroughTheHandler() async throws {
        let inbox = SQLiteInboxRepository(database: try CohortDatabase())
        var unknown = Self.event("x")
        unknown.rawXML = "<xml><MsgType>text</MsgType><Content>hi</Content></xml>"
        _ = try await inbox.append([unknown])
        let handler = ScriptedHandler(failures: 0)
        let processor = InboxProcessor(
            repository: inbox, handler: handler, policy: RetryPolicy(baseDelay: 1, maxDelay: 1, maxAttempts: 1), logger: Logger(label: "t"), parse: Self.parse)
        try await processor.processDue()
        #expect(handler.handled.isEmpty)
        #expect(try await inbox.event(id: 1)?.status == .unhandled)
    }

    @Test func serviceRunsUntilGracefulShutdownAndDrainsWhatIsDue() async throws {
        let inbox = SQLiteInboxRepository(database: try CohortDatabase())
        _ = try await inbox.append([Self.event("a"), Self.event("b")])
        let handler = ScriptedHandler(failures: 0)
        let doorbell = Doorbell()
        let processor = InboxProcessor(
            repository: inbox, handler: handler, policy: RetryPolicy(baseDelay: 1, maxDelay: 1, maxAttempts: 1),
            pollInterval: .milliseconds(10), doorbell: doorbell, logger: Logger(label: "t"), parse: Self.parse)
        let group = ServiceGroup(services: [processor], logger: Logger(label: "t"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            // Wait (bounded) until both are handled, then shut down gracefully.
            for _ in 0..<500 where handler.handled.count < 2 { try await Task.sleep(for: .milliseconds(5)) }
            _ = try await inbox.append([Self.event("c")])
            doorbell.ring()
            for _ in 0..<500 where handler.handled.count < 3 { try await Task.sleep(for: .milliseconds(5)) }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(handler.handled == [1, 2, 3])
    }

    static func edit(_ key: String, customer: String, at seconds: Double) -> NewInboxEvent {
        let fields = CallbackFields([
            CallbackField("MsgType", "event"), CallbackField("Event", "change_external_contact"),
            CallbackField("ChangeType", "edit_external_contact"), CallbackField("UserID", "u"),
            CallbackField("ExternalUserID", customer), CallbackField("CreateTime", "1700000000"),
        ])
        return NewInboxEvent(
            corpID: "ww", dedupKey: key, receivedAt: Date(timeIntervalSince1970: seconds), rawXML: CallbackXML.render(fields),
            fields: fields, status: .pending)
    }

    @Test func oneReReadOfACustomerAnswersEveryEditReceivedBeforeItStarted() async throws {
        let inbox = SQLiteInboxRepository(database: try CohortDatabase())
        _ = try await inbox.append([
            Self.edit("1", customer: "wmA", at: 1_700_000_000), Self.edit("2", customer: "wmB", at: 1_700_000_001),
            Self.edit("3", customer: "wmA", at: 1_700_000_002), Self.edit("4", customer: "wmA", at: 1_700_000_003),
            // Received after the re-read of #1 started: the platform may not have had it yet.
            Self.edit("5", customer: "wmA", at: 1_700_000_009),
        ])
        let clock = ManualClock()
        clock.advance(5)
        let handler = RefreshingHandler(failing: [])
        let processor = InboxProcessor(
            repository: inbox, handler: handler, policy: RetryPolicy(baseDelay: 1, maxDelay: 10, maxAttempts: 3),
            logger: Logger(label: "test"), parse: Self.parse, now: { clock.now })
        #expect(try await processor.processDue() == 5)
        #expect(handler.reads == [1, 2, 5])
        #expect(try await inbox.counts() == [.processed: 5])
        #expect(try await inbox.event(id: 3)?.note == "covered by inbox #1")
        #expect(try await inbox.event(id: 4)?.note == "covered by inbox #1")
        #expect(try await inbox.event(id: 5)?.note == nil)
    }

    @Test func aReReadThatFailedAnswersNothingAndTheNextReReadAnswersIt() async throws {
        let inbox = SQLiteInboxRepository(database: try CohortDatabase())
        _ = try await inbox.append([Self.edit("1", customer: "wmA", at: 1_700_000_000), Self.edit("2", customer: "wmA", at: 1_700_000_001)])
        let clock = ManualClock()
        clock.advance(5)
        let handler = RefreshingHandler(failing: [1])
        let processor = InboxProcessor(
            repository: inbox, handler: handler, policy: RetryPolicy(baseDelay: 1, maxDelay: 10, maxAttempts: 3),
            logger: Logger(label: "test"), parse: Self.parse, now: { clock.now })
        try await processor.processDue()
        // #2 ran itself because #1 failed; its re-read then answered #1 as well.
        #expect(handler.reads == [1, 2])
        #expect(try await inbox.event(id: 2)?.status == .processed)
        #expect(try await inbox.event(id: 2)?.note == nil)
        #expect(try await inbox.event(id: 1)?.status == .processed)
        #expect(try await inbox.event(id: 1)?.note == "covered by inbox #2")
    }
}

/// A handler that re-reads the customer of every edit, as the contact handler does, failing
/// the events it is told to.
final class RefreshingHandler: InboxEventHandler {
    private let failing: Set<Int64>
    private let calls = Mutex<[Int64]>([])

    init(failing: Set<Int64>) {
        self.failing = failing
    }

    var reads: [Int64] { calls.withLock { $0 } }

    func refresh(for delivery: InboxDelivery) -> InboxRefresh? {
        guard let customer = delivery.fields["ExternalUserID"] else { return nil }
        return InboxRefresh(externalUserID: customer, changeTypes: ["edit_external_contact"])
    }

    func handle(_ delivery: InboxDelivery) async throws {
        calls.withLock { $0.append(delivery.record.id) }
        if failing.contains(delivery.record.id) { throw ScriptedHandler.HandlerFailure(attempt: 1) }
    }
}
