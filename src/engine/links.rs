//! Settling how each job reaches its device before a run starts: the account from the
//! `credentials` profile, the protocol from the inventory, the catalog or discovery, and, with
//! `--rediscover`, the device's current address when DHCP has moved it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use crate::credentials;
use crate::device::ProtocolKind;
use crate::inventory::MacAddr;
use crate::protocol::discovery::{self, Found};

use super::plan::PlannedJob;

/// How long discovery listens for the devices whose protocol only it can tell. Devices answer
/// in milliseconds; three rounds over two seconds ride out a lost datagram.
pub const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(2);

/// What discovery says a device speaks, and on which port.
pub fn protocol_of(found: &Found) -> Option<(ProtocolKind, Option<u16>)> {
    match found {
        Found::Iot { .. } => Some((ProtocolKind::Iot, None)),
        Found::New { info, .. } => {
            let iot = info.device_type.starts_with("IOT.");
            let kind = match (
                info.encrypt_type.as_deref(),
                iot,
                info.login_version.unwrap_or(1) >= 2,
            ) {
                (Some("AES"), false, _) => ProtocolKind::SmartAes,
                (Some("KLAP"), true, false) => ProtocolKind::IotKlapV1,
                (Some("KLAP"), true, true) => ProtocolKind::IotKlapV2,
                (Some("KLAP"), false, _) => ProtocolKind::SmartKlap,
                // Unknown encryption (newer firmware, TPAP): unsupported rather than a guess.
                _ => return None,
            };
            Some((kind, info.http_port))
        }
    }
}

/// Fills every job's credentials from its profile. Lists every row whose profile is missing,
/// as `LINE: id: message`.
pub fn attach_credentials(
    jobs: &mut [PlannedJob],
    store: &credentials::Store,
) -> Result<(), Vec<(u64, String)>> {
    let mut problems = Vec::new();
    for j in jobs.iter_mut() {
        let Some(profile) = j.device.credentials.as_deref().filter(|p| !p.is_empty()) else {
            continue;
        };
        match store.get(profile) {
            Ok(c) => j.link.credentials = Some(c),
            Err(e) => problems.push((j.device.line, format!("{}: {e}", j.device.id))),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Settles the protocol of every `unresolved` job by discovery, and with `rediscover` moves
/// jobs whose MAC answered at another address. Returns notes for the person running it.
pub async fn discover(
    jobs: &mut [PlannedJob],
    rediscover: Option<&[IpAddr]>,
    timeout: Duration,
) -> std::io::Result<Vec<String>> {
    let mut targets: Vec<IpAddr> = jobs
        .iter()
        .filter(|j| j.link.source == "unresolved")
        .filter_map(|j| j.device.host.ip())
        .collect();
    if let Some(extra) = rediscover {
        targets.extend_from_slice(extra);
    }
    targets.sort_unstable();
    targets.dedup();
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let found = discovery::sweep(&targets, false, timeout).await?;
    let by_ip: HashMap<IpAddr, &Found> = found.iter().map(|f| (f.ip(), f)).collect();
    let by_mac: HashMap<MacAddr, &Found> = found
        .iter()
        .filter_map(|f| f.mac().parse::<MacAddr>().ok().map(|m| (m, f)))
        .collect();
    let mut notes = Vec::new();
    for j in jobs.iter_mut() {
        let at_host = j.device.host.ip().and_then(|ip| by_ip.get(&ip).copied());
        let mut answer = at_host;
        if rediscover.is_some()
            && let Some(mac) = j.device.mac
            && let Some(f) = by_mac.get(&mac)
            && Some(f.ip()) != j.device.host.ip()
        {
            let from = j.device.host.to_string();
            j.device.host.name = f.ip().to_string();
            notes.push(format!(
                "{}: MAC {mac} answered at {}, not {from}; using the new address",
                j.device.id,
                f.ip()
            ));
            j.link.moved_from = Some(from);
            answer = Some(f);
        }
        if j.link.source != "unresolved" && j.link.moved_from.is_none() {
            continue;
        }
        match answer.and_then(protocol_of) {
            Some((kind, port)) => {
                if j.link.source == "unresolved" {
                    j.link.protocol = kind;
                    j.link.source = "discovery";
                }
                j.link.port = j.device.host.port.or(port).unwrap_or(kind.default_port());
            }
            None if j.link.source == "unresolved" => {
                notes.push(format!(
                    "{}: discovery got no usable answer from {}; trying the legacy protocol (set the protocol column to be sure)",
                    j.device.id, j.device.host
                ));
            }
            None => {}
        }
    }
    Ok(notes)
}
