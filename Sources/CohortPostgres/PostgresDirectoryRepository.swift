import CohortCore
import Foundation
import Logging
import PostgresNIO

/// The contact, relation and tag mirror of one corp on PostgreSQL, shared by every instance.
///
/// It writes what `SQLiteDirectoryRepository` writes, row for row: upserts touch only rows whose
/// values differ (`IS DISTINCT FROM` in each `ON CONFLICT … WHERE`), so writing what is stored
/// changes nothing and counts nothing, and large change sets go in transactions of `batchSize`.
/// Counts come from `RETURNING 1`, the one way postgres-nio reports affected rows.
public struct PostgresDirectoryRepository: DirectoryRepository {
    private let store: PostgresStore
    public let corpID: String
    public var batchSize = 5_000

    public init(store: PostgresStore, corpID: String) {
        self.store = store
        self.corpID = corpID
    }

    private var logger: Logger { store.logger }

    // MARK: Reading

    public func catalogue() async throws -> [TagGroup] {
        try await store.client.withConnection { connection in try await liveCatalogue(connection) }
    }

    public func state() async throws -> DirectoryState {
        let corpID = self.corpID
        let logger = self.logger
        return try await store.snapshot { connection in
            var state = DirectoryState()
            for try await (userID, name) in try await connection.query(
                "SELECT userid, name FROM staff WHERE corp_id = \(corpID) AND ended_at IS NULL", logger: logger
            ).decode((String, String?).self) {
                state.staff[userID] = StaffMember(userID: userID, name: name)
            }
            for try await row in try await connection.query(
                """
                SELECT external_userid, name, type, gender, unionid, corp_name, corp_full_name, position, avatar
                FROM contacts WHERE corp_id = \(corpID) AND ended_at IS NULL
                """, logger: logger)
            {
                let (id, name, type, gender, unionID, corpName, corpFullName, position, avatar) = try row.decode(
                    (String, String?, Int?, Int?, String?, String?, String?, String?, String?).self)
                state.contacts[id] = Contact(
                    externalUserID: id, name: name, type: type, gender: gender, unionID: unionID, corpName: corpName,
                    corpFullName: corpFullName, position: position, avatar: avatar)
            }
            var tagsByRelation: [RelationKey: [String]] = [:]
            for try await (external, userID, tagID) in try await connection.query(
                "SELECT external_userid, userid, tag_id FROM relation_tags WHERE corp_id = \(corpID)", logger: logger
            ).decode((String, String, String).self) {
                tagsByRelation[RelationKey(externalUserID: external, userID: userID), default: []].append(tagID)
            }
            for try await row in try await connection.query(
                "SELECT \(unescaped: Self.relationColumns) FROM relations WHERE corp_id = \(corpID) AND ended_at IS NULL", logger: logger)
            {
                var relation = try Self.relation(row)
                relation.tagIDs = (tagsByRelation[relation.key] ?? []).sorted()
                state.relations[relation.key] = relation
            }
            state.tagGroups = try await liveCatalogue(connection)
            return state
        }
    }

    public func contacts(_ filter: ContactFilter) async throws -> [StoredContact] {
        try await store.snapshot { connection in
            var sql = "SELECT \(Self.contactColumns) FROM contacts c WHERE c.corp_id = $1"
            var binds = PostgresBindings()
            binds.append(corpID)
            func bind(_ value: some PostgresDynamicTypeEncodable) -> String {
                binds.append(value)
                return "$\(binds.count)"
            }
            if !filter.includeEnded { sql += " AND c.ended_at IS NULL" }
            if let staff = filter.staff {
                sql += """
                     AND EXISTS (SELECT 1 FROM relations r WHERE r.corp_id = c.corp_id AND r.external_userid = c.external_userid
                        AND r.userid = \(bind(staff)) AND r.ended_at IS NULL)
                    """
            }
            if let text = filter.text?.trimmingCharacters(in: .whitespaces), !text.isEmpty {
                // strpos, not LIKE: no wildcard characters to escape in what an operator types.
                let t = bind(text)
                sql += """
                     AND (strpos(c.external_userid, \(t)) > 0 OR strpos(coalesce(c.name, ''), \(t)) > 0
                        OR strpos(coalesce(c.corp_name, ''), \(t)) > 0
                        OR EXISTS (SELECT 1 FROM relations r WHERE r.corp_id = c.corp_id AND r.external_userid = c.external_userid
                            AND (strpos(coalesce(r.remark, ''), \(t)) > 0 OR strpos(r.remark_mobiles, \(t)) > 0)))
                    """
            }
            if let tag = filter.tag {
                let ids = try await tagIDs(matching: tag, connection)
                if ids.isEmpty { return [] }
                sql += """
                     AND EXISTS (SELECT 1 FROM relation_tags t JOIN relations r ON r.corp_id = t.corp_id
                        AND r.external_userid = t.external_userid AND r.userid = t.userid AND r.ended_at IS NULL
                        WHERE t.corp_id = c.corp_id AND t.external_userid = c.external_userid AND t.tag_id = ANY(\(bind(ids))))
                    """
            }
            sql += " ORDER BY c.external_userid"
            if let limit = filter.limit { sql += " LIMIT \(bind(limit))" }
            let rows = try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
            return try await storedContacts(rows, connection)
        }
    }

    public func contact(_ externalUserID: String) async throws -> StoredContact? {
        try await store.snapshot { connection in
            let rows = try await connection.query(
                """
                SELECT \(unescaped: Self.contactColumns) FROM contacts c
                WHERE c.corp_id = \(corpID) AND c.external_userid = \(externalUserID)
                """, logger: logger)
            return try await storedContacts(rows, connection).first
        }
    }

    public func events(kind: ContactEvent.Kind?, limit: Int) async throws -> [ContactEvent] {
        let rows = try await store.client.query(
            """
            SELECT kind, external_userid, userid, chat_id, occurred_at, detail FROM contact_events
            WHERE corp_id = \(corpID) AND (\(kind?.rawValue)::text IS NULL OR kind = \(kind?.rawValue))
            ORDER BY occurred_at DESC, id DESC LIMIT \(limit)
            """, logger: logger)
        var events: [ContactEvent] = []
        for try await (kind, external, userID, chatID, occurredAt, detail) in rows.decode((String, String, String, String, Int64, String).self) {
            guard let kind = ContactEvent.Kind(rawValue: kind) else { continue }
            events.append(ContactEvent(kind: kind, externalUserID: external, userID: userID, chatID: chatID, occurredAt: occurredAt, detail: detail))
        }
        return events
    }

    // MARK: Writing

    public func apply(_ changes: DirectoryChanges, at time: Date) async throws -> Int {
        let now = StoreTime.millis(time)
        var changed = 0
        changed += try await upsertTagGroups(changes.tagGroupsUpserted, at: time)
        changed += try await endTags(tagIDs: changes.tagsEnded, groupIDs: changes.tagGroupsEnded, at: time)
        for chunk in changes.staffUpserted.chunked(batchSize) {
            changed += try await write { connection in
                var total = 0
                for member in chunk { total += try await upsertStaff(member, connection, now: now) }
                return total
            }
        }
        for chunk in changes.staffEnded.chunked(batchSize) {
            changed += try await write { connection in
                var total = 0
                for userID in chunk {
                    total += try await count(
                        "UPDATE staff SET ended_at = \(now) WHERE corp_id = \(corpID) AND userid = \(userID) AND ended_at IS NULL RETURNING 1",
                        connection)
                }
                return total
            }
        }
        for chunk in (changes.contactsAdded + changes.contactsUpdated).chunked(batchSize) {
            changed += try await write { connection in
                var total = 0
                for contact in chunk { total += try await upsertContact(contact, connection, now: now) }
                return total
            }
        }
        // As on SQLite: the diff knows each relation's stored tags, sparing a read per relation.
        let tagChanges = Dictionary(changes.relationTagChanges.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        let upserts =
            changes.relationsAdded.map { ($0, [String]()) }
            + changes.relationsUpdated.map { relation -> (Relation, [String]) in
                guard let change = tagChanges[relation.key] else { return (relation, relation.tagIDs) }
                return (relation, Set(relation.tagIDs).subtracting(change.added).union(change.removed).sorted())
            }
        for chunk in upserts.chunked(batchSize) {
            changed += try await write { connection in
                var total = 0
                for (relation, stored) in chunk { total += try await upsertRelation(relation, storedTags: stored, connection, now: now) }
                return total
            }
        }
        for chunk in changes.relationsEnded.chunked(batchSize) {
            changed += try await write { connection in
                var total = 0
                for key in chunk {
                    let ended = try await count(
                        """
                        UPDATE relations SET ended_at = \(now), end_reason = 'not seen by sync', updated_at = \(now)
                        WHERE corp_id = \(corpID) AND external_userid = \(key.externalUserID) AND userid = \(key.userID)
                            AND ended_at IS NULL
                        RETURNING 1
                        """, connection)
                    try await dropTags(key, connection)
                    total += ended
                }
                return total
            }
        }
        for chunk in changes.contactsEnded.chunked(batchSize) {
            changed += try await write { connection in
                var total = 0
                for id in chunk {
                    total += try await count(
                        """
                        UPDATE contacts SET ended_at = \(now), updated_at = \(now)
                        WHERE corp_id = \(corpID) AND external_userid = \(id) AND ended_at IS NULL RETURNING 1
                        """, connection)
                }
                return total
            }
        }
        return changed
    }

    public func upsert(_ contact: Contact, relations: [Relation], at time: Date) async throws -> Int {
        let now = StoreTime.millis(time)
        return try await write { connection in
            try await lockCustomer(contact.externalUserID, connection)
            var changed = try await upsertContact(contact, connection, now: now)
            for relation in relations { changed += try await upsertRelation(relation, storedTags: nil, connection, now: now) }
            return changed
        }
    }

    public func endRelation(_ key: RelationKey, reason: String, eventTime: Int64, at time: Date) async throws -> Bool {
        // The relation ends when the platform says it did, not when the event was processed.
        let endedAt = eventTime > 0 ? eventTime * 1000 : StoreTime.millis(time)
        let now = StoreTime.millis(time)
        return try await write { connection in
            try await lockCustomer(key.externalUserID, connection)
            let ended = try await count(
                """
                UPDATE relations SET ended_at = \(endedAt), end_reason = \(reason), updated_at = \(now)
                WHERE corp_id = \(corpID) AND external_userid = \(key.externalUserID) AND userid = \(key.userID)
                    AND ended_at IS NULL AND coalesce(createtime, 0) <= \(eventTime)
                RETURNING 1
                """, connection)
            guard ended > 0 else { return false }
            try await dropTags(key, connection)
            // A customer no staff member follows any more is gone too.
            try await connection.query(
                """
                UPDATE contacts SET ended_at = \(endedAt), updated_at = \(now)
                WHERE corp_id = \(corpID) AND external_userid = \(key.externalUserID) AND ended_at IS NULL
                    AND NOT EXISTS (SELECT 1 FROM relations WHERE corp_id = \(corpID) AND external_userid = \(key.externalUserID)
                        AND ended_at IS NULL)
                """, logger: logger)
            return true
        }
    }

    public func record(_ event: ContactEvent, at time: Date) async throws -> Bool {
        let inserted = try await store.client.withConnection { connection in
            try await count(
                """
                INSERT INTO contact_events (corp_id, kind, external_userid, userid, chat_id, occurred_at, detail, recorded_at)
                VALUES (\(corpID), \(event.kind.rawValue), \(event.externalUserID), \(event.userID), \(event.chatID),
                    \(event.occurredAt), \(event.detail), \(StoreTime.millis(time)))
                ON CONFLICT DO NOTHING RETURNING 1
                """, connection)
        }
        return inserted > 0
    }

    public func upsertTagGroups(_ groups: [TagGroup], at time: Date) async throws -> Int {
        guard !groups.isEmpty else { return 0 }
        let now = StoreTime.millis(time)
        return try await write { connection in
            var changed = 0
            for group in groups {
                changed += try await count(
                    """
                    INSERT INTO tag_groups AS g (corp_id, group_id, name, sort_order, create_time, updated_at)
                    VALUES (\(corpID), \(group.id), \(group.name), \(Int64(group.order)), \(group.createTime), \(now))
                    ON CONFLICT (corp_id, group_id) DO UPDATE SET name = excluded.name, sort_order = excluded.sort_order,
                        create_time = excluded.create_time, updated_at = excluded.updated_at, deleted_at = NULL
                    WHERE g.name IS DISTINCT FROM excluded.name OR g.sort_order IS DISTINCT FROM excluded.sort_order
                        OR g.create_time IS DISTINCT FROM excluded.create_time OR g.deleted_at IS NOT NULL
                    RETURNING 1
                    """, connection)
                for tag in group.tags {
                    changed += try await count(
                        """
                        INSERT INTO tags AS t (corp_id, tag_id, group_id, name, sort_order, create_time, updated_at)
                        VALUES (\(corpID), \(tag.id), \(group.id), \(tag.name), \(Int64(tag.order)), \(tag.createTime), \(now))
                        ON CONFLICT (corp_id, tag_id) DO UPDATE SET group_id = excluded.group_id, name = excluded.name,
                            sort_order = excluded.sort_order, create_time = excluded.create_time,
                            updated_at = excluded.updated_at, deleted_at = NULL
                        WHERE t.group_id IS DISTINCT FROM excluded.group_id OR t.name IS DISTINCT FROM excluded.name
                            OR t.sort_order IS DISTINCT FROM excluded.sort_order OR t.create_time IS DISTINCT FROM excluded.create_time
                            OR t.deleted_at IS NOT NULL
                        RETURNING 1
                        """, connection)
                }
            }
            return changed
        }
    }

    public func endTags(tagIDs: [String], groupIDs: [String], at time: Date) async throws -> Int {
        guard !tagIDs.isEmpty || !groupIDs.isEmpty else { return 0 }
        let now = StoreTime.millis(time)
        return try await write { connection in
            var changed = try await count(
                """
                UPDATE tags SET deleted_at = \(now), updated_at = \(now)
                WHERE corp_id = \(corpID) AND tag_id = ANY(\(tagIDs)) AND deleted_at IS NULL RETURNING 1
                """, connection)
            changed += try await count(
                """
                UPDATE tag_groups SET deleted_at = \(now), updated_at = \(now)
                WHERE corp_id = \(corpID) AND group_id = ANY(\(groupIDs)) AND deleted_at IS NULL RETURNING 1
                """, connection)
            changed += try await count(
                """
                UPDATE tags SET deleted_at = \(now), updated_at = \(now)
                WHERE corp_id = \(corpID) AND group_id = ANY(\(groupIDs)) AND deleted_at IS NULL RETURNING 1
                """, connection)
            return changed
        }
    }

    // MARK: Forgetting

    public func forget(_ externalUserID: String, at: Int64) async throws -> ForgetReport? {
        let corpID = self.corpID
        let logger = self.logger
        return try await write { connection in
            // Event writes of this customer wait for the forget to commit, and then meet its triggers.
            try await lockCustomer(externalUserID, connection)
            var known = false
            for try await _ in try await connection.query(
                "SELECT 1 FROM contacts WHERE corp_id = \(corpID) AND external_userid = \(externalUserID)", logger: logger)
            {
                known = true
            }
            guard known else { return nil }
            var report = ForgetReport()
            // Listed first: the triggers then erase what the updates below write, and every later write.
            try await connection.query(
                """
                INSERT INTO forgotten_contacts (corp_id, external_userid, forgotten_at) VALUES (\(corpID), \(externalUserID), \(at))
                ON CONFLICT DO NOTHING
                """, logger: logger)
            report.contactRows = try await count(
                """
                UPDATE contacts SET name = NULL, unionid = NULL, corp_name = NULL, corp_full_name = NULL, position = NULL, avatar = NULL
                WHERE corp_id = \(corpID) AND external_userid = \(externalUserID) RETURNING 1
                """, connection)
            report.relationRows = try await count(
                """
                UPDATE relations SET remark = NULL, description = NULL, remark_corp_name = NULL, remark_mobiles = ''
                WHERE corp_id = \(corpID) AND external_userid = \(externalUserID) RETURNING 1
                """, connection)
            report.phoneRows = try await count(
                "DELETE FROM contact_phones WHERE corp_id = \(corpID) AND external_userid = \(externalUserID) RETURNING 1", connection)
            // Interactions matched by phone keep no phone: they point at the contact instead.
            report.interactionRows = try await count(
                """
                UPDATE interactions SET attributes = NULL, ref_type = 'external_userid', ref_value = \(externalUserID)
                WHERE contact_seq = (SELECT seq FROM contact_seq WHERE corp_id = \(corpID) AND external_userid = \(externalUserID))
                RETURNING 1
                """, connection)
            // A message rendered for this person alone may carry their name.
            report.messageTexts = try await count(
                """
                UPDATE campaign_tasks SET text = '[erased]' WHERE corp_id = \(corpID) AND id IN (
                    SELECT task_id FROM campaign_recipients r WHERE r.corp_id = \(corpID) AND r.external_userid = \(externalUserID)
                      AND r.task_id IS NOT NULL
                      AND NOT EXISTS (SELECT 1 FROM campaign_recipients o WHERE o.task_id = r.task_id AND o.external_userid <> r.external_userid))
                RETURNING 1
                """, connection)
            return report
        }
    }

    // MARK: Rows

    private func write<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await store.transaction { connection in try await body(connection) }
    }

    /// Serializes one customer's event writes across instances until the transaction ends. The
    /// "no live relation left, so the contact ends" check reads other relations' rows, which READ
    /// COMMITTED does not re-check under a row lock: two instances ending a customer's last two
    /// relations, or one adding while another ends, would otherwise each see the other's relation.
    private func lockCustomer(_ externalUserID: String, _ connection: PostgresConnection) async throws {
        // The two-key form: its keys never equal the one-key locks of instances and jobs.
        let name = store.lockName("customer." + corpID + "." + externalUserID)
        try await connection.query("SELECT pg_advisory_xact_lock(\(Self.customerLockSpace), hashtext(\(name)))", logger: logger)
    }

    /// The first key of per-customer locks ("cu" in ASCII).
    static let customerLockSpace: Int32 = 0x6375

    /// How many rows a statement ending in `RETURNING 1` touched.
    private func count(_ query: PostgresQuery, _ connection: PostgresConnection) async throws -> Int {
        try await connection.affectedRows(query, logger: logger)
    }

    private func upsertStaff(_ member: StaffMember, _ connection: PostgresConnection, now: Int64) async throws -> Int {
        try await count(
            """
            INSERT INTO staff AS s (corp_id, userid, name, first_seen_at) VALUES (\(corpID), \(member.userID), \(member.name), \(now))
            ON CONFLICT (corp_id, userid) DO UPDATE SET name = coalesce(excluded.name, s.name), ended_at = NULL
            WHERE (excluded.name IS NOT NULL AND s.name IS DISTINCT FROM excluded.name) OR s.ended_at IS NOT NULL
            RETURNING 1
            """, connection)
    }

    private func upsertContact(_ contact: Contact, _ connection: PostgresConnection, now: Int64) async throws -> Int {
        try await count(
            """
            INSERT INTO contacts AS c (corp_id, external_userid, name, type, gender, unionid, corp_name, corp_full_name,
                position, avatar, first_seen_at, updated_at)
            VALUES (\(corpID), \(contact.externalUserID), \(contact.name), \(contact.type), \(contact.gender), \(contact.unionID),
                \(contact.corpName), \(contact.corpFullName), \(contact.position), \(contact.avatar), \(now), \(now))
            ON CONFLICT (corp_id, external_userid) DO UPDATE SET name = excluded.name, type = excluded.type,
                gender = excluded.gender, unionid = excluded.unionid, corp_name = excluded.corp_name,
                corp_full_name = excluded.corp_full_name, position = excluded.position, avatar = excluded.avatar,
                updated_at = excluded.updated_at, ended_at = NULL
            WHERE c.name IS DISTINCT FROM excluded.name OR c.type IS DISTINCT FROM excluded.type
                OR c.gender IS DISTINCT FROM excluded.gender OR c.unionid IS DISTINCT FROM excluded.unionid
                OR c.corp_name IS DISTINCT FROM excluded.corp_name OR c.corp_full_name IS DISTINCT FROM excluded.corp_full_name
                OR c.position IS DISTINCT FROM excluded.position OR c.avatar IS DISTINCT FROM excluded.avatar
                OR c.ended_at IS NOT NULL
            RETURNING 1
            """, connection)
    }

    /// Keeps `contact_phones` equal to the relation's `remark_mobiles`, normalized, so an order
    /// that names its customer by phone finds the contact through an index.
    private func indexPhones(of relation: Relation, _ connection: PostgresConnection) async throws {
        try await connection.query(
            """
            DELETE FROM contact_phones
            WHERE corp_id = \(corpID) AND external_userid = \(relation.externalUserID) AND userid = \(relation.userID)
            """, logger: logger)
        let phones = Set(relation.remarkMobiles.compactMap(ContactReference.normalizedPhone)).sorted()
        guard !phones.isEmpty else { return }
        try await connection.query(
            """
            INSERT INTO contact_phones (corp_id, phone, external_userid, userid)
            SELECT \(corpID), phone, \(relation.externalUserID), \(relation.userID) FROM unnest(\(phones)::text[]) AS phone
            ON CONFLICT DO NOTHING
            """, logger: logger)
    }

    /// An ended relation carries no tags on the platform, so it keeps no tag rows.
    private func dropTags(_ key: RelationKey, _ connection: PostgresConnection) async throws {
        try await connection.query(
            "DELETE FROM relation_tags WHERE corp_id = \(corpID) AND external_userid = \(key.externalUserID) AND userid = \(key.userID)",
            logger: logger)
    }

    /// Upserts a relation and makes its tag rows equal to its tags. `storedTags` are the tag
    /// rows the caller knows are stored; nil reads them.
    private func upsertRelation(_ relation: Relation, storedTags: [String]?, _ connection: PostgresConnection, now: Int64) async throws -> Int {
        var changed = try await count(
            """
            INSERT INTO relations AS r (corp_id, external_userid, userid, remark, description, createtime, add_way, state,
                oper_userid, remark_corp_name, remark_mobiles, first_seen_at, updated_at)
            VALUES (\(corpID), \(relation.externalUserID), \(relation.userID), \(relation.remark), \(relation.description),
                \(relation.createTime), \(relation.addWay), \(relation.state), \(relation.operUserID), \(relation.remarkCorpName),
                \(relation.remarkMobiles.joined(separator: ",")), \(now), \(now))
            ON CONFLICT (corp_id, external_userid, userid) DO UPDATE SET remark = excluded.remark,
                description = excluded.description, createtime = excluded.createtime, add_way = excluded.add_way,
                state = excluded.state, oper_userid = excluded.oper_userid, remark_corp_name = excluded.remark_corp_name,
                remark_mobiles = excluded.remark_mobiles, updated_at = excluded.updated_at, ended_at = NULL, end_reason = NULL
            WHERE r.remark IS DISTINCT FROM excluded.remark OR r.description IS DISTINCT FROM excluded.description
                OR r.createtime IS DISTINCT FROM excluded.createtime OR r.add_way IS DISTINCT FROM excluded.add_way
                OR r.state IS DISTINCT FROM excluded.state OR r.oper_userid IS DISTINCT FROM excluded.oper_userid
                OR r.remark_corp_name IS DISTINCT FROM excluded.remark_corp_name
                OR r.remark_mobiles IS DISTINCT FROM excluded.remark_mobiles OR r.ended_at IS NOT NULL
            RETURNING 1
            """, connection)
        if changed > 0 { try await indexPhones(of: relation, connection) }
        var current = storedTags
        if current == nil {
            var read: [String] = []
            for try await id in try await connection.query(
                """
                SELECT tag_id FROM relation_tags
                WHERE corp_id = \(corpID) AND external_userid = \(relation.externalUserID) AND userid = \(relation.userID)
                ORDER BY tag_id
                """, logger: logger
            ).decode(String.self) {
                read.append(id)
            }
            current = read
        }
        guard let current, current != relation.tagIDs else { return changed }
        let removed = Set(current).subtracting(relation.tagIDs).sorted()
        let added = Set(relation.tagIDs).subtracting(current).sorted()
        if !removed.isEmpty {
            changed += try await count(
                """
                DELETE FROM relation_tags
                WHERE corp_id = \(corpID) AND external_userid = \(relation.externalUserID) AND userid = \(relation.userID)
                    AND tag_id = ANY(\(removed))
                RETURNING 1
                """, connection)
        }
        if !added.isEmpty {
            changed += try await count(
                """
                INSERT INTO relation_tags (corp_id, external_userid, userid, tag_id)
                SELECT \(corpID), \(relation.externalUserID), \(relation.userID), tag FROM unnest(\(added)::text[]) AS tag
                ON CONFLICT DO NOTHING RETURNING 1
                """, connection)
        }
        return changed
    }

    private static let contactColumns = """
        c.external_userid, c.name, c.type, c.gender, c.unionid, c.corp_name, c.corp_full_name, c.position, c.avatar,
        c.first_seen_at, c.ended_at
        """

    private static let relationColumns = """
        external_userid, userid, remark, description, createtime, add_way, state, oper_userid, remark_corp_name, remark_mobiles
        """

    private static func relation(_ row: PostgresRow) throws -> Relation {
        let (external, userID, remark, description, createTime, addWay, state, operUserID, remarkCorpName, mobiles) = try row.decode(
            (String, String, String?, String?, Int64?, Int?, String?, String?, String?, String).self)
        return Relation(
            externalUserID: external, userID: userID, remark: remark, description: description, createTime: createTime,
            addWay: addWay, state: state, operUserID: operUserID, remarkCorpName: remarkCorpName,
            remarkMobiles: mobiles.isEmpty ? [] : mobiles.split(separator: ",").map(String.init))
    }

    private func liveCatalogue(_ connection: PostgresConnection) async throws -> [TagGroup] {
        var groups: [String: TagGroup] = [:]
        var order: [String] = []
        for try await (id, name, sortOrder, createTime) in try await connection.query(
            """
            SELECT group_id, name, sort_order, create_time FROM tag_groups WHERE corp_id = \(corpID) AND deleted_at IS NULL
            ORDER BY sort_order DESC, group_id
            """, logger: logger
        ).decode((String, String, Int64, Int64?).self) {
            groups[id] = TagGroup(id: id, name: name, order: UInt32(clamping: sortOrder), createTime: createTime)
            order.append(id)
        }
        for try await (id, groupID, name, sortOrder, createTime) in try await connection.query(
            """
            SELECT tag_id, group_id, name, sort_order, create_time FROM tags WHERE corp_id = \(corpID) AND deleted_at IS NULL
            ORDER BY sort_order DESC, tag_id
            """, logger: logger
        ).decode((String, String, String, Int64, Int64?).self) {
            groups[groupID]?.tags.append(Tag(id: id, groupID: groupID, name: name, order: UInt32(clamping: sortOrder), createTime: createTime))
        }
        return order.compactMap { groups[$0] }
    }

    /// Tag ids a filter names: an id, a tag name, or `group/tag`.
    private func tagIDs(matching text: String, _ connection: PostgresConnection) async throws -> [String] {
        var ids: [String] = []
        for try await id in try await connection.query(
            """
            SELECT t.tag_id FROM tags t LEFT JOIN tag_groups g ON g.corp_id = t.corp_id AND g.group_id = t.group_id
            WHERE t.corp_id = \(corpID) AND (t.tag_id = \(text) OR t.name = \(text) OR (g.name || '/' || t.name) = \(text))
            """, logger: logger
        ).decode(String.self) {
            ids.append(id)
        }
        return ids
    }

    private func storedContacts(_ rows: PostgresRowSequence, _ connection: PostgresConnection) async throws -> [StoredContact] {
        var contacts: [(Contact, Int64, Int64?)] = []
        for try await row in rows {
            let (id, name, type, gender, unionID, corpName, corpFullName, position, avatar, firstSeen, ended) = try row.decode(
                (String, String?, Int?, Int?, String?, String?, String?, String?, String?, Int64, Int64?).self)
            contacts.append(
                (Contact(
                    externalUserID: id, name: name, type: type, gender: gender, unionID: unionID, corpName: corpName,
                    corpFullName: corpFullName, position: position, avatar: avatar), firstSeen, ended))
        }
        guard !contacts.isEmpty else { return [] }
        let names = try await tagNames(connection)
        var result: [StoredContact] = []
        result.reserveCapacity(contacts.count)
        for chunk in contacts.chunked(500) {
            let ids = chunk.map(\.0.externalUserID)
            var tags: [RelationKey: [String]] = [:]
            for try await (external, userID, tagID) in try await connection.query(
                "SELECT external_userid, userid, tag_id FROM relation_tags WHERE corp_id = \(corpID) AND external_userid = ANY(\(ids))",
                logger: logger
            ).decode((String, String, String).self) {
                tags[RelationKey(externalUserID: external, userID: userID), default: []].append(tagID)
            }
            var relations: [String: [StoredRelation]] = [:]
            for try await row in try await connection.query(
                """
                SELECT \(unescaped: Self.relationColumns), first_seen_at, ended_at, end_reason FROM relations
                WHERE corp_id = \(corpID) AND external_userid = ANY(\(ids)) ORDER BY userid
                """, logger: logger)
            {
                var relation = try Self.relation(row)
                relation.tagIDs = (tags[relation.key] ?? []).sorted()
                let cells = row.makeRandomAccess()
                let stored = StoredRelation(
                    relation: relation, firstSeenAt: StoreTime.date(try cells["first_seen_at"].decode(Int64.self)),
                    endedAt: try cells["ended_at"].decode(Int64?.self).map(StoreTime.date), endReason: try cells["end_reason"].decode(String?.self),
                    tagNames: Dictionary(uniqueKeysWithValues: relation.tagIDs.map { ($0, names[$0] ?? $0) }))
                relations[relation.externalUserID, default: []].append(stored)
            }
            for (contact, firstSeen, ended) in chunk {
                result.append(
                    StoredContact(
                        contact: contact, firstSeenAt: StoreTime.date(firstSeen), endedAt: ended.map(StoreTime.date),
                        relations: relations[contact.externalUserID] ?? []))
            }
        }
        return result
    }

    /// `group/tag` for every tag ever seen (deleted ones keep their last name).
    private func tagNames(_ connection: PostgresConnection) async throws -> [String: String] {
        var names: [String: String] = [:]
        for try await (id, name) in try await connection.query(
            """
            SELECT t.tag_id, coalesce(g.name, '?') || '/' || t.name FROM tags t
            LEFT JOIN tag_groups g ON g.corp_id = t.corp_id AND g.group_id = t.group_id WHERE t.corp_id = \(corpID)
            """, logger: logger
        ).decode((String, String).self) {
            names[id] = name
        }
        return names
    }
}
