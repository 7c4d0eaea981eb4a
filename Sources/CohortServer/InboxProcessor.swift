import CohortCore
import Foundation
import Logging
import Metrics
import ServiceLifecycle

/// Hands stored callback events to their handler in arrival order, retrying failures with
/// backoff and dead-lettering an event after the policy's attempts, keeping the error.
///
/// A `Service`: it runs until graceful shutdown, finishing the event in hand before it returns.
/// An event interrupted by a crash is still pending and runs again, so handlers are idempotent.
public struct InboxProcessor: Service {
    public let repository: any InboxRepository
    public let handler: any InboxEventHandler
    public let policy: RetryPolicy
    public let pollInterval: Duration
    public let batchSize: Int
    public let doorbell: Doorbell
    public let logger: Logger
    /// Where dead-lettered events are reported.
    public var alerts: (any AlertRepository)?
    /// How long one pass handles events before it records them. On PostgreSQL a pass's events
    /// are claimed with a lease (300 s); a pass slowed down by the platform (the shared call
    /// budget, retries) stops well before it, so no other instance takes an event this one is
    /// still handling. Events left unhandled come back when their lease ends.
    public var passBudget: Duration = .seconds(120)
    private let parse: @Sendable (String) throws -> CallbackFields
    private let now: @Sendable () -> Date

    public init(
        repository: any InboxRepository, handler: any InboxEventHandler, policy: RetryPolicy,
        pollInterval: Duration = .milliseconds(500), batchSize: Int = 100, doorbell: Doorbell = Doorbell(),
        logger: Logger, parse: @escaping @Sendable (String) throws -> CallbackFields,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.repository = repository
        self.handler = handler
        self.policy = policy
        self.pollInterval = pollInterval
        self.batchSize = batchSize
        self.doorbell = doorbell
        self.logger = logger
        self.parse = parse
        self.now = now
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            while !doorbell.isClosed && !Task.isCancelled {
                do {
                    let handled = try await processDue()
                    // A full batch means more may be due: go again without waiting.
                    if handled >= batchSize { continue }
                } catch {
                    logger.error("inbox pass failed", metadata: ["error": "\(error)"])
                }
                await doorbell.wait(timeout: pollInterval)
                // Let a burst gather so one pass handles many events: a pass per event cost
                // more than the events themselves under load (docs/PERFORMANCE.md).
                try? await Task.sleep(for: .milliseconds(10))
            }
        } onGracefulShutdown: {
            doorbell.close()
        }
    }

    /// Runs the handler for every event due now. Returns how many events it took.
    @discardableResult
    public func processDue() async throws -> Int {
        let due = try await repository.due(now: now(), limit: batchSize)
        var outcomes: [InboxOutcome] = []
        outcomes.reserveCapacity(due.count)
        var coverages: [InboxCoverage] = []
        let clock = ContinuousClock()
        let started = clock.now
        for event in due {
            // At least one event per pass, so a budget spent on waiting still makes progress.
            if !outcomes.isEmpty, clock.now - started > passBudget {
                logger.notice("inbox pass stopped at its time budget", metadata: ["handled": "\(outcomes.count)", "claimed": "\(due.count)"])
                break
            }
            // An earlier run of this pass already re-read what this event asks for: the store
            // resolves it with that run's coverage, in the same transaction.
            if coverages.contains(where: { $0.covers(event) }) { continue }
            let outcome = await process(event)
            outcomes.append(outcome)
            if let coverage = outcome.covers { coverages.append(coverage) }
        }
        // One transaction for the whole pass. A crash before it re-runs these handlers, which
        // is safe because handlers are idempotent.
        let covered = try await repository.resolve(outcomes)
        if covered > 0 {
            Counter(label: "cohort_inbox_handled_total", dimensions: [("result", "covered")]).increment(by: covered)
        }
        for outcome in outcomes {
            Counter(label: "cohort_inbox_handled_total", dimensions: [("result", outcome.resolution.metricName)]).increment()
            if case .dead(let error, let attempts, let at) = outcome.resolution {
                _ = try? await alerts?.raise(
                    .deadLetter, subject: "inbox \(outcome.id)",
                    message: "inbox event \(outcome.id) failed \(attempts) times and was dead-lettered: \(error); fix the cause, then `cohort inbox replay \(outcome.id)`",
                    at: Int64(at.timeIntervalSince1970))
            }
        }
        return due.count
    }

    private func process(_ event: InboxEvent) async -> InboxOutcome {
        let fields: CallbackFields
        do {
            fields = try parse(event.rawXML)
        } catch {
            // It parsed when it arrived; failing now is a defect to look at, not to retry.
            logger.error("inbox event unreadable", metadata: ["inbox.id": "\(event.id)", "error": "\(error)"])
            return InboxOutcome(id: event.id, .dead(error: "stored XML no longer parses: \(error)", attempts: event.attempts + 1, at: now()))
        }
        let delivery = InboxDelivery(record: event, fields: fields)
        if case .unhandled(let reason) = delivery.event {
            return InboxOutcome(id: event.id, .unhandled(reason: reason))
        }
        // Taken before the handler reads the platform: every change the platform had by then is
        // in what it reads.
        let started = now()
        let resolution = await run(delivery)
        guard case .processed = resolution, let refresh = handler.refresh(for: delivery) else {
            return InboxOutcome(id: event.id, resolution)
        }
        let coverage = InboxCoverage(
            corpID: event.corpID, externalUserID: refresh.externalUserID, changeTypes: refresh.changeTypes, receivedBefore: started,
            coveredBy: event.id)
        return InboxOutcome(id: event.id, resolution, covers: coverage)
    }

    private func run(_ delivery: InboxDelivery) async -> InboxResolution {
        let event = delivery.record
        // Built only for a line that is logged: per event, the dictionary cost more than a
        // no-op handler.
        func metadata() -> Logger.Metadata {
            [
                "inbox.id": "\(event.id)", "inbox.event": "\(event.eventName ?? "")",
                "inbox.change_type": "\(event.changeType ?? "")",
            ]
        }
        do {
            try await handler.handle(delivery)
            logger.debug("inbox event processed", metadata: metadata())
            return .processed(at: now())
        } catch {
            let attempts = event.attempts + 1
            let message = String(describing: error)
            if policy.allowsRetry(afterAttempts: attempts) {
                let delay = policy.delay(beforeRetry: attempts, unitRandom: Double.random(in: 0..<1))
                logger.warning(
                    "inbox event failed; will retry",
                    metadata: metadata().merging(["inbox.attempts": "\(attempts)", "error": "\(message)"]) { $1 })
                return .retry(error: message, attempts: attempts, at: now().addingTimeInterval(delay))
            } else {
                logger.error(
                    "inbox event dead-lettered",
                    metadata: metadata().merging(["inbox.attempts": "\(attempts)", "error": "\(message)"]) { $1 })
                return .dead(error: message, attempts: attempts, at: now())
            }
        }
    }
}

/// A handler that does nothing, for benchmarks and tests that measure the webhook and inbox
/// alone. Production wiring (`AppDependencies.live`) never uses it.
public struct AcknowledgingHandler: InboxEventHandler {
    public init() {}

    public func handle(_ delivery: InboxDelivery) async throws {}
}

extension InboxResolution {
    var metricName: String {
        switch self {
        case .processed: "processed"
        case .retry: "retry"
        case .dead: "dead"
        case .unhandled: "unhandled"
        }
    }
}
