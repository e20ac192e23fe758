use std::ffi::OsString;
use std::fs::Permissions;
use std::io::{BufRead, BufReader};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use super::*;

fn keys(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn claim_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(CLAIM_PREFIX))
        .collect();
    names.sort();
    names
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The run and database the tests' own claims are for; the database need not exist.
const OUR_RUN: &str = "20261121T054708Z-0b0b";
const OUR_DB: &str = "/nonexistent/fleetreset-claims-tests/ours.db";

/// Another database's crashed run, as its claim file names it.
const THEIR_RUN: &str = "20261121T050000Z-0a0a";
const THEIR_DB: &str = "/srv/fleet a/a.db";

fn ours() -> Origin<'static> {
    Origin {
        run_id: OUR_RUN,
        db: Path::new(OUR_DB),
    }
}

/// Claims for the tests' own run; a test that meets no stale claim of another database fails
/// if one is asked about.
fn claim_ours(dir: &Path, holder: &str, keys: &[String]) -> Result<Claim, ClaimError> {
    claim(dir, holder, &ours(), keys, &mut |run_id, db| {
        panic!("asked whether run {run_id} on {} settled", db.display())
    })
}

/// Claims `keys` for run b of `db`, answering `answer` about every stale claim asked about;
/// also returns what was asked.
fn claim_answering(
    dir: &Path,
    db: &Path,
    keys: &[String],
    answer: Settled,
) -> (Result<Claim, ClaimError>, Vec<(String, PathBuf)>) {
    let mut asked = Vec::new();
    let origin = Origin {
        run_id: "run-b",
        db,
    };
    let result = claim(dir, "run b", &origin, keys, &mut |run_id, db| {
        asked.push((run_id.to_owned(), db.to_owned()));
        answer.clone()
    });
    (result, asked)
}

/// A claim file nobody holds locked, as a fleetreset that died leaves it.
fn leave_stale(dir: &Path, name: &str, contents: &[u8]) -> PathBuf {
    prepare_dir(dir).unwrap();
    let path = dir.join(name);
    fs::write(&path, contents).unwrap();
    path
}

/// The claim file `claim-1-theirs` of [`THEIR_RUN`] on [`THEIR_DB`], left stale, over `keys`.
fn leave_theirs(dir: &Path, keys: &[&str]) -> PathBuf {
    let mut text = format!("run {THEIR_RUN} on {THEIR_DB}\norigin {THEIR_RUN} {THEIR_DB}\n");
    for key in keys {
        text.push_str(key);
        text.push('\n');
    }
    leave_stale(dir, "claim-1-theirs", text.as_bytes())
}

fn theirs_asked() -> Vec<(String, PathBuf)> {
    vec![(THEIR_RUN.to_owned(), PathBuf::from(THEIR_DB))]
}

#[test]
fn claims_with_disjoint_keys_coexist_each_in_its_own_owner_only_file() {
    let dir = tempfile::tempdir().unwrap();
    let a = claim_ours(dir.path(), "run a", &keys(&["mac 50:C7:BF:00:00:01"])).unwrap();
    let b = claim_ours(dir.path(), "run b", &keys(&["mac 50:C7:BF:00:00:02"])).unwrap();
    assert_ne!(a.path(), b.path());
    assert_eq!(claim_files(dir.path()).len(), 2);
    assert_eq!(mode(a.path()), 0o600);
    assert_eq!(
        fs::read_to_string(a.path()).unwrap(),
        format!("run a\norigin {OUR_RUN} {OUR_DB}\nmac 50:C7:BF:00:00:01\n")
    );
    let name = a.path().file_name().unwrap().to_str().unwrap();
    assert!(
        name.starts_with(&format!("claim-{}-", std::process::id())),
        "{name}"
    );
}

#[test]
fn an_overlapping_claim_is_refused_naming_the_holder_and_the_shared_keys() {
    let dir = tempfile::tempdir().unwrap();
    let holder = "pid 1 on host lab-1 since 2026-11-21T05:47:08Z: run a";
    let _a = claim_ours(
        dir.path(),
        holder,
        &keys(&["mac 50:C7:BF:00:00:01", "host 10.0.0.1", "host 10.0.0.2"]),
    )
    .unwrap();
    let err = claim_ours(
        dir.path(),
        "run b",
        &keys(&["host 10.0.0.9", "host 10.0.0.2", "mac 50:C7:BF:00:00:01"]),
    )
    .unwrap_err();
    let ClaimError::Busy {
        holder: named,
        overlapping,
        total,
    } = &err
    else {
        panic!("expected Busy, got {err:?}");
    };
    assert_eq!(named, holder);
    assert_eq!(
        overlapping,
        &keys(&["mac 50:C7:BF:00:00:01", "host 10.0.0.2"])
    );
    assert_eq!(*total, 2);
    assert_eq!(
        err.to_string(),
        format!(
            "2 of this run's device keys (MACs and addresses) are claimed by another run, \
             {holder} (mac 50:C7:BF:00:00:01, host 10.0.0.2); the other run must finish first"
        )
    );
    assert_eq!(
        claim_files(dir.path()).len(),
        1,
        "the refused claim left a file"
    );
}

#[test]
fn a_refusal_lists_the_first_few_shared_keys_and_counts_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let all: Vec<String> = (0..12).map(|n| format!("host 10.0.0.{n}")).collect();
    let _a = claim_ours(dir.path(), "run a", &all).unwrap();
    let err = claim_ours(dir.path(), "run b", &all).unwrap_err();
    let ClaimError::Busy {
        overlapping, total, ..
    } = &err
    else {
        panic!("expected Busy, got {err:?}");
    };
    assert_eq!(overlapping.len(), SHOWN_OVERLAPS);
    assert_eq!(*total, 12);
    assert!(
        err.to_string()
            .contains("host 10.0.0.3, host 10.0.0.4 and 7 more); the other run"),
        "{err}"
    );
}

#[test]
fn a_dropped_claim_frees_its_keys_and_removes_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let shared = keys(&["mac 50:C7:BF:00:00:01"]);
    let a = claim_ours(dir.path(), "run a", &shared).unwrap();
    assert!(claim_ours(dir.path(), "run b", &shared).is_err());
    let path = a.path().to_owned();
    drop(a);
    assert!(!path.exists());
    let _b = claim_ours(dir.path(), "run b", &shared).unwrap();
}

/// Kills the child if a test fails before it does.
struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Another process holding the claim file `path` with `flock(1)` as a fleetreset would: the
/// holder line (with its pid), the line `origin`, then the key `mac 50:C7:BF:00:00:01`. `None`
/// if there is no flock(1) to do it with.
#[cfg(target_os = "linux")]
fn held_by_another_process(path: &Path, origin: &str) -> Option<Reap> {
    if Command::new("flock").arg("--version").output().is_err() {
        eprintln!("skipped: no flock(1) to hold a claim from another process");
        return None;
    }
    prepare_dir(path.parent().unwrap()).unwrap();
    let script = r#"exec 9>"$1" && flock -n 9 &&
        printf 'pid %s on host sh-test: run other\n%s\nmac 50:C7:BF:00:00:01\n' $$ "$2" >&9 &&
        echo locked && exec sleep 60"#;
    let mut child = Reap(
        Command::new("sh")
            .args(["-c", script, "sh"])
            .arg(path)
            .arg(origin)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut said = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut said)
        .unwrap();
    assert_eq!(said, "locked\n");
    Some(child)
}

/// The holder is another process of our database, then SIGKILLed: its claim stops counting
/// against us, but its file goes only once its run is known to have settled.
#[cfg(target_os = "linux")]
#[test]
fn a_claim_of_our_own_database_held_by_a_killed_process_is_stale_and_removed_once_its_run_is_settled()
 {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("claim-999999-00000000000000aa");
    let dead_run = "20261121T000000Z-0c0c";
    let origin = format!("origin {dead_run} {OUR_DB}");
    let Some(mut child) = held_by_another_process(&path, &origin) else {
        return;
    };
    let db = Path::new(OUR_DB);
    let shared = keys(&["mac 50:C7:BF:00:00:01"]);
    let (result, asked) = claim_answering(dir.path(), db, &shared, Settled::Yes);
    let expected = format!("pid {} on host sh-test: run other", child.0.id());
    assert!(
        matches!(&result, Err(ClaimError::Busy { holder, total: 1, .. }) if *holder == expected),
        "{result:?}"
    );
    assert_eq!(asked, [], "a live claim was asked about");

    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let dead = vec![(dead_run.to_owned(), db.to_owned())];
    let (result, asked) = claim_answering(dir.path(), db, &shared, Settled::No);
    drop(result.unwrap());
    assert_eq!(asked, dead);
    assert!(path.exists(), "the unsettled claim file was deleted");

    let (result, asked) = claim_answering(dir.path(), db, &shared, Settled::Yes);
    let mine = result.unwrap();
    assert_eq!(asked, dead);
    assert!(!path.exists(), "the settled claim file is still there");
    assert_eq!(
        claim_files(dir.path()),
        [mine.path().file_name().unwrap().to_str().unwrap()]
    );
}

/// The hostile tester's case: run A of another database is SIGKILLed while it holds its claim,
/// after it may have sent a reboot it has no outcome for. Run B over the same device must not
/// send another: it is refused, told to resume A, and A's claim stays to stop the next one too.
#[cfg(target_os = "linux")]
#[test]
fn a_stale_overlapping_claim_of_another_database_whose_run_is_unsettled_is_refused_as_crashed_and_kept()
 {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("claim-999999-00000000000000aa");
    let origin = format!("origin {THEIR_RUN} {THEIR_DB}");
    let Some(mut child) = held_by_another_process(&path, &origin) else {
        return;
    };
    child.0.kill().unwrap();
    child.0.wait().unwrap();

    let shared = keys(&["mac 50:C7:BF:00:00:01", "host 10.0.0.9"]);
    let (result, asked) = claim_answering(dir.path(), Path::new(OUR_DB), &shared, Settled::No);
    let err = result.unwrap_err();
    let ClaimError::Crashed {
        run_id,
        db,
        overlapping,
        total,
        path: named,
    } = &err
    else {
        panic!("expected Crashed, got {err:?}");
    };
    assert_eq!(run_id, THEIR_RUN);
    assert_eq!(db, Path::new(THEIR_DB));
    assert_eq!(overlapping, &keys(&["mac 50:C7:BF:00:00:01"]));
    assert_eq!(*total, 1);
    assert_eq!(named, &path);
    assert_eq!(
        err.to_string(),
        format!(
            "1 of this run's device keys (MACs and addresses) are claimed by run {THEIR_RUN} on \
             {THEIR_DB} (mac 50:C7:BF:00:00:01), which ended without recording the outcome of commands it may \
             have sent; resume it first (fleetreset resume {THEIR_RUN} --db '{THEIR_DB}') so \
             they are judged and never sent twice (its claim file is {})",
            path.display()
        )
    );
    assert_eq!(asked, theirs_asked());
    assert!(path.exists(), "the crashed run's claim file was deleted");
    assert_eq!(
        claim_files(dir.path()).len(),
        1,
        "the refused claim left a file"
    );
}

#[test]
fn a_stale_overlapping_claim_of_another_database_whose_run_is_settled_is_deleted_and_the_claim_goes_through()
 {
    let dir = tempfile::tempdir().unwrap();
    let path = leave_theirs(dir.path(), &["mac 1", "mac 2"]);
    let (result, asked) = claim_answering(
        dir.path(),
        Path::new(OUR_DB),
        &keys(&["mac 2"]),
        Settled::Yes,
    );
    let mine = result.unwrap();
    assert_eq!(asked, theirs_asked());
    assert!(
        !path.exists(),
        "the settled run's claim file is still there"
    );
    assert_eq!(
        claim_files(dir.path()),
        [mine.path().file_name().unwrap().to_str().unwrap()]
    );
}

#[test]
fn a_stale_overlapping_claim_whose_database_cannot_be_read_is_refused_as_crashed_unknown_and_kept()
{
    let dir = tempfile::tempdir().unwrap();
    let path = leave_theirs(dir.path(), &["mac 1", "mac 2"]);
    let why = "unable to open database file";
    let (result, asked) = claim_answering(
        dir.path(),
        Path::new(OUR_DB),
        &keys(&["mac 2", "mac 1"]),
        Settled::Unknown(why.to_owned()),
    );
    let err = result.unwrap_err();
    assert!(
        matches!(
            &err,
            ClaimError::CrashedUnknown { run_id, db, total: 2, path: p, why: w, .. }
                if run_id == THEIR_RUN && db == Path::new(THEIR_DB) && *p == path && &**w == why
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "2 of this run's device keys (MACs and addresses) are claimed by run {THEIR_RUN} on \
             {THEIR_DB} (mac 1, mac 2), which ended without releasing its claim, and its database can't be read \
             ({why}) to tell whether it left commands without an outcome; resume it if you can \
             (fleetreset resume {THEIR_RUN} --db '{THEIR_DB}'), or, if that database is gone \
             for good, delete {}",
            path.display()
        )
    );
    assert_eq!(asked, theirs_asked());
    assert!(path.exists(), "the unjudged claim file was deleted");
    assert_eq!(
        claim_files(dir.path()).len(),
        1,
        "the refused claim left a file"
    );
}

/// Our database named three ways in the stale claims: as we name it, through a symbolic link
/// and with a detour. All three are ours: whatever is said of their runs, they don't refuse us
/// though they share a key with us, and they stay until their runs are said to be settled.
#[test]
fn a_stale_claim_of_our_own_database_never_refuses_us_and_is_deleted_only_once_its_run_is_settled()
{
    let dir = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("ours.db");
    fs::write(&db, b"").unwrap();
    fs::create_dir(tmp.path().join("sub")).unwrap();
    let link = tmp.path().join("link.db");
    std::os::unix::fs::symlink(&db, &link).unwrap();
    let detour = tmp.path().join("sub/../ours.db");
    let mut stale = Vec::new();
    let mut runs = Vec::new();
    for (n, spelling) in [&db, &link, &detour].into_iter().enumerate() {
        let text = format!(
            "run {n}\norigin crashed-{n} {}\nmac 1\nmac 2\n",
            spelling.display()
        );
        stale.push(leave_stale(
            dir.path(),
            &format!("claim-{n}-ours"),
            text.as_bytes(),
        ));
        runs.push((format!("crashed-{n}"), spelling.clone()));
    }
    for answer in [
        Settled::No,
        Settled::Unknown("gone".to_owned()),
        Settled::Yes,
    ] {
        let (result, mut asked) =
            claim_answering(dir.path(), &db, &keys(&["mac 2"]), answer.clone());
        drop(result.unwrap());
        asked.sort();
        assert_eq!(asked, runs, "{answer:?}");
        for path in &stale {
            assert_eq!(
                path.exists(),
                answer != Settled::Yes,
                "{answer:?}: {}",
                path.display()
            );
        }
    }
}

/// The hostile tester's case: a run of our database crashed with a command it has no outcome
/// for. A later claimant of our database, over other devices or over the same ones (and then
/// refused by its caller, which finds the crashed run's open command), goes through and lets go
/// again; the crashed run's claim must still stop a run on another database.
#[test]
fn a_stale_claim_of_our_own_database_outlives_our_claimants_and_still_stops_another_database() {
    for ours_keys in [["mac 2"], ["mac 1"]] {
        let dir = tempfile::tempdir().unwrap();
        let text = format!("run crashed\norigin crashed-run {OUR_DB}\nmac 1\n");
        let path = leave_stale(dir.path(), "claim-1-crashed", text.as_bytes());
        let (result, asked) = claim_answering(
            dir.path(),
            Path::new(OUR_DB),
            &keys(&ours_keys),
            Settled::No,
        );
        drop(result.unwrap());
        assert_eq!(
            asked,
            [("crashed-run".to_owned(), PathBuf::from(OUR_DB))],
            "{ours_keys:?}"
        );
        assert!(
            path.exists(),
            "{ours_keys:?}: the crashed run's claim was deleted"
        );

        let (result, _) = claim_answering(
            dir.path(),
            Path::new(THEIR_DB),
            &keys(&["mac 1"]),
            Settled::No,
        );
        assert!(
            matches!(&result, Err(ClaimError::Crashed { run_id, path: p, .. }) if run_id == "crashed-run" && *p == path),
            "{ours_keys:?}: {result:?}"
        );
    }
}

/// A run that ends with commands whose outcome it never recorded keeps its claim: unlocked, as
/// a crashed run's, and judged as one by the next claimant.
#[test]
fn a_kept_claim_stays_on_disk_unlocked_and_is_judged_as_a_crashed_runs() {
    let dir = tempfile::tempdir().unwrap();
    let theirs = Origin {
        run_id: THEIR_RUN,
        db: Path::new(THEIR_DB),
    };
    let shared = keys(&["mac 1", "host 10.0.0.1"]);
    let mut kept = claim(dir.path(), "run a", &theirs, &shared, &mut |_, _| {
        Settled::Yes
    })
    .unwrap();
    kept.keep_on_release();
    let path = kept.path().to_owned();
    drop(kept);
    assert!(path.exists(), "the kept claim file was deleted");
    let file = File::open(&path).unwrap();
    file.try_lock()
        .expect("the kept claim file is still locked");
    drop(file);

    let (result, asked) = claim_answering(dir.path(), Path::new(OUR_DB), &shared, Settled::No);
    let err = result.unwrap_err();
    assert!(
        matches!(
            &err,
            ClaimError::Crashed { run_id, db, total: 2, path: p, .. }
                if run_id == THEIR_RUN && db == Path::new(THEIR_DB) && *p == path
        ),
        "{err:?}"
    );
    assert_eq!(asked, theirs_asked());
    assert!(path.exists(), "the unsettled kept claim file was deleted");

    let (result, asked) = claim_answering(dir.path(), Path::new(OUR_DB), &shared, Settled::Yes);
    let mine = result.unwrap();
    assert_eq!(asked, theirs_asked());
    assert!(!path.exists(), "the settled kept claim file is still there");
    assert_eq!(
        claim_files(dir.path()),
        [mine.path().file_name().unwrap().to_str().unwrap()]
    );
}

/// Unsettled (or unknown), it shares no device with us: we go ahead, and it stays, to stop a
/// later run over its devices. Asked about all the same, in case it had settled.
#[test]
fn a_stale_claim_of_another_unsettled_run_that_overlaps_nothing_is_left_in_place() {
    for answer in [Settled::No, Settled::Unknown("gone".to_owned())] {
        let dir = tempfile::tempdir().unwrap();
        let path = leave_theirs(dir.path(), &["mac 1"]);
        let (result, asked) = claim_answering(
            dir.path(),
            Path::new(OUR_DB),
            &keys(&["mac 2"]),
            answer.clone(),
        );
        result.unwrap();
        assert_eq!(asked, theirs_asked(), "{answer:?}");
        assert!(
            path.exists(),
            "{answer:?}: the unsettled claim file was deleted"
        );
        let (later, _) = claim_answering(dir.path(), Path::new(OUR_DB), &keys(&["mac 1"]), answer);
        assert!(
            matches!(
                later,
                Err(ClaimError::Crashed { .. } | ClaimError::CrashedUnknown { .. })
            ),
            "{later:?}"
        );
    }
}

/// So that claims of settled runs don't pile up in the directory.
#[test]
fn a_stale_claim_that_overlaps_nothing_is_deleted_once_its_run_is_settled() {
    let dir = tempfile::tempdir().unwrap();
    let path = leave_theirs(dir.path(), &["mac 1"]);
    let (result, asked) = claim_answering(
        dir.path(),
        Path::new(OUR_DB),
        &keys(&["mac 2"]),
        Settled::Yes,
    );
    result.unwrap();
    assert_eq!(asked, theirs_asked());
    assert!(!path.exists(), "the settled claim file is still there");
}

#[test]
fn a_live_claim_of_another_database_is_busy_without_its_run_being_asked_about() {
    let dir = tempfile::tempdir().unwrap();
    let theirs = Origin {
        run_id: THEIR_RUN,
        db: Path::new(THEIR_DB),
    };
    let _a = claim(
        dir.path(),
        "run a",
        &theirs,
        &keys(&["mac 1"]),
        &mut |_, _| Settled::Yes,
    )
    .unwrap();
    let (result, asked) = claim_answering(
        dir.path(),
        Path::new(OUR_DB),
        &keys(&["mac 1"]),
        Settled::Yes,
    );
    assert!(
        matches!(&result, Err(ClaimError::Busy { holder, total: 1, .. }) if holder == "run a"),
        "{result:?}"
    );
    assert_eq!(asked, [], "a live claim was asked about");
}

/// An older fleetreset's claim (its second line a key), and origin lines that make no sense:
/// nobody to ask, so a stale one over our devices refuses us and stays.
#[test]
fn a_stale_claim_file_without_an_origin_line_that_overlaps_is_refused_and_kept() {
    for (contents, shared) in [
        ("run old\nmac 1\nmac 2\n", 2),
        ("run old\nmac 3\nmac 2\n", 1),
        ("run old\norigin onlyone\nmac 1\n", 1),
        ("run old\norigin  /srv/a.db\nmac 1\n", 1),
        ("run old\norigin run-a \nmac 1\n", 1),
        ("run old\norigin -\nmac 1\n", 1),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = leave_stale(dir.path(), "claim-1-old", contents.as_bytes());
        let (result, asked) = claim_answering(
            dir.path(),
            Path::new(OUR_DB),
            &keys(&["mac 1", "mac 2"]),
            Settled::Yes,
        );
        let err = result.unwrap_err();
        assert!(
            matches!(
                &err,
                ClaimError::StaleUnknownOrigin { holder, total, path: p, .. }
                    if holder == "run old" && *total == shared && *p == path
            ),
            "{contents:?}: {err:?}"
        );
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "{shared} of this run's device keys (MACs and addresses) are claimed by run old \
                 (mac "
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "its claim file {} does not say which run and database it belongs to",
                path.display()
            )),
            "{text}"
        );
        assert!(
            text.ends_with(&format!(
                "if its run is known to be finished, delete {}",
                path.display()
            )),
            "{text}"
        );
        assert_eq!(asked, [], "{contents:?}");
        assert!(
            path.exists(),
            "{contents:?}: the unjudged claim file was deleted"
        );
    }
}

#[test]
fn a_stale_claim_file_without_an_origin_line_that_overlaps_nothing_is_left_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = leave_stale(dir.path(), "claim-1-old", b"run old\nmac 1\n");
    claim_ours(dir.path(), "run b", &keys(&["mac 2"])).unwrap();
    assert!(path.exists());
}

/// Too big to read (a sparse file), or unreadable (a directory): it could be a claim of ours,
/// over any devices, so it is refused and kept rather than forgotten.
#[test]
fn a_stale_claim_that_cannot_be_read_is_refused_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let big = leave_stale(dir.path(), "claim-1-big", b"");
    File::options()
        .write(true)
        .open(&big)
        .unwrap()
        .set_len(MAX_CLAIM_BYTES + 1)
        .unwrap();
    let err = claim_ours(dir.path(), "run b", &keys(&["mac 1"])).unwrap_err();
    assert!(
        matches!(&err, ClaimError::StaleUnreadable { path, why } if *path == big && why == "it is larger than 64 MiB"),
        "{err:?}"
    );
    assert!(
        err.to_string().ends_with(&format!(
            "if its run is known to be finished, delete {}",
            big.display()
        )),
        "{err}"
    );
    assert!(big.exists());
    fs::remove_file(&big).unwrap();

    let folder = dir.path().join("claim-1-folder");
    fs::create_dir(&folder).unwrap();
    let err = claim_ours(dir.path(), "run b", &keys(&["mac 1"])).unwrap_err();
    assert!(
        matches!(&err, ClaimError::StaleUnreadable { path, why } if *path == folder && why.starts_with("cannot read it")),
        "{err:?}"
    );
    assert!(folder.exists());
}

/// Recorded canonical and absolute, so that a claimant in another working directory, or naming
/// the database another way, asks about (and recognises) the same file; spaces, a trailing one
/// included, read back as they were.
#[test]
fn the_origin_is_recorded_after_the_holder_with_the_databases_canonical_path() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir(tmp.path().join("my fleet ")).unwrap();
    let db = tmp.path().join("my fleet /a b.db ");
    fs::write(&db, b"").unwrap();
    let link = tmp.path().join("link.db");
    std::os::unix::fs::symlink(&db, &link).unwrap();
    let canonical = fs::canonicalize(&db).unwrap();
    for (named, recorded) in [
        (link.clone(), canonical.clone()),
        (tmp.path().join("my fleet /../link.db"), canonical.clone()),
        (
            tmp.path().join("missing.db"),
            fs::canonicalize(tmp.path()).unwrap().join("missing.db"),
        ),
    ] {
        let origin = Origin {
            run_id: "run-a",
            db: &named,
        };
        let mine = claim(
            dir.path(),
            "run a",
            &origin,
            &keys(&["mac 1"]),
            &mut |_, _| Settled::Yes,
        )
        .unwrap();
        let text = fs::read_to_string(mine.path()).unwrap();
        assert_eq!(
            text,
            format!("run a\norigin run-a {}\nmac 1\n", recorded.display()),
            "{}",
            named.display()
        );
        let parsed = parse(&text).unwrap();
        assert_eq!(parsed.origin, Some(("run-a", recorded.to_str().unwrap())));
        assert_eq!(parsed.keys.collect::<Vec<_>>(), ["mac 1"]);
    }
}

/// A run id with a space, or anything that would be escaped, would read back as another run
/// id or path, to be asked about, or taken for ours, in its place: recorded as unknown instead.
#[test]
fn an_origin_that_would_not_read_back_the_same_is_recorded_as_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let odd_db = Path::new("/srv/a\nb.db");
    let non_utf8 = Path::new(std::ffi::OsStr::from_bytes(b"/srv/\xff.db"));
    for (run_id, db) in [
        ("", Path::new(OUR_DB)),
        ("run a", Path::new(OUR_DB)),
        ("run\u{1b}[2J", Path::new(OUR_DB)),
        ("run-a", odd_db),
        ("run-a", non_utf8),
    ] {
        let origin = Origin { run_id, db };
        let mine = claim(
            dir.path(),
            "run a",
            &origin,
            &keys(&["mac 1"]),
            &mut |_, _| Settled::Yes,
        )
        .unwrap();
        let text = fs::read_to_string(mine.path()).unwrap();
        assert_eq!(text, "run a\norigin -\nmac 1\n", "{run_id:?} {db:?}");
        assert_eq!(parse(&text).unwrap().origin, None);
    }
}

#[test]
fn a_suggested_command_quotes_what_a_shell_would_split_or_expand() {
    assert_eq!(shell_word("/srv/fleet/a.db"), "/srv/fleet/a.db");
    assert_eq!(shell_word("20261121T050000Z-0a0a"), "20261121T050000Z-0a0a");
    assert_eq!(shell_word("/srv/my fleet.db"), "'/srv/my fleet.db'");
    assert_eq!(shell_word("/srv/it's$HOME.db"), r"'/srv/it'\''s$HOME.db'");
    assert_eq!(shell_word(""), "''");
    assert_eq!(shell_word("a\nb"), r"'a\nb'");
}

/// A live claim file we can't make sense of: held locked from this process, its contents
/// garbled.
#[test]
fn a_live_claim_that_cannot_be_read_counts_as_conflicting() {
    for (contents, why) in [
        (&b"\xff\xfe not text\nmac 1\n"[..], "it is not UTF-8 text"),
        (&b""[..], "it names no holder"),
        (&b"\nmac 1\n"[..], "it names no holder"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        prepare_dir(dir.path()).unwrap();
        let path = dir.path().join("claim-1-garbled");
        fs::write(&path, contents).unwrap();
        let held = File::open(&path).unwrap();
        held.try_lock().unwrap();

        let err = claim_ours(dir.path(), "run b", &keys(&["mac 2"])).unwrap_err();
        assert!(
            matches!(&err, ClaimError::Unreadable { path: p, why: w } if *p == path && w == why),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains("treated as claiming these devices"), "{text}");
        assert!(path.exists(), "a live claim was deleted");
    }
}

/// Not text, or no holder: what a fleetreset that died while registering leaves (it had sent
/// nothing under that claim), or no claim of ours at all.
#[test]
fn an_unlocked_garbled_claim_is_stale_and_removed() {
    for contents in [&b"\xff\xfe"[..], b"", b"\nmac 2\n"] {
        let dir = tempfile::tempdir().unwrap();
        let path = leave_stale(dir.path(), "claim-1-garbled", contents);
        claim_ours(dir.path(), "run b", &keys(&["mac 2"])).unwrap();
        assert!(!path.exists(), "{contents:?}");
    }
}

#[test]
fn keys_with_line_breaks_cannot_forge_other_keys() {
    let dir = tempfile::tempdir().unwrap();
    let _a = claim_ours(
        dir.path(),
        "run a\nmac 50:C7:BF:00:00:09",
        &keys(&["alias x\nmac 50:C7:BF:00:00:01"]),
    )
    .unwrap();
    let _b = claim_ours(dir.path(), "run b", &keys(&["mac 50:C7:BF:00:00:01"])).unwrap();
    let _c = claim_ours(dir.path(), "run c", &keys(&["mac 50:C7:BF:00:00:09"])).unwrap();
    let err = claim_ours(
        dir.path(),
        "run d",
        &keys(&["alias x\nmac 50:C7:BF:00:00:01"]),
    )
    .unwrap_err();
    assert!(matches!(err, ClaimError::Busy { total: 1, .. }), "{err:?}");
}

#[test]
fn a_hundred_thousand_keys_claim_and_check_in_one_file_each() {
    let dir = tempfile::tempdir().unwrap();
    let many: Vec<String> = (0..100_000)
        .map(|n| {
            format!(
                "mac 50:C7:{:02X}:{:02X}:{:02X}:01",
                n >> 16,
                (n >> 8) & 0xff,
                n & 0xff
            )
        })
        .collect();
    let _a = claim_ours(dir.path(), "run a", &many[..50_000]).unwrap();
    let _b = claim_ours(dir.path(), "run b", &many[50_000..99_999]).unwrap();
    assert_eq!(claim_files(dir.path()).len(), 2);
    let err = claim_ours(dir.path(), "run c", &many[99_998..]).unwrap_err();
    assert!(
        matches!(&err, ClaimError::Busy { holder, total: 1, .. } if holder == "run b"),
        "{err:?}"
    );
    let _c = claim_ours(dir.path(), "run c", &many[99_999..]).unwrap();
}

#[test]
fn a_missing_claims_directory_is_created_owner_only_with_its_parents() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a/b/claims");
    let _claim = claim_ours(&dir, "run a", &keys(&["host 1"])).unwrap();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join(REGISTRY)), 0o600);
}

#[test]
fn a_claims_directory_writable_by_others_is_refused_and_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    fs::set_permissions(tmp.path(), Permissions::from_mode(0o777)).unwrap();
    let err = claim_ours(tmp.path(), "run a", &keys(&["host 1"])).unwrap_err();
    let ClaimError::UnsafeDir { dir, why } = &err else {
        panic!("expected UnsafeDir, got {err:?}");
    };
    assert_eq!(dir, tmp.path());
    assert_eq!(why, "it is writable by its group or by others (mode 0777)");
    assert!(
        err.to_string().starts_with(&format!(
            "refusing the device claims directory {}: it is writable",
            tmp.path().display()
        )),
        "{err}"
    );
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
}

/// As root, a directory is given away to `nobody`; as anyone else, `/` is someone else's.
#[test]
fn a_claims_directory_owned_by_someone_else_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let given_away = tmp.path().join("theirs");
    fs::create_dir(&given_away).unwrap();
    fs::set_permissions(&given_away, Permissions::from_mode(0o700)).unwrap();
    let dir = if std::os::unix::fs::chown(&given_away, Some(65_534), Some(65_534)).is_ok() {
        given_away
    } else {
        PathBuf::from("/")
    };
    let owner = fs::metadata(&dir).unwrap().uid();
    assert_ne!(owner, current_uid(), "the test needs a directory not ours");
    let err = claim_ours(&dir, "run a", &keys(&["host 1"])).unwrap_err();
    let ClaimError::UnsafeDir { why, .. } = &err else {
        panic!("expected UnsafeDir, got {err:?}");
    };
    assert_eq!(
        why,
        &format!(
            "it is owned by uid {owner}, not by you (uid {})",
            current_uid()
        )
    );
    assert!(!dir.join(REGISTRY).exists());
}

#[test]
fn a_symlinked_claims_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let real = tmp.path().join("real");
    fs::create_dir(&real).unwrap();
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let err = claim_ours(&link, "run a", &keys(&["host 1"])).unwrap_err();
    assert!(
        matches!(&err, ClaimError::UnsafeDir { why, .. } if why == "it is a symbolic link"),
        "{err:?}"
    );
}

#[test]
fn a_directory_is_trusted_only_if_it_is_a_real_one_of_ours_writable_by_us_alone() {
    assert_eq!(judge_dir(false, true, 1000, 0o40700, 1000), Ok(()));
    assert_eq!(judge_dir(false, true, 1000, 0o40755, 1000), Ok(()));
    assert!(judge_dir(false, true, 1000, 0o40720, 1000).is_err());
    assert!(judge_dir(false, true, 1000, 0o41777, 1000).is_err());
    assert!(judge_dir(false, true, 0, 0o40700, 1000).is_err());
    assert!(judge_dir(false, false, 1000, 0o100600, 1000).is_err());
    assert!(judge_dir(true, false, 1000, 0o120777, 1000).is_err());
}

#[test]
fn a_registry_held_too_long_is_an_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    prepare_dir(dir.path()).unwrap();
    let held = File::create(dir.path().join(REGISTRY)).unwrap();
    held.try_lock().unwrap();
    let started = Instant::now();
    let err = claim_waiting(
        dir.path(),
        "run a",
        &ours(),
        &keys(&["host 1"]),
        &mut |_, _| Settled::Yes,
        Duration::from_millis(100),
    )
    .unwrap_err();
    assert!(
        matches!(&err, ClaimError::RegistryTimeout { path, .. } if *path == dir.path().join(REGISTRY)),
        "{err:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(100));
    held.unlock().unwrap();
    claim_ours(dir.path(), "run a", &keys(&["host 1"])).unwrap();
}

/// The state directories only if absolute: a relative one would name another directory in
/// every working directory.
#[test]
fn the_default_directory_is_the_env_then_the_state_dir_then_the_home_dirs_then_a_per_user_temp_dir()
{
    let tmp = Path::new("/tmp");
    let some = |s: &str| Some(OsString::from(s));
    let cases = [
        // (FLEETRESET_LOCK_DIR, XDG_STATE_HOME, HOME, expected)
        (some("/x/claims"), some("/s"), some("/home/u"), "/x/claims"),
        (
            some(""),
            some("/s"),
            some("/home/u"),
            "/s/fleetreset/claims",
        ),
        (None, some("/s"), None, "/s/fleetreset/claims"),
        (
            None,
            some(""),
            some("/home/u"),
            "/home/u/.local/state/fleetreset/claims",
        ),
        (
            None,
            some("state"),
            some("/home/u"),
            "/home/u/.local/state/fleetreset/claims",
        ),
        (
            None,
            None,
            some("/home/u"),
            "/home/u/.local/state/fleetreset/claims",
        ),
        (None, None, some(""), "/tmp/fleetreset-7"),
        (None, some("state"), some("home/u"), "/tmp/fleetreset-7"),
        (None, None, None, "/tmp/fleetreset-7"),
    ];
    for (lock_dir, state_home, home, expected) in cases {
        let case = format!("{lock_dir:?} {state_home:?} {home:?}");
        assert_eq!(
            dir_from(lock_dir, state_home, home, tmp, 7),
            Path::new(expected),
            "{case}"
        );
    }
}

#[test]
fn the_password_database_knows_this_user_s_home() {
    let home = passwd_home().expect("every account has a home directory entry");
    assert!(std::path::Path::new(&home).is_absolute(), "{home:?}");
}
