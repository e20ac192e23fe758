use serde_json::json;

use super::encode::canonical;
use super::verify::Expected;
use super::*;

/// Known answers computed with Python's hashlib from the formula in migration 5, not with
/// this code.
const RECORD: &str = r#"{"a":"é","b":[1,{"c":"x","d":null}]}"#;
const DIGEST: &str = "03afbdcc1316a2cbacc3317bfb201739463ca92159d8fa25d8e2761465518d5b";
const FIRST: &str = "9b4fd1bcda26550a89a78860ace2b170af41c30cea191c259951b9fbfa974b90";
const SECOND: &str = "69cfd8855f83262da64613a67528384a846071da0896103d463894409afcaf60";

#[test]
fn the_canonical_encoding_sorts_keys_at_every_depth_and_has_no_whitespace() {
    let value = json!({"b": [1, {"d": null, "c": "x"}], "a": "é"});
    assert_eq!(canonical(&value), RECORD);
}

#[test]
fn the_canonical_encoding_escapes_strings_as_json_does() {
    let value = json!({"k\"ey": "line\nbreak\u{1b}[31m", "z": 1.5, "n": -3});
    assert_eq!(
        canonical(&value),
        r#"{"k\"ey":"line\nbreak\u001b[31m","n":-3,"z":1.5}"#
    );
}

#[test]
fn a_float_reads_back_to_the_same_encoding() {
    // A device's uptime or a departure time as serde_json writes it: parsing the stored text
    // must give the same value back, or an untouched record would read as edited.
    let value = json!({"after_s": 2.3261922999999998_f64});
    let stored = value.to_string();
    let read: serde_json::Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(canonical(&read), canonical(&value));
}

#[test]
fn digests_and_links_match_the_known_answers() {
    let d = digest(RECORD);
    assert_eq!(to_hex(&d), DIGEST);
    let first = link(Kind::Event, &[0; 32], &d);
    assert_eq!(to_hex(&first), FIRST);
    assert_eq!(to_hex(&link(Kind::Outcome, &first, &d)), SECOND);
}

#[test]
fn the_kind_is_part_of_the_hash() {
    let d = digest(RECORD);
    let hashes: std::collections::HashSet<Hash> =
        Kind::ALL.iter().map(|k| link(*k, &[0; 32], &d)).collect();
    assert_eq!(hashes.len(), Kind::ALL.len());
}

#[test]
fn kinds_round_trip_through_their_stored_words() {
    for k in Kind::ALL {
        assert_eq!(Kind::parse(k.as_str()), Some(k));
    }
    assert_eq!(Kind::parse("Event"), None);
}

#[test]
fn hex_round_trips_and_refuses_what_is_not_a_hash() {
    let d = digest(RECORD);
    assert_eq!(from_hex(&to_hex(&d)), Some(d));
    assert_eq!(from_hex(&DIGEST.to_uppercase()), Some(d));
    assert_eq!(from_hex("abc"), None);
    assert_eq!(from_hex(&"g".repeat(64)), None);
}

#[test]
fn an_expected_head_is_records_and_hash_or_the_hash_alone() {
    let full: Expected = format!("311:{FIRST}").parse().unwrap();
    assert_eq!(full.records, Some(311));
    assert_eq!(full.hash, FIRST);
    let bare: Expected = FIRST.to_uppercase().parse().unwrap();
    assert_eq!(bare.records, None);
    assert_eq!(bare.hash, FIRST);
    assert!("x:abc".parse::<Expected>().is_err());
    assert!(format!("12:{}", &FIRST[1..]).parse::<Expected>().is_err());
}

#[test]
fn the_head_statement_names_the_run_the_length_and_the_hash() {
    let head = ChainHead {
        run_id: "r1".into(),
        records: 3,
        hash: FIRST.into(),
    };
    assert_eq!(head.to_string(), format!("3:{FIRST}"));
    assert_eq!(
        head.statement(),
        format!("fleetreset audit chain head\nrun: r1\nrecords: 3\nhead: {FIRST}\n")
    );
}
