//! `fleetreset discover --target ADDRESS|CIDR`: find devices and write an inventory, or with
//! `--update FILE` move the hosts of an existing inventory to where DHCP put each MAC.

use crate::output::say;
use std::collections::HashMap;
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use crate::catalog;
use crate::cli::DiscoverArgs;
use crate::exit::Status;
use crate::inventory::{self, MacAddr};
use crate::protocol::discovery::{self, Found};

/// What the CSV says about one found device.
struct Row {
    id: String,
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
    let found = discovery::sweep(&targets, broadcast, Duration::from_secs_f64(args.timeout))
        .await
        .context("sending discovery probes")?;
    let rows: Vec<Row> = found.iter().map(row).collect();
    say!("found {} device(s)", rows.len());
    match &args.update {
        Some(path) => update(path, &rows),
        None => {
            let csv = render(&rows)?;
            match &args.out {
                Some(path) => {
                    std::fs::write(path, csv)
                        .with_context(|| format!("writing {}", path.display()))?;
                    say!("wrote {}", path.display());
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

fn row(f: &Found) -> Row {
    let mac = f.mac().parse::<MacAddr>().ok();
    let suffix = mac
        .map(|m| format!("{:02x}{:02x}{:02x}", m.0[3], m.0[4], m.0[5]))
        .unwrap_or_else(|| f.ip().to_string());
    match f {
        Found::Iot { ip, info, .. } => Row {
            id: format!(
                "{}-{suffix}",
                catalog::base_model(&info.model).to_ascii_lowercase()
            ),
            host: ip.to_string(),
            model: info.model.clone(),
            mac,
            protocol: "iot",
            alias: info.alias.clone(),
            device_id: info.device_id.clone(),
        },
        Found::New { ip, info } => {
            let iot_payload = info.device_type.starts_with("IOT.");
            let protocol = match (info.encrypt_type.as_deref(), iot_payload) {
                (Some("AES"), _) => "aes",
                (_, true) => "iot-klap",
                _ => "klap",
            };
            let host = match info.http_port {
                Some(p) if p != 80 => format!("{ip}:{p}"),
                _ => ip.to_string(),
            };
            Row {
                id: format!(
                    "{}-{suffix}",
                    catalog::base_model(&info.device_model).to_ascii_lowercase()
                ),
                host,
                model: info.device_model.clone(),
                mac,
                protocol,
                alias: String::new(),
                device_id: info.device_id.clone(),
            }
        }
    }
}

fn render(rows: &[Row]) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "id",
        "host",
        "model",
        "mac",
        "protocol",
        "alias",
        "device_id",
    ])?;
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
    Ok(w.into_inner().map_err(|e| e.into_error())?)
}

/// Moves the host of every inventory row whose MAC was found at another address, reporting
/// each move. The file is rewritten in place, line by line, so comments and formatting stay;
/// the old file is kept as `FILE.bak`.
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
    let mut moves = 0;
    let mut out = std::io::stdout().lock();
    for d in &inv.devices {
        let Some(mac) = d.mac else { continue };
        let Some(found) = by_mac.get(&mac) else {
            continue;
        };
        let found_ip = found.host.split(':').next().unwrap_or(&found.host);
        if d.host.ip().map(|ip| ip.to_string()).as_deref() == Some(found_ip)
            || d.host.name == found_ip
        {
            continue;
        }
        let new_host = match d.host.port {
            Some(p) => format!("{found_ip}:{p}"),
            None => found_ip.to_string(),
        };
        let idx = usize::try_from(d.line - 1).unwrap_or(usize::MAX);
        let Some(line) = lines.get(idx) else { continue };
        let Some(patched) = replace_field(line, &d.host.to_string(), &new_host) else {
            say!(
                "{}:{}: {}: moved to {new_host}, but the row could not be rewritten; edit it by hand",
                path.display(),
                d.line,
                d.id
            );
            continue;
        };
        lines[idx] = patched;
        moves += 1;
        writeln!(out, "moved {}: {} -> {new_host} (MAC {mac})", d.id, d.host)?;
    }
    let known: Vec<MacAddr> = inv.devices.iter().filter_map(|d| d.mac).collect();
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
    if moves > 0 {
        let backup = path.with_extension("csv.bak");
        std::fs::copy(path, &backup)
            .with_context(|| format!("keeping a backup at {}", backup.display()))?;
        let tmp = path.with_extension("csv.tmp");
        std::fs::write(&tmp, lines.concat())
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    }
    writeln!(out, "{moves} host(s) updated in {}", path.display())?;
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
mod tests {
    use super::*;

    #[test]
    fn a_host_field_is_replaced_and_the_rest_of_the_line_kept() {
        assert_eq!(
            replace_field(
                "a,10.0.0.5,HS100,50:C7:BF:00:00:01\n",
                "10.0.0.5",
                "10.0.0.9"
            )
            .unwrap(),
            "a,10.0.0.9,HS100,50:C7:BF:00:00:01\n"
        );
        assert_eq!(
            replace_field("a, 10.0.0.5 ,x\r\n", "10.0.0.5", "10.0.0.9").unwrap(),
            "a,10.0.0.9,x\r\n"
        );
        // Ambiguous or absent: leave it to the user.
        assert!(replace_field("10.0.0.5,10.0.0.5\n", "10.0.0.5", "x").is_none());
        assert!(replace_field("a,b\n", "10.0.0.5", "x").is_none());
    }
}
