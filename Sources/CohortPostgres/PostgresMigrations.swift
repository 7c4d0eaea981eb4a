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
        // The platform mirror, as in SQLite's "2026-11-23-directory" plus the phone index of
        // "2026-11-24-grading". Integers are BIGINT throughout: one decoding rule for every column.
        Migration(
            id: "2026-12-04-pg-directory",
            statements: [
                """
                CREATE TABLE staff (
                    corp_id TEXT NOT NULL,
                    userid TEXT NOT NULL,
                    name TEXT,
                    first_seen_at BIGINT NOT NULL,
                    ended_at BIGINT,
                    PRIMARY KEY (corp_id, userid)
                )
                """,
                """
                CREATE TABLE contacts (
                    corp_id TEXT NOT NULL,
                    external_userid TEXT NOT NULL,
                    name TEXT,
                    type BIGINT,
                    gender BIGINT,
                    unionid TEXT,
                    corp_name TEXT,
                    corp_full_name TEXT,
                    position TEXT,
                    avatar TEXT,
                    first_seen_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    ended_at BIGINT,
                    PRIMARY KEY (corp_id, external_userid)
                )
                """,
                "CREATE INDEX contacts_by_unionid ON contacts (corp_id, unionid) WHERE unionid IS NOT NULL",
                """
                CREATE TABLE relations (
                    corp_id TEXT NOT NULL,
                    external_userid TEXT NOT NULL,
                    userid TEXT NOT NULL,
                    remark TEXT,
                    description TEXT,
                    createtime BIGINT,
                    add_way BIGINT,
                    state TEXT,
                    oper_userid TEXT,
                    remark_corp_name TEXT,
                    remark_mobiles TEXT NOT NULL DEFAULT '',
                    first_seen_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    ended_at BIGINT,
                    end_reason TEXT,
                    PRIMARY KEY (corp_id, external_userid, userid)
                )
                """,
                "CREATE INDEX relations_by_staff ON relations (corp_id, userid)",
                """
                CREATE TABLE relation_tags (
                    corp_id TEXT NOT NULL,
                    external_userid TEXT NOT NULL,
                    userid TEXT NOT NULL,
                    tag_id TEXT NOT NULL,
                    PRIMARY KEY (corp_id, external_userid, userid, tag_id)
                )
                """,
                "CREATE INDEX relation_tags_by_tag ON relation_tags (corp_id, tag_id)",
                """
                CREATE TABLE tag_groups (
                    corp_id TEXT NOT NULL,
                    group_id TEXT NOT NULL,
                    name TEXT NOT NULL,
                    sort_order BIGINT NOT NULL,
                    create_time BIGINT,
                    updated_at BIGINT NOT NULL,
                    deleted_at BIGINT,
                    PRIMARY KEY (corp_id, group_id)
                )
                """,
                """
                CREATE TABLE tags (
                    corp_id TEXT NOT NULL,
                    tag_id TEXT NOT NULL,
                    group_id TEXT NOT NULL,
                    name TEXT NOT NULL,
                    sort_order BIGINT NOT NULL,
                    create_time BIGINT,
                    updated_at BIGINT NOT NULL,
                    deleted_at BIGINT,
                    PRIMARY KEY (corp_id, tag_id)
                )
                """,
                """
                CREATE TABLE contact_events (
                    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    corp_id TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    external_userid TEXT NOT NULL,
                    userid TEXT NOT NULL,
                    chat_id TEXT NOT NULL,
                    occurred_at BIGINT NOT NULL,
                    detail TEXT NOT NULL,
                    recorded_at BIGINT NOT NULL,
                    UNIQUE (corp_id, kind, external_userid, userid, chat_id, occurred_at, detail)
                )
                """,
                """
                CREATE TABLE contact_phones (
                    corp_id TEXT NOT NULL,
                    phone TEXT NOT NULL,
                    external_userid TEXT NOT NULL,
                    userid TEXT NOT NULL,
                    PRIMARY KEY (corp_id, phone, external_userid, userid)
                )
                """,
                "CREATE INDEX contact_phones_by_relation ON contact_phones (corp_id, external_userid, userid)",
            ]),
        // Interactions, as in SQLite's "2026-11-24-grading": matched to contacts through a small
        // integer `contact_seq` once the contact is known.
        Migration(
            id: "2026-12-04-pg-interactions",
            statements: [
                """
                CREATE TABLE contact_seq (
                    seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                    corp_id TEXT NOT NULL,
                    external_userid TEXT NOT NULL,
                    UNIQUE (corp_id, external_userid)
                )
                """,
                """
                CREATE TABLE interactions (
                    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    corp_id TEXT NOT NULL,
                    source TEXT NOT NULL,
                    source_id TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    ref_type TEXT NOT NULL,
                    ref_value TEXT NOT NULL,
                    contact_seq BIGINT,
                    staff TEXT,
                    occurred_at BIGINT NOT NULL,
                    amount BIGINT,
                    attributes TEXT,
                    imported_at BIGINT NOT NULL,
                    UNIQUE (corp_id, source, source_id)
                )
                """,
                "CREATE INDEX interactions_by_contact ON interactions (contact_seq, kind, occurred_at, amount) WHERE contact_seq IS NOT NULL",
                "CREATE INDEX interactions_unmatched ON interactions (corp_id, ref_type, ref_value) WHERE contact_seq IS NULL",
                """
                CREATE INDEX interactions_with_attributes ON interactions (contact_seq, occurred_at)
                    WHERE contact_seq IS NOT NULL AND attributes IS NOT NULL
                """,
            ]),
        Migration(
            id: "2026-12-04-pg-audit",
            statements: [
                """
                CREATE TABLE audit_log (
                    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    corp_id TEXT NOT NULL,
                    at BIGINT NOT NULL,
                    actor TEXT NOT NULL,
                    action TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    detail TEXT NOT NULL DEFAULT ''
                )
                """,
                "CREATE INDEX audit_log_by_time ON audit_log (corp_id, at)",
            ]),
            // Keys sort by bytes, as in SQLite: the stores must list and merge in the same order
        // whatever the database's locale.
        Migration(
            id: "2026-12-05-pg-byte-order-keys",
            statements: [
                #"ALTER TABLE staff ALTER COLUMN userid TYPE TEXT COLLATE "C""#,
                #"ALTER TABLE contacts ALTER COLUMN external_userid TYPE TEXT COLLATE "C""#,
                #"ALTER TABLE relations ALTER COLUMN external_userid TYPE TEXT COLLATE "C", ALTER COLUMN userid TYPE TEXT COLLATE "C""#,
                #"""
                ALTER TABLE relation_tags ALTER COLUMN external_userid TYPE TEXT COLLATE "C", ALTER COLUMN userid TYPE TEXT COLLATE "C",
                    ALTER COLUMN tag_id TYPE TEXT COLLATE "C"
                """#,
                #"ALTER TABLE tag_groups ALTER COLUMN group_id TYPE TEXT COLLATE "C""#,
                #"ALTER TABLE tags ALTER COLUMN tag_id TYPE TEXT COLLATE "C""#,
                #"ALTER TABLE contact_phones ALTER COLUMN external_userid TYPE TEXT COLLATE "C", ALTER COLUMN userid TYPE TEXT COLLATE "C""#,
                #"ALTER TABLE contact_seq ALTER COLUMN external_userid TYPE TEXT COLLATE "C""#,
            ]),
        // The campaign ledger, as SQLite's "2026-11-25-campaigns", plus who claimed a call
        // (`claimed_by`): with several instances, a call in flight is only uncertain once the
        // instance that made it is gone.
        Migration(
            id: "2026-12-05-pg-campaigns",
            statements: [
                #"""
                CREATE TABLE campaigns (
                    corp_id TEXT NOT NULL,
                    name TEXT COLLATE "C" NOT NULL,
                    state TEXT NOT NULL,
                    priority BIGINT NOT NULL,
                    dispatch_at BIGINT NOT NULL,
                    config_version TEXT NOT NULL,
                    started_at BIGINT NOT NULL,
                    paused_reason TEXT,
                    finished_at BIGINT,
                    duplicate_owners BIGINT NOT NULL DEFAULT 0,
                    updated_at BIGINT NOT NULL,
                    PRIMARY KEY (corp_id, name)
                )
                """#,
                #"""
                CREATE TABLE campaign_tasks (
                    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    corp_id TEXT NOT NULL,
                    campaign TEXT COLLATE "C" NOT NULL,
                    sender TEXT NOT NULL,
                    text TEXT NOT NULL,
                    state TEXT NOT NULL,
                    attempts BIGINT NOT NULL DEFAULT 0,
                    next_attempt_at BIGINT,
                    call_started_at BIGINT,
                    claimed_by TEXT,
                    msgid TEXT,
                    created_at BIGINT,
                    member_status BIGINT,
                    reminders TEXT NOT NULL DEFAULT '',
                    final BIGINT NOT NULL DEFAULT 0,
                    error TEXT
                )
                """#,
                "CREATE INDEX campaign_tasks_by_campaign ON campaign_tasks (corp_id, campaign, state)",
                "CREATE INDEX campaign_tasks_open ON campaign_tasks (corp_id, created_at) WHERE state = 'created' AND final = 0",
                "CREATE UNIQUE INDEX campaign_tasks_msgid ON campaign_tasks (corp_id, msgid) WHERE msgid IS NOT NULL",
                #"""
                CREATE TABLE campaign_recipients (
                    corp_id TEXT NOT NULL,
                    campaign TEXT COLLATE "C" NOT NULL,
                    external_userid TEXT COLLATE "C" NOT NULL,
                    state TEXT NOT NULL,
                    sender TEXT,
                    task_id BIGINT,
                    variant BIGINT,
                    reason TEXT,
                    detail TEXT,
                    platform_status BIGINT,
                    send_time BIGINT,
                    updated_at BIGINT NOT NULL,
                    PRIMARY KEY (corp_id, campaign, external_userid)
                )
                """#,
                "CREATE INDEX campaign_recipients_by_task ON campaign_recipients (task_id) WHERE task_id IS NOT NULL",
                "CREATE INDEX campaign_recipients_by_contact ON campaign_recipients (corp_id, external_userid)",
                #"""
                CREATE TABLE opt_outs (
                    corp_id TEXT NOT NULL,
                    external_userid TEXT COLLATE "C" NOT NULL,
                    reason TEXT NOT NULL,
                    source TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    PRIMARY KEY (corp_id, external_userid)
                )
                """#,
                """
                CREATE TABLE config_versions (
                    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    corp_id TEXT NOT NULL,
                    version TEXT NOT NULL,
                    applied_at BIGINT NOT NULL,
                    files TEXT NOT NULL
                )
                """,
            ]),
        // People who asked to be forgotten, and triggers that keep their data out whatever
        // writes it later (a sync, a callback, an import), as SQLite's "2026-12-03-audit-and-forget".
        // BEFORE triggers change the row as it is written, so an upsert that brings nothing new
        // counts as unchanged.
        Migration(
            id: "2026-12-05-pg-forget",
            statements: [
                #"""
                CREATE TABLE forgotten_contacts (
                    corp_id TEXT NOT NULL,
                    external_userid TEXT COLLATE "C" NOT NULL,
                    forgotten_at BIGINT NOT NULL,
                    PRIMARY KEY (corp_id, external_userid)
                )
                """#,
                """
                CREATE FUNCTION forget_contact() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF EXISTS (SELECT 1 FROM forgotten_contacts f WHERE f.corp_id = NEW.corp_id AND f.external_userid = NEW.external_userid) THEN
                        NEW.name := NULL; NEW.unionid := NULL; NEW.corp_name := NULL; NEW.corp_full_name := NULL;
                        NEW.position := NULL; NEW.avatar := NULL;
                    END IF;
                    RETURN NEW;
                END $$
                """,
                "CREATE TRIGGER forget_contact BEFORE INSERT OR UPDATE ON contacts FOR EACH ROW EXECUTE FUNCTION forget_contact()",
                """
                CREATE FUNCTION forget_relation() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF EXISTS (SELECT 1 FROM forgotten_contacts f WHERE f.corp_id = NEW.corp_id AND f.external_userid = NEW.external_userid) THEN
                        NEW.remark := NULL; NEW.description := NULL; NEW.remark_corp_name := NULL; NEW.remark_mobiles := '';
                    END IF;
                    RETURN NEW;
                END $$
                """,
                "CREATE TRIGGER forget_relation BEFORE INSERT OR UPDATE ON relations FOR EACH ROW EXECUTE FUNCTION forget_relation()",
                """
                CREATE FUNCTION forget_phone() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF EXISTS (SELECT 1 FROM forgotten_contacts f WHERE f.corp_id = NEW.corp_id AND f.external_userid = NEW.external_userid) THEN
                        RETURN NULL;
                    END IF;
                    RETURN NEW;
                END $$
                """,
                "CREATE TRIGGER forget_phone BEFORE INSERT ON contact_phones FOR EACH ROW EXECUTE FUNCTION forget_phone()",
                """
                CREATE FUNCTION forget_interaction() RETURNS trigger LANGUAGE plpgsql AS $$
                DECLARE
                    target BIGINT := NEW.contact_seq;
                    owner TEXT;
                BEGIN
                    -- A re-import names the row by the erased phone, which no longer resolves: it stays the person's.
                    IF target IS NULL AND TG_OP = 'UPDATE' THEN target := OLD.contact_seq; END IF;
                    IF target IS NULL THEN RETURN NEW; END IF;
                    SELECT s.external_userid INTO owner FROM contact_seq s
                        JOIN forgotten_contacts f ON f.corp_id = s.corp_id AND f.external_userid = s.external_userid
                        WHERE s.seq = target;
                    IF owner IS NOT NULL THEN
                        NEW.contact_seq := target; NEW.attributes := NULL; NEW.ref_type := 'external_userid'; NEW.ref_value := owner;
                    END IF;
                    RETURN NEW;
                END $$
                """,
                "CREATE TRIGGER forget_interaction BEFORE INSERT OR UPDATE ON interactions FOR EACH ROW EXECUTE FUNCTION forget_interaction()",
            ]),
        // Grades, lifecycle history, rule assignments, runs and the platform write queue, as
        // SQLite's "2026-11-24-grading".
        Migration(
            id: "2026-12-05-pg-grading",
            statements: [
                #"""
                CREATE TABLE grades (
                    corp_id TEXT NOT NULL,
                    external_userid TEXT COLLATE "C" NOT NULL,
                    recency BIGINT,
                    frequency BIGINT NOT NULL,
                    monetary BIGINT NOT NULL,
                    r BIGINT,
                    f BIGINT,
                    m BIGINT,
                    segment TEXT,
                    abc TEXT,
                    clv BIGINT,
                    lifecycle TEXT NOT NULL,
                    lifecycle_since BIGINT NOT NULL,
                    graded_at BIGINT NOT NULL,
                    config_version TEXT NOT NULL,
                    PRIMARY KEY (corp_id, external_userid)
                )
                """#,
                """
                CREATE TABLE lifecycle_history (
                    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    corp_id TEXT NOT NULL,
                    external_userid TEXT NOT NULL,
                    from_stage TEXT,
                    to_stage TEXT NOT NULL,
                    occurred_at BIGINT NOT NULL,
                    reason TEXT NOT NULL,
                    config_version TEXT NOT NULL
                )
                """,
                "CREATE INDEX lifecycle_history_by_contact ON lifecycle_history (corp_id, external_userid, id)",
                #"""
                CREATE TABLE tag_assignments (
                    corp_id TEXT NOT NULL,
                    external_userid TEXT COLLATE "C" NOT NULL,
                    userid TEXT COLLATE "C" NOT NULL,
                    tag TEXT COLLATE "C" NOT NULL,
                    rule_id TEXT NOT NULL,
                    status TEXT NOT NULL,
                    config_version TEXT NOT NULL,
                    facts TEXT NOT NULL,
                    assigned_at BIGINT NOT NULL,
                    expires_at BIGINT,
                    PRIMARY KEY (corp_id, external_userid, userid, tag)
                )
                """#,
                """
                CREATE TABLE grading_runs (
                    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    corp_id TEXT NOT NULL,
                    started_at BIGINT NOT NULL,
                    finished_at BIGINT NOT NULL,
                    config_version TEXT NOT NULL,
                    as_of BIGINT NOT NULL,
                    baseline TEXT NOT NULL,
                    summary TEXT NOT NULL
                )
                """,
                """
                CREATE TABLE platform_ops (
                    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    corp_id TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    target TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    status TEXT NOT NULL,
                    attempts BIGINT NOT NULL DEFAULT 0,
                    next_attempt_at BIGINT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    last_error TEXT
                )
                """,
                "CREATE UNIQUE INDEX platform_ops_pending ON platform_ops (corp_id, kind, target) WHERE status = 'pending'",
                "CREATE INDEX platform_ops_due ON platform_ops (status, next_attempt_at, id) WHERE status = 'pending'",
            ]),
        // A claimed write's lease apart from its schedule: a replacement queued while the write
        // is in flight is due at once, yet no other instance takes it until the call in flight
        // has been recorded (or its lease ran out).
        Migration(
            id: "2026-12-06-pg-op-leases",
            statements: ["ALTER TABLE platform_ops ADD COLUMN leased_until BIGINT"]),
    ]
}
