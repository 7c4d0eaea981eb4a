import CohortStore
import Logging
import ServiceLifecycle

/// Checkpoints the SQLite WAL in the background, so commits on the webhook path never wait for
/// a checkpoint's fsyncs (measured: those stalls halved ingest throughput; docs/PERFORMANCE.md).
///
/// While the log grows it runs again after `busyInterval`: the less a background pass leaves
/// behind, the shorter the writer's own checkpoint when it restarts the log, which is the one
/// pause commits still see (docs/PERFORMANCE.md). An idle log is looked at every `idleInterval`.
struct CheckpointService: Service {
    let database: CohortDatabase
    var busyInterval: Duration = .milliseconds(20)
    var idleInterval: Duration = .milliseconds(200)
    let logger: Logger

    func run() async throws {
        var lastFrames = 0
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            var interval = idleInterval
            do {
                let frames = try await database.checkpoint().frames
                if frames != lastFrames { interval = busyInterval }
                lastFrames = frames
            } catch {
                logger.warning("WAL checkpoint failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
        // A final pass so a clean shutdown leaves a short WAL behind.
        _ = try? await database.checkpoint()
    }
}
