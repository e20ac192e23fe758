//! Runs whose jobs ended `manual_required`, built through the store's own API (`create_run`,
//! then outcomes through the `Writer`, as the engine records them), beside the inventory file
//! they were read from, for the `work-orders` and `confirm` CLI tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use fleetreset::model::{Action, Method, Outcome, Reason};
use fleetreset::store::{Db, NewJob, NewRun, Record, RunRecord, Writer};

/// One device of the run, and how its job ended.
#[derive(Debug, Clone)]
pub struct Dev {
    pub id: &'static str,
    pub host: String,
    pub model: &'static str,
    pub mac: Option<&'static str>,
    pub site: Option<&'static str>,
    pub unit: Option<&'static str>,
    pub notes: Option<&'static str>,
    pub credentials: Option<&'static str>,
    pub protocol: Option<&'static str>,
    pub outcome: Outcome,
}

impl Dev {
    pub fn manual(id: &'static str, host: String, model: &'static str) -> Dev {
        Dev {
            id,
            host,
            model,
            mac: None,
            site: None,
            unit: None,
            notes: None,
            credentials: None,
            protocol: None,
            outcome: Outcome::ManualRequired,
        }
    }

    pub fn at(self, site: &'static str, unit: &'static str) -> Dev {
        Dev {
            site: Some(site),
            unit: Some(unit),
            ..self
        }
    }
}

/// The inventory of `devs` as CSV (also what `fleetreset simulate` serves).
pub fn inventory_csv(devs: &[Dev]) -> String {
    let mut csv = String::from("id,host,model,mac,site,unit,credentials,protocol,notes\n");
    for d in devs {
        let quoted = |s: Option<&str>| format!("\"{}\"", s.unwrap_or("").replace('"', "\"\""));
        csv.push_str(&format!(
            "{},{},{},{},{},{},{},{},{}\n",
            d.id,
            d.host,
            d.model,
            d.mac.unwrap_or(""),
            quoted(d.site),
            quoted(d.unit),
            d.credentials.unwrap_or(""),
            d.protocol.unwrap_or(""),
            quoted(d.notes)
        ));
    }
    csv
}

/// Writes `dir/fleet.csv` and `dir/audit.db` holding run `run_id` of `action` over `devs`, every
/// job ended as its `outcome` says; returns the database's path.
pub fn manual_run(dir: &Path, run_id: &str, action: Action, devs: &[Dev]) -> PathBuf {
    let inventory = dir.join("fleet.csv");
    let text = inventory_csv(devs);
    std::fs::write(&inventory, &text).unwrap();
    let db_path = dir.join("audit.db");
    let mut db = Db::open(&db_path).unwrap();
    let run = NewRun {
        id: run_id.to_string(),
        action,
        inventory_path: inventory.display().to_string(),
        inventory_sha256: fleetreset::engine::execute::sha256_hex(text.as_bytes()),
        parameters: Default::default(),
        operator: "planner".to_string(),
        tool_version: "0.1.0".to_string(),
        started_at: chrono::Utc::now(),
    };
    let jobs: Vec<NewJob> = devs
        .iter()
        .enumerate()
        .map(|(n, d)| NewJob {
            device_id: d.id.to_string(),
            seq: n as u32,
            host: d.host.clone(),
            model: Some(d.model.to_string()),
            mac: d.mac.map(str::to_string),
            site: d.site.map(str::to_string),
            unit: d.unit.map(str::to_string),
            method: if d.outcome == Outcome::ManualRequired {
                Method::Manual
            } else {
                Method::Remote
            },
        })
        .collect();
    db.create_run(&run, &jobs).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(async {
        let (writer, task) = Writer::spawn(db, 64);
        for d in devs {
            let (reason, detail) = match d.outcome {
                Outcome::ManualRequired => (
                    Some(Reason::Unreachable),
                    "offline: a technician must reset it with its button".to_string(),
                ),
                Outcome::Succeeded => (None, "left the network within 3 s".to_string()),
                _ => (Some(Reason::DeviceError), "refused".to_string()),
            };
            writer
                .record_durable(Record::Outcome {
                    run_id: run_id.to_string(),
                    device_id: d.id.to_string(),
                    at: chrono::Utc::now(),
                    outcome: d.outcome,
                    reason,
                    detail,
                    attempts: 1,
                })
                .await
                .unwrap();
        }
        drop(writer);
        task.finish().await.unwrap()
    });
    drop(db);
    db_path
}

/// The run as the database holds it now.
pub fn load(db: &Path, run_id: &str) -> RunRecord {
    Db::open(db).unwrap().load_run(run_id).unwrap()
}

/// The outcome of `id` in `record`.
pub fn outcome(record: &RunRecord, id: &str) -> Option<Outcome> {
    record
        .jobs
        .iter()
        .find(|j| j.device_id == id)
        .unwrap()
        .outcome
}
