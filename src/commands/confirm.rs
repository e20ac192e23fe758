//! `fleetreset confirm RUN DEVICE --by NAME [--note TEXT]` and `fleetreset confirm RUN --from
//! FILE`: a technician's word that the manual work is done, recorded in the audit.
//!
//! Only a `manual_required` job can be confirmed; it becomes `manual_confirmed`, with a
//! `manual_confirmed` event saying who did the work, when they say they did it, their note, and
//! who ran the command. Everything is checked before anything is recorded: one bad row of a
//! returned checklist refuses the whole checklist (exit 2).
//!
//! Unless `--no-verify`, each device is looked at first ([`look`]): a factory-reset device that
//! still answers bound to its account contradicts the technician, and stays `manual_required`
//! with the evidence recorded (exit 1). The other devices of the checklist are confirmed.

mod checklist;
pub(crate) mod look;

use std::io::{self, Write};

use anyhow::Context;
use futures::{StreamExt, TryStreamExt};

use super::report::resolve;
use super::runs::open_existing;
use super::work_orders::{device, run_inventory};
use crate::cli::ConfirmArgs;
use crate::exit::{Early, Status};
use crate::inert::Inert;
use crate::output::say;
use crate::store::{Confirmation, Refusal, RunRecord, Seen, Technician};

use self::look::Verdict;

/// Devices looked at at once for a returned checklist: a look at a device that is gone waits
/// out its connect timeout, and a building's checklist shouldn't take minutes of them one after
/// another; a handful of reads at a time is nothing to a LAN.
const LOOKS_AT_ONCE: usize = 8;

/// Problems of a returned checklist printed one a line; the rest are counted. A checklist
/// pasted full of rows of another list shouldn't bury the terminal in a line per row.
const PROBLEMS_SHOWN: usize = 50;

/// One confirmation asked for.
struct Request {
    device_id: String,
    technician: Technician,
}

pub async fn run(args: &ConfirmArgs) -> anyhow::Result<Status> {
    let key = super::run::signing_key(args.signing_key.as_deref())?;
    let mut db = open_existing(&args.db)?;
    crate::engine::guard::refuse_archive(&db, &args.db, "confirm")?;
    let run_id = resolve(&db, &args.run, &args.db)?;
    let record = db
        .load_run(&run_id)
        .with_context(|| format!("cannot read run {run_id} from {}", args.db.display()))?;
    let operator = args
        .operator
        .clone()
        .unwrap_or_else(super::operator::from_env);
    let requests = requests(args, &record, &operator)?;

    let store = if args.no_verify {
        None
    } else {
        Some(
            super::run::load_credentials(args.credentials.as_deref()).map_err(|e| {
                Early::refused(format!("{e}; nothing was recorded (or pass --no-verify)"))
            })?,
        )
    };
    let inventory = match run_inventory(&record.run) {
        Ok(inv) => Some(inv),
        Err(why) if store.is_some() => {
            say!(
                "fleetreset: looking at the devices without the inventory's protocols and credentials: {why}"
            );
            None
        }
        Err(_) => None,
    };

    // The looks, a few at a time, in the checklist's order.
    let looks: Vec<Verdict> = futures::stream::iter(&requests)
        .map(|request| {
            let record = &record;
            let store = store.as_ref();
            let inventory = inventory.as_ref();
            async move {
                let Some(store) = store else {
                    return Ok(Verdict::Confirm {
                        seen: Seen::NotChecked,
                        post: None,
                    });
                };
                let job = record.confirmable(&request.device_id)?;
                let dev = inventory.and_then(|i| device(i, &job.device_id));
                Ok::<_, crate::store::StoreError>(look::look(record, job, dev, store).await)
            }
        })
        .buffered(LOOKS_AT_ONCE)
        .try_collect()
        .await?;
    let mut confirmations = Vec::new();
    let mut refusals = Vec::new();
    for (request, verdict) in requests.into_iter().zip(looks) {
        let at = chrono::Utc::now();
        match verdict {
            Verdict::Confirm { seen, post } => confirmations.push(Confirmation {
                device_id: request.device_id,
                at,
                technician: request.technician,
                seen,
                post,
            }),
            Verdict::Refuse { address, why, post } => refusals.push(Refusal {
                device_id: request.device_id,
                at,
                technician: request.technician,
                address,
                why,
                post,
            }),
        }
    }
    // The evidence and the confirmations together, or nothing: a confirmation a racing
    // `confirm` recorded first refuses this one whole, and it can be run again as it was.
    db.record_confirmations(&run_id, &confirmations, &refusals)
        .with_context(|| {
            format!(
                "cannot record the confirmations in {}; nothing was recorded",
                args.db.display()
            )
        })?;
    super::seal::sealed(
        &mut db,
        &run_id,
        crate::store::Seal::Confirmed,
        key.as_ref(),
    );
    if record.run.action == crate::model::Action::FactoryReset && !confirmations.is_empty() {
        super::seal::reissue(&mut db, &run_id, key.as_ref());
    }

    let mut text = String::new();
    for c in &confirmations {
        text.push_str(&format!(
            "{}: manual_confirmed, by {}: {}\n",
            Inert(&c.device_id),
            Inert(&c.technician.by),
            Inert(&c.seen.words())
        ));
    }
    for r in &refusals {
        text.push_str(&format!(
            "{}: NOT confirmed, still manual_required: {}\n",
            Inert(&r.device_id),
            Inert(&r.why)
        ));
    }
    let mut stdout = io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    if refusals.is_empty() {
        Ok(Status::Success)
    } else {
        say!(
            "fleetreset: {} device(s) contradict the technician and stay manual_required; the evidence is in the audit (`fleetreset report {}`)",
            refusals.len(),
            Inert(&run_id)
        );
        Ok(Status::DeviceFailures)
    }
}

/// The confirmations asked for, each checked against the run: one device from the command
/// line, or every signed row of a returned checklist. Anything wrong refuses them all.
fn requests(
    args: &ConfirmArgs,
    record: &RunRecord,
    operator: &str,
) -> anyhow::Result<Vec<Request>> {
    let technician = |by: String, said_at, note, source| Technician {
        by,
        said_at,
        note,
        operator: operator.to_string(),
        source,
    };
    if let Some(device_id) = &args.device {
        let by = args
            .by
            .as_deref()
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .ok_or_else(|| {
                Early::refused("--by NAME is needed: the technician who did the work")
            })?;
        record
            .confirmable(device_id)
            .map_err(|e| Early::refused(format!("{e}; nothing was recorded")))?;
        return Ok(vec![Request {
            device_id: device_id.clone(),
            technician: technician(
                by.to_string(),
                None,
                args.note.clone().filter(|n| !n.trim().is_empty()),
                "command line".to_string(),
            ),
        }]);
    }
    let Some(path) = &args.from else {
        return Err(Early::refused("give a DEVICE with --by NAME, or --from FILE").into());
    };
    let returned = match checklist::read(path, args.sheet.as_deref(), record, args.by.as_deref())? {
        Ok(r) => r,
        Err(problems) => {
            for p in problems.iter().take(PROBLEMS_SHOWN) {
                say!("{p}");
            }
            if problems.len() > PROBLEMS_SHOWN {
                say!(
                    "  … and {} more problem(s) like these",
                    problems.len() - PROBLEMS_SHOWN
                );
            }
            return Err(Early::refused(format!(
                "{}: {} problem(s) in the checklist (above); nothing was recorded",
                path.display(),
                problems.len()
            ))
            .into());
        }
    };
    if returned.signed.is_empty() {
        return Err(Early::refused(format!(
            "{}: no row has {} filled in ({} row(s) unsigned); nothing was recorded",
            returned.location,
            crate::report::work_orders::BY,
            returned.unsigned
        ))
        .into());
    }
    if returned.unsigned > 0 {
        say!(
            "fleetreset: {}: {} row(s) unsigned, left manual_required",
            returned.location,
            returned.unsigned
        );
    }
    Ok(returned
        .signed
        .into_iter()
        .map(|s| Request {
            device_id: s.device_id,
            technician: technician(
                s.by,
                s.said_at,
                s.note,
                format!("{}:{}", returned.location, s.line),
            ),
        })
        .collect())
}
