import CohortCore
import Foundation
import WeComSimulator

/// The demo's sample interactions: orders, inquiries, carts, messages, service and feedback
/// for the simulator's seeded corp, written as the CSV an order system would export. The file
/// is shipped (Config/demo/interactions.csv) and regenerated with `cohort demo --write-sample`.
enum DemoSample {
    /// The sample's dates are written relative to this day (2026-12-01 00:00 +08:00); the demo
    /// moves them forward so the newest falls on today.
    static let referenceDay: Int64 = 1_796_054_400

    static let cities = ["上海", "北京", "深圳", "杭州", "成都", "广州", "南京"]

    static func csv(corp: SimCorp, seed: UInt64) -> String {
        var random = SeededRandom(seed: seed ^ 0xC0_407)
        var lines = ["kind,external_userid,staff,occurred_at,amount,source_id,city,vip_level"]
        var sequence = 0
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "Asia/Shanghai")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        func time(daysAgo: Int) -> String {
            let seconds = referenceDay - Int64(daysAgo) * 86_400 + Int64(random.int(9...21)) * 3_600 + Int64(random.int(0...59)) * 60
            return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
        }
        for id in corp.customers.keys.sorted() {
            guard let staff = corp.relations(of: id).first?.userid else { continue }
            let city = cities[random.int(0...(cities.count - 1))]
            func row(_ kind: String, daysAgo: Int, amount: Int? = nil, vip: Int? = nil) {
                sequence += 1
                let money = amount.map { "\($0).00" } ?? ""
                lines.append("\(kind),\(id),\(staff),\(time(daysAgo: daysAgo)),\(money),D\(String(format: "%06d", sequence)),\(city),\(vip.map(String.init) ?? "")")
            }
            let profile = random.unit()
            switch profile {
            case ..<0.10:  // champions: recent, frequent, big baskets
                row("order", daysAgo: random.int(1...20), amount: random.int(300...2_500), vip: 3)
                for _ in 0..<random.int(5...9) { row("order", daysAgo: random.int(21...150), amount: random.int(300...2_500), vip: 3) }
            case ..<0.25:  // loyal regulars
                for _ in 0..<random.int(3...6) { row("order", daysAgo: random.int(20...300), amount: random.int(150...1_200), vip: 2) }
            case ..<0.40:  // good customers drifting away
                for _ in 0..<random.int(2...5) { row("order", daysAgo: random.int(120...350), amount: random.int(200...1_500), vip: 2) }
            case ..<0.52:  // new buyers
                row("order", daysAgo: random.int(15...90), amount: random.int(80...600), vip: 1)
            case ..<0.60:  // one order long ago
                row("order", daysAgo: random.int(200...360), amount: random.int(50...400), vip: 1)
            case ..<0.75:  // shopping around: an inquiry or a cart in the last days
                row(random.unit() < 0.5 ? "inquiry" : "cart", daysAgo: random.int(0...10))
                if random.unit() < 0.4 { row("message", daysAgo: random.int(0...10)) }
            default:
                if random.unit() < 0.5 { row("message", daysAgo: random.int(0...200)) }
            }
            if profile < 0.40, random.unit() < 0.15 { row(random.unit() < 0.5 ? "service" : "feedback", daysAgo: random.int(0...60)) }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The sample moved forward by whole days so its reference day is today in `timeZone`.
    static func shifted(_ text: String, to now: Date, timeZone: TimeZone) -> (text: String, days: Int) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let today = calendar.startOfDay(for: now)
        let days = max(0, Int((today.timeIntervalSince1970 - TimeInterval(referenceDay)) / 86_400))
        guard days > 0 else { return (text, 0) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for index in lines.indices.dropFirst() where !lines[index].isEmpty {
            var fields = lines[index].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard fields.count > 3, let date = formatter.date(from: fields[3]) else { continue }
            fields[3] = formatter.string(from: date.addingTimeInterval(TimeInterval(days) * 86_400))
            lines[index] = fields.joined(separator: ",")
        }
        return (lines.joined(separator: "\n"), days)
    }
}

extension SeededRandom {
    mutating func unit() -> Double { Double.random(in: 0..<1, using: &self) }
    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
}
