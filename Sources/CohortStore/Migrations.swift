import GRDB

/// Schema history.
///
/// The inbox's unique key leads with `create_time` on purpose: new events then land at the
/// right edge of the index instead of at random places a digest would send them to, which cut
/// the pages each commit dirties (and the WAL checkpoint work) by several times. A retried
/// delivery carries the same CreateTime, so it still meets its first copy. The only other index
/// covers rows that are not processed (the processor's queue and what operators look for);
/// processed rows, nearly all of them, cost no index upkeep. A migration that has landed is never edited: add a new one.
/// Migrations use string table and column names, never app types, because they describe the past.
enum Migrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("2026-11-23-inbox") { db in
            try db.execute(
                sql: """
                    CREATE TABLE inbox (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        corp_id TEXT NOT NULL,
                        dedup_key TEXT NOT NULL,
                        received_at INTEGER NOT NULL,
                        create_time INTEGER NOT NULL,
                        msg_type TEXT,
                        event TEXT,
                        change_type TEXT,
                        user_id TEXT,
                        external_user_id TEXT,
                        raw_xml TEXT NOT NULL,
                        status TEXT NOT NULL
                            CHECK (status IN ('pending', 'processed', 'failed', 'dead', 'unhandled')),
                        note TEXT,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        next_attempt_at INTEGER,
                        last_error TEXT,
                        processed_at INTEGER,
                        duplicates INTEGER NOT NULL DEFAULT 0,
                        UNIQUE (corp_id, create_time, dedup_key)
                    );
                    CREATE INDEX inbox_open ON inbox (status, id) WHERE status <> 'processed';
                    """)
        }
        // Contacts, relations and the tag catalogue mirror the platform. Nothing is deleted:
        // what the platform no longer has gets `ended_at`. Tags belong to a relation.
        migrator.registerMigration("2026-11-23-directory") { db in
            try db.execute(
                sql: """
                    CREATE TABLE staff (
                        corp_id TEXT NOT NULL,
                        userid TEXT NOT NULL,
                        name TEXT,
                        first_seen_at INTEGER NOT NULL,
                        ended_at INTEGER,
                        PRIMARY KEY (corp_id, userid)
                    ) WITHOUT ROWID;
                    CREATE TABLE contacts (
                        corp_id TEXT NOT NULL,
                        external_userid TEXT NOT NULL,
                        name TEXT,
                        type INTEGER,
                        gender INTEGER,
                        unionid TEXT,
                        corp_name TEXT,
                        corp_full_name TEXT,
                        position TEXT,
                        avatar TEXT,
                        first_seen_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL,
                        ended_at INTEGER,
                        PRIMARY KEY (corp_id, external_userid)
                    ) WITHOUT ROWID;
                    CREATE TABLE relations (
                        corp_id TEXT NOT NULL,
                        external_userid TEXT NOT NULL,
                        userid TEXT NOT NULL,
                        remark TEXT,
                        description TEXT,
                        createtime INTEGER,
                        add_way INTEGER,
                        state TEXT,
                        oper_userid TEXT,
                        remark_corp_name TEXT,
                        remark_mobiles TEXT NOT NULL DEFAULT '',
                        first_seen_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL,
                        ended_at INTEGER,
                        end_reason TEXT,
                        PRIMARY KEY (corp_id, external_userid, userid)
                    ) WITHOUT ROWID;
                    CREATE INDEX relations_by_staff ON relations (corp_id, userid);
                    CREATE TABLE relation_tags (
                        corp_id TEXT NOT NULL,
                        external_userid TEXT NOT NULL,
                        userid TEXT NOT NULL,
                        tag_id TEXT NOT NULL,
                        PRIMARY KEY (corp_id, external_userid, userid, tag_id)
                    ) WITHOUT ROWID;
                    CREATE INDEX relation_tags_by_tag ON relation_tags (corp_id, tag_id);
                    CREATE TABLE tag_groups (
                        corp_id TEXT NOT NULL,
                        group_id TEXT NOT NULL,
                        name TEXT NOT NULL,
                        sort_order INTEGER NOT NULL,
                        create_time INTEGER,
                        updated_at INTEGER NOT NULL,
                        deleted_at INTEGER,
                        PRIMARY KEY (corp_id, group_id)
                    ) WITHOUT ROWID;
                    CREATE TABLE tags (
                        corp_id TEXT NOT NULL,
                        tag_id TEXT NOT NULL,
                        group_id TEXT NOT NULL,
                        name TEXT NOT NULL,
                        sort_order INTEGER NOT NULL,
                        create_time INTEGER,
                        updated_at INTEGER NOT NULL,
                        deleted_at INTEGER,
                        PRIMARY KEY (corp_id, tag_id)
                    ) WITHOUT ROWID;
                    CREATE TABLE contact_events (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        corp_id TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        external_userid TEXT NOT NULL,
                        userid TEXT NOT NULL,
                        chat_id TEXT NOT NULL,
                        occurred_at INTEGER NOT NULL,
                        detail TEXT NOT NULL,
                        recorded_at INTEGER NOT NULL,
                        UNIQUE (corp_id, kind, external_userid, userid, chat_id, occurred_at, detail)
                    );
                    """)
        }
        return migrator
    }
}
