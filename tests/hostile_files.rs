//! Files that fight back: broken, huge, binary or missing inventories, and audit databases that
//! can't be written (a read-only directory, a file that is not SQLite, a lock held by someone
//! else, a full disk). The real binary, in temporary directories. Each must end with exit 2, a
//! message naming the file, no panic, and nothing disruptive sent to any device.
//!
//! Loopback plan: 127.26.x.y, one third octet per test that needs a simulated device.

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{Simulate, ip, text};
use fleetreset::device::IotClient;
use fleetreset::protocol::iot::transport::Timeouts;
use fleetreset::store::Db;

const FILE: u8 = 26;
/// The simulator's time scale in [`Simulate`]: device seconds run 100 times faster.
const SCALE: f64 = 0.01;
/// For reading the simulated plug ourselves: patient, since a shared machine can stall.
const PATIENT: Timeouts = Timeouts {
    connect: Duration::from_secs(10),
    request: Duration::from_secs(10),
};

fn fleetreset_cmd(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = common::fleetreset();
    cmd.current_dir(dir).args(args).env_remove("FLEETRESET_LOG");
    cmd
}

fn fleetreset(dir: &Path, args: &[&str]) -> Output {
    fleetreset_cmd(dir, args).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exit 2, no panic, and the message, for every hostile input.
fn assert_refused(out: &Output) -> String {
    let t = text(out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(!t.contains("panicked"), "{t}");
    stderr(out)
}

/// Bytes that look random, from a fixed seed (xorshift64), so failures reproduce.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

// ----- inventories ----------------------------------------------------------------------------

fn check_file(name: &str, bytes: &[u8]) -> (Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(name), bytes).unwrap();
    (fleetreset(dir.path(), &["check", name]), dir)
}

/// Every line of `check`'s stderr is `FILE:LINE: message` with LINE within the file, except the
/// last, `FILE: N problem(s)`. Returns the reported lines.
fn assert_file_line_messages(err: &str, file: &str, lines_in_file: u64) -> Vec<u64> {
    let mut all: Vec<&str> = err.lines().collect();
    let last = all.pop().unwrap_or_default();
    assert!(
        last.starts_with(&format!("{file}: ")) && last.contains("problem"),
        "{err}"
    );
    assert!(!all.is_empty(), "no problem listed: {err}");
    all.iter()
        .map(|l| {
            let rest = l
                .strip_prefix(&format!("{file}:"))
                .unwrap_or_else(|| panic!("not FILE:LINE: {l:?}"));
            let (n, message) = rest
                .split_once(": ")
                .unwrap_or_else(|| panic!("not FILE:LINE: {l:?}"));
            let n: u64 = n
                .parse()
                .unwrap_or_else(|_| panic!("no line number: {l:?}"));
            assert!(
                (1..=lines_in_file.max(1)).contains(&n),
                "line {n} of {lines_in_file}: {l:?}"
            );
            assert!(!message.is_empty(), "{l:?}");
            n
        })
        .collect()
}

#[test]
fn an_inventory_with_an_unclosed_quote_names_the_line_it_opened_on() {
    let (out, _dir) = check_file("q.csv", b"id,host\n\"plug-1,127.0.0.1\nplug-2,127.0.0.2\n");
    let err = assert_refused(&out);
    assert_eq!(
        err,
        "q.csv:2: unclosed quote: the quoted field opened on this line never ends, so the rest \
         of the file was read into it\nq.csv: 1 problem\n"
    );
}

#[test]
fn an_inventory_with_text_after_a_closing_quote_names_its_line() {
    let (out, _dir) = check_file(
        "q.csv",
        b"id,host\nplug-1,127.0.0.1\nplug-2,\"127.0.0.2\"x\n",
    );
    let err = assert_refused(&out);
    assert!(
        err.starts_with("q.csv:3: text after the closing quote of a field"),
        "{err}"
    );
    assert_file_line_messages(&err, "q.csv", 3);
}

#[test]
fn a_one_megabyte_field_is_reported_by_size_without_echoing_it() {
    let mut csv = b"id,host,notes\nplug-1,10.0.0.1,".to_vec();
    csv.extend(std::iter::repeat_n(b'x', 1_000_000));
    csv.extend(b"\nplug-2,10.0.0.2,\n");
    let (out, _dir) = check_file("big.csv", &csv);
    let err = assert_refused(&out);
    assert_eq!(
        err,
        "big.csv:2: field 3 is 1000000 bytes long; the limit is 65536 bytes\nbig.csv: 1 problem\n"
    );
}

#[test]
fn a_million_row_inventory_is_checked_to_its_last_line() {
    const ROWS: u32 = 1_000_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("million.csv");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        writeln!(w, "id,host,mac").unwrap();
        for i in 0..ROWS {
            let [_, a, b, c] = i.to_be_bytes();
            // Hosts end in 1..=254: `.0` and `.255` are refused as network and broadcast
            // addresses.
            let host = format!("10.{}.{}.{}", i / (254 * 256), (i / 254) % 256, i % 254 + 1);
            writeln!(w, "d{i},{host},02:00:00:{a:02X}:{b:02X}:{c:02X}").unwrap();
        }
        // One problem, on the very last line: the line count must be right that far down.
        writeln!(w, "d0,10.200.1.1,").unwrap();
        w.flush().unwrap();
    }
    let started = Instant::now();
    let out = fleetreset(dir.path(), &["check", "million.csv"]);
    let took = started.elapsed();
    let err = assert_refused(&out);
    assert_eq!(
        err,
        format!(
            "million.csv:{}: duplicate id \"d0\" (first on line 2)\nmillion.csv: 1 problem\n",
            ROWS + 2
        )
    );
    // A generous bound for a shared, noisy machine and a debug build, not a benchmark.
    assert!(took < Duration::from_secs(60), "check took {took:?}");
}

#[test]
fn binary_content_with_nul_bytes_is_reported_line_by_line() {
    let mut bytes = noise(20_000, 0x9e37_79b9_7f4a_7c15);
    for i in (0..bytes.len()).step_by(97) {
        bytes[i] = 0;
    }
    let lines_in_file = bytes.split(|&b| b == b'\n').count() as u64;
    let (out, _dir) = check_file("blob.csv", &bytes);
    let err = assert_refused(&out);
    let reported = assert_file_line_messages(&err, "blob.csv", lines_in_file);
    assert!(reported.contains(&1), "the header line has problems: {err}");
    // Not UTF-8: read as Windows-1252, with one warning beside the problems.
    assert_eq!(err.matches("warning: not UTF-8").count(), 1, "{err}");
}

#[test]
fn an_empty_inventory_has_no_header_row() {
    let (out, _dir) = check_file("empty.csv", b"");
    let err = assert_refused(&out);
    assert!(
        err.starts_with("empty.csv:1: no header row: the file is empty"),
        "{err}"
    );
    assert!(err.ends_with("empty.csv: 1 problem\n"), "{err}");
}

#[test]
fn a_directory_given_as_the_inventory_cannot_be_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("fleet")).unwrap();
    for cmd in [
        &["check", "fleet"][..],
        &["plan", "fleet", "--action", "power-cycle"],
    ] {
        let out = fleetreset(dir.path(), cmd);
        let err = assert_refused(&out);
        assert!(
            err.contains("cannot read inventory fleet: ") && err.contains("directory"),
            "{cmd:?}: {err}"
        );
    }
}

// ----- audit databases ------------------------------------------------------------------------

/// One simulated plug in the test's own /24, with its inventory written to a fresh directory.
struct Fleet {
    _sim: Simulate,
    dir: tempfile::TempDir,
    device: SocketAddr,
}

fn fleet(test: u8) -> Fleet {
    let device = SocketAddr::new(ip(FILE, test, 1), 9999);
    let csv = format!("id,host,model\nplug,{},HS103(US)\n", device.ip());
    let sim = Simulate::start(&csv);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fleet.csv"), &csv).unwrap();
    Fleet {
        _sim: sim,
        dir,
        device,
    }
}

/// The `run` arguments every database test uses, with `--db` last so callers add its value.
const RUN: [&str; 13] = [
    "run",
    "fleet.csv",
    "--action",
    "power-cycle",
    "--time-scale",
    "0.01",
    "--rate",
    "50",
    "--connect-timeout",
    "1",
    "--request-timeout",
    "1",
    "--db",
];

fn run_args(db: &str) -> Vec<&str> {
    let mut args = RUN.to_vec();
    args.push(db);
    args
}

/// Watches a simulated plug for a reboot: its relay is switched on, so `on_time` counts up
/// with device time and restarts at 0 when the plug reboots.
struct Uptime {
    rt: tokio::runtime::Runtime,
    device: SocketAddr,
    before: u64,
    read_at: Instant,
}

impl Uptime {
    fn start(device: SocketAddr) -> Uptime {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut client = IotClient::new(device, PATIENT);
        rt.block_on(client.set_relay(true, None)).unwrap();
        let before = rt.block_on(client.sysinfo()).unwrap().0.on_time.unwrap();
        Uptime {
            rt,
            device,
            before,
            read_at: Instant::now(),
        }
    }

    /// Without a reboot, on-time grew by at least the device time that passed between the two
    /// readings (measured from after the first reply to before the second request, so a slow
    /// machine only makes the bound looser). A reboot would have restarted it from 0 and
    /// kept it at least a boot time (60 device seconds) below that.
    fn assert_not_rebooted(self) {
        let passed = (self.read_at.elapsed().as_secs_f64() / SCALE) as u64;
        // A new connection: a rebooted plug would have dropped the old one.
        let after = self
            .rt
            .block_on(IotClient::new(self.device, PATIENT).sysinfo())
            .unwrap()
            .0
            .on_time
            .unwrap();
        assert!(
            after + 1 >= self.before + passed,
            "on_time went from {} to {after} over {passed} device seconds: the plug rebooted",
            self.before
        );
    }
}

/// The database is named as given on the command line.
fn assert_names(err: &str, db: &str) {
    assert!(err.contains(db), "the message does not name {db}: {err}");
}

/// Files next to `db` that SQLite would have made for it.
fn sqlite_siblings(db: &Path) -> Vec<PathBuf> {
    ["-wal", "-shm", "-journal"]
        .iter()
        .map(|s| PathBuf::from(format!("{}{s}", db.display())))
        .filter(|p| p.exists())
        .collect()
}

/// A database as `fleetreset run` makes it (WAL mode, the current schema), with no run in it.
fn fresh_database(path: &Path) {
    drop(Db::open(path).unwrap());
}

/// Whether `unshare` can give us a user namespace (and with `mount`, a mount namespace in
/// which we may mount a tmpfs), without real root.
fn unshare_works(mount: bool) -> bool {
    let probe = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("unshare");
    if mount {
        cmd.args(["--user", "--map-root-user", "--mount", "sh", "-c"])
            .arg("mount -t tmpfs -o size=64k tmpfs \"$1\"")
            .arg("sh")
            .arg(probe.path());
    } else {
        cmd.args(["--user", "true"]);
    }
    cmd.output().is_ok_and(|o| o.status.success())
}

#[test]
fn a_database_in_a_read_only_directory_stops_the_run_before_anything_is_sent() {
    let f = fleet(10);
    let ro = f.dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    let uptime = Uptime::start(f.device);

    // Root ignores directory permissions. Then run fleetreset in a user namespace of its own
    // (`unshare --user`): it keeps our uid for file ownership but loses root's override, so
    // the read-only directory is read-only to it. Where user namespaces are not allowed, fall
    // back to a path the kernel refuses for anyone: its parent is a regular file (ENOTDIR).
    let privileged = std::fs::File::create(ro.join("probe")).is_ok();
    let _ = std::fs::remove_file(ro.join("probe"));
    let (db, out) = if !privileged {
        (
            "ro/audit.db",
            fleetreset(f.dir.path(), &run_args("ro/audit.db")),
        )
    } else if unshare_works(false) {
        let mut cmd = Command::new("unshare");
        cmd.current_dir(f.dir.path())
            .arg("--user")
            .arg(env!("CARGO_BIN_EXE_fleetreset"))
            .args(run_args("ro/audit.db"))
            .env("FLEETRESET_LOCK_DIR", common::claims_dir())
            .env_remove("FLEETRESET_LOG");
        ("ro/audit.db", cmd.output().unwrap())
    } else {
        eprintln!("root without user namespaces: using a database path whose parent is a file");
        std::fs::write(f.dir.path().join("not-a-dir"), b"").unwrap();
        (
            "not-a-dir/audit.db",
            fleetreset(f.dir.path(), &run_args("not-a-dir/audit.db")),
        )
    };
    let err = assert_refused(&out);
    assert_names(&err, db);
    // The database's lock comes first, and its file can't be made there either.
    assert!(err.contains("cannot lock"), "{err}");
    assert!(!f.dir.path().join(db).exists());
    uptime.assert_not_rebooted();
}

#[test]
fn a_database_that_is_not_sqlite_is_refused_and_left_exactly_as_it_was() {
    let f = fleet(11);
    let path = f.dir.path().join("audit.db");
    let garbage = noise(10_000, 11);
    std::fs::write(&path, &garbage).unwrap();
    let uptime = Uptime::start(f.device);

    let out = fleetreset(f.dir.path(), &run_args("audit.db"));
    let err = assert_refused(&out);
    assert_names(&err, "audit.db");
    assert!(err.contains("file is not a database"), "{err}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        garbage,
        "the file was changed"
    );
    assert_eq!(sqlite_siblings(&path), Vec::<PathBuf>::new());
    assert!(
        !f.dir.path().join("reports").exists(),
        "reports were written"
    );
    uptime.assert_not_rebooted();
}

#[test]
fn a_database_locked_by_another_connection_stops_the_run_before_anything_is_sent() {
    let f = fleet(12);
    let path = f.dir.path().join("audit.db");
    fresh_database(&path);
    // Another writer (a second fleetreset, an sqlite3 shell) holds the lock for the whole run.
    let holder = rusqlite::Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let uptime = Uptime::start(f.device);

    let out = fleetreset(f.dir.path(), &run_args("audit.db"));
    holder.execute_batch("ROLLBACK").unwrap();
    drop(holder);
    let err = assert_refused(&out);
    assert_names(&err, "audit.db");
    assert!(err.contains("database is locked"), "{err}");
    uptime.assert_not_rebooted();
    let db = Db::open(&path).unwrap();
    assert_eq!(db.list_runs().unwrap(), vec![], "a run was recorded");
}

/// Runs `fleetreset run` with its database on a 1 MiB tmpfs that is full except for `room`
/// bytes, in a private mount namespace (`unshare --user --map-root-user --mount`, which needs
/// user namespaces but not root). The database is a fresh one copied in before the disk fills,
/// as after earlier runs. None when this machine doesn't allow it.
fn run_on_a_full_disk(f: &Fleet, room_kib: u32) -> Option<Output> {
    if !unshare_works(true) {
        eprintln!("skipped: this machine doesn't let us mount a tmpfs in a user namespace");
        return None;
    }
    let template = f.dir.path().join("template.db");
    fresh_database(&template);
    std::fs::create_dir(f.dir.path().join("disk")).unwrap();
    let script = r#"
        set -e
        mount -t tmpfs -o size=1m tmpfs disk
        cp "$1" disk/audit.db
        dd if=/dev/zero of=disk/fill bs=4096 2>/dev/null || true
        if [ "$2" -gt 0 ]; then truncate -s "-$2k" disk/fill; fi
        shift 2
        exec "$@"
    "#;
    let out = Command::new("unshare")
        .current_dir(f.dir.path())
        .args([
            "--user",
            "--map-root-user",
            "--mount",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .arg(&template)
        .arg(room_kib.to_string())
        .arg(env!("CARGO_BIN_EXE_fleetreset"))
        .args(run_args("disk/audit.db"))
        .env("FLEETRESET_LOCK_DIR", common::claims_dir())
        .env_remove("FLEETRESET_LOG")
        .output()
        .unwrap();
    Some(out)
}

#[test]
fn a_database_on_a_full_disk_stops_the_run_before_anything_is_sent() {
    let f = fleet(13);
    let uptime = Uptime::start(f.device);
    let Some(out) = run_on_a_full_disk(&f, 0) else {
        return;
    };
    // With no byte free, not even the database's lock file can name its holder.
    let err = assert_refused(&out);
    assert_names(&err, "disk/audit.db");
    assert!(err.contains("No space left on device"), "{err}");
    uptime.assert_not_rebooted();
}

#[test]
fn a_database_on_a_disk_without_room_for_the_run_s_records_stops_it_before_anything_is_sent() {
    let f = fleet(14);
    let uptime = Uptime::start(f.device);
    // 40 KiB: room to open the database (32 KiB of shared memory), not for a run's records;
    // the preflight sees it before the first packet instead of the first write failing later.
    let Some(out) = run_on_a_full_disk(&f, 40) else {
        return;
    };
    let err = assert_refused(&out);
    assert_names(&err, "disk/audit.db");
    assert!(
        err.contains("no space in disk") && err.contains("needed"),
        "{err}"
    );
    uptime.assert_not_rebooted();
}

#[test]
fn runs_and_report_refuse_a_database_that_is_not_sqlite_and_leave_it_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let garbage = noise(4096, 42);
    std::fs::write(&path, &garbage).unwrap();
    for args in [
        &["runs", "--db", "audit.db"][..],
        &["runs", "--db", "audit.db", "--json"],
        &["report", "latest", "--db", "audit.db"],
        &["report", "latest", "--db", "audit.db", "--out", "out"],
    ] {
        let out = fleetreset(dir.path(), args);
        let err = assert_refused(&out);
        assert!(
            err.contains("database audit.db: file is not a database"),
            "{args:?}: {err}"
        );
        if args.contains(&"--json") {
            // `--json` always prints JSON: one object saying why (issue 9).
            let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(doc["status"], "error", "{args:?}: {}", text(&out));
            assert_eq!(doc["exit"], 2, "{args:?}: {}", text(&out));
        } else {
            assert!(out.stdout.is_empty(), "{args:?}: {}", text(&out));
        }
        assert_eq!(
            std::fs::read(&path).unwrap(),
            garbage,
            "{args:?} changed it"
        );
        assert_eq!(sqlite_siblings(&path), Vec::<PathBuf>::new(), "{args:?}");
    }
    assert!(!dir.path().join("reports").exists());
    assert!(!dir.path().join("out").exists());
}
