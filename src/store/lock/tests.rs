use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use chrono::TimeZone;

use super::*;

const PURPOSE: &str = "run 20261121T054708Z-3f2a";

fn db_in(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("fleetreset.db")
}

#[test]
fn the_lock_file_sits_next_to_the_database_and_names_its_holder_and_purpose() {
    let dir = tempfile::tempdir().unwrap();
    let lock = acquire_db(&db_in(&dir), PURPOSE).unwrap();
    let expected = fs::canonicalize(dir.path())
        .unwrap()
        .join("fleetreset.db.lock");
    assert_eq!(lock.path(), expected);

    let line = fs::read_to_string(&expected).unwrap();
    let prefix = format!("pid {} on host {} since ", std::process::id(), hostname());
    let suffix = format!(": {PURPOSE}\n");
    let since = line
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix(&suffix))
        .unwrap_or_else(|| panic!("{line:?}"));
    assert!(
        chrono::DateTime::parse_from_rfc3339(since).is_ok(),
        "{since:?}"
    );
    assert!(since.ends_with('Z'), "{since:?}");
}

/// The second of two acquires of one database, named two ways, while the first holds it:
/// refused, naming the first's lock file.
fn assert_same_lock(first: &Path, second: &Path) {
    let held = acquire_db(first, PURPOSE).unwrap();
    let err = acquire_db(second, PURPOSE).unwrap_err();
    assert!(
        matches!(&err, LockError::DbHeld { path, .. } if path == held.path()),
        "{} then {}: {err:?}",
        first.display(),
        second.display()
    );
    drop(held);
    // And the other way round.
    let held = acquire_db(second, PURPOSE).unwrap();
    assert!(
        matches!(acquire_db(first, PURPOSE), Err(LockError::DbHeld { .. })),
        "{} then {}",
        second.display(),
        first.display()
    );
    drop(held);
}

#[cfg(unix)]
#[test]
fn a_symlink_to_the_database_takes_the_databases_own_lock() {
    let dir = tempfile::tempdir().unwrap();
    let real = fs::canonicalize(dir.path()).unwrap().join("x.db");
    fs::write(&real, "").unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let link = elsewhere.path().join("link.db");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    assert_same_lock(&real, &link);
    let lock = acquire_db(&link, PURPOSE).unwrap();
    assert_eq!(lock.path(), real.with_file_name("x.db.lock"));
    assert!(!elsewhere.path().join("link.db.lock").exists());
}

#[cfg(unix)]
#[test]
fn a_symlink_to_a_database_not_created_yet_takes_the_lock_of_where_it_will_be() {
    let dir = tempfile::tempdir().unwrap();
    let real = fs::canonicalize(dir.path()).unwrap().join("x.db");
    let link = dir.path().join("link.db");
    // Relative, as `ln -s x.db link.db` makes it.
    std::os::unix::fs::symlink("x.db", &link).unwrap();
    let held = acquire_db(&link, PURPOSE).unwrap();
    assert_eq!(held.path(), real.with_file_name("x.db.lock"));
    // SQLite creates the database through the link; the lock stays the same.
    fs::write(&link, "").unwrap();
    assert!(real.is_file());
    assert!(matches!(
        acquire_db(&real, PURPOSE),
        Err(LockError::DbHeld { .. })
    ));
}

#[test]
fn a_database_path_with_dot_or_dot_dot_takes_the_same_lock_whether_or_not_the_database_exists() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("sub")).unwrap();
    let plain = dir.path().join("x.db");
    let dotted = dir.path().join(".").join("x.db");
    let up = dir.path().join("sub").join("..").join("x.db");
    assert_same_lock(&plain, &dotted);
    assert_same_lock(&up, &plain);
    fs::write(&plain, "").unwrap();
    assert_same_lock(&plain, &dotted);
    assert_same_lock(&up, &plain);
}

#[cfg(unix)]
#[test]
fn a_loop_of_symlinks_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.db"), dir.path().join("b.db"));
    std::os::unix::fs::symlink(&b, &a).unwrap();
    std::os::unix::fs::symlink(&a, &b).unwrap();
    let err = acquire_db(&a, PURPOSE).unwrap_err();
    assert!(
        matches!(&err, LockError::Io { path, .. } if *path == dir.path().join("a.db.lock")),
        "{err:?}"
    );
}

#[test]
fn the_holder_line_is_pid_host_utc_time_to_the_second_and_purpose() {
    let since = Utc.with_ymd_and_hms(2026, 11, 21, 5, 47, 8).unwrap();
    assert_eq!(
        holder_line(1234, "lab-1", &since, PURPOSE),
        "pid 1234 on host lab-1 since 2026-11-21T05:47:08Z: run 20261121T054708Z-3f2a\n"
    );
}

#[cfg(unix)]
#[test]
fn the_lock_file_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let lock = acquire_db(&db_in(&dir), PURPOSE).unwrap();
    let mode = fs::metadata(lock.path()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_second_run_or_resume_in_the_same_process_is_refused_whatever_its_run_and_names_this_pid() {
    let dir = tempfile::tempdir().unwrap();
    let first = acquire_db(&db_in(&dir), PURPOSE).unwrap();
    let err = acquire_db(&db_in(&dir), "resume 20260101T000000Z-aaaa").unwrap_err();
    let LockError::DbHeld { db, holder, path } = &err else {
        panic!("expected DbHeld, got {err:?}");
    };
    assert_eq!(db, &db_in(&dir));
    assert_eq!(path, first.path());
    assert!(
        holder.starts_with(&format!("pid {} on host ", std::process::id())),
        "{holder:?}"
    );
    assert!(holder.ends_with(&format!(": {PURPOSE}")), "{holder:?}");
    // The refused attempt must not have emptied or rewritten the holder's file.
    let line = fs::read_to_string(first.path()).unwrap();
    assert_eq!(line.trim_end(), holder);
}

#[test]
fn a_dropped_lock_can_be_taken_again_and_leaves_no_holder_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = acquire_db(&db_in(&dir), PURPOSE).unwrap().path().to_owned();
    assert_eq!(fs::read_to_string(&path).unwrap(), "");
    let again = acquire_db(&db_in(&dir), "resume 20261121T054708Z-3f2a").unwrap();
    let line = fs::read_to_string(again.path()).unwrap();
    assert!(
        line.ends_with(": resume 20261121T054708Z-3f2a\n"),
        "{line:?}"
    );
}

#[test]
fn a_purpose_with_line_breaks_stays_on_the_holder_line() {
    let dir = tempfile::tempdir().unwrap();
    let lock = acquire_db(&db_in(&dir), "run x\npid 1 on host forged").unwrap();
    let text = fs::read_to_string(lock.path()).unwrap();
    assert_eq!(text.lines().count(), 1, "{text:?}");
    assert!(
        text.ends_with(": run x\\npid 1 on host forged\n"),
        "{text:?}"
    );
}

#[test]
fn an_empty_or_unreadable_holder_line_still_reads_as_a_holder() {
    assert_eq!(holder_from(b""), UNNAMED_HOLDER);
    assert_eq!(holder_from(b"\n\n"), UNNAMED_HOLDER);
    assert_eq!(
        holder_from(b"pid 7 on host a since x: run y\nmore"),
        "pid 7 on host a since x: run y"
    );
    assert_eq!(holder_from(b"pid \xff\n"), "pid \u{fffd}");

    // A held lock whose file names nobody is still refused, as held by someone unnamed.
    let dir = tempfile::tempdir().unwrap();
    let first = acquire_db(&db_in(&dir), PURPOSE).unwrap();
    fs::write(first.path(), "").unwrap();
    let err = acquire_db(&db_in(&dir), PURPOSE).unwrap_err();
    assert!(
        matches!(&err, LockError::DbHeld { holder, .. } if holder == UNNAMED_HOLDER),
        "{err:?}"
    );
}

#[test]
fn the_held_message_names_the_database_the_holder_the_file_and_the_danger() {
    let err = LockError::DbHeld {
        db: PathBuf::from("/x/fleetreset.db"),
        holder: format!("pid 1234 on host lab-1 since 2026-11-21T05:47:08Z: {PURPOSE}"),
        path: PathBuf::from("/x/fleetreset.db.lock"),
    };
    assert_eq!(
        err.to_string(),
        format!(
            "database /x/fleetreset.db is in use by pid 1234 on host lab-1 since \
             2026-11-21T05:47:08Z: {PURPOSE} (lock file /x/fleetreset.db.lock); a second run \
             or resume on the same database would act on the same devices: wait for it to \
             finish or stop it first"
        )
    );
}

#[test]
fn an_io_error_names_the_lock_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("missing").join("fleetreset.db");
    let err = acquire_db(&db, PURPOSE).unwrap_err();
    let LockError::Io { path, source } = &err else {
        panic!("expected Io, got {err:?}");
    };
    assert_eq!(path, &db.with_file_name("fleetreset.db.lock"));
    assert_eq!(source.kind(), io::ErrorKind::NotFound);
    assert!(
        err.to_string()
            .starts_with(&format!("cannot lock {}", path.display())),
        "{err}"
    );
}

#[test]
fn a_database_path_without_a_file_name_is_an_io_error() {
    let err = acquire_db(Path::new("/"), PURPOSE).unwrap_err();
    assert!(
        matches!(&err, LockError::Io { source, .. }
        if source.kind() == io::ErrorKind::InvalidInput),
        "{err:?}"
    );
}

/// Kills the child if a test fails before it does.
struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The holder is another process, `flock(1)` on an fd that `sh` keeps across `exec sleep`,
/// which is the same lock std takes. Proves both that other processes are excluded and that
/// a SIGKILLed holder leaves no stale lock.
#[cfg(target_os = "linux")]
#[test]
fn a_lock_held_by_another_process_is_refused_and_released_when_it_is_killed() {
    if Command::new("flock").arg("--version").output().is_err() {
        eprintln!("skipped: no flock(1) to hold a lock from another process");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleetreset.db.lock");
    let script = r#"exec 9>>"$1" && flock -n 9 &&
        echo "pid $$ on host sh-test since 2026-11-21T05:47:08Z: run other" >&9 &&
        echo locked && exec sleep 60"#;
    let mut child = Reap(
        Command::new("sh")
            .args(["-c", script, "sh"])
            .arg(&path)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut said = String::new();
    let stdout = child.0.stdout.take().unwrap();
    BufReader::new(stdout).read_line(&mut said).unwrap();
    assert_eq!(said, "locked\n");

    let err = acquire_db(&db_in(&dir), PURPOSE).unwrap_err();
    let expected = format!(
        "pid {} on host sh-test since 2026-11-21T05:47:08Z: run other",
        child.0.id()
    );
    assert!(
        matches!(&err, LockError::DbHeld { holder, .. } if *holder == expected),
        "{err:?}"
    );

    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let lock = acquire_db(&db_in(&dir), PURPOSE).unwrap();
    let line = fs::read_to_string(lock.path()).unwrap();
    assert!(
        line.starts_with(&format!("pid {} ", std::process::id())),
        "{line:?}"
    );
}
