//! `fleetreset audit merge OUT.db SITE.db… [--key PUB]`: merges sites' audit databases into
//! one, keyed by site ([`crate::store::merge`]). Each site file is verified before anything is
//! taken from it, then merged whole or refused whole with the reason; merging a file again
//! changes nothing.
//!
//! stdout: a line per site file (merged, already merged, or refused and why), and a line per
//! run of a merged file. Exit 0 when every file merged (or was merged before), 1 when any was
//! refused, 2 for bad input (a site name, a missing file, a database that is not fleetreset's
//! or has runs of its own) before anything is merged.

mod sites;

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use crate::cli::AuditMergeArgs;
use crate::exit::{Early, Status};
use crate::inert::Inert;
use crate::output::say;
use crate::store::merge::{How, Merge, SiteFile};
use crate::store::{ChainHead, Db, lock};

/// The arguments, checked: the site files, and the key to check signatures with.
struct Config {
    sites: Vec<SiteFile>,
    key: Option<String>,
}

fn config(args: &AuditMergeArgs) -> anyhow::Result<Config> {
    let sites = args
        .sites
        .iter()
        .map(|a| sites::parse(a, Path::exists))
        .collect::<Result<Vec<_>, String>>()
        .map_err(Early::refused)?;
    let out = std::fs::canonicalize(&args.out).ok();
    for site in &sites {
        let shown = Inert(&site.path.to_string_lossy()).to_string();
        match std::fs::metadata(&site.path) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => return Err(Early::refused(format!("{shown} is not a file")).into()),
            Err(e) => return Err(Early::refused(format!("cannot read {shown}: {e}")).into()),
        }
        if out.is_some() && std::fs::canonicalize(&site.path).ok() == out {
            return Err(Early::refused(format!(
                "{shown} is the merged database itself; give the merged database first, then the site files"
            ))
            .into());
        }
    }
    let key = args
        .key
        .as_deref()
        .map(crate::signing::read_public_key)
        .transpose()
        .map_err(|e| Early::refused(format!("{e:#}")))?;
    Ok(Config { sites, key })
}

pub fn run(args: &AuditMergeArgs) -> anyhow::Result<Status> {
    let config = config(args)?;
    let out = &args.out;
    // One merge (or run) on the merged database at a time.
    let _lock = lock::acquire_db(out, "audit merge")?;
    if out.exists() {
        // Looked at read-only first: a site's own database is refused unchanged, not migrated.
        let own = Db::open_to_read(out)?.own_runs()?;
        if !own.is_empty() {
            return Err(Early::refused(format!(
                "{} has runs of its own ({}): it is a site's database, not a merged audit; merge into a new file",
                out.display(),
                own.iter().map(|r| Inert(r).to_string()).collect::<Vec<_>>().join(", ")
            ))
            .into());
        }
    }
    let mut db =
        Db::open(out).with_context(|| format!("opening the merged audit {}", out.display()))?;
    let check = config.key.map(crate::signing::checkpoint_check);
    let check = check
        .as_ref()
        .map(|c| c as &dyn Fn(&ChainHead, &str) -> bool);
    let (mut merged, mut refused) = (0, 0);
    for site in &config.sites {
        let outcome = db
            .merge_site(site, check, chrono::Utc::now())
            .with_context(|| {
                format!(
                    "merging {} into {}",
                    Inert(&site.path.to_string_lossy()),
                    out.display()
                )
            })?;
        match outcome {
            Merge::Refused(_) => refused += 1,
            _ => merged += 1,
        }
        // Each file's verdict as soon as it is known: a long merge shows its progress.
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(render(site, &outcome).as_bytes())?;
        stdout.flush()?;
    }
    say!(
        "fleetreset: {merged} of {} site file(s) merged into {}{}",
        config.sites.len(),
        out.display(),
        if refused > 0 {
            format!("; {refused} refused, nothing of them written")
        } else {
            String::new()
        }
    );
    Ok(if refused > 0 {
        Status::DeviceFailures
    } else {
        Status::Success
    })
}

/// What merging one file did, for people: one line, then a line per run of a merged file.
fn render(site: &SiteFile, outcome: &Merge) -> String {
    let file = format!(
        "{} {}",
        Inert(&site.site),
        Inert(&site.path.to_string_lossy())
    );
    match outcome {
        Merge::Refused(refusal) => format!("{file}: REFUSED ({}): {refusal}\n", refusal.as_str()),
        Merge::AlreadyMerged(known) => format!(
            "{file}: already merged as source {} of site {} at {}, nothing changed\n",
            known.id,
            Inert(&known.site),
            Inert(&known.merged_at)
        ),
        Merge::Merged {
            source,
            sha256,
            runs,
        } => {
            let count = |how| runs.iter().filter(|r| r.how == how).count();
            let mut out = format!(
                "{file}: merged as source {source} (sha256 {sha256}): {} run(s) added, {} brought up to date, {} unchanged\n",
                count(How::Added),
                count(How::Extended),
                count(How::Unchanged)
            );
            for r in runs {
                let how = match r.how {
                    How::Added => "added".to_string(),
                    How::Extended => format!("brought up to date from {} records", r.had),
                    How::Unchanged => "unchanged".to_string(),
                };
                out.push_str(&format!(
                    "  run {}: {how}, head {}\n",
                    Inert(&r.head.run_id),
                    r.head
                ));
            }
            out
        }
    }
}
