import CohortCore
import Foundation
import GRDB

/// Interaction records of one corp on SQLite, matched to contacts through `contact_seq`.
public struct SQLiteInteractionRepository: InteractionRepository {
    private let writer: any DatabaseWriter
    public let corpID: String

    public init(database: CohortDatabase, corpID: String) {
        self.writer = database.writer
        self.corpID = corpID
    }

    public func store(_ batch: [Interaction], at time: Date) async throws -> InteractionImportCounts {
        let corpID = self.corpID
        let now = StoreTime.millis(time)
        return try await writer.write { db in
            var counts = InteractionImportCounts()
            var resolved: [ContactReference: Int64?] = [:]
            for interaction in batch {
                let seq: Int64?
                if let known = resolved[interaction.contact] {
                    seq = known
                } else {
                    seq = try Self.resolve(interaction.contact, db: db, corpID: corpID)
                    resolved[interaction.contact] = seq
                }
                let attributes = interaction.storedAttributes
                let values: StatementArguments = [
                    interaction.kind, interaction.contact.type, interaction.contact.value, seq, interaction.staff,
                    interaction.occurredAt, interaction.amountCents, attributes,
                ]
                try db.cachedStatement(
                    sql: """
                        INSERT INTO interactions (corp_id, source, source_id, kind, ref_type, ref_value, contact_seq, staff,
                            occurred_at, amount, attributes, imported_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT (corp_id, source, source_id) DO NOTHING
                        """
                ).execute(arguments: [corpID, interaction.source, interaction.sourceID] + values + [now])
                if db.changesCount > 0 {
                    counts.inserted += 1
                } else {
                    // A corrected record replaces the stored one; the same record changes nothing.
                    try db.cachedStatement(
                        sql: """
                            UPDATE interactions SET kind = ?1, ref_type = ?2, ref_value = ?3, contact_seq = ?4, staff = ?5,
                                occurred_at = ?6, amount = ?7, attributes = ?8, imported_at = ?9
                            WHERE corp_id = ?10 AND source = ?11 AND source_id = ?12
                                AND (kind IS NOT ?1 OR ref_type IS NOT ?2 OR ref_value IS NOT ?3 OR contact_seq IS NOT ?4
                                    OR staff IS NOT ?5 OR occurred_at IS NOT ?6 OR amount IS NOT ?7 OR attributes IS NOT ?8)
                            """
                    ).execute(arguments: values + [now, corpID, interaction.source, interaction.sourceID])
                    if db.changesCount > 0 { counts.updated += 1 } else { counts.unchanged += 1 }
                }
                if seq == nil { counts.unmatched += 1 } else { counts.matched += 1 }
            }
            return counts
        }
    }

    public func matchPending() async throws -> [String] {
        let corpID = self.corpID
        return try await writer.write { db in
            let pending = try Row.fetchAll(
                db,
                sql: "SELECT DISTINCT ref_type, ref_value FROM interactions WHERE corp_id = ? AND contact_seq IS NULL",
                arguments: [corpID])
            return try Self.match(pending.compactMap { ContactReference(type: $0[0], value: $0[1]) }, db: db, corpID: corpID)
        }
    }

    public func matchPending(contact externalUserID: String) async throws -> [String] {
        let corpID = self.corpID
        return try await writer.write { db in
            var references: [ContactReference] = [.externalUserID(externalUserID)]
            if let unionID = try String.fetchOne(
                db, sql: "SELECT unionid FROM contacts WHERE corp_id = ? AND external_userid = ?", arguments: [corpID, externalUserID])
            {
                references.append(.unionID(unionID))
            }
            references += try String.fetchAll(
                db, sql: "SELECT DISTINCT phone FROM contact_phones WHERE corp_id = ? AND external_userid = ?",
                arguments: [corpID, externalUserID]
            ).map(ContactReference.phone)
            // Only references that have kept rows (an index probe each).
            let kept = try references.filter { reference in
                try Bool.fetchOne(
                    db.cachedStatement(
                        sql: "SELECT 1 FROM interactions WHERE corp_id = ? AND ref_type = ? AND ref_value = ? AND contact_seq IS NULL LIMIT 1"),
                    arguments: [corpID, reference.type, reference.value]) ?? false
            }
            return try Self.match(kept, db: db, corpID: corpID)
        }
    }

    /// Gives the kept rows of each reference its contact, where the contact is known now.
    private static func match(_ references: [ContactReference], db: Database, corpID: String) throws -> [String] {
        var matched: Set<String> = []
        for reference in references {
            guard let seq = try resolve(reference, db: db, corpID: corpID) else { continue }
            try db.execute(
                sql: """
                    UPDATE interactions SET contact_seq = ?
                    WHERE corp_id = ? AND ref_type = ? AND ref_value = ? AND contact_seq IS NULL
                    """,
                arguments: [seq, corpID, reference.type, reference.value])
            if let id = try String.fetchOne(db, sql: "SELECT external_userid FROM contact_seq WHERE seq = ?", arguments: [seq]) {
                matched.insert(id)
            }
        }
        return matched.sorted()
    }

    public func resolve(_ references: [ContactReference]) async throws -> [String] {
        let corpID = self.corpID
        return try await writer.read { db in
            var found: Set<String> = []
            for reference in Set(references) {
                if let id = try Self.externalUserID(reference, db: db, corpID: corpID) { found.insert(id) }
            }
            return found.sorted()
        }
    }

    public func interactions(of externalUserID: String) async throws -> [Interaction] {
        let corpID = self.corpID
        return try await writer.read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT i.kind, i.ref_type, i.ref_value, i.staff, i.occurred_at, i.amount, i.source, i.source_id, i.attributes
                    FROM contact_seq s JOIN interactions i ON i.contact_seq = s.seq
                    WHERE s.corp_id = ? AND s.external_userid = ?
                    ORDER BY i.occurred_at, i.id
                    """,
                arguments: [corpID, externalUserID])
            return rows.map { row in
                let attributes: String? = row[8]
                return Interaction(
                    kind: row[0], contact: ContactReference(type: row[1], value: row[2]) ?? .externalUserID(externalUserID),
                    staff: row[3], occurredAt: row[4], amountCents: row[5], source: row[6], sourceID: row[7],
                    attributes: Interaction.attributes(stored: attributes))
            }
        }
    }

    /// The contact a reference names, as its `contact_seq`, or nil while no such contact is known.
    /// A unionid or phone shared by several contacts picks the live one first, then the smallest id,
    /// so the same data always matches the same way.
    static func resolve(_ reference: ContactReference, db: Database, corpID: String) throws -> Int64? {
        guard let externalUserID = try externalUserID(reference, db: db, corpID: corpID) else { return nil }
        return try contactSeq(externalUserID, db: db, corpID: corpID)
    }

    /// The contact a reference names, by external_userid.
    static func externalUserID(_ reference: ContactReference, db: Database, corpID: String) throws -> String? {
        let externalUserID: String?
        switch reference {
        case .externalUserID(let id):
            externalUserID = try String.fetchOne(
                db.cachedStatement(sql: "SELECT external_userid FROM contacts WHERE corp_id = ? AND external_userid = ?"),
                arguments: [corpID, id])
        case .unionID(let unionID):
            externalUserID = try String.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT external_userid FROM contacts WHERE corp_id = ? AND unionid = ?
                        ORDER BY ended_at IS NOT NULL, external_userid LIMIT 1
                        """),
                arguments: [corpID, unionID])
        case .phone(let phone):
            externalUserID = try String.fetchOne(
                db.cachedStatement(
                    sql: "SELECT external_userid FROM contact_phones WHERE corp_id = ? AND phone = ? ORDER BY external_userid LIMIT 1"),
                arguments: [corpID, phone])
        }
        return externalUserID
    }

    /// The contact's small integer id, assigned on first use.
    static func contactSeq(_ externalUserID: String, db: Database, corpID: String) throws -> Int64 {
        if let seq = try Int64.fetchOne(
            db.cachedStatement(sql: "SELECT seq FROM contact_seq WHERE corp_id = ? AND external_userid = ?"),
            arguments: [corpID, externalUserID])
        {
            return seq
        }
        try db.cachedStatement(sql: "INSERT INTO contact_seq (corp_id, external_userid) VALUES (?, ?)")
            .execute(arguments: [corpID, externalUserID])
        return db.lastInsertedRowID
    }
}
