import CohortCore
import Foundation
import GRDB

/// Loads large generated datasets (benchmarks, the demo) straight into the tables, in big
/// transactions and without the per-row change detection the sync and import paths do. Not
/// for production data: nothing is compared or matched, rows are assumed new and consistent.
public struct BulkSeeder: Sendable {
    private let writer: any DatabaseWriter
    public let corpID: String

    public init(database: CohortDatabase, corpID: String) {
        self.writer = database.writer
        self.corpID = corpID
    }

    /// A generated contact with its relations.
    public struct SeedContact: Sendable {
        public var externalUserID: String
        public var gender: Int
        public var relations: [(userID: String, createTime: Int64)]

        public init(externalUserID: String, gender: Int, relations: [(userID: String, createTime: Int64)]) {
            self.externalUserID = externalUserID
            self.gender = gender
            self.relations = relations
        }
    }

    /// A generated order of the contact at `contact` (index into the seeded contacts).
    public struct SeedOrder: Sendable {
        public var contact: Int
        public var occurredAt: Int64
        public var amountCents: Int64

        public init(contact: Int, occurredAt: Int64, amountCents: Int64) {
            self.contact = contact
            self.occurredAt = occurredAt
            self.amountCents = amountCents
        }
    }

    /// Inserts contacts (with staff, relations and contact numbers). Returns each contact's seq.
    public func seedContacts(_ contacts: [SeedContact], at time: Date) async throws -> [Int64] {
        let corpID = self.corpID
        let now = StoreTime.millis(time)
        var seqs: [Int64] = []
        seqs.reserveCapacity(contacts.count)
        for chunk in stride(from: 0, to: contacts.count, by: 50_000) {
            let slice = contacts[chunk..<min(chunk + 50_000, contacts.count)]
            let batch = try await writer.write { db -> [Int64] in
                var result: [Int64] = []
                let contact = try db.makeStatement(
                    sql: "INSERT INTO contacts (corp_id, external_userid, type, gender, first_seen_at, updated_at) VALUES (?, ?, 1, ?, ?, ?)")
                let relation = try db.makeStatement(
                    sql: """
                        INSERT INTO relations (corp_id, external_userid, userid, createtime, add_way, first_seen_at, updated_at)
                        VALUES (?, ?, ?, ?, 1, ?, ?)
                        """)
                let seq = try db.makeStatement(sql: "INSERT INTO contact_seq (corp_id, external_userid) VALUES (?, ?)")
                let staff = try db.makeStatement(sql: "INSERT OR IGNORE INTO staff (corp_id, userid, first_seen_at) VALUES (?, ?, ?)")
                for item in slice {
                    try contact.execute(arguments: [corpID, item.externalUserID, item.gender, now, now])
                    for link in item.relations {
                        try staff.execute(arguments: [corpID, link.userID, now])
                        try relation.execute(arguments: [corpID, item.externalUserID, link.userID, link.createTime, now, now])
                    }
                    try seq.execute(arguments: [corpID, item.externalUserID])
                    result.append(db.lastInsertedRowID)
                }
                return result
            }
            seqs += batch
        }
        return seqs
    }

    /// Inserts matched orders in transactions of `batch` rows. `orders` should come in
    /// contact order, which keeps the grading index append-only.
    public func seedOrders(_ orders: some Sequence<SeedOrder>, seqs: [Int64], source: String, at time: Date, batch: Int = 200_000) async throws -> Int {
        let corpID = self.corpID
        let now = StoreTime.millis(time)
        var iterator = orders.makeIterator()
        var total = 0
        while true {
            var chunk: [SeedOrder] = []
            chunk.reserveCapacity(batch)
            while chunk.count < batch, let order = iterator.next() { chunk.append(order) }
            if chunk.isEmpty { break }
            let offset = total
            try await writer.write { [chunk] db in
                let statement = try db.makeStatement(
                    sql: """
                        INSERT INTO interactions (corp_id, source, source_id, kind, ref_type, ref_value, contact_seq, occurred_at, amount, imported_at)
                        VALUES (?, ?, ?, 'order', 'seq', '', ?, ?, ?, ?)
                        """)
                for (position, order) in chunk.enumerated() {
                    try statement.execute(arguments: [
                        corpID, source, String(offset + position), seqs[order.contact], order.occurredAt, order.amountCents, now,
                    ])
                }
            }
            total += chunk.count
        }
        return total
    }

    /// Marks every queued tag write done as if the platform had taken it, and puts the tags in
    /// the mirror (creating catalogue rows with synthetic ids): the state a store reaches once
    /// the queue has drained and a sync has run. Benchmarks use it to time a steady-state
    /// re-grade without hours of simulated platform calls.
    public func simulateDrain(at time: Date) async throws -> Int {
        let corpID = self.corpID
        let now = StoreTime.millis(time)
        return try await writer.write { db in
            try db.execute(
                sql: """
                    CREATE TEMP TABLE drained AS
                        SELECT json_extract(o.payload, '$.externalUserID') AS ext, json_extract(o.payload, '$.userID') AS userid,
                            a.value AS name
                        FROM platform_ops o, json_each(o.payload, '$.add') a
                        WHERE o.corp_id = ? AND o.kind = 'mark_tag' AND o.status = 'pending';
                    INSERT OR IGNORE INTO tag_groups (corp_id, group_id, name, sort_order, updated_at)
                        SELECT DISTINCT ?, 'bench-' || substr(name, 1, instr(name, '/') - 1), substr(name, 1, instr(name, '/') - 1), 0, ?
                        FROM drained;
                    INSERT OR IGNORE INTO tags (corp_id, tag_id, group_id, name, sort_order, updated_at)
                        SELECT DISTINCT ?, 'bench-' || name, 'bench-' || substr(name, 1, instr(name, '/') - 1),
                            substr(name, instr(name, '/') + 1), 0, ?
                        FROM drained;
                    INSERT OR IGNORE INTO relation_tags (corp_id, external_userid, userid, tag_id)
                        SELECT ?, ext, userid, 'bench-' || name FROM drained ORDER BY ext, userid;
                    DROP TABLE drained;
                    DELETE FROM relation_tags WHERE corp_id = ? AND (external_userid, userid, tag_id) IN (
                        SELECT json_extract(o.payload, '$.externalUserID'), json_extract(o.payload, '$.userID'), 'bench-' || r.value
                        FROM platform_ops o, json_each(o.payload, '$.remove') r
                        WHERE o.corp_id = ? AND o.kind = 'mark_tag' AND o.status = 'pending');
                    """,
                arguments: [corpID, corpID, now, corpID, now, corpID, corpID, corpID])
            try db.execute(
                sql: "UPDATE platform_ops SET status = 'done', updated_at = ? WHERE corp_id = ? AND status = 'pending'",
                arguments: [now, corpID])
            return db.changesCount
        }
    }
}
