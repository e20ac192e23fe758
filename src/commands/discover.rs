//! `fleetreset discover --target ADDRESS|CIDR`: find devices and write an inventory, or with
//! `--update FILE` move the hosts of an existing inventory to where DHCP put each MAC.
//!
//! What a device says about itself is untrusted, and the file written is opened by `check`, by
//! every command, and in spreadsheets. So each device-reported cell (model, alias, device id)
//! is cut short, made [`inert`] (one line, control characters escaped) and neutralised as
//! formula text the way the run reports write it; ids are made of letters, digits and hyphens
//! only; a device at an address `check` refuses is left out, and a MAC that names no one device
//! is left off its row. The inventory is then parsed as `check` would parse it before it is
//! written, so what discover writes is what `check` accepts.

use crate::output::say;
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use crate::catalog;
use crate::cli::DiscoverArgs;
use crate::device::ProtocolKind;
use crate::exit::Status;
use crate::inert::inert;
use crate::inventory::{self, Host, MacAddr};
use crate::protocol::discovery::{self, Found};

/// Longest device-reported text kept in a cell, in characters before escaping. Real aliases,
/// models and device ids are tens of characters; a device can send kilobytes, and the
/// inventory refuses a field over 64 KiB.
const MAX_DEVICE_TEXT_CHARS: usize = 256;
/// Longest model part of a generated id, in characters.
const MAX_ID_STEM_CHARS: usize = 32;
/// The model part of an id when the model has no letter or digit to give.
const FALLBACK_ID_STEM: &str = "device";
/// How far past `--timeout` a sweep may run before discover says why: the scheduler's slack
/// and the last datagrams read, not worth a line.
const OVERRUN_NOTED: Duration = Duration::from_millis(500);
/// The HTTP port a row without `:port` means for a KLAP or AES device.
const DEFAULT_HTTP_PORT: u16 = 80;
/// The header of the inventory discover writes.
const HEADER: [&str; 7] = [
    "id",
    "host",
    "model",
    "mac",
    "protocol",
    "alias",
    "device_id",
];
/// First characters that make a spreadsheet evaluate a cell as a formula: the set the run
/// reports' `devices.csv` neutralises (`report::csv::text_cell`).
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];
/// What a spreadsheet shows as text whatever follows.
const TEXT_MARK: char = '\'';
/// The name given to the written inventory in the (never expected) message that it would not
/// pass `check`.
const RENDERED_NAME: &str = "the discovered inventory";

/// What the CSV says about one found device. Text cells are already made safe
/// ([`device_cell`]).
#[derive(Debug)]
struct Row {
    id: String,
    /// Where the device answered.
    ip: IpAddr,
    host: String,
    model: String,
    mac: Option<MacAddr>,
    protocol: &'static str,
    alias: String,
    device_id: String,
}

pub async fn run(args: &DiscoverArgs) -> anyhow::Result<Status> {
    let targets = match discovery::targets(&args.target) {
        Ok(t) => t,
        Err(msg) => {
            say!("fleetreset: --target {msg}");
            return Ok(Status::BadInput);
        }
    };
    if args.update.is_none() && args.read.options() != inventory::ReadOptions::default() {
        say!(
            "fleetreset: --delimiter, --encoding and --sheet say how to read the --update inventory"
        );
        return Ok(Status::BadInput);
    }
    if !(args.timeout.is_finite() && args.timeout > 0.0 && args.timeout <= 60.0) {
        say!("fleetreset: --timeout must be above 0 and at most 60 seconds");
        return Ok(Status::BadInput);
    }
    let broadcast = targets.len() == 1 && is_broadcast(targets[0]);
    say!(
        "discovering on {} ({} address{}, {}) for {:.1} s",
        args.target,
        targets.len(),
        if targets.len() == 1 { "" } else { "es" },
        if broadcast { "broadcast" } else { "unicast" },
        args.timeout
    );
    let timeout = Duration::from_secs_f64(args.timeout);
    let began = std::time::Instant::now();
    let found = discovery::sweep(&targets, broadcast, timeout)
        .await
        .context("sending discovery probes")?;
    let took = began.elapsed();
    // Sending alone can outlast a short timeout on a big sweep: say so rather than let the
    // operator wonder where the seconds went.
    if took > timeout + OVERRUN_NOTED {
        say!(
            "fleetreset: the sweep took {} real time, longer than --timeout {}: sending {} probes to {} addresses took that long",
            crate::output::duration(took),
            args.timeout,
            targets.len() * (1 + discovery::NEW_PORTS.len()),
            targets.len()
        );
    }
    say!(
        "found {} device(s) in {} real time",
        found.len(),
        crate::output::duration(took)
    );
    let (rows, notes) = rows(&found);
    for note in &notes {
        say!("fleetreset: {note}");
    }
    match &args.update {
        Some(path) => update(path, &args.read.options(), args.out.as_deref(), &rows),
        None => {
            let csv = render(&rows)?;
            match &args.out {
                Some(path) => {
                    std::fs::write(path, csv)
                        .with_context(|| format!("writing {}", path.display()))?;
                    say!("wrote {} ({} device(s))", path.display(), rows.len());
                }
                None => std::io::stdout().lock().write_all(&csv)?,
            }
            Ok(Status::Success)
        }
    }
}

fn is_broadcast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_broadcast() || v4.octets()[3] == 255,
        IpAddr::V6(_) => false,
    }
}

/// The rows for what a sweep found, in its order, and a note for each device left out or
/// written without its MAC.
///
/// A device at an address `check` refuses ([`inventory::unicast_problem`]) is left out: no
/// command could act on it. A MAC that names no device ([`MacAddr::is_device_identity`]), or
/// that more than one device reported, is left off the row: the device is still there, but that
/// MAC can't tell it from others, so the row is written as for a device that reported none
/// (and `run` won't take it as a verified identity). Ids are unique: a second device with the
/// same model and MAC suffix gets `-2`, and so on.
fn rows(found: &[Found]) -> (Vec<Row>, Vec<String>) {
    let mut notes = Vec::new();
    let mut reporters: HashMap<MacAddr, usize> = HashMap::new();
    for mac in found.iter().filter_map(|f| f.mac().parse::<MacAddr>().ok()) {
        *reporters.entry(mac).or_default() += 1;
    }
    let mut ids = HashSet::new();
    let mut rows = Vec::new();
    for f in found {
        let mut r = row(f);
        let name = format!("{} ({})", r.ip, r.model);
        if let Some(reason) = inventory::unicast_problem(r.ip) {
            notes.push(format!("left out {name}: its address is {reason}"));
            continue;
        }
        if let Some(mac) = r.mac {
            if let Some(reason) = mac.identity_problem() {
                notes.push(format!(
                    "{name}: written without its MAC {mac}, which is {reason}"
                ));
                r.mac = None;
            } else if reporters[&mac] > 1 {
                notes.push(format!(
                    "{name}: written without its MAC {mac}, which {} devices reported",
                    reporters[&mac]
                ));
                r.mac = None;
            }
        }
        if !r.device_id.is_empty()
            && let Some(reason) = inventory::device_id_problem(f.device_id())
        {
            notes.push(format!(
                "{name}: written without its device id {}, which is not one: {reason}",
                r.device_id
            ));
            r.device_id.clear();
        }
        r.id = unique_id(&mut ids, id_for(f, r.mac));
        rows.push(r);
    }
    (rows, notes)
}

/// One row for `f`, with its MAC as reported (or none, when it doesn't parse) and no id yet.
fn row(f: &Found) -> Row {
    let mac = f.mac().parse::<MacAddr>().ok();
    match f {
        Found::Iot { ip, info, .. } => Row {
            id: String::new(),
            ip: *ip,
            host: ip.to_string(),
            model: device_cell(&info.model),
            mac,
            protocol: protocol_word(f),
            alias: device_cell(&info.alias),
            device_id: device_cell(&info.device_id),
        },
        Found::New { ip, info } => {
            let protocol = protocol_word(f);
            // Port 0 is no port: the row falls back to the default rather than being refused.
            let host = Host {
                name: ip.to_string(),
                port: info.http_port.filter(|&p| p != DEFAULT_HTTP_PORT && p != 0),
            };
            Row {
                id: String::new(),
                ip: *ip,
                host: host.to_string(),
                model: device_cell(&info.device_model),
                mac,
                protocol,
                alias: String::new(),
                device_id: device_cell(&info.device_id),
            }
        }
    }
}

/// The inventory's `protocol` word for what `f` announced (the short words where they exist);
/// `auto` for what fleetreset can't speak yet (TPAP cameras), so a run asks discovery again.
fn protocol_word(f: &Found) -> &'static str {
    match ProtocolKind::of_found(f).map(|(kind, _)| kind) {
        Some(ProtocolKind::SmartKlap) => "klap",
        Some(ProtocolKind::SmartAes) => "aes",
        Some(ProtocolKind::SmartTpap) => "tpap",
        Some(ProtocolKind::IotKlapV1) => "iot-klap",
        Some(kind) => kind.as_str(),
        None => "auto",
    }
}

/// Device-reported text as a cell: cut to [`MAX_DEVICE_TEXT_CHARS`], made inert (one line,
/// every control character escaped, so no ESC or line break reaches the file), trimmed as the
/// inventory reader trims, and given a leading `'` when a spreadsheet would run it as a formula.
fn device_cell(text: &str) -> String {
    let cut: String = text.chars().take(MAX_DEVICE_TEXT_CHARS).collect();
    formula_safe(inert(&cut).trim())
}

/// `text` with a leading `'` when it starts as a formula would, as the run reports write
/// device text (`report::csv::text_cell`, which is private to the reports, so the rule is
/// repeated here with the same characters and the same tests).
fn formula_safe(text: &str) -> String {
    match text.chars().next() {
        Some(c) if FORMULA_STARTS.contains(&c) => format!("{TEXT_MARK}{text}"),
        _ => text.to_string(),
    }
}

/// `MODEL-SUFFIX`: the base model in lower case, reduced to letters, digits and single
/// hyphens (a device names its own model, and an id is ours), then the last three octets of
/// the MAC, or the address when there is no MAC to write.
fn id_for(f: &Found, mac: Option<MacAddr>) -> String {
    let model = match f {
        Found::Iot { info, .. } => &info.model,
        Found::New { info, .. } => &info.device_model,
    };
    let mut stem = String::new();
    for c in catalog::base_model(model).chars() {
        if stem.len() >= MAX_ID_STEM_CHARS {
            break;
        }
        match c.to_ascii_lowercase() {
            c if c.is_ascii_alphanumeric() => stem.push(c),
            _ if !stem.is_empty() && !stem.ends_with('-') => stem.push('-'),
            _ => {}
        }
    }
    let stem = match stem.trim_end_matches('-') {
        "" => FALLBACK_ID_STEM,
        stem => stem,
    };
    let suffix = match mac {
        Some(m) => format!("{:02x}{:02x}{:02x}", m.0[3], m.0[4], m.0[5]),
        None => f.ip().to_string(),
    };
    format!("{stem}-{suffix}")
}

/// `id`, or `id-2`, `id-3`, … when it is taken; the result is added to `taken`.
fn unique_id(taken: &mut HashSet<String>, id: String) -> String {
    let mut candidate = id.clone();
    let mut n = 1;
    while taken.contains(&candidate) {
        n += 1;
        candidate = format!("{id}-{n}");
    }
    taken.insert(candidate.clone());
    candidate
}

/// The inventory for `rows`, checked as `check` would check it: an inventory that `check`
/// refuses is a bug here, reported as an error rather than written.
fn render(rows: &[Row]) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(HEADER)?;
    for r in rows {
        let mac = r.mac.map(|m| m.to_string()).unwrap_or_default();
        w.write_record([
            &r.id,
            &r.host,
            &r.model,
            &mac,
            r.protocol,
            &r.alias,
            &r.device_id,
        ])?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    // Nothing found is a header alone, which `check` refuses as "no devices": a template to
    // fill in, not a bug.
    if !rows.is_empty()
        && let Err(errors) = inventory::parse(Path::new(RENDERED_NAME), &bytes)
    {
        anyhow::bail!("discover built an inventory that check refuses (a bug):\n{errors}");
    }
    Ok(bytes)
}

mod update;
use update::update;

#[cfg(test)]
mod tests;
