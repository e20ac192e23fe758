use std::collections::HashMap;

use super::*;
use crate::model::{JobState, Method, Reason};
use crate::report::fixture;

fn manual(id: &str, seq: u32, site: Option<&str>, unit: Option<&str>, model: &str) -> JobRow {
    JobRow {
        device_id: id.into(),
        seq,
        host: format!("127.44.9.{}", seq + 1),
        model: Some(model.into()),
        mac: None,
        site: site.map(Into::into),
        unit: unit.map(Into::into),
        method: Method::Manual,
        state: JobState::Done,
        outcome: Some(Outcome::ManualRequired),
        reason: Some(Reason::Unreachable),
        detail: Some("offline: nothing answered".into()),
        attempts: 1,
        started_at: None,
        finished_at: Some(fixture::at("2026-11-21T05:48:00.000Z")),
        identity_verified: None,
    }
}

fn record(action: Action, jobs: Vec<JobRow>) -> RunRecord {
    let mut record = fixture::record();
    record.run.action = action;
    record.jobs = jobs;
    record.events.clear();
    record.snapshots.clear();
    record
}

fn ids(orders: &WorkOrders) -> Vec<(Option<&str>, Option<&str>, &str)> {
    orders
        .items()
        .map(|i| (i.site.as_deref(), i.unit.as_deref(), i.device_id.as_str()))
        .collect()
}

#[test]
fn only_manual_jobs_are_listed_grouped_by_site_then_unit_named_first_then_in_inventory_order() {
    let mut done = manual("done", 0, Some("Birch"), Some("1"), "HS103");
    done.outcome = Some(Outcome::Succeeded);
    let mut confirmed = manual("confirmed", 1, Some("Birch"), Some("1"), "HS103");
    confirmed.outcome = Some(Outcome::ManualConfirmed);
    let jobs = vec![
        done,
        confirmed,
        manual("oak-2-b", 2, Some("Oak"), Some("2"), "HS103"),
        manual("loose", 3, None, None, "HS103"),
        manual("birch-x", 4, Some("Birch"), None, "HS103"),
        manual("oak-1", 5, Some("Oak"), Some("1"), "KD110"),
        manual("oak-2-a", 6, Some("Oak"), Some("2"), "HS103"),
        manual("birch-1", 7, Some("Birch"), Some("1"), "HS103"),
    ];
    let orders = WorkOrders::of(&record(Action::FactoryReset, jobs), &HashMap::new());
    assert_eq!(
        ids(&orders),
        [
            (Some("Birch"), Some("1"), "birch-1"),
            (Some("Birch"), None, "birch-x"),
            (Some("Oak"), Some("1"), "oak-1"),
            (Some("Oak"), Some("2"), "oak-2-b"),
            (Some("Oak"), Some("2"), "oak-2-a"),
            (None, None, "loose"),
        ]
    );
    type Shape<'a> = Vec<(Option<&'a str>, Vec<(Option<&'a str>, usize)>)>;
    let shape: Shape = orders
        .sites
        .iter()
        .map(|s| {
            (
                s.name.as_deref(),
                s.units
                    .iter()
                    .map(|u| (u.name.as_deref(), u.items.len()))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            (Some("Birch"), vec![(Some("1"), 1), (None, 1)]),
            (Some("Oak"), vec![(Some("1"), 1), (Some("2"), 2)]),
            (None, vec![(None, 1)]),
        ]
    );
}

#[test]
fn a_run_without_manual_jobs_has_no_work_orders() {
    let orders = WorkOrders::of(&fixture::record(), &HashMap::new());
    // The fixture's one manual job has no site: it is there.
    assert_eq!(orders.items().count(), 1);
    let mut record = fixture::record();
    record
        .jobs
        .retain(|j| j.outcome != Some(Outcome::ManualRequired));
    let orders = WorkOrders::of(&record, &HashMap::new());
    assert!(orders.is_empty());
    assert!(markdown::render(&orders).contains("No device of this run is waiting"));
}

#[test]
fn the_doorbell_s_factory_reset_takes_it_off_its_bracket_and_a_plug_s_holds_10_s() {
    let bell = Steps::for_model(Some("KD110(US)"), Action::FactoryReset);
    assert_eq!(
        bell.actions[0],
        "Take the doorbell off its mounting bracket."
    );
    assert!(bell.actions[1].contains("5–10 s until the LED blinks red or amber"));
    assert_eq!(bell.bring, Some("a paperclip or pin"));
    assert!(
        bell.check
            .iter()
            .any(|c| c.contains("no longer appears in the account"))
    );
    assert!(bell.check.iter().any(|c| c.contains("180 s")));
    assert_eq!(bell.warning, None);
    let plug = Steps::for_model(Some("HS103"), Action::FactoryReset);
    assert!(plug.actions[0].contains("for 10 s"), "{:?}", plug.actions);
    assert_eq!(
        plug.app.as_deref(),
        Some(
            "while the device is still online, the app can do it instead: Device Settings > Advanced > Reset Device"
        )
    );
    let soft = Steps::for_model(Some("HS103"), Action::PowerCycle);
    assert!(soft.actions[0].contains("for 5 s"), "{:?}", soft.actions);
    assert_eq!(soft.app, None);
    let bell_soft = Steps::for_model(Some("D130"), Action::PowerCycle);
    assert!(
        bell_soft.actions[0].contains("breaker"),
        "{:?}",
        bell_soft.actions
    );
}

#[test]
fn unknown_models_and_bulbs_get_generic_steps_with_a_warning() {
    let odd = Steps::for_model(Some("XYZ9"), Action::PowerCycle);
    assert!(
        odd.warning
            .as_deref()
            .unwrap()
            .contains("\"XYZ9\" is not in the catalog")
    );
    assert!(odd.actions[1].contains("15 s"), "{:?}", odd.actions);
    let bulb = Steps::for_model(Some("KL130"), Action::FactoryReset);
    assert!(
        bulb.warning
            .as_deref()
            .unwrap()
            .contains("no physical procedure for a bulb")
    );
    assert!(bulb.actions[0].contains("manual"));
    let none = Steps::for_model(None, Action::FactoryReset);
    assert!(none.warning.as_deref().unwrap().contains("gives no model"));
}

#[test]
fn hostile_device_text_stays_text_in_the_html_page() {
    let mut job = manual(
        "<script>alert(1)</script>",
        0,
        Some("Oak & <b>Ash</b>"),
        Some("1"),
        "HS103",
    );
    job.detail = Some("offline \"quoted\" 'single' \u{1b}[2J".into());
    let notes = HashMap::from([(
        job.device_id.clone(),
        "<img src=x onerror=alert(2)>".to_string(),
    )]);
    let orders = WorkOrders::of(&record(Action::PowerCycle, vec![job]), &notes);
    let page = html::render(&orders);
    assert!(!page.contains("<script"), "{page}");
    assert!(!page.contains("<img"), "{page}");
    assert!(!page.contains("<b>"), "{page}");
    assert!(!page.contains('\u{1b}'), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt; — HS103"),
        "{page}"
    );
    assert!(
        page.contains("<dt>Notes</dt><dd>&lt;img src=x onerror=alert(2)&gt;</dd>"),
        "{page}"
    );
    assert!(
        page.contains("Site: Oak &amp; &lt;b&gt;Ash&lt;/b&gt;"),
        "{page}"
    );
    assert!(
        page.contains("offline &quot;quoted&quot; &#39;single&#39; \\u{1b}[2J"),
        "{page}"
    );
    // Self-contained: nothing to load, nothing to run.
    for banned in ["<script", "src=\"", "href=", "<link", "@import", "url("] {
        assert!(!page.contains(banned), "{banned}");
    }
    let md = markdown::render(&orders);
    assert!(
        md.contains("#### \\<script\\>alert(1)\\</script\\> — HS103"),
        "{md}"
    );
    assert!(!md.contains('\u{1b}'), "{md}");
}

#[test]
fn the_csv_has_one_row_per_device_and_empty_columns_for_the_technician() {
    let mut odd = manual("=cmd", 1, Some("Oak"), Some("2"), "KD110");
    odd.mac = Some("50:C7:BF:00:00:09".into());
    let jobs = vec![manual("plug", 0, Some("Oak"), Some("1"), "HS103"), odd];
    let orders = WorkOrders::of(&record(Action::FactoryReset, jobs), &HashMap::new());
    let bytes = csv::render(&orders).unwrap();
    let mut reader = ::csv::Reader::from_reader(bytes.as_slice());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        CSV_COLUMNS
    );
    let rows: Vec<::csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    let col = |name: &str| CSV_COLUMNS.iter().position(|c| *c == name).unwrap();
    assert_eq!(&rows[0][col(ID)], "plug");
    assert_eq!(&rows[1][col(ID)], "'=cmd");
    assert_eq!(unneutralised(&rows[1][col(ID)]), "=cmd");
    assert_eq!(&rows[1][col("mac")], "50:C7:BF:00:00:09");
    assert!(rows[1][col("steps")].starts_with("1) Take the doorbell off its mounting bracket."));
    for row in &rows {
        assert_eq!(&row[col(RUN)], fixture::RUN_ID);
        assert_eq!(
            (&row[col(BY)], &row[col(SAID_AT)], &row[col(NOTE)]),
            ("", "", "")
        );
    }
}

#[test]
fn the_files_are_written_owner_only_into_the_run_directory() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("reports").join("r");
    let orders = WorkOrders::of(
        &record(
            Action::PowerCycle,
            vec![manual("a", 0, None, None, "HS103")],
        ),
        &HashMap::new(),
    );
    let files = write(&dir, &orders).unwrap();
    for path in [&files.markdown, &files.html, &files.csv] {
        let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", path.display());
    }
    assert_eq!(
        std::fs::read_to_string(&files.markdown).unwrap(),
        markdown::render(&orders)
    );
}

#[test]
fn units_are_ordered_as_people_count_them() {
    let jobs = vec![
        manual("u10", 0, Some("Oak"), Some("Unit 10"), "HS103"),
        manual("u9", 1, Some("Oak"), Some("Unit 9"), "HS103"),
        manual("u2b", 2, Some("Oak"), Some("unit 2B"), "HS103"),
        manual("u2a", 3, Some("Oak"), Some("Unit 2A"), "HS103"),
        manual("lobby", 4, Some("Oak"), Some("Lobby"), "HS103"),
    ];
    let orders = WorkOrders::of(&record(Action::PowerCycle, jobs), &HashMap::new());
    let ids: Vec<&str> = orders.items().map(|i| i.device_id.as_str()).collect();
    assert_eq!(ids, ["lobby", "u2a", "u2b", "u9", "u10"]);
}
