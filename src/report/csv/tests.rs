use serde_json::json;

use super::*;
use crate::report::fixture;

fn rendered(record: &RunRecord) -> String {
    String::from_utf8(render(record, fixture::ZONE).unwrap()).unwrap()
}

#[test]
fn there_is_a_header_and_one_row_per_job_in_inventory_order() {
    let expected = "\
id,site,unit,model,mac,host,action,method,outcome,reason,detail,identity,started,finished,duration_real_s,pre_alias,pre_firmware,pre_mac,pre_on_time,post_alias,post_on_time,post_seen,cloud_bound_before,cloud_bound_after,left_network,confirmed_by,confirmed_at
plug-1,site-a,rack 1,HS103(US),50:C7:BF:00:00:01,10.0.0.1,power-cycle,remote,succeeded,,came back after 41 s,verified,2026-11-21 06:47:09.000 +01:00,2026-11-21 06:47:51.250 +01:00,42.250,\"'=HYPERLINK(\"\"x\"\")\",1.0.3 Build 210506 Rel.180637,50:C7:BF:00:00:01,86400,\"'=HYPERLINK(\"\"x\"\")\",12,true,true,unknown,false,,
lamp-2,north|south,,KL130(EU),,10.0.0.2,power-cycle,remote,failed,not_verified,did not come back within 90 s\\n| retry later,unverified,2026-11-21 06:47:09.500 +01:00,2026-11-21 06:48:40.000 +01:00,90.500,'-lamp,1.8.8,50:C7:BF:00:00:02,,,,false,unknown,unknown,unknown,,
strip-3,,,,,10.0.0.3,power-cycle,upstream,skipped,threshold_reached,failure threshold reached,,,2026-11-21 06:48:40.001 +01:00,,,,,,,,false,unknown,unknown,unknown,,
cam-4,site-a,porch,C200,,10.0.0.4,power-cycle,manual,manual_required,,hold the reset button for 5 s,,2026-11-21 06:47:10.000 +01:00,2026-11-21 06:47:10.000 +01:00,0.000,,,,,,,false,unknown,unknown,unknown,,
";
    assert_eq!(rendered(&fixture::record()), expected);
}

#[test]
fn the_rows_read_back_with_the_header_as_their_keys() {
    let bytes = render(&fixture::record(), fixture::ZONE).unwrap();
    let mut reader = ::csv::Reader::from_reader(bytes.as_slice());
    assert_eq!(reader.headers().unwrap(), HEADER.as_slice());
    let rows: Vec<::csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 4);
    assert_eq!(
        &rows[1][10],
        "did not come back within 90 s\\n| retry later"
    );
    assert_eq!(&rows[0][15], "'=HYPERLINK(\"x\")");
    let identity: Vec<&str> = rows.iter().map(|r| &r[11]).collect();
    assert_eq!(identity, ["verified", "unverified", "", ""]);
}

#[test]
fn text_that_a_spreadsheet_would_evaluate_gets_a_leading_quote() {
    for (text, cell) in [
        ("=1+1", "'=1+1"),
        ("+31 20 555", "'+31 20 555"),
        ("-lamp", "'-lamp"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "\\tcmd"),
        ("\rcmd", "\\rcmd"),
        ("=\u{1b}[2J", "'=\\u{1b}[2J"),
        ("lamp=on", "lamp=on"),
        ("", ""),
    ] {
        assert_eq!(text_cell(text), cell, "{text:?}");
    }
}

#[test]
fn device_numbers_stay_numbers_and_device_strings_are_neutralised() {
    assert_eq!(value_cell(Some(&json!(-3))), "-3");
    assert_eq!(value_cell(Some(&json!(12.5))), "12.5");
    assert_eq!(value_cell(Some(&json!("-3"))), "'-3");
    assert_eq!(value_cell(Some(&json!(true))), "true");
    assert_eq!(value_cell(Some(&json!(null))), "");
    assert_eq!(value_cell(None), "");
    assert_eq!(value_cell(Some(&json!({"a": 1}))), "{\"a\":1}");
}

#[test]
fn inventory_text_is_neutralised_too() {
    let mut record = fixture::record();
    record.jobs[0].device_id = "=cmd|' /C calc'!A0".to_string();
    record.jobs[0].site = Some("@site".to_string());
    record.jobs[0].detail = Some("-1 attempts left".to_string());
    let text = rendered(&record);
    let row = text.lines().nth(1).unwrap();
    assert!(
        row.starts_with("'=cmd|' /C calc'!A0,'@site,rack 1,"),
        "{row}"
    );
    assert!(row.contains(",succeeded,,'-1 attempts left,"), "{row}");
}

#[test]
fn pre_values_come_from_the_first_pre_snapshot_and_post_values_from_the_last_post_one() {
    let mut record = fixture::record();
    let mut earlier = record.snapshots[0].clone();
    earlier.taken_at = fixture::at("2026-11-21T05:47:09.050Z");
    earlier.data["sysinfo"]["alias"] = json!("first look");
    let mut later = record.snapshots[1].clone();
    later.taken_at = fixture::at("2026-11-21T05:47:59.000Z");
    later.data["sysinfo"]["on_time"] = json!(20);
    record.snapshots.extend([earlier, later]);
    let text = rendered(&record);
    let row = text.lines().nth(1).unwrap();
    assert!(row.contains(",first look,1.0.3 Build"), "{row}");
    assert!(row.ends_with(",20,true,true,unknown,false,,"), "{row}");
}

#[test]
fn a_device_that_reports_mac_and_mic_mac_is_listed_with_mac() {
    let mut record = fixture::record();
    record.snapshots[0].data["sysinfo"]["mic_mac"] = json!("FFFFFFFFFFFF");
    let text = rendered(&record);
    assert!(
        text.lines()
            .nth(1)
            .unwrap()
            .contains(",50:C7:BF:00:00:01,86400,")
    );
}

#[test]
fn a_job_that_ended_before_it_started_by_the_clock_has_an_empty_duration() {
    let mut record = fixture::record();
    // Started under a clock two hours ahead, resumed and finished under the true one.
    record.jobs[0].started_at = Some(fixture::at("2026-11-21T07:47:09.000Z"));
    record.jobs[0].finished_at = Some(fixture::at("2026-11-21T05:47:11.411Z"));
    let bytes = render(&record, fixture::ZONE).unwrap();
    let mut reader = ::csv::Reader::from_reader(bytes.as_slice());
    let row = reader.records().next().unwrap().unwrap();
    assert_eq!(&row[0], "plug-1");
    assert_eq!(&row[14], "", "{row:?}");
    // The times themselves are still there, each as the database holds it.
    assert_eq!(&row[12], "2026-11-21 08:47:09.000 +01:00");
    assert_eq!(&row[13], "2026-11-21 06:47:11.411 +01:00");
}

#[test]
fn a_run_without_jobs_is_just_the_header() {
    let mut record = fixture::record();
    record.jobs.clear();
    assert_eq!(rendered(&record), format!("{}\n", HEADER.join(",")));
}

#[test]
fn device_text_with_escape_sequences_and_line_breaks_reaches_the_csv_inert() {
    let mut record = fixture::record();
    let hostile = "\u{1b}[2J\u{1b}[Hforged\r\n[ 9/9] ok";
    record.jobs[0].detail = Some(hostile.to_string());
    record.jobs[0].site = Some(hostile.to_string());
    record.snapshots[0].data["sysinfo"]["alias"] = json!(hostile);
    record.snapshots[1].data["sysinfo"]["alias"] = json!({ "nested": hostile });
    let text = rendered(&record);
    let controls: Vec<char> = text
        .chars()
        .filter(|&c| c != '\n' && crate::inert::needs_escape(c))
        .collect();
    assert!(controls.is_empty(), "{controls:?} in {text}");
    // Still one line per job, so the file reads as it did.
    assert_eq!(text.lines().count(), 1 + record.jobs.len(), "{text}");
    let escaped = "\\u{1b}[2J\\u{1b}[Hforged\\r\\n[ 9/9] ok";
    let mut reader = ::csv::Reader::from_reader(text.as_bytes());
    let row = reader.records().next().unwrap().unwrap();
    assert_eq!(&row[1], escaped);
    assert_eq!(&row[10], escaped);
    assert_eq!(&row[15], escaped);
    // JSON already escapes controls its own way.
    assert!(row[19].contains("\\u001b[2J"), "{:?}", &row[19]);
}

#[test]
fn a_factory_reset_shows_the_binding_before_and_after_and_whether_the_device_left() {
    let mut record = fixture::record();
    record.run.action = crate::model::Action::FactoryReset;
    // plug-1 left the network: its binding after is unknown, it had no post snapshot.
    record.snapshots.retain(|s| s.phase == SnapshotPhase::Pre);
    record.events.push(crate::store::EventRow {
        id: 10,
        device_id: Some("plug-1".into()),
        at: fixture::at("2026-11-21T05:47:20.000Z"),
        state: None,
        kind: EventKind::LeftNetwork.into(),
        detail: json!({"after_s": 2.3}),
    });
    // lamp-2 stayed and reports factory defaults: bound before (its intent says), not now.
    record.events.push(crate::store::EventRow {
        id: 11,
        device_id: Some("lamp-2".into()),
        at: fixture::at("2026-11-21T05:47:09.700Z"),
        state: Some(crate::model::JobState::IntentRecorded),
        kind: EventKind::Intent.into(),
        detail: json!({"pre": {"bound": true}}),
    });
    record.snapshots[1].data["cloud"] = json!(null);
    let mut post = record.snapshots[1].clone();
    post.phase = SnapshotPhase::Post;
    post.data = json!({"summary": {"bound": false}, "sysinfo": {"alias": ""}});
    record.snapshots.push(post);
    let bytes = render(&record, fixture::ZONE).unwrap();
    let mut reader = ::csv::Reader::from_reader(bytes.as_slice());
    let rows: Vec<::csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let evidence =
        |r: &::csv::StringRecord| (r[22].to_string(), r[23].to_string(), r[24].to_string());
    let t = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(evidence(&rows[0]), t("true", "unknown", "true"));
    assert_eq!(evidence(&rows[1]), t("true", "false", "false"));
    assert_eq!(evidence(&rows[2]), t("unknown", "unknown", "unknown"));
    assert_eq!(
        &HEADER[22..25],
        ["cloud_bound_before", "cloud_bound_after", "left_network"]
    );
}

#[test]
fn a_mac_the_device_reports_is_shown_in_the_inventory_form_and_anything_else_as_text() {
    assert_eq!(mac_cell(Some(&json!("50C7BF000002"))), "50:C7:BF:00:00:02");
    assert_eq!(
        mac_cell(Some(&json!("50-c7-bf-00-00-02"))),
        "50:C7:BF:00:00:02"
    );
    assert_eq!(mac_cell(Some(&json!("=not a mac"))), "'=not a mac");
    assert_eq!(mac_cell(None), "");
}

#[test]
fn a_confirmed_job_names_its_technician_and_when_it_was_recorded() {
    let mut record = fixture::record();
    let cam = record
        .jobs
        .iter_mut()
        .find(|j| j.device_id == "cam-4")
        .unwrap();
    cam.outcome = Some(crate::model::Outcome::ManualConfirmed);
    record.events.push(crate::store::EventRow {
        id: 99,
        device_id: Some("cam-4".into()),
        at: fixture::at("2026-11-22T08:00:00.000Z"),
        state: None,
        kind: EventKind::ManualConfirmed.into(),
        detail: json!({"by": "=Ana", "said_at": null, "note": null, "operator": "ops",
                       "source": "command line", "seen": {"result": "not_checked"}}),
    });
    let bytes = render(&record, fixture::ZONE).unwrap();
    let mut reader = ::csv::Reader::from_reader(bytes.as_slice());
    let rows: Vec<::csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(&HEADER[25..], ["confirmed_by", "confirmed_at"]);
    assert_eq!(&rows[3][25], "'=Ana");
    assert_eq!(&rows[3][26], "2026-11-22 09:00:00.000 +01:00");
    assert_eq!((&rows[0][25], &rows[0][26]), ("", ""));
}
