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
        Some(path) => update(path, &rows),
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
            protocol: "iot",
            alias: device_cell(&info.alias),
            device_id: device_cell(&info.device_id),
        },
        Found::New { ip, info } => {
            let iot_payload = info.device_type.starts_with("IOT.");
            let protocol = match (info.encrypt_type.as_deref(), iot_payload) {
                (Some("AES"), _) => "aes",
                (_, true) => "iot-klap",
                _ => "klap",
            };
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
    if let Err(errors) = inventory::parse(Path::new(RENDERED_NAME), &bytes) {
        anyhow::bail!("discover built an inventory that check refuses (a bug):\n{errors}");
    }
    Ok(bytes)
}

/// Moves the host of every inventory row whose MAC was found at another address, reporting
/// each move. The file is rewritten in place, line by line, so comments and formatting stay;
/// the old file is kept as `FILE.bak`. `rows` hold only addresses `check` accepts, and the
/// rewritten file is parsed before it replaces the old one: when the moves would leave a
/// problem (two rows at one address, say, because a device took an address a row still
/// claims), nothing is changed.
fn update(path: &Path, rows: &[Row]) -> anyhow::Result<Status> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read inventory {}", path.display()))?;
    let inv = match inventory::parse(path, &bytes) {
        Ok(inv) => inv,
        Err(errors) => {
            say!("{errors}");
            say!(
                "fleetreset: fix {} first (see `fleetreset check`); nothing was changed",
                path.display()
            );
            return Ok(Status::BadInput);
        }
    };
    let text = String::from_utf8(bytes).context("the inventory is not UTF-8")?;
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_owned).collect();
    let by_mac: HashMap<MacAddr, &Row> =
        rows.iter().filter_map(|r| r.mac.map(|m| (m, r))).collect();
    let mut moves = Vec::new();
    for d in &inv.devices {
        let Some(mac) = d.mac else { continue };
        let Some(found) = by_mac.get(&mac) else {
            continue;
        };
        let found_ip = found.ip.to_string();
        if d.host.ip() == Some(found.ip) || d.host.name == found_ip {
            continue;
        }
        let new_host = Host {
            name: found_ip,
            port: d.host.port,
        };
        if let Some(reason) = new_host.unicast_problem() {
            say!(
                "{}:{}: {}: answered at {new_host}, which is {reason}; not moved",
                path.display(),
                d.line,
                d.id
            );
            continue;
        }
        let idx = usize::try_from(d.line - 1).unwrap_or(usize::MAX);
        let Some(line) = lines.get(idx) else { continue };
        let Some(patched) = replace_field(line, &d.host.to_string(), &new_host.to_string()) else {
            say!(
                "{}:{}: {}: moved to {new_host}, but the row could not be rewritten; edit it by hand",
                path.display(),
                d.line,
                d.id
            );
            continue;
        };
        lines[idx] = patched;
        moves.push(format!(
            "moved {}: {} -> {new_host} (MAC {mac})",
            d.id, d.host
        ));
    }
    let updated = lines.concat();
    if !moves.is_empty()
        && let Err(errors) = inventory::parse(path, updated.as_bytes())
    {
        say!("{errors}");
        say!(
            "fleetreset: moving the hosts found would leave {} with the problems above; \
             nothing was changed",
            path.display()
        );
        return Ok(Status::BadInput);
    }
    let mut out = std::io::stdout().lock();
    for m in &moves {
        writeln!(out, "{m}")?;
    }
    let known: HashSet<MacAddr> = inv.devices.iter().filter_map(|d| d.mac).collect();
    for r in rows
        .iter()
        .filter(|r| r.mac.is_some_and(|m| !known.contains(&m)))
    {
        writeln!(
            out,
            "not in the inventory: {} {} at {}",
            r.model,
            r.mac.map(|m| m.to_string()).unwrap_or_default(),
            r.host
        )?;
    }
    if !moves.is_empty() {
        let backup = path.with_extension("csv.bak");
        std::fs::copy(path, &backup)
            .with_context(|| format!("keeping a backup at {}", backup.display()))?;
        let tmp = path.with_extension("csv.tmp");
        std::fs::write(&tmp, updated).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    }
    writeln!(out, "{} host(s) updated in {}", moves.len(), path.display())?;
    Ok(Status::Success)
}

/// Replaces the one field of a CSV line equal to `old` (trimmed) with `new`.
fn replace_field(line: &str, old: &str, new: &str) -> Option<String> {
    let body = line.trim_end_matches(['\n', '\r']);
    let ending = &line[body.len()..];
    let fields: Vec<&str> = body.split(',').collect();
    let hits: Vec<usize> = fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.trim() == old)
        .map(|(i, _)| i)
        .collect();
    let [i] = hits.as_slice() else { return None };
    let mut fields: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
    fields[*i] = new.to_string();
    Some(format!("{}{ending}", fields.join(",")))
}

#[cfg(test)]
mod tests;
