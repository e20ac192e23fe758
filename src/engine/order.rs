//! The order power dependencies impose on a run, as pure functions of indices: jobs behind the
//! same outlet share one power cycle ([`groups`]), and a device that powers others acts only
//! once every job behind it has ended ([`dependencies`], [`order`]).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

/// Groups jobs into the units the scheduler starts: the jobs with the same key (the outlet an
/// upstream power cycle switches) form one unit, in first-seen order; every job without a key
/// is a unit of its own. Units are in the order of their first job.
pub fn groups(keys: &[Option<String>]) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut by_key: HashMap<&str, usize> = HashMap::new();
    for (i, key) in keys.iter().enumerate() {
        match key {
            Some(k) => match by_key.get(k.as_str()) {
                Some(&g) => out[g].push(i),
                None => {
                    by_key.insert(k, out.len());
                    out.push(vec![i]);
                }
            },
            None => out.push(vec![i]),
        }
    }
    out
}

/// For each unit, the other units it must wait for: those holding a job that one of its jobs
/// waits for (`after[job]`, job indices).
pub fn dependencies(units: &[Vec<usize>], after: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let mut unit_of = HashMap::new();
    for (u, jobs) in units.iter().enumerate() {
        for &j in jobs {
            unit_of.insert(j, u);
        }
    }
    units
        .iter()
        .enumerate()
        .map(|(u, jobs)| {
            let mut deps: Vec<usize> = jobs
                .iter()
                .flat_map(|&j| after.get(j).into_iter().flatten())
                .filter_map(|d| unit_of.get(d).copied())
                .filter(|&d| d != u)
                .collect();
            deps.sort_unstable();
            deps.dedup();
            deps
        })
        .collect()
}

/// The units in an order where each comes after the units it waits for, otherwise keeping
/// their order: of the units whose dependencies are placed, the first in order goes next (a
/// stable topological sort, linear but for the heap, for fleets of 100,000 rows). The
/// inventory refuses `power_via` loops; should one reach here, the first unit left goes next
/// rather than never.
pub fn order(deps: &[Vec<usize>]) -> Vec<usize> {
    let n = deps.len();
    let mut waiting = vec![0usize; n];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (u, ds) in deps.iter().enumerate() {
        for &d in ds.iter().filter(|&&d| d < n) {
            waiting[u] += 1;
            dependents[d].push(u);
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> =
        (0..n).filter(|&u| waiting[u] == 0).map(Reverse).collect();
    let mut placed = vec![false; n];
    let mut first_left = 0;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let u = match ready.pop() {
            Some(Reverse(u)) if placed[u] => continue,
            Some(Reverse(u)) => u,
            // A loop: take the first left, so everything is placed.
            None => {
                while placed[first_left] {
                    first_left += 1;
                }
                first_left
            }
        };
        placed[u] = true;
        out.push(u);
        for &v in &dependents[u] {
            waiting[v] = waiting[v].saturating_sub(1);
            if waiting[v] == 0 && !placed[v] {
                ready.push(Reverse(v));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Option<String> {
        Some(k.into())
    }

    #[test]
    fn devices_behind_one_outlet_form_one_unit_and_others_stand_alone() {
        let keys = [None, key("strip#2"), None, key("strip#2"), key("strip#1")];
        assert_eq!(groups(&keys), vec![vec![0], vec![1, 3], vec![2], vec![4]]);
        assert!(groups(&[]).is_empty());
    }

    #[test]
    fn a_device_that_powers_others_goes_after_every_one_of_them() {
        // 0: the strip, powering 1 and 2 (one outlet) and 3; 3 is a plug powering 4.
        let units = groups(&[None, key("s#1"), key("s#1"), None, key("p3")]);
        assert_eq!(units, vec![vec![0], vec![1, 2], vec![3], vec![4]]);
        let after = vec![vec![1, 2, 3], vec![], vec![], vec![4], vec![]];
        let deps = dependencies(&units, &after);
        assert_eq!(deps, vec![vec![1, 2], vec![], vec![3], vec![]]);
        let ordered = order(&deps);
        assert_eq!(ordered, vec![1, 3, 2, 0]);
        let pos = |u: usize| ordered.iter().position(|&x| x == u).unwrap();
        for (u, ds) in deps.iter().enumerate() {
            for &d in ds {
                assert!(pos(d) < pos(u), "{d} before {u}: {ordered:?}");
            }
        }
    }

    #[test]
    fn a_fleet_of_a_hundred_thousand_is_ordered_with_every_plug_after_its_devices() {
        // Every tenth unit is a plug powering the nine before it.
        let n = 100_000;
        let deps: Vec<Vec<usize>> = (0..n)
            .map(|u| {
                if u % 10 == 9 {
                    (u - 9..u).collect()
                } else {
                    Vec::new()
                }
            })
            .collect();
        let ordered = order(&deps);
        assert_eq!(ordered.len(), n);
        let mut pos = vec![0; n];
        for (p, &u) in ordered.iter().enumerate() {
            pos[u] = p;
        }
        for (u, ds) in deps.iter().enumerate() {
            assert!(ds.iter().all(|&d| pos[d] < pos[u]), "{u}");
        }
    }

    #[test]
    fn without_dependencies_the_order_is_the_inventory_s_and_a_loop_still_ends() {
        assert_eq!(order(&[vec![], vec![], vec![]]), vec![0, 1, 2]);
        assert_eq!(order(&[vec![1], vec![0], vec![]]), vec![2, 0, 1]);
    }
}
