//! One record → one [`Device`], with the checks that compare rows: duplicate ids, hosts and
//! MACs. Lookups are hash tables ([`FirstSeen`]), so a large inventory costs linear time, and
//! they keep each key once, compactly, not a copy of every row.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::errors::quoted;
use super::first_seen::{Entry, FirstSeen, Full, Seen};
use super::header::{Column, Columns};
use super::host::HostError;
use super::links::{self, Link};
use super::mac::EXPECTED_FORMS;
use super::reader::Record;
use super::{Device, Host, MacAddr, PowerVia, ProtocolChoice, RowError, Tally, device_id_problem};
use crate::model::MethodChoice;
use crate::protocol::iot::DEFAULT_PORT;

/// What the validator keeps of the valid rows.
#[derive(Debug)]
pub(super) enum Kept {
    /// Every valid row, as a [`Device`]: what `plan` and `run` act on.
    Devices(Vec<Device>),
    /// Only what `check` says of them.
    Tally(Tally),
}

impl Kept {
    /// Nothing yet, of the kind `keep` asks for (devices, else a tally).
    pub(super) fn empty(keep: bool) -> Kept {
        if keep {
            Kept::Devices(Vec::new())
        } else {
            Kept::Tally(Tally::default())
        }
    }
}

/// Most rows the validator makes room for before the first: a guess from the file's line count,
/// which blank and comment lines inflate, so it is capped; past it the tables grow as usual.
const MAX_RESERVED_ROWS: usize = 1 << 20;

/// The problem a file too large for [`FirstSeen`] gets, once.
const TOO_LARGE: &str = "the inventory is too large to check for duplicates (over 4 GiB of ids, \
                         hosts or MACs, or past line 4294967295); split it into smaller files";

/// Checks rows one by one against the header's columns and the rows before them.
pub(super) struct Validator<'c> {
    columns: &'c Columns,
    /// Line of the first row with each id; the payload is the model of the valid row with that
    /// id, as 1 + its index in `models` (0: no such row, or no model), for the `power_via`
    /// checks.
    ids: FirstSeen,
    /// Line of the first row with each (canonical host, port) ([`Host::key_into`]), a missing
    /// port counting as the IOT port, so `10.0.0.5` and `10.0.0.5:9999` are one device.
    hosts: FirstSeen,
    /// Line of the first row with each MAC: two rows claiming one MAC make the identity check
    /// before a reset meaningless.
    macs: FirstSeen,
    /// Each model of a valid row once, in order of first use.
    models: Vec<String>,
    model_index: HashMap<String, u32>,
    /// Scratch space for a host's key.
    key: Vec<u8>,
    links: Vec<Link>,
    /// Records seen, readable or not: a file of a header alone has no devices to act on.
    rows: usize,
    kept: Kept,
    /// The distinct sites, while tallying.
    sites: HashSet<String>,
    too_large: bool,
    errors: Vec<RowError>,
}

impl<'c> Validator<'c> {
    /// A validator keeping every valid row as a [`Device`] (`keep`), or only their [`Tally`],
    /// with room for about `rows` rows.
    pub(super) fn new(columns: &'c Columns, keep: bool, rows: usize) -> Self {
        let rows = rows.min(MAX_RESERVED_ROWS);
        let mut validator = Validator {
            columns,
            ids: FirstSeen::default(),
            hosts: FirstSeen::default(),
            macs: FirstSeen::default(),
            models: Vec::new(),
            model_index: HashMap::new(),
            key: Vec::new(),
            links: Vec::new(),
            rows: 0,
            kept: Kept::empty(keep),
            sites: HashSet::new(),
            too_large: false,
            errors: Vec::new(),
        };
        validator.ids.reserve(rows);
        validator.hosts.reserve(rows);
        if columns.has(Column::Mac) {
            validator.macs.reserve(rows);
        }
        if let Kept::Devices(devices) = &mut validator.kept {
            devices.reserve(rows);
        }
        validator
    }

    /// A record that could not be read; kept so that problems stay in one list.
    pub(super) fn unreadable(&mut self, error: RowError) {
        self.rows += 1;
        self.errors.push(error);
    }

    pub(super) fn row(&mut self, record: &Record) {
        self.rows += 1;
        let columns = self.columns;
        let line = record.line;
        let fields = record.fields.as_slice();
        if fields.len() != columns.width {
            // Fields may have shifted, so nothing else in the row can be trusted.
            self.report(
                line,
                format!(
                    "expected {} fields, as in the header on line {}, found {}",
                    columns.width,
                    columns.line,
                    fields.len()
                ),
            );
            return;
        }
        let errors_before = self.errors.len();
        let (id, id_entry) = self.id(line, columns.get(Column::Id, fields));
        let host = self.host(line, columns.get(Column::Host, fields));
        let mac = self.mac(line, columns.get(Column::Mac, fields));
        let power_via = self.power_via(line, id, columns.get(Column::PowerVia, fields));
        let protocol = self.protocol(line, columns.get(Column::Protocol, fields));
        let method = self.method(line, columns.get(Column::Method, fields));
        let device_id = self.device_id(line, columns.get(Column::DeviceId, fields));
        let (
            Some(id),
            Some(host),
            Ok(mac),
            Ok(power_via),
            Some(protocol),
            Some(method),
            Ok(device_id),
        ) = (id, host, mac, power_via, protocol, method, device_id)
        else {
            return;
        };
        if self.errors.len() > errors_before {
            return;
        }
        let model = columns.get(Column::Model, fields);
        // A valid row's id is new: a duplicate is a problem.
        if let (Some(entry), Some(model)) = (id_entry, model) {
            let index = self.model_payload(model);
            self.ids.set_payload(entry, index);
        }
        let devices = match &mut self.kept {
            Kept::Devices(devices) => devices,
            Kept::Tally(tally) => {
                tally.devices += 1;
                tally.powered += usize::from(power_via.is_some());
                if let Some(site) = columns.get(Column::Site, fields)
                    && !self.sites.contains(site)
                {
                    self.sites.insert(site.to_string());
                }
                return;
            }
        };
        let text = |column| columns.get(column, fields).map(str::to_string);
        devices.push(Device {
            line,
            id: id.to_string(),
            host,
            model: text(Column::Model),
            mac,
            site: text(Column::Site),
            unit: text(Column::Unit),
            power_via,
            credentials: text(Column::Credentials),
            protocol,
            method,
            device_id,
            notes: text(Column::Notes),
            extra: columns
                .extra
                .iter()
                .filter(|(i, _)| !fields[*i].is_empty())
                .map(|(i, name)| (name.clone(), fields[*i].clone()))
                .collect::<BTreeMap<_, _>>(),
        });
    }

    /// What was kept of the valid rows, and every problem, once all rows are in.
    pub(super) fn finish(mut self) -> (Kept, Vec<RowError>) {
        if self.rows == 0 {
            let line = self.columns.line;
            self.report(
                line,
                "no devices: the file has a header and no rows; add one row per device".into(),
            );
        }
        let (ids, models) = (&self.ids, &self.models);
        let problems = links::check(&self.links, |id| {
            let (_, payload) = ids.get(id.as_bytes())?;
            Some(
                payload
                    .checked_sub(1)
                    .map(|index| models[index as usize].as_str()),
            )
        });
        self.errors.extend(problems);
        self.errors.shrink_to_fit();
        let mut kept = self.kept;
        match &mut kept {
            // Exact: the rows are kept for the whole run.
            Kept::Devices(devices) => devices.shrink_to_fit(),
            Kept::Tally(tally) => tally.sites = self.sites.len(),
        }
        (kept, self.errors)
    }

    fn report(&mut self, line: u64, message: String) {
        self.errors.push(RowError { line, message });
    }

    /// Whether the `which` key `key` was seen before, and on which line; a new one is recorded
    /// as first on `line`. A file too large to record it in is refused, once (`Err`).
    fn first_line(&mut self, which: Key, key: &[u8], line: u64) -> Result<Seen, ()> {
        let seen = match which {
            Key::Id => &mut self.ids,
            Key::Host => &mut self.hosts,
            Key::Mac => &mut self.macs,
        };
        match seen.first(key, line) {
            Ok(seen) => Ok(seen),
            Err(Full) => {
                if !self.too_large {
                    self.too_large = true;
                    self.report(line, TOO_LARGE.to_string());
                }
                Err(())
            }
        }
    }

    /// 1 + the index of `model` in `models`, added if new.
    fn model_payload(&mut self, model: &str) -> u32 {
        if let Some(&index) = self.model_index.get(model) {
            return index;
        }
        // Fewer models than rows, and rows than `u32::MAX` (`FirstSeen` refuses more lines).
        let index = u32::try_from(self.models.len() + 1).unwrap_or(u32::MAX);
        self.models.push(model.to_string());
        self.model_index.insert(model.to_string(), index);
        index
    }

    fn id<'r>(&mut self, line: u64, id: Option<&'r str>) -> (Option<&'r str>, Option<Entry>) {
        let Some(id) = id else {
            self.report(line, "empty id".to_string());
            return (None, None);
        };
        match self.first_line(Key::Id, id.as_bytes(), line) {
            Ok(Seen::Before(first)) => {
                self.report(
                    line,
                    format!("duplicate id {} (first on line {first})", quoted(id)),
                );
                (Some(id), None)
            }
            Ok(Seen::New(entry)) => (Some(id), Some(entry)),
            Err(()) => (Some(id), None),
        }
    }

    fn host(&mut self, line: u64, text: Option<&str>) -> Option<Host> {
        let text = text.unwrap_or_default();
        let host = match text.parse::<Host>() {
            Ok(host) => host,
            Err(HostError::Empty) => return self.fail(line, "empty host".to_string()),
            Err(HostError::BadPort { port }) => {
                let message = format!(
                    "bad port {} in host {}: must be 1-65535",
                    quoted(&port),
                    quoted(text)
                );
                return self.fail(line, message);
            }
            Err(HostError::BadName { reason }) => {
                return self.fail(line, format!("bad host {}: {reason}", quoted(text)));
            }
        };
        if let Some(reason) = host.unicast_problem() {
            // Not counted for duplicates: the row is refused whatever else claims the address.
            return self.fail(line, format!("bad host {}: {reason}", quoted(text)));
        }
        let mut key = std::mem::take(&mut self.key);
        host.key_into(DEFAULT_PORT, &mut key);
        if let Ok(Seen::Before(first)) = self.first_line(Key::Host, &key, line) {
            self.report(
                line,
                format!("duplicate host {} (first on line {first})", quoted(text)),
            );
        }
        self.key = key;
        Some(host)
    }

    /// `Err` when the MAC is given but unusable.
    fn mac(&mut self, line: u64, text: Option<&str>) -> Result<Option<MacAddr>, ()> {
        let Some(text) = text else { return Ok(None) };
        let Ok(mac) = text.parse::<MacAddr>() else {
            self.report(
                line,
                format!("malformed MAC {}: {EXPECTED_FORMS}", quoted(text)),
            );
            return Err(());
        };
        if let Some(reason) = mac.identity_problem() {
            self.report(
                line,
                format!("MAC {} identifies no device: {reason}", quoted(text)),
            );
            return Err(());
        }
        if let Ok(Seen::Before(first)) = self.first_line(Key::Mac, &mac.0, line) {
            self.report(line, format!("duplicate MAC {mac} (first on line {first})"));
        }
        Ok(Some(mac))
    }

    /// `Err` when `power_via` is given but unusable. Whether it names a row is checked in
    /// [`Validator::finish`], when all ids are known.
    fn power_via(
        &mut self,
        line: u64,
        id: Option<&str>,
        text: Option<&str>,
    ) -> Result<Option<PowerVia>, ()> {
        let Some(text) = text else { return Ok(None) };
        match text.parse::<PowerVia>() {
            Ok(via) => {
                self.links.push(Link {
                    line,
                    from: id.unwrap_or_default().to_string(),
                    via: via.clone(),
                    text: text.to_string(),
                });
                Ok(Some(via))
            }
            Err(err) => {
                self.report(line, format!("bad power_via {}: {err}", quoted(text)));
                Err(())
            }
        }
    }

    fn protocol(&mut self, line: u64, text: Option<&str>) -> Option<ProtocolChoice> {
        let Some(text) = text else {
            return Some(ProtocolChoice::Auto);
        };
        match text.parse::<ProtocolChoice>() {
            Ok(choice) => Some(choice),
            Err(err) => self.fail(line, format!("unknown protocol {}: {err}", quoted(text))),
        }
    }

    fn method(&mut self, line: u64, text: Option<&str>) -> Option<MethodChoice> {
        let Some(text) = text else {
            return Some(MethodChoice::Auto);
        };
        match text.parse::<MethodChoice>() {
            Ok(choice) => Some(choice),
            Err(err) => self.fail(line, format!("unknown method {}: {err}", quoted(text))),
        }
    }

    /// `Err` when the device id is given but can't be one.
    fn device_id(&mut self, line: u64, text: Option<&str>) -> Result<Option<String>, ()> {
        let Some(text) = text else { return Ok(None) };
        match device_id_problem(text) {
            None => Ok(Some(text.to_string())),
            Some(reason) => {
                self.report(line, format!("bad device_id {}: {reason}", quoted(text)));
                Err(())
            }
        }
    }

    fn fail<T>(&mut self, line: u64, message: String) -> Option<T> {
        self.report(line, message);
        None
    }
}

/// The kinds of key rows must not share.
#[derive(Clone, Copy)]
enum Key {
    Id,
    Host,
    Mac,
}

#[cfg(test)]
mod tests;
