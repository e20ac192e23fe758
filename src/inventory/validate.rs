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
        let device_id = self.device_id(line, columns.get(Column::DeviceId, fields));
        let (Some(id), Some(host), Ok(mac), Ok(power_via), Some(protocol), Ok(device_id)) =
            (id, host, mac, power_via, protocol, device_id)
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
mod tests {
    use crate::inventory::parse::problems;

    const HEADER: &str = "id,host,model,mac,site,unit,power_via,credentials,notes\n";

    /// The problems of an inventory made of the full header and `rows`.
    fn row_problems(rows: &str) -> Vec<(u64, String)> {
        problems(format!("{HEADER}{rows}").as_bytes())
    }

    fn one(line: u64, message: &str) -> Vec<(u64, String)> {
        vec![(line, message.to_string())]
    }

    #[test]
    fn a_clean_row_has_no_problems() {
        assert_eq!(
            row_problems("plug-1,10.0.0.1,HS103,50:C7:BF:0A:B1:FE,a,1,,home,\n"),
            []
        );
    }

    #[test]
    fn empty_ids_are_reported() {
        assert_eq!(row_problems(" ,10.0.0.1,,,,,,,\n"), one(2, "empty id"));
    }

    #[test]
    fn duplicate_ids_name_both_lines() {
        assert_eq!(
            row_problems(
                "plug-1,10.0.0.1,,,,,,,\nplug-2,10.0.0.2,,,,,,,\nplug-1,10.0.0.3,,,,,,,\n"
            ),
            one(4, "duplicate id \"plug-1\" (first on line 2)")
        );
    }

    #[test]
    fn empty_hosts_are_reported() {
        assert_eq!(row_problems("plug-1,,,,,,,,\n"), one(2, "empty host"));
    }

    #[test]
    fn duplicate_hosts_ignore_case_and_an_implied_default_port() {
        assert_eq!(
            row_problems("a,Plug.LAN,,,,,,,\nb,plug.lan:9999,,,,,,,\nc,plug.lan:80,,,,,,,\n"),
            one(3, "duplicate host \"plug.lan:9999\" (first on line 2)")
        );
        assert_eq!(
            row_problems("a,[::1]:9999,,,,,,,\nb,0:0:0:0:0:0:0:1,,,,,,,\n"),
            one(3, "duplicate host \"0:0:0:0:0:0:0:1\" (first on line 2)")
        );
    }

    #[test]
    fn bad_ports_quote_the_port_and_the_host() {
        assert_eq!(
            row_problems("plug-1,10.0.0.1:70000,,,,,,,\n"),
            one(
                2,
                "bad port \"70000\" in host \"10.0.0.1:70000\": must be 1-65535"
            )
        );
    }

    #[test]
    fn bad_hosts_say_why() {
        assert_eq!(
            row_problems("plug-1,plug_1.lan,,,,,,,\n"),
            one(
                2,
                "bad host \"plug_1.lan\": a host name has only letters, digits, hyphens and dots"
            )
        );
    }

    #[test]
    fn hosts_that_cannot_be_one_device_are_refused_with_the_reason() {
        use crate::inventory::host::reasons;
        for (host, reason) in [
            ("0.0.0.0", reasons::UNSPECIFIED),
            ("0.0.0.0:9999", reasons::UNSPECIFIED),
            ("::", reasons::UNSPECIFIED),
            ("[::]:80", reasons::UNSPECIFIED),
            ("0.1.2.3", reasons::THIS_NETWORK),
            ("255.255.255.255", reasons::LIMITED_BROADCAST),
            ("::ffff:255.255.255.255", reasons::LIMITED_BROADCAST),
            ("224.0.0.251", reasons::MULTICAST),
            ("239.255.255.250", reasons::MULTICAST),
            ("ff02::1", reasons::MULTICAST),
            ("240.0.0.1", reasons::RESERVED),
            ("10.0.0.0", reasons::NETWORK_OCTET),
            ("192.168.1.255:9999", reasons::BROADCAST_OCTET),
            ("::ffff:0.0.0.0", reasons::UNSPECIFIED),
            ("::ffff:224.0.0.1", reasons::MULTICAST),
            ("::ffff:10.0.0.255", reasons::BROADCAST_OCTET),
        ] {
            assert_eq!(
                row_problems(&format!("plug-1,\"{host}\",,,,,,,\n")),
                one(2, &format!("bad host \"{host}\": {reason}")),
                "{host}"
            );
        }
    }

    #[test]
    fn loopback_and_ordinary_unicast_hosts_are_accepted() {
        assert_eq!(
            row_problems(
                "a,127.0.0.1,,,,,,,\nb,127.31.7.254:9999,,,,,,,\nc,10.1.0.1,,,,,,,\n\
                 d,::1,,,,,,,\ne,fe80::1,,,,,,,\nf,::ffff:192.168.1.20,,,,,,,\ng,plug.lan,,,,,,,\n"
            ),
            []
        );
    }

    #[test]
    fn a_refused_host_is_not_also_reported_as_a_duplicate() {
        assert_eq!(
            row_problems("a,0.0.0.0,,,,,,,\nb,0.0.0.0,,,,,,,\n"),
            vec![
                (
                    2,
                    format!(
                        "bad host \"0.0.0.0\": {}",
                        crate::inventory::host::reasons::UNSPECIFIED
                    )
                ),
                (
                    3,
                    format!(
                        "bad host \"0.0.0.0\": {}",
                        crate::inventory::host::reasons::UNSPECIFIED
                    )
                ),
            ]
        );
    }

    #[test]
    fn macs_that_identify_no_device_are_refused_with_the_reason() {
        use crate::inventory::mac::reasons;
        for (mac, reason) in [
            ("00:00:00:00:00:00", reasons::ALL_ZEROS),
            ("ffffffffffff", reasons::BROADCAST),
            ("01-00-5e-00-00-fb", reasons::GROUP),
        ] {
            assert_eq!(
                row_problems(&format!("plug-1,10.0.0.1,,{mac},,,,,\n")),
                one(2, &format!("MAC \"{mac}\" identifies no device: {reason}")),
                "{mac}"
            );
        }
    }

    #[test]
    fn malformed_macs_quote_the_value() {
        assert_eq!(
            row_problems("plug-1,10.0.0.1,,50:C7:BF:0A:B1,,,,,\n"),
            one(
                2,
                "malformed MAC \"50:C7:BF:0A:B1\": expected AA:BB:CC:DD:EE:FF, aa-bb-cc-dd-ee-ff \
                 or 12 hex digits"
            )
        );
    }

    #[test]
    fn duplicate_macs_name_both_lines_whatever_their_spelling() {
        assert_eq!(
            row_problems("a,10.0.0.1,,50:C7:BF:0A:B1:FE,,,,,\nb,10.0.0.2,,50c7bf0ab1fe,,,,,\n"),
            one(3, "duplicate MAC 50:C7:BF:0A:B1:FE (first on line 2)")
        );
    }

    #[test]
    fn bad_power_via_outlets_are_reported() {
        assert_eq!(
            row_problems("strip,10.0.0.1,,,,,,,\nlamp,10.0.0.2,,,,,strip#0,,\n"),
            one(
                3,
                "bad power_via \"strip#0\": the outlet after # must be a number from 1 to 16"
            )
        );
    }

    #[test]
    fn wrong_field_counts_say_expected_and_found() {
        assert_eq!(
            row_problems("plug-1,10.0.0.1\nplug-2,10.0.0.2,,,,,,,,\n"),
            vec![
                (
                    2,
                    "expected 9 fields, as in the header on line 1, found 2".to_string()
                ),
                (
                    3,
                    "expected 9 fields, as in the header on line 1, found 10".to_string()
                ),
            ]
        );
    }

    #[test]
    fn long_values_are_quoted_short() {
        let long = "z".repeat(5000);
        let expected = format!("malformed MAC \"{}\"...: ", "z".repeat(60));
        let found = row_problems(&format!("plug-1,10.0.0.1,,{long},,,,,\n"));
        assert_eq!(found.len(), 1);
        assert!(found[0].1.starts_with(&expected), "{}", found[0].1);
        assert!(found[0].1.len() < 200);
    }

    #[test]
    fn every_problem_of_a_row_is_reported() {
        assert_eq!(
            row_problems(",bad_host,,xx,,,#3,,\n"),
            vec![
                (2, "empty id".to_string()),
                (
                    2,
                    "bad host \"bad_host\": a host name has only letters, digits, hyphens and dots"
                        .to_string()
                ),
                (
                    2,
                    "malformed MAC \"xx\": expected AA:BB:CC:DD:EE:FF, aa-bb-cc-dd-ee-ff or 12 \
                     hex digits"
                        .to_string()
                ),
                (
                    2,
                    "bad power_via \"#3\": no device id before the #".to_string()
                ),
            ]
        );
    }
}
