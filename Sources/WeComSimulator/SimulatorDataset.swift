import CohortCore
import Foundation

/// Generates a deterministic corp: the same (staff, contacts, seed) always gives the same
/// staff, customers, relations, tag groups and tags, down to every id.
public struct SimulatorDataset: Sendable {
    public var staffCount: Int
    public var contactCount: Int
    public var seed: UInt64
    /// Staff without an interop licence (their userids), for `fail_info` scenarios.
    public var unlicensedStaff: Int = 0
    /// Probability that a customer gets one more follower, applied repeatedly (capped at 4).
    public var extraFollowerRate = 0.3
    /// Unix time of the earliest relation.
    public var epoch: Int64 = 1_704_038_400  // 2024-01-01 00:00 +08:00

    public init(staff: Int, contacts: Int, seed: UInt64) {
        self.staffCount = staff
        self.contactCount = contacts
        self.seed = seed
    }

    static let surnames = Array("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤").map(String.init)
    static let givenNames = Array("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红娥玲飞鹏辉建峰丹宇浩凯文斌俊晨欣怡佳琪雪梅兰婷瑶琳").map(String.init)
    static let tagCatalogue: [(String, [String])] = [
        ("客户等级", ["重要客户", "普通客户", "潜在客户"]),
        ("来源渠道", ["线下门店", "线上商城", "展会", "朋友推荐"]),
        ("兴趣偏好", ["护肤", "彩妆", "香水", "个护"]),
        ("购买阶段", ["咨询中", "已下单", "复购"]),
        ("服务标记", ["需回访", "投诉处理中", "VIP服务"]),
        ("活动", ["双十一", "年货节"]),
    ]
    static let channelStates = ["qr_store_01", "qr_store_02", "booth_07", "ad_moments", "link_spring", "mini_shop"]
    static let addWays = [1, 1, 1, 2, 3, 4, 5, 6, 7, 10, 16, 201, 202]
    static let companies = ["腾讯科技", "华为技术", "小米科技", "网易", "美团", "京东"]
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")

    /// Builds the corp.
    public func generate() -> SimCorp {
        var random = SeededRandom(seed: seed)
        var corp = SimCorp()
        for index in 0..<staffCount {
            let userid = String(format: "staff%04d", index + 1)
            let name = Self.surnames[index % Self.surnames.count] + Self.givenNames[(index * 7) % Self.givenNames.count]
            corp.staff.append(SimStaff(userid: userid, name: name, licensed: index >= staffCount - unlicensedStaff ? false : true))
        }
        var allTagIDs: [[String]] = []
        for (groupIndex, (groupName, tagNames)) in Self.tagCatalogue.enumerated() {
            let groupID = Self.id("et", &random)
            let created = epoch - 86_400 * Int64(30 - groupIndex)
            var group = SimTagGroup(id: groupID, name: groupName, order: UInt32(100 - groupIndex), createTime: created)
            var ids: [String] = []
            for (tagIndex, tagName) in tagNames.enumerated() {
                let tagID = Self.id("et", &random)
                corp.tags[tagID] = SimTag(id: tagID, groupID: groupID, name: tagName, order: UInt32(tagNames.count - tagIndex), createTime: created)
                group.tagIDs.append(tagID)
                ids.append(tagID)
            }
            corp.groups[groupID] = group
            corp.groupOrder.append(groupID)
            allTagIDs.append(ids)
        }
        guard staffCount > 0 else { return corp }
        let span = Int64(2 * 365 * 86_400)
        for index in 0..<contactCount {
            let isWeCom = random.unit() < 0.08
            let external = Self.id(isWeCom ? "wo" : "wm", &random, length: 32)
            let name = Self.surnames[Int(random.next() % UInt64(Self.surnames.count))]
                + Self.givenNames[Int(random.next() % UInt64(Self.givenNames.count))]
                + (random.unit() < 0.5 ? Self.givenNames[Int(random.next() % UInt64(Self.givenNames.count))] : "")
            let company = Self.companies[index % Self.companies.count]
            corp.customers[external] = SimCustomer(
                externalUserID: external, name: name, type: isWeCom ? 2 : 1, gender: Int(random.next() % 3),
                unionid: !isWeCom && random.unit() < 0.6 ? Self.id("oz", &random, length: 28) : nil,
                corpName: isWeCom ? company : nil, corpFullName: isWeCom ? company + "有限公司" : nil,
                position: isWeCom ? "经理" : nil)
            var followers = 1
            while followers < 4 && random.unit() < extraFollowerRate { followers += 1 }
            var chosen: Set<Int> = []
            while chosen.count < min(followers, staffCount) { chosen.insert(Int(random.next() % UInt64(staffCount))) }
            for staffIndex in chosen.sorted() {
                let userid = corp.staff[staffIndex].userid
                let created = epoch + Int64(random.next() % UInt64(span))
                var tagIDs: [String] = []
                for group in allTagIDs where random.unit() < 0.25 {
                    tagIDs.append(group[Int(random.next() % UInt64(group.count))])
                }
                let mobiles = random.unit() < 0.4 ? ["1" + String(format: "%010d", random.next() % 10_000_000_000)] : []
                let hasState = random.unit() < 0.35
                let addWay = Self.addWays[Int(random.next() % UInt64(Self.addWays.count))]
                corp.put(
                    SimRelation(
                        userid: userid, externalUserID: external, remark: random.unit() < 0.3 ? name + "（老客）" : "",
                        description: random.unit() < 0.1 ? "门店咨询" : "", createtime: created, addWay: addWay,
                        state: hasState ? Self.channelStates[Int(random.next() % UInt64(Self.channelStates.count))] : nil,
                        operUserID: addWay == 1 ? external : userid, remarkCorpName: isWeCom ? nil : (random.unit() < 0.1 ? company : nil),
                        remarkMobiles: mobiles, tagIDs: tagIDs, personalTags: random.unit() < 0.05 ? ["老朋友"] : [],
                        lastChatAt: created + Int64(random.next() % 86_400_0)))
            }
        }
        return corp
    }

    /// A platform-shaped id: prefix and base62 characters.
    static func id(_ prefix: String, _ random: inout SeededRandom, length: Int = 32) -> String {
        var text = prefix
        for _ in 0..<(length - prefix.count) { text.append(alphabet[Int(random.next() % UInt64(alphabet.count))]) }
        return text
    }
}

extension SeededRandom {
    /// A draw from [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
