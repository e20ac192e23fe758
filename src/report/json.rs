//! `run.json`: everything the audit holds about the run, plus its counts, for scripts.

use serde::Serialize;

use super::summary::Summary;
use crate::store::RunRecord;

/// `{"run": …, "jobs": […], "snapshots": […], "events": […], "summary": {…}}`.
#[derive(Serialize)]
struct RunJson<'a> {
    #[serde(flatten)]
    record: &'a RunRecord,
    summary: Summary,
}

/// Pretty-printed, ending with a newline.
pub fn render(record: &RunRecord) -> serde_json::Result<String> {
    let mut text = serde_json::to_string_pretty(&RunJson {
        record,
        summary: Summary::of(record),
    })?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::report::fixture;

    fn parsed() -> Value {
        serde_json::from_str(&render(&fixture::record()).unwrap()).unwrap()
    }

    #[test]
    fn the_record_is_all_there_next_to_its_summary() {
        let value = parsed();
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["events", "jobs", "run", "snapshots", "summary"]);
        assert_eq!(value["run"]["id"], fixture::RUN_ID);
        assert_eq!(value["run"]["action"], "power-cycle");
        assert_eq!(value["run"]["status"], "stopped");
        assert_eq!(value["run"]["started_at"], "2026-11-21T05:47:08.123Z");
        assert_eq!(value["jobs"].as_array().unwrap().len(), 4);
        assert_eq!(value["jobs"][1]["reason"], "not_verified");
        assert_eq!(value["snapshots"][0]["phase"], "pre");
        assert_eq!(
            value["snapshots"][0]["data"]["sysinfo"]["alias"],
            "=HYPERLINK(\"x\")"
        );
        assert_eq!(value["events"][1]["state"], "probing");
        // Nothing lost on the way: the record part parses back to the record.
        let mut back = value.clone();
        back.as_object_mut().unwrap().remove("summary");
        assert_eq!(back, serde_json::to_value(fixture::record()).unwrap());
    }

    #[test]
    fn the_summary_counts_every_outcome_and_reason_and_each_site() {
        let value = parsed();
        assert_eq!(value["summary"]["jobs"], 4);
        assert_eq!(
            value["summary"]["by_outcome"],
            json!({
                "succeeded": 1,
                "failed": 1,
                "manual_required": 1,
                "manual_confirmed": 0,
                "skipped": 1,
                "unfinished": 0
            })
        );
        let reasons = value["summary"]["by_reason"].as_object().unwrap();
        assert_eq!(reasons.len(), crate::model::Reason::ALL.len());
        assert_eq!(reasons["not_verified"], 1);
        assert_eq!(reasons["threshold_reached"], 1);
        assert_eq!(reasons["unreachable"], 0);
        let sites = value["summary"]["by_site"].as_object().unwrap();
        let names: Vec<&str> = sites.keys().map(String::as_str).collect();
        assert_eq!(names, ["", "north|south", "site-a"]);
        assert_eq!(sites["site-a"]["succeeded"], 1);
        assert_eq!(sites["site-a"]["manual_required"], 1);
        assert_eq!(sites["north|south"]["failed"], 1);
        assert_eq!(sites[""]["skipped"], 1);
    }

    #[test]
    fn the_file_is_pretty_printed_and_ends_with_a_newline() {
        let text = render(&fixture::record()).unwrap();
        assert!(text.starts_with("{\n  \"run\": {\n    \"id\": "), "{text}");
        assert!(text.ends_with("}\n"));
    }
}
