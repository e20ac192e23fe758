use serde_json::json;

use super::*;
use crate::model::{Action, Outcome};
use crate::report::fixture::{self, ZONE, at};
use crate::store::{JobRow, RunRecord, SnapshotPhase};

const IMG: &str = "<img src=x onerror=alert(1)>";
const BREAKOUT: &str = "\"><script>alert(1)</script>";

fn page(record: &RunRecord) -> String {
    render(record, ZONE, None, &[])
}

/// The fixture with hostile device text: the alias before and after, a site, a model, a
/// detail and a device id with a quote in it.
fn hostile() -> RunRecord {
    let mut record = fixture::record();
    for s in &mut record.snapshots {
        let alias = match s.phase {
            SnapshotPhase::Pre => IMG,
            SnapshotPhase::Post => BREAKOUT,
        };
        s.data["sysinfo"]["alias"] = json!(alias);
    }
    record.jobs[0].model = Some(BREAKOUT.to_string());
    record.jobs[1].site = Some("o'hare".to_string());
    record.jobs[1].detail = Some(format!("{IMG}\u{1b}[2J"));
    record.jobs[2].device_id = "cam'\"4".to_string();
    record.run.operator = "<b onmouseover=alert(1)>eve</b>".to_string();
    record
}

/// The text between the first `start` and the next `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).unwrap_or_else(|| panic!("no {start}")) + start.len();
    let len = text[from..].find(end).unwrap_or_else(|| panic!("no {end}"));
    &text[from..from + len]
}

/// Every `name="value"` of every `<rect class="job" …>`.
fn job_bars(page: &str) -> Vec<(f64, f64, String)> {
    page.split("<rect class=\"job\" ")
        .skip(1)
        .map(|tag| {
            let num = |name: &str| between(tag, &format!("{name}=\""), "\"").parse().unwrap();
            (num("x"), num("y"), between(tag, "<title>", ":").to_string())
        })
        .collect()
}

#[test]
fn hostile_device_text_appears_only_escaped() {
    let page = page(&hostile());
    assert!(
        page.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{page}"
    );
    assert!(page.contains("&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.contains("o&#39;hare"));
    assert!(page.contains("cam&#39;&quot;4"));
    assert!(page.contains("&lt;b onmouseover=alert(1)&gt;eve&lt;/b&gt;"));
    // Shown inert: an escape sequence can't reach whoever `cat`s the file.
    assert!(page.contains("\\u{1b}[2J"));
    assert!(!page.contains('\u{1b}'));
    for raw in [IMG, BREAKOUT, "o'hare", "cam'", "<b ", "onerror=alert(1)>"] {
        assert!(!page.contains(raw), "{raw} unescaped");
    }
    assert!(!page.contains("<img"));
    // The page's own script, and no other.
    assert_eq!(page.matches("<script").count(), 1);
    assert_eq!(page.matches("</script>").count(), 1);
    // No inline handler at all, and no address anywhere.
    for tag in page
        .split('<')
        .skip(1)
        .map(|t| t.split('>').next().unwrap())
    {
        let tag = tag.to_lowercase();
        assert!(
            !tag.contains(" on") && !tag.contains("/on"),
            "a handler in <{tag}>"
        );
    }
    for scheme in [
        "http://",
        "https://",
        "//",
        "url(",
        "@import",
        "javascript:",
    ] {
        assert!(!page.contains(scheme), "{scheme}");
    }
}

#[test]
fn the_policy_forbids_every_fetch_and_admits_only_the_script_on_the_page() {
    let page = page(&fixture::record());
    let csp = between(
        &page,
        "http-equiv=\"Content-Security-Policy\" content=\"",
        "\"",
    );
    assert!(csp.starts_with("default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-"));
    assert!(!csp.contains("unsafe-eval") && !csp.contains("'unsafe-inline'; base"));
    let script = between(&page, "<script>", "</script>");
    assert_eq!(script, page::script());
    use base64::Engine;
    use sha2::Digest;
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(script));
    assert!(
        csp.contains(&format!("script-src 'sha256-{hash}'")),
        "{csp}"
    );
    // Without the script, everything is there: one row per job, in inventory order.
    let body = between(&page, "<tbody>", "</tbody>").trim();
    let ids: Vec<&str> = body
        .lines()
        .map(|row| between(row, "</td><td>", "</td>"))
        .collect();
    assert_eq!(ids, ["plug-1", "lamp-2", "strip-3", "cam-4"]);
}

#[test]
fn a_small_run_has_one_bar_per_job_in_order_of_start() {
    let record = fixture::record();
    let page = page(&record);
    let bars = job_bars(&page);
    assert_eq!(bars.len(), record.jobs.len(), "{page}");
    let ids: Vec<&str> = bars.iter().map(|(_, _, id)| id.as_str()).collect();
    // plug-1 probed at 09.0, lamp-2 started 09.5, cam-4 10.0; strip-3 never started and
    // was skipped at the end.
    assert_eq!(ids, ["plug-1", "lamp-2", "cam-4", "strip-3"]);
    for pair in bars.windows(2) {
        assert!(pair[0].0 < pair[1].0, "x not ordered by start: {bars:?}");
        assert!(pair[0].1 < pair[1].1, "rows not in order: {bars:?}");
    }
    // Coloured by outcome, with a legend of every outcome.
    assert!(page.contains(&format!(
        "fill=\"{}\"><title>plug-1:",
        chart::colour(Some(Outcome::Succeeded))
    )));
    for o in Outcome::ALL {
        assert!(page.contains(&format!("\">{}</text>", o.as_str())), "{o:?}");
    }
    // The run's own events: started and stopped.
    let markers: Vec<&str> = page
        .split("<g class=\"marker\"><title>")
        .skip(1)
        .map(|m| between(m, "", ":"))
        .collect();
    assert_eq!(markers, ["started", "stopped"]);
}

#[test]
fn a_job_is_drawn_from_its_first_probe_even_before_its_recorded_start() {
    let mut record = fixture::record();
    // plug-1 probed at 09.0; say its row's start came later (a resume rewrote it).
    record.jobs[0].started_at = Some(at("2026-11-21T05:47:30.000Z"));
    let (spans, _) = spans::of(&record);
    let plug = spans.iter().find(|s| s.device_id == "plug-1").unwrap();
    assert_eq!(plug.start, Some(877.0));
}

#[test]
fn a_confirmation_days_later_neither_stretches_the_chart_nor_ends_a_bar() {
    let mut record = fixture::record();
    let (_, span) = spans::of(&record);
    // cam-4 was left for a technician at 10.0 and confirmed two days later.
    let later = at("2026-11-23T08:00:00.000Z");
    let cam = record
        .jobs
        .iter_mut()
        .find(|j| j.device_id == "cam-4")
        .unwrap();
    cam.outcome = Some(Outcome::ManualConfirmed);
    cam.finished_at = Some(later);
    let event = |id, at, kind: &str| crate::store::EventRow {
        id,
        device_id: Some("cam-4".to_string()),
        at,
        state: None,
        kind: kind.parse().expect("a stored event word"),
        detail: json!({}),
    };
    record
        .events
        .push(event(10, at("2026-11-21T05:47:10.000Z"), "outcome"));
    record.events.push(event(11, later, "manual_confirmed"));
    let (spans, confirmed_span) = spans::of(&record);
    assert_eq!(confirmed_span, span);
    let cam = spans.iter().find(|s| s.device_id == "cam-4").unwrap();
    assert_eq!((cam.start, cam.end), (Some(1877.0), Some(1877.0)));
}

#[test]
fn starts_and_jobs_in_flight_are_counted_per_interval() {
    let span = |start, end| spans::Span {
        seq: 0,
        device_id: "x",
        start: Some(start),
        end: Some(end),
        outcome: None,
    };
    let spans = [
        span(0.0, 50.0),
        span(10.0, 30.0),
        span(50.0, 90.0),
        span(60.0, 99.0),
    ];
    assert_eq!(spans::starts(&spans, 100.0, 4), [2, 0, 2, 0]);
    // 0–25: two at once; 25–50: two, then one; 50–75: the first hands over, then two; 75–100: one.
    assert_eq!(spans::in_flight(&spans, 100.0, 4), [2, 2, 2, 2]);
    assert_eq!(spans::in_flight(&spans[..1], 100.0, 4), [1, 1, 1, 0]);
}

#[test]
fn counts_by_outcome_and_by_site_match_the_record() {
    let record = hostile();
    let page = page(&record);
    let outcomes = between(
        &page,
        "<table class=\"counts\" id=\"by-outcome\">",
        "</table>",
    );
    for o in Outcome::ALL {
        let n = record.jobs.iter().filter(|j| j.outcome == Some(*o)).count();
        let word = o.as_str();
        assert!(
            outcomes.contains(&format!(
                "<td class=\"o o-{word}\">{word}</td><td class=\"n\">{n}</td>"
            )),
            "{word}: {outcomes}"
        );
    }
    assert!(outcomes.contains(&format!(
        "<th>total</th><th class=\"n\">{}</th>",
        record.jobs.len()
    )));
    let sites = between(&page, "<table class=\"counts\" id=\"by-site\">", "</table>");
    // site-a: plug-1 succeeded, cam-4 manual_required; o'hare: lamp-2 failed; no site: strip-3.
    for row in [
        "<tr><td>o&#39;hare</td><td class=\"n\">1</td><td class=\"n\">0</td><td class=\"n\">1</td><td class=\"n\">0</td><td class=\"n\">0</td><td class=\"n\">0</td><td class=\"n\">0</td></tr>",
        "<tr><td>site-a</td><td class=\"n\">2</td><td class=\"n\">1</td><td class=\"n\">0</td><td class=\"n\">1</td><td class=\"n\">0</td><td class=\"n\">0</td><td class=\"n\">0</td></tr>",
        "<tr><td><i>(no site)</i></td><td class=\"n\">1</td><td class=\"n\">0</td><td class=\"n\">0</td><td class=\"n\">0</td><td class=\"n\">0</td><td class=\"n\">1</td><td class=\"n\">0</td></tr>",
    ] {
        assert!(sites.contains(row), "{row}\n{sites}");
    }
}

#[test]
fn the_chain_head_is_shown_or_said_to_be_missing() {
    let record = fixture::record();
    assert!(page(&record).contains("<p class=\"meta\">Audit chain head: not recorded</p>"));
    let head = crate::store::ChainHead {
        run_id: record.run.id.clone(),
        records: 42,
        hash: "ab".repeat(32),
    };
    let page = render(&record, ZONE, Some(&head), &[]);
    assert!(page.contains(&format!(
        "Audit chain head: <code>42:{}</code>",
        "ab".repeat(32)
    )));
}

#[test]
fn a_factory_reset_links_each_sanitized_device_to_its_certificate() {
    let mut record = fixture::record();
    record.run.action = Action::FactoryReset;
    record.jobs[2].outcome = Some(Outcome::ManualConfirmed);
    let links = certificate_links(&record);
    assert_eq!(
        links,
        [
            (
                "plug-1".to_string(),
                format!("certificates/{}-0001.html", fixture::RUN_ID)
            ),
            (
                "cam-4".to_string(),
                format!("certificates/{}-0004.html", fixture::RUN_ID)
            ),
        ]
    );
    let page = render(&record, ZONE, None, &links);
    assert!(page.contains(&format!(
        "<td><a href=\"certificates/{}-0001.html\">certificate</a></td>",
        fixture::RUN_ID
    )));
    assert!(page.contains(&format!(
        "<td><a href=\"certificates/{}-0004.html\">certificate</a></td>",
        fixture::RUN_ID
    )));
    assert_eq!(page.matches(">certificate</a>").count(), 2);
    assert!(page.contains("<a href=\"certificates/bundle.html\">"));
    // Without the files, nothing is linked, and the page says so.
    let page = render(&record, ZONE, None, &[]);
    assert!(!page.contains("<a href"));
    assert!(page.contains("No certificate was written with this report."));
    // A power cycle has no certificates.
    assert!(certificate_links(&fixture::record()).is_empty());
}

#[test]
fn only_plain_relative_certificate_links_are_linked() {
    let mut record = fixture::record();
    record.run.action = Action::FactoryReset;
    // A run id edited in the database must not turn into a URL.
    record.run.id = "x'\"><script>alert(1)</script>".to_string();
    let mut links = certificate_links(&record);
    links.push(("lamp-2".to_string(), "javascript:alert(1)".to_string()));
    links.push((
        "cam-4".to_string(),
        "certificates/../../etc.html".to_string(),
    ));
    let page = render(&record, ZONE, None, &links);
    assert!(!page.contains("<a href=\"c"), "{page}");
    assert!(page.contains("3 certificate link(s) were not a plain"));
    assert!(!page.contains("javascript:"));
}

fn big(n: u32) -> RunRecord {
    let mut record = fixture::record();
    let template = record.jobs[0].clone();
    let t0 = record.run.started_at;
    record.jobs = (0..n)
        .map(|i| {
            let start = t0 + chrono::TimeDelta::milliseconds(i64::from(i) * 10);
            JobRow {
                device_id: format!("d{i:05}"),
                seq: i,
                outcome: Some(if i % 7 == 0 {
                    Outcome::Failed
                } else {
                    Outcome::Succeeded
                }),
                started_at: Some(start),
                finished_at: Some(start + chrono::TimeDelta::milliseconds(2500)),
                ..template.clone()
            }
        })
        .collect();
    record.snapshots.clear();
    record.events.retain(|e| e.device_id.is_none());
    record
}

#[test]
fn up_to_two_hundred_jobs_get_a_bar_each() {
    let page = page(&big(150));
    assert_eq!(job_bars(&page).len(), 150);
}

#[test]
fn ten_thousand_jobs_make_a_small_chart_of_grouped_rows() {
    let record = big(10_000);
    let page = page(&record);
    let svg = between(&page, "<svg", "</svg>");
    assert!(svg.len() < 100_000, "{} bytes", svg.len());
    assert_eq!(svg.matches("class=\"job\"").count(), 0);
    let groups = svg.matches("class=\"group\"").count();
    // 100 rows of 100 jobs, each with succeeded and failed stripes.
    assert_eq!(groups, 200);
    assert!(svg.matches("<rect").count() < 600);
    assert!(svg.contains("100 jobs a row"));
    assert!(page.contains("each row is 100 consecutive jobs in order of start"));
    // The table still lists them all.
    assert_eq!(
        between(&page, "<tbody>", "</tbody>").trim().lines().count(),
        10_000
    );
}

#[test]
fn batches_are_said_to_be_unrecorded_and_the_configured_ones_named() {
    let mut record = fixture::record();
    record.run.parameters["safety"] = json!({"canary": 2, "batch": "25%"});
    let set = page(&record);
    assert!(set.contains("The run was set to a canary of 2, then batches of 25%. The audit does not record where each batch began"));
    assert!(page(&fixture::record()).contains("The run was one batch"));
}

#[test]
fn a_confirmed_job_names_its_technician_escaped() {
    let mut record = fixture::record();
    let cam = record
        .jobs
        .iter_mut()
        .find(|j| j.device_id == "cam-4")
        .unwrap();
    cam.outcome = Some(Outcome::ManualConfirmed);
    record.events.push(crate::store::EventRow {
        id: 99,
        device_id: Some("cam-4".into()),
        at: at("2026-11-22T08:00:00.000Z"),
        state: None,
        kind: crate::model::EventKind::ManualConfirmed.into(),
        detail: json!({"by": BREAKOUT, "said_at": null, "note": null, "operator": "ops",
                       "source": "command line", "seen": {"result": "not_checked"}}),
    });
    let page = page(&record);
    assert!(page.contains(
        "<td>&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt; at 2026-11-22 09:00:00.000 +01:00</td>"
    ));
    assert_eq!(page.matches("<script").count(), 1);
}

/// Links as `certificate::Issued::links` gives them for a record's sanitized devices.
fn certificate_links(record: &RunRecord) -> Vec<(String, String)> {
    if record.run.action != crate::model::Action::FactoryReset {
        return Vec::new();
    }
    let mut jobs: Vec<_> = record
        .jobs
        .iter()
        .filter(|j| {
            matches!(
                j.outcome,
                Some(crate::model::Outcome::Succeeded | crate::model::Outcome::ManualConfirmed)
            )
        })
        .collect();
    jobs.sort_by_key(|j| j.seq);
    jobs.into_iter()
        .map(|j| {
            let id = crate::certificate::id(&record.run.id, j.seq);
            (j.device_id.clone(), format!("{CERTIFICATES_DIR}/{id}.html"))
        })
        .collect()
}

#[test]
fn the_in_flight_sweep_over_spans_in_order_of_start_counts_as_sorting_every_start_and_end() {
    let mut spans = Vec::new();
    for i in 0..300u32 {
        let start = f64::from((i * 37) % 97);
        spans.push(spans::Span {
            seq: i,
            device_id: "x",
            start: (i % 9 != 0).then_some(start),
            end: (i % 7 != 0).then_some(start + f64::from(i % 13)),
            outcome: None,
        });
    }
    spans.sort_by(|a, b| a.sort_key().partial_cmp(&b.sort_key()).unwrap());
    let span = 120.0;
    let mut sweep = spans::InFlight::new(span, 17);
    let mut starts = spans::Starts::new(span, 17);
    for s in &spans {
        sweep.add(s);
        starts.add(s);
    }
    assert_eq!(sweep.finish(), spans::in_flight(&spans, span, 17));
    assert_eq!(starts.counts(), spans::starts(&spans, span, 17));
}
