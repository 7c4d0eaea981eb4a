import CohortCore
import Foundation
import GRDB

/// The contact, relation and tag mirror of one corp on SQLite.
///
/// Upserts only touch rows whose values differ (the `WHERE` of each `ON CONFLICT` clause), so
/// writing what is already stored changes nothing and costs no WAL pages. Large change sets are
/// written in transactions of `batchSize` rows, so the webhook's commits wait at most one such
/// transaction (about 0.1 s at 5,000 rows); smaller transactions made a first sync of 100,000
/// contacts a third slower (docs/PERFORMANCE.md).
public struct SQLiteDirectoryRepository: DirectoryRepository {
    let writer: any DatabaseWriter
    public let corpID: String
    public var batchSize = 5_000

    public init(database: CohortDatabase, corpID: String) {
        self.writer = database.writer
        self.corpID = corpID
    }

    // MARK: Reading

    public func catalogue() async throws -> [TagGroup] {
        let corpID = self.corpID
        return try await writer.read { db in try Self.liveCatalogue(db, corpID: corpID) }
    }

    public func state() async throws -> DirectoryState {
        let corpID = self.corpID
        return try await writer.read { db in
            var state = DirectoryState()
            for row in try Row.fetchAll(db, sql: "SELECT userid, name FROM staff WHERE corp_id = ? AND ended_at IS NULL", arguments: [corpID]) {
                let member = StaffMember(userID: row["userid"], name: row["name"])
                state.staff[member.userID] = member
            }
            // Columns by position: this reads every live row, and name lookups cost more than the rows.
            let contacts = try Row.fetchCursor(
                db,
                sql: """
                    SELECT external_userid, name, type, gender, unionid, corp_name, corp_full_name, position, avatar
                    FROM contacts WHERE corp_id = ? AND ended_at IS NULL
                    """,
                arguments: [corpID])
            state.contacts.reserveCapacity(100_000)
            while let row = try contacts.next() {
                let contact = Contact(
                    externalUserID: row[0], name: row[1], type: row[2], gender: row[3], unionID: row[4], corpName: row[5],
                    corpFullName: row[6], position: row[7], avatar: row[8])
                state.contacts[contact.externalUserID] = contact
            }
            var tagsByRelation: [RelationKey: [String]] = [:]
            let tagRows = try Row.fetchCursor(
                db, sql: "SELECT external_userid, userid, tag_id FROM relation_tags WHERE corp_id = ?", arguments: [corpID])
            while let row = try tagRows.next() {
                tagsByRelation[RelationKey(externalUserID: row[0], userID: row[1]), default: []].append(row[2])
            }
            let relations = try Row.fetchCursor(
                db,
                sql: """
                    SELECT external_userid, userid, remark, description, createtime, add_way, state, oper_userid,
                        remark_corp_name, remark_mobiles
                    FROM relations WHERE corp_id = ? AND ended_at IS NULL
                    """,
                arguments: [corpID])
            while let row = try relations.next() {
                let mobiles: String = row[9] ?? ""
                var relation = Relation(
                    externalUserID: row[0], userID: row[1], remark: row[2], description: row[3], createTime: row[4],
                    addWay: row[5], state: row[6], operUserID: row[7], remarkCorpName: row[8],
                    remarkMobiles: mobiles.isEmpty ? [] : mobiles.split(separator: ",").map(String.init))
                relation.tagIDs = (tagsByRelation[relation.key] ?? []).sorted()
                state.relations[relation.key] = relation
            }
            state.tagGroups = try Self.liveCatalogue(db, corpID: corpID)
            return state
        }
    }

    public func contacts(_ filter: ContactFilter) async throws -> [StoredContact] {
        let corpID = self.corpID
        return try await writer.read { db in
            var conditions = ["c.corp_id = ?"]
            var arguments: StatementArguments = [corpID]
            if !filter.includeEnded { conditions.append("c.ended_at IS NULL") }
            if let staff = filter.staff {
                conditions.append(
                    "EXISTS (SELECT 1 FROM relations r WHERE r.corp_id = c.corp_id AND r.external_userid = c.external_userid AND r.userid = ? AND r.ended_at IS NULL)")
                _ = arguments.append(contentsOf: [staff])
            }
            if let text = filter.text?.trimmingCharacters(in: .whitespaces), !text.isEmpty {
                // instr, not LIKE: no wildcard characters to escape in what an operator types.
                conditions.append(
                    """
                    (instr(c.external_userid, ?) > 0 OR instr(ifnull(c.name, ''), ?) > 0 OR instr(ifnull(c.corp_name, ''), ?) > 0
                     OR EXISTS (SELECT 1 FROM relations r WHERE r.corp_id = c.corp_id AND r.external_userid = c.external_userid
                        AND (instr(ifnull(r.remark, ''), ?) > 0 OR instr(r.remark_mobiles, ?) > 0)))
                    """)
                _ = arguments.append(contentsOf: [text, text, text, text, text])
            }
            if let tag = filter.tag {
                let ids = try Self.tagIDs(matching: tag, db: db, corpID: corpID)
                if ids.isEmpty { return [] }
                conditions.append(
                    """
                    EXISTS (SELECT 1 FROM relation_tags t JOIN relations r ON r.corp_id = t.corp_id
                        AND r.external_userid = t.external_userid AND r.userid = t.userid AND r.ended_at IS NULL
                        WHERE t.corp_id = c.corp_id AND t.external_userid = c.external_userid
                        AND t.tag_id IN (\(ids.map { _ in "?" }.joined(separator: ","))))
                    """)
                _ = arguments.append(contentsOf: StatementArguments(ids))
            }
            var sql = "SELECT c.* FROM contacts c WHERE \(conditions.joined(separator: " AND ")) ORDER BY c.external_userid"
            if let limit = filter.limit {
                sql += " LIMIT ?"
                _ = arguments.append(contentsOf: [limit])
            }
            let rows = try Row.fetchAll(db, sql: sql, arguments: arguments)
            return try Self.storedContacts(rows, db: db, corpID: corpID)
        }
    }

    public func contact(_ externalUserID: String) async throws -> StoredContact? {
        let corpID = self.corpID
        return try await writer.read { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT * FROM contacts WHERE corp_id = ? AND external_userid = ?", arguments: [corpID, externalUserID])
            return try Self.storedContacts(rows, db: db, corpID: corpID).first
        }
    }

    public func events(kind: ContactEvent.Kind?, limit: Int) async throws -> [ContactEvent] {
        let corpID = self.corpID
        return try await writer.read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM contact_events WHERE corp_id = ? AND (? IS NULL OR kind = ?)
                    ORDER BY occurred_at DESC, id DESC LIMIT ?
                    """,
                arguments: [corpID, kind?.rawValue, kind?.rawValue, limit])
            return rows.compactMap { row in
                guard let kind = ContactEvent.Kind(rawValue: row["kind"]) else { return nil }
                return ContactEvent(
                    kind: kind, externalUserID: row["external_userid"], userID: row["userid"], chatID: row["chat_id"],
                    occurredAt: row["occurred_at"], detail: row["detail"])
            }
        }
    }

    // MARK: Writing

    public func apply(_ changes: DirectoryChanges, at time: Date) async throws -> Int {
        let now = StoreTime.millis(time)
        let corpID = self.corpID
        var changed = 0
        changed += try await upsertTagGroups(changes.tagGroupsUpserted, at: time)
        changed += try await endTags(tagIDs: changes.tagsEnded, groupIDs: changes.tagGroupsEnded, at: time)
        for chunk in changes.staffUpserted.chunked(batchSize) {
            changed += try await writer.write { db in
                try chunk.reduce(0) { $0 + (try Self.upsertStaff($1, db: db, corpID: corpID, now: now)) }
            }
        }
        for chunk in changes.staffEnded.chunked(batchSize) {
            changed += try await writer.write { db in
                try chunk.reduce(0) { total, userid in
                    try db.execute(
                        sql: "UPDATE staff SET ended_at = ? WHERE corp_id = ? AND userid = ? AND ended_at IS NULL",
                        arguments: [now, corpID, userid])
                    return total + db.changesCount
                }
            }
        }
        for chunk in (changes.contactsAdded + changes.contactsUpdated).chunked(batchSize) {
            changed += try await writer.write { db in
                try chunk.reduce(0) { $0 + (try Self.upsertContact($1, db: db, corpID: corpID, now: now)) }
            }
        }
        // The diff knows each relation's stored tags: added relations have none (an ended
        // relation keeps no tag rows), updated ones had the new tags minus the added plus the
        // removed. Passing them spares a read per relation.
        let tagChanges = Dictionary(changes.relationTagChanges.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        let upserts = changes.relationsAdded.map { ($0, [String]()) }
            + changes.relationsUpdated.map { relation -> (Relation, [String]) in
                guard let change = tagChanges[relation.key] else { return (relation, relation.tagIDs) }
                return (relation, Set(relation.tagIDs).subtracting(change.added).union(change.removed).sorted())
            }
        for chunk in upserts.chunked(batchSize) {
            changed += try await writer.write { db in
                try chunk.reduce(0) { $0 + (try Self.upsertRelation($1.0, storedTags: $1.1, db: db, corpID: corpID, now: now)) }
            }
        }
        for chunk in changes.relationsEnded.chunked(batchSize) {
            changed += try await writer.write { db in
                try chunk.reduce(0) { total, key in
                    try db.cachedStatement(
                        sql: """
                            UPDATE relations SET ended_at = ?, end_reason = 'not seen by sync', updated_at = ?
                            WHERE corp_id = ? AND external_userid = ? AND userid = ? AND ended_at IS NULL
                            """
                    ).execute(arguments: [now, now, corpID, key.externalUserID, key.userID])
                    let ended = db.changesCount
                    try Self.dropTags(key, db: db, corpID: corpID)
                    return total + ended
                }
            }
        }
        for chunk in changes.contactsEnded.chunked(batchSize) {
            changed += try await writer.write { db in
                try chunk.reduce(0) { total, id in
                    try db.cachedStatement(
                        sql: "UPDATE contacts SET ended_at = ?, updated_at = ? WHERE corp_id = ? AND external_userid = ? AND ended_at IS NULL"
                    ).execute(arguments: [now, now, corpID, id])
                    return total + db.changesCount
                }
            }
        }
        return changed
    }

    public func upsert(_ contact: Contact, relations: [Relation], at time: Date) async throws -> Int {
        let now = StoreTime.millis(time)
        let corpID = self.corpID
        return try await writer.write { db in
            var changed = try Self.upsertContact(contact, db: db, corpID: corpID, now: now)
            for relation in relations {
                changed += try Self.upsertRelation(relation, db: db, corpID: corpID, now: now)
            }
            return changed
        }
    }

    public func endRelation(_ key: RelationKey, reason: String, eventTime: Int64, at time: Date) async throws -> Bool {
        let corpID = self.corpID
        // The relation ends when the platform says it did, not when the event was processed.
        let endedAt = eventTime > 0 ? eventTime * 1000 : StoreTime.millis(time)
        let now = StoreTime.millis(time)
        return try await writer.write { db in
            try db.execute(
                sql: """
                    UPDATE relations SET ended_at = ?, end_reason = ?, updated_at = ?
                    WHERE corp_id = ? AND external_userid = ? AND userid = ? AND ended_at IS NULL
                        AND coalesce(createtime, 0) <= ?
                    """,
                arguments: [endedAt, reason, now, corpID, key.externalUserID, key.userID, eventTime])
            guard db.changesCount > 0 else { return false }
            try Self.dropTags(key, db: db, corpID: corpID)
            // A customer no staff member follows any more is gone too.
            try db.execute(
                sql: """
                    UPDATE contacts SET ended_at = ?, updated_at = ?
                    WHERE corp_id = ? AND external_userid = ? AND ended_at IS NULL
                        AND NOT EXISTS (SELECT 1 FROM relations WHERE corp_id = ? AND external_userid = ? AND ended_at IS NULL)
                    """,
                arguments: [endedAt, now, corpID, key.externalUserID, corpID, key.externalUserID])
            return true
        }
    }

    public func record(_ event: ContactEvent, at time: Date) async throws -> Bool {
        let corpID = self.corpID
        let now = StoreTime.millis(time)
        return try await writer.write { db in
            try db.execute(
                sql: """
                    INSERT INTO contact_events (corp_id, kind, external_userid, userid, chat_id, occurred_at, detail, recorded_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                    """,
                arguments: [corpID, event.kind.rawValue, event.externalUserID, event.userID, event.chatID, event.occurredAt, event.detail, now])
            return db.changesCount > 0
        }
    }

    public func upsertTagGroups(_ groups: [TagGroup], at time: Date) async throws -> Int {
        guard !groups.isEmpty else { return 0 }
        let now = StoreTime.millis(time)
        let corpID = self.corpID
        return try await writer.write { db in
            var changed = 0
            for group in groups {
                try db.cachedStatement(
                    sql: """
                        INSERT INTO tag_groups (corp_id, group_id, name, sort_order, create_time, updated_at)
                        VALUES (?, ?, ?, ?, ?, ?)
                        ON CONFLICT (corp_id, group_id) DO UPDATE SET name = excluded.name, sort_order = excluded.sort_order,
                            create_time = excluded.create_time, updated_at = excluded.updated_at, deleted_at = NULL
                        WHERE name IS NOT excluded.name OR sort_order IS NOT excluded.sort_order
                            OR create_time IS NOT excluded.create_time OR deleted_at IS NOT NULL
                        """
                ).execute(arguments: [corpID, group.id, group.name, Int64(group.order), group.createTime, now])
                changed += db.changesCount
                for tag in group.tags {
                    try db.cachedStatement(
                        sql: """
                            INSERT INTO tags (corp_id, tag_id, group_id, name, sort_order, create_time, updated_at)
                            VALUES (?, ?, ?, ?, ?, ?, ?)
                            ON CONFLICT (corp_id, tag_id) DO UPDATE SET group_id = excluded.group_id, name = excluded.name,
                                sort_order = excluded.sort_order, create_time = excluded.create_time,
                                updated_at = excluded.updated_at, deleted_at = NULL
                            WHERE group_id IS NOT excluded.group_id OR name IS NOT excluded.name
                                OR sort_order IS NOT excluded.sort_order OR create_time IS NOT excluded.create_time
                                OR deleted_at IS NOT NULL
                            """
                    ).execute(arguments: [corpID, tag.id, group.id, tag.name, Int64(tag.order), tag.createTime, now])
                    changed += db.changesCount
                }
            }
            return changed
        }
    }

    public func endTags(tagIDs: [String], groupIDs: [String], at time: Date) async throws -> Int {
        guard !tagIDs.isEmpty || !groupIDs.isEmpty else { return 0 }
        let now = StoreTime.millis(time)
        let corpID = self.corpID
        return try await writer.write { db in
            var changed = 0
            for id in tagIDs {
                try db.execute(
                    sql: "UPDATE tags SET deleted_at = ?, updated_at = ? WHERE corp_id = ? AND tag_id = ? AND deleted_at IS NULL",
                    arguments: [now, now, corpID, id])
                changed += db.changesCount
            }
            for id in groupIDs {
                try db.execute(
                    sql: "UPDATE tag_groups SET deleted_at = ?, updated_at = ? WHERE corp_id = ? AND group_id = ? AND deleted_at IS NULL",
                    arguments: [now, now, corpID, id])
                changed += db.changesCount
                try db.execute(
                    sql: "UPDATE tags SET deleted_at = ?, updated_at = ? WHERE corp_id = ? AND group_id = ? AND deleted_at IS NULL",
                    arguments: [now, now, corpID, id])
                changed += db.changesCount
            }
            return changed
        }
    }

    // MARK: Rows

    private static func upsertStaff(_ member: StaffMember, db: Database, corpID: String, now: Int64) throws -> Int {
        try db.cachedStatement(
            sql: """
                INSERT INTO staff (corp_id, userid, name, first_seen_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (corp_id, userid) DO UPDATE SET name = coalesce(excluded.name, name), ended_at = NULL
                WHERE (excluded.name IS NOT NULL AND name IS NOT excluded.name) OR ended_at IS NOT NULL
                """
        ).execute(arguments: [corpID, member.userID, member.name, now])
        return db.changesCount
    }

    private static func upsertContact(_ contact: Contact, db: Database, corpID: String, now: Int64) throws -> Int {
        try db.cachedStatement(
            sql: """
                INSERT INTO contacts (corp_id, external_userid, name, type, gender, unionid, corp_name, corp_full_name,
                    position, avatar, first_seen_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (corp_id, external_userid) DO UPDATE SET name = excluded.name, type = excluded.type,
                    gender = excluded.gender, unionid = excluded.unionid, corp_name = excluded.corp_name,
                    corp_full_name = excluded.corp_full_name, position = excluded.position, avatar = excluded.avatar,
                    updated_at = excluded.updated_at, ended_at = NULL
                WHERE name IS NOT excluded.name OR type IS NOT excluded.type OR gender IS NOT excluded.gender
                    OR unionid IS NOT excluded.unionid OR corp_name IS NOT excluded.corp_name
                    OR corp_full_name IS NOT excluded.corp_full_name OR position IS NOT excluded.position
                    OR avatar IS NOT excluded.avatar OR ended_at IS NOT NULL
                """
        ).execute(arguments: [
            corpID, contact.externalUserID, contact.name, contact.type, contact.gender, contact.unionID, contact.corpName,
            contact.corpFullName, contact.position, contact.avatar, now, now,
        ])
        return db.changesCount
    }

    /// Keeps `contact_phones` equal to the relation's `remark_mobiles`, normalized, so an order
    /// that names its customer by phone finds the contact through an index.
    private static func indexPhones(of relation: Relation, db: Database, corpID: String) throws {
        try db.cachedStatement(sql: "DELETE FROM contact_phones WHERE corp_id = ? AND external_userid = ? AND userid = ?")
            .execute(arguments: [corpID, relation.externalUserID, relation.userID])
        for phone in Set(relation.remarkMobiles.compactMap(ContactReference.normalizedPhone)) {
            try db.cachedStatement(
                sql: "INSERT OR IGNORE INTO contact_phones (corp_id, phone, external_userid, userid) VALUES (?, ?, ?, ?)"
            ).execute(arguments: [corpID, phone, relation.externalUserID, relation.userID])
        }
    }

    /// An ended relation carries no tags on the platform, so it keeps no tag rows.
    private static func dropTags(_ key: RelationKey, db: Database, corpID: String) throws {
        try db.cachedStatement(sql: "DELETE FROM relation_tags WHERE corp_id = ? AND external_userid = ? AND userid = ?")
            .execute(arguments: [corpID, key.externalUserID, key.userID])
    }

    /// Upserts a relation and makes its tag rows equal to its tags. `storedTags` are the tag
    /// rows the caller knows are stored; nil reads them.
    private static func upsertRelation(_ relation: Relation, storedTags: [String]? = nil, db: Database, corpID: String, now: Int64) throws -> Int {
        try db.cachedStatement(
            sql: """
                INSERT INTO relations (corp_id, external_userid, userid, remark, description, createtime, add_way, state,
                    oper_userid, remark_corp_name, remark_mobiles, first_seen_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (corp_id, external_userid, userid) DO UPDATE SET remark = excluded.remark,
                    description = excluded.description, createtime = excluded.createtime, add_way = excluded.add_way,
                    state = excluded.state, oper_userid = excluded.oper_userid, remark_corp_name = excluded.remark_corp_name,
                    remark_mobiles = excluded.remark_mobiles, updated_at = excluded.updated_at, ended_at = NULL, end_reason = NULL
                WHERE remark IS NOT excluded.remark OR description IS NOT excluded.description
                    OR createtime IS NOT excluded.createtime OR add_way IS NOT excluded.add_way OR state IS NOT excluded.state
                    OR oper_userid IS NOT excluded.oper_userid OR remark_corp_name IS NOT excluded.remark_corp_name
                    OR remark_mobiles IS NOT excluded.remark_mobiles OR ended_at IS NOT NULL
                """
        ).execute(arguments: [
            corpID, relation.externalUserID, relation.userID, relation.remark, relation.description, relation.createTime,
            relation.addWay, relation.state, relation.operUserID, relation.remarkCorpName,
            relation.remarkMobiles.joined(separator: ","), now, now,
        ])
        var changed = db.changesCount
        if changed > 0 { try indexPhones(of: relation, db: db, corpID: corpID) }
        let current =
            try storedTags
            ?? String.fetchAll(
                db.cachedStatement(
                    sql: "SELECT tag_id FROM relation_tags WHERE corp_id = ? AND external_userid = ? AND userid = ? ORDER BY tag_id"),
                arguments: [corpID, relation.externalUserID, relation.userID])
        if current != relation.tagIDs {
            let currentSet = Set(current)
            let wanted = Set(relation.tagIDs)
            for id in currentSet.subtracting(wanted) {
                try db.cachedStatement(
                    sql: "DELETE FROM relation_tags WHERE corp_id = ? AND external_userid = ? AND userid = ? AND tag_id = ?"
                ).execute(arguments: [corpID, relation.externalUserID, relation.userID, id])
                changed += db.changesCount
            }
            for id in wanted.subtracting(currentSet) {
                try db.cachedStatement(
                    sql: "INSERT INTO relation_tags (corp_id, external_userid, userid, tag_id) VALUES (?, ?, ?, ?)"
                ).execute(arguments: [corpID, relation.externalUserID, relation.userID, id])
                changed += db.changesCount
            }
        }
        return changed
    }

    private static func contact(_ row: Row) -> Contact {
        Contact(
            externalUserID: row["external_userid"], name: row["name"], type: row["type"], gender: row["gender"],
            unionID: row["unionid"], corpName: row["corp_name"], corpFullName: row["corp_full_name"],
            position: row["position"], avatar: row["avatar"])
    }

    private static func relation(_ row: Row) -> Relation {
        let mobiles: String = row["remark_mobiles"] ?? ""
        return Relation(
            externalUserID: row["external_userid"], userID: row["userid"], remark: row["remark"],
            description: row["description"], createTime: row["createtime"], addWay: row["add_way"], state: row["state"],
            operUserID: row["oper_userid"], remarkCorpName: row["remark_corp_name"],
            remarkMobiles: mobiles.isEmpty ? [] : mobiles.split(separator: ",").map(String.init))
    }

    private static func liveCatalogue(_ db: Database, corpID: String) throws -> [TagGroup] {
        var groups: [String: TagGroup] = [:]
        var order: [String] = []
        for row in try Row.fetchAll(
            db, sql: "SELECT * FROM tag_groups WHERE corp_id = ? AND deleted_at IS NULL ORDER BY sort_order DESC, group_id",
            arguments: [corpID])
        {
            let id: String = row["group_id"]
            groups[id] = TagGroup(id: id, name: row["name"], order: UInt32(clamping: row["sort_order"] as Int64), createTime: row["create_time"])
            order.append(id)
        }
        for row in try Row.fetchAll(
            db, sql: "SELECT * FROM tags WHERE corp_id = ? AND deleted_at IS NULL ORDER BY sort_order DESC, tag_id",
            arguments: [corpID])
        {
            let groupID: String = row["group_id"]
            groups[groupID]?.tags.append(
                Tag(id: row["tag_id"], groupID: groupID, name: row["name"], order: UInt32(clamping: row["sort_order"] as Int64),
                    createTime: row["create_time"]))
        }
        return order.compactMap { groups[$0] }
    }

    /// Tag ids a filter names: an id, a tag name, or `group/tag`.
    private static func tagIDs(matching text: String, db: Database, corpID: String) throws -> [String] {
        try String.fetchAll(
            db,
            sql: """
                SELECT t.tag_id FROM tags t LEFT JOIN tag_groups g ON g.corp_id = t.corp_id AND g.group_id = t.group_id
                WHERE t.corp_id = ? AND (t.tag_id = ? OR t.name = ? OR (g.name || '/' || t.name) = ?)
                """,
            arguments: [corpID, text, text, text])
    }

    private static func storedContacts(_ rows: [Row], db: Database, corpID: String) throws -> [StoredContact] {
        guard !rows.isEmpty else { return [] }
        let names = try tagNames(db, corpID: corpID)
        var result: [StoredContact] = []
        result.reserveCapacity(rows.count)
        for chunk in rows.chunked(500) {
            let ids = chunk.map { $0["external_userid"] as String }
            let marks = ids.map { _ in "?" }.joined(separator: ",")
            var relations: [String: [StoredRelation]] = [:]
            var tags: [RelationKey: [String]] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT * FROM relation_tags WHERE corp_id = ? AND external_userid IN (\(marks))",
                arguments: StatementArguments([corpID] + ids))
            {
                tags[RelationKey(externalUserID: row["external_userid"], userID: row["userid"]), default: []].append(row["tag_id"])
            }
            for row in try Row.fetchAll(
                db, sql: "SELECT * FROM relations WHERE corp_id = ? AND external_userid IN (\(marks)) ORDER BY userid",
                arguments: StatementArguments([corpID] + ids))
            {
                var relation = relation(row)
                relation.tagIDs = (tags[relation.key] ?? []).sorted()
                let stored = StoredRelation(
                    relation: relation, firstSeenAt: StoreTime.date(row["first_seen_at"]),
                    endedAt: (row["ended_at"] as Int64?).map(StoreTime.date), endReason: row["end_reason"],
                    tagNames: Dictionary(uniqueKeysWithValues: relation.tagIDs.map { ($0, names[$0] ?? $0) }))
                relations[relation.externalUserID, default: []].append(stored)
            }
            for row in chunk {
                let contact = contact(row)
                result.append(
                    StoredContact(
                        contact: contact, firstSeenAt: StoreTime.date(row["first_seen_at"]),
                        endedAt: (row["ended_at"] as Int64?).map(StoreTime.date), relations: relations[contact.externalUserID] ?? []))
            }
        }
        return result
    }

    /// `group/tag` for every tag ever seen (deleted ones keep their last name).
    private static func tagNames(_ db: Database, corpID: String) throws -> [String: String] {
        var names: [String: String] = [:]
        for row in try Row.fetchAll(
            db,
            sql: """
                SELECT t.tag_id, coalesce(g.name, '?') || '/' || t.name FROM tags t
                LEFT JOIN tag_groups g ON g.corp_id = t.corp_id AND g.group_id = t.group_id WHERE t.corp_id = ?
                """,
            arguments: [corpID])
        {
            names[row[0]] = row[1]
        }
        return names
    }
}
