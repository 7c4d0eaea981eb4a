import CohortCore
import Foundation
import Logging
import PostgresNIO

/// Interaction records of one corp on PostgreSQL, matched to contacts through `contact_seq`, as
/// `SQLiteInteractionRepository` does. A contact's seq is claimed with an upsert that returns the
/// row either way, so two instances naming the same new contact get the same number.
public struct PostgresInteractionRepository: InteractionRepository {
    private let store: PostgresStore
    public let corpID: String

    public init(store: PostgresStore, corpID: String) {
        self.store = store
        self.corpID = corpID
    }

    private var logger: Logger { store.logger }

    public func store(_ batch: [Interaction], at time: Date) async throws -> InteractionImportCounts {
        let now = StoreTime.millis(time)
        return try await store.transaction { connection in
            var counts = InteractionImportCounts()
            var resolved: [ContactReference: Int64?] = [:]
            // In key order (a repeated key keeps its place): two instances importing overlapping
            // batches then lock rows in the same order and cannot deadlock.
            let ordered = batch.enumerated().sorted {
                ($0.element.source, $0.element.sourceID, $0.offset) < ($1.element.source, $1.element.sourceID, $1.offset)
            }.map(\.element)
            for interaction in ordered {
                let seq: Int64?
                if let known = resolved[interaction.contact] {
                    seq = known
                } else {
                    seq = try await resolve(interaction.contact, connection)
                    resolved[interaction.contact] = seq
                }
                let attributes = interaction.storedAttributes
                // A corrected record replaces the stored one; the same record changes nothing.
                // `xmax = 0` tells an inserted row from an updated one.
                var outcome: Bool?
                for try await inserted in try await connection.query(
                    """
                    INSERT INTO interactions AS i (corp_id, source, source_id, kind, ref_type, ref_value, contact_seq, staff,
                        occurred_at, amount, attributes, imported_at)
                    VALUES (\(corpID), \(interaction.source), \(interaction.sourceID), \(interaction.kind), \(interaction.contact.type),
                        \(interaction.contact.value), \(seq), \(interaction.staff), \(interaction.occurredAt), \(interaction.amountCents),
                        \(attributes), \(now))
                    ON CONFLICT (corp_id, source, source_id) DO UPDATE SET kind = excluded.kind, ref_type = excluded.ref_type,
                        ref_value = excluded.ref_value, contact_seq = excluded.contact_seq, staff = excluded.staff,
                        occurred_at = excluded.occurred_at, amount = excluded.amount, attributes = excluded.attributes,
                        imported_at = excluded.imported_at
                    WHERE i.kind IS DISTINCT FROM excluded.kind OR i.ref_type IS DISTINCT FROM excluded.ref_type
                        OR i.ref_value IS DISTINCT FROM excluded.ref_value OR i.contact_seq IS DISTINCT FROM excluded.contact_seq
                        OR i.staff IS DISTINCT FROM excluded.staff OR i.occurred_at IS DISTINCT FROM excluded.occurred_at
                        OR i.amount IS DISTINCT FROM excluded.amount OR i.attributes IS DISTINCT FROM excluded.attributes
                    RETURNING (xmax = 0)
                    """, logger: logger
                ).decode(Bool.self) {
                    outcome = inserted
                }
                switch outcome {
                case true?: counts.inserted += 1
                case false?: counts.updated += 1
                case nil: counts.unchanged += 1
                }
                if seq == nil { counts.unmatched += 1 } else { counts.matched += 1 }
            }
            return counts
        }
    }

    public func matchPending() async throws -> [String] {
        try await store.transaction { connection in
            var references: [ContactReference] = []
            for try await (type, value) in try await connection.query(
                "SELECT DISTINCT ref_type, ref_value FROM interactions WHERE corp_id = \(corpID) AND contact_seq IS NULL", logger: logger
            ).decode((String, String).self) {
                if let reference = ContactReference(type: type, value: value) { references.append(reference) }
            }
            return try await match(references, connection)
        }
    }

    public func matchPending(contact externalUserID: String) async throws -> [String] {
        try await store.transaction { connection in
            var references: [ContactReference] = [.externalUserID(externalUserID)]
            for try await unionID in try await connection.query(
                "SELECT unionid FROM contacts WHERE corp_id = \(corpID) AND external_userid = \(externalUserID) AND unionid IS NOT NULL",
                logger: logger
            ).decode(String.self) {
                references.append(.unionID(unionID))
            }
            for try await phone in try await connection.query(
                "SELECT DISTINCT phone FROM contact_phones WHERE corp_id = \(corpID) AND external_userid = \(externalUserID)", logger: logger
            ).decode(String.self) {
                references.append(.phone(phone))
            }
            // Only references that have kept rows (an index probe each).
            var kept: [ContactReference] = []
            for reference in references {
                for try await _ in try await connection.query(
                    """
                    SELECT 1 FROM interactions
                    WHERE corp_id = \(corpID) AND ref_type = \(reference.type) AND ref_value = \(reference.value) AND contact_seq IS NULL
                    LIMIT 1
                    """, logger: logger)
                {
                    kept.append(reference)
                }
            }
            return try await match(kept, connection)
        }
    }

    public func resolve(_ references: [ContactReference]) async throws -> [String] {
        try await store.client.withConnection { connection in
            var found: Set<String> = []
            for reference in Set(references) {
                if let id = try await externalUserID(reference, connection) { found.insert(id) }
            }
            return found.sorted()
        }
    }

    public func interactions(of externalUserID: String) async throws -> [Interaction] {
        let rows = try await store.client.query(
            """
            SELECT i.kind, i.ref_type, i.ref_value, i.staff, i.occurred_at, i.amount, i.source, i.source_id, i.attributes
            FROM contact_seq s JOIN interactions i ON i.contact_seq = s.seq
            WHERE s.corp_id = \(corpID) AND s.external_userid = \(externalUserID)
            ORDER BY i.occurred_at, i.id
            """, logger: logger)
        var interactions: [Interaction] = []
        for try await (kind, type, value, staff, occurredAt, amount, source, sourceID, attributes) in rows.decode(
            (String, String, String, String?, Int64, Int64?, String, String, String?).self)
        {
            interactions.append(
                Interaction(
                    kind: kind, contact: ContactReference(type: type, value: value) ?? .externalUserID(externalUserID), staff: staff,
                    occurredAt: occurredAt, amountCents: amount, source: source, sourceID: sourceID,
                    attributes: Interaction.attributes(stored: attributes)))
        }
        return interactions
    }

    /// Gives the kept rows of each reference its contact, where the contact is known now.
    private func match(_ references: [ContactReference], _ connection: PostgresConnection) async throws -> [String] {
        var matched: Set<String> = []
        for reference in references {
            guard let id = try await externalUserID(reference, connection) else { continue }
            let seq = try await contactSeq(id, connection)
            try await connection.query(
                """
                UPDATE interactions SET contact_seq = \(seq)
                WHERE corp_id = \(corpID) AND ref_type = \(reference.type) AND ref_value = \(reference.value) AND contact_seq IS NULL
                """, logger: logger)
            matched.insert(id)
        }
        return matched.sorted()
    }

    /// The contact a reference names, as its `contact_seq`, or nil while no such contact is known.
    private func resolve(_ reference: ContactReference, _ connection: PostgresConnection) async throws -> Int64? {
        guard let id = try await externalUserID(reference, connection) else { return nil }
        return try await contactSeq(id, connection)
    }

    /// The contact a reference names, by external_userid. A unionid or phone shared by several
    /// contacts picks the live one first, then the smallest id, as on SQLite.
    private func externalUserID(_ reference: ContactReference, _ connection: PostgresConnection) async throws -> String? {
        let query: PostgresQuery
        switch reference {
        case .externalUserID(let id):
            query = "SELECT external_userid FROM contacts WHERE corp_id = \(corpID) AND external_userid = \(id)"
        case .unionID(let unionID):
            query = """
                SELECT external_userid FROM contacts WHERE corp_id = \(corpID) AND unionid = \(unionID)
                ORDER BY ended_at IS NOT NULL, external_userid LIMIT 1
                """
        case .phone(let phone):
            query = "SELECT external_userid FROM contact_phones WHERE corp_id = \(corpID) AND phone = \(phone) ORDER BY external_userid LIMIT 1"
        }
        for try await id in try await connection.query(query, logger: logger).decode(String.self) { return id }
        return nil
    }

    /// The contact's small integer id, assigned on first use. The upsert returns the row whether
    /// this call or a concurrent one inserted it; it runs only on a miss, since it rewrites the row.
    private func contactSeq(_ externalUserID: String, _ connection: PostgresConnection) async throws -> Int64 {
        for try await seq in try await connection.query(
            "SELECT seq FROM contact_seq WHERE corp_id = \(corpID) AND external_userid = \(externalUserID)", logger: logger
        ).decode(Int64.self) {
            return seq
        }
        for try await seq in try await connection.query(
            """
            INSERT INTO contact_seq (corp_id, external_userid) VALUES (\(corpID), \(externalUserID))
            ON CONFLICT (corp_id, external_userid) DO UPDATE SET corp_id = excluded.corp_id
            RETURNING seq
            """, logger: logger
        ).decode(Int64.self) {
            return seq
        }
        throw StoreFailure("no contact_seq for \(externalUserID)")
    }
}
