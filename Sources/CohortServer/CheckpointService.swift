import CohortStore
import Logging
import ServiceLifecycle

/// Checkpoints the SQLite WAL in the background, so commits on the webhook path never wait for
/// a checkpoint's fsyncs (measured: those stalls halved ingest throughput; docs/PERFORMANCE.md).
struct CheckpointService: Service {
    let database: CohortDatabase
    let interval: Duration
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await database.checkpoint()
            } catch {
                logger.warning("WAL checkpoint failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
        // A final pass so a clean shutdown leaves a short WAL behind.
        _ = try? await database.checkpoint()
    }
}
