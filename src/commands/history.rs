//! `fleetreset history DEVICE [--db PATH] [--json]`: every run that touched one asset, the
//! question an auditor asks first. DEVICE is a job's inventory id, or a MAC (any case, `:` or
//! `-` separators or none): a device keeps its MAC when its inventory id changes.
//!
//! stdout: one line per job, oldest run first (run, start in local time with its offset,
//! action, run status, device, site/unit, host, method, outcome, reason, certificate), or with
//! `--json` an array of objects. A factory-reset job that ended `succeeded` or
//! `manual_confirmed` has a certificate id ([`crate::certificate::id`]). No job matching: an
//! empty list (`[]`), a note on stderr, exit 0.

use std::io::{self, Write};

use anyhow::Context;
use serde::Serialize;

use super::runs::open_existing;
use crate::cli::HistoryArgs;
use crate::exit::Status;
use crate::inert::{Inert, inert};
use crate::model::{Action, Outcome};
use crate::output::say;
use crate::report::local_time::Zone;
use crate::store::HistoryRow;

/// One line of the history, as `--json` prints it.
#[derive(Debug, Serialize)]
struct Entry<'a> {
    #[serde(flatten)]
    row: &'a HistoryRow,
    /// The run's start on this host's clock, with its offset.
    run_started_local: String,
    certificate_id: Option<String>,
}

pub fn run(args: &HistoryArgs) -> anyhow::Result<Status> {
    let db = open_existing(&args.db)?;
    let rows = db.device_history(&args.device).with_context(|| {
        format!(
            "cannot read the history of {} from {}",
            Inert(&args.device),
            args.db.display()
        )
    })?;
    let entries: Vec<Entry> = rows.iter().map(|r| entry(r, Zone::Local)).collect();
    if entries.is_empty() {
        say!(
            "no run in {} touched {}",
            args.db.display(),
            Inert(&args.device)
        );
    }
    let text = if args.json {
        crate::report::json_inert(&entries)?
    } else if entries.is_empty() {
        String::new()
    } else {
        table(&entries)
    };
    let mut stdout = io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(Status::Success)
}

fn entry(row: &HistoryRow, zone: Zone) -> Entry<'_> {
    Entry {
        row,
        run_started_local: zone.show(&row.run_started_at),
        certificate_id: certificate(row),
    }
}

/// The certificate of a sanitized job: a factory reset that succeeded or was confirmed, and
/// that no verifier's sample found still set up.
fn certificate(row: &HistoryRow) -> Option<String> {
    let sanitized = matches!(
        row.outcome,
        Some(Outcome::Succeeded | Outcome::ManualConfirmed)
    ) && !row.refuted;
    (row.action == Action::FactoryReset && sanitized)
        .then(|| crate::certificate::id(&row.run_id, row.seq))
}

const COLUMNS: [&str; 11] = [
    "RUN",
    "STARTED",
    "ACTION",
    "STATUS",
    "DEVICE",
    "SITE/UNIT",
    "HOST",
    "METHOD",
    "OUTCOME",
    "REASON",
    "CERTIFICATE",
];

fn cells(e: &Entry) -> [String; 11] {
    let r = e.row;
    let word = |w: Option<&str>| w.unwrap_or("-").to_string();
    let status = serde_json::to_value(r.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let place = match (r.site.as_deref(), r.unit.as_deref()) {
        (None, None) => "-".to_string(),
        (s, u) => format!("{}/{}", s.unwrap_or("-"), u.unwrap_or("-")),
    };
    [
        r.run_id.clone(),
        e.run_started_local.clone(),
        r.action.to_string(),
        status,
        r.device_id.clone(),
        place,
        r.host.clone(),
        r.method.to_string(),
        word(r.outcome.map(Outcome::as_str)),
        word(r.reason.map(|x| x.as_str())),
        word(e.certificate_id.as_deref()),
    ]
    .map(|c| inert(&c).into_owned())
}

/// Aligned columns, two spaces apart; the last one unpadded. In a merged audit, where device
/// ids repeat from site to site, the site each run came from comes first.
fn table(entries: &[Entry]) -> String {
    let merged = entries.iter().any(|e| e.row.merged_site.is_some());
    let with_site = |mut row: Vec<String>, site: &str| {
        if merged {
            row.insert(0, inert(site).into_owned());
        }
        row
    };
    let header = with_site(COLUMNS.map(String::from).to_vec(), "MERGED SITE");
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            with_site(
                cells(e).to_vec(),
                e.row.merged_site.as_deref().unwrap_or("-"),
            )
        })
        .collect();
    let mut widths = vec![0usize; header.len()];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::{FixedOffset, TimeZone};

    use super::*;
    use crate::model::{Method, Reason};
    use crate::store::RunStatus;

    fn row(action: Action, outcome: Option<Outcome>, seq: u32) -> HistoryRow {
        HistoryRow {
            run_id: "20261121T054708Z-3f2a".into(),
            run_started_at: chrono::Utc.timestamp_millis_opt(1_795_000_000_123).unwrap(),
            action,
            status: RunStatus::Finished,
            operator: "alice".into(),
            device_id: "plug\u{1b}[2J".into(),
            seq,
            mac: Some("50:C7:BF:00:00:01".into()),
            site: Some("Oak".into()),
            unit: None,
            host: "127.48.200.1".into(),
            method: Method::Remote,
            outcome,
            reason: (outcome == Some(Outcome::Failed)).then_some(Reason::NotVerified),
            detail: None,
            refuted: false,
            merged_site: None,
        }
    }

    #[test]
    fn only_a_sanitized_factory_reset_has_a_certificate() {
        let fr = |o| certificate(&row(Action::FactoryReset, o, 6));
        assert_eq!(
            fr(Some(Outcome::Succeeded)).as_deref(),
            Some("20261121T054708Z-3f2a-0007")
        );
        assert!(fr(Some(Outcome::ManualConfirmed)).is_some());
        assert_eq!(fr(Some(Outcome::Failed)), None);
        assert_eq!(fr(Some(Outcome::ManualRequired)), None);
        assert_eq!(fr(None), None);
        assert_eq!(
            certificate(&row(Action::PowerCycle, Some(Outcome::Succeeded), 6)),
            None
        );
        let refuted = HistoryRow {
            refuted: true,
            ..row(Action::FactoryReset, Some(Outcome::Succeeded), 6)
        };
        assert_eq!(certificate(&refuted), None);
    }

    #[test]
    fn a_merged_audit_shows_the_site_each_run_came_from_first() {
        let zone = Zone::Fixed(FixedOffset::east_opt(0).unwrap());
        let a = HistoryRow {
            merged_site: Some("site-a".into()),
            ..row(Action::PowerCycle, Some(Outcome::Succeeded), 0)
        };
        let b = HistoryRow {
            merged_site: Some("site\u{1b}b".into()),
            ..row(Action::PowerCycle, Some(Outcome::Failed), 0)
        };
        let text = table(&[entry(&a, zone), entry(&b, zone)]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("MERGED SITE  RUN "), "{text}");
        assert!(lines[1].starts_with("site-a       2026"), "{text}");
        assert!(lines[2].starts_with(r"site\u{1b}b  2026"), "{text}");
        // A site's own database has no such column.
        let own = table(&[entry(&row(Action::PowerCycle, None, 0), zone)]);
        assert!(own.starts_with("RUN "), "{own}");
    }

    #[test]
    fn a_line_shows_local_time_with_its_offset_and_device_text_inert() {
        let r = row(Action::FactoryReset, Some(Outcome::Failed), 0);
        let zone = Zone::Fixed(FixedOffset::east_opt(3600).unwrap());
        let text = table(&[entry(&r, zone)]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].starts_with("RUN "), "{text}");
        let cols: Vec<&str> = lines[1].split("  ").filter(|c| !c.is_empty()).collect();
        assert_eq!(
            cols.iter().map(|c| c.trim()).collect::<Vec<_>>(),
            [
                "20261121T054708Z-3f2a",
                "2026-11-18 12:06:40.123 +01:00",
                "factory-reset",
                "finished",
                r"plug\u{1b}[2J",
                "Oak/-",
                "127.48.200.1",
                "remote",
                "failed",
                "not_verified",
                "-"
            ],
            "{text}"
        );
    }
}
