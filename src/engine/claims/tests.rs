use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

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

#[test]
fn claims_with_disjoint_keys_coexist_each_in_its_own_owner_only_file() {
    let dir = tempfile::tempdir().unwrap();
    let a = claim(dir.path(), "run a", &keys(&["mac 50:C7:BF:00:00:01"])).unwrap();
    let b = claim(dir.path(), "run b", &keys(&["mac 50:C7:BF:00:00:02"])).unwrap();
    assert_ne!(a.path(), b.path());
    assert_eq!(claim_files(dir.path()).len(), 2);
    assert_eq!(mode(a.path()), 0o600);
    assert_eq!(
        fs::read_to_string(a.path()).unwrap(),
        "run a\nmac 50:C7:BF:00:00:01\n"
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
    let _a = claim(
        dir.path(),
        holder,
        &keys(&["mac 50:C7:BF:00:00:01", "host 10.0.0.1", "host 10.0.0.2"]),
    )
    .unwrap();
    let err = claim(
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
            "2 device(s) of this run are claimed by another run, {holder} (mac \
             50:C7:BF:00:00:01, host 10.0.0.2); the other run must finish first"
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
    let _a = claim(dir.path(), "run a", &all).unwrap();
    let err = claim(dir.path(), "run b", &all).unwrap_err();
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
    let a = claim(dir.path(), "run a", &shared).unwrap();
    assert!(claim(dir.path(), "run b", &shared).is_err());
    let path = a.path().to_owned();
    drop(a);
    assert!(!path.exists());
    let _b = claim(dir.path(), "run b", &shared).unwrap();
}

/// Kills the child if a test fails before it does.
struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The holder is another process, holding a claim file with `flock(1)` as a fleetreset
/// would, then SIGKILLed: its claim must stop counting and its file must go.
#[cfg(target_os = "linux")]
#[test]
fn a_claim_held_by_a_killed_process_is_stale_and_removed() {
    if Command::new("flock").arg("--version").output().is_err() {
        eprintln!("skipped: no flock(1) to hold a claim from another process");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    prepare_dir(dir.path()).unwrap();
    let path = dir.path().join("claim-999999-00000000000000aa");
    let script = r#"exec 9>"$1" && flock -n 9 &&
        printf 'pid %s on host sh-test: run other\nmac 50:C7:BF:00:00:01\n' $$ >&9 &&
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
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut said)
        .unwrap();
    assert_eq!(said, "locked\n");

    let shared = keys(&["mac 50:C7:BF:00:00:01"]);
    let err = claim(dir.path(), "run b", &shared).unwrap_err();
    let expected = format!("pid {} on host sh-test: run other", child.0.id());
    assert!(
        matches!(&err, ClaimError::Busy { holder, total: 1, .. } if *holder == expected),
        "{err:?}"
    );

    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let mine = claim(dir.path(), "run b", &shared).unwrap();
    assert!(!path.exists(), "the stale claim file is still there");
    assert_eq!(
        claim_files(dir.path()),
        [mine.path().file_name().unwrap().to_str().unwrap()]
    );
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

        let err = claim(dir.path(), "run b", &keys(&["mac 2"])).unwrap_err();
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

#[test]
fn an_unlocked_garbled_claim_is_stale_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    prepare_dir(dir.path()).unwrap();
    let path = dir.path().join("claim-1-garbled");
    fs::write(&path, b"\xff\xfe").unwrap();
    claim(dir.path(), "run b", &keys(&["mac 2"])).unwrap();
    assert!(!path.exists());
}

#[test]
fn keys_with_line_breaks_cannot_forge_other_keys() {
    let dir = tempfile::tempdir().unwrap();
    let _a = claim(
        dir.path(),
        "run a\nmac 50:C7:BF:00:00:09",
        &keys(&["alias x\nmac 50:C7:BF:00:00:01"]),
    )
    .unwrap();
    let _b = claim(dir.path(), "run b", &keys(&["mac 50:C7:BF:00:00:01"])).unwrap();
    let _c = claim(dir.path(), "run c", &keys(&["mac 50:C7:BF:00:00:09"])).unwrap();
    let err = claim(
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
    let _a = claim(dir.path(), "run a", &many[..50_000]).unwrap();
    let _b = claim(dir.path(), "run b", &many[50_000..99_999]).unwrap();
    assert_eq!(claim_files(dir.path()).len(), 2);
    let err = claim(dir.path(), "run c", &many[99_998..]).unwrap_err();
    assert!(
        matches!(&err, ClaimError::Busy { holder, total: 1, .. } if holder == "run b"),
        "{err:?}"
    );
    let _c = claim(dir.path(), "run c", &many[99_999..]).unwrap();
}

#[test]
fn a_missing_claims_directory_is_created_owner_only_with_its_parents() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a/b/claims");
    let _claim = claim(&dir, "run a", &keys(&["host 1"])).unwrap();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join(REGISTRY)), 0o600);
}

#[test]
fn a_claims_directory_writable_by_others_is_refused_and_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    fs::set_permissions(tmp.path(), Permissions::from_mode(0o777)).unwrap();
    let err = claim(tmp.path(), "run a", &keys(&["host 1"])).unwrap_err();
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
    let err = claim(&dir, "run a", &keys(&["host 1"])).unwrap_err();
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
    let err = claim(&link, "run a", &keys(&["host 1"])).unwrap_err();
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
        &keys(&["host 1"]),
        Duration::from_millis(100),
    )
    .unwrap_err();
    assert!(
        matches!(&err, ClaimError::RegistryTimeout { path, .. } if *path == dir.path().join(REGISTRY)),
        "{err:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(100));
    held.unlock().unwrap();
    claim(dir.path(), "run a", &keys(&["host 1"])).unwrap();
}

#[test]
fn the_default_directory_is_the_env_then_the_runtime_dir_then_a_per_user_temp_dir() {
    let tmp = Path::new("/tmp");
    let some = |s: &str| Some(OsString::from(s));
    assert_eq!(
        dir_from(some("/x/claims"), some("/run/user/7"), tmp, 7),
        Path::new("/x/claims")
    );
    assert_eq!(
        dir_from(some(""), some("/run/user/7"), tmp, 7),
        Path::new("/run/user/7/fleetreset")
    );
    assert_eq!(
        dir_from(None, some(""), tmp, 7),
        Path::new("/tmp/fleetreset-7")
    );
    assert_eq!(dir_from(None, None, tmp, 7), Path::new("/tmp/fleetreset-7"));
}
