//! Sites' databases for the `audit merge` tests, made the real way: each site in a directory of
//! its own under `sites/` (as Ansible's `fetch` lays them out) with its inventory, runs of the
//! binary against one simulator serving every site's devices.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use rusqlite::Connection;

use super::common::audit_db::query;
use super::common::{REHEARSAL, Simulate, fleetreset_in, text};

/// Sites of one test: their directories under `sites/`, and one simulator serving them all.
pub struct Estate {
    dir: tempfile::TempDir,
    journal: PathBuf,
    _sim: Simulate,
}

impl Estate {
    /// Sites `(name, n)`: site `i` has `n` HS110 plugs `plug-1`, `plug-2`, … (the same ids at
    /// every site) at 127.(70+i).`test`.1…n.
    pub fn start(test: u8, sites: &[(&str, u8)]) -> Estate {
        let dir = tempfile::tempdir().unwrap();
        let header = "id,host,model,mac\n";
        let mut all = String::from(header);
        for (i, (name, n)) in sites.iter().enumerate() {
            let octet = 70 + i as u8;
            let mut csv = String::from(header);
            for d in 1..=*n {
                let device = format!(
                    "127.{octet}.{test}.{d},HS110(EU),50:C7:BF:{octet:02X}:{test:02X}:{d:02X}\n"
                );
                csv.push_str(&format!("plug-{d},{device}"));
                // The simulator's one inventory needs ids of its own.
                all.push_str(&format!("{name}-plug-{d},{device}"));
            }
            let site = dir.path().join("sites").join(name);
            std::fs::create_dir_all(&site).unwrap();
            std::fs::write(site.join("fleet.csv"), csv).unwrap();
        }
        let journal = dir.path().join("journal.log");
        let sim = Simulate::start_with(&all, &["--journal", journal.to_str().unwrap()]);
        Estate {
            dir,
            journal,
            _sim: sim,
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn site_db(&self, site: &str) -> PathBuf {
        self.path(&format!("sites/{site}/fleetreset.db"))
    }

    /// `fleetreset ARGS` in the site's directory.
    pub fn at_site(&self, site: &str, args: &[&str]) -> Output {
        fleetreset_in(&self.path(&format!("sites/{site}")))
            .args(args)
            .output()
            .unwrap()
    }

    /// A power cycle of the site's inventory, at rehearsal speed; its run id.
    pub fn run(&self, site: &str, extra: &[&str]) -> String {
        let mut args = vec!["run", "fleet.csv", "--action", "power-cycle", "--yes"];
        args.extend_from_slice(REHEARSAL);
        args.extend_from_slice(extra);
        let out = self.at_site(site, &args);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{site}: {}",
            text(&out)
        );
        query(
            &self.site_db(site),
            "SELECT id FROM runs ORDER BY rowid DESC LIMIT 1",
        )
    }

    /// `fleetreset ARGS` in the estate's directory.
    pub fn cmd(&self, args: &[&str]) -> Output {
        fleetreset_in(self.dir.path()).args(args).output().unwrap()
    }

    pub fn merge(&self, sites: &[&str]) -> Output {
        let mut args = vec!["audit", "merge", "estate.db"];
        args.extend_from_slice(sites);
        self.cmd(&args)
    }

    pub fn journal_lines(&self) -> usize {
        std::fs::read_to_string(&self.journal).map_or(0, |j| j.lines().count())
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every row of every table, sorted, as text: what "nothing changed" compares.
pub fn dump(db: &Path) -> String {
    let conn = Connection::open(db).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut out = String::new();
    for table in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM {table}")).unwrap();
        let n = stmt.column_count();
        let mut rows: Vec<String> = stmt
            .query_map([], |r| {
                Ok((0..n)
                    .map(|i| format!("{:?}", r.get::<_, rusqlite::types::Value>(i).unwrap()))
                    .collect::<Vec<_>>()
                    .join("|"))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        rows.sort();
        out.push_str(&format!("{table}: {}\n{}\n", rows.len(), rows.join("\n")));
    }
    out
}
