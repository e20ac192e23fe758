//! `fleetreset audit merge`: site databases made the real way (the binary's `run`, `confirm`
//! against the simulator, each site in a directory of its own as Ansible's `fetch` lays them
//! out), merged into one audit, then read with `runs`, `history`, `report` and `audit verify`;
//! tampered site files, conflicts, older copies and a tampered merged audit refused or caught.
//!
//! Loopback 127.70.x.x–127.72.x.x: site `i` of a test at 127.(70+i).TEST.n.

mod common;
mod merge_sites;

use common::audit_db::{copy, query, tamper, verify};
use common::{REHEARSAL, text};
use merge_sites::{Estate, dump, stdout};
use rusqlite::Connection;
use serde_json::Value;

const THREE: [&str; 3] = [
    "sites/site-a/fleetreset.db",
    "sites/site-b/fleetreset.db",
    "sites/site-c/fleetreset.db",
];

#[test]
fn three_sites_merge_into_one_audit_that_verifies_lists_each_run_with_its_site_and_reports() {
    let e = Estate::start(1, &[("site-a", 2), ("site-b", 2), ("site-c", 1)]);
    let runs: Vec<String> = ["site-a", "site-b", "site-c"]
        .iter()
        .map(|s| e.run(s, &[]))
        .collect();
    let out = e.merge(&THREE);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let said = stdout(&out);
    for (site, run) in ["site-a", "site-b", "site-c"].iter().zip(&runs) {
        let head = common::audit_db::head(&e.site_db(site), run);
        assert!(
            said.contains(&format!(
                "{site} sites/{site}/fleetreset.db: merged as source "
            )),
            "{said}"
        );
        assert!(
            said.contains(&format!("  run {run}: added, head {head}\n")),
            "{said}"
        );
    }
    let estate = e.path("estate.db");
    // Three sites' events all began at id 1; each run verifies with its site's chain.
    let out = verify(&estate, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for (site, run) in ["site-a", "site-b", "site-c"].iter().zip(&runs) {
        let head = common::audit_db::head(&e.site_db(site), run);
        assert!(
            stdout(&out).contains(&format!("run {run} (site {site}): intact, ")),
            "{}",
            text(&out)
        );
        assert!(
            stdout(&out).contains(&format!("head {head};")),
            "{}",
            text(&out)
        );
    }

    let out = e.cmd(&["runs", "--db", "estate.db"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let table = stdout(&out);
    assert!(table.starts_with("ID  "), "{table}");
    assert!(table.lines().next().unwrap().contains(" SITE "), "{table}");
    for (site, run) in ["site-a", "site-b", "site-c"].iter().zip(&runs) {
        let line = table.lines().find(|l| l.starts_with(run.as_str())).unwrap();
        assert_eq!(line.split_whitespace().nth(1), Some(*site), "{table}");
    }
    let out = e.cmd(&["runs", "--db", "estate.db", "--json"]);
    let listed: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.len(), 3);
    assert!(listed.iter().all(|r| r["site"].is_string()), "{listed:?}");

    // plug-1 is at every site: its history names the site of each run.
    let out = e.cmd(&["history", "plug-1", "--db", "estate.db", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut sites: Vec<&str> = rows
        .iter()
        .map(|r| r["merged_site"].as_str().unwrap())
        .collect();
    sites.sort();
    assert_eq!(sites, ["site-a", "site-b", "site-c"]);
    let out = e.cmd(&["history", "plug-1", "--db", "estate.db"]);
    assert!(
        stdout(&out).starts_with("MERGED SITE  RUN "),
        "{}",
        text(&out)
    );

    // A merged run's report is its site's.
    let out = e.cmd(&["report", &runs[1], "--db", "estate.db", "--out", "merged-b"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let at_site = e.at_site("site-b", &["report", &runs[1], "--out", "own"]);
    assert_eq!(at_site.status.code(), Some(0), "{}", text(&at_site));
    let merged: Value =
        serde_json::from_slice(&std::fs::read(e.path("merged-b/run.json")).unwrap()).unwrap();
    let own: Value =
        serde_json::from_slice(&std::fs::read(e.path("sites/site-b/own/run.json")).unwrap())
            .unwrap();
    assert_eq!(merged, own);

    let out = e.cmd(&["report", "--estate", "--db", "estate.db"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(stdout(&out), "reports/estate/estate.html\n");
    let page = std::fs::read_to_string(e.path("reports/estate/estate.html")).unwrap();
    let sources: Vec<(String, String)> = Connection::open(&estate)
        .unwrap()
        .prepare("SELECT site, sha256 FROM sources ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(sources.len(), 3);
    for (site, sha) in &sources {
        assert!(
            page.contains(&format!(
                "<tr><td>{site}</td><td class=\"n\">1</td><td><code>{sha}</code></td>"
            )),
            "{page}"
        );
    }
    assert!(page.contains("every run's audit chain verified"), "{page}");
    assert!(page.contains("Content-Security-Policy"));
}

#[test]
fn merging_the_same_site_files_again_changes_nothing() {
    let e = Estate::start(2, &[("site-a", 1), ("site-b", 1)]);
    e.run("site-a", &[]);
    e.run("site-b", &[]);
    let two = &THREE[..2];
    let out = e.merge(two);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let estate = e.path("estate.db");
    let before = (dump(&estate), std::fs::read(&estate).unwrap());
    let out = e.merge(two);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        stdout(&out)
            .lines()
            .filter(|l| l.ends_with(", nothing changed"))
            .count(),
        2,
        "{}",
        text(&out)
    );
    assert_eq!((dump(&estate), std::fs::read(&estate).unwrap()), before);
}

#[test]
fn a_tampered_site_database_is_refused_whole_with_its_finding_and_the_merged_audit_is_unchanged() {
    let e = Estate::start(3, &[("site-a", 1), ("site-b", 2)]);
    e.run("site-a", &[]);
    let run_b = e.run("site-b", &[]);
    let out = e.merge(&THREE[..1]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let estate = e.path("estate.db");
    let before = dump(&estate);
    // What a tamperer with sqlite3 does: the outcome made to look better, triggers dropped.
    let (_keep, tampered) = copy(&e.site_db("site-b"), "fleetreset.db");
    tamper(
        &tampered,
        "UPDATE jobs SET outcome = 'failed', reason = 'timeout' WHERE device_id = 'plug-2'",
    );
    let arg = format!("site-b={}", tampered.display());
    let out = e.merge(&[&arg]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = stdout(&out);
    assert!(
        said.starts_with(&format!(
            "site-b {}: REFUSED (broken): run {run_b} does not verify: record ",
            tampered.display()
        )),
        "{said}"
    );
    assert!(
        said.contains("the outcome of job plug-2 (failed) edited: the row differs"),
        "{said}"
    );
    assert_eq!(dump(&estate), before);
}

#[test]
fn a_run_id_already_merged_from_another_site_refuses_that_site_file() {
    let e = Estate::start(4, &[("site-a", 1), ("site-d", 1)]);
    let run_a = e.run("site-a", &[]);
    // Site d's database began as a copy of site a's, then recorded its own run.
    let (_keep, seeded) = copy(&e.site_db("site-a"), "seed.db");
    std::fs::copy(&seeded, e.site_db("site-d")).unwrap();
    let run_d = e.run("site-d", &[]);
    let out = e.merge(&["sites/site-a/fleetreset.db"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let estate = e.path("estate.db");
    let before = dump(&estate);
    let out = e.merge(&["sites/site-d/fleetreset.db"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "site-d sites/site-d/fleetreset.db: REFUSED (other_site): run {run_a} is already in the merged audit from site site-a\n"
        )
    );
    assert_eq!(dump(&estate), before);
    let merged: i64 = query(
        &estate,
        &format!("SELECT COUNT(*) FROM runs WHERE id = '{run_d}'"),
    );
    assert_eq!(merged, 0);
}

#[test]
fn a_site_confirmed_after_the_merge_is_brought_up_to_date_and_an_older_copy_is_refused_as_cut_short()
 {
    let e = Estate::start(5, &[("site-a", 2)]);
    let run = e.run("site-a", &["--method", "manual"]);
    let site = e.site_db("site-a");
    // A backup taken before the confirmation (`VACUUM INTO`, as `sqlite3 .backup` would): the
    // same records in other bytes, which the site is later rolled back to.
    let (_keep, old) = copy(&site, "site-a.db");
    assert_ne!(std::fs::read(&old).unwrap(), std::fs::read(&site).unwrap());
    let out = e.merge(&["sites/site-a/fleetreset.db"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let merged_head = common::audit_db::head(&e.path("estate.db"), &run);

    // At the site, after the fetch: the technician's work is confirmed.
    let out = e.at_site(
        "site-a",
        &["confirm", &run, "plug-1", "--by", "Ana", "--no-verify"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = e.merge(&["sites/site-a/fleetreset.db"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let records: u64 = merged_head.split(':').next().unwrap().parse().unwrap();
    let now = common::audit_db::head(&site, &run);
    assert!(
        stdout(&out).contains(&format!(
            "  run {run}: brought up to date from {records} records, head {now}\n"
        )),
        "{}",
        text(&out)
    );
    let estate = e.path("estate.db");
    let out = verify(&estate, &["--expect", &merged_head, "--run", &run]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let outcome: String = query(
        &estate,
        "SELECT outcome FROM jobs WHERE device_id = 'plug-1'",
    );
    assert_eq!(outcome, "manual_confirmed");

    // The copy fetched before the confirmation: a rollback, refused.
    let before = dump(&estate);
    let arg = format!("site-a={}", old.display());
    let out = e.merge(&[&arg]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stdout(&out).contains(&format!(
            "REFUSED (shorter): its chain of run {run} has {records} records, the merged audit's copy {}",
            now.split(':').next().unwrap()
        )),
        "{}",
        text(&out)
    );
    assert_eq!(dump(&estate), before);
}

#[test]
fn a_merged_audit_refuses_run_resume_confirm_and_audit_sample_and_sends_nothing() {
    let e = Estate::start(6, &[("site-a", 1)]);
    let run = e.run("site-a", &[]);
    let out = e.merge(&["sites/site-a/fleetreset.db"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let estate = e.path("estate.db");
    let estate_arg = estate.to_str().unwrap();
    let before = (dump(&estate), e.journal_lines());
    let mut run_args = vec!["run", "fleet.csv", "--action", "power-cycle", "--yes"];
    run_args.extend_from_slice(REHEARSAL);
    run_args.extend(["--db", estate_arg]);
    for (what, args) in [
        ("run", run_args),
        ("resume", vec!["resume", &run, "--db", estate_arg, "--yes"]),
        (
            "confirm",
            vec![
                "confirm",
                &run,
                "plug-1",
                "--by",
                "Ana",
                "--no-verify",
                "--db",
                estate_arg,
            ],
        ),
        (
            "audit sample",
            vec![
                "audit",
                "sample",
                &run,
                "--percent",
                "50",
                "--verifier",
                "Bea",
                "--db",
                estate_arg,
            ],
        ),
        (
            "certificates",
            vec!["certificates", &run, "--unsigned", "--db", estate_arg],
        ),
    ] {
        let out = e.at_site("site-a", &args);
        assert_eq!(out.status.code(), Some(2), "{what}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(
                "is a merged audit (`fleetreset audit merge`), an archive of site databases"
            ) && err.contains(&format!("`{what}` writes to a site's own database")),
            "{what}: {}",
            text(&out)
        );
    }
    assert_eq!((dump(&estate), e.journal_lines()), before);
}

#[test]
fn tampering_with_the_merged_audit_after_the_merge_is_caught_by_audit_verify() {
    let e = Estate::start(7, &[("site-a", 2), ("site-b", 1)]);
    let run_a = e.run("site-a", &[]);
    e.run("site-b", &[]);
    let out = e.merge(&THREE[..2]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let estate = e.path("estate.db");
    for (sql, finding) in [
        (
            format!(
                "UPDATE jobs SET outcome = 'failed', reason = 'timeout' WHERE run_id = '{run_a}' AND device_id = 'plug-1'"
            ),
            "the outcome of job plug-1 (failed) edited",
        ),
        // An event given another id at its site: the chain no longer finds it.
        (
            format!(
                "UPDATE event_origins SET site_event_id = site_event_id + 1000 WHERE id = (SELECT MAX(e.id) FROM events e WHERE e.run_id = '{run_a}')"
            ),
            "inserted",
        ),
        // The run's chain cut short and its checkpoint deleted: the head the merge recorded
        // reaches beyond it.
        (
            format!(
                "DELETE FROM checkpoints WHERE run_id = '{run_a}'; DELETE FROM chain WHERE run_id = '{run_a}' AND n > 3"
            ),
            "source 1 (site-a, sha256 ",
        ),
        // A forged event given a genuine one's site id, and a row id before it.
        (
            format!(
                "INSERT INTO events (id, run_id, device_id, at, state, kind, detail)
                 SELECT 0, run_id, device_id, at, state, kind, json_set(detail, '$.forged', 1)
                 FROM events WHERE id = (SELECT MIN(id) FROM events WHERE run_id = '{run_a}');
             INSERT INTO event_origins (id, site_event_id)
                 SELECT 0, site_event_id FROM event_origins
                 WHERE id = (SELECT MIN(id) FROM events WHERE run_id = '{run_a}' AND id > 0)"
            ),
            "a second row holds this event's id",
        ),
        (
            "UPDATE merged_runs SET site = 'site-b'".to_string(),
            "the merged audit says it is from site site-b",
        ),
    ] {
        let (_keep, copy) = copy(&estate, "estate.db");
        tamper(&copy, &sql);
        let out = verify(&copy, &[]);
        assert_eq!(out.status.code(), Some(1), "{sql}: {}", text(&out));
        assert!(
            stdout(&out).contains(&format!("run {run_a} (site ")) && stdout(&out).contains(finding),
            "{sql}: {}",
            text(&out)
        );
    }
}

#[test]
fn bad_site_names_missing_files_and_a_site_s_own_database_as_the_merged_one_are_refused_with_exit_2()
 {
    let e = Estate::start(8, &[("site-a", 1)]);
    e.run("site-a", &[]);
    for (arg, said) in [
        ("a/b=sites/site-a/fleetreset.db", "has a `/`"),
        ("=sites/site-a/fleetreset.db", "can't be empty"),
        (
            "bad\u{1b}[2J=sites/site-a/fleetreset.db",
            "is not printable",
        ),
        ("fleetreset.db", "give it as NAME=fleetreset.db"),
        (
            "sites/nowhere/fleetreset.db",
            "cannot read sites/nowhere/fleetreset.db",
        ),
    ] {
        let out = e.merge(&["sites/site-a/fleetreset.db", arg]);
        assert_eq!(out.status.code(), Some(2), "{arg:?}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(said), "{arg:?}: {}", text(&out));
        assert!(!err.contains('\u{1b}'), "{err:?}");
        assert!(stdout(&out).is_empty(), "{}", text(&out));
    }
    assert!(!e.path("estate.db").exists());
    // A site's own database is no merged audit: refused, and left as it was.
    let own = e.site_db("site-a");
    let before = std::fs::read(&own).unwrap();
    let (_keep, other) = copy(&own, "fleetreset.db");
    let out = e.cmd(&[
        "audit",
        "merge",
        own.to_str().unwrap(),
        &format!("x={}", other.display()),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("has runs of its own"),
        "{}",
        text(&out)
    );
    assert_eq!(std::fs::read(&own).unwrap(), before);
}
