//! The run's bundle: every certificate, every device that has none and why, the verifier's
//! sample, and the chain head they all rest on.

use super::build::{self, Context, TOOL};
use super::evidence::when;
use super::model::{Bundle, NotSanitized, RunSummary, SignerInfo, Tool};
use super::sample;
use crate::model::{Action, Method, Outcome};
use crate::report::local_time::Zone;
use crate::report::status_word;
use crate::store::{ChainHead, JobRow, RunRecord};

/// The bundle of `record`'s run, resting on the audit chain `head`, written by fleetreset
/// `tool_version`, to be signed by `signer` (`None`: unsigned).
///
/// A power-cycle run restarts devices and erases nothing: its bundle has no certificate, lists
/// every device as not sanitized and says so ([`Bundle::sanitizes`] is false). Whether to write
/// such a bundle is the caller's choice; `fleetreset certificates` refuses to.
pub fn build(
    record: &RunRecord,
    head: &ChainHead,
    tool_version: &str,
    signer: Option<SignerInfo>,
) -> Bundle {
    build_in(record, head, tool_version, signer, Zone::Local)
}

/// [`build`], with local times shown in `zone`.
pub(crate) fn build_in(
    record: &RunRecord,
    head: &ChainHead,
    tool_version: &str,
    signer: Option<SignerInfo>,
    zone: Zone,
) -> Bundle {
    let run = &record.run;
    let sanitizes = run.action == Action::FactoryReset;
    let sample = if sanitizes {
        sample::summary(record, zone)
    } else {
        None
    };
    let cx = Context {
        record,
        head,
        tool_version,
        signer: signer.as_ref(),
        sample: sample.as_ref(),
        zone,
    };
    let mut jobs: Vec<&JobRow> = record.jobs.iter().collect();
    jobs.sort_by_key(|j| j.seq);
    let mut certificates = Vec::new();
    let mut not_sanitized = Vec::new();
    for job in jobs {
        // A device the verifier found still set up (bound, or with its old alias) was not
        // sanitized, whatever the run concluded: no certificate says otherwise.
        let refuted = sample
            .as_ref()
            .and_then(|s| s.checks.iter().find(|c| c.asset_id == job.device_id))
            .filter(|c| c.result == "failed");
        if let Some(check) = refuted.filter(|_| sanitizes) {
            let mut entry = not_sanitized_of(job, sanitizes);
            entry.why = format!(
                "the independent check by {} found it not sanitized: {}",
                sample.as_ref().map_or("", |s| s.verifier.as_str()),
                check.evidence.as_deref().unwrap_or("no evidence recorded")
            );
            not_sanitized.push(entry);
            continue;
        }
        match sanitizes.then(|| build::certificate(&cx, job)).flatten() {
            Some(c) => certificates.push(c),
            None => not_sanitized.push(not_sanitized_of(job, sanitizes)),
        }
    }
    let statement = if !sanitizes {
        format!(
            "Run {} was a power cycle: it restarts devices and erases nothing, so it sanitized nothing and no certificate is issued.",
            run.id
        )
    } else {
        let sampled = match &sample {
            Some(s) => format!(" {}", sample::sentence(s)),
            None => " No independent sample was drawn.".to_string(),
        };
        format!(
            "{} of {} device(s) sanitized (Clear, vendor-implemented, post-checked), one certificate each; {} not sanitized, listed with the reason.{sampled}",
            certificates.len(),
            record.jobs.len(),
            not_sanitized.len()
        )
    };
    Bundle {
        run: RunSummary {
            id: run.id.clone(),
            action: run.action.as_str(),
            status: status_word(run.status),
            operator: run.operator.clone(),
            tool: Tool {
                name: TOOL,
                version: run.tool_version.clone(),
            },
            inventory_path: run.inventory_path.clone(),
            inventory_sha256: run.inventory_sha256.clone(),
            started: when(&run.started_at, zone),
            finished: run.finished_at.as_ref().map(|t| when(t, zone)),
            jobs: record.jobs.len() as u32,
        },
        sanitizes,
        statement,
        certificates,
        not_sanitized,
        sample,
        chain: build::chain(record, head),
        signature: build::signature(signer.as_ref(), "bundle.json"),
        issued_by: Tool {
            name: TOOL,
            version: tool_version.to_string(),
        },
    }
}

fn not_sanitized_of(job: &JobRow, factory_reset: bool) -> NotSanitized {
    let reason = job.reason.map(|r| r.as_str());
    let because = reason.map(|r| format!(" ({r})")).unwrap_or_default();
    let why = match job.outcome {
        _ if !factory_reset => "a power cycle restarts a device and erases nothing".to_string(),
        _ if job.method == Method::Upstream => {
            "a power cycle at the outlet never sanitizes a device".to_string()
        }
        Some(Outcome::Failed) => {
            format!("the factory reset failed{because}: nothing shows the device was erased")
        }
        Some(Outcome::Skipped) => format!("skipped{because}: no command was sent"),
        Some(Outcome::ManualRequired) => {
            "left for a technician, not confirmed yet (`fleetreset confirm`)".to_string()
        }
        Some(Outcome::Succeeded | Outcome::ManualConfirmed) => {
            "its outcome does not match its method, so nothing is certified".to_string()
        }
        None => "no outcome recorded: the run is still open (`fleetreset resume`)".to_string(),
    };
    NotSanitized {
        asset_id: job.device_id.clone(),
        model: job.model.clone(),
        mac: job.mac.clone(),
        host: job.host.clone(),
        site: job.site.clone(),
        unit: job.unit.clone(),
        method: job.method.as_str(),
        outcome: job.outcome.map_or("none", |o| o.as_str()),
        reason,
        detail: job.detail.clone(),
        why,
    }
}
