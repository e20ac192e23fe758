//! Issue 12, fleet-scale performance: `check` counts valid rows instead of keeping them, and
//! `plan` plans each job as it writes it. Neither may change a byte of what they print.
//!
//! The goldens under `tests/data/inventory_scale/` are the output of the binary before `plan`
//! streamed (commit dd8696f), for an inventory with remote, upstream and manual rows, a feeder
//! that is itself power-cycled upstream, and device text that must be shown inert.

use std::path::Path;
use std::process::{Command, Output};

const SAMPLE: &str = "tests/data/inventory_scale";

fn fleetreset(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fleetreset"))
        .args(args)
        .current_dir(dir)
        .env_remove("FLEETRESET_CREDENTIALS")
        .env("HOME", dir)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// `plan` of the sample with `args` after the action, against the golden `name`.
fn assert_plan_as_before(action: &str, method: Option<&str>, name: &str) {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join(SAMPLE);
    let mut args = vec![
        "plan",
        "inventory.csv",
        "--action",
        action,
        "--allow-unverified-identity",
    ];
    if let Some(method) = method {
        args.extend(["--method", method]);
    }
    for (json, ext) in [(false, "txt"), (true, "json")] {
        let mut args = args.clone();
        if json {
            args.push("--json");
        }
        let out = fleetreset(&sample, &args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        let golden = std::fs::read(sample.join(format!("{name}.{ext}"))).unwrap();
        assert_eq!(text(&out.stdout), text(&golden), "{args:?}");
        assert_eq!(text(&out.stderr), "", "{args:?}");
    }
}

#[test]
fn a_power_cycle_plan_prints_what_it_printed_before_streaming() {
    assert_plan_as_before("power-cycle", None, "power-cycle");
}

#[test]
fn a_factory_reset_plan_prints_what_it_printed_before_streaming() {
    assert_plan_as_before("factory-reset", None, "factory-reset");
}

#[test]
fn plans_with_a_run_wide_method_print_what_they_printed_before_streaming() {
    assert_plan_as_before("power-cycle", Some("upstream"), "power-cycle-upstream");
    assert_plan_as_before("power-cycle", Some("manual"), "power-cycle-manual");
    assert_plan_as_before("factory-reset", Some("remote"), "factory-reset-remote");
}

/// An inventory with a problem of most kinds, for both ways `check` reads a file. `plug-2`
/// names `bulb`, which has a model but is refused: only valid rows' models are held against
/// a `power_via`.
const BROKEN: &str = "\
# every kind of row problem
id,host,model,mac,site,power_via,protocol,method
strip,10.0.0.1,KP303(UK),50:C7:BF:00:00:01,a,,,
strip,10.0.0.2,HS103,50:C7:BF:00:00:02,a,,,
lamp,10.0.0.1,KL130,50:c7:bf:00:00:01,b,strip#7,,
,10.0.0.4,,,,,,
fan,,,,,,,
plug,10.0.0.255,,,,,,
bulb,10.0.0.6,KL130,01:00:5E:00:00:01,,,,
kettle,10.0.0.7,,,,ghost,,
loop-a,10.0.0.8,,,,loop-b,,
loop-b,10.0.0.9,,,,loop-a,,
cam,10.0.0.10,,,,,smoke-signals,
door,10.0.0.11,,,,,,by-owl
short,10.0.0.12
plug-2,plug.LAN,,,,bulb,,
plug-3,PLUG.lan:9999,,,,,,
";

#[test]
fn check_reports_the_same_problems_whether_it_keeps_the_rows_or_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("broken.csv"), BROKEN).unwrap();
    // Without an action `check` counts the valid rows; with one it keeps them for the rules.
    let counted = fleetreset(dir.path(), &["check", "broken.csv"]);
    let kept = fleetreset(
        dir.path(),
        &["check", "broken.csv", "--action", "power-cycle"],
    );
    assert_eq!(counted.status.code(), Some(2), "{}", text(&counted.stderr));
    assert_eq!(kept.status.code(), Some(2));
    let problems = text(&counted.stderr);
    assert_eq!(problems, text(&kept.stderr));
    // What the binary printed before it counted rows (commit dd8696f).
    let before = include_str!("data/inventory_scale/broken.check.txt");
    assert_eq!(problems, before);
}

#[test]
fn check_summarises_a_clean_file_the_same_whether_it_keeps_the_rows_or_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let csv = "id,host,site,power_via\nstrip,10.0.0.1,a,\nlamp,10.0.0.2,b,strip#1\n\
               fan,10.0.0.3,a,strip#2\nR\u{e9}sidence,10.0.0.4,,\n";
    // Windows-1252, so that the warning is printed on both ways too.
    let (latin, _, _) = encoding_rs::WINDOWS_1252.encode(csv);
    std::fs::write(dir.path().join("fleet.csv"), &latin).unwrap();
    let counted = fleetreset(dir.path(), &["check", "fleet.csv"]);
    let kept = fleetreset(
        dir.path(),
        &["check", "fleet.csv", "--action", "power-cycle"],
    );
    assert!(counted.status.success(), "{}", text(&counted.stderr));
    assert_eq!(
        text(&counted.stdout),
        "fleet.csv: ok, 4 devices (2 sites, 2 powered via another device)\n"
    );
    assert!(
        text(&counted.stderr).starts_with("fleet.csv:5: warning: not UTF-8"),
        "{}",
        text(&counted.stderr)
    );
    assert_eq!(
        (text(&counted.stdout), text(&counted.stderr)),
        (text(&kept.stdout), text(&kept.stderr))
    );
}
