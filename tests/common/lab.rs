//! The lab the login tests share (KLAP, AES, TPAP): a simulator serving a fleet bound to the
//! `office` account with the right password, a temp dir the run works in, and the simulator's
//! journal of what each device saw.

use std::path::{Path, PathBuf};
use std::process::Output;

use super::Simulate;
use fleetreset::store::{Db, RunRecord};

pub const USER: &str = "owner@example.com";
/// Distinctive, so a leak anywhere is found by a plain byte search.
pub const PASSWORD: &str = "Zq7-unique-PASSWORD-4711";

pub fn creds_file(dir: &Path, name: &str, password: &str) -> PathBuf {
    super::office_credentials(dir.join(name), USER, password)
}

pub struct Lab {
    _sim: Simulate,
    dir: tempfile::TempDir,
    /// The inventory the simulator serves, header and all.
    served: String,
}

/// Serves `rows` (after the header `id,host,model,mac,credentials,protocol,sim_fault`) with
/// the right password; the run reads the same rows.
pub fn lab(rows: &str) -> Lab {
    lab_with(rows, rows)
}

/// Serves `served` and gives the run `asked`: the same devices, with the protocol column as
/// the run's inventory has it.
pub fn lab_with(served: &str, asked: &str) -> Lab {
    let header = "id,host,model,mac,credentials,protocol,sim_fault\n";
    let dir = tempfile::tempdir().unwrap();
    let sim_creds = creds_file(dir.path(), "sim-credentials.toml", PASSWORD);
    let journal = dir.path().join("journal.log");
    let csv = format!("{header}{served}");
    let sim = Simulate::start_with(
        &csv,
        &[
            "--credentials",
            sim_creds.to_str().unwrap(),
            "--journal",
            journal.to_str().unwrap(),
        ],
    );
    std::fs::write(dir.path().join("fleet.csv"), format!("{header}{asked}")).unwrap();
    Lab {
        _sim: sim,
        dir,
        served: csv,
    }
}

impl Lab {
    pub fn run(&self, password: &str, extra: &[&str]) -> Output {
        self.run_command(password, extra).output().unwrap()
    }

    /// `fleetreset run fleet.csv` at rehearsal speed, with `password` in the run's credentials
    /// file.
    pub fn run_command(&self, password: &str, extra: &[&str]) -> std::process::Command {
        let mut cmd = self.command(password, &["run", "fleet.csv"]);
        cmd.args(["--time-scale", "0.01", "--connect-timeout", "2"])
            .args(["--request-timeout", "2", "--rate", "20"])
            .args(extra);
        cmd
    }

    /// `fleetreset resume latest --yes`, with `password` in the run's credentials file.
    pub fn resume_command(&self, password: &str) -> std::process::Command {
        self.command(password, &["resume", "latest", "--yes"])
    }

    fn command(&self, password: &str, head: &[&str]) -> std::process::Command {
        let creds = creds_file(self.dir.path(), "run-credentials.toml", password);
        let mut cmd = super::fleetreset();
        cmd.current_dir(self.dir.path())
            .args(head)
            .args(["--credentials", creds.to_str().unwrap()]);
        cmd
    }

    pub fn latest(&self) -> RunRecord {
        let db = Db::open(&self.dir.path().join("fleetreset.db")).unwrap();
        db.load_run(&db.resolve_run_id("latest").unwrap()).unwrap()
    }

    pub fn journal_count(&self, id: &str, what: &str) -> usize {
        std::fs::read_to_string(self.dir.path().join("journal.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| {
                let mut p = l.split_whitespace().skip(1);
                p.next() == Some(id) && p.next() == Some(what)
            })
            .count()
    }

    /// Every journal line of device `id`: what it saw, in order.
    pub fn journal_of(&self, id: &str) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("journal.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let mut p = l.split_whitespace().skip(1);
                (p.next() == Some(id)).then(|| p.next().unwrap_or_default().to_string())
            })
            .collect()
    }

    /// The inventory the simulator serves, header and all.
    pub fn served(&self) -> &str {
        &self.served
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("fleetreset.db")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}
