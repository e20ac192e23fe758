//! Settling how each job reaches its device before a run starts: the account from the
//! `credentials` profile, the protocol from the inventory, the catalog or discovery, and, with
//! `--rediscover`, the device's current address when DHCP has moved it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use crate::credentials;
use crate::device::{DeviceClient, Link, ProtocolKind};
use crate::inert::Inert;
use crate::inventory::MacAddr;
use crate::protocol::discovery::{self, Found};
use crate::store::{Db, StoreError};

use super::config::RunConfig;
use super::job::negotiate::{LOW_REMAINING_LOGINS, LoginGate};
use super::job::probe::time_scale_problem;
use super::plan::PlannedJob;
use super::progress::ProgressView;

/// How many loopback devices the rehearsal check asks before the run. One answer decides (a
/// simulator has one time scale); a second covers a first device simulated offline.
const REHEARSAL_LOOKS: usize = 2;

/// How long discovery listens for the devices whose protocol only it can tell. Devices answer
/// in milliseconds; three rounds over two seconds ride out a lost datagram.
pub const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(2);

/// Before a run's first command: whether the inventory is being rehearsed against
/// `fleetreset simulate` at another time scale than the run's, which would misjudge every
/// wait. Asks up to [`REHEARSAL_LOOKS`] loopback rows that speak the legacy protocol, which
/// has no login (a look must never cost a device a failed login); other rows are held to the
/// same rule by their own probe, before anything is sent to them. Real devices, which never
/// report a time scale, and fleets off loopback, where no simulator runs, pass untouched.
/// A refusal is `LINE: id: message`.
pub async fn rehearsal_check(jobs: &[PlannedJob], config: &RunConfig) -> Result<(), String> {
    let candidates = jobs
        .iter()
        .filter(|j| j.link.protocol == ProtocolKind::Iot && j.link.refusal.is_none())
        .filter_map(|j| Some((j, j.device.host.ip().filter(IpAddr::is_loopback)?)))
        .take(REHEARSAL_LOOKS);
    for (job, ip) in candidates {
        let mut client = DeviceClient::new(Link {
            addr: std::net::SocketAddr::new(ip, job.link.port),
            protocol: ProtocolKind::Iot,
            credentials: None,
            timeouts: config.timeouts,
        });
        let Ok(info) = client.info().await else {
            continue;
        };
        return match time_scale_problem(&info, ip, config.time_scale) {
            Some(why) => Err(format!(
                "{}: {}: {why}",
                job.device.line,
                Inert(&job.device.id)
            )),
            None => Ok(()),
        };
    }
    Ok(())
}

/// Fills every job's credentials from its profile. Lists every row whose profile is missing,
/// as `LINE: id: message`.
pub fn attach_credentials(
    jobs: &mut [PlannedJob],
    store: &credentials::Store,
) -> Result<(), Vec<(u64, String)>> {
    let mut problems = Vec::new();
    for j in jobs.iter_mut() {
        let Some(profile) = profile_of(&j.device) else {
            continue;
        };
        match store.get(profile) {
            Ok(c) => j.link.credentials = Some(c),
            Err(e) => problems.push((j.device.line, profile_refusal(&j.device, &e))),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// The rows naming a credentials profile that `store` doesn't have, as [`attach_credentials`]
/// refuses them, with its words: for `check` and `plan`, which refuse what `run` refuses.
pub fn missing_profiles(
    devices: &[crate::inventory::Device],
    store: &credentials::Store,
) -> Vec<crate::inventory::RowError> {
    devices
        .iter()
        .filter_map(|d| {
            let err = store.get(profile_of(d)?).err()?;
            Some(crate::inventory::RowError {
                line: d.line,
                message: profile_refusal(d, &err),
            })
        })
        .collect()
}

/// Gives every upstream job the link of its switch: the switch's own job's, settled like any
/// (discovery included), when the switch is a row of this run; else the inventory's and the
/// catalog's, with its credentials profile. A profile `store` lacks leaves the switch without
/// credentials: a switch that needs them then fails its probe, and the jobs behind it end
/// `dependency_failed`.
pub fn attach_switches(jobs: &mut [PlannedJob], store: &credentials::Store) {
    let links: HashMap<String, super::plan::LinkPlan> = jobs
        .iter()
        .map(|j| (j.device.id.clone(), j.link.clone()))
        .collect();
    for j in jobs.iter_mut() {
        let super::method::MethodPlan::Upstream(up) = &mut j.method else {
            continue;
        };
        up.switch = Some(match links.get(&up.via) {
            Some(link) => link.clone(),
            None => {
                let mut link = super::plan::link_for(&up.feeder);
                link.credentials = profile_of(&up.feeder).and_then(|p| store.get(p).ok());
                link
            }
        });
    }
}

fn profile_of(device: &crate::inventory::Device) -> Option<&str> {
    device.credentials.as_deref().filter(|p| !p.is_empty())
}

fn profile_refusal(
    device: &crate::inventory::Device,
    err: &credentials::CredentialsError,
) -> String {
    format!("{}: {err}", Inert(&device.id))
}

/// Puts the login gate on every job whose device's last TPAP login was refused with few
/// attempts left ([`LoginGate`]), as this database recorded it; `forced` (`--force-login`) lets
/// them be tried, and says so in their `login_attempt`. Notes how many it holds back.
pub fn gate_logins(
    jobs: &mut [PlannedJob],
    db: &Db,
    forced: bool,
    view: &ProgressView,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let gated = gate(jobs, db, forced)
        .context("reading earlier TPAP login refusals from the audit database")?;
    if gated > 0 {
        view.note(&format!(
            "{gated} device(s) refused a TPAP login earlier with {LOW_REMAINING_LOGINS} or fewer attempts left before they lock: they are not tried (--force-login tries them)"
        ));
    }
    Ok(())
}

fn gate(jobs: &mut [PlannedJob], db: &Db, forced: bool) -> Result<usize, StoreError> {
    let devices: Vec<(&str, Option<MacAddr>)> = jobs
        .iter()
        .map(|j| (j.device.id.as_str(), j.device.mac))
        .collect();
    let mut last = db.last_tpap_refusals(&devices)?;
    drop(devices);
    let mut gated = 0;
    for j in jobs.iter_mut() {
        if let Some(refusal) = last.remove(&j.device.id) {
            j.link.login_gate = LoginGate::of(refusal, forced);
            gated += usize::from(j.link.login_gate.as_ref().is_some_and(|g| !g.forced));
        }
    }
    Ok(gated)
}

/// Settles the protocol of every `unresolved` job by discovery, and with `rediscover` moves
/// jobs whose MAC answered at another address. Returns notes for the person running it.
///
/// A move is followed only when exactly one address answered with the row's MAC (and, when
/// the row gives a `device_id`, that id too). When several addresses answer with one MAC, it
/// is not known which device the row means: the job is refused before anything is sent to
/// either, and the refusal names every address.
pub async fn discover(
    jobs: &mut [PlannedJob],
    rediscover: Option<&[IpAddr]>,
    timeout: Duration,
) -> std::io::Result<Vec<String>> {
    // Only the rows' own unicast addresses: `check` refuses any other.
    let mut targets: Vec<IpAddr> = jobs
        .iter()
        .filter(|j| j.link.source == "unresolved" || may_be_tpap_camera(j))
        .filter_map(|j| j.device.host.ip())
        .filter(|ip| crate::inventory::unicast_problem(*ip).is_none())
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
    let mut by_mac: HashMap<MacAddr, Vec<&Found>> = HashMap::new();
    for f in &found {
        if let Ok(mac) = f.mac().parse::<MacAddr>() {
            by_mac.entry(mac).or_default().push(f);
        }
    }
    let mut notes = Vec::new();
    for j in jobs.iter_mut() {
        let mut answer = j.device.host.ip().and_then(|ip| by_ip.get(&ip).copied());
        if rediscover.is_some()
            && let Some(mac) = j.device.mac
        {
            match follow(j, mac, by_mac.get(&mac).map(Vec::as_slice).unwrap_or(&[])) {
                Follow::Stay => {}
                Follow::Move(f) => {
                    let from = j.device.host.to_string();
                    j.device.host.name = f.ip().to_string();
                    notes.push(format!(
                        "{}: MAC {mac} answered at {}, not {from}; using the new address",
                        Inert(&j.device.id),
                        f.ip()
                    ));
                    j.link.moved_from = Some(from);
                    answer = Some(f);
                }
                Follow::Refuse(why) => {
                    notes.push(format!("{}: {why}", Inert(&j.device.id)));
                    j.link.refusal = Some(why);
                    continue;
                }
            }
        }
        if may_be_tpap_camera(j)
            && let Some((ProtocolKind::CameraTpap, port)) = answer.and_then(ProtocolKind::of_found)
        {
            // A Tapo camera whose discovery announces TPAP: its firmware moved from SslAes.
            j.link.protocol = ProtocolKind::CameraTpap;
            j.link.source = "discovery";
            j.link.port = j.device.host.port.or(port).unwrap_or(j.link.port);
            continue;
        }
        if j.link.source != "unresolved" && j.link.moved_from.is_none() {
            continue;
        }
        match answer.and_then(ProtocolKind::of_found) {
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
                    Inert(&j.device.id),
                    j.device.host
                ));
            }
            None => {}
        }
    }
    Ok(notes)
}

/// A Tapo camera the catalog settled as SslAes (`auto`): discovery may say its firmware speaks
/// TPAP now. Silent or otherwise, it stays SslAes.
fn may_be_tpap_camera(j: &PlannedJob) -> bool {
    j.link.source == "catalog" && j.link.protocol == ProtocolKind::SslAes
}

/// What to do with a row whose MAC `answers` came from.
#[derive(Debug)]
enum Follow<'a> {
    /// Not found, or found where the inventory says.
    Stay,
    /// Found at exactly one other address, with the row's device id if it gives one.
    Move(&'a Found),
    /// Several addresses answer with this MAC (or the one that does has another device id):
    /// nothing may be sent.
    Refuse(String),
}

fn follow<'a>(job: &PlannedJob, mac: MacAddr, answers: &[&'a Found]) -> Follow<'a> {
    let here = job.device.host.ip();
    match answers {
        [] => Follow::Stay,
        [one] if Some(one.ip()) == here => Follow::Stay,
        [one] => match job.device.device_id.as_deref() {
            Some(id) if !id.eq_ignore_ascii_case(one.device_id()) => Follow::Refuse(format!(
                "MAC {mac} answered at {}, but with device id {:?}, not the inventory's {:?}; nothing will be sent to it",
                one.ip(),
                Inert(one.device_id()).to_string(),
                Inert(id).to_string()
            )),
            _ => Follow::Move(one),
        },
        many => {
            let addresses: Vec<String> = many.iter().map(|f| f.ip().to_string()).collect();
            Follow::Refuse(format!(
                "MAC {mac} answered discovery at {} addresses ({}): it is not known which is this device, so nothing will be sent to any of them",
                many.len(),
                addresses.join(" and ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::inventory::Device;
    use crate::model::Action;
    use crate::protocol::iot::messages::SysInfo;

    fn found(ip: &str, mac: &str, device_id: &str) -> Found {
        let raw = json!({"model": "HS110(EU)", "alias": "a", "mac": mac, "deviceId": device_id,
                         "type": "IOT.SMARTPLUGSWITCH"});
        Found::Iot {
            ip: ip.parse().unwrap(),
            info: SysInfo::from_reply(&raw).unwrap(),
            raw,
        }
    }

    fn job(host: &str, device_id: Option<&str>) -> PlannedJob {
        let mut d = Device {
            mac: Some(MAC.parse().unwrap()),
            ..Device::bare("unit", host)
        };
        d.device_id = device_id.map(str::to_owned);
        crate::engine::plan::plan(&[d], Action::FactoryReset).remove(0)
    }

    const MAC: &str = "50:C7:BF:00:00:01";

    #[test]
    fn a_mac_found_where_the_inventory_says_or_nowhere_stays() {
        let mac = MAC.parse().unwrap();
        assert!(matches!(
            follow(&job("10.0.0.5", None), mac, &[]),
            Follow::Stay
        ));
        let here = found("10.0.0.5", MAC, "D1");
        assert!(matches!(
            follow(&job("10.0.0.5", None), mac, &[&here]),
            Follow::Stay
        ));
    }

    #[test]
    fn a_mac_found_at_one_other_address_is_followed_if_the_device_id_agrees() {
        let mac = MAC.parse().unwrap();
        let there = found("10.0.0.9", MAC, "D1");
        assert!(
            matches!(follow(&job("10.0.0.5", None), mac, &[&there]), Follow::Move(f) if f.ip().to_string() == "10.0.0.9")
        );
        assert!(matches!(
            follow(&job("10.0.0.5", Some("d1")), mac, &[&there]),
            Follow::Move(_)
        ));
        let Follow::Refuse(why) = follow(&job("10.0.0.5", Some("D2")), mac, &[&there]) else {
            panic!("another device id must not be followed");
        };
        assert!(why.contains("device id"), "{why}");
    }

    #[test]
    fn a_mac_found_at_two_addresses_is_refused_naming_both_even_if_one_is_the_inventory_s() {
        let mac = MAC.parse().unwrap();
        let (a, b) = (found("10.0.0.5", MAC, "D1"), found("10.0.0.9", MAC, "D1"));
        let Follow::Refuse(why) = follow(&job("10.0.0.5", None), mac, &[&a, &b]) else {
            panic!("two answers must be refused");
        };
        assert!(why.contains("(10.0.0.5 and 10.0.0.9)"), "{why}");
        assert!(why.contains("nothing will be sent"), "{why}");
    }
}
