//! `fleetreset plan FILE --action …`: what a run would do to each device. Sends nothing.
//!
//! Jobs are planned one at a time as they are written ([`Planner`]), through one buffer: the
//! plan of a million rows takes the memory of its inventory, and a few writes per
//! [`OUTPUT_BUFFER`].

use std::io::{BufWriter, Write};

use serde::{Serialize, Serializer};

use crate::cli::PlanArgs;
use crate::engine::plan::{PlannedJob, Planner};
use crate::exit::Status;
use crate::inert::Inert;
use crate::model::Action;

use super::load_inventory;

/// Bytes of output gathered before each write: the plan of 100,000 rows is 80 MB of text,
/// and a write per line was 900,000 system calls.
const OUTPUT_BUFFER: usize = 64 * 1024;

pub fn run(args: &PlanArgs) -> anyhow::Result<Status> {
    let Some((inv, _)) = load_inventory(&args.inventory.file, &args.inventory.read.options())?
    else {
        return Err(super::run::inventory_refused(&args.inventory.file));
    };
    super::check::refuse_rows(&inv, args.action, args.allow_unverified_identity)?;
    super::check::refuse_profiles(&inv, args.credentials.as_deref())?;
    let planner = Planner::new(&inv.devices, args.action, args.method);
    let mut out = BufWriter::with_capacity(OUTPUT_BUFFER, std::io::stdout().lock());
    if args.json {
        crate::report::json_inert_to(&mut out, &Views(&planner))?;
    } else {
        let (mut planned, mut warned) = (0, 0);
        for job in planner.jobs() {
            write_job(&mut out, &job, args.action)?;
            planned += 1;
            warned += usize::from(!job.warnings.is_empty());
        }
        writeln!(
            out,
            "{planned} device(s) planned for {}; {warned} with warnings; nothing was sent",
            args.action
        )?;
    }
    // A buffer dropped unflushed would swallow the error of its last write.
    out.flush()?;
    Ok(Status::Success)
}

/// The jobs as `plan --json` prints them, planned as they are written.
struct Views<'p, 'd>(&'p Planner<'d>);

impl Serialize for Views<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.jobs().map(View))
    }
}

struct View(PlannedJob);

impl Serialize for View {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.view().serialize(serializer)
    }
}

/// One job as the plan's text shows it: a line of what and how, then its why, steps and
/// warnings.
fn write_job(out: &mut impl Write, j: &PlannedJob, action: Action) -> std::io::Result<()> {
    let d = &j.device;
    // A work order's time is a person's, not the tool's.
    let time = match j.method {
        crate::engine::method::MethodPlan::Manual(_) => "a work order".to_string(),
        _ => format!(
            "about {} s (at most {} s) of device time",
            j.estimate.as_secs(),
            j.limit.as_secs()
        ),
    };
    writeln!(
        out,
        "{} ({}) at {}: {} by {} method, {time}",
        Inert(&d.id),
        Inert(
            &[
                Some(d.model.as_deref().unwrap_or("model unknown")),
                Some(
                    [d.site.as_deref(), d.unit.as_deref()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" / ")
                )
                .filter(|place| !place.is_empty())
                .as_deref(),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ")
        ),
        d.host,
        action,
        j.method.word(),
    )?;
    writeln!(out, "  why: {}", Inert(&j.why))?;
    for (i, step) in j.steps.iter().enumerate() {
        writeln!(out, "  {}. {}", i + 1, Inert(step))?;
    }
    for w in &j.warnings {
        writeln!(out, "  warning: {w}")?;
    }
    Ok(())
}
