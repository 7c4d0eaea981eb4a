import CohortCore
import CohortSync
import Foundation
import Logging
import ServiceLifecycle

/// Starts scheduled campaigns when their time comes and creates their tasks: the campaign
/// scheduler and dispatcher of `cohort serve`. A pass that finds nothing to do sleeps.
public struct CampaignDispatchService: Service {
    public let dispatcher: CampaignDispatcher
    public let interval: Duration
    public let logger: Logger

    public init(dispatcher: CampaignDispatcher, interval: Duration = .seconds(5), logger: Logger) {
        self.dispatcher = dispatcher
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                // A bounded pass, so a shutdown waits for at most one batch of calls.
                let report = try await dispatcher.dispatch(limit: 100)
                if report.tasksCreated + report.failed + report.resolvedAdopted + report.resolvedRequeued > 0 || !report.paused.isEmpty {
                    logger.info(
                        "campaign dispatch",
                        metadata: [
                            "tasks": "\(report.tasksCreated)", "recipients": "\(report.recipients)", "failed": "\(report.failed)",
                            "paused": "\(report.paused.keys.sorted().joined(separator: ","))",
                            "completed": "\(report.completedCampaigns.joined(separator: ","))",
                        ])
                    if report.tasksCreated >= 100 { continue }
                }
            } catch {
                logger.warning("campaign dispatch pass failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}

/// Brings mass-message results in (confirmations, deliveries, failures) and sends reminders.
public struct CampaignResultPollService: Service {
    public let poller: CampaignResultPoller
    public let interval: Duration
    /// One instance at a time polls (and reminds); a no-op lock on SQLite.
    public let jobLock: any JobLock
    public let logger: Logger

    public init(poller: CampaignResultPoller, interval: Duration = .seconds(60), jobLock: any JobLock = LocalJobLock(), logger: Logger) {
        self.poller = poller
        self.interval = interval
        self.jobLock = jobLock
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let poller = self.poller
                let logger = self.logger
                _ = try await jobLock.withLock("result-poll") {
                    let report = try await poller.poll()
                    if report.confirmed + report.delivered + report.failed + report.reminded > 0 || !report.completedCampaigns.isEmpty {
                        logger.info(
                            "campaign results",
                            metadata: [
                                "confirmed": "\(report.confirmed)", "delivered": "\(report.delivered)", "failed": "\(report.failed)",
                                "reminded": "\(report.reminded)", "completed": "\(report.completedCampaigns.joined(separator: ","))",
                            ])
                    }
                }
            } catch {
                logger.warning("campaign result poll failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
