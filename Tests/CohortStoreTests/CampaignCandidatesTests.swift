import CohortCore
import CohortStore
import Foundation
import Testing

/// Campaign candidates read the same whether loaded one by one or in one pass per table.
struct CampaignCandidatesTests {
    @Test func theBulkPathReadsWhatThePerContactPathReads() async throws {
        let database = try CohortDatabase()
        let directory = SQLiteDirectoryRepository(database: database, corpID: "ww")
        let now = Date(timeIntervalSince1970: 1_795_392_000)
        _ = try await directory.upsertTagGroups(
            [TagGroup(id: "g1", name: "等级", tags: [Tag(id: "t1", groupID: "g1", name: "金卡"), Tag(id: "t2", groupID: "g1", name: "银卡")])], at: now)
        var ids: [String] = []
        for index in 0..<2_500 {
            let id = String(format: "wm%06d", index)
            ids.append(id)
            var relations = [Relation(externalUserID: id, userID: "u\(index % 7)", remark: "r\(index)", createTime: Int64(index), tagIDs: index % 3 == 0 ? ["t1"] : [])]
            if index % 5 == 0 { relations.append(Relation(externalUserID: id, userID: "u\(index % 7 + 1)", tagIDs: ["t1", "t2"])) }
            _ = try await directory.upsert(Contact(externalUserID: id, name: "客户\(index)"), relations: relations, at: now)
        }
        let ledger = SQLiteCampaignRepository(database: database, corpID: "ww")
        let bulk = try await ledger.candidates(ids)
        var single: [String: CampaignCandidate] = [:]
        for start in stride(from: 0, to: ids.count, by: 500) {
            single.merge(try await ledger.candidates(Array(ids[start..<min(start + 500, ids.count)]))) { a, _ in a }
        }
        #expect(bulk.count == 2_500)
        #expect(bulk == single)
        #expect(bulk["wm000015"]?.relations.map { $0.tags.map(\.name).sorted() } == [["金卡"], ["金卡", "银卡"]])
    }
}
