import CohortConfig
import CohortCore
import CohortStore
import CohortSync
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Metrics
import NIOCore
import ServiceLifecycle
import WeComKit

/// Applies an event, then re-grades the contact it concerns (and any contact whose kept
/// interactions it made matchable), so tags follow within moments of the platform change.
/// Grading trouble never fails the event: it was applied, and the next full run catches up.
public struct RegradingHandler: InboxEventHandler {
    public let inner: any InboxEventHandler
    public let grader: Grader
    public let interactions: any InteractionRepository
    public var logger: Logger

    public init(inner: any InboxEventHandler, grader: Grader, interactions: any InteractionRepository, logger: Logger) {
        self.inner = inner
        self.grader = grader
        self.interactions = interactions
        self.logger = logger
    }

    /// The re-grade is of the same customer the inner handler re-reads, so it answers the same events.
    public func refresh(for delivery: InboxDelivery) -> InboxRefresh? { inner.refresh(for: delivery) }

    public func handle(_ delivery: InboxDelivery) async throws {
        try await inner.handle(delivery)
        guard case .externalContact(let change) = delivery.event else { return }
        do {
            let started = ContinuousClock.now
            let matched = try await interactions.matchPending(contact: change.externalUserID)
            try await grader.regrade(Array(Set([change.externalUserID] + matched)).sorted())
            Metrics.Timer(label: "cohort_grade_duration_seconds", dimensions: [("run", "incremental")]).recordSeconds(
                (ContinuousClock.now - started).inSeconds)
        } catch {
            logger.warning("re-grade after event failed; the next full run will catch up", metadata: ["error": "\(error)"])
        }
    }
}

/// `POST /api/v1/interactions`: a JSON batch of up to 1,000 interactions, validated as a
/// whole (one bad item rejects the batch with every problem listed), idempotent by
/// (source, source_id). Contacts it touches are re-graded at once.
struct InteractionsController: Sendable {
    static let path = "/api/v1/interactions"
    static let maxBatch = 1_000

    let repository: any InteractionRepository
    let parser: InteractionRowParser
    let grader: Grader?
    let maxBodyBytes: Int
    let logger: Logger

    struct Failure: Encodable {
        var index: Int?
        var message: String
    }

    func receive(_ request: Request, context: BasicRequestContext) async throws -> Response {
        // The bearer token was checked by the API's middleware.
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maxBodyBytes)
        } catch {
            return json(.contentTooLarge, ["error": "body larger than \(maxBodyBytes) bytes"])
        }
        let items: [[String: JSONScalar]]
        do {
            let data = Data(body.readableBytesView)
            if let batch = try? JSONDecoder().decode(Batch.self, from: data) {
                items = batch.interactions
            } else {
                items = try JSONDecoder().decode([[String: JSONScalar]].self, from: data)
            }
        } catch {
            return json(.badRequest, ["error": "body must be {\"interactions\": [...]} or a JSON array of objects with text, number or attributes values"])
        }
        guard !items.isEmpty else { return json(.badRequest, ["error": "no interactions"]) }
        guard items.count <= Self.maxBatch else {
            return json(.contentTooLarge, ["error": "at most \(Self.maxBatch) interactions per request, got \(items.count)"])
        }
        var batch: [Interaction] = []
        var failures: [Failure] = []
        for (index, item) in items.enumerated() {
            var row: [String: String] = [:]
            var attributes: [String: String] = [:]
            for (key, value) in item {
                if key == "attributes" {
                    guard case .object(let object) = value else {
                        failures.append(Failure(index: index, message: "attributes must be an object of text values"))
                        continue
                    }
                    attributes = object
                } else if InteractionRowParser.fields.contains(key) {
                    row[key] = value.text
                } else {
                    failures.append(Failure(index: index, message: "unknown field \(key) (fields: \(InteractionRowParser.fields.joined(separator: ", ")), attributes)"))
                }
            }
            switch parser.parse(row) {
            case .success(var interaction):
                interaction.attributes = attributes
                batch.append(interaction)
            case .failure(let error):
                failures.append(Failure(index: index, message: error.description))
            }
        }
        guard failures.isEmpty else {
            return try encoded(.unprocessableContent, ["errors": failures])
        }
        let counts = try await repository.store(batch, at: Date())
        if let grader {
            do {
                // Every contact the batch names, however it names them.
                try await grader.regrade(try await repository.resolve(batch.map(\.contact)))
            } catch {
                logger.warning("re-grade after interactions failed; the next full run will catch up", metadata: ["error": "\(error)"])
            }
        }
        return try encoded(.ok, counts)
    }

    struct Batch: Decodable {
        var interactions: [[String: JSONScalar]]
    }

    private func json(_ status: HTTPResponse.Status, _ body: [String: String]) -> Response {
        APIResponse.error(status, body["error"] ?? "")
    }

    private func encoded(_ status: HTTPResponse.Status, _ body: some Encodable) throws -> Response {
        try APIResponse.json(body, status: status)
    }
}

/// A JSON value an interaction field may hold: text, a number (amounts, unix seconds), or
/// for `attributes` an object of text.
enum JSONScalar: Decodable, Sendable {
    case text(String)
    case object([String: String])

    var text: String {
        switch self {
        case .text(let value): value
        case .object: ""
        }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let string = try? container.decode(String.self) {
            self = .text(string)
        } else if let integer = try? container.decode(Int64.self) {
            self = .text(String(integer))
        } else if let number = try? container.decode(Decimal.self) {
            self = .text("\(number)")
        } else if let object = try? container.decode([String: String].self) {
            self = .object(object)
        } else if container.decodeNil() {
            self = .text("")
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "expected text, a number or an object")
        }
    }
}

enum AdminAuth {
    /// Compares without an early exit, so response time does not reveal a prefix.
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        constantTimeEquals(Array(a.utf8), Array(b.utf8))
    }
}

/// Drains the platform tag-write queue in the background.
struct TagWriterService: Service {
    let writer: TagWriter
    let interval: Duration
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let report = try await writer.drain(limit: 1_000)
                if report.done + report.failed > 0 {
                    logger.info("tag writes", metadata: ["done": "\(report.done)", "retry": "\(report.retried)", "failed": "\(report.failed)"])
                    continue
                }
            } catch {
                logger.warning("tag writer pass failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}

/// Runs the full re-grade daily at the configured local time.
struct GradingScheduleService: Service {
    let grader: Grader
    /// One instance at a time runs it (a no-op lock on SQLite).
    let jobLock: any JobLock
    let logger: Logger

    func run() async throws {
        guard let minute = grader.rules.grading.schedule.dailyAtMinute else { return }
        let calendar = BusinessCalendar(timeZone: grader.rules.grading.timeZone)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let now = Int64(grader.now().timeIntervalSince1970)
            var next = calendar.startOfDay(calendar.dayNumber(now)) + Int64(minute) * 60
            if next <= now { next = calendar.startOfDay(calendar.dayNumber(now) + 1) + Int64(minute) * 60 }
            // Hours of sleep must not hold up a graceful shutdown.
            let wait = Duration.seconds(next - now)
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
            guard !Task.isShuttingDownGracefully, !Task.isCancelled else { return }
            do {
                let grader = self.grader
                let logger = self.logger
                let ran = try await jobLock.withLock("full-regrade") {
                    let started = ContinuousClock.now
                    let report = try await grader.apply()
                    Metrics.Timer(label: "cohort_grade_duration_seconds", dimensions: [("run", "full")]).recordSeconds(
                        (ContinuousClock.now - started).inSeconds)
                    logger.info("scheduled full re-grade", metadata: ["contacts": "\(report.contacts)", "queued": "\(report.written.queuedOps)"])
                }
                if !ran { logger.info("scheduled full re-grade runs on another instance") }
            } catch {
                logger.error("scheduled full re-grade failed", metadata: ["error": "\(error)"])
            }
        }
    }
}

/// Runs a full contact sync every `interval` (`sync.interval_hours`), first one interval after start.
struct SyncScheduleService: Service {
    let sync: FullSync
    let interval: Duration
    /// One instance at a time runs it (a no-op lock on SQLite).
    let jobLock: any JobLock
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            guard !Task.isShuttingDownGracefully, !Task.isCancelled else { return }
            do {
                let sync = self.sync
                let logger = self.logger
                let ran = try await jobLock.withLock("sync") {
                    let report = try await sync.run()
                    logger.info("scheduled sync", metadata: ["contacts": "\(report.contacts)", "rows_changed": "\(report.rowsChanged)"])
                }
                if !ran { logger.info("scheduled sync runs on another instance") }
            } catch {
                logger.error("scheduled sync failed", metadata: ["error": "\(error)"])
            }
        }
    }
}

/// Applies the retention settings at start and then daily.
struct RetentionService: Service {
    let retention: any RetentionStore
    let settings: RetentionSettings
    let audit: any AuditLog
    let now: @Sendable () -> Date
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let report = try await retention.apply(settings, now: now())
                if report.relations + report.interactions > 0 {
                    try await audit.record(
                        AuditEntry(
                            at: Int64(now().timeIntervalSince1970), actor: "serve", action: "retention.apply", subject: "store",
                            detail: "dropped \(report.relations) ended relations, \(report.interactions) interactions"))
                    logger.info("retention", metadata: ["relations": "\(report.relations)", "interactions": "\(report.interactions)"])
                }
            } catch {
                logger.error("retention pass failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(86_400)) }
        }
    }
}

extension RetentionStore {
    /// Drops what `settings` keeps no longer, counted back from `now`.
    public func apply(_ settings: RetentionSettings, now: Date) async throws -> RetentionReport {
        try await apply(
            endedBefore: settings.endedRelationsDays.map { now.addingTimeInterval(-Double($0) * 86_400) },
            interactionsBefore: settings.interactionsDays.map { now.addingTimeInterval(-Double($0) * 86_400) })
    }
}
