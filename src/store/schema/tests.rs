//! The migrations, applied to in-memory and on-disk databases.

mod basics {
    use super::super::*;

    #[test]
    fn the_readme_shows_every_migration_exactly_as_it_is_applied() {
        let readme = include_str!("../../../README.md");
        for (n, migration) in MIGRATIONS.iter().enumerate() {
            let block = format!("```sql\n{}\n```", migration.trim_matches('\n'));
            assert!(
                readme.contains(&block),
                "README.md's audit database section lacks migration {} as the code has it",
                n + 1
            );
        }
    }

    fn migrated() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        migrate(&mut conn, MIGRATIONS).unwrap().unwrap();
        conn
    }

    fn with_one_event(conn: &Connection) {
        conn.execute_batch(
            "INSERT INTO runs VALUES ('r1', 'power-cycle', 'lab.csv', 'ab', '{}', 'op', '0.1.0',
                 '2026-11-21T05:47:08.123Z', NULL, 'running');
             INSERT INTO jobs (run_id, device_id, seq, host, method, state)
                 VALUES ('r1', 'plug-1', 0, '10.0.0.1', 'remote', 'pending');
             INSERT INTO events (run_id, device_id, at, state, kind, detail)
                 VALUES ('r1', 'plug-1', '2026-11-21T05:47:08.200Z', 'probing', 'state', '{}');",
        )
        .unwrap();
    }

    #[test]
    fn a_fresh_database_is_at_the_latest_version() {
        let conn = migrated();
        assert_eq!(user_version(&conn).unwrap(), 7);
        assert_eq!(known_version(), 7);
    }

    #[test]
    fn version_3_marks_the_file_with_the_fleetreset_application_id() {
        let conn = migrated();
        assert_eq!(application_id(&conn).unwrap(), APPLICATION_ID);
        assert_eq!(APPLICATION_ID.to_be_bytes(), *b"FLRS");
    }

    #[test]
    fn the_application_id_commits_with_its_migration_and_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "journal_mode", "WAL").unwrap();
            migrate(&mut conn, &[V1, V2]).unwrap().unwrap();
            assert_eq!(application_id(&conn).unwrap(), 0);
            migrate(&mut conn, MIGRATIONS).unwrap().unwrap();
        }
        let conn = Connection::open(&path).unwrap();
        assert_eq!(application_id(&conn).unwrap(), APPLICATION_ID);
        assert_eq!(user_version(&conn).unwrap(), 7);
        // In the file header itself (offset 68, big-endian), not only in a WAL frame.
        drop(conn);
        let header = std::fs::read(&path).unwrap();
        assert_eq!(&header[68..72], b"FLRS");
    }

    #[test]
    fn a_failed_version_3_leaves_no_application_id_behind() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, &[V1, V2]).unwrap().unwrap();
        let v3_then_broken = format!("{V3} INSERT INTO no_such_table VALUES (1);");
        assert!(migrate(&mut conn, &[V1, V2, &v3_then_broken]).is_err());
        assert_eq!(application_id(&conn).unwrap(), 0);
        assert_eq!(user_version(&conn).unwrap(), 2);
    }

    #[test]
    fn migrating_an_up_to_date_database_changes_nothing() {
        let mut conn = migrated();
        with_one_event(&conn);
        migrate(&mut conn, MIGRATIONS).unwrap().unwrap();
        assert_eq!(user_version(&conn).unwrap(), 7);
        let events: i64 = conn
            .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(events, 1);
    }

    #[test]
    fn a_database_newer_than_the_migrations_is_reported_not_touched() {
        let mut conn = migrated();
        conn.pragma_update(None, "user_version", 8).unwrap();
        let too_new = migrate(&mut conn, MIGRATIONS).unwrap().unwrap_err();
        assert_eq!(too_new.found, 8);
        assert_eq!(user_version(&conn).unwrap(), 8);
    }

    #[test]
    fn a_failing_migration_leaves_the_previous_version_whole() {
        let mut conn = migrated();
        let broken = "CREATE TABLE half_done (x); INSERT INTO no_such_table VALUES (1);";
        assert!(migrate(&mut conn, &[V1, V2, V3, V4, V5, V6, V7, broken]).is_err());
        assert_eq!(user_version(&conn).unwrap(), 7);
        let tables: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'half_done'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 0);
    }

    #[test]
    fn migrations_apply_in_order_one_version_each() {
        let mut conn = Connection::open_in_memory().unwrap();
        let second = "CREATE TABLE second (x);";
        migrate(&mut conn, &[V1, second]).unwrap().unwrap();
        assert_eq!(user_version(&conn).unwrap(), 2);
    }

    #[test]
    fn events_cannot_be_updated() {
        let conn = migrated();
        with_one_event(&conn);
        let err = conn
            .execute("UPDATE events SET kind = 'edited'", [])
            .unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
    }

    #[test]
    fn events_cannot_be_deleted() {
        let conn = migrated();
        with_one_event(&conn);
        let err = conn.execute("DELETE FROM events", []).unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
        let events: i64 = conn
            .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(events, 1);
    }

    #[test]
    fn a_recorded_outcome_cannot_be_changed_even_by_hand() {
        let conn = migrated();
        with_one_event(&conn);
        conn.execute(
            "UPDATE jobs SET outcome = 'failed', finished_at = '2026-11-21T05:48:00.000Z'",
            [],
        )
        .unwrap();
        let err = conn
            .execute("UPDATE jobs SET outcome = 'succeeded'", [])
            .unwrap_err();
        assert!(err.to_string().contains("final"), "{err}");
    }

    #[test]
    fn unknown_words_are_refused_by_the_schema() {
        let conn = migrated();
        with_one_event(&conn);
        assert!(
            conn.execute("UPDATE jobs SET state = 'rebooting'", [])
                .is_err()
        );
    }
}

mod v4 {
    use super::super::*;

    fn job(conn: &Connection, outcome: &str) {
        conn.execute_batch(&format!(
            "INSERT INTO runs (id, action, inventory_path, inventory_sha256, parameters, operator,
                               tool_version, started_at, status)
             VALUES ('r', 'power-cycle', 'i.csv', 'x', '{{}}', 'op', '0', 't', 'finished');
             INSERT INTO jobs (run_id, device_id, seq, host, method, state, outcome, finished_at)
             VALUES ('r', 'd', 0, 'h', 'manual', 'done', '{outcome}', 't');"
        ))
        .unwrap();
    }

    fn set(conn: &Connection, outcome: &str) -> rusqlite::Result<usize> {
        conn.execute(
            "UPDATE jobs SET outcome = ?1, detail = 'by Ana', finished_at = 't2'",
            [outcome],
        )
    }

    fn migrated() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, MIGRATIONS).unwrap().unwrap();
        conn
    }

    #[test]
    fn a_manual_job_can_be_confirmed_once_and_the_confirmation_stands() {
        let conn = migrated();
        job(&conn, "manual_required");
        assert_eq!(set(&conn, "manual_confirmed").unwrap(), 1);
        for other in ["manual_required", "succeeded", "failed", "manual_confirmed"] {
            assert!(set(&conn, other).is_err(), "{other}");
        }
    }

    #[test]
    fn only_manual_required_becomes_manual_confirmed() {
        for outcome in ["succeeded", "failed", "skipped"] {
            let conn = migrated();
            job(&conn, outcome);
            assert!(set(&conn, "manual_confirmed").is_err(), "{outcome}");
        }
        let conn = migrated();
        job(&conn, "manual_required");
        assert!(set(&conn, "succeeded").is_err());
    }
}

mod v2 {
    use super::super::*;

    fn job_with_outcome(conn: &Connection, outcome: &str, reason: &str) {
        conn.execute_batch(&format!(
            "INSERT INTO runs (id, action, inventory_path, inventory_sha256, parameters, operator,
                               tool_version, started_at, status)
             VALUES ('r', 'power-cycle', 'i.csv', 'x', '{{}}', 'op', '0', 't', 'running');
             INSERT INTO jobs (run_id, device_id, seq, host, method, state, outcome, reason,
                               finished_at)
             VALUES ('r', 'd', 0, 'h', 'remote', 'done', '{outcome}', '{reason}', 't');"
        ))
        .unwrap();
    }

    fn clear(conn: &Connection) -> rusqlite::Result<usize> {
        conn.execute(
            "UPDATE jobs SET outcome = NULL, reason = NULL, detail = NULL, finished_at = NULL",
            [],
        )
    }

    #[test]
    fn a_skip_from_an_early_stop_can_be_cleared_for_resume() {
        for reason in ["interrupted", "window_closed", "threshold_reached"] {
            let mut conn = Connection::open_in_memory().unwrap();
            migrate(&mut conn, MIGRATIONS).unwrap().unwrap();
            job_with_outcome(&conn, "skipped", reason);
            assert_eq!(clear(&conn).unwrap(), 1, "{reason}");
        }
    }

    #[test]
    fn other_outcomes_stay_final_and_a_skip_cannot_be_rewritten_directly() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, MIGRATIONS).unwrap().unwrap();
        job_with_outcome(&conn, "failed", "unreachable");
        assert!(clear(&conn).is_err());

        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, MIGRATIONS).unwrap().unwrap();
        job_with_outcome(&conn, "skipped", "interrupted");
        let rewrite = conn.execute("UPDATE jobs SET outcome = 'succeeded', reason = NULL", []);
        assert!(
            rewrite.is_err(),
            "a skip must be cleared, not turned into another outcome"
        );
    }
}

mod v6 {
    use super::super::*;

    const ONE_RUN: &str = "
        INSERT INTO runs (id, action, inventory_path, inventory_sha256, parameters, operator,
                          tool_version, started_at, status)
        VALUES ('r', 'power-cycle', 'i.csv', 'x', '{}', 'op', '0', 't', 'finished');
        INSERT INTO jobs (run_id, device_id, seq, host, method, state)
        VALUES ('r', 'd', 0, 'h', 'remote', 'pending');
        INSERT INTO events (run_id, device_id, at, kind, detail) VALUES ('r', 'd', 't', 'state', '{}');
        INSERT INTO chain (run_id, n, kind, ref, digest, hash) VALUES ('r', 1, 'run', 'r', 'd', 'h');";

    const MERGED: &str = "
        INSERT INTO sources (site, sha256, path, merged_at, runs, heads)
        VALUES ('site-a', 'ab', 'sites/site-a/fleetreset.db', 't', 1, '[]');
        INSERT INTO merged_runs (run_id, site) VALUES ('r', 'site-a');
        INSERT INTO event_origins (id, site_event_id) VALUES (1, 41);";

    fn merged() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        migrate(&mut conn, MIGRATIONS).unwrap().unwrap();
        conn.execute_batch(ONE_RUN).unwrap();
        conn.execute_batch(MERGED).unwrap();
        conn
    }

    fn count(conn: &Connection, table: &str) -> i64 {
        conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_version_5_database_migrates_to_the_latest_with_its_runs_and_chain_untouched() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, &[V1, V2, V3, V4, V5]).unwrap().unwrap();
        conn.execute_batch(ONE_RUN).unwrap();
        migrate(&mut conn, MIGRATIONS).unwrap().unwrap();
        assert_eq!(user_version(&conn).unwrap(), 7);
        for table in ["runs", "jobs", "events", "chain"] {
            assert_eq!(count(&conn, table), 1, "{table}");
        }
        for table in ["sources", "merged_runs", "event_origins"] {
            assert_eq!(count(&conn, table), 0, "{table}");
        }
    }

    #[test]
    fn what_a_merge_records_is_never_updated_or_deleted() {
        let conn = merged();
        for (table, column) in [
            ("sources", "site"),
            ("merged_runs", "site"),
            ("event_origins", "site_event_id"),
        ] {
            let update = conn
                .execute(&format!("UPDATE {table} SET {column} = 7"), [])
                .unwrap_err();
            assert!(
                update.to_string().contains("append-only"),
                "{table}: {update}"
            );
            let delete = conn
                .execute(&format!("DELETE FROM {table}"), [])
                .unwrap_err();
            assert!(
                delete.to_string().contains("append-only"),
                "{table}: {delete}"
            );
            assert_eq!(count(&conn, table), 1, "{table}");
        }
    }

    #[test]
    fn a_site_file_is_recorded_once_and_an_origin_names_an_event_of_this_database() {
        let conn = merged();
        let again = conn.execute(
            "INSERT INTO sources (site, sha256, path, merged_at, runs, heads)
             VALUES ('site-b', 'ab', 'b.db', 't', 0, '[]')",
            [],
        );
        assert!(again.is_err(), "the same file's hash twice");
        let nowhere = conn.execute(
            "INSERT INTO event_origins (id, site_event_id) VALUES (99, 1)",
            [],
        );
        assert!(nowhere.is_err(), "an origin of no event");
        let unnamed = conn.execute(
            "INSERT INTO sources (site, sha256, path, merged_at, runs, heads)
             VALUES ('', 'cd', 'c.db', 't', 0, '[]')",
            [],
        );
        assert!(unnamed.is_err(), "a source with no site");
    }
}
