import CohortConfig
import CohortCore
import CohortSync
import CohortTemplates
import Foundation
import Logging
import Metrics
import ServiceLifecycle
import WeComKit

/// Sends the welcome message for one new relation: refreshes the contact from the platform,
/// picks the first welcome choice whose rule holds for the relation, renders it and calls
/// send_welcome_msg until it is taken, refused for good (41051) or the 20 s window closes.
/// Every attempt is recorded.
public struct WelcomeSender: Sendable {
    public let client: WeComClient
    public let refresher: ContactEventHandler
    public let grading: GradingRules
    public let rules: CampaignRules
    public let gradingRepository: any GradingRepository
    public let campaigns: any CampaignRepository
    public let welcomes: any WelcomeRepository
    public var now: @Sendable () -> Date
    public var sleep: @Sendable (Double) async throws -> Void
    public var logger: Logger

    public init(
        client: WeComClient, directory: any DirectoryRepository, grading: GradingRules, rules: CampaignRules,
        gradingRepository: any GradingRepository, campaigns: any CampaignRepository, welcomes: any WelcomeRepository,
        now: @escaping @Sendable () -> Date = { Date() }, sleep: @escaping @Sendable (Double) async throws -> Void = { try await Task.sleep(for: .seconds($0)) },
        logger: Logger = Logger(label: "cohort.welcome")
    ) {
        // Each send is one visible attempt: the sender retries on its own deadline, never
        // behind a 60 s frequency block.
        var single = PlatformRetryRules()
        single.maxAttempts = 1
        single.maxFrequencyWaits = 0
        let client = client.with(rules: single)
        self.client = client
        self.refresher = ContactEventHandler(client: client, repository: directory, now: now, logger: logger)
        self.grading = grading
        self.rules = rules
        self.gradingRepository = gradingRepository
        self.campaigns = campaigns
        self.welcomes = welcomes
        self.now = now
        self.sleep = sleep
        self.logger = logger
    }

    private var seconds: Int64 { Int64(now().timeIntervalSince1970) }

    /// Welcomes the relation the event added; `receivedAt` starts the 20 s window (the platform
    /// sends the callback as the code is issued). Returns the last attempt.
    @discardableResult
    public func welcome(_ change: ExternalContactChange, receivedAt: Int64) async -> WelcomeAttempt {
        let deadline = receivedAt + WelcomePolicy.window
        var attempt = WelcomeAttempt(
            externalUserID: change.externalUserID, userID: change.userID, outcome: .skipped, eventTime: change.createTime, attemptedAt: seconds)
        guard let code = change.welcomeCode, !code.isEmpty else {
            attempt.detail = "the event carries no WelcomeCode"
            return await record(attempt)
        }
        guard !rules.config.welcome.isEmpty else {
            attempt.detail = "campaigns.yaml has no welcome choices"
            return await record(attempt)
        }
        let text: String
        switch await message(for: change) {
        case .nothing(let reason):
            attempt.detail = reason
            return await record(attempt)
        case .message(let template, let rendered):
            attempt.template = template
            text = rendered
        }
        var delay = 0.25
        while true {
            attempt.attemptedAt = seconds
            guard attempt.attemptedAt < deadline else {
                attempt.outcome = .expired
                attempt.detail = "the 20 s welcome window closed before the message could be sent"
                return await record(attempt)
            }
            let request = WelcomeMessageRequest(welcome_code: code, text: MessageText(content: text))
            let result = await Self.sendBefore(deadline: Double(deadline) - now().timeIntervalSince1970) { [client] () async throws(PlatformError) in
                try await client.sendWelcomeMessage(request)
            }
            switch result {
            case .sent:
                attempt.outcome = .sent
                attempt.errcode = nil
                attempt.detail = nil
                return await record(attempt)
            case .timedOut:
                attempt.outcome = .expired
                attempt.detail = "no answer inside the 20 s welcome window"
                return await record(attempt)
            case .failed(let error):
                attempt.errcode = error.errcode
                attempt.detail = error.description
                if error.errcode == WelcomePolicy.finalErrcode || !Self.isTransient(error) {
                    attempt.outcome = .final
                    return await record(attempt)
                }
                attempt.outcome = .failed
                _ = await record(attempt)
            }
            try? await sleep(delay)
            delay = min(delay * 2, 4)
        }
    }

    enum Composed {
        case message(template: String, text: String)
        case nothing(String)
    }

    /// The chosen welcome template and its text, or why nothing is sent.
    func message(for change: ExternalContactChange) async -> Composed {
        let id = change.externalUserID
        do {
            // The store may not know the contact yet: the inbox applies the event after us.
            try await refresher.refresh(id)
        } catch {
            logger.warning("welcome: contact refresh failed; choosing from what the store has", metadata: ["error": "\(error)"])
        }
        do {
            if let reason = try await campaigns.optOutReason(of: id) {
                return .nothing("opted out: \(reason)")
            }
        } catch {
            return .nothing("the do-not-contact list cannot be read: \(error)")
        }
        var candidate = CampaignCandidate(externalUserID: id, relations: [CandidateRelation(userID: change.userID)], grade: ContactGrade(externalUserID: id))
        var choice: Int?
        do {
            let asOf = seconds
            let plan = rules.welcomePlan(asOf: asOf, grading: grading)
            let population = try await gradingRepository.population(plan: plan, attributes: grading.grading.attributes, contacts: [id])
            if let contact = population.contacts.first {
                let graded = GradingEngine.grade(population, rules: grading, plan: plan)
                choice = graded.firstMatch(rules.welcomeRules, contact: id, userID: change.userID)
                if let stored = try await campaigns.candidates([id])[id] {
                    candidate = stored
                }
                CampaignDesk.enrich(&candidate, from: contact, attributeNames: grading.grading.attributes.map(\.name))
            } else {
                // Without data only a choice with no rule can apply.
                choice = rules.welcomeRules.firstIndex { $0 == nil }
            }
        } catch {
            logger.warning("welcome: the store could not be read; using the catch-all choice", metadata: ["error": "\(error)"])
            choice = rules.welcomeRules.firstIndex { $0 == nil }
        }
        guard let choice else { return .nothing("no welcome choice matches this relation") }
        let template = rules.config.welcome[choice].template.name
        var sender = candidate.relations.first { $0.userID == change.userID } ?? CandidateRelation(userID: change.userID)
        if sender.staffName == nil { sender.staffName = candidate.relations.first?.staffName }
        switch rules.welcomeRenderer.render(variant: choice, MessageContext(campaign: "welcome", candidate: candidate, sender: sender)) {
        case .success(let text): return .message(template: template, text: text)
        case .failure(let failure): return .nothing("\(failure.reason.rawValue): \(failure.detail)")
        }
    }

    private func record(_ attempt: WelcomeAttempt) async -> WelcomeAttempt {
        Counter(label: "cohort_welcome_messages_total", dimensions: [("outcome", attempt.outcome.rawValue)]).increment()
        do {
            try await welcomes.record(attempt)
        } catch {
            logger.error("welcome attempt not recorded", metadata: ["error": "\(error)", "outcome": "\(attempt.outcome.rawValue)"])
        }
        let level: Logger.Level = attempt.outcome == .sent ? .info : .warning
        logger.log(
            level: level, "welcome message",
            metadata: [
                "outcome": "\(attempt.outcome.rawValue)", "userid": "\(attempt.userID)", "template": "\(attempt.template ?? "")",
                "errcode": "\(attempt.errcode.map(String.init) ?? "")", "detail": "\(attempt.detail ?? "")",
            ])
        return attempt
    }

    static func isTransient(_ error: PlatformError) -> Bool {
        switch error.kind {
        case .api(let code, _): code == -1 || code == 45009 || code == 45033 || code == 6000 || PlatformError.tokenErrors.contains(code)
        case .http(let status): status >= 500
        case .transport: true
        case .malformedResponse, .invalidRequest: false
        }
    }

    enum SendResult {
        case sent
        case failed(PlatformError)
        case timedOut
    }

    /// Runs the call, giving up (and cancelling it) after `seconds`.
    static func sendBefore(deadline seconds: Double, _ call: @escaping @Sendable () async throws(PlatformError) -> Void) async -> SendResult {
        guard seconds > 0 else { return .timedOut }
        return await withTaskGroup(of: SendResult.self) { group in
            group.addTask {
                do throws(PlatformError) {
                    try await call()
                    return .sent
                } catch {
                    return .failed(error)
                }
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(seconds))
                return .timedOut
            }
            let first = await group.next() ?? .timedOut
            group.cancelAll()
            return first
        }
    }
}

/// The priority lane for welcome messages: the webhook hands it add events with a WelcomeCode
/// the moment they are stored, ahead of the inbox and its backoff queue. At start it picks up
/// events a crash left unwelcomed while their code may still live.
public final class WelcomeLane: Service, Sendable {
    public let sender: WelcomeSender
    public let welcomes: any WelcomeRepository
    public let logger: Logger
    private let stream: AsyncStream<(ExternalContactChange, Int64)>
    private let continuation: AsyncStream<(ExternalContactChange, Int64)>.Continuation
    private let parse: @Sendable (String) throws -> CallbackFields

    public init(sender: WelcomeSender, welcomes: any WelcomeRepository, logger: Logger, parse: @escaping @Sendable (String) throws -> CallbackFields) {
        self.sender = sender
        self.welcomes = welcomes
        self.logger = logger
        self.parse = parse
        (stream, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(10_000))
    }

    /// Queues a welcome; returns at once.
    public func submit(_ change: ExternalContactChange, receivedAt: Int64) {
        guard WelcomePolicy.wantsWelcome(change) else { return }
        continuation.yield((change, receivedAt))
    }

    public func run() async throws {
        await recover()
        await withGracefulShutdownHandler {
            // Welcomes run side by side: one slow call must not spend another's 20 s.
            await withDiscardingTaskGroup { group in
                for await (change, receivedAt) in stream {
                    group.addTask { [sender] in await sender.welcome(change, receivedAt: receivedAt) }
                }
            }
        } onGracefulShutdown: { [continuation] in
            continuation.finish()
        }
    }

    private func recover() async {
        let now = Int64(sender.now().timeIntervalSince1970)
        do {
            for pending in try await welcomes.pendingWelcomes(receivedSince: now - WelcomePolicy.window) {
                guard let fields = try? parse(pending.rawXML), let change = ExternalContactChange(fields) else { continue }
                submit(change, receivedAt: pending.receivedAt)
            }
        } catch {
            logger.warning("welcome recovery failed", metadata: ["error": "\(error)"])
        }
    }
}
