//! `power_via` between rows: each must name another row, and following them must not lead in
//! a circle (no device can be power-cycled through a plug that it powers itself).

use std::collections::HashMap;

use super::errors::quoted;
use super::{PowerVia, RowError};

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

/// Problems with `links` (in line order), given the line of the first row with each id.
pub(super) fn check(links: &[Link], ids: &HashMap<String, u64>) -> Vec<RowError> {
    let mut errors = Vec::new();
    for link in links {
        let message = if link.via.id == link.from {
            format!("power_via {} names this row itself", quoted(&link.text))
        } else if !ids.contains_key(&link.via.id) {
            format!(
                "power_via {} names no row (no row has id {})",
                quoted(&link.text),
                quoted(&link.via.id)
            )
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
