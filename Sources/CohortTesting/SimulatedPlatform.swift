import CohortCore
import Foundation
import Synchronization
import WeComKit
import WeComSimulator

/// A clock tests move by hand; sleeping on it advances it, so a 60 s platform block takes no
/// real time.
public final class ManualClock: Sendable {
    private let current: Mutex<Date>

    public init(_ start: Date = Date(timeIntervalSince1970: 1_790_000_000)) {
        self.current = Mutex(start)
    }

    public var now: Date { current.withLock { $0 } }

    public func advance(_ seconds: Double) {
        current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }

    private let sleeps = Mutex<[Double]>([])

    /// Seconds slept through `sleep`, for assertions.
    public var slept: [Double] { sleeps.withLock { $0 } }

    public func sleep(_ seconds: Double) {
        sleeps.withLock { $0.append(seconds) }
        advance(seconds)
    }
}

/// A simulator and a client wired to it in-process, on one manual clock.
public struct SimulatedPlatform: Sendable {
    public let simulator: WeComSimulator
    public let clock: ManualClock
    public let configuration: SimulatorConfiguration

    public init(corp: SimCorp, configure: (inout SimulatorConfiguration) -> Void = { _ in }, clock: ManualClock = ManualClock()) {
        var configuration = SimulatorConfiguration()
        configuration.frequencyBlockSeconds = 60
        configure(&configuration)
        self.configuration = configuration
        self.clock = clock
        self.simulator = WeComSimulator(configuration: configuration, corp: corp, now: { clock.now })
    }

    /// A client with the platform's rules, sleeping on the manual clock.
    public func client(secret: String? = nil, limiter: RateLimiter? = nil, rules: PlatformRetryRules = PlatformRetryRules()) -> WeComClient {
        let clock = self.clock
        return WeComClient(
            apiBase: URL(string: "http://wecom.sim")!, corpID: configuration.corpID, secret: secret ?? configuration.secret,
            transport: SimulatorTransport(simulator), rules: rules, limiter: limiter, now: { clock.now },
            sleep: { clock.sleep($0) }, random: { 0.5 })
    }
}

/// Small hand-built corps for paging and edge cases.
public enum SimCorps {
    /// `staff` members; member i follows `relations[i]` customers of its own.
    public static func corp(relationsPerStaff: [Int], sharedFollowers: Int = 0) -> SimCorp {
        var corp = SimCorp()
        let group = SimTagGroup(id: "etGROUP000000000000000000000001", name: "等级", order: 1, createTime: 1_700_000_000, tagIDs: ["etTAG0000000000000000000000001", "etTAG0000000000000000000000002"])
        corp.groups[group.id] = group
        corp.groupOrder = [group.id]
        corp.tags["etTAG0000000000000000000000001"] = SimTag(id: "etTAG0000000000000000000000001", groupID: group.id, name: "金卡", order: 2, createTime: 1_700_000_000)
        corp.tags["etTAG0000000000000000000000002"] = SimTag(id: "etTAG0000000000000000000000002", groupID: group.id, name: "银卡", order: 1, createTime: 1_700_000_000)
        for (index, count) in relationsPerStaff.enumerated() {
            let userid = "u\(index)"
            corp.staff.append(SimStaff(userid: userid, name: "员工\(index)"))
            for number in 0..<count {
                let external = String(format: "wm%@x%06d", userid, number).padding(toLength: 32, withPad: "A", startingAt: 0)
                corp.customers[external] = SimCustomer(externalUserID: external, name: "客户\(number)")
                corp.put(SimRelation(userid: userid, externalUserID: external, createtime: 1_700_000_000 + Int64(number), tagIDs: number % 2 == 0 ? ["etTAG0000000000000000000000001"] : []))
            }
        }
        if sharedFollowers > 0 {
            let external = "wmSHARED".padding(toLength: 32, withPad: "B", startingAt: 0)
            corp.customers[external] = SimCustomer(externalUserID: external, name: "大客户")
            for index in 0..<sharedFollowers {
                let userid = "f\(index)"
                corp.staff.append(SimStaff(userid: userid, name: "跟进\(index)"))
                corp.put(SimRelation(userid: userid, externalUserID: external, createtime: 1_700_000_000 + Int64(index)))
            }
        }
        return corp
    }
}
