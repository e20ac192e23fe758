//! A test bench for runs against the simulator: a working directory with the inventory, a
//! simulator that journals what every device receives, and a claims directory of the test's
//! own, so tests running in parallel never see each other's device claims.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::truth::{Journal, count_events};
use super::{KillOnDrop, Simulate};

pub struct Bench {
    pub dir: tempfile::TempDir,
    locks: tempfile::TempDir,
    journal: PathBuf,
    _sim: Simulate,
}

impl Bench {
    /// Serves `sim_csv` and writes `inventory` (often the same rows, but the simulator may
    /// serve devices the inventory doesn't list) as `fleet.csv`.
    pub fn start(sim_csv: &str, inventory: &str) -> Bench {
        Bench::start_with(sim_csv, inventory, &[])
    }

    /// [`Bench::start`] with more `simulate` arguments (a `--credentials` file).
    pub fn start_with(sim_csv: &str, inventory: &str, sim_args: &[&str]) -> Bench {
        let dir = tempfile::tempdir().unwrap();
        let locks = tempfile::tempdir().unwrap();
        let journal = dir.path().join("journal.log");
        let mut args = vec!["--journal", journal.to_str().unwrap()];
        args.extend_from_slice(sim_args);
        let sim = Simulate::start_with(sim_csv, &args);
        std::fs::write(dir.path().join("fleet.csv"), inventory).unwrap();
        Bench {
            dir,
            locks,
            journal,
            _sim: sim,
        }
    }

    /// `fleetreset ARGS` in the bench's directory, with the bench's claims directory.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = super::fleetreset_in(self.dir.path());
        cmd.args(args).env("FLEETRESET_LOCK_DIR", self.locks.path());
        cmd
    }

    pub fn output(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Starts `cmd` with its output thrown away.
    pub fn spawn(cmd: &mut Command) -> KillOnDrop {
        KillOnDrop(
            cmd.stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    }

    /// The default database, or another one in the bench's directory.
    pub fn db(&self) -> PathBuf {
        self.path("fleetreset.db")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// What the devices have received so far.
    pub fn journal(&self) -> Journal {
        Journal::read(&self.journal)
    }

    pub fn journal_path(&self) -> &Path {
        &self.journal
    }
}

/// Waits until the database at `db` holds `n` events of `kind`.
pub fn wait_for_events(db: &Path, kind: impl Into<fleetreset::model::StoredKind>, n: usize) {
    let kind = kind.into();
    let deadline = Instant::now() + Duration::from_secs(30);
    while count_events(db, kind) < n {
        assert!(
            Instant::now() < deadline,
            "no {n} {kind} events in {}",
            db.display()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// SIGKILLs `child` once `ready` says so. Panics if it ends first.
pub fn kill_when(child: &mut KillOnDrop, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(
            child.0.try_wait().unwrap().is_none(),
            "the process ended before the kill point"
        );
        assert!(Instant::now() < deadline, "the kill point never came");
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.0.kill(); // SIGKILL: no handler runs, nothing is flushed.
    let _ = child.0.wait();
}

/// Waits for `child` to exit on its own and returns its exit code.
pub fn exit_code(child: &mut KillOnDrop) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            return status.code();
        }
        assert!(Instant::now() < deadline, "the process did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `run fleet.csv --action ACTION --yes` at rehearsal speed, then `extra`. Each of time scale
/// 0.01, 1 s timeouts and 50 jobs a second holds unless `extra` gives its flag.
pub fn run_args<'a>(action: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    run_args_on("fleet.csv", action, extra)
}

/// [`run_args`] on another inventory file of the bench.
pub fn run_args_on<'a>(file: &'a str, action: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["run", file, "--action", action, "--yes"];
    for (flag, value) in [
        ("--time-scale", "0.01"),
        ("--connect-timeout", "1"),
        ("--request-timeout", "1"),
        ("--rate", "50"),
    ] {
        if !extra.contains(&flag) {
            args.extend([flag, value]);
        }
    }
    args.extend_from_slice(extra);
    args
}
