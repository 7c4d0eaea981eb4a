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
        return migrator
    }
}
