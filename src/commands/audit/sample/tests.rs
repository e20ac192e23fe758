use serde_json::json;

use super::*;

fn post(alias: &str, bound: Option<bool>) -> Value {
    json!({"summary": {"alias": alias, "bound": bound}})
}

fn answered(bound: Option<bool>, alias: &str) -> Verdict {
    Verdict::Confirm {
        seen: Seen::Answered {
            address: "127.48.0.1:9999".into(),
            bound,
            detail: "answers at 127.48.0.1:9999 unbound (factory defaults)".into(),
        },
        post: Some(post(alias, bound)),
    }
}

#[test]
fn unbound_under_another_name_passes_and_under_the_old_name_fails() {
    let j = judge(answered(Some(false), "Smart Plug"), Some("Kitchen"));
    assert_eq!(j.result, CheckResult::Passed, "{j:?}");
    assert_eq!(j.address.as_deref(), Some("127.48.0.1:9999"));
    assert_eq!(j.post, Some(post("Smart Plug", Some(false))));
    let j = judge(answered(Some(false), "Kitchen"), Some("Kitchen"));
    assert_eq!(j.result, CheckResult::Failed, "{j:?}");
    assert!(
        j.evidence.contains("still named \"Kitchen\""),
        "{}",
        j.evidence
    );
    // Not saying whether it is bound: the alias decides, and without one nothing does.
    assert_eq!(
        judge(answered(None, "Smart Plug"), Some("Kitchen")).result,
        CheckResult::Passed
    );
    assert_eq!(
        judge(answered(None, "Kitchen"), Some("Kitchen")).result,
        CheckResult::Failed
    );
    assert_eq!(
        judge(answered(None, "Smart Plug"), None).result,
        CheckResult::Unreachable
    );
}

#[test]
fn a_refusal_fails_and_silence_is_unreachable() {
    let j = judge(
        Verdict::Refuse {
            address: "127.48.0.2:9999".into(),
            why: "it still answers\nbound".into(),
            post: Some(post("Kitchen", Some(true))),
        },
        Some("Kitchen"),
    );
    assert_eq!(j.result, CheckResult::Failed);
    assert_eq!(j.evidence, r"it still answers\nbound");
    let j = judge(
        Verdict::Confirm {
            seen: Seen::NoAnswer {
                address: "127.48.0.3:9999".into(),
                error: "connection refused".into(),
            },
            post: None,
        },
        Some("Kitchen"),
    );
    assert_eq!(j.result, CheckResult::Unreachable);
    assert_eq!(j.address.as_deref(), Some("127.48.0.3:9999"));
    assert_eq!(
        j.evidence,
        "nothing answered at 127.48.0.3:9999 (connection refused)"
    );
    let j = judge(
        Verdict::Confirm {
            seen: Seen::CannotLook {
                why: "no IP".into(),
            },
            post: None,
        },
        None,
    );
    assert_eq!((j.result, j.address), (CheckResult::Unreachable, None));
}

#[test]
fn the_verifier_is_trimmed_and_never_the_operator() {
    assert_eq!(verifier("  Vera Q ", "alice").unwrap(), "Vera Q");
    for same in ["alice", " ALICE ", "Alice"] {
        let err = verifier(same, " alice").unwrap_err();
        assert_eq!(
            err.reason,
            "the verifier must be someone other than the run's operator (alice); nothing was recorded"
        );
    }
    assert!(verifier("   ", "alice").is_err());
}
