//! `fleetreset audit verify [--db PATH] [--run RUN] [--expect HEAD] [--json]`: recomputes the
//! hash chain of one run, or of every run, from the rows, and names the first record that was
//! edited, removed, reordered or inserted since it was written. With `--expect` (a head a
//! report or certificate printed), a chain cut short or rewritten from scratch is caught too.
//!
//! Exit 0 when every chain checked is intact, 1 when any is not, 2 for bad input.

use std::io::Write;

use anyhow::{Context, bail};

use super::super::report::resolve;
use super::super::runs::open_to_read;
use crate::cli::AuditVerifyArgs;
use crate::exit::Status;
use crate::inert::Inert;
use crate::store::ChainHead;
use crate::store::verify::{Expected, Verification};

pub fn run(args: &AuditVerifyArgs) -> anyhow::Result<Status> {
    // Read-only, and never migrated: checking a database must not change it.
    let db = open_to_read(&args.db)?;
    let expected: Option<Expected> = match &args.expect {
        Some(text) => Some(text.parse().map_err(anyhow::Error::msg)?),
        None => None,
    };
    let runs: Vec<String> = match &args.run {
        Some(query) => vec![resolve(&db, query, &args.db)?],
        None if expected.is_some() => {
            bail!("--expect names one run's head: give the run with --run")
        }
        None => db.verifiable_runs()?,
    };
    if runs.is_empty() {
        bail!("no runs recorded in {}", args.db.display());
    }
    let check = match &args.key {
        Some(path) => {
            let text = crate::signing::read_public_key(path)?;
            Some(crate::signing::checkpoint_check(text))
        }
        None => None,
    };
    let mut verdicts = Vec::with_capacity(runs.len());
    for run_id in &runs {
        let check = check
            .as_ref()
            .map(|c| c as &dyn Fn(&ChainHead, &str) -> bool);
        let verdict = db
            .verify_chain(run_id, expected.as_ref(), check)
            .with_context(|| format!("cannot read the audit chain of run {run_id}"))?;
        verdicts.push(verdict);
    }
    let text = if args.json {
        crate::report::json_inert(&verdicts)?
    } else {
        verdicts.iter().map(render).collect()
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(if verdicts.iter().all(Verification::intact) {
        Status::Success
    } else {
        Status::DeviceFailures
    })
}

/// The run as a verdict names it: its id, and in a merged audit the site it came from.
fn label(v: &Verification) -> String {
    match &v.site {
        Some(site) => format!("{} (site {})", Inert(&v.run_id), Inert(site)),
        None => Inert(&v.run_id).to_string(),
    }
}

/// One run's verdict for people: one line when intact, the first broken record then every
/// finding when not.
pub fn render(v: &Verification) -> String {
    let mut out = String::new();
    let head = v
        .head
        .as_ref()
        .map_or_else(|| "none".to_string(), ToString::to_string);
    if v.intact() {
        out.push_str(&format!(
            "run {}: intact, {} records, head {head}",
            label(v),
            v.head.as_ref().map_or(0, |h| h.records)
        ));
        if let Some(since) = v.since_expected {
            out.push_str(&format!(
                "; the expected head is in it, {since} records were added since"
            ));
            if !v.added.is_empty() {
                out.push_str(&format!(
                    " ({}{})",
                    v.added.join(", "),
                    if since as usize > v.added.len() {
                        ", …"
                    } else {
                        ""
                    }
                ));
            }
        }
        out.push_str(&format!(
            "; {} checkpoint{}",
            v.checkpoints,
            if v.checkpoints == 1 { "" } else { "s" }
        ));
        if v.signed_checkpoints > 0 {
            out.push_str(&format!(
                ", {} signed by the key given",
                v.signed_checkpoints
            ));
        }
        out.push('\n');
        return out;
    }
    let first = &v.problems[0];
    out.push_str(&format!(
        "run {}: BROKEN at record {}: {} {}: {}\n",
        label(v),
        first.position,
        first.record,
        first.tamper.as_str(),
        first.detail
    ));
    for p in &v.problems {
        out.push_str(&format!(
            "  record {}: {}: {}: {}\n",
            p.position,
            p.record,
            p.tamper.as_str(),
            p.detail
        ));
    }
    out.push_str(&format!("  chain head now: {head}\n"));
    out
}
