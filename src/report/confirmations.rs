//! `summary.md`'s account of the technicians' work: who confirmed each manual job and what was
//! seen of the device afterwards, the confirmations a device contradicted, and how many devices
//! still wait for a technician.

use std::fmt::{self, Write};

use super::local_time::Zone;
use super::markdown::escape;
use super::source::Source;
use super::summary::Summary;
use crate::model::{EventKind, Outcome};
use crate::store::Confirmed;

/// The two sections, each only when it has something to list. Each is counted first and
/// listed from a second read, so that no list is held.
pub fn write(
    out: &mut dyn Write,
    src: Source<'_>,
    summary: &Summary,
    zone: Zone,
) -> anyhow::Result<()> {
    let mut confirmed = 0;
    src.confirmations(|_, job_confirmed| {
        confirmed += usize::from(job_confirmed);
        Ok(())
    })?;
    if confirmed > 0 {
        writeln!(out)?;
        writeln!(out, "## Confirmed by technicians ({confirmed})")?;
        writeln!(out)?;
        src.confirmations(|c, job_confirmed| {
            if job_confirmed {
                confirmation(out, c, zone)?;
            }
            Ok(())
        })?;
    }
    let mut refused = 0;
    src.events_of_kind(EventKind::ConfirmationRefused, |_| {
        refused += 1;
        Ok(())
    })?;
    if refused > 0 {
        writeln!(out)?;
        writeln!(out, "## Confirmations the devices contradicted ({refused})")?;
        writeln!(out)?;
        src.events_of_kind(EventKind::ConfirmationRefused, |e| {
            let text = |k: &str| e.detail[k].as_str().unwrap_or("?").to_string();
            writeln!(
                out,
                "- **{}**: confirmed by {} ({}), but {}",
                escape(e.device_id.as_deref().unwrap_or("?")),
                escape(&text("by")),
                zone.show(&e.at),
                escape(&text("why"))
            )?;
            Ok(())
        })?;
    }
    let waiting = summary.outcomes.get(Some(Outcome::ManualRequired));
    if waiting > 0 {
        writeln!(out)?;
        writeln!(
            out,
            "{waiting} device(s) wait for a technician: `fleetreset work-orders {}` writes their checklist, and `fleetreset confirm` records the work.",
            crate::hint::shell_word(&src.run().id)
        )?;
    }
    Ok(())
}

fn confirmation(out: &mut dyn Write, c: &Confirmed, zone: Zone) -> fmt::Result {
    let t = &c.technician;
    write!(out, "- **{}**: by {}", escape(&c.device_id), escape(&t.by))?;
    if let Some(at) = &t.said_at {
        write!(out, " at {}", escape(at))?;
    }
    write!(
        out,
        " (recorded {} by {}, from {})",
        zone.show(&c.at),
        escape(&t.operator),
        escape(&t.source)
    )?;
    write!(out, "; afterwards: {}", escape(&c.seen.words()))?;
    match &t.note {
        Some(note) => writeln!(out, "; note: {}", escape(note)),
        None => writeln!(out),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::report::fixture;
    use crate::store::EventRow;

    fn event(kind: EventKind, detail: serde_json::Value) -> EventRow {
        EventRow {
            id: 99,
            device_id: Some("cam-4".into()),
            at: fixture::at("2026-11-22T08:00:00.000Z"),
            state: None,
            kind: kind.into(),
            detail,
        }
    }

    #[test]
    fn confirmed_jobs_name_their_technician_and_contradicted_ones_say_why() {
        let mut record = fixture::record();
        record.events.push(event(
            EventKind::ConfirmationRefused,
            json!({"by": "Bo", "said_at": null, "note": null, "operator": "ops",
                   "source": "command line", "address": "10.0.0.4:9999",
                   "why": "it still answers bound"}),
        ));
        record.events.push(event(
            EventKind::ManualConfirmed,
            json!({"by": "Ana <b>", "said_at": "10:15", "note": "pin | 8 s", "operator": "ops",
                   "source": "back.csv:3", "seen": {"result": "not_checked"}}),
        ));
        let cam = record
            .jobs
            .iter_mut()
            .find(|j| j.device_id == "cam-4")
            .unwrap();
        cam.outcome = Some(Outcome::ManualConfirmed);
        let mut out = String::new();
        let summary = Summary::of(&record);
        write(&mut out, Source::Record(&record), &summary, fixture::ZONE).unwrap();
        assert_eq!(
            out,
            "\n## Confirmed by technicians (1)\n\n\
             - **cam-4**: by Ana \\<b\\> at 10:15 (recorded 2026-11-22 09:00:00.000 +01:00 by ops, from back.csv:3); \
             afterwards: not checked (--no-verify); on the technician's word; note: pin \\| 8 s\n\
             \n## Confirmations the devices contradicted (1)\n\n\
             - **cam-4**: confirmed by Bo (2026-11-22 09:00:00.000 +01:00), but it still answers bound\n"
        );
        // No job waits any more: no word of work orders.
        assert!(!out.contains("work-orders"), "{out}");
    }

    #[test]
    fn a_run_without_confirmations_has_no_such_sections_and_says_who_waits() {
        let mut out = String::new();
        let record = fixture::record();
        let summary = Summary::of(&record);
        write(&mut out, Source::Record(&record), &summary, fixture::ZONE).unwrap();
        assert_eq!(
            out,
            format!(
                "\n1 device(s) wait for a technician: `fleetreset work-orders {}` writes their checklist, and `fleetreset confirm` records the work.\n",
                fixture::RUN_ID
            )
        );
    }
}
