//! One sanitized device's certificate, from its job in the run's record.

use super::evidence::{self, when};
use super::model::{
    Certificate, Chain, DeviceFields, SampleSummary, Sanitization, Signature, SignerInfo,
    TechnicianConfirmation, Times, Tool, Verification,
};
use super::sample;
use crate::catalog::{self, Family};
use crate::model::{Method, Outcome};
use crate::report::local_time::Zone;
use crate::store::{ChainHead, JobRow, RunRecord, SnapshotPhase};

pub const TOOL: &str = "fleetreset";
pub const MANUFACTURER: &str = "TP-Link";
pub const CATEGORY: &str = "Clear";
pub const TECHNIQUE: &str =
    "the vendor's factory-reset function, as implemented by the device's firmware";
pub const SUMMARY: &str = "Clear, vendor-implemented, post-checked";
pub const LIMITS: &str = "NIST SP 800-88 Clear: a logical technique, here the vendor's own factory reset. \
Its reach is what the firmware erases; this tool cannot see into the flash and makes no Purge or Destroy \
claim. Factory resets do not necessarily reset every setting, so the device was checked afterwards \
(see verification) and should be checked again before it leaves the organisation.";

/// How the job was sanitized, when it was: a remote factory-reset command that succeeded, or
/// a technician's button reset that was confirmed. A power cycle (upstream or remote) never
/// sanitizes, and neither does anything that did not end in one of those two outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    Remote,
    Button,
}

pub fn how(job: &JobRow) -> Option<How> {
    match (job.outcome?, job.method) {
        (Outcome::Succeeded, Method::Remote) => Some(How::Remote),
        // A job whose remote path failed became a work order; its method column stays remote.
        (Outcome::ManualConfirmed, Method::Remote | Method::Manual) => Some(How::Button),
        _ => None,
    }
}

/// `Kasa` or `Tapo` by the model's series, for a model the catalog knows.
pub fn brand(model: Option<&str>) -> Option<&'static str> {
    let model = model?;
    if catalog::lookup(model) == catalog::UNKNOWN {
        return None;
    }
    let base = catalog::base_model(model);
    const KASA: [&str; 10] = ["HS", "KP", "EP", "KS", "ES", "KL", "LB", "KC", "EC", "KD"];
    Some(if KASA.iter().any(|p| base.starts_with(p)) {
        "Kasa"
    } else {
        "Tapo"
    })
}

/// The storage a factory reset clears, by the kind of device.
pub fn media_type(family: Family) -> String {
    let kind = match family {
        Family::Plug => "a smart plug",
        Family::Strip => "a smart power strip",
        Family::WallSwitch => "a smart wall switch",
        Family::Dimmer => "a smart dimmer",
        Family::Bulb => "a smart bulb",
        Family::LightStrip => "a smart light strip",
        Family::Camera => {
            return "flash memory (embedded NOR/NAND) of a camera; a removable microSD card, if fitted, is not covered and must be removed or sanitized separately".into();
        }
        Family::Doorbell => {
            return "flash memory (embedded NOR/NAND) of a video doorbell; a removable microSD card, if fitted, is not covered and must be removed or sanitized separately".into();
        }
        Family::Unknown => "a smart device of a model the catalog does not know",
    };
    format!("flash memory (embedded NOR/NAND) of {kind}")
}

fn family_word(family: Family) -> String {
    serde_json::to_value(family)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

pub fn chain(record: &RunRecord, head: &ChainHead) -> Chain {
    Chain {
        run_id: record.run.id.clone(),
        head: head.to_string(),
        records: head.records,
        hash: head.hash.clone(),
    }
}

pub fn signature(signer: Option<&SignerInfo>, json_file: &str) -> Signature {
    match signer {
        Some(s) => {
            let file = format!("{json_file}.minisig");
            Signature {
                signed: true,
                key_id: Some(s.key_id.clone()),
                public_key_file: Some(s.public_key_file.clone()),
                statement: format!("signature: {file}"),
                file: Some(file),
            }
        }
        None => Signature {
            signed: false,
            key_id: None,
            public_key_file: None,
            file: None,
            statement: "unsigned".into(),
        },
    }
}

pub struct Context<'a> {
    pub record: &'a RunRecord,
    pub head: &'a ChainHead,
    pub tool_version: &'a str,
    pub signer: Option<&'a SignerInfo>,
    pub sample: Option<&'a SampleSummary>,
    pub zone: Zone,
}

/// The certificate of `job`, or `None` when it was not sanitized ([`how`]).
pub fn certificate(cx: &Context<'_>, job: &JobRow) -> Option<Certificate> {
    let how = how(job)?;
    let record = cx.record;
    let zone = cx.zone;
    let info = catalog::lookup(job.model.as_deref().unwrap_or(""));
    let events = evidence::events_of(record, job);
    let pre = evidence::snapshot(record, job, SnapshotPhase::Pre).map(|s| &s.data);
    let reported_model = pre.and_then(|d| evidence::text_in(d, "model", &["model"]));
    let model_note = match (&job.model, &reported_model) {
        (Some(a), Some(b)) if !a.trim().eq_ignore_ascii_case(b.trim()) => {
            Some(format!("the inventory says {a}, the device reported {b}"))
        }
        _ => None,
    };
    let id = super::id(&record.run.id, job.seq);
    let protocol = evidence::protocol(&events);
    let confirmation = record
        .confirmations()
        .into_iter()
        .rfind(|c| c.device_id == job.device_id);
    let (method, method_used, verify) = match how {
        How::Remote => (
            "remote",
            format!(
                "remote factory-reset command sent by fleetreset over {}",
                protocol.as_deref().unwrap_or("the device's local protocol")
            ),
            "the device's acknowledgement of the command; then its departure from the network \
             (no answer at its address on two looks in a row) or, where it stayed, its post-state: \
             no longer bound to a cloud account",
        ),
        How::Button => (
            "manual",
            match info.factory {
                Some(p) => format!("technician's button reset per the procedure: {}", p.words()),
                None => "technician's button reset per the device's manual".to_string(),
            },
            "the technician's confirmation and, where the device answered afterwards, its \
             post-state (bound to a cloud account or not)",
        ),
    };
    Some(Certificate {
        format: super::model::FORMAT,
        id: id.clone(),
        run_id: record.run.id.clone(),
        device: DeviceFields {
            manufacturer: MANUFACTURER,
            brand: brand(job.model.as_deref().or(reported_model.as_deref())),
            family: family_word(info.family),
            model: job.model.clone(),
            reported_model,
            model_note,
            hardware_ids: pre.map(evidence::hardware_ids).unwrap_or_default(),
            mac: job.mac.clone(),
            reported_mac: pre.and_then(|d| evidence::text_in(d, "mac", &["mac", "mic_mac"])),
            asset_id: job.device_id.clone(),
            host: job.host.clone(),
            site: job.site.clone(),
            unit: job.unit.clone(),
        },
        media_type: media_type(info.family),
        sanitization: Sanitization {
            category: CATEGORY,
            technique: TECHNIQUE,
            method,
            method_used,
            protocol: if how == How::Remote { protocol } else { None },
            summary: SUMMARY,
            limits: LIMITS,
        },
        tool: Tool {
            name: TOOL,
            version: record.run.tool_version.clone(),
        },
        issued_by: Tool {
            name: TOOL,
            version: cx.tool_version.to_string(),
        },
        times: Times {
            started: job.started_at.as_ref().map(|t| when(t, zone)),
            finished: job.finished_at.as_ref().map(|t| when(t, zone)),
        },
        operator: record.run.operator.clone(),
        verification: Verification {
            method: verify.to_string(),
            result: "passed",
            detail: job.detail.clone(),
            evidence: evidence::verification(record, job, zone),
        },
        verifier: sample::verifier(cx.sample, &job.device_id),
        technician: confirmation.map(|c| TechnicianConfirmation {
            by: c.technician.by,
            said_at: c.technician.said_at,
            note: c.technician.note,
            recorded_by: c.technician.operator,
            recorded_at: when(&c.at, zone),
            source: c.technician.source,
            seen: c.seen.words(),
        }),
        chain: chain(record, cx.head),
        signature: signature(cx.signer, &format!("{id}.json")),
    })
}
