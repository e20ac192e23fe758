//! `power_via` between rows: each must name another row that can switch power (a strip with
//! that outlet, when the catalog knows the row's model), and following them must not lead in a
//! circle (no device can be power-cycled through a plug that it powers itself).

use std::collections::HashMap;

use super::errors::quoted;
use super::{PowerVia, RowError};
use crate::catalog::{self, Family};

/// How many ids a loop message lists before it cuts the list short.
const LOOP_IDS_SHOWN: usize = 8;

/// One row's `power_via`.
#[derive(Debug)]
pub(super) struct Link {
    pub line: u64,
    /// The row's own id, empty when the row has none.
    pub from: String,
    pub via: PowerVia,
    /// The value as written, for messages.
    pub text: String,
}

/// Problems with `links` (in line order), given what `row` says of an id: `None` when no row
/// has it, else the model of the valid row with that id (`None` when there is no such row, or
/// it gives no model).
pub(super) fn check<'m>(
    links: &[Link],
    row: impl Fn(&str) -> Option<Option<&'m str>>,
) -> Vec<RowError> {
    let mut errors = Vec::new();
    for link in links {
        let target = row(&link.via.id);
        let message = if link.via.id == link.from {
            format!("power_via {} names this row itself", quoted(&link.text))
        } else if target.is_none() {
            format!(
                "power_via {} names no row (no row has id {})",
                quoted(&link.text),
                quoted(&link.via.id)
            )
        } else if let Some(why) = target
            .flatten()
            .and_then(|model| switch_problem(&link.via, model))
        {
            format!("power_via {} names {why}", quoted(&link.text))
        } else {
            continue;
        };
        errors.push(RowError {
            line: link.line,
            message,
        });
    }
    errors.extend(loops(links));
    errors
}

/// Why the row `via` names, of `model`, can't switch the power `via` asks for; `None` when it
/// can, or when the catalog doesn't know the model (then nothing is known against it).
fn switch_problem(via: &PowerVia, model: &str) -> Option<String> {
    let info = catalog::lookup(model);
    let target = format!("{}, a {}", quoted(&via.id), quoted(model));
    match (info.family, via.outlet) {
        (Family::Unknown, _) => None,
        (Family::Strip, Some(n)) if n > u16::from(info.outlets) => Some(format!(
            "outlet {n} of {target}, which has {} outlets",
            info.outlets
        )),
        (Family::Strip, _) => None,
        (Family::Plug, Some(n)) => Some(format!(
            "outlet {n} of {target}, a plug with one outlet: write {} without #{n}",
            quoted(&via.id)
        )),
        (Family::Plug, None) => None,
        (family, _) => Some(format!(
            "{target} ({}), which has no outlet to power another device",
            family_word(family)
        )),
    }
}

fn family_word(family: Family) -> &'static str {
    match family {
        Family::Plug => "a plug",
        Family::Strip => "a power strip",
        Family::WallSwitch => "a wall switch",
        Family::Dimmer => "a dimmer",
        Family::Bulb => "a bulb",
        Family::LightStrip => "a light strip",
        Family::Camera => "a camera",
        Family::Doorbell => "a doorbell",
        Family::Unknown => "a model the catalog doesn't know",
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Visit {
    OnPath,
    Done,
}

/// Each loop once, at the line of its first row. Every id has at most one `power_via` (that of
/// its first row), so a walk from any row either ends or enters one loop: each id is walked
/// once, in linear time.
fn loops(links: &[Link]) -> Vec<RowError> {
    let mut next: HashMap<&str, &Link> = HashMap::new();
    for link in links
        .iter()
        .filter(|link| !link.from.is_empty() && link.from != link.via.id)
    {
        next.entry(link.from.as_str()).or_insert(link);
    }
    let mut visits: HashMap<&str, Visit> = HashMap::new();
    let mut errors = Vec::new();
    for start in links {
        let mut path: Vec<&Link> = Vec::new();
        let mut id = start.from.as_str();
        while let Some(&link) = next.get(id) {
            match visits.get(id) {
                Some(Visit::Done) => break,
                Some(Visit::OnPath) => {
                    let entered = path.iter().position(|seen| seen.from == id).unwrap_or(0);
                    errors.push(loop_error(&path[entered..]));
                    break;
                }
                None => {}
            }
            visits.insert(id, Visit::OnPath);
            path.push(link);
            id = link.via.id.as_str();
        }
        for link in path {
            visits.insert(link.from.as_str(), Visit::Done);
        }
    }
    errors
}

/// `members` are the links of one loop, in the order they are followed.
fn loop_error(members: &[&Link]) -> RowError {
    let first = (0..members.len())
        .min_by_key(|&i| members[i].line)
        .unwrap_or(0);
    let ordered = members[first..].iter().chain(&members[..first]);
    let mut shown: Vec<String> = ordered
        .take(LOOP_IDS_SHOWN)
        .map(|link| quoted(&link.from))
        .collect();
    if members.len() > LOOP_IDS_SHOWN {
        shown.push(format!("... ({} rows in all)", members.len()));
    }
    shown.push(quoted(&members[first].from));
    RowError {
        line: members[first].line,
        message: format!("power_via loop: {}", shown.join(" -> ")),
    }
}

#[cfg(test)]
mod tests {
    use crate::inventory::parse::problems;

    fn via_problems(rows: &[(&str, &str)]) -> Vec<(u64, String)> {
        let mut text = String::from("id,host,power_via\n");
        for (i, (id, via)) in rows.iter().enumerate() {
            text.push_str(&format!("{id},10.0.0.{},{via}\n", i + 1));
        }
        problems(text.as_bytes())
    }

    /// Rows of (id, model, power_via).
    fn modelled_problems(rows: &[(&str, &str, &str)]) -> Vec<(u64, String)> {
        let mut text = String::from("id,host,model,power_via\n");
        for (i, (id, model, via)) in rows.iter().enumerate() {
            text.push_str(&format!("{id},10.0.0.{},{model},{via}\n", i + 1));
        }
        problems(text.as_bytes())
    }

    #[test]
    fn an_outlet_the_strip_does_not_have_is_reported_with_its_outlet_count() {
        assert_eq!(
            modelled_problems(&[("strip", "KP303(UK)", ""), ("lamp", "KL130", "strip#7")]),
            [(
                3,
                "power_via \"strip#7\" names outlet 7 of \"strip\", a \"KP303(UK)\", which \
                 has 3 outlets"
                    .to_string()
            )]
        );
        assert_eq!(
            modelled_problems(&[("strip", "KP303(UK)", ""), ("lamp", "KL130", "strip#3")]),
            []
        );
    }

    #[test]
    fn power_via_a_device_without_an_outlet_is_reported_and_an_unknown_model_is_not() {
        assert_eq!(
            modelled_problems(&[("bulb", "KL130", ""), ("lamp", "", "bulb")]),
            [(
                3,
                "power_via \"bulb\" names \"bulb\", a \"KL130\" (a bulb), which has no outlet \
                 to power another device"
                    .to_string()
            )]
        );
        assert_eq!(
            modelled_problems(&[("plug", "HS110(EU)", ""), ("lamp", "", "plug#2")]),
            [(
                3,
                "power_via \"plug#2\" names outlet 2 of \"plug\", a \"HS110(EU)\", a plug \
                 with one outlet: write \"plug\" without #2"
                    .to_string()
            )]
        );
        assert_eq!(
            modelled_problems(&[
                ("plug", "HS110(EU)", ""),
                ("x", "ZZ9000", ""),
                ("lamp", "", "plug"),
                ("fan", "", "x#9")
            ]),
            []
        );
    }

    #[test]
    fn power_via_naming_another_row_is_fine_in_any_order() {
        assert_eq!(
            via_problems(&[("lamp", "strip#2"), ("strip", "wall"), ("wall", "")]),
            []
        );
    }

    #[test]
    fn power_via_naming_no_row_is_reported() {
        assert_eq!(
            via_problems(&[("lamp", "strip-9#2")]),
            [(
                2,
                "power_via \"strip-9#2\" names no row (no row has id \"strip-9\")".to_string()
            )]
        );
    }

    #[test]
    fn power_via_naming_its_own_row_is_reported() {
        assert_eq!(
            via_problems(&[("lamp", "lamp")]),
            [(2, "power_via \"lamp\" names this row itself".to_string())]
        );
    }

    #[test]
    fn a_power_via_loop_is_reported_once_at_its_first_row() {
        assert_eq!(
            via_problems(&[("feeder", "a"), ("b", "c"), ("a", "b"), ("c", "a")]),
            [(
                3,
                "power_via loop: \"b\" -> \"c\" -> \"a\" -> \"b\"".to_string()
            )]
        );
    }

    #[test]
    fn a_long_loop_lists_only_its_first_ids() {
        let ids: Vec<String> = (0..20).map(|i| format!("d{i}")).collect();
        let rows: Vec<(&str, &str)> = (0..20)
            .map(|i| (ids[i].as_str(), ids[(i + 1) % 20].as_str()))
            .collect();
        let found = via_problems(&rows);
        assert_eq!(
            found,
            [(
                2,
                "power_via loop: \"d0\" -> \"d1\" -> \"d2\" -> \"d3\" -> \"d4\" -> \"d5\" -> \
                 \"d6\" -> \"d7\" -> ... (20 rows in all) -> \"d0\""
                    .to_string()
            )]
        );
    }

    #[test]
    fn a_long_chain_without_a_loop_is_clean() {
        let ids: Vec<String> = (0..50_000).map(|i| format!("d{i}")).collect();
        let mut text = String::from("id,host,power_via\n");
        for i in 0..50_000 {
            let via = if i + 1 < ids.len() {
                ids[i + 1].as_str()
            } else {
                ""
            };
            text.push_str(&format!("{},h{i}.lan,{via}\n", ids[i]));
        }
        assert_eq!(problems(text.as_bytes()), []);
    }
}
