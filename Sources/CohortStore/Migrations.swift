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
        // Interactions name their contact as the source knows it; `contact_seq` is filled in
        // once the contact is known (a small integer keeps the grading index compact at 10M rows).
        // Grades and rule tag assignments are Cohort's own; the directory tables stay a mirror.
        migrator.registerMigration("2026-11-24-grading") { db in
            try db.execute(
                sql: """
                    CREATE TABLE contact_seq (
                        seq INTEGER PRIMARY KEY,
                        corp_id TEXT NOT NULL,
                        external_userid TEXT NOT NULL,
                        UNIQUE (corp_id, external_userid)
                    );
                    CREATE TABLE contact_phones (
                        corp_id TEXT NOT NULL,
                        phone TEXT NOT NULL,
                        external_userid TEXT NOT NULL,
                        userid TEXT NOT NULL,
                        PRIMARY KEY (corp_id, phone, external_userid, userid)
                    ) WITHOUT ROWID;
                    CREATE INDEX contact_phones_by_relation ON contact_phones (corp_id, external_userid, userid);
                    INSERT INTO contact_phones (corp_id, phone, external_userid, userid)
                        WITH RECURSIVE split(corp_id, external_userid, userid, phone, rest) AS (
                            SELECT corp_id, external_userid, userid, '', remark_mobiles || ',' FROM relations
                                WHERE remark_mobiles <> '' AND ended_at IS NULL
                            UNION ALL
                            SELECT corp_id, external_userid, userid, substr(rest, 1, instr(rest, ',') - 1),
                                substr(rest, instr(rest, ',') + 1) FROM split WHERE rest <> ''
                        )
                        SELECT DISTINCT corp_id, phone, external_userid, userid FROM split WHERE phone <> '';
                    CREATE INDEX contacts_by_unionid ON contacts (corp_id, unionid) WHERE unionid IS NOT NULL;
                    CREATE TABLE interactions (
                        id INTEGER PRIMARY KEY,
                        corp_id TEXT NOT NULL,
                        source TEXT NOT NULL,
                        source_id TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        ref_type TEXT NOT NULL,
                        ref_value TEXT NOT NULL,
                        contact_seq INTEGER,
                        staff TEXT,
                        occurred_at INTEGER NOT NULL,
                        amount INTEGER,
                        attributes TEXT,
                        imported_at INTEGER NOT NULL,
                        UNIQUE (corp_id, source, source_id)
                    );
                    CREATE INDEX interactions_by_contact ON interactions (contact_seq, kind, occurred_at, amount)
                        WHERE contact_seq IS NOT NULL;
                    CREATE INDEX interactions_unmatched ON interactions (corp_id, ref_type, ref_value)
                        WHERE contact_seq IS NULL;
                    CREATE INDEX interactions_with_attributes ON interactions (contact_seq, occurred_at)
                        WHERE contact_seq IS NOT NULL AND attributes IS NOT NULL;
                    CREATE TABLE grades (
                        corp_id TEXT NOT NULL,
                        external_userid TEXT NOT NULL,
                        recency INTEGER,
                        frequency INTEGER NOT NULL,
                        monetary INTEGER NOT NULL,
                        r INTEGER,
                        f INTEGER,
                        m INTEGER,
                        segment TEXT,
                        abc TEXT,
                        clv INTEGER,
                        lifecycle TEXT NOT NULL,
                        lifecycle_since INTEGER NOT NULL,
                        graded_at INTEGER NOT NULL,
                        config_version TEXT NOT NULL,
                        PRIMARY KEY (corp_id, external_userid)
                    ) WITHOUT ROWID;
                    CREATE TABLE lifecycle_history (
                        id INTEGER PRIMARY KEY,
                        corp_id TEXT NOT NULL,
                        external_userid TEXT NOT NULL,
                        from_stage TEXT,
                        to_stage TEXT NOT NULL,
                        occurred_at INTEGER NOT NULL,
                        reason TEXT NOT NULL,
                        config_version TEXT NOT NULL
                    );
                    CREATE INDEX lifecycle_history_by_contact ON lifecycle_history (corp_id, external_userid, id);
                    CREATE TABLE tag_assignments (
                        corp_id TEXT NOT NULL,
                        external_userid TEXT NOT NULL,
                        userid TEXT NOT NULL,
                        tag TEXT NOT NULL,
                        rule_id TEXT NOT NULL,
                        status TEXT NOT NULL,
                        config_version TEXT NOT NULL,
                        facts TEXT NOT NULL,
                        assigned_at INTEGER NOT NULL,
                        expires_at INTEGER,
                        PRIMARY KEY (corp_id, external_userid, userid, tag)
                    ) WITHOUT ROWID;
                    CREATE TABLE grading_runs (
                        id INTEGER PRIMARY KEY,
                        corp_id TEXT NOT NULL,
                        started_at INTEGER NOT NULL,
                        finished_at INTEGER NOT NULL,
                        config_version TEXT NOT NULL,
                        as_of INTEGER NOT NULL,
                        baseline TEXT NOT NULL,
                        summary TEXT NOT NULL
                    );
                    CREATE TABLE platform_ops (
                        id INTEGER PRIMARY KEY,
                        corp_id TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        target TEXT NOT NULL,
                        payload TEXT NOT NULL,
                        status TEXT NOT NULL,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        next_attempt_at INTEGER NOT NULL,
                        created_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL,
                        last_error TEXT
                    );
                    CREATE UNIQUE INDEX platform_ops_pending ON platform_ops (corp_id, kind, target) WHERE status = 'pending';
                    CREATE INDEX platform_ops_due ON platform_ops (status, next_attempt_at, id) WHERE status = 'pending';
                    """)
        }
        // The campaign ledger: a recipient row exists before any platform call, one per
        // (campaign, contact); a task's recipients are the rows that point at it.
        migrator.registerMigration("2026-11-25-campaigns") { db in
            try db.execute(
                sql: """
                    CREATE TABLE campaigns (
                        corp_id TEXT NOT NULL,
                        name TEXT NOT NULL,
                        state TEXT NOT NULL,
                        priority INTEGER NOT NULL,
                        dispatch_at INTEGER NOT NULL,
                        config_version TEXT NOT NULL,
                        started_at INTEGER NOT NULL,
                        paused_reason TEXT,
                        finished_at INTEGER,
                        duplicate_owners INTEGER NOT NULL DEFAULT 0,
                        updated_at INTEGER NOT NULL,
                        PRIMARY KEY (corp_id, name)
                    ) WITHOUT ROWID;
                    CREATE TABLE campaign_tasks (
                        id INTEGER PRIMARY KEY,
                        corp_id TEXT NOT NULL,
                        campaign TEXT NOT NULL,
                        sender TEXT NOT NULL,
                        text TEXT NOT NULL,
                        state TEXT NOT NULL,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        next_attempt_at INTEGER,
                        call_started_at INTEGER,
                        msgid TEXT,
                        created_at INTEGER,
                        member_status INTEGER,
                        reminders TEXT NOT NULL DEFAULT '',
                        final INTEGER NOT NULL DEFAULT 0,
                        error TEXT
                    );
                    CREATE INDEX campaign_tasks_by_campaign ON campaign_tasks (corp_id, campaign, state);
                    CREATE INDEX campaign_tasks_open ON campaign_tasks (corp_id, created_at) WHERE state = 'created' AND final = 0;
                    CREATE UNIQUE INDEX campaign_tasks_msgid ON campaign_tasks (corp_id, msgid) WHERE msgid IS NOT NULL;
                    CREATE TABLE campaign_recipients (
                        corp_id TEXT NOT NULL,
                        campaign TEXT NOT NULL,
                        external_userid TEXT NOT NULL,
                        state TEXT NOT NULL,
                        sender TEXT,
                        task_id INTEGER,
                        variant INTEGER,
                        reason TEXT,
                        detail TEXT,
                        platform_status INTEGER,
                        send_time INTEGER,
                        updated_at INTEGER NOT NULL,
                        PRIMARY KEY (corp_id, campaign, external_userid)
                    ) WITHOUT ROWID;
                    CREATE INDEX campaign_recipients_by_task ON campaign_recipients (task_id) WHERE task_id IS NOT NULL;
                    CREATE INDEX campaign_recipients_by_contact ON campaign_recipients (corp_id, external_userid);
                    CREATE TABLE opt_outs (
                        corp_id TEXT NOT NULL,
                        external_userid TEXT NOT NULL,
                        reason TEXT NOT NULL,
                        source TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        PRIMARY KEY (corp_id, external_userid)
                    ) WITHOUT ROWID;
                    CREATE TABLE welcome_attempts (
                        id INTEGER PRIMARY KEY,
                        corp_id TEXT NOT NULL,
                        external_userid TEXT NOT NULL,
                        userid TEXT NOT NULL,
                        template TEXT,
                        outcome TEXT NOT NULL,
                        errcode INTEGER,
                        detail TEXT,
                        event_time INTEGER NOT NULL,
                        attempted_at INTEGER NOT NULL
                    );
                    CREATE INDEX welcome_attempts_by_contact ON welcome_attempts (corp_id, external_userid);
                    CREATE TABLE config_versions (
                        id INTEGER PRIMARY KEY,
                        corp_id TEXT NOT NULL,
                        version TEXT NOT NULL,
                        applied_at INTEGER NOT NULL,
                        files TEXT NOT NULL
                    );
                    """)
        }
        // Operator actions, and people who asked to be forgotten. The triggers keep a forgotten
        // person's data out whatever writes it (a later sync, a callback, an import).
        migrator.registerMigration("2026-12-03-audit-and-forget") { db in
            try db.execute(
                sql: """
                    CREATE TABLE audit_log (
                        id INTEGER PRIMARY KEY,
                        corp_id TEXT NOT NULL,
                        at INTEGER NOT NULL,
                        actor TEXT NOT NULL,
                        action TEXT NOT NULL,
                        subject TEXT NOT NULL,
                        detail TEXT NOT NULL DEFAULT ''
                    );
                    CREATE INDEX audit_log_by_time ON audit_log (corp_id, at);
                    CREATE TABLE forgotten_contacts (
                        corp_id TEXT NOT NULL,
                        external_userid TEXT NOT NULL,
                        forgotten_at INTEGER NOT NULL,
                        PRIMARY KEY (corp_id, external_userid)
                    ) WITHOUT ROWID;
                    CREATE TRIGGER forget_contact_insert AFTER INSERT ON contacts
                    WHEN EXISTS (SELECT 1 FROM forgotten_contacts f WHERE f.corp_id = NEW.corp_id AND f.external_userid = NEW.external_userid)
                    BEGIN
                        UPDATE contacts SET name = NULL, unionid = NULL, corp_name = NULL, corp_full_name = NULL, position = NULL, avatar = NULL
                        WHERE corp_id = NEW.corp_id AND external_userid = NEW.external_userid;
                    END;
                    CREATE TRIGGER forget_contact_update AFTER UPDATE ON contacts
                    WHEN EXISTS (SELECT 1 FROM forgotten_contacts f WHERE f.corp_id = NEW.corp_id AND f.external_userid = NEW.external_userid)
                        AND (NEW.name IS NOT NULL OR NEW.unionid IS NOT NULL OR NEW.corp_name IS NOT NULL OR NEW.corp_full_name IS NOT NULL
                             OR NEW.position IS NOT NULL OR NEW.avatar IS NOT NULL)
                    BEGIN
                        UPDATE contacts SET name = NULL, unionid = NULL, corp_name = NULL, corp_full_name = NULL, position = NULL, avatar = NULL
                        WHERE corp_id = NEW.corp_id AND external_userid = NEW.external_userid;
                    END;
                    CREATE TRIGGER forget_relation_insert AFTER INSERT ON relations
                    WHEN EXISTS (SELECT 1 FROM forgotten_contacts f WHERE f.corp_id = NEW.corp_id AND f.external_userid = NEW.external_userid)
                    BEGIN
                        UPDATE relations SET remark = NULL, description = NULL, remark_corp_name = NULL, remark_mobiles = ''
                        WHERE corp_id = NEW.corp_id AND external_userid = NEW.external_userid AND userid = NEW.userid;
                    END;
                    CREATE TRIGGER forget_relation_update AFTER UPDATE ON relations
                    WHEN EXISTS (SELECT 1 FROM forgotten_contacts f WHERE f.corp_id = NEW.corp_id AND f.external_userid = NEW.external_userid)
                        AND (NEW.remark IS NOT NULL OR NEW.description IS NOT NULL OR NEW.remark_corp_name IS NOT NULL OR NEW.remark_mobiles <> '')
                    BEGIN
                        UPDATE relations SET remark = NULL, description = NULL, remark_corp_name = NULL, remark_mobiles = ''
                        WHERE corp_id = NEW.corp_id AND external_userid = NEW.external_userid AND userid = NEW.userid;
                    END;
                    CREATE TRIGGER forget_interaction_insert AFTER INSERT ON interactions
                    WHEN NEW.contact_seq IN (
                        SELECT s.seq FROM contact_seq s JOIN forgotten_contacts f ON f.corp_id = s.corp_id AND f.external_userid = s.external_userid)
                    BEGIN
                        UPDATE interactions SET attributes = NULL, ref_type = 'external_userid',
                            ref_value = (SELECT external_userid FROM contact_seq WHERE seq = NEW.contact_seq)
                        WHERE id = NEW.id;
                    END;
                    CREATE TRIGGER forget_interaction_update AFTER UPDATE ON interactions
                    WHEN coalesce(NEW.contact_seq, OLD.contact_seq) IN (
                        SELECT s.seq FROM contact_seq s JOIN forgotten_contacts f ON f.corp_id = s.corp_id AND f.external_userid = s.external_userid)
                        AND (NEW.attributes IS NOT NULL OR NEW.ref_type <> 'external_userid' OR NEW.contact_seq IS NULL)
                    BEGIN
                        -- A re-import names the row by the erased phone, which no longer resolves: it stays the person's.
                        UPDATE interactions SET contact_seq = coalesce(NEW.contact_seq, OLD.contact_seq), attributes = NULL,
                            ref_type = 'external_userid',
                            ref_value = (SELECT external_userid FROM contact_seq WHERE seq = coalesce(NEW.contact_seq, OLD.contact_seq))
                        WHERE id = NEW.id;
                    END;
                    CREATE TRIGGER forget_phone_insert AFTER INSERT ON contact_phones
                    WHEN EXISTS (SELECT 1 FROM forgotten_contacts f WHERE f.corp_id = NEW.corp_id AND f.external_userid = NEW.external_userid)
                    BEGIN
                        DELETE FROM contact_phones WHERE corp_id = NEW.corp_id AND phone = NEW.phone AND external_userid = NEW.external_userid;
                    END;
                    """)
        }
        migrator.registerMigration("2026-12-03-alerts") { db in
            try db.execute(
                sql: """
                    CREATE TABLE alerts (
                        id INTEGER PRIMARY KEY,
                        corp_id TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        subject TEXT NOT NULL,
                        message TEXT NOT NULL,
                        raised_at INTEGER NOT NULL,
                        delivered_at INTEGER,
                        delivery_error TEXT
                    );
                    CREATE INDEX alerts_by_subject ON alerts (corp_id, kind, subject, raised_at);
                    CREATE INDEX alerts_undelivered ON alerts (corp_id, id) WHERE delivered_at IS NULL;
                    """)
        }
        // The open events of one customer, for resolving those a re-read answered. Partial, so
        // the processed rows (nearly all) cost nothing.
        migrator.registerMigration("2026-12-04-inbox-open-by-customer") { db in
            try db.execute(
                sql: """
                    CREATE INDEX inbox_open_by_customer ON inbox (external_user_id, received_at)
                        WHERE status IN ('pending', 'failed');
                    """)
        }
        return migrator
    }
}
