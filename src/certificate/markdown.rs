//! `<id>.md` and `bundle.md`: the certificates for people, every database string inert and its
//! Markdown escaped ([`crate::report::markdown::escape`]), with lines to sign on paper.

use std::fmt::{self, Write};

use super::model::{Bundle, Certificate, SampleSummary, Signature, When};
use crate::report::markdown::escape;

/// The lines a printed certificate is signed on.
pub const SIGN_OPERATOR: &str = "Operator: ______________________________  Date: ______________";
pub const SIGN_VERIFIER: &str = "Verifier: ______________________________  Date: ______________";

pub fn opt(value: Option<&str>) -> String {
    or(value, "not recorded")
}

/// `value` escaped, or `none` when there is none.
pub fn or(value: Option<&str>, none: &str) -> String {
    value.map_or_else(|| none.to_string(), escape)
}

pub fn time(at: Option<&When>) -> String {
    at.map_or_else(
        || "not recorded".to_string(),
        |w| format!("{} (UTC {})", escape(&w.local), escape(&w.utc)),
    )
}

fn field(out: &mut String, name: &str, value: &str) -> fmt::Result {
    writeln!(out, "- **{name}:** {value}")
}

pub fn certificate(cert: &Certificate) -> String {
    let mut out = String::new();
    write_certificate(&mut out, cert).expect("writing to a String never fails");
    out
}

fn write_certificate(out: &mut String, c: &Certificate) -> fmt::Result {
    let d = &c.device;
    let s = &c.sanitization;
    writeln!(out, "# Certificate of sanitization {}", escape(&c.id))?;
    writeln!(out)?;
    writeln!(out, "{}: {}.", escape(s.summary), escape(&s.method_used))?;
    writeln!(out)?;
    writeln!(out, "## Device")?;
    writeln!(out)?;
    field(out, "Manufacturer", &escape(d.manufacturer))?;
    field(out, "Brand", &opt(d.brand))?;
    field(out, "Kind", &escape(&d.family))?;
    field(out, "Model (inventory)", &opt(d.model.as_deref()))?;
    field(out, "Model (reported)", &opt(d.reported_model.as_deref()))?;
    if let Some(note) = &d.model_note {
        field(out, "Model note", &escape(note))?;
    }
    if d.hardware_ids.is_empty() {
        field(out, "Serial / hardware ids", "not reported")?;
    }
    for id in &d.hardware_ids {
        field(out, &escape(&id.name), &escape(&id.value))?;
    }
    field(out, "MAC (inventory)", &opt(d.mac.as_deref()))?;
    field(out, "MAC (reported)", &opt(d.reported_mac.as_deref()))?;
    field(out, "Asset id", &escape(&d.asset_id))?;
    field(out, "Address", &escape(&d.host))?;
    field(out, "Site", &opt(d.site.as_deref()))?;
    field(out, "Unit", &opt(d.unit.as_deref()))?;
    field(out, "Media type", &escape(&c.media_type))?;
    writeln!(out)?;
    writeln!(out, "## Sanitization")?;
    writeln!(out)?;
    field(out, "Category", &escape(s.category))?;
    field(out, "Technique", &escape(s.technique))?;
    field(out, "Method used", &escape(&s.method_used))?;
    field(
        out,
        "Tool",
        &format!("{} {}", escape(c.tool.name), escape(&c.tool.version)),
    )?;
    field(out, "Started", &time(c.times.started.as_ref()))?;
    field(out, "Finished", &time(c.times.finished.as_ref()))?;
    field(out, "Operator", &escape(&c.operator))?;
    field(out, "Limits", &escape(s.limits))?;
    writeln!(out)?;
    writeln!(out, "## Verification")?;
    writeln!(out)?;
    field(out, "Method", &escape(&c.verification.method))?;
    field(out, "Result", &escape(c.verification.result))?;
    field(out, "Detail", &opt(c.verification.detail.as_deref()))?;
    writeln!(out, "- **Evidence:**")?;
    for e in &c.verification.evidence {
        writeln!(
            out,
            "  - {} `{}`: {}",
            time(Some(&e.at)),
            escape(&e.kind),
            escape(&e.what)
        )?;
    }
    if let Some(t) = &c.technician {
        writeln!(out)?;
        writeln!(out, "## Technician's confirmation")?;
        writeln!(out)?;
        field(out, "Done by", &escape(&t.by))?;
        field(out, "Done at (as written)", &opt(t.said_at.as_deref()))?;
        field(out, "Note", &opt(t.note.as_deref()))?;
        field(out, "Seen afterwards", &escape(&t.seen))?;
        field(
            out,
            "Recorded",
            &format!(
                "by {} at {}, from {}",
                escape(&t.recorded_by),
                time(Some(&t.recorded_at)),
                escape(&t.source)
            ),
        )?;
    }
    writeln!(out)?;
    writeln!(out, "## Validation")?;
    writeln!(out)?;
    field(out, "Verifier", &escape(&c.verifier.statement))?;
    if let Some(e) = &c.verifier.evidence {
        field(out, "Verifier's evidence", &escape(e))?;
    }
    writeln!(out)?;
    trailer(out, &c.chain.run_id, &c.chain.head, &c.signature)?;
    writeln!(out)?;
    writeln!(out, "{SIGN_OPERATOR}")?;
    writeln!(out)?;
    writeln!(out, "{SIGN_VERIFIER}")
}

fn trailer(out: &mut String, run_id: &str, head: &str, signature: &Signature) -> fmt::Result {
    writeln!(out, "## Record")?;
    writeln!(out)?;
    field(
        out,
        "Audit chain",
        &format!("run {} head `{}`", escape(run_id), escape(head)),
    )?;
    field(out, "Signature", &escape(&signature.statement))?;
    if let (Some(key), Some(file)) = (&signature.key_id, &signature.public_key_file) {
        field(
            out,
            "Signing key",
            &format!("{} ({})", escape(key), escape(file)),
        )?;
    }
    Ok(())
}

pub fn bundle(bundle: &Bundle) -> String {
    let mut out = String::new();
    write_bundle(&mut out, bundle).expect("writing to a String never fails");
    out
}

fn write_bundle(out: &mut String, b: &Bundle) -> fmt::Result {
    let r = &b.run;
    writeln!(out, "# Certificates of sanitization: run {}", escape(&r.id))?;
    writeln!(out)?;
    writeln!(out, "{}", escape(&b.statement))?;
    writeln!(out)?;
    field(out, "Action", &escape(r.action))?;
    field(out, "Status", &escape(r.status))?;
    field(out, "Operator", &escape(&r.operator))?;
    field(
        out,
        "Tool",
        &format!("{} {}", escape(r.tool.name), escape(&r.tool.version)),
    )?;
    field(
        out,
        "Inventory",
        &format!(
            "{} (SHA-256 {})",
            escape(&r.inventory_path),
            escape(&r.inventory_sha256)
        ),
    )?;
    field(out, "Started", &time(Some(&r.started)))?;
    field(out, "Finished", &time(r.finished.as_ref()))?;
    writeln!(out)?;
    writeln!(out, "## Certificates ({})", b.certificates.len())?;
    writeln!(out)?;
    if !b.certificates.is_empty() {
        writeln!(
            out,
            "| Certificate | Asset id | Model | MAC | Method | Verifier |"
        )?;
        writeln!(out, "|---|---|---|---|---|---|")?;
    }
    for c in &b.certificates {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            escape(&c.id),
            escape(&c.device.asset_id),
            opt(c.device.model.as_deref()),
            opt(c.device.mac.as_deref()),
            escape(c.sanitization.method),
            or(c.verifier.name.as_deref(), "not independently verified"),
        )?;
    }
    writeln!(out)?;
    writeln!(out, "## Not sanitized ({})", b.not_sanitized.len())?;
    writeln!(out)?;
    if !b.not_sanitized.is_empty() {
        writeln!(
            out,
            "| Asset id | Model | Outcome | Reason | Why no certificate | Detail |"
        )?;
        writeln!(out, "|---|---|---|---|---|---|")?;
    }
    for n in &b.not_sanitized {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            escape(&n.asset_id),
            opt(n.model.as_deref()),
            escape(n.outcome),
            opt(n.reason),
            escape(&n.why),
            opt(n.detail.as_deref()),
        )?;
    }
    writeln!(out)?;
    match &b.sample {
        Some(s) => write_sample(out, s)?,
        None => writeln!(
            out,
            "## Sample\n\nNo verification sample was drawn for this run."
        )?,
    }
    writeln!(out)?;
    trailer(out, &b.chain.run_id, &b.chain.head, &b.signature)?;
    writeln!(out)?;
    writeln!(out, "{SIGN_OPERATOR}")?;
    writeln!(out)?;
    writeln!(out, "{SIGN_VERIFIER}")
}

fn write_sample(out: &mut String, s: &SampleSummary) -> fmt::Result {
    writeln!(out, "## Sample")?;
    writeln!(out)?;
    let independent = if s.independent {
        "independent of the run's operator"
    } else {
        "NOT independent: the verifier is the run's operator"
    };
    field(
        out,
        "Verifier",
        &format!("{} ({independent})", escape(&s.verifier)),
    )?;
    field(out, "Drawn by", &escape(&s.operator))?;
    field(out, "Drawn at", &time(Some(&s.drawn_at)))?;
    field(out, "Percent", &escape(&s.percent.to_string()))?;
    field(out, "Seed", &escape(&s.seed))?;
    field(
        out,
        "Size",
        &format!(
            "{} of {}",
            escape(&s.size.to_string()),
            escape(&s.population.to_string())
        ),
    )?;
    let devices: Vec<String> = s.devices.iter().map(|d| escape(d)).collect();
    field(out, "Devices", &devices.join(", "))?;
    field(out, "Result", &or(s.result.as_deref(), "not finished"))?;
    field(out, "Finished", &time(s.finished_at.as_ref()))?;
    if !s.checks.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "| Asset id | Result | Address | Evidence | Checked at |"
        )?;
        writeln!(out, "|---|---|---|---|---|")?;
    }
    for c in &s.checks {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            escape(&c.asset_id),
            escape(&c.result),
            opt(c.address.as_deref()),
            opt(c.evidence.as_deref()),
            time(Some(&c.at)),
        )?;
    }
    Ok(())
}
