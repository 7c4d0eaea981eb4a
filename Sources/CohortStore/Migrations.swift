import GRDB

/// Schema history. A migration that has landed is never edited: add a new one.
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
                        create_time INTEGER,
                        msg_type TEXT,
                        event TEXT,
                        change_type TEXT,
                        user_id TEXT,
                        external_user_id TEXT,
                        raw_xml TEXT NOT NULL,
                        fields_json TEXT NOT NULL,
                        status TEXT NOT NULL
                            CHECK (status IN ('pending', 'processed', 'failed', 'dead', 'unhandled')),
                        note TEXT,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        next_attempt_at INTEGER,
                        last_error TEXT,
                        processed_at INTEGER,
                        duplicates INTEGER NOT NULL DEFAULT 0,
                        UNIQUE (corp_id, dedup_key)
                    );
                    CREATE INDEX inbox_work ON inbox (id) WHERE status IN ('pending', 'failed');
                    CREATE INDEX inbox_status ON inbox (status, id);
                    CREATE INDEX inbox_received ON inbox (received_at);
                    """)
        }
        return migrator
    }
}
