//! What a run or resume must hold before its first packet leaves, so that every problem that
//! would stop it later stops it now, with exit 2 and nothing sent:
//!
//! - the database's lock: **one active run or resume per database**, since two runs over the
//!   same database would both act on its devices ([`crate::store::lock`]);
//! - the audit database, open and ours (a file that isn't a fleetreset database, or one whose
//!   write-ahead log lost committed records, is refused by [`Db::open`]);
//! - a claim on every device it may act on, machine-wide, so that a run on another database
//!   over the same devices can't act on them at the same time ([`super::claims`]);
//! - room for what it will write: the database's directory and the run's report directory
//!   writable, with space for the records and reports of every job;
//! - a database that is not a merged audit ([`refuse_archive`]).

use std::collections::HashSet;
use std::net::ToSocketAddrs;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::inert::Inert;
use crate::inventory::{Device, Host};
use crate::store::Db;
use crate::store::lock::{self, DbLock};

use super::claims::{self, Claim, Origin, Settled};

/// What the records of one job take, about: a dozen events and two snapshots of a few KiB,
/// in the database and again in the reports.
pub const BYTES_PER_JOB: u64 = 16 * 1024;

/// Room the database and the reports need before the first job, whatever the fleet's size.
pub const BYTES_FLOOR: u64 = 1024 * 1024;

/// The database, its lock and the device claims, held for the life of a run.
#[derive(Debug)]
pub struct Guard {
    pub db: Db,
    /// The database's path as given, for the claims' origin.
    db_path: PathBuf,
    hold: Hold,
}

/// The lock and the claims, without the database: what a run keeps while the writer owns
/// the database. Released when dropped.
#[derive(Debug)]
pub struct Hold {
    _lock: DbLock,
    claims: Vec<Claim>,
    /// Every key `claims` hold.
    claimed: HashSet<String>,
    /// The report directory the preflight created, removed again if the run never wrote into
    /// it (it was refused after the preflight, or failed before its reports).
    created_reports: Option<PathBuf>,
}

impl Hold {
    /// The run ends with commands whose outcome it never recorded (a second signal dropped
    /// jobs in flight, or judgements were still waiting): its claims stay on disk when it
    /// releases them, so that no run on another database acts on those devices before this
    /// run is resumed.
    pub fn keep_claims(&mut self) {
        self.claims.iter_mut().for_each(Claim::keep_on_release);
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        if let Some(dir) = &self.created_reports {
            // Removes only an empty directory.
            let _ = std::fs::remove_dir(dir);
        }
    }
}

impl Guard {
    /// Takes the lock of the database at `db_path` for `purpose` (`run …`, `resume …`), which
    /// the lock file names for anyone refused, then opens the database.
    pub fn lock(db_path: &Path, purpose: &str) -> anyhow::Result<Guard> {
        // The lock first: the checks of the database's state in `Db::open` mean something
        // only while no other fleetreset is writing to it.
        let lock = lock::acquire_db(db_path, purpose)?;
        let db = Db::open(db_path)
            .with_context(|| format!("opening the audit database {}", db_path.display()))?;
        refuse_archive(&db, db_path, purpose.split(' ').next().unwrap_or(purpose))?;
        Ok(Guard {
            db,
            db_path: db_path.to_path_buf(),
            hold: Hold {
                _lock: lock,
                claims: Vec::new(),
                claimed: HashSet::new(),
                created_reports: None,
            },
        })
    }

    /// Claims `devices` for run `run_id` of this database, machine-wide, by MAC and by
    /// address: a run on another database that holds any of them is refused, and so are we
    /// while it runs, or after it crashed with commands whose outcome it never recorded
    /// (until it is resumed).
    pub fn claim(&mut self, devices: &[&Device], run_id: &str, holder: &str) -> anyhow::Result<()> {
        // A second claim (devices discovery moved) adds only what the first lacks: our own
        // live claim would otherwise refuse us.
        let keys: Vec<String> = claim_keys(devices)
            .into_iter()
            .filter(|k| !self.hold.claimed.contains(k))
            .collect();
        if keys.is_empty() {
            return Ok(());
        }
        let origin = Origin {
            run_id,
            db: &self.db_path,
        };
        // A stale claim of this very database is judged on the connection we hold: a second
        // open of the file (a raw read of its `-shm`, then another connection) would drop
        // this process's POSIX locks on it, and another process could then reset the shared
        // memory under our connection (SIGBUS).
        let own = std::fs::canonicalize(&self.db_path).ok();
        let db = &self.db;
        let mut judge = |run: &str, path: &Path| {
            if own.is_some() && std::fs::canonicalize(path).ok() == own {
                settled_in(db, run)
            } else {
                settled(run, path)
            }
        };
        let claim = claims::claim(&claims::default_dir(), holder, &origin, &keys, &mut judge)?;
        self.hold.claims.push(claim);
        self.hold.claimed.extend(keys);
        Ok(())
    }

    /// Checks there is room for `jobs` jobs' records in the database and for the reports in
    /// `reports_dir` (the run's own directory, created here if missing).
    pub fn preflight(&mut self, reports_dir: &Path, jobs: usize) -> anyhow::Result<()> {
        let need = BYTES_FLOOR + BYTES_PER_JOB.saturating_mul(jobs as u64);
        self.db.preflight(need)?;
        let existed = reports_dir.exists();
        crate::report::preflight(reports_dir, need).with_context(|| {
            format!("the reports can't be written to {}", reports_dir.display())
        })?;
        if !existed {
            self.hold.created_reports = Some(reports_dir.to_path_buf());
        }
        Ok(())
    }

    /// The devices among `devices` that another run of this database may have sent a command
    /// and has no outcome for: that run crashed, or was stopped at once by a second signal,
    /// after recording the intent (whatever its status says: nobody else holds the lock we
    /// hold now, so none is still working). Nothing may act on them before `resume` of that
    /// run has judged them. Matched by MAC or by address (in canonical form, without a port);
    /// `except` is the run being resumed, whose own open jobs are its business. Each entry
    /// says which run.
    pub fn unresolved_intents(
        &self,
        devices: &[&Device],
        except: Option<&str>,
    ) -> anyhow::Result<Vec<String>> {
        Ok(self
            .unresolved(devices, except)?
            .into_iter()
            .map(|(line, _)| line)
            .collect())
    }

    /// [`Guard::unresolved_intents`], each with the id of its run.
    fn unresolved(
        &self,
        devices: &[&Device],
        except: Option<&str>,
    ) -> anyhow::Result<Vec<(String, String)>> {
        let macs: HashSet<String> = devices
            .iter()
            .filter_map(|d| d.mac.map(|m| m.to_string()))
            .collect();
        let hosts: HashSet<String> = devices.iter().flat_map(|d| address_keys(&d.host)).collect();
        let open = self
            .db
            .open_commands(None)
            .context("looking for commands other runs left open")?;
        let found = open
            .iter()
            .filter(|j| Some(j.run_id.as_str()) != except)
            .filter(|j| {
                let theirs = match j.host.parse::<Host>() {
                    Ok(h) => address_keys(&h),
                    Err(_) => vec![j.host.clone()],
                };
                j.mac.as_ref().is_some_and(|m| macs.contains(m))
                    || theirs.iter().any(|a| hosts.contains(a))
            })
            .map(|j| {
                let line = format!(
                    "{} ({}) in run {}",
                    Inert(&j.device_id),
                    Inert(&j.host),
                    j.run_id
                );
                (line, j.run_id.clone())
            })
            .collect();
        Ok(found)
    }

    /// An error when any of `devices` has a command from another run of this database that
    /// ended without recording its outcome ([`Guard::unresolved_intents`]): nothing may be sent
    /// to them until `resume` of that run has judged them. The error lists them and says how
    /// to go on.
    pub fn refuse_unresolved(
        &self,
        devices: &[&Device],
        except: Option<&str>,
    ) -> anyhow::Result<()> {
        let unresolved = self.unresolved(devices, except)?;
        if unresolved.is_empty() {
            return Ok(());
        }
        let mut runs: Vec<&str> = unresolved.iter().map(|(_, run)| run.as_str()).collect();
        runs.sort_unstable();
        runs.dedup();
        let commands: Vec<String> = runs
            .iter()
            .map(|run_id| {
                crate::hint::Resume {
                    run_id,
                    db: &self.db_path,
                    reports_dir: None,
                    credentials: None,
                    rediscover: None,
                }
                .command()
            })
            .collect();
        const SHOWN: usize = 10;
        let mut list: Vec<String> = unresolved
            .iter()
            .take(SHOWN)
            .map(|(u, _)| format!("  {u}"))
            .collect();
        if unresolved.len() > SHOWN {
            list.push(format!("  … and {} more", unresolved.len() - SHOWN));
        }
        Err(crate::exit::Early::refused(format!(
            "{} device(s) have a command from another run of this database that ended without recording its outcome: \
             it may have arrived. Resume {} first (`{}`), so it is judged and never sent twice. Nothing was sent.\n{}",
            unresolved.len(),
            if runs.len() == 1 { "that run" } else { "those runs" },
            commands.join("`, `"),
            list.join("\n")
        ))
        .into())
    }

    /// The database, for the writer, and what must stay held until the run ends.
    pub fn into_parts(self) -> (Db, Hold) {
        (self.db, self.hold)
    }
}

/// Refuses `what` (`run`, `resume`, `confirm`, `audit sample`) on a merged audit (`fleetreset
/// audit merge`), exit 2: it is an archive of site databases, and a record written to it would
/// be in no site's chain. Checked before anything is sent.
pub fn refuse_archive(db: &Db, path: &Path, what: &str) -> anyhow::Result<()> {
    let merged = db
        .is_merged()
        .with_context(|| format!("reading the audit database {}", path.display()))?;
    if merged {
        return Err(crate::exit::Early::refused(format!(
            "{} is a merged audit (`fleetreset audit merge`), an archive of site databases: `{what}` writes to a site's own database, then merge that again; nothing was sent or recorded",
            path.display()
        ))
        .into());
    }
    Ok(())
}

/// What a host is known by, without its port: an IP in canonical form (`::ffff:10.0.0.1` is
/// 10.0.0.1); a host name in lower case without a trailing dot, and every address it resolves
/// to now, so that `plug.lan` and its IP are one device. A name that doesn't resolve is known
/// by its name alone.
pub fn address_keys(host: &Host) -> Vec<String> {
    if host.ip().is_some() {
        return vec![host.canonical_name()];
    }
    let name = host.canonical_name().trim_end_matches('.').to_owned();
    let mut keys: Vec<String> = (name.as_str(), host.port_or(9999))
        .to_socket_addrs()
        .map(|addrs| addrs.map(|a| a.ip().to_canonical().to_string()).collect())
        .unwrap_or_default();
    keys.push(name);
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Whether run `run_id` of the database at `db` (which ended without releasing its claim) left
/// commands without an outcome: read without changing the file. A database that can't be read,
/// or has no such run, can't tell.
fn settled(run_id: &str, db: &Path) -> Settled {
    let db = match Db::open_to_read(db) {
        Ok(db) => db,
        Err(e) => return Settled::Unknown(format!("{e:#}")),
    };
    settled_in(&db, run_id)
}

/// [`settled`], on a database already open.
fn settled_in(db: &Db, run_id: &str) -> Settled {
    // A database that doesn't hold the run can't say it has nothing open.
    match db.resolve_run_id(run_id) {
        Ok(id) if id == run_id => {}
        _ => return Settled::Unknown(format!("it holds no run {run_id}")),
    }
    match db.open_commands(Some(run_id)) {
        Ok(open) if open.is_empty() => Settled::Yes,
        Ok(_) => Settled::No,
        Err(e) => Settled::Unknown(e.to_string()),
    }
}

/// The claim keys of `devices`: each device's MAC and its addresses ([`address_keys`]), so
/// that two inventories naming one device either way collide.
pub fn claim_keys(devices: &[&Device]) -> Vec<String> {
    let mut keys: Vec<String> = devices
        .iter()
        .flat_map(|d| {
            let mac = d.mac.map(|m| format!("mac {m}"));
            let hosts = address_keys(&d.host)
                .into_iter()
                .map(|a| format!("host {a}"));
            mac.into_iter().chain(hosts)
        })
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(host: &str, port: Option<u16>, mac: Option<&str>) -> Device {
        Device {
            host: Host {
                name: host.into(),
                port,
            },
            mac: mac.map(|m| m.parse().unwrap()),
            ..Device::bare("d", host)
        }
    }

    #[test]
    fn a_device_is_claimed_by_its_mac_and_by_its_address_whatever_the_port_or_spelling() {
        let a = device("127.0.0.1", Some(9999), Some("50-c7-bf-00-00-01"));
        let b = device("Lab-Plug.invalid.", None, None);
        assert_eq!(
            claim_keys(&[&a, &b]),
            [
                "host 127.0.0.1",
                "host lab-plug.invalid",
                "mac 50:C7:BF:00:00:01"
            ]
        );
        let same = device("127.0.0.1", None, None);
        assert_eq!(claim_keys(&[&a, &same]).len(), 2);
    }

    #[test]
    fn a_host_name_is_known_by_the_addresses_it_resolves_to_as_well() {
        let keys = address_keys(&Host {
            name: "LOCALHOST".into(),
            port: Some(9999),
        });
        assert!(keys.contains(&"localhost".to_string()), "{keys:?}");
        assert!(keys.contains(&"127.0.0.1".to_string()), "{keys:?}");
        let mapped = address_keys(&Host {
            name: "::ffff:127.0.0.1".into(),
            port: None,
        });
        assert_eq!(mapped, ["127.0.0.1"]);
    }
}
