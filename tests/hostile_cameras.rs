//! Hostile cameras against the real binary and `fleetreset simulate` (or a stand-in TLS server
//! of the test's own): names that try to reach a terminal, a report or a spreadsheet, a
//! password the camera refuses or a camera that locks out, a kill mid-run then `resume`, and
//! TLS servers that answer nonsense. Every disruptive path is judged by the simulator's journal
//! and the database both.
//!
//! Loopback plan: 127.47.0.0/16, one third octet per test (127.47.1–127.47.19).

mod common;

use fleetreset::model::EventKind;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use common::bench::{Bench, kill_when, run_args, wait_for_events};
use common::text;
use common::truth::{assert_truthful, latest_run, outcome_of};
use fleetreset::model::Outcome;

const USER: &str = "owner@example.com";
/// Distinctive, so a leak anywhere is found by a plain byte search.
const PASSWORD: &str = "Hostile-Cam-PASSWORD-4711";
const WRONG: &str = "Wrong-Cam-PASSWORD-0042";

fn ip(test: u8, n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 47, test, n))
}

fn creds(dir: &Path, name: &str, password: &str) -> PathBuf {
    common::office_credentials(dir.join(name), USER, password)
}

fn count(rec: &fleetreset::store::RunRecord, id: &str, kind: EventKind) -> usize {
    rec.events
        .iter()
        .filter(|e| e.kind == kind && e.device_id.as_deref() == Some(id))
        .count()
}

/// Every file under `dir`, recursively, with its bytes.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// An alias meant to do harm wherever it lands: a terminal escape (clear screen), a forged
/// line of output, HTML that would run, a cell a spreadsheet would evaluate, and a message
/// hidden in invisible tag characters.
const ALIAS_CELL: &str =
    "\"=cmd|' /C calc'!A0\u{1b}[2J</td><script>alert(1)</script>\nok: forged\u{e006f}\u{e006b}\"";

/// The hidden `o` of [`ALIAS_CELL`].
const TAG_O: &str = "\u{e006f}";

#[test]
fn hostile_camera_names_stay_inert_on_the_terminal_and_in_every_report() {
    let keys = tempfile::tempdir().unwrap();
    let sim_creds = creds(keys.path(), "sim.toml", PASSWORD);
    let sim_csv = format!(
        "id,host,model,mac,credentials,alias\n\
         tapo-cam,{}:8443,C210,40:AE:30:47:01:01,office,{ALIAS_CELL}\n\
         kasa-cam,{}:10443,EC60,74:FE:CE:47:01:02,office,{ALIAS_CELL}\n",
        ip(1, 1),
        ip(1, 2)
    );
    let inventory = format!(
        "id,host,model,mac,credentials\n\
         tapo-cam,{}:8443,C210,40:AE:30:47:01:01,office\n\
         kasa-cam,{}:10443,EC60,74:FE:CE:47:01:02,office\n",
        ip(1, 1),
        ip(1, 2)
    );
    let bench = Bench::start_with(
        &sim_csv,
        &inventory,
        &["--credentials", sim_creds.to_str().unwrap()],
    );
    let run_creds = creds(keys.path(), "run.toml", PASSWORD);
    let out = bench.output(&run_args(
        "power-cycle",
        &["--credentials", run_creds.to_str().unwrap(), "-vv"],
    ));
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let rec = latest_run(&bench.db());
    let journal = bench.journal();
    assert_truthful(&rec, &journal, true, "hostile camera names");
    for id in ["tapo-cam", "kasa-cam"] {
        assert_eq!(
            outcome_of(&rec, id).0,
            Some(Outcome::Succeeded),
            "{id}\n{t}"
        );
        assert_eq!(journal.reboots.get(id), Some(&1), "{id}\n{}", journal.text);
    }
    for (what, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(!bytes.contains(&0x1b), "{what} holds a raw ESC:\n{t}");
        assert!(
            !contains(bytes, "\nok: forged"),
            "{what} has a forged line:\n{t}"
        );
        assert!(!contains(bytes, TAG_O), "{what} holds a raw tag character");
        assert!(!contains(bytes, PASSWORD), "{what} holds the password");
    }
    // The report of the run, in every format it writes.
    let reports = bench.path("reports");
    let out = bench.output(&["report", "latest", "--out", reports.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let written = files(&reports);
    assert!(!written.is_empty(), "no report files\n{}", text(&out));
    check_inert(&written);
    // The alias did reach the reports (as text), so the checks above checked something.
    assert!(
        written.iter().any(|(_, b)| contains(b, "alert(1)")),
        "no report shows the camera's alias"
    );
    for (what, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(!bytes.contains(&0x1b), "report {what} holds a raw ESC");
    }
    let db = std::fs::read(bench.db()).unwrap();
    assert!(!contains(&db, PASSWORD), "the password is in the database");
}

/// No raw ESC or forged line in any file, no live `<script>` in HTML, no CSV cell a
/// spreadsheet would evaluate.
fn check_inert(written: &[(PathBuf, Vec<u8>)]) {
    for (path, bytes) in written {
        let name = path.display();
        assert!(!bytes.contains(&0x1b), "{name} holds a raw ESC");
        assert!(!contains(bytes, "\nok: forged"), "{name} has a forged line");
        assert!(!contains(bytes, TAG_O), "{name} holds a raw tag character");
        assert!(!contains(bytes, TAG_O), "{name} holds a raw tag character");
        assert!(!contains(bytes, PASSWORD), "{name} holds the password");
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if ext == "html" && path.ends_with("report.html") {
            // The page's own script (the table's sort, admitted by its hash) and no other.
            let scripts = bytes.windows(7).filter(|w| w == b"<script").count();
            assert_eq!(scripts, 1, "{name} has a live script of a name's");
            assert!(
                !contains(bytes, "</td><script>alert"),
                "{name} lets a name close a cell"
            );
        } else if ext == "html" {
            assert!(!contains(bytes, "<script"), "{name} has a live script");
            assert!(!contains(bytes, "</td>"), "{name} lets a name close a cell");
        }
        if ext == "csv" {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(bytes.as_slice());
            for record in reader.records() {
                let record = record.unwrap();
                for cell in record.iter() {
                    assert!(
                        cell.parse::<f64>().is_ok()
                            || !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                        "{name}: a cell a spreadsheet would run: {cell:?}"
                    );
                }
            }
        }
    }
}

/// One login step to a simulated Tapo camera, as a stranger would send it: HTTPS `POST /`
/// with `body`, the connection closed after the answer.
fn raw_login(addr: std::net::SocketAddr, body: &str) -> String {
    use std::io::{Read, Write};
    let mut b = openssl::ssl::SslConnector::builder(openssl::ssl::SslMethod::tls_client()).unwrap();
    b.set_verify(openssl::ssl::SslVerifyMode::NONE);
    let connector = b.build();
    let tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut cfg = connector.configure().unwrap();
    cfg.set_verify_hostname(false);
    cfg.set_use_server_name_indication(false);
    let mut tls = cfg.connect("camera", tcp).unwrap();
    write!(
        tls,
        "POST / HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Locks a simulated Tapo camera (`lockout=1`) with one failed login of a stranger's.
fn lock_out(addr: std::net::SocketAddr) {
    let first = raw_login(
        addr,
        r#"{"method":"login","params":{"cnonce":"0011223344556677","encrypt_type":"3","username":"admin"}}"#,
    );
    assert!(first.contains("nonce"), "{first}");
    let second = raw_login(
        addr,
        r#"{"method":"login","params":{"cnonce":"0011223344556677","encrypt_type":"3","digest_passwd":"00","username":"admin"}}"#,
    );
    assert!(second.contains("-40413"), "{second}");
}

fn journal_count(journal: &common::truth::Journal, id: &str, what: &str) -> usize {
    journal
        .text
        .lines()
        .filter(|l| {
            let mut p = l.split_whitespace().skip(1);
            p.next() == Some(id) && p.next() == Some(what)
        })
        .count()
}

/// A camera that refuses the password, and one locked out: one login each per run, none on
/// `resume`, nothing sent but the login, and no password anywhere (not even at `-vv`).
#[test]
fn a_camera_that_refuses_the_password_or_locks_out_costs_one_login_and_none_on_resume() {
    let keys = tempfile::tempdir().unwrap();
    let sim_creds = creds(keys.path(), "sim.toml", PASSWORD);
    let csv = format!(
        "id,host,model,mac,credentials,sim_fault\n\
         wrong-pw,{}:8443,C210,40:AE:30:47:02:01,office,lockout=3\n\
         locked,{}:8443,C210,40:AE:30:47:02:02,office,lockout=1\n\
         kasa-wrong,{}:10443,EC60,74:FE:CE:47:02:03,office,\n",
        ip(2, 1),
        ip(2, 2),
        ip(2, 3)
    );
    let bench = Bench::start_with(&csv, &csv, &["--credentials", sim_creds.to_str().unwrap()]);
    lock_out(std::net::SocketAddr::new(ip(2, 2), 8443));
    let before = bench.journal();
    assert_eq!(
        journal_count(&before, "locked", "login_failed"),
        1,
        "{}",
        before.text
    );
    let run_creds = creds(keys.path(), "run.toml", WRONG);
    let out = bench.output(&run_args(
        "power-cycle",
        &["--credentials", run_creds.to_str().unwrap(), "-vv"],
    ));
    let t = text(&out);
    // Three refusals stop the run (--max-auth-failures 3): exit 3.
    assert_eq!(out.status.code(), Some(3), "{t}");
    let rec = latest_run(&bench.db());
    let journal = bench.journal();
    assert_truthful(&rec, &journal, true, "refused logins");
    assert!(journal.no_commands(), "{}", journal.text);
    for id in ["wrong-pw", "locked", "kasa-wrong"] {
        let (outcome, reason, detail) = outcome_of(&rec, id);
        assert_eq!(outcome, Some(Outcome::Failed), "{id}: {detail}\n{t}");
        assert_eq!(
            reason,
            Some(fleetreset::model::Reason::AuthFailed),
            "{id}: {detail}"
        );
    }
    // The Tapo camera proves at the first step that it holds another password: nothing it
    // could count is sent. The locked one refused one login, unheard.
    assert_eq!(
        journal_count(&journal, "wrong-pw", "login_failed"),
        0,
        "{}",
        journal.text
    );
    assert_eq!(
        journal_count(&journal, "locked", "login_refused"),
        1,
        "{}",
        journal.text
    );
    assert_eq!(
        journal_count(&journal, "locked", "login_failed"),
        1,
        "{}",
        journal.text
    );
    for id in ["wrong-pw", "locked"] {
        assert_eq!(count(&rec, id, EventKind::LoginAttempt), 1, "{id}");
    }
    // One login asked for each in the run (the locked one had the stranger's before it).
    assert_eq!(
        journal_count(&journal, "wrong-pw", "login"),
        1,
        "{}",
        journal.text
    );
    assert_eq!(
        journal_count(&journal, "locked", "login"),
        2,
        "{}",
        journal.text
    );
    // The Kasa camera was tried once in each credential encoding, then left alone.
    assert_eq!(
        journal_count(&journal, "kasa-wrong", "login_failed"),
        4,
        "{}",
        journal.text
    );
    let (_, _, locked) = outcome_of(&rec, "locked");
    assert!(locked.contains("-40404"), "{locked}");

    // `resume` sends nothing more to any of them.
    let out = bench.output(&[
        "resume",
        "latest",
        "--yes",
        "--credentials",
        run_creds.to_str().unwrap(),
        "-vv",
    ]);
    let t2 = text(&out);
    let after = bench.journal();
    assert_eq!(after.text, journal.text, "resume reached a camera\n{t2}");
    let rec2 = latest_run(&bench.db());
    for id in ["wrong-pw", "locked"] {
        assert_eq!(count(&rec2, id, EventKind::LoginAttempt), 1, "{id}\n{t2}");
        assert_eq!(outcome_of(&rec2, id).0, Some(Outcome::Failed), "{id}");
    }

    for (what, bytes) in [
        ("run", format!("{t}{t2}").into_bytes()),
        ("db", std::fs::read(bench.db()).unwrap()),
    ] {
        for pw in [PASSWORD, WRONG] {
            assert!(!contains(&bytes, pw), "{what} holds a password");
        }
    }
    let reports = bench.path("reports");
    let out = bench.output(&["report", "latest", "--out", reports.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    for (path, bytes) in files(&reports) {
        for pw in [PASSWORD, WRONG] {
            assert!(!contains(&bytes, pw), "{} holds a password", path.display());
        }
    }
}

/// A fleet of one Tapo and one Kasa camera bound to `office`, each with `fault`.
fn two_cameras(test: u8, fault: &str) -> (Bench, tempfile::TempDir, PathBuf) {
    let keys = tempfile::tempdir().unwrap();
    let sim_creds = creds(keys.path(), "sim.toml", PASSWORD);
    let csv = format!(
        "id,host,model,mac,credentials,sim_fault\n\
         tapo-cam,{}:8443,C210,40:AE:30:47:{test:02X}:01,office,{fault}\n\
         kasa-cam,{}:10443,EC60,74:FE:CE:47:{test:02X}:02,office,{fault}\n",
        ip(test, 1),
        ip(test, 2)
    );
    let bench = Bench::start_with(&csv, &csv, &["--credentials", sim_creds.to_str().unwrap()]);
    let run_creds = creds(keys.path(), "run.toml", PASSWORD);
    (bench, keys, run_creds)
}

/// SIGKILL right after both cameras acknowledged their reboot, then `resume`: one reboot each
/// (the journal), and the outcome the resume records is what happened.
#[test]
fn a_camera_run_killed_right_after_the_reboot_acks_never_reboots_twice_on_resume() {
    let (bench, _keys, run_creds) = two_cameras(3, "");
    let creds = run_creds.to_str().unwrap();
    let mut run = Bench::spawn(&mut bench.cmd(&run_args("power-cycle", &["--credentials", creds])));
    let db = bench.db();
    kill_when(&mut run, || {
        common::truth::count_events(&db, EventKind::Ack) >= 2
    });
    let out = bench.output(&["resume", "latest", "--yes", "--credentials", creds]);
    let t = text(&out);
    let rec = latest_run(&db);
    let journal = bench.journal();
    assert_truthful(&rec, &journal, true, "killed after the acks");
    for id in ["tapo-cam", "kasa-cam"] {
        assert_eq!(
            journal.reboots.get(id),
            Some(&1),
            "{id}\n{}\n{t}",
            journal.text
        );
        assert_eq!(count(&rec, id, EventKind::Ack), 1, "{id}\n{t}");
        let (outcome, reason, detail) = outcome_of(&rec, id);
        assert!(
            outcome == Some(Outcome::Succeeded)
                || (outcome == Some(Outcome::Failed)
                    && reason == Some(fleetreset::model::Reason::NotVerified)),
            "{id}: {outcome:?} {reason:?} {detail}\n{t}"
        );
    }
    assert!(!contains(&std::fs::read(&db).unwrap(), PASSWORD));
}

/// SIGKILL while the Tapo camera's login is under way (every reply held back 3 s), then
/// `resume`: the login is not tried again blindly, nothing is sent, and the job does not
/// claim a success.
#[test]
fn a_camera_run_killed_mid_login_is_not_logged_in_again_on_resume() {
    let (bench, _keys, run_creds) = two_cameras(4, "slow=3000");
    let creds = run_creds.to_str().unwrap();
    let mut run = Bench::spawn(&mut bench.cmd(&run_args(
        "power-cycle",
        &["--credentials", creds, "--request-timeout", "20"],
    )));
    let db = bench.db();
    wait_for_events(&db, EventKind::LoginAttempt, 1);
    // Killed once the camera has the login's first step, whose answer it holds back 3 s.
    kill_when(&mut run, || {
        journal_count(&bench.journal(), "tapo-cam", "login") >= 1
    });
    let logins = journal_count(&bench.journal(), "tapo-cam", "login");
    assert_eq!(logins, 1, "{}", bench.journal().text);
    let out = bench.output(&["resume", "latest", "--yes", "--credentials", creds]);
    let t = text(&out);
    let rec = latest_run(&db);
    let journal = bench.journal();
    assert!(
        rec.jobs.iter().all(|j| j.outcome.is_some()),
        "{:?}\n{t}",
        rec.jobs
    );
    assert_truthful(&rec, &journal, true, "killed mid-login");
    assert_eq!(
        journal_count(&journal, "tapo-cam", "login"),
        logins,
        "{}\n{t}",
        journal.text
    );
    assert_eq!(
        journal.reboots.get("tapo-cam"),
        None,
        "{}\n{t}",
        journal.text
    );
    assert_eq!(count(&rec, "tapo-cam", EventKind::LoginAttempt), 1, "{t}");
    let (outcome, reason, detail) = outcome_of(&rec, "tapo-cam");
    assert_eq!(outcome, Some(Outcome::Failed), "{detail}\n{t}");
    assert_eq!(
        reason,
        Some(fleetreset::model::Reason::NotVerified),
        "{detail}\n{t}"
    );
    assert!(
        journal.reboots.get("kasa-cam").is_none_or(|n| *n == 1),
        "{}",
        journal.text
    );
}

/// How a stand-in camera answers.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Stand {
    /// HTTP 200 with bytes that are neither LINKIE2 nor JSON.
    Garbage,
    /// The status line and half the headers of a long reply, then the TLS session closed.
    CutMidReply,
}

/// A stand-in camera on `addr`: TLS with `acceptor`, each request answered as `stand` says.
/// Returns the count of requests it has read.
fn stand_in(
    addr: std::net::SocketAddr,
    acceptor: openssl::ssl::SslAcceptor,
    stand: Stand,
) -> std::sync::Arc<std::sync::atomic::AtomicUsize> {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind(addr).unwrap();
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&seen);
    let acceptor = std::sync::Arc::new(acceptor);
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { continue };
            let acceptor = std::sync::Arc::clone(&acceptor);
            let counter = std::sync::Arc::clone(&counter);
            std::thread::spawn(move || {
                let _ = tcp.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                let Ok(mut tls) = acceptor.accept(tcp) else {
                    return;
                };
                loop {
                    // Headers, then the body its content-length says.
                    let mut buf = Vec::new();
                    let mut byte = [0u8; 1];
                    while !buf.ends_with(b"\r\n\r\n") {
                        match tls.read(&mut byte) {
                            Ok(1) => buf.push(byte[0]),
                            _ => return,
                        }
                    }
                    let head = String::from_utf8_lossy(&buf).to_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    let mut body = vec![0u8; len];
                    if tls.read_exact(&mut body).is_err() {
                        return;
                    }
                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    match stand {
                        Stand::Garbage => {
                            let junk = b"\x00\xff\x1b[2J not a camera \xfe";
                            let _ = write!(
                                tls,
                                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                                junk.len()
                            );
                            let _ = tls.write_all(junk);
                            let _ = tls.flush();
                        }
                        Stand::CutMidReply => {
                            let _ = tls.write_all(
                                b"HTTP/1.1 200 OK\r\ncontent-length: 4000\r\ncontent-ty",
                            );
                            let _ = tls.flush();
                            let _ = tls.shutdown();
                            return;
                        }
                    }
                }
            });
        }
    });
    seen
}

/// An acceptor for a stand-in: `ciphers` over TLS 1.2 only, with the simulator's certificate.
fn acceptor(ciphers: &str) -> openssl::ssl::SslAcceptor {
    use openssl::ssl::{SslAcceptor, SslMethod, SslVersion};
    let (cert, key) = fleetreset::sim::camera::tls::self_signed().unwrap();
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).unwrap();
    b.set_min_proto_version(Some(SslVersion::TLS1_2)).unwrap();
    b.set_max_proto_version(Some(SslVersion::TLS1_2)).unwrap();
    b.set_cipher_list(ciphers).unwrap();
    b.set_certificate(&cert).unwrap();
    b.set_private_key(&key).unwrap();
    b.build()
}

/// Cameras that answer garbage, close TLS mid-reply, offer only ECDHE on 10443, or only a
/// suite the client doesn't offer: no reboot goes out, nothing is recorded as a success, and
/// each job's outcome says what went wrong in words a person can act on.
#[test]
fn cameras_answering_garbage_or_cut_tls_or_odd_suites_are_never_a_success() {
    let ecdhe = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384";
    let garbage_l2 = stand_in((ip(5, 1), 10443).into(), acceptor(ecdhe), Stand::Garbage);
    let cut_l2 = stand_in(
        (ip(5, 2), 10443).into(),
        acceptor(ecdhe),
        Stand::CutMidReply,
    );
    let garbage_tapo = stand_in((ip(5, 3), 8443).into(), acceptor(ecdhe), Stand::Garbage);
    let cut_tapo = stand_in((ip(5, 4), 8443).into(), acceptor(ecdhe), Stand::CutMidReply);
    // Finite-field DHE only: a suite the client does not offer.
    let no_suite = stand_in(
        (ip(5, 5), 10443).into(),
        acceptor("DHE-RSA-AES256-GCM-SHA384"),
        Stand::Garbage,
    );
    let dir = tempfile::tempdir().unwrap();
    let run_creds = creds(dir.path(), "run.toml", PASSWORD);
    let csv = format!(
        "id,host,model,mac,credentials\n\
         garbage-l2,{}:10443,EC60,74:FE:CE:47:05:01,office\n\
         cut-l2,{}:10443,EC60,74:FE:CE:47:05:02,office\n\
         garbage-tapo,{}:8443,C210,40:AE:30:47:05:03,office\n\
         cut-tapo,{}:8443,C210,40:AE:30:47:05:04,office\n\
         no-suite,{}:10443,KD110,74:FE:CE:47:05:05,office\n",
        ip(5, 1),
        ip(5, 2),
        ip(5, 3),
        ip(5, 4),
        ip(5, 5)
    );
    std::fs::write(dir.path().join("fleet.csv"), csv).unwrap();
    let out = common::fleetreset_in(dir.path())
        .args(run_args(
            "power-cycle",
            &[
                "--credentials",
                run_creds.to_str().unwrap(),
                "--max-auth-failures",
                "10",
            ],
        ))
        .output()
        .unwrap();
    let t = text(&out);
    assert_ne!(out.status.code(), Some(0), "{t}");
    assert!(
        !out.stdout.contains(&0x1b) && !out.stderr.contains(&0x1b),
        "{t}"
    );
    let rec = latest_run(&dir.path().join("fleetreset.db"));
    for (id, seen) in [
        ("garbage-l2", &garbage_l2),
        ("cut-l2", &cut_l2),
        ("garbage-tapo", &garbage_tapo),
        ("cut-tapo", &cut_tapo),
        ("no-suite", &no_suite),
    ] {
        let (outcome, reason, detail) = outcome_of(&rec, id);
        assert_ne!(outcome, Some(Outcome::Succeeded), "{id}: {detail}\n{t}");
        assert_eq!(
            outcome,
            Some(Outcome::Failed),
            "{id}: {reason:?} {detail}\n{t}"
        );
        assert_eq!(count(&rec, id, EventKind::Ack), 0, "{id}");
        assert_eq!(count(&rec, id, EventKind::Intent), 0, "{id}");
        // A probe is at most a few reads: no reboot could have been among them unprobed.
        let n = seen.load(std::sync::atomic::Ordering::SeqCst);
        assert!(n <= 4, "{id}: {n} requests\n{t}");
        eprintln!("{id}: {reason:?} {detail}");
    }
    let (_, _, detail) = outcome_of(&rec, "no-suite");
    assert!(
        detail.contains("TLS handshake failed: the device accepts no TLS version or cipher suite fleetreset offers"),
        "{detail}"
    );
}

/// Cameras whose firmware has no reboot (`button_only`): a Tapo camera refuses the method, a
/// Kasa camera answers the whole reboot module with an error. Neither is an acknowledgement:
/// no `ack` is recorded, nothing reboots (the journal), and neither job succeeds.
#[test]
fn a_camera_that_refuses_the_reboot_module_is_not_taken_as_an_acknowledgement() {
    let (bench, _keys, run_creds) = two_cameras(6, "button_only");
    let out = bench.output(&run_args(
        "power-cycle",
        &["--credentials", run_creds.to_str().unwrap()],
    ));
    let t = text(&out);
    assert_ne!(out.status.code(), Some(0), "{t}");
    let rec = latest_run(&bench.db());
    let journal = bench.journal();
    assert_truthful(&rec, &journal, true, "cameras without a reboot");
    assert!(journal.no_commands(), "{}", journal.text);
    for id in ["tapo-cam", "kasa-cam"] {
        let (outcome, reason, detail) = outcome_of(&rec, id);
        assert_ne!(outcome, Some(Outcome::Succeeded), "{id}: {detail}\n{t}");
        assert_eq!(
            count(&rec, id, EventKind::Ack),
            0,
            "{id}: {reason:?} {detail}\n{t}"
        );
        assert_eq!(
            count(&rec, id, EventKind::CommandFailed),
            1,
            "{id}: {detail}\n{t}"
        );
    }
    let (_, _, detail) = outcome_of(&rec, "kasa-cam");
    assert!(detail.contains("module not support"), "{detail}");
}

/// SIGKILL after the reboot's intent was recorded and before its answer came back (every reply
/// held back 2 s), then `resume`: the reboot may have arrived, so it is never sent again (one
/// reboot in the journal per camera at most), and no outcome claims more than was seen.
#[test]
fn a_camera_run_killed_between_intent_and_ack_never_sends_the_reboot_again() {
    let (bench, _keys, run_creds) = two_cameras(7, "slow=2000");
    let creds = run_creds.to_str().unwrap();
    let mut run = Bench::spawn(&mut bench.cmd(&run_args(
        "power-cycle",
        &[
            "--credentials",
            creds,
            "--request-timeout",
            "20",
            "--rate",
            "50",
        ],
    )));
    let db = bench.db();
    kill_when(&mut run, || {
        common::truth::count_events(&db, EventKind::Intent) >= 1
            && common::truth::count_events(&db, EventKind::Ack) == 0
            && bench.journal().reboots.values().sum::<usize>() >= 1
    });
    let before = bench.journal();
    let out = bench.output(&["resume", "latest", "--yes", "--credentials", creds]);
    let t = text(&out);
    let rec = latest_run(&db);
    let journal = bench.journal();
    assert!(
        rec.jobs.iter().all(|j| j.outcome.is_some()),
        "{:?}\n{t}",
        rec.jobs
    );
    assert_truthful(&rec, &journal, true, "killed between intent and ack");
    for id in ["tapo-cam", "kasa-cam"] {
        let intents = count(&rec, id, EventKind::Intent);
        let reboots = journal.reboots.get(id).copied().unwrap_or(0);
        assert!(
            reboots <= 1,
            "{id}: {reboots} reboots\n{}\n{t}",
            journal.text
        );
        assert!(intents <= 1 || reboots <= 1, "{id}");
        if before.reboots.contains_key(id) {
            // Sent before the kill: never again.
            assert_eq!(reboots, 1, "{id}\n{}\n{t}", journal.text);
        }
    }
}
