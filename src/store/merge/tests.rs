//! Site databases built through the store's own API (a run created, its events and outcomes
//! through the writer, its end, a resume and a confirmation at the site), merged into one.

mod sites;

use std::path::Path;

use rusqlite::Connection;

use self::sites::{job, resume_and_confirm, site, t};
use super::*;
use crate::model::{Action, Method, Outcome};
use crate::store::NewRun;

fn file(site: &str, path: &Path) -> SiteFile {
    SiteFile {
        site: site.into(),
        path: path.to_path_buf(),
    }
}

fn merge(out: &Path, site: &str, path: &Path) -> Merge {
    Db::open(out)
        .unwrap()
        .merge_site(&file(site, path), None, t(100))
        .unwrap()
}

/// Every row of every table, as text: what "nothing changed" compares.
fn dump(path: &Path) -> String {
    let conn = Connection::open(path).unwrap();
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
        out.push_str(&format!("{table}\n{}\n", rows.join("\n")));
    }
    out
}

fn head(path: &Path, run_id: &str) -> ChainHead {
    Db::open_to_read(path)
        .unwrap()
        .chain_head(run_id)
        .unwrap()
        .unwrap()
}

fn intact(out: &Path, run_id: &str) -> crate::store::verify::Verification {
    let v = Db::open_to_read(out)
        .unwrap()
        .verify_chain(run_id, None, None)
        .unwrap();
    assert!(v.intact(), "{v:?}");
    v
}

fn refusal(merge: Merge) -> Refusal {
    match merge {
        Merge::Refused(r) => r,
        other => panic!("not refused: {other:?}"),
    }
}

#[tokio::test]
async fn two_sites_whose_event_ids_collide_merge_and_each_run_verifies_as_at_its_site() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (
        site(dir.path(), "site-a", "ra").await,
        site(dir.path(), "site-b", "rb").await,
    );
    let out = dir.path().join("estate.db");
    for (name, path) in [("site-a", &a), ("site-b", &b)] {
        let Merge::Merged { runs, .. } = merge(&out, name, path) else {
            panic!("{name} not merged")
        };
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].how, How::Added);
    }
    for (run, path, name) in [("ra", &a, "site-a"), ("rb", &b, "site-b")] {
        let v = intact(&out, run);
        assert_eq!(v.head.as_ref(), Some(&head(path, run)));
        assert_eq!(v.site.as_deref(), Some(name));
        assert_eq!(v.checkpoints, 1);
        // The reports name each event as its site does.
        let site_ids: Vec<i64> = Db::open(path)
            .unwrap()
            .load_run(run)
            .unwrap()
            .events
            .iter()
            .map(|e| e.id)
            .collect();
        let merged_ids: Vec<i64> = Db::open(&out)
            .unwrap()
            .load_run(run)
            .unwrap()
            .events
            .iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(merged_ids, site_ids);
    }
    let conn = Connection::open(&out).unwrap();
    let (events, origins, distinct): (i64, i64, i64) = conn
        .query_row(
            "SELECT (SELECT COUNT(*) FROM events), (SELECT COUNT(*) FROM event_origins),
                    (SELECT COUNT(DISTINCT site_event_id) FROM event_origins)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(events, origins);
    assert!(distinct < origins, "both sites' event ids start at 1");
    let db = Db::open(&out).unwrap();
    assert!(db.is_merged().unwrap());
    assert!(db.own_runs().unwrap().is_empty());
    assert_eq!(db.sources().unwrap().len(), 2);
}

#[tokio::test]
async fn the_same_file_merged_again_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let a = site(dir.path(), "site-a", "ra").await;
    let out = dir.path().join("estate.db");
    assert!(matches!(merge(&out, "site-a", &a), Merge::Merged { .. }));
    let before = (dump(&out), std::fs::read(&out).unwrap());
    let Merge::AlreadyMerged(known) = merge(&out, "site-a", &a) else {
        panic!("merged twice")
    };
    assert_eq!(
        (known.id, known.site.as_str(), known.runs),
        (1, "site-a", 1)
    );
    assert_eq!((dump(&out), std::fs::read(&out).unwrap()), before);
}

#[tokio::test]
async fn a_run_resumed_and_confirmed_at_its_site_after_the_merge_is_brought_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let a = site(dir.path(), "site-a", "ra").await;
    let out = dir.path().join("estate.db");
    merge(&out, "site-a", &a);
    let had = head(&out, "ra").records;
    resume_and_confirm(&a, "ra", "Ana").await;
    let Merge::Merged { runs, .. } = merge(&out, "site-a", &a) else {
        panic!("not merged")
    };
    assert_eq!((runs[0].how, runs[0].had), (How::Extended, had));
    let v = intact(&out, "ra");
    assert_eq!(v.head.as_ref(), Some(&head(&a, "ra")));
    assert_eq!(v.checkpoints, 3);
    let merged = Db::open(&out).unwrap().load_run("ra").unwrap();
    let at_site = Db::open(&a).unwrap().load_run("ra").unwrap();
    assert_eq!(merged, at_site);
    assert_eq!(merged.jobs[0].outcome, Some(Outcome::ManualConfirmed));
    assert_eq!(merged.jobs[1].outcome, Some(Outcome::Succeeded));
    assert_eq!(Db::open(&out).unwrap().sources().unwrap().len(), 2);
}

#[tokio::test]
async fn an_older_copy_of_a_site_file_is_refused_as_shorter_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let a = site(dir.path(), "site-a", "ra").await;
    let old = dir.path().join("old.db");
    std::fs::copy(&a, &old).unwrap();
    resume_and_confirm(&a, "ra", "Ana").await;
    let out = dir.path().join("estate.db");
    merge(&out, "site-a", &a);
    let before = dump(&out);
    let r = refusal(merge(&out, "site-a", &old));
    assert!(
        matches!(&r, Refusal::Shorter { run_id, records, merged }
            if run_id == "ra" && records < merged),
        "{r:?}"
    );
    assert_eq!(dump(&out), before);
}

#[tokio::test]
async fn a_file_whose_chain_parts_from_the_merged_copy_is_refused_where_they_part() {
    let dir = tempfile::tempdir().unwrap();
    let a = site(dir.path(), "site-a", "ra").await;
    let other = dir.path().join("other").join("fleetreset.db");
    std::fs::create_dir_all(other.parent().unwrap()).unwrap();
    std::fs::copy(&a, &other).unwrap();
    let had = head(&a, "ra").records;
    resume_and_confirm(&a, "ra", "Ana").await;
    resume_and_confirm(&other, "ra", "Bea").await;
    let out = dir.path().join("estate.db");
    merge(&out, "site-a", &a);
    let r = refusal(merge(&out, "site-a", &other));
    assert!(
        matches!(r, Refusal::Diverged { at, .. } if at > had),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_run_already_merged_from_another_site_refuses_the_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    let a = site(dir.path(), "site-a", "ra").await;
    // Site b's database began as a copy of site a's, then ran its own run.
    let b = dir.path().join("site-b").join("fleetreset.db");
    std::fs::create_dir_all(b.parent().unwrap()).unwrap();
    std::fs::copy(&a, &b).unwrap();
    Db::open(&b)
        .unwrap()
        .create_run(
            &NewRun {
                id: "rb".into(),
                action: Action::PowerCycle,
                inventory_path: "fleet.csv".into(),
                inventory_sha256: "bb".into(),
                parameters: Default::default(),
                operator: "op".into(),
                tool_version: "0".into(),
                started_at: t(50),
            },
            &[job("plug", 0, Method::Remote)],
        )
        .unwrap();
    let out = dir.path().join("estate.db");
    merge(&out, "site-a", &a);
    let before = dump(&out);
    let r = refusal(merge(&out, "site-b", &b));
    assert_eq!(
        r.to_string(),
        "run ra is already in the merged audit from site site-a"
    );
    assert_eq!(dump(&out), before);
    assert!(Db::open(&out).unwrap().chain_head("rb").unwrap().is_none());
}

#[tokio::test]
async fn a_merged_copy_edited_after_the_merge_is_not_brought_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let a = site(dir.path(), "site-a", "ra").await;
    let out = dir.path().join("estate.db");
    merge(&out, "site-a", &a);
    Connection::open(&out)
        .unwrap()
        .execute_batch(
            "DROP TRIGGER jobs_outcome_is_final;
             UPDATE jobs SET detail = 'edited' WHERE device_id = 'manual';",
        )
        .unwrap();
    resume_and_confirm(&a, "ra", "Ana").await;
    let r = refusal(merge(&out, "site-a", &a));
    assert!(
        matches!(&r, Refusal::CopyBroken { problem, .. } if problem.record.contains("manual")),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_tampered_site_file_is_refused_with_its_first_finding_and_a_merged_audit_as_a_source() {
    let dir = tempfile::tempdir().unwrap();
    let a = site(dir.path(), "site-a", "ra").await;
    let b = site(dir.path(), "site-b", "rb").await;
    Connection::open(&b)
        .unwrap()
        .execute_batch(
            "DROP TRIGGER jobs_outcome_is_final;
             UPDATE jobs SET outcome = 'failed', reason = 'timeout' WHERE device_id = 'plug';",
        )
        .unwrap();
    let out = dir.path().join("estate.db");
    merge(&out, "site-a", &a);
    let before = dump(&out);
    let r = refusal(merge(&out, "site-b", &b));
    assert!(
        matches!(&r, Refusal::Broken { run_id, problem }
            if run_id == "rb" && problem.record.contains("plug")),
        "{r:?}"
    );
    assert_eq!(dump(&out), before);
    let nested = dir.path().join("nested.db");
    assert_eq!(refusal(merge(&nested, "estate", &out)), Refusal::Merged);
}
