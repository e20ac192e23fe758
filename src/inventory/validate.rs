//! One record → one [`Device`], with the checks that compare rows: duplicate ids, hosts and
//! MACs. Lookups are hash maps, so a large inventory costs linear time.

use std::collections::{BTreeMap, HashMap};

use super::errors::quoted;
use super::header::{Column, Columns};
use super::host::HostError;
use super::links::{self, Link};
use super::mac::EXPECTED_FORMS;
use super::reader::Record;
use super::{Device, Host, MacAddr, PowerVia, ProtocolChoice, RowError, device_id_problem};
use crate::model::MethodChoice;
use crate::protocol::iot::DEFAULT_PORT;

/// Checks rows one by one against the header's columns and the rows before them.
pub(super) struct Validator<'c> {
    columns: &'c Columns,
    /// Line of the first row with each id.
    ids: HashMap<String, u64>,
    /// Line of the first row with each (canonical host name, port), a missing port counting as
    /// the IOT port, so `10.0.0.5` and `10.0.0.5:9999` are one device.
    hosts: HashMap<(String, u16), u64>,
    /// Line of the first row with each MAC: two rows claiming one MAC make the identity check
    /// before a reset meaningless.
    macs: HashMap<MacAddr, u64>,
    links: Vec<Link>,
    /// Records seen, readable or not: a file of a header alone has no devices to act on.
    rows: usize,
    devices: Vec<Device>,
    errors: Vec<RowError>,
}

impl<'c> Validator<'c> {
    pub(super) fn new(columns: &'c Columns) -> Self {
        Validator {
            columns,
            ids: HashMap::new(),
            hosts: HashMap::new(),
            macs: HashMap::new(),
            links: Vec::new(),
            rows: 0,
            devices: Vec::new(),
            errors: Vec::new(),
        }
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
        let id = self.id(line, columns.get(Column::Id, fields));
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
        let text = |column| columns.get(column, fields).map(str::to_string);
        self.devices.push(Device {
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

    /// The valid devices and every problem, once all rows are in.
    pub(super) fn finish(mut self) -> (Vec<Device>, Vec<RowError>) {
        if self.rows == 0 {
            let line = self.columns.line;
            self.report(
                line,
                "no devices: the file has a header and no rows; add one row per device".into(),
            );
        }
        let mut models: HashMap<&str, Option<&str>> = HashMap::new();
        for d in &self.devices {
            models.entry(&d.id).or_insert(d.model.as_deref());
        }
        let problems = links::check(&self.links, &self.ids, &models);
        self.errors.extend(problems);
        (self.devices, self.errors)
    }

    fn report(&mut self, line: u64, message: String) {
        self.errors.push(RowError { line, message });
    }

    fn id<'r>(&mut self, line: u64, id: Option<&'r str>) -> Option<&'r str> {
        let Some(id) = id else {
            self.report(line, "empty id".to_string());
            return None;
        };
        match self.ids.get(id) {
            Some(&first) => self.report(
                line,
                format!("duplicate id {} (first on line {first})", quoted(id)),
            ),
            None => {
                self.ids.insert(id.to_string(), line);
            }
        }
        Some(id)
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
        let key = (host.canonical_name(), host.port_or(DEFAULT_PORT));
        match self.hosts.get(&key) {
            Some(&first) => {
                self.report(
                    line,
                    format!("duplicate host {} (first on line {first})", quoted(text)),
                );
            }
            None => {
                self.hosts.insert(key, line);
            }
        }
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
        match self.macs.get(&mac) {
            Some(&first) => {
                self.report(line, format!("duplicate MAC {mac} (first on line {first})"))
            }
            None => {
                self.macs.insert(mac, line);
            }
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

#[cfg(test)]
mod tests;
