//! `fleetreset check` as users run it: the real binary, in a temporary directory, with the
//! inventory path given as typed.

use std::fs;
use std::path::Path;
use std::process::Command;

use tempfile::TempDir;

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Writes `bytes` to `file` (relative to a new temporary directory) and runs `check file` there.
fn check_bytes(file: &str, bytes: &[u8]) -> Outcome {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join(file);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, bytes).unwrap();
    check_in(dir.path(), file)
}

fn check_in(dir: &Path, file: &str) -> Outcome {
    let output = Command::new(env!("CARGO_BIN_EXE_fleetreset"))
        .args(["check", file])
        .current_dir(dir)
        .env_remove("FLEETRESET_LOG")
        .output()
        .unwrap();
    Outcome {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

#[test]
fn a_clean_inventory_exits_0_with_a_summary_on_stdout() {
    let text = "\
# Example inventory: lines starting with # are comments.
id,host,model,mac,site,unit,power_via,credentials,notes,sim_fault

# Site A
strip-1,10.0.0.10,HS300,50:C7:BF:00:00:01,site-a,rack 1,,office,,
lamp,10.0.0.11,KL110,50-c7-bf-00-00-02,site-a,,strip-1#2,office,\"on the desk,
by the window\",
cam,[fe80::1]:443,C200,,site-b,,strip-1#3,,,
sim,127.0.0.2:9999,HS103,,site-c,,,,,offline
";
    let outcome = check_bytes("inventories/x.csv", text.as_bytes());
    assert_eq!(outcome.stderr, "");
    assert_eq!(
        outcome.stdout,
        "inventories/x.csv: ok, 4 devices (3 sites, 2 powered via another device)\n"
    );
    assert_eq!(outcome.code, Some(0));
}

#[test]
fn a_broken_inventory_lists_every_problem_in_line_order_and_exits_2() {
    let text = "\
id,host,mac,power_via
# comments and blank lines don't shift the line numbers

plug-1,10.0.0.1,50:C7:BF:00:00:01,
plug-1,10.0.0.2,,
,10.0.0.3,,
plug-4,10.0.0.1:9999,,
plug-5,10.0.0.5,50:C7:BF:00:00,
plug-6,10.0.0.6:70000,,
plug-7,plug_7.lan,,
plug-8,10.0.0.8,,strip-9#2
plug-9,10.0.0.9
plug-10,10.0.0.10,,\"strip\"#2
plug-11,10.0.0.11,,plug-11
";
    let outcome = check_bytes("inv.csv", text.as_bytes());
    let expected = "\
inv.csv:5: duplicate id \"plug-1\" (first on line 4)
inv.csv:6: empty id
inv.csv:7: duplicate host \"10.0.0.1:9999\" (first on line 4)
inv.csv:8: malformed MAC \"50:C7:BF:00:00\": expected AA:BB:CC:DD:EE:FF, aa-bb-cc-dd-ee-ff or 12 hex digits
inv.csv:9: bad port \"70000\" in host \"10.0.0.6:70000\": must be 1-65535
inv.csv:10: bad host \"plug_7.lan\": a host name has only letters, digits, hyphens and dots
inv.csv:11: power_via \"strip-9#2\" names no row (no row has id \"strip-9\")
inv.csv:12: expected 4 fields, as in the header on line 1, found 2
inv.csv:13: text after the closing quote of a field; inside a quoted field, write a quote as \"\"
inv.csv:14: power_via \"plug-11\" names this row itself
inv.csv: 10 problems
";
    assert_eq!(outcome.stderr, expected);
    assert_eq!(outcome.stdout, "");
    assert_eq!(outcome.code, Some(2));
}

#[test]
fn hosts_and_macs_that_cannot_be_one_device_are_refused_with_the_reason_and_exit_2() {
    let text = "\
id,host,mac
any,0.0.0.0,
any6,::,
everyone,255.255.255.255,
mapped,::ffff:255.255.255.255,
mdns,224.0.0.251,
all-nodes,ff02::1,
this-net,0.1.2.3,
reserved,240.0.0.1,
net,10.0.0.0,
bcast,192.168.1.255:9999,
sim,127.31.7.1,
nomac,10.0.0.1,00:00:00:00:00:00
allmac,10.0.0.2,ff-ff-ff-ff-ff-ff
group,10.0.0.3,01005E0000FB
ok,10.0.0.4,50:C7:BF:00:00:01
";
    let outcome = check_bytes("inv.csv", text.as_bytes());
    let tail = "in a /24 that is the network address, and a probe to it reaches no device, so \
                fleetreset refuses it; a device really at such an address in a larger subnet \
                needs another lease";
    let bcast_tail = "in a /24 that is the broadcast address, and a probe to it reaches every \
                      device, so fleetreset refuses it; a device really at such an address in a \
                      larger subnet needs another lease";
    let expected = format!(
        "\
inv.csv:2: bad host \"0.0.0.0\": the unspecified address; a connection to it reaches this machine, not a device
inv.csv:3: bad host \"::\": the unspecified address; a connection to it reaches this machine, not a device
inv.csv:4: bad host \"255.255.255.255\": the limited broadcast address; a probe to it reaches every device on the network
inv.csv:5: bad host \"::ffff:255.255.255.255\": the limited broadcast address; a probe to it reaches every device on the network
inv.csv:6: bad host \"224.0.0.251\": a multicast address; it names a group of listeners, not one device
inv.csv:7: bad host \"ff02::1\": a multicast address; it names a group of listeners, not one device
inv.csv:8: bad host \"0.1.2.3\": in 0.0.0.0/8 (\"this network\"), which is never a device's address
inv.csv:9: bad host \"240.0.0.1\": in 240.0.0.0/4, reserved, which is never a device's address
inv.csv:10: bad host \"10.0.0.0\": the last octet is 0; {tail}
inv.csv:11: bad host \"192.168.1.255:9999\": the last octet is 255; {bcast_tail}
inv.csv:13: MAC \"00:00:00:00:00:00\" identifies no device: all zeros is what firmware reports when it has no MAC, so it names no device
inv.csv:14: MAC \"ff-ff-ff-ff-ff-ff\" identifies no device: the broadcast MAC, which every device receives, so it names no one device
inv.csv:15: MAC \"01005E0000FB\" identifies no device: a group (multicast) MAC, the low bit of its first octet set, which names a group of receivers, never one device
inv.csv: 13 problems
"
    );
    assert_eq!(outcome.stderr, expected);
    assert_eq!(outcome.stdout, "");
    assert_eq!(outcome.code, Some(2));
}

#[test]
fn a_command_that_loads_an_inventory_refuses_a_host_check_refuses() {
    let dir = TempDir::new().unwrap();
    fs::write(dir.path().join("inv.csv"), "id,host\nany,0.0.0.0\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_fleetreset"))
        .args(["plan", "inv.csv", "--action", "power-cycle"])
        .current_dir(dir.path())
        .env_remove("FLEETRESET_LOG")
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("inv.csv:2: bad host \"0.0.0.0\": the unspecified address"),
        "{stderr}"
    );
    assert_eq!(output.status.code(), Some(2), "{stderr}");
}

#[test]
fn a_missing_required_column_is_reported_at_the_header_line() {
    let outcome = check_bytes("inv.csv", b"id,address\nplug-1,10.0.0.1\n");
    assert_eq!(
        outcome.stderr,
        "inv.csv:1: missing required column \"host\"; the first row that is not a comment must \
         be the header, naming at least id and host\ninv.csv: 1 problem\n"
    );
    assert_eq!(outcome.code, Some(2));
}

#[test]
fn a_duplicate_header_column_is_reported() {
    let outcome = check_bytes("inv.csv", b"id,host,Host\nplug-1,10.0.0.1,10.0.0.2\n");
    assert_eq!(
        outcome.stderr,
        "inv.csv:1: duplicate column \"host\" (columns 2 and 3)\ninv.csv: 1 problem\n"
    );
    assert_eq!(outcome.code, Some(2));
}

#[test]
fn a_byte_order_mark_is_dropped_and_the_header_reads() {
    let outcome = check_bytes("inv.csv", b"\xEF\xBB\xBFid,host\nplug-1,10.0.0.1\n");
    assert_eq!(outcome.stderr, "");
    assert_eq!(
        outcome.stdout,
        "inv.csv: ok, 1 device (0 sites, 0 powered via another device)\n"
    );
    assert_eq!(outcome.code, Some(0));
}

#[test]
fn crlf_line_endings_read_like_lf_with_the_same_line_numbers() {
    let outcome = check_bytes("inv.csv", b"id,host\r\nplug-1,10.0.0.1\r\n,10.0.0.2\r\n");
    assert_eq!(outcome.stderr, "inv.csv:3: empty id\ninv.csv: 1 problem\n");
    assert_eq!(outcome.code, Some(2));
}

#[test]
fn a_bare_cr_is_still_reported_once() {
    let outcome = check_bytes("inv.csv", b"id,host\rplug-1,10.0.0.1\r");
    assert!(
        outcome
            .stderr
            .starts_with("inv.csv:1: 1 line with a carriage return (CR) not followed by a newline"),
        "{}",
        outcome.stderr
    );
    assert_eq!(outcome.code, Some(2));
}

#[test]
fn text_that_is_not_utf8_reads_as_windows_1252_with_one_warning() {
    let outcome = check_bytes(
        "inv.csv",
        b"id,host,notes\np1,10.0.0.1,caf\xE9\np2,10.0.0.2,ok\np3,10.0.0.3,\xFF\n",
    );
    assert_eq!(
        outcome.stderr,
        "inv.csv:2: warning: not UTF-8 (byte 0xE9 at byte offset 29, the first of 2 lines); \
         read the whole file as Windows-1252, as Excel's plain \"CSV\" writes it. Check \
         accented text; save as \"CSV UTF-8\" to be sure, or pass --encoding windows-1252 to \
         say so\n"
    );
    assert_eq!(
        outcome.stdout,
        "inv.csv: ok, 3 devices (0 sites, 0 powered via another device)\n"
    );
    assert_eq!(outcome.code, Some(0));
}

#[test]
fn with_encoding_utf8_each_line_with_non_utf8_bytes_is_reported_with_its_byte_offset() {
    let dir = TempDir::new().unwrap();
    fs::write(
        dir.path().join("inv.csv"),
        b"id,host,notes\np1,10.0.0.1,caf\xE9\np2,10.0.0.2,ok\np3,10.0.0.3,\xFF\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_fleetreset"))
        .args(["check", "inv.csv", "--encoding", "utf-8"])
        .current_dir(dir.path())
        .env_remove("FLEETRESET_LOG")
        .output()
        .unwrap();
    let hint = "save the file as UTF-8, or leave out --encoding utf-8 to read it as Windows-1252";
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        format!(
            "inv.csv:2: invalid UTF-8 (byte 0xE9 at byte offset 29); {hint}\n\
             inv.csv:4: invalid UTF-8 (byte 0xFF at byte offset 58); {hint}\n\
             inv.csv: 2 problems\n"
        )
    );
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn an_unclosed_quote_is_reported_where_it_opens() {
    let outcome = check_bytes(
        "inv.csv",
        b"id,host,notes\np1,10.0.0.1,\"oops\np2,10.0.0.2,\n",
    );
    assert_eq!(
        outcome.stderr,
        "inv.csv:2: unclosed quote: the quoted field opened on this line never ends, so the rest \
         of the file was read into it\ninv.csv: 1 problem\n"
    );
    assert_eq!(outcome.code, Some(2));
}

#[test]
fn a_huge_field_is_reported_by_size_not_copied_into_the_message() {
    let mut bytes = b"id,host,notes\np1,10.0.0.1,".to_vec();
    bytes.extend(std::iter::repeat_n(b'x', 1 << 20));
    bytes.push(b'\n');
    let outcome = check_bytes("inv.csv", &bytes);
    assert_eq!(
        outcome.stderr,
        "inv.csv:2: field 3 is 1048576 bytes long; the limit is 65536 bytes\ninv.csv: 1 problem\n"
    );
    assert_eq!(outcome.code, Some(2));
}

#[test]
fn binary_content_is_reported_without_a_crash() {
    let bytes: Vec<u8> = (0..=255u8).cycle().take(1 << 20).collect();
    let outcome = check_bytes("inv.csv", &bytes);
    assert_eq!(outcome.code, Some(2));
    assert!(
        outcome.stderr.starts_with("inv.csv:1: "),
        "{}",
        outcome.stderr
    );
    assert!(!outcome.stderr.contains("panicked"));
}

#[test]
fn a_missing_file_exits_2_with_a_message_naming_it() {
    let dir = TempDir::new().unwrap();
    let outcome = check_in(dir.path(), "missing.csv");
    assert_eq!(
        outcome.stderr,
        "fleetreset: error: cannot read inventory missing.csv: No such file or directory (os \
         error 2)\n"
    );
    assert_eq!(outcome.stdout, "");
    assert_eq!(outcome.code, Some(2));
}

#[test]
fn every_inventory_the_project_ships_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("inventories");
    let mut checked = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "csv") {
            let out = Command::new(env!("CARGO_BIN_EXE_fleetreset"))
                .arg("check")
                .arg(&path)
                .output()
                .unwrap();
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 3,
        "expected demo.csv, lab.csv and example.csv, checked {checked}"
    );
}

#[test]
fn an_old_xls_a_password_protected_workbook_and_utf16_text_are_named_not_parsed() {
    // The OLE2 compound file: Excel 97-2003, and every encrypted .xlsx.
    let ole2 = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\0\0\0\0binary";
    let utf16: Vec<u8> = "\u{FEFF}id\thost\r\np1\t10.0.0.1\r\n"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    for (file, bytes, expected) in [
        (
            "fleet.xls",
            &ole2[..],
            "fleet.xls:1: the file is an old Excel workbook (.xls",
        ),
        (
            "locked.xlsx",
            &ole2[..],
            "locked.xlsx:1: the file is an old Excel workbook (.xls, Excel 97-2003) or a password-protected one",
        ),
        (
            "unicode.txt",
            &utf16[..],
            "unicode.txt:1: the file is UTF-16 text",
        ),
    ] {
        let out = check_bytes(file, bytes);
        assert_eq!(out.code, Some(2), "{file}: {}", out.stderr);
        assert!(out.stderr.starts_with(expected), "{file}: {}", out.stderr);
        assert_eq!(
            out.stderr.lines().count(),
            2,
            "one problem and its count, not a page of CSV errors: {}",
            out.stderr
        );
        assert!(out.stdout.is_empty());
    }
}
