//! `fleetreset plan FILE --action …`: what a run would do to each device. Sends nothing.

use std::io::Write;

use crate::cli::PlanArgs;
use crate::engine::plan;
use crate::exit::Status;
use crate::inert::Inert;

use super::load_inventory;

pub fn run(args: &PlanArgs) -> anyhow::Result<Status> {
    let Some((inv, _)) = load_inventory(&args.inventory.file, &args.inventory.read.options())?
    else {
        return Err(super::run::inventory_refused(&args.inventory.file));
    };
    super::check::refuse_rows(&inv, args.action, args.allow_unverified_identity)?;
    super::check::refuse_profiles(&inv, args.credentials.as_deref())?;
    let jobs = plan::plan_with(&inv.devices, args.action, args.method);
    let mut out = std::io::stdout().lock();
    if args.json {
        let views: Vec<_> = jobs.iter().map(|j| j.view()).collect();
        out.write_all(crate::report::json_inert(&views)?.as_bytes())?;
        return Ok(Status::Success);
    }
    for j in &jobs {
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
            args.action,
            j.method.word(),
        )?;
        writeln!(out, "  why: {}", Inert(&j.why))?;
        for (i, step) in j.steps.iter().enumerate() {
            writeln!(out, "  {}. {}", i + 1, Inert(step))?;
        }
        for w in &j.warnings {
            writeln!(out, "  warning: {w}")?;
        }
    }
    let warned = jobs.iter().filter(|j| !j.warnings.is_empty()).count();
    writeln!(
        out,
        "{} device(s) planned for {}; {warned} with warnings; nothing was sent",
        jobs.len(),
        args.action
    )?;
    Ok(Status::Success)
}
