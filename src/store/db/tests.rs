use std::fs;
use std::os::unix::fs::PermissionsExt;

use super::*;

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn pragma_text(db: &Db, name: &str) -> String {
    db.conn
        .pragma_query_value(None, name, |r| r.get::<_, rusqlite::types::Value>(0))
        .map(|v| format!("{v:?}"))
        .unwrap()
}

#[test]
fn a_new_database_file_is_readable_by_its_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    Db::open(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
}

#[test]
fn an_existing_file_keeps_its_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    fs::write(&path, b"").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
    Db::open(&path).unwrap();
    assert_eq!(mode(&path), 0o640);
}

#[test]
fn a_fresh_database_has_the_latest_user_version_and_the_connection_pragmas() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("audit.db")).unwrap();
    assert_eq!(
        schema::user_version(&db.conn).unwrap(),
        schema::known_version()
    );
    assert_eq!(pragma_text(&db, "journal_mode"), "Text(\"wal\")");
    // NORMAL is 1, FULL is 2.
    assert_eq!(pragma_text(&db, "synchronous"), "Integer(1)");
    assert_eq!(pragma_text(&db, "foreign_keys"), "Integer(1)");
    assert_eq!(pragma_text(&db, "busy_timeout"), "Integer(5000)");
}

#[test]
fn opening_twice_is_idempotent_and_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    {
        let db = Db::open(&path).unwrap();
        db.conn
            .execute_batch(
                "INSERT INTO runs VALUES ('r1', 'power-cycle', 'lab.csv', 'ab', '{}', 'op',
                     '0.1.0', '2026-11-21T05:47:08.123Z', NULL, 'running');",
            )
            .unwrap();
    }
    let db = Db::open(&path).unwrap();
    assert_eq!(
        schema::user_version(&db.conn).unwrap(),
        schema::known_version()
    );
    let runs: i64 = db
        .conn
        .query_row("SELECT COUNT(*) FROM runs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(runs, 1);
}

#[test]
fn a_database_from_a_newer_build_is_refused_as_too_new() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    drop(Db::open(&path).unwrap());
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", schema::known_version() + 1)
        .unwrap();
    match Db::open(&path) {
        Err(StoreError::TooNew {
            path: shown,
            found,
            known,
        }) => {
            assert_eq!(
                (found, known),
                (schema::known_version() + 1, schema::known_version())
            );
            assert_eq!(shown, path.display().to_string());
        }
        other => panic!("expected TooNew, got {other:?}"),
    }
}

#[test]
fn a_directory_given_as_the_database_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let err = Db::open(dir.path()).expect_err("a directory is not a database");
    assert!(
        err.to_string().contains(&dir.path().display().to_string()),
        "{err}"
    );
}

#[test]
fn finishing_an_unknown_run_is_refused_and_sync_goes_back_to_normal() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Db::open(&dir.path().join("audit.db")).unwrap();
    let err = db.finish_run("nope", RunStatus::Finished, chrono::Utc::now());
    assert!(matches!(err, Err(StoreError::NoSuchRun(id)) if id == "nope"));
    assert_eq!(pragma_text(&db, "synchronous"), "Integer(1)");
}

fn sha256(path: &Path) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(fs::read(path).unwrap()).to_vec()
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Opens `path` expecting [`StoreError::NotOurs`], and checks that neither the file nor its
/// directory changed. Returns the detail.
fn refused_untouched(path: &Path) -> String {
    let before = (sha256(path), names_in(path.parent().unwrap()));
    let err = Db::open(path).expect_err("not a fleetreset database");
    let StoreError::NotOurs {
        path: shown,
        detail,
    } = &err
    else {
        panic!("expected NotOurs, got {err:?}");
    };
    assert_eq!(shown, &path.display().to_string());
    assert_eq!(
        (sha256(path), names_in(path.parent().unwrap())),
        before,
        "the refused file or its directory changed"
    );
    detail.clone()
}

#[test]
fn an_unrelated_sqlite_database_is_refused_and_left_byte_for_byte_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("contacts.db");
    Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE contacts (name TEXT); INSERT INTO contacts VALUES ('x');")
        .unwrap();
    let detail = refused_untouched(&path);
    assert_eq!(
        detail,
        "it has tables of its own and no fleetreset schema version"
    );
    let conn = Connection::open(&path).unwrap();
    let tables: i64 = conn
        .query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tables, 1, "no table of ours was added");
}

#[test]
fn a_database_with_another_application_id_is_refused_even_if_it_has_our_tables() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    {
        let mut conn = Connection::open(&path).unwrap();
        schema::migrate(&mut conn, &schema::MIGRATIONS[..2])
            .unwrap()
            .unwrap();
        conn.pragma_update(None, "application_id", 0x1234_5678)
            .unwrap();
    }
    assert_eq!(
        refused_untouched(&path),
        "its application id is 0x12345678, not fleetreset's 0x464c5253"
    );
}

#[test]
fn our_schema_version_without_our_tables_is_refused_naming_the_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("half.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE runs (id TEXT); PRAGMA user_version = 2;")
            .unwrap();
    }
    assert_eq!(
        refused_untouched(&path),
        "its schema version is 2 but it lacks fleetreset's tables jobs, events, snapshots"
    );
}

#[test]
fn a_schema_version_no_fleetreset_wrote_without_an_application_id_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odd.db");
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 40)
        .unwrap();
    assert_eq!(
        refused_untouched(&path),
        "its schema version is 40, and no fleetreset has written that without its application id"
    );
}

/// Closing the last connection checkpoints a WAL into the database file; the refusal must
/// not do that to somebody else's database.
#[test]
fn a_refused_wal_database_keeps_its_uncheckpointed_log_and_its_file_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live");
    let copy = dir.path().join("copy");
    fs::create_dir(&live).unwrap();
    fs::create_dir(&copy).unwrap();
    let conn = Connection::open(live.join("app.db")).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    conn.execute_batch("CREATE TABLE notes (x); INSERT INTO notes VALUES (1);")
        .unwrap();
    for name in ["app.db", "app.db-wal", "app.db-shm"] {
        fs::copy(live.join(name), copy.join(name)).unwrap();
    }
    drop(conn);
    let wal = fs::read(copy.join("app.db-wal")).unwrap();
    assert!(!wal.is_empty());
    refused_untouched(&copy.join("app.db"));
    assert_eq!(fs::read(copy.join("app.db-wal")).unwrap(), wal);
}

#[test]
fn a_database_from_before_the_application_id_is_migrated_and_marked_as_ours() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    {
        let mut conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        schema::migrate(&mut conn, &schema::MIGRATIONS[..2])
            .unwrap()
            .unwrap();
        conn.execute_batch(
            "INSERT INTO runs VALUES ('r1', 'power-cycle', 'lab.csv', 'ab', '{}', 'op',
                 '0.1.0', '2026-11-21T05:47:08.123Z', NULL, 'running');",
        )
        .unwrap();
    }
    let db = Db::open(&path).unwrap();
    assert_eq!(
        schema::user_version(&db.conn).unwrap(),
        schema::known_version()
    );
    assert_eq!(
        schema::application_id(&db.conn).unwrap(),
        schema::APPLICATION_ID
    );
    assert_eq!(db.list_runs().unwrap().len(), 1);
    drop(db);
    // Persisted, not only in this connection.
    let conn = Connection::open(&path).unwrap();
    assert_eq!(
        schema::application_id(&conn).unwrap(),
        schema::APPLICATION_ID
    );
}

#[test]
fn the_not_ours_message_says_whose_it_is_not_and_that_nothing_changed() {
    let err = StoreError::NotOurs {
        path: "contacts.db".into(),
        detail: "its application id is 0x12345678, not fleetreset's 0x464c5253".into(),
    };
    assert_eq!(
        err.to_string(),
        "contacts.db is not a fleetreset audit database (its application id is 0x12345678, \
         not fleetreset's 0x464c5253); nothing was changed in it: give --db a fleetreset \
         database or a new file"
    );
}

#[test]
fn the_preflight_of_a_fresh_database_passes_and_leaves_no_probe_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let db = Db::open(&path).unwrap();
    let before = names_in(dir.path());
    db.preflight(1 << 20).unwrap();
    assert_eq!(names_in(dir.path()), before);
}

#[test]
fn a_read_only_connection_fails_the_preflight() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    drop(Db::open(&path).unwrap());
    let db = Db {
        conn: Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap(),
        path: path.clone(),
    };
    let err = db.preflight(0).unwrap_err();
    let StoreError::NotReady { path: shown, why } = &err else {
        panic!("expected NotReady, got {err:?}");
    };
    assert_eq!(shown, &path.display().to_string());
    assert_eq!(why.kind(), io::ErrorKind::PermissionDenied);
    assert!(err.to_string().contains("read-only"), "{err}");
}

#[test]
fn a_need_beyond_any_disk_fails_the_preflight_with_no_space() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("audit.db")).unwrap();
    let err = db.preflight(u64::MAX / 2).unwrap_err();
    let StoreError::NotReady { why, .. } = &err else {
        panic!("expected NotReady, got {err:?}");
    };
    assert_eq!(why.kind(), io::ErrorKind::StorageFull);
    let text = err.to_string();
    assert!(
        text.contains(&format!("no space in {}: ", dir.path().display())),
        "{text}"
    );
    assert!(text.ends_with("free, about 8 EiB needed"), "{text}");
}
