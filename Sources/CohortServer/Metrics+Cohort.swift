import CohortCore
import CohortStore
import Foundation
import Hummingbird
import Metrics
import NIOCore
import Prometheus
import Synchronization

/// The process's metrics: swift-metrics backed by a Prometheus registry, served at /metrics.
public enum CohortMetrics {
    /// The registry every Cohort metric lands in.
    public static let registry = PrometheusCollectorRegistry()
    private static let installed = Mutex(false)

    /// Installs the Prometheus backend once per process (later calls keep it).
    public static func bootstrap() {
        let first = installed.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
    }
}

/// `GET /metrics`: counters and timers as they were recorded, plus gauges read from the store
/// at scrape time (inbox depth and lag, campaign recipients by state, tag writes, grades).
struct MetricsController: Sendable {
    static let path = "/metrics"
    let overview: (any OverviewReader)?
    let now: @Sendable () -> Date

    func register(on router: Router<BasicRequestContext>) {
        router.get(RouterPath(Self.path)) { _, _ -> Response in
            if let overview {
                // A store that cannot be read leaves the last values; the counters still serve.
                if let current = try? await overview.read(grades: false) { record(current) }
            }
            var buffer: [UInt8] = []
            CohortMetrics.registry.emit(into: &buffer)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: buffer)))
        }
    }

    private func gauge(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> Prometheus.Gauge {
        CohortMetrics.registry.makeGauge(
            descriptor: MetricNameDescriptor(namespace: "cohort", subsystem: nil, metricName: name, unitName: "", helpText: help), labels: labels)
    }

    private func record(_ overview: StoreOverview) {
        for status in ["pending", "processed", "failed", "dead", "unhandled"] {
            gauge("inbox_events", "Inbox events by status", [("status", status)]).set(Double(overview.inbox[status] ?? 0))
        }
        let lag = overview.oldestOpenInboxEvent.map { max(0, now().timeIntervalSince1970 - Double($0)) } ?? 0
        gauge("inbox_lag_seconds", "Age of the oldest event waiting for its handler").set(lag)
        gauge("contacts", "Customers with a live relation").set(Double(overview.contacts))
        gauge("relations", "Live relations").set(Double(overview.liveRelations))
        for (stage, count) in overview.lifecycle {
            gauge("contacts_by_lifecycle", "Graded contacts per lifecycle stage", [("stage", stage)]).set(Double(count))
        }
        for status in ["pending", "done", "failed"] {
            gauge("tag_writes_queued", "Platform tag writes by status", [("status", status)]).set(Double(overview.tagWrites[status] ?? 0))
        }
        for campaign in overview.campaigns {
            for (state, count) in campaign.recipients {
                gauge("campaign_recipients", "Campaign recipients by ledger state", [("campaign", campaign.name), ("state", state)])
                    .set(Double(count))
            }
        }
    }
}
