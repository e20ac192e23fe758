//! Issue 14: the Ansible role in `deploy/ansible/` rolls a power cycle over three sites, each
//! an inventory host with `ansible_connection=local`, its own working directory standing in for
//! the remote host and its own simulated fleet. ansible-core runs the real `site.yml` and
//! `merge.yml`; what each site's devices received is read from its simulator's journal, and
//! what fleetreset recorded from the databases the play fetched back.
//!
//! ansible-core 2.19.14 is installed on first use into a virtualenv under `target/tmp`: the
//! newest ansible-core whose controller runs on Python 3.11, the machine's Python (2.20 and
//! later need 3.12).
//!
//! Loopback plan: site-a 127.67.x.y, site-b 127.68.x.y, site-c 127.69.x.y, one second octet a
//! site; nothing else is addressed.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use common::truth::{Journal, assert_truthful, latest_run};
use common::{KillOnDrop, ip, simulate_file, text};
use rusqlite::Connection;

const ANSIBLE_CORE: &str = "2.19.14";
const USER: &str = "owner@example.com";
const PASSWORD: &str = "Ans1ble-site-PASSWORD-4711";
/// Devices a site; the first is the canary.
const DEVICES: usize = 4;

/// `ansible-playbook` in its virtualenv, installing it on first use.
fn ansible_playbook() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        common::venv::install(
            &format!("ansible-venv-{ANSIBLE_CORE}"),
            &format!("ansible-core=={ANSIBLE_CORE}"),
            |venv| Some(venv.join("bin/ansible-playbook")).filter(|bin| bin.exists()),
        )
    })
}

fn playbook(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/ansible")
        .join(name)
}

/// One site: its fleet's simulator, its journal, and the directory the role installs into.
struct Site {
    name: &'static str,
    /// The inventory the control node pushes (and the simulator serves).
    inventory: PathBuf,
    journal: PathBuf,
    /// The site host's fleetreset_home; the role makes it.
    home: PathBuf,
    claims: PathBuf,
    _sim: KillOnDrop,
}

impl Site {
    /// Two legacy HS110s and two KLAP P110s bound to the `office` account, on 127.`file`.1.x;
    /// `canary_fault` is the first device's simulator fault.
    fn start(
        root: &Path,
        name: &'static str,
        file: u8,
        canary_fault: &str,
        sim_creds: &Path,
    ) -> Site {
        let dir = root.join(format!("{name}-lan"));
        std::fs::create_dir(&dir).unwrap();
        let mut csv = String::from("id,host,model,mac,site,credentials,protocol,sim_fault\n");
        for n in 1..=DEVICES as u8 {
            let fault = if n == 1 { canary_fault } else { "" };
            let row = if n <= 2 {
                format!(
                    "p{n:02},{},HS110(EU),50:C7:BF:{file:02X}:01:{n:02X},{name},,iot,{fault}\n",
                    ip(file, 1, n)
                )
            } else {
                format!(
                    "p{n:02},{}:8080,P110(UK),48:22:54:{file:02X}:01:{n:02X},{name},office,klap,{fault}\n",
                    ip(file, 1, n)
                )
            };
            csv.push_str(&row);
        }
        let inventory = dir.join(format!("{name}.csv"));
        std::fs::write(&inventory, csv).unwrap();
        let journal = dir.join("journal.log");
        let sim = simulate_file(
            &inventory,
            &journal,
            &["--credentials", sim_creds.to_str().unwrap()],
        );
        Site {
            name,
            inventory,
            journal,
            home: root.join(format!("{name}-host")),
            claims: root.join(format!("{name}-claims")),
            _sim: sim,
        }
    }

    fn journal(&self) -> Journal {
        Journal::read(&self.journal)
    }

    fn ids(&self) -> Vec<String> {
        (1..=DEVICES).map(|n| format!("p{n:02}")).collect()
    }
}

/// The control node: the three sites, the credentials file it pushes, and where the play
/// fetches to.
struct Estate {
    root: tempfile::TempDir,
    sites: Vec<Site>,
    creds: PathBuf,
}

impl Estate {
    fn start() -> Estate {
        let root = tempfile::tempdir().unwrap();
        let sim_creds =
            common::office_credentials(root.path().join("sim-creds.toml"), USER, PASSWORD);
        let creds =
            common::office_credentials(root.path().join("credentials.toml"), USER, PASSWORD);
        // site-b is the one that fails: its canary reports another MAC than its inventory's.
        let sites = vec![
            Site::start(root.path(), "site-a", 67, "", &sim_creds),
            Site::start(
                root.path(),
                "site-b",
                68,
                "mac=50:C7:BF:44:01:99",
                &sim_creds,
            ),
            Site::start(root.path(), "site-c", 69, "", &sim_creds),
        ];
        for dir in ["ansible", "tmp"] {
            std::fs::create_dir(root.path().join(dir)).unwrap();
        }
        std::fs::write(root.path().join("ansible.cfg"), "").unwrap();
        let estate = Estate { root, sites, creds };
        estate.write_inventory();
        estate
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    fn sites_dir(&self) -> PathBuf {
        self.path("sites")
    }

    fn site(&self, name: &str) -> &Site {
        self.sites.iter().find(|s| s.name == name).unwrap()
    }

    /// A YAML inventory (written as JSON, which YAML reads): one host per site, group vars
    /// for what they share, the rehearsal's speed among them.
    fn write_inventory(&self) {
        let python = ansible_playbook().parent().unwrap().join("python");
        let mut hosts = serde_json::Map::new();
        for s in &self.sites {
            hosts.insert(
                s.name.to_string(),
                serde_json::json!({
                    "fleetreset_inventory_src": s.inventory,
                    "fleetreset_home": s.home,
                    "fleetreset_environment": {"FLEETRESET_LOCK_DIR": s.claims},
                }),
            );
        }
        let inventory = serde_json::json!({"sites": {
            "hosts": hosts,
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": python,
                "fleetreset_binary_src": env!("CARGO_BIN_EXE_fleetreset"),
                "fleetreset_credentials_src": self.creds,
                "fleetreset_action": "power-cycle",
                "fleetreset_canary": 1,
                "fleetreset_rate": 50,
                "fleetreset_time_scale": 0.01,
                "fleetreset_connect_timeout": 1,
                "fleetreset_request_timeout": 1,
                "fleetreset_operator": "ansible-test",
                "fleetreset_async_timeout": 120,
                "fleetreset_poll_interval": 1,
            },
        }});
        std::fs::write(
            self.path("hosts.yml"),
            serde_json::to_string_pretty(&inventory).unwrap(),
        )
        .unwrap();
    }

    /// `ansible-playbook -v --diff -i hosts.yml PLAYBOOK EXTRA…` (`--diff` would show a pushed
    /// file's contents where the role let it), with Ansible's own state (its temporary files,
    /// async job files, config) inside the test's directory.
    fn play(&self, name: &str, extra: &[&str]) -> Output {
        let vars = serde_json::json!({
            "fleetreset_sites_dir": self.sites_dir(),
            "fleetreset_control_binary": env!("CARGO_BIN_EXE_fleetreset"),
        });
        let ansible = self.path("ansible");
        Command::new(ansible_playbook())
            .current_dir(self.root.path())
            .env("ANSIBLE_CONFIG", self.path("ansible.cfg"))
            .env("ANSIBLE_HOME", &ansible)
            .env("ANSIBLE_LOCAL_TEMP", ansible.join("local"))
            .env("ANSIBLE_REMOTE_TEMP", ansible.join("remote"))
            .env("ANSIBLE_ASYNC_DIR", ansible.join("async"))
            .env("ANSIBLE_NOCOLOR", "1")
            // One process a task instead of a module file written first: quicker, same plays.
            .env("ANSIBLE_PIPELINING", "1")
            .env("LC_ALL", "C.UTF-8")
            .env("TMPDIR", self.path("tmp"))
            .args(["-v", "--diff", "-i", "hosts.yml"])
            .arg(playbook(name))
            .arg("-e")
            .arg(vars.to_string())
            .args(extra)
            .output()
            .unwrap()
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// (device, outcome, reason) of every job of `run` in the database at `db`, by inventory order.
fn jobs(db: &Path, run: &str) -> Vec<(String, String, Option<String>)> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT device_id, outcome, reason FROM jobs WHERE run_id = ?1 ORDER BY seq")
        .unwrap();
    stmt.query_map([run], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn run_ids(db: &Path) -> Vec<String> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn.prepare("SELECT id FROM runs ORDER BY id").unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn assert_no_password(what: &str, out: &Output) {
    for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(
            !String::from_utf8_lossy(bytes).contains(PASSWORD),
            "{what}'s {stream} shows the password"
        );
    }
}

/// Check mode: every site planned, and nothing sent, installed, recorded or fetched.
fn assert_check_mode_changed_nothing(estate: &Estate, out: &Output) {
    let t = text(out);
    assert_eq!(out.status.code(), Some(0), "--check: {t}");
    assert_no_password("ansible-playbook --check -v", out);
    let summary = format!(
        "\"msg\": \"{DEVICES} device(s) planned for power-cycle; 0 with warnings; nothing was sent\""
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.matches(&summary).count(),
        3,
        "every site planned: {t}"
    );
    for s in &estate.sites {
        let journal = s.journal();
        assert!(
            journal.text.is_empty(),
            "{}: check mode sent:\n{}",
            s.name,
            journal.text
        );
        assert!(
            !s.home.exists(),
            "{}: check mode made {}",
            s.name,
            s.home.display()
        );
    }
    assert!(
        !estate.sites_dir().exists(),
        "check mode fetched something: {t}"
    );
    let left: Vec<_> = std::fs::read_dir(estate.path("tmp")).unwrap().collect();
    assert!(left.is_empty(), "the plan's staging was left: {left:?}");
}

/// The role installed `site`: the binary, the inventory and the credentials, the secrets
/// owner-only.
fn assert_installed(estate: &Estate, s: &Site) {
    let name = s.name;
    assert_eq!(mode(&s.home), 0o700, "{name}");
    assert_eq!(mode(&s.home.join("bin/fleetreset")), 0o755, "{name}");
    assert_eq!(
        mode(&s.home.join(format!("inventory/{name}.csv"))),
        0o600,
        "{name}"
    );
    assert_eq!(mode(&s.home.join("private")), 0o700, "{name}");
    let creds = s.home.join("private/credentials.toml");
    assert_eq!(mode(&creds), 0o600, "{name}");
    assert_eq!(
        std::fs::read(&creds).unwrap(),
        std::fs::read(&estate.creds).unwrap()
    );
}

/// What the play fetched for `s`: its database as the site has it, holding one run (none
/// from check mode), that run's reports, and the run's own output. Returns the run id.
fn assert_fetched(estate: &Estate, s: &Site, t: &str) -> String {
    let name = s.name;
    let dir = estate.sites_dir().join(name);
    let db = dir.join("fleetreset.db");
    let fetched = std::fs::read(&db).unwrap_or_else(|e| panic!("{}: {e}\n{t}", db.display()));
    assert!(
        fetched == std::fs::read(s.home.join("fleetreset.db")).unwrap(),
        "{name}: the fetched database is not the site's"
    );
    assert!(!dir.join("fleetreset.db-wal").exists(), "{name}");
    let runs = run_ids(&db);
    assert_eq!(runs.len(), 1, "{name}: {runs:?}");
    let run = runs[0].clone();
    for report in [
        "summary.md",
        "devices.csv",
        "run.json",
        "report.html",
        "chain-head.txt",
    ] {
        let f = dir.join("reports").join(&run).join(report);
        assert!(f.is_file(), "{name}: no {}\n{t}", f.display());
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("last-run.json")).unwrap()).unwrap();
    assert_eq!(summary["run"], run.as_str(), "{name}: {summary}");
    assert!(dir.join("last-run.log").is_file(), "{name}");
    for f in files_under(&dir) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(PASSWORD),
            "{} holds the password",
            f.display()
        );
    }
    run
}

#[test]
fn three_sites_roll_one_at_a_time_stop_at_the_failed_canary_and_merge_into_one_audit() {
    let estate = Estate::start();

    let out = estate.play("site.yml", &["--check"]);
    assert_check_mode_changed_nothing(&estate, &out);

    // --- The run: serial 1, max_fail_percentage 0; site-b's canary fails. ----------------
    let out = estate.play("site.yml", &[]);
    let t = text(&out);
    // A failed host is ansible-playbook's 2; the play stopped there, before the merge.
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert_no_password("ansible-playbook -v", &out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains("site-c"),
        "site-c came after the failed site-b: {t}"
    );
    assert!(!stdout.contains("Merge the site databases"), "{t}");
    assert!(
        stdout.contains("stopped: a canary device failed (p01)"),
        "{t}"
    );

    let mut site_runs = Vec::new();
    for name in ["site-a", "site-b"] {
        let s = estate.site(name);
        assert_installed(&estate, s);
        let run = assert_fetched(&estate, s, &t);
        // What the devices received against what the run recorded (its chain verified).
        let journal = s.journal();
        let db = estate.sites_dir().join(name).join("fleetreset.db");
        assert_truthful(&latest_run(&db), &journal, true, name);
        assert!(journal.discoveries.is_empty(), "{name}: {}", journal.text);
        assert!(
            !journal.text.contains("login_failed"),
            "{name}: {}",
            journal.text
        );
        site_runs.push((name, run, db));
    }

    // site-a: every device power-cycled once, the KLAP ones with the pushed credentials.
    let (a, (_, a_run, a_db)) = (estate.site("site-a"), &site_runs[0]);
    let a_jobs = jobs(a_db, a_run);
    assert_eq!(a_jobs.len(), DEVICES, "{a_jobs:?}");
    for (id, outcome, reason) in a_jobs {
        assert_eq!(
            (outcome.as_str(), reason),
            ("succeeded", None),
            "site-a {id}"
        );
    }
    let journal = a.journal();
    for id in a.ids() {
        assert_eq!(
            journal.reboots.get(&id),
            Some(&1),
            "site-a {id}: {}",
            journal.text
        );
    }

    // site-b: the canary failed its identity check, so nothing was sent to it, and the run
    // stopped (exit 3) before any other device, which got nothing at all.
    let (b, (_, b_run, b_db)) = (estate.site("site-b"), &site_runs[1]);
    let b_jobs = jobs(b_db, b_run);
    let canary = (
        "p01".to_string(),
        "failed".to_string(),
        Some("identity_mismatch".to_string()),
    );
    assert_eq!(b_jobs[0], canary, "site-b");
    assert_eq!(b_jobs.len(), DEVICES, "{b_jobs:?}");
    for (id, outcome, reason) in &b_jobs[1..] {
        assert_eq!(
            (outcome.as_str(), reason.as_deref()),
            ("skipped", Some("threshold_reached")),
            "site-b {id}"
        );
    }
    let journal = b.journal();
    assert!(journal.no_commands(), "site-b: {}", journal.text);
    for id in &b.ids()[1..] {
        assert!(
            !journal.lines().iter().any(|l| &l.id == id),
            "site-b {id} got something: {}",
            journal.text
        );
    }
    let summary: serde_json::Value = serde_json::from_slice(
        &std::fs::read(estate.sites_dir().join("site-b/last-run.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["status"], "stopped", "{summary}");

    // site-c: never reached. Nothing sent, nothing installed, nothing fetched.
    let c = estate.site("site-c");
    assert!(c.journal().text.is_empty(), "site-c: {}", c.journal().text);
    assert!(!c.home.exists(), "site-c was installed");
    assert!(
        !estate.sites_dir().join("site-c").exists(),
        "site-c was fetched"
    );

    // --- Last: merge.yml merges the fetched databases into sites/estate.db and verifies
    // it. Needs `fleetreset audit merge` (issue 14, part 2, built on another branch).
    let out = estate.play("merge.yml", &[]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "merge.yml: {t}");
    assert_no_password("ansible-playbook merge.yml -v", &out);
    let estate_db = estate.sites_dir().join("estate.db");
    let verified = common::audit_db::verify(&estate_db, &[]);
    assert_eq!(verified.status.code(), Some(0), "{}", text(&verified));
    let conn = Connection::open(&estate_db).unwrap();
    let merged: Vec<(String, String)> = conn
        .prepare("SELECT site, run_id FROM merged_runs ORDER BY site")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let expected: Vec<_> = site_runs
        .iter()
        .map(|(site, run, _)| (site.to_string(), run.clone()))
        .collect();
    assert_eq!(
        merged, expected,
        "one run a fetched site, named by its directory"
    );
    let per_site: Vec<(String, String, Option<String>, i64)> = conn
        .prepare(
            "SELECT m.site, j.outcome, j.reason, COUNT(*) FROM jobs j \
             JOIN merged_runs m ON m.run_id = j.run_id \
             GROUP BY m.site, j.outcome, j.reason ORDER BY m.site, j.outcome",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let n = DEVICES as i64;
    let fact = |site: &str, outcome: &str, reason: Option<&str>, count| {
        (
            site.to_string(),
            outcome.to_string(),
            reason.map(str::to_string),
            count,
        )
    };
    assert_eq!(
        per_site,
        vec![
            fact("site-a", "succeeded", None, n),
            fact("site-b", "failed", Some("identity_mismatch"), 1),
            fact("site-b", "skipped", Some("threshold_reached"), n - 1),
        ]
    );
}

/// The role passes these flags; each must be one the binary it installs takes, so a renamed
/// option fails here rather than on a site at night.
#[test]
fn every_flag_the_role_passes_is_one_that_fleetreset_run_or_plan_takes() {
    let vars = std::fs::read_to_string(playbook("roles/fleetreset/vars/main.yml")).unwrap();
    let flags: Vec<&str> = vars.split('\'').filter(|w| w.starts_with("--")).collect();
    assert!(flags.len() >= 15, "{flags:?}");
    let help = |cmd: &str| {
        let out = common::fleetreset().args([cmd, "--help"]).output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let (run, plan) = (help("run"), help("plan"));
    let takes = |help: &str, flag: &str| {
        help.lines()
            .any(|l| l.trim_start().split([' ', ',', '=']).any(|w| w == flag))
    };
    for flag in flags {
        assert!(takes(&run, flag), "`fleetreset run` has no {flag}");
    }
    // What check mode's `plan` shares with the run.
    let shared = vars
        .split("_fleetreset_inventory_args:")
        .nth(1)
        .and_then(|s| s.split("\n\n").next())
        .unwrap();
    for flag in shared.split('\'').filter(|w| w.starts_with("--")) {
        assert!(takes(&plan, flag), "`fleetreset plan` has no {flag}");
    }
}
