import CohortCore
import CohortStore
import Foundation
import Hummingbird
import NIOCore
import WeComKit

/// `GET /dashboard`: a read-only page rendered on the server from the store, with inline CSS
/// and a few lines of inline script (heat-map shading and totals), no external assets, so it
/// works offline. It shows counts only, never a person's data.
struct DashboardController: Sendable {
    static let path = "/dashboard"
    let overview: (any OverviewReader)?
    let desk: CampaignDesk?
    let now: @Sendable () -> Date

    func register(on router: Router<BasicRequestContext>) {
        router.get(RouterPath(Self.path)) { _, _ -> Response in
            guard let overview else {
                return Response(status: .serviceUnavailable, body: ResponseBody(byteBuffer: ByteBuffer(string: "no database\n")))
            }
            let numbers = try await overview.read()
            var segments: [SegmentRow]?
            if let desk {
                if let snapshot = try? await desk.snapshot() { segments = desk.segmentRows(snapshot) }
            }
            let page = DashboardPage(overview: numbers, segments: segments, platform: PlatformHealth.snapshot, now: now()).render()
            return Response(
                status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(string: page)))
        }
    }
}

/// The dashboard's HTML. Every number carries an id (`lifecycle-loyal`, `rf-5-4`, `abc-A`,
/// `segment-champions`, `campaign-thanks-sent`, ...) so scripts and tests can read it.
struct DashboardPage {
    let overview: StoreOverview
    let segments: [SegmentRow]?
    let platform: PlatformHealth.Snapshot
    let now: Date

    static let stages = LifecycleStage.allCases.map(\.rawValue)

    func render() -> String {
        var body = ""
        body += "<header><h1>Cohort</h1><p>as of <time id=\"generated\">\(escape(iso(now)))</time> · platform: "
        body += "<span id=\"platform\" class=\"\(platformClass)\">\(escape(platformText))</span></p></header>\n"
        body += "<section class=\"cards\">"
        for (id, label, value) in [
            ("contacts", "customers", overview.contacts), ("relations", "relations", overview.liveRelations), ("staff", "staff", overview.staff),
            ("graded", "graded", overview.graded), ("optouts", "opted out", overview.optOuts),
            ("inbox-pending", "inbox waiting", (overview.inbox["pending"] ?? 0) + (overview.inbox["failed"] ?? 0)),
            ("inbox-dead", "dead-lettered", overview.inbox["dead"] ?? 0), ("tag-writes-pending", "tag writes queued", overview.tagWrites["pending"] ?? 0),
        ] {
            body += "<div class=\"card\"><b id=\"\(id)\">\(value)</b><span>\(label)</span></div>"
        }
        body += "</section>\n"

        body += "<section><h2>Lifecycle</h2><table class=\"bars\">"
        let stageMax = max(1, overview.lifecycle.values.max() ?? 1)
        for stage in Self.stages {
            let count = overview.lifecycle[stage] ?? 0
            body += "<tr><th>\(stage)</th><td id=\"lifecycle-\(stage)\">\(count)</td>"
            body += "<td class=\"bar\"><i style=\"width:\(count * 100 / stageMax)%\"></i></td></tr>"
        }
        body += "</table></section>\n"

        body += "<section><h2>RFM grid (recency × frequency)</h2><table class=\"grid\" id=\"rf-grid\"><tr><th>R \\ F</th>"
        for f in 1...5 { body += "<th>F\(f)</th>" }
        body += "</tr>"
        for r in (1...5).reversed() {
            body += "<tr><th>R\(r)</th>"
            for f in 1...5 {
                let count = overview.rfGrid["\(r),\(f)"] ?? 0
                body += "<td class=\"heat\" id=\"rf-\(r)-\(f)\" data-count=\"\(count)\">\(count)</td>"
            }
            body += "</tr>"
        }
        body += "</table><p>scored contacts: <b id=\"rf-total\">…</b></p></section>\n"

        body += "<section><h2>ABC (revenue share)</h2><table class=\"bars\">"
        let abcTotal = max(1, overview.abc.values.reduce(0, +))
        for tier in ["A", "B", "C"] {
            let count = overview.abc[tier] ?? 0
            body += "<tr><th>\(tier)</th><td id=\"abc-\(tier)\">\(count)</td><td class=\"bar\"><i style=\"width:\(count * 100 / abcTotal)%\"></i></td></tr>"
        }
        body += "</table></section>\n"

        body += "<section><h2>Segments</h2>"
        if let segments {
            body += "<table class=\"bars\">"
            let largest = max(1, segments.map(\.size).max() ?? 1)
            for segment in segments {
                body += "<tr><th title=\"\(escape(segment.rule))\">\(escape(segment.name))</th><td id=\"segment-\(escape(segment.name))\">\(segment.size)</td>"
                body += "<td class=\"bar\"><i style=\"width:\(segment.size * 100 / largest)%\"></i></td></tr>"
            }
            body += "</table>"
        } else {
            body += "<p>segments.yaml is not loaded</p>"
        }
        body += "</section>\n"

        body += "<section><h2>Campaigns</h2>"
        if overview.campaigns.isEmpty {
            body += "<p>no campaign started yet</p>"
        } else {
            body += "<table><tr><th>campaign</th><th>state</th><th>planned</th><th>waiting</th><th>sent</th><th>failed</th><th>excluded</th><th>tasks confirmed</th><th>progress</th></tr>"
            for campaign in overview.campaigns {
                let name = escape(campaign.name)
                let count = { (state: String) in campaign.recipients[state] ?? 0 }
                let waiting = count("planned") + count("queued") + count("task_created")
                let planned = waiting + count("sent") + count("failed")
                let done = count("sent") + count("failed")
                body += "<tr><th>\(name)</th><td id=\"campaign-\(name)-state\">\(escape(campaign.state))</td>"
                body += "<td id=\"campaign-\(name)-planned\">\(planned)</td><td id=\"campaign-\(name)-waiting\">\(waiting)</td>"
                body += "<td id=\"campaign-\(name)-sent\">\(count("sent"))</td><td id=\"campaign-\(name)-failed\">\(count("failed"))</td>"
                body += "<td id=\"campaign-\(name)-excluded\">\(count("excluded"))</td>"
                body += "<td id=\"campaign-\(name)-tasks\">\(campaign.tasksConfirmed) / \(campaign.tasks)</td>"
                body += "<td class=\"bar\"><i style=\"width:\(planned == 0 ? 0 : done * 100 / planned)%\"></i></td></tr>"
            }
            body += "</table>"
        }
        body += "</section>\n"

        body += "<section><h2>Welcome messages</h2><table>"
        for outcome in WelcomeOutcome.allCases {
            body += "<tr><th>\(outcome.rawValue)</th><td id=\"welcome-\(outcome.rawValue)\">\(overview.welcome[outcome.rawValue] ?? 0)</td></tr>"
        }
        body += "</table></section>\n"

        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Cohort dashboard</title>
            <style>
            body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1d2430;background:#f6f7f9}
            h1{margin:0}h2{font-size:1rem;margin:0 0 .5rem}header p{color:#555;margin:.25rem 0 1rem}
            section{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:1rem;margin-bottom:1rem}
            .cards{display:flex;flex-wrap:wrap;gap:.75rem;background:none;border:0;padding:0}
            .card{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:.6rem 1rem;min-width:8rem}
            .card b{display:block;font-size:1.4rem}.card span{color:#555}
            table{border-collapse:collapse}th,td{padding:.25rem .6rem;text-align:left}td{font-variant-numeric:tabular-nums}
            .bar{width:16rem}.bar i{display:block;height:.7rem;background:#3b7ddd;border-radius:2px}
            .grid td{width:3.5rem;text-align:center;border:1px solid #eee}
            .ok{color:#17803d}.down{color:#b42318}.unknown{color:#777}
            </style></head>
            <body>
            \(body)<script>
            // Shade the heat map by count and total it: the numbers are the server's, the colours the browser's.
            (function () {
              var cells = document.querySelectorAll('#rf-grid td.heat'), max = 0, total = 0;
              cells.forEach(function (c) { var n = +c.dataset.count; total += n; if (n > max) max = n; });
              cells.forEach(function (c) { var n = +c.dataset.count; c.style.background = 'rgba(59,125,221,' + (max ? (0.1 + 0.9 * n / max).toFixed(2) : 0) + ')'; });
              document.getElementById('rf-total').textContent = total;
            })();
            </script>
            </body></html>

            """
    }

    private var platformClass: String {
        switch platform.reachable {
        case true?: "ok"
        case false?: "down"
        case nil: "unknown"
        }
    }

    private var platformText: String {
        switch platform.reachable {
        case true?: "reachable (last answer \(platform.lastAnswer.map(iso) ?? "-"))"
        case false?: "unreachable since \(platform.lastUnreachable.map(iso) ?? "-"): \(platform.lastError ?? "")"
        case nil: "not called yet by this process"
        }
    }

    private func iso(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }

    private func escape(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.append(character)
            }
        }
        return result
    }
}
