/// Migrations of the PostgreSQL store, applied in order by ``PostgresStore/migrate()``. Like the
/// SQLite ones, an id is never edited once landed: a change is a new migration. Times are
/// milliseconds since 1970 in BIGINT, as in SQLite, so both stores read and write the same values.
enum PostgresMigrations {
    struct Migration {
        var id: String
        var statements: [String]
    }

    static let all: [Migration] = [
        Migration(
            id: "2026-12-03-pg-inbox",
            statements: [
                """
                CREATE TABLE inbox (
                    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    corp_id TEXT NOT NULL,
                    dedup_key TEXT NOT NULL,
                    received_at BIGINT NOT NULL,
                    create_time BIGINT NOT NULL,
                    msg_type TEXT,
                    event TEXT,
                    change_type TEXT,
                    user_id TEXT,
                    external_user_id TEXT,
                    raw_xml TEXT NOT NULL,
                    status TEXT NOT NULL CHECK (status IN ('pending', 'processed', 'failed', 'dead', 'unhandled')),
                    note TEXT,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    next_attempt_at BIGINT,
                    last_error TEXT,
                    processed_at BIGINT,
                    duplicates INTEGER NOT NULL DEFAULT 0,
                    UNIQUE (corp_id, create_time, dedup_key)
                )
                """,
                "CREATE INDEX inbox_open ON inbox (id) WHERE status IN ('pending', 'failed')",
                "CREATE INDEX inbox_received ON inbox (received_at)",
            ]),
        Migration(
            id: "2026-12-03-pg-shared-platform-budget",
            statements: [
                // One access token per (corp, secret digest), refreshed by one instance at a time.
                """
                CREATE TABLE platform_tokens (
                    key TEXT PRIMARY KEY,
                    token TEXT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    fetched_at BIGINT NOT NULL
                )
                """,
                // Calls per API and second, counted by every instance: the platform's quota is per corp.
                """
                CREATE TABLE call_budget (
                    api TEXT NOT NULL,
                    second BIGINT NOT NULL,
                    calls INTEGER NOT NULL,
                    PRIMARY KEY (api, second)
                )
                """,
            ]),
        Migration(
            id: "2026-12-03-pg-alerts-and-welcome",
            statements: [
                """
                CREATE TABLE alerts (
                    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    corp_id TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    message TEXT NOT NULL,
                    raised_at BIGINT NOT NULL,
                    delivered_at BIGINT,
                    delivery_error TEXT
                )
                """,
                "CREATE INDEX alerts_by_subject ON alerts (corp_id, kind, subject, raised_at)",
                "CREATE INDEX alerts_undelivered ON alerts (corp_id, id) WHERE delivered_at IS NULL",
                """
                CREATE TABLE welcome_attempts (
                    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    corp_id TEXT NOT NULL,
                    external_userid TEXT NOT NULL,
                    userid TEXT NOT NULL,
                    template TEXT,
                    outcome TEXT NOT NULL,
                    errcode INTEGER,
                    detail TEXT,
                    event_time BIGINT NOT NULL,
                    attempted_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX welcome_attempts_by_contact ON welcome_attempts (corp_id, external_userid)",
            ]),
        Migration(
            id: "2026-12-04-pg-inbox-open-by-customer",
            statements: [
                "CREATE INDEX inbox_open_by_customer ON inbox (external_user_id, received_at) WHERE status IN ('pending', 'failed')"
            ]),
    ]
}
