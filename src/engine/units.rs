//! What the scheduler starts: units of one job, or of every job behind one outlet (one power
//! cycle), with the dependencies power imposes between them ([`super::order`]).

use std::collections::HashMap;
use std::sync::Arc;

use crate::store::StoreError;

use super::job::{self, JobEnv, JobResult, Mode};
use super::method::MethodPlan;
use super::order;
use super::plan::PlannedJob;

/// One thing the scheduler starts.
pub enum Unit {
    /// One job: a remote command, or `resume`'s judgement of one.
    One(Box<PlannedJob>, Mode),
    /// The jobs behind one outlet: one upstream power cycle.
    Cycle(Vec<PlannedJob>),
}

impl Unit {
    /// Runs the unit to its jobs' outcomes, in its order.
    pub async fn run(self, env: Arc<JobEnv>) -> Result<Vec<JobResult>, StoreError> {
        match self {
            Unit::One(job, mode) => Ok(vec![job::run(env, job, mode).await?]),
            // Boxed, so that the far larger state of a cycle doesn't size every job's future:
            // a run of remote jobs keeps thousands of them in flight.
            Unit::Cycle(jobs) => Box::pin(job::upstream::run(env, jobs)).await,
        }
    }
}

/// The run's units: each with the indices (into the work) of its jobs and the units it waits
/// for, in an order where each comes after those.
pub struct Units {
    /// `(unit index, unit)`, ordered.
    pub units: Vec<(usize, Unit)>,
    /// Each unit's jobs, by work index.
    pub members: Vec<Vec<usize>>,
    /// Each unit's dependencies, by unit index; only units that have some.
    pub after: HashMap<usize, Vec<usize>>,
}

/// Builds the units of `work` (the jobs that go to the scheduler, each with its work index).
/// Fresh upstream jobs behind one outlet form one unit; every other job is one.
pub fn units(work: Vec<(usize, (PlannedJob, Mode))>) -> Units {
    let keys: Vec<Option<String>> = work
        .iter()
        .map(|(_, (job, mode))| match (&job.method, mode) {
            (MethodPlan::Upstream(u), Mode::Fresh) => Some(u.outlet_name()),
            _ => None,
        })
        .collect();
    let position: HashMap<&str, usize> = work
        .iter()
        .enumerate()
        .map(|(p, (_, (job, _)))| (job.device.id.as_str(), p))
        .collect();
    let after: Vec<Vec<usize>> = work
        .iter()
        .map(|(_, (job, _))| {
            job.after
                .iter()
                .filter_map(|id| position.get(id.as_str()).copied())
                .collect()
        })
        .collect();
    let grouped = order::groups(&keys);
    let deps = order::dependencies(&grouped, &after);
    let ordered = order::order(&deps);
    let mut slots: Vec<Option<(usize, (PlannedJob, Mode))>> = work.into_iter().map(Some).collect();
    let mut members = vec![Vec::new(); grouped.len()];
    let mut built: Vec<Option<Unit>> = Vec::new();
    for (u, positions) in grouped.iter().enumerate() {
        let mut jobs: Vec<(usize, (PlannedJob, Mode))> = positions
            .iter()
            .map(|&p| slots[p].take().expect("each job is in one unit"))
            .collect();
        members[u] = jobs.iter().map(|(i, _)| *i).collect();
        built.push(Some(if keys[positions[0]].is_some() {
            Unit::Cycle(jobs.into_iter().map(|(_, (job, _))| job).collect())
        } else {
            let (_, (job, mode)) = jobs.remove(0);
            Unit::One(Box::new(job), mode)
        }));
    }
    let units = ordered
        .into_iter()
        .map(|u| (u, built[u].take().expect("each unit is placed once")))
        .collect();
    let after = deps
        .into_iter()
        .enumerate()
        .filter(|(_, d)| !d.is_empty())
        .collect();
    Units {
        units,
        members,
        after,
    }
}
