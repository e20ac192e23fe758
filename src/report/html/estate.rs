//! `estate.html`: a merged audit (`fleetreset audit merge`) on one page, for an estate of many
//! sites. Per site: its site files (the hash of the latest), its runs, its devices by outcome,
//! and whether every one of its runs' chains verified; then every site file and every run.
//!
//! The same page as `report.html` around it ([`super::page`]: the policy that forbids every
//! fetch, the inline style, no stored text outside element text), every stored string escaped
//! ([`escape`]).

use std::collections::BTreeMap;
use std::fmt::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::escape;
use super::page;
use crate::model::Outcome;
use crate::report::files;
use crate::report::local_time::Zone;
use crate::report::summary::{Tally, outcome_word, status_word};
use crate::store::RunRow;
use crate::store::merge::SourceRow;

/// The page's file name in its directory.
pub const FILE: &str = "estate.html";

/// Default directory of the page, under the reports' directory.
pub const DIR: &str = "estate";

/// A merged run, and whether its chain verified.
#[derive(Debug, Clone)]
pub struct EstateRun {
    pub run: RunRow,
    pub site: String,
    pub verified: bool,
}

/// What the page shows: the merged audit's site files, runs and jobs counted by site and
/// outcome.
#[derive(Debug, Clone)]
pub struct Estate {
    /// The merged database as given, for the heading.
    pub db: String,
    pub sources: Vec<SourceRow>,
    /// Newest merged first.
    pub runs: Vec<EstateRun>,
    /// `(site, outcome, jobs)`.
    pub outcomes: Vec<(String, Option<Outcome>, u32)>,
}

/// One site's row of the overview.
#[derive(Default)]
struct Site<'a> {
    sources: Vec<&'a SourceRow>,
    runs: usize,
    verified: usize,
    tally: Tally,
}

pub fn render(estate: &Estate, zone: Zone) -> String {
    let mut out = String::new();
    write(&mut out, estate, zone).expect("writing to a String never fails");
    out
}

fn write(out: &mut dyn Write, estate: &Estate, zone: Zone) -> fmt::Result {
    let mut sites: BTreeMap<&str, Site> = BTreeMap::new();
    for source in &estate.sources {
        sites.entry(&source.site).or_default().sources.push(source);
    }
    for r in &estate.runs {
        let site = sites.entry(&r.site).or_default();
        site.runs += 1;
        site.verified += usize::from(r.verified);
    }
    for (site, outcome, n) in &estate.outcomes {
        sites.entry(site).or_default().tally.add_n(*outcome, *n);
    }
    let db = escape(&estate.db);
    page::head(out, &format!("Estate: {db}"))?;
    writeln!(out, "<h1>Estate: {db}</h1>")?;
    let broken = estate.runs.iter().filter(|r| !r.verified).count();
    writeln!(
        out,
        "<p class=\"meta\">{} site(s) · {} site file(s) merged · {} run(s) · {}</p>",
        sites.len(),
        estate.sources.len(),
        estate.runs.len(),
        if broken == 0 {
            "every run's audit chain verified".to_string()
        } else {
            format!("<b>{broken} run(s) whose audit chain does not verify</b>")
        }
    )?;
    write_sites(out, &sites)?;
    write_sources(out, &estate.sources)?;
    write_runs(out, &estate.runs, &db, zone)?;
    page::tail(out)
}

fn write_sites(out: &mut dyn Write, sites: &BTreeMap<&str, Site>) -> fmt::Result {
    let columns: Vec<Option<Outcome>> = Tally::default().iter().map(|(o, _)| o).collect();
    writeln!(out, "<section id=\"sites\">")?;
    writeln!(out, "<h2>Sites</h2>")?;
    writeln!(out, "<table class=\"counts\" id=\"estate-sites\">")?;
    write!(
        out,
        "<tr><th>site</th><th>site files</th><th>latest file sha256</th><th class=\"n\">runs</th><th class=\"n\">devices</th>"
    )?;
    for o in &columns {
        write!(out, "<th class=\"n\">{}</th>", outcome_word(*o))?;
    }
    writeln!(out, "<th>chain verified</th></tr>")?;
    for (name, site) in sites {
        let latest = site.sources.last().map_or("-".to_string(), |s| {
            format!("<code>{}</code>", escape(&s.sha256))
        });
        write!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td><td>{latest}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>",
            escape(name),
            site.sources.len(),
            site.runs,
            site.tally.total()
        )?;
        for o in &columns {
            write!(out, "<td class=\"n\">{}</td>", site.tally.get(*o))?;
        }
        let verified = match (site.runs, site.runs - site.verified) {
            (0, _) => "- (no runs)".to_string(),
            (_, 0) => "yes".to_string(),
            (_, n) => format!("<b>no</b> ({n} of {} runs)", site.runs),
        };
        writeln!(out, "<td>{verified}</td></tr>")?;
    }
    writeln!(out, "</table>")?;
    writeln!(
        out,
        "<p class=\"note\">Devices are jobs: one per device per run. A run's chain is verified as <code>fleetreset audit verify</code> does, against the heads its site files had when they were merged.</p>"
    )?;
    writeln!(out, "</section>")
}

fn write_sources(out: &mut dyn Write, sources: &[SourceRow]) -> fmt::Result {
    writeln!(out, "<section id=\"sources\">")?;
    writeln!(out, "<h2>Site files</h2>")?;
    writeln!(out, "<table class=\"counts\" id=\"estate-sources\">")?;
    writeln!(
        out,
        "<tr><th class=\"n\">#</th><th>site</th><th>sha256</th><th>file as given</th><th>merged at (UTC)</th><th class=\"n\">runs</th></tr>"
    )?;
    for s in sources {
        writeln!(
            out,
            "<tr><td class=\"n\">{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
            s.id,
            escape(&s.site),
            escape(&s.sha256),
            escape(&s.path),
            escape(&s.merged_at),
            s.runs
        )?;
    }
    writeln!(out, "</table>")?;
    writeln!(out, "</section>")
}

fn write_runs(out: &mut dyn Write, runs: &[EstateRun], db: &str, zone: Zone) -> fmt::Result {
    writeln!(out, "<section id=\"runs\">")?;
    writeln!(out, "<h2>Runs</h2>")?;
    writeln!(out, "<table class=\"counts\" id=\"estate-runs\">")?;
    writeln!(
        out,
        "<tr><th>site</th><th>run</th><th>action</th><th>status</th><th>started</th><th class=\"n\">jobs</th><th class=\"n\">succeeded</th><th class=\"n\">failed</th><th class=\"n\">other</th><th>chain verified</th></tr>"
    )?;
    for r in runs {
        writeln!(
            out,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            escape(&r.site),
            escape(&r.run.id),
            r.run.action,
            status_word(r.run.status),
            zone.show(&r.run.started_at),
            r.run.jobs,
            r.run.succeeded,
            r.run.failed,
            r.run.other,
            if r.verified { "yes" } else { "<b>no</b>" }
        )?;
    }
    writeln!(out, "</table>")?;
    writeln!(
        out,
        "<p class=\"note\">Each run's own report: <code>fleetreset report RUN --db {db}</code>.</p>"
    )?;
    writeln!(out, "</section>")
}

/// Writes the page as `dir/estate.html` (owner-only, replaced atomically; `dir` created
/// owner-only, never a symbolic link) and returns its path.
pub fn write_file(dir: &Path, estate: &Estate) -> anyhow::Result<PathBuf> {
    files::refuse_symlinked_dir(dir)
        .and_then(|()| files::create_private_dir(dir))
        .with_context(|| format!("cannot create the report directory {}", dir.display()))?;
    let path = dir.join(FILE);
    files::write_private(&path, render(estate, Zone::Local).as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;
    use crate::model::Action;
    use crate::store::RunStatus;

    fn run(id: &str) -> RunRow {
        RunRow {
            id: id.into(),
            action: Action::PowerCycle,
            inventory_path: "fleet.csv".into(),
            inventory_sha256: "aa".into(),
            parameters: json!({}),
            operator: "op".into(),
            tool_version: "0".into(),
            started_at: chrono::Utc.timestamp_opt(1_795_000_000, 0).unwrap(),
            finished_at: None,
            status: RunStatus::Finished,
            jobs: 2,
            succeeded: 1,
            failed: 1,
            other: 0,
        }
    }

    fn source(id: i64, site: &str, sha: &str) -> SourceRow {
        SourceRow {
            id,
            site: site.into(),
            sha256: sha.into(),
            path: format!("sites/{site}/fleetreset.db"),
            merged_at: "2026-11-21T05:47:08.123Z".into(),
            runs: 1,
        }
    }

    #[test]
    fn each_site_has_its_latest_file_runs_outcomes_and_whether_its_chains_verify() {
        let hostile = "<img src=x onerror=alert(1)>";
        let estate = Estate {
            db: "estate.db".into(),
            sources: vec![
                source(1, "oak", "11"),
                source(2, hostile, "22"),
                source(3, "oak", "33"),
            ],
            runs: vec![
                EstateRun {
                    run: run("r-oak"),
                    site: "oak".into(),
                    verified: true,
                },
                EstateRun {
                    run: run("r-x"),
                    site: hostile.into(),
                    verified: false,
                },
            ],
            outcomes: vec![
                ("oak".into(), Some(Outcome::Succeeded), 1),
                ("oak".into(), Some(Outcome::Failed), 1),
                (hostile.into(), None, 2),
            ],
        };
        let page = render(
            &estate,
            Zone::Fixed(chrono::FixedOffset::east_opt(0).unwrap()),
        );
        let row = |site: &str| {
            page.lines()
                .find(|l| l.starts_with(&format!("<tr><td>{site}</td><td class=\"n\">")))
                .unwrap_or_else(|| panic!("no row of {site}: {page}"))
                .to_string()
        };
        let oak = row("oak");
        assert!(
            oak.starts_with(
                "<tr><td>oak</td><td class=\"n\">2</td><td><code>33</code></td><td class=\"n\">1</td><td class=\"n\">2</td><td class=\"n\">1</td><td class=\"n\">1</td>"
            ),
            "{oak}"
        );
        assert!(oak.ends_with("<td>yes</td></tr>"), "{oak}");
        let x = row("&lt;img src=x onerror=alert(1)&gt;");
        assert!(x.ends_with("<td><b>no</b> (1 of 1 runs)</td></tr>"), "{x}");
        assert!(!page.contains(hostile), "{page}");
        assert!(page.contains("<b>1 run(s) whose audit chain does not verify</b>"));
        assert!(page.contains(&format!("content=\"{}\"", page::policy())));
    }
}
