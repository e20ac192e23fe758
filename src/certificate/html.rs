//! `<id>.html` and `bundle.html`: printable A4 pages. Self-contained (style inline, no script,
//! no font, image or link to fetch) under a Content-Security-Policy that forbids every fetch;
//! every database string made inert and HTML-escaped, as the work orders do it
//! ([`crate::report::work_orders::html::escape`]).

use std::fmt::{self, Write};

use super::model::{Bundle, Certificate, SampleSummary, Signature, When};
use crate::report::html::escape;

const STYLE: &str = "\
@page{size:A4;margin:18mm 16mm}\
body{font-family:serif;font-size:10.5pt;color:#000;background:#fff;margin:1.5em;max-width:60em}\
h1{font-size:1.5em;margin:0 0 .3em}h2{font-size:1.15em;border-bottom:1px solid #000;\
margin:1.2em 0 .4em;break-after:avoid;page-break-after:avoid}\
table{border-collapse:collapse;width:100%;margin:.3em 0}\
th,td{border:1px solid #555;padding:.2em .4em;text-align:left;vertical-align:top}\
th{background:#eee}th[scope=row]{width:30%}\
tr,section{break-inside:avoid;page-break-inside:avoid}\
.lead{font-weight:bold}.sign{margin-top:2.2em;display:flex;gap:3em}\
.sign div{flex:1;border-top:1px solid #000;padding-top:.2em}\
@media print{body{margin:0}}";

fn or(value: Option<&str>, none: &str) -> String {
    value.map_or_else(|| none.to_string(), escape)
}

fn opt(value: Option<&str>) -> String {
    or(value, "not recorded")
}

fn time(at: Option<&When>) -> String {
    at.map_or_else(
        || "not recorded".to_string(),
        |w| format!("{} (UTC {})", escape(&w.local), escape(&w.utc)),
    )
}

fn head(out: &mut String, title: &str) -> fmt::Result {
    writeln!(out, "<!DOCTYPE html>")?;
    writeln!(out, "<html lang=\"en\">")?;
    writeln!(out, "<head>")?;
    writeln!(out, "<meta charset=\"utf-8\">")?;
    // Nothing on the page may load or run anything, whatever a device string says.
    writeln!(
        out,
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; form-action 'none'; base-uri 'none'\">"
    )?;
    writeln!(out, "<meta name=\"referrer\" content=\"no-referrer\">")?;
    writeln!(out, "<title>{title}</title>")?;
    writeln!(out, "<style>{STYLE}</style>")?;
    writeln!(out, "</head>")?;
    writeln!(out, "<body>")
}

/// One table row; `value` is already escaped.
fn row(out: &mut String, name: &str, value: &str) -> fmt::Result {
    writeln!(
        out,
        "<tr><th scope=\"row\">{}</th><td>{value}</td></tr>",
        escape(name)
    )
}

fn sign_lines(out: &mut String) -> fmt::Result {
    writeln!(
        out,
        "<div class=\"sign\"><div>Operator: name, signature, date</div><div>Verifier: name, signature, date</div></div>"
    )
}

fn record(out: &mut String, run_id: &str, chain_head: &str, signature: &Signature) -> fmt::Result {
    writeln!(out, "<section><h2>Record</h2><table>")?;
    row(
        out,
        "Audit chain",
        &format!(
            "run {} head <code>{}</code>",
            escape(run_id),
            escape(chain_head)
        ),
    )?;
    row(out, "Signature", &escape(&signature.statement))?;
    if let (Some(key), Some(file)) = (&signature.key_id, &signature.public_key_file) {
        row(
            out,
            "Signing key",
            &format!("{} ({})", escape(key), escape(file)),
        )?;
    }
    writeln!(out, "</table></section>")
}

pub fn certificate(cert: &Certificate) -> String {
    let mut out = String::new();
    write_certificate(&mut out, cert).expect("writing to a String never fails");
    out
}

fn write_certificate(out: &mut String, c: &Certificate) -> fmt::Result {
    let id = escape(&c.id);
    head(out, &format!("Certificate of sanitization {id}"))?;
    let d = &c.device;
    let s = &c.sanitization;
    writeln!(out, "<h1>Certificate of sanitization {id}</h1>")?;
    writeln!(
        out,
        "<p class=\"lead\">{}: {}.</p>",
        escape(s.summary),
        escape(&s.method_used)
    )?;
    writeln!(out, "<section><h2>Device</h2><table>")?;
    row(out, "Manufacturer", &escape(d.manufacturer))?;
    row(out, "Brand", &opt(d.brand))?;
    row(out, "Kind", &escape(&d.family))?;
    row(out, "Model (inventory)", &opt(d.model.as_deref()))?;
    row(out, "Model (reported)", &opt(d.reported_model.as_deref()))?;
    if let Some(note) = &d.model_note {
        row(out, "Model note", &escape(note))?;
    }
    if d.hardware_ids.is_empty() {
        row(out, "Serial / hardware ids", "not reported")?;
    }
    for hw in &d.hardware_ids {
        row(out, &hw.name, &escape(&hw.value))?;
    }
    row(out, "MAC (inventory)", &opt(d.mac.as_deref()))?;
    row(out, "MAC (reported)", &opt(d.reported_mac.as_deref()))?;
    row(out, "Asset id", &escape(&d.asset_id))?;
    row(out, "Address", &escape(&d.host))?;
    row(out, "Site", &opt(d.site.as_deref()))?;
    row(out, "Unit", &opt(d.unit.as_deref()))?;
    row(out, "Media type", &escape(&c.media_type))?;
    writeln!(out, "</table></section>")?;
    writeln!(out, "<section><h2>Sanitization</h2><table>")?;
    row(out, "Category", &escape(s.category))?;
    row(out, "Technique", &escape(s.technique))?;
    row(out, "Method used", &escape(&s.method_used))?;
    row(
        out,
        "Tool",
        &format!("{} {}", escape(c.tool.name), escape(&c.tool.version)),
    )?;
    row(out, "Started", &time(c.times.started.as_ref()))?;
    row(out, "Finished", &time(c.times.finished.as_ref()))?;
    row(out, "Operator", &escape(&c.operator))?;
    row(out, "Limits", &escape(s.limits))?;
    writeln!(out, "</table></section>")?;
    writeln!(out, "<section><h2>Verification</h2><table>")?;
    row(out, "Method", &escape(&c.verification.method))?;
    row(out, "Result", &escape(c.verification.result))?;
    row(out, "Detail", &opt(c.verification.detail.as_deref()))?;
    writeln!(
        out,
        "</table><table><tr><th>When</th><th>Record</th><th>Evidence</th></tr>"
    )?;
    for e in &c.verification.evidence {
        writeln!(
            out,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
            time(Some(&e.at)),
            escape(&e.kind),
            escape(&e.what)
        )?;
    }
    writeln!(out, "</table></section>")?;
    if let Some(t) = &c.technician {
        writeln!(out, "<section><h2>Technician's confirmation</h2><table>")?;
        row(out, "Done by", &escape(&t.by))?;
        row(out, "Done at (as written)", &opt(t.said_at.as_deref()))?;
        row(out, "Note", &opt(t.note.as_deref()))?;
        row(out, "Seen afterwards", &escape(&t.seen))?;
        row(
            out,
            "Recorded",
            &format!(
                "by {} at {}, from {}",
                escape(&t.recorded_by),
                time(Some(&t.recorded_at)),
                escape(&t.source)
            ),
        )?;
        writeln!(out, "</table></section>")?;
    }
    writeln!(out, "<section><h2>Validation</h2><table>")?;
    row(out, "Verifier", &escape(&c.verifier.statement))?;
    if let Some(e) = &c.verifier.evidence {
        row(out, "Verifier's evidence", &escape(e))?;
    }
    writeln!(out, "</table></section>")?;
    record(out, &c.chain.run_id, &c.chain.head, &c.signature)?;
    sign_lines(out)?;
    writeln!(out, "</body>")?;
    writeln!(out, "</html>")
}

pub fn bundle(bundle: &Bundle) -> String {
    let mut out = String::new();
    write_bundle(&mut out, bundle).expect("writing to a String never fails");
    out
}

fn write_bundle(out: &mut String, b: &Bundle) -> fmt::Result {
    let r = &b.run;
    let id = escape(&r.id);
    head(out, &format!("Certificates of sanitization: run {id}"))?;
    writeln!(out, "<h1>Certificates of sanitization: run {id}</h1>")?;
    writeln!(out, "<p class=\"lead\">{}</p>", escape(&b.statement))?;
    writeln!(out, "<section><h2>Run</h2><table>")?;
    row(out, "Action", &escape(r.action))?;
    row(out, "Status", &escape(r.status))?;
    row(out, "Operator", &escape(&r.operator))?;
    row(
        out,
        "Tool",
        &format!("{} {}", escape(r.tool.name), escape(&r.tool.version)),
    )?;
    row(
        out,
        "Inventory",
        &format!(
            "{} (SHA-256 {})",
            escape(&r.inventory_path),
            escape(&r.inventory_sha256)
        ),
    )?;
    row(out, "Started", &time(Some(&r.started)))?;
    row(out, "Finished", &time(r.finished.as_ref()))?;
    writeln!(out, "</table></section>")?;
    writeln!(
        out,
        "<section><h2>Certificates ({})</h2>",
        b.certificates.len()
    )?;
    writeln!(
        out,
        "<table><tr><th>Certificate</th><th>Asset id</th><th>Model</th><th>MAC</th><th>Method</th><th>Verifier</th></tr>"
    )?;
    for c in &b.certificates {
        writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&c.id),
            escape(&c.device.asset_id),
            opt(c.device.model.as_deref()),
            opt(c.device.mac.as_deref()),
            escape(c.sanitization.method),
            or(c.verifier.name.as_deref(), "not independently verified"),
        )?;
    }
    writeln!(out, "</table></section>")?;
    writeln!(
        out,
        "<section><h2>Not sanitized ({})</h2>",
        b.not_sanitized.len()
    )?;
    writeln!(
        out,
        "<table><tr><th>Asset id</th><th>Model</th><th>Outcome</th><th>Reason</th><th>Why no certificate</th><th>Detail</th></tr>"
    )?;
    for n in &b.not_sanitized {
        writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&n.asset_id),
            opt(n.model.as_deref()),
            escape(n.outcome),
            opt(n.reason),
            escape(&n.why),
            opt(n.detail.as_deref()),
        )?;
    }
    writeln!(out, "</table></section>")?;
    match &b.sample {
        Some(s) => write_sample(out, s)?,
        None => writeln!(
            out,
            "<section><h2>Sample</h2><p>No verification sample was drawn for this run.</p></section>"
        )?,
    }
    record(out, &b.chain.run_id, &b.chain.head, &b.signature)?;
    sign_lines(out)?;
    writeln!(out, "</body>")?;
    writeln!(out, "</html>")
}

fn write_sample(out: &mut String, s: &SampleSummary) -> fmt::Result {
    writeln!(out, "<section><h2>Sample</h2><table>")?;
    let independent = if s.independent {
        "independent of the run's operator"
    } else {
        "NOT independent: the verifier is the run's operator"
    };
    row(
        out,
        "Verifier",
        &format!("{} ({independent})", escape(&s.verifier)),
    )?;
    row(out, "Drawn by", &escape(&s.operator))?;
    row(out, "Drawn at", &time(Some(&s.drawn_at)))?;
    row(out, "Percent", &escape(&s.percent.to_string()))?;
    row(out, "Seed", &escape(&s.seed))?;
    row(
        out,
        "Size",
        &format!(
            "{} of {}",
            escape(&s.size.to_string()),
            escape(&s.population.to_string())
        ),
    )?;
    let devices: Vec<String> = s.devices.iter().map(|d| escape(d)).collect();
    row(out, "Devices", &devices.join(", "))?;
    row(out, "Result", &or(s.result.as_deref(), "not finished"))?;
    row(out, "Finished", &time(s.finished_at.as_ref()))?;
    writeln!(
        out,
        "</table><table><tr><th>Asset id</th><th>Result</th><th>Address</th><th>Evidence</th><th>Checked at</th></tr>"
    )?;
    for c in &s.checks {
        writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&c.asset_id),
            escape(&c.result),
            opt(c.address.as_deref()),
            opt(c.evidence.as_deref()),
            time(Some(&c.at)),
        )?;
    }
    writeln!(out, "</table></section>")
}
