//! What planning needs across rows (who powers whom, which feeders are themselves
//! power-cycled upstream), settled once, so that jobs can then be planned one at a time:
//! `plan` prints a million-row plan without holding a million jobs.

use std::collections::{HashMap, HashSet};

use crate::catalog;
use crate::inventory::Device;
use crate::model::Action;

use super::super::method::{self, MethodChoice, MethodPlan};
use super::{PlannedJob, plan_one, shape};

/// Plans the jobs of `devices`, one at a time, each as [`plan_with`](super::plan_with) plans
/// it. It holds only what rows with a `power_via` need, however many rows there are.
pub struct Planner<'d> {
    devices: &'d [Device],
    action: Action,
    asked: MethodChoice,
    /// The rows a `power_via` names, by id (the last of an id, as a map of all rows has it).
    feeders: HashMap<&'d str, &'d Device>,
    /// Who each row powers, once: a fleet of 100,000 rows must not be scanned for each row.
    powers: HashMap<&'d str, Vec<&'d str>>,
    /// The outlet each feeder planned by the upstream method is power-cycled at.
    upstream_of: HashMap<&'d str, String>,
}

impl<'d> Planner<'d> {
    pub fn new(devices: &'d [Device], action: Action, asked: MethodChoice) -> Self {
        let mut powers: HashMap<&str, Vec<&str>> = HashMap::new();
        for d in devices {
            if let Some(via) = &d.power_via {
                powers
                    .entry(via.id.as_str())
                    .or_default()
                    .push(d.id.as_str());
            }
        }
        let named: HashSet<&str> = powers.keys().copied().collect();
        let feeders: HashMap<&str, &Device> = devices
            .iter()
            .filter(|d| named.contains(d.id.as_str()))
            .map(|d| (d.id.as_str(), d))
            .collect();
        let mut planner = Planner {
            devices,
            action,
            asked,
            feeders,
            powers,
            upstream_of: HashMap::new(),
        };
        // A feeder cycled at its own outlet after what it powers cuts their power a second
        // time; the last such row of an id counts, as in a map of all jobs.
        let upstream_of: HashMap<&str, String> = devices
            .iter()
            .filter(|d| named.contains(d.id.as_str()))
            .filter_map(|d| match planner.method_of(d) {
                MethodPlan::Upstream(u) => Some((d.id.as_str(), u.outlet_name())),
                _ => None,
            })
            .collect();
        planner.upstream_of = upstream_of;
        planner
    }

    /// Every job, in inventory order.
    pub fn jobs(&self) -> impl Iterator<Item = PlannedJob> + '_ {
        (0..self.devices.len()).map(|i| self.job(i))
    }

    /// The job of the row at `index`.
    pub fn job(&self, index: usize) -> PlannedJob {
        let d = &self.devices[index];
        let mut job = plan_one(u32::try_from(index).unwrap_or(u32::MAX), d, self.action);
        let method = method::choose(d, &job.model, self.feeder(d), self.action, self.asked_of(d));
        job.why = method.why(&job.model, self.action);
        job.after = self
            .powers
            .get(d.id.as_str())
            .map(|ids| ids.iter().map(|id| id.to_string()).collect())
            .unwrap_or_default();
        shape(&mut job, method, self.action);
        if !matches!(job.method, MethodPlan::Manual(_))
            && let Some(via) = &d.power_via
            && let Some(outlet) = self.upstream_of.get(via.id.as_str())
        {
            job.warnings.push(format!(
                "{} is itself power-cycled at {} after it: this device loses power a second time then",
                crate::inert::Inert(&via.id),
                crate::inert::Inert(outlet)
            ));
        }
        job
    }

    fn feeder(&self, d: &Device) -> Option<&'d Device> {
        let via = d.power_via.as_ref()?;
        self.feeders.get(via.id.as_str()).copied()
    }

    /// The run's `--method`, when it names one, is for every row; else each row's own.
    fn asked_of(&self, d: &Device) -> MethodChoice {
        match self.asked {
            MethodChoice::Auto => d.method,
            run_wide => run_wide,
        }
    }

    /// The method `d`'s job gets, without planning the rest of it.
    fn method_of(&self, d: &Device) -> MethodPlan {
        let model = d
            .model
            .as_deref()
            .map(catalog::lookup)
            .unwrap_or(catalog::UNKNOWN);
        method::choose(d, &model, self.feeder(d), self.action, self.asked_of(d))
    }
}
