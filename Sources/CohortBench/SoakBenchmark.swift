import ArgumentParser
import CohortCore
import Foundation
import Synchronization
import WeComKit

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `cohort-bench soak`: signed, encrypted callbacks at a steady rate with periodic bursts against
/// a running `cohort serve` (scripts/soak.sh starts it beside a sync and a campaign). Prints one
/// JSON line per interval (throughput, latency, the server's resident memory) and a summary.
///
/// Events are `edit_external_contact` for relations that exist, so the inbox processor does real
/// work for each (a contact fetch from the platform and a directory write), as in production.
struct SoakBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak", abstract: "Callbacks at a steady rate with bursts against a running server, memory over time.")

    @Option(help: "Base URL of the running cohort serve; several, comma-separated, for instances behind a load balancer (events go round-robin).")
    var url = "http://127.0.0.1:8080"
    @Option(help: "Deliver every Nth event a second time, to another instance, as the platform retries (0: never).")
    var repeatEvery = 0
    @Option(help: "Times a delivery that failed (an instance down) is tried again on the next instance, as a load balancer does.")
    var retries = 0
    @Option(help: "Process id of the server, for its resident memory.") var serverPid: Int32?
    @Option(help: "How long to run, in seconds.") var seconds = 1800
    @Option(help: "Steady callbacks per second.") var rate = 100
    @Option(help: "Seconds between bursts (0: none).") var burstEvery = 120
    @Option(help: "Callbacks sent at once in a burst.") var burstSize = 2000
    @Option(help: "Seconds per report line.") var interval = 60
    @Option(help: "Requests in flight at most.") var concurrency = 64
    @Option(help: "Tab-separated staff userid and external_userid per line: the relations events name.")
    var relations: String

    func validate() throws {
        guard rate > 0, seconds > 0, interval > 0, concurrency > 0, burstSize >= 0, burstEvery >= 0 else {
            throw ValidationError("--rate, --seconds, --interval and --concurrency must be positive")
        }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard let token = environment["WECOM_TOKEN"], let key = environment["WECOM_AES_KEY"], let corp = environment["WECOM_CORP_ID"]
        else { throw ValidationError("set WECOM_TOKEN, WECOM_AES_KEY and WECOM_CORP_ID as for the server") }
        let crypto = try CallbackCrypto(token: token, encodingAESKey: key, receiveID: corp)
        let pairs = try String(contentsOfFile: relations, encoding: .utf8).split(separator: "\n").compactMap { line -> (String, String)? in
            let parts = line.split(separator: "\t")
            return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
        }
        // A relation named twice in one second is one event to the deduplicator; keep them apart.
        guard pairs.count > rate + burstSize else {
            throw ValidationError("\(pairs.count) relations: need more than --rate + --burst-size so no second repeats one")
        }
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = concurrency
        configuration.timeoutIntervalForRequest = 10
        let session = URLSession(configuration: configuration)
        let endpoints = url.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) + "/wecom/callback" }
        let stats = SoakStats()
        let clock = ContinuousClock()
        let start = clock.now
        let total = Duration.seconds(seconds)
        progress("soak: \(rate)/s, bursts of \(burstSize) every \(burstEvery) s, \(seconds) s, \(pairs.count) relations")

        let retries = self.retries
        let repeatEvery = self.repeatEvery
        @Sendable func send(_ index: Int) async {
            let (staff, contact) = pairs[index % pairs.count]
            let now = Int(Date().timeIntervalSince1970)
            let fields = CallbackFields([
                CallbackField("ToUserName", corp), CallbackField("FromUserName", "sys"), CallbackField("CreateTime", String(now)),
                CallbackField("MsgType", "event"), CallbackField("Event", "change_external_contact"),
                CallbackField("ChangeType", "edit_external_contact"), CallbackField("UserID", staff),
                CallbackField("ExternalUserID", contact),
            ])
            let encrypt = crypto.encrypt(CallbackXML.render(fields))
            let nonce = String(index)
            let signature = crypto.signature(timestamp: String(now), nonce: nonce, encrypt: encrypt)
            let body = Data(CallbackXML.envelope(toUserName: corp, agentID: "1000002", encrypt: encrypt).utf8)
            func deliver(to instance: Int) async -> Bool {
                let endpoint = endpoints[instance % endpoints.count]
                var request = URLRequest(url: URL(string: "\(endpoint)?msg_signature=\(signature)&timestamp=\(now)&nonce=\(nonce)")!)
                request.httpMethod = "POST"
                request.setValue("text/xml", forHTTPHeaderField: "Content-Type")
                request.httpBody = body
                do {
                    let (_, response) = try await session.data(for: request)
                    return ((response as? HTTPURLResponse)?.statusCode ?? 0) / 100 == 2
                } catch {
                    return false
                }
            }
            let sent = clock.now
            var ok = await deliver(to: index)
            var attempt = 0
            while !ok && attempt < retries {
                attempt += 1
                stats.noteRetry()
                try? await Task.sleep(for: .milliseconds(100))
                ok = await deliver(to: index + attempt)
            }
            stats.record(latency: clock.now - sent, ok: ok)
            // The same bytes again, elsewhere: a retried delivery must be stored once.
            if ok, repeatEvery > 0, index % repeatEvery == 0, await deliver(to: index + 1) { stats.noteRepeat() }
        }

        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                var window = 1
                while clock.now - start < total {
                    try? await Task.sleep(until: start + .seconds(interval * window), clock: clock)
                    let elapsed = clock.now - start
                    let snapshot = stats.takeWindow()
                    let line = jsonLine(self.report(snapshot, elapsed: elapsed, windowSeconds: Double(self.interval), stats: stats))
                    // Unbuffered, so a pipe (tee) shows each minute as it ends.
                    FileHandle.standardOutput.write(Data((line + "\n").utf8))
                    window += 1
                }
            }
            var next = 0
            var inFlight = 0
            var bursts = 0
            while clock.now - start < total {
                let elapsed = Self.seconds(clock.now - start)
                if burstEvery > 0, elapsed >= Double(burstEvery * (bursts + 1)) { bursts += 1 }
                let due = Int(elapsed * Double(rate)) + bursts * burstSize
                while next < due {
                    if inFlight >= concurrency {
                        await group.next()
                        inFlight -= 1
                    }
                    let index = next
                    group.addTask { await send(index) }
                    inFlight += 1
                    next += 1
                }
                stats.noteBehind(due - next)
                try? await Task.sleep(for: .milliseconds(5))
            }
            // The reporter is among the children; wait for every send and the last report.
            await group.waitForAll()
        }
        let overall = stats.overall()
        var summary = report(overall, elapsed: clock.now - start, windowSeconds: Self.seconds(clock.now - start), stats: stats)
        summary["scenario"] = "soak"
        summary["rate_per_s"] = rate
        summary["burst_every_s"] = burstEvery
        summary["burst_size"] = burstSize
        summary["server_rss_mib_max"] = stats.maxResident
        summary["generator_max_behind"] = stats.maxBehind
        summary["instances"] = endpoints.count
        summary["retried_deliveries"] = stats.retried
        summary["repeated_deliveries"] = stats.repeated
        summary["loadgen_peak_rss_mib"] = (peakResidentMiB() * 10).rounded() / 10
        print(jsonLine(summary))
    }

    private func report(_ window: SoakStats.Window, elapsed: Duration, windowSeconds: Double, stats: SoakStats) -> [String: Any] {
        let sorted = window.latencies.sorted()
        func percentile(_ p: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            let value = sorted[min(sorted.count - 1, Int((p * Double(sorted.count)).rounded(.up)) - 1)]
            return (value * 10_000).rounded() / 10
        }
        var line: [String: Any] = [
            "t_s": Int(Self.seconds(elapsed).rounded()),
            "sent": window.latencies.count,
            "ok": window.ok,
            "errors": window.latencies.count - window.ok,
            "accepted_per_s": (Double(window.ok) / windowSeconds * 10).rounded() / 10,
            "p50_ms": percentile(0.50),
            "p99_ms": percentile(0.99),
            "max_ms": percentile(1.0),
        ]
        if let serverPid, let resident = Self.residentMiB(of: serverPid) {
            stats.noteResident(resident)
            line["server_rss_mib"] = resident
        }
        return line
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// VmRSS of a process from /proc, in MiB (nil when it is gone).
    private static func residentMiB(of pid: Int32) -> Double? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kib = Double(line.split(separator: " ").dropFirst().first ?? "")
        else { return nil }
        return (kib / 1024 * 10).rounded() / 10
    }
}

/// Latencies and outcomes, per report window and for the whole run.
final class SoakStats: Sendable {
    struct Window {
        var latencies: [Double] = []
        var ok = 0
    }

    private struct State {
        var window = Window()
        var all = Window()
        var maxResident = 0.0
        var maxBehind = 0
        var retried = 0
        var repeated = 0
    }

    private let state = Mutex(State())

    func record(latency: Duration, ok: Bool) {
        let seconds = Double(latency.components.seconds) + Double(latency.components.attoseconds) / 1e18
        state.withLock {
            $0.window.latencies.append(seconds)
            $0.all.latencies.append(seconds)
            if ok {
                $0.window.ok += 1
                $0.all.ok += 1
            }
        }
    }

    func takeWindow() -> Window {
        state.withLock {
            let window = $0.window
            $0.window = Window()
            return window
        }
    }

    func overall() -> Window { state.withLock { $0.all } }

    func noteResident(_ mib: Double) { state.withLock { $0.maxResident = max($0.maxResident, mib) } }

    func noteBehind(_ count: Int) { state.withLock { $0.maxBehind = max($0.maxBehind, count) } }

    func noteRetry() { state.withLock { $0.retried += 1 } }

    func noteRepeat() { state.withLock { $0.repeated += 1 } }

    /// Deliveries tried again after a failure, and events delivered a second time on purpose.
    var retried: Int { state.withLock { $0.retried } }
    var repeated: Int { state.withLock { $0.repeated } }

    var maxResident: Double { state.withLock { $0.maxResident } }

    /// The most callbacks the generator ever owed its schedule (a saturated generator shows here).
    var maxBehind: Int { state.withLock { $0.maxBehind } }
}
