use super::*;
use crate::engine::plan::plan;
use crate::inventory::Device;
use crate::model::Action;
use crate::store::{Db, NewJob, NewRun};

#[tokio::test]
async fn work_orders_are_recorded_before_anything_starts_and_never_reach_the_scheduler() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Db::open(&dir.path().join("audit.db")).unwrap();
    let rows = [
        Device {
            model: Some("KC100".into()),
            ..Device::bare("cam", "10.0.0.1")
        },
        Device {
            model: Some("HS110".into()),
            ..Device::bare("plug", "10.0.0.2")
        },
    ];
    let jobs = plan(&rows, Action::FactoryReset);
    let new_jobs: Vec<NewJob> = jobs.iter().map(super::super::execute::new_job).collect();
    db.create_run(
        &NewRun {
            id: "r1".into(),
            action: Action::FactoryReset,
            inventory_path: "lab.csv".into(),
            inventory_sha256: "00".into(),
            parameters: Default::default(),
            operator: "op".into(),
            tool_version: "0".into(),
            started_at: chrono::Utc::now(),
        },
        &new_jobs,
    )
    .unwrap();
    let (writer, task) = Writer::spawn(db, 8);
    let env = JobEnv {
        run_id: "r1".into(),
        writer: writer.clone(),
        config: RunConfig {
            action: Action::FactoryReset,
            limits: Default::default(),
            timeouts: Default::default(),
            time_scale: 1.0,
            method: Default::default(),
        },
        allow_unverified_identity: true,
        addresses: Addresses::default(),
        off_outlets: Default::default(),
    };
    let work = jobs.into_iter().map(|j| (j, Mode::Fresh)).collect();
    let (scheduled, orders) = settle_work_orders(&env, work).await;
    let ids: Vec<&str> = scheduled
        .iter()
        .map(|(_, (j, _))| j.device.id.as_str())
        .collect();
    assert_eq!(ids, ["plug"], "only the remote job takes a slot");
    let orders: Vec<(usize, JobResult)> = orders.into_iter().map(Result::unwrap).collect();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].0, 0);
    assert_eq!(orders[0].1.outcome, Outcome::ManualRequired);
    drop(env);
    drop(writer);
    let db = task.finish().await.unwrap();
    let record = db.load_run("r1").unwrap();
    let cam = record.jobs.iter().find(|j| j.device_id == "cam").unwrap();
    assert_eq!(cam.outcome, Some(Outcome::ManualRequired));
    assert_eq!((cam.attempts, cam.started_at), (0, None));
    let plug = record.jobs.iter().find(|j| j.device_id == "plug").unwrap();
    assert_eq!(plug.outcome, None, "not settled here");
}
