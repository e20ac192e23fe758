//! The CSV inventory: one row per device.
//!
//! Public API (other modules depend on it; keep it stable):
//! - [`load`] reads a file, [`parse`] validates bytes; both return every problem at once.
//! - [`Device`] is one validated row; [`Host`] and [`MacAddr`] are its typed fields.
//! - [`unicast_problem`] (also [`Host::unicast_problem`]) says why an address can't be one
//!   device's, [`MacAddr::is_device_identity`] whether a MAC can name one device. Rows failing
//!   either are refused; both are public so that what a host name resolves to, and what a
//!   device reports, can be held to the same rules.
//!
//! # Layout
//! - `encoding`: byte-level checks before any CSV parsing (BOM, line endings, UTF-8).
//! - `reader`: the one `csv::Reader`, turning bytes into records with their true line numbers.
//! - `quoting`: finds broken quoting that the lenient CSV parser would silently accept.
//! - `header`: the header row → column positions.
//! - `validate`: one record → [`Device`], plus duplicate ids, hosts and MACs.
//! - `links`: `power_via` references between rows.
//! - `host`, `mac`, `power`, `protocol`, `device_id`: the typed fields and their parsers.
//! - `rules`: what an action refuses of an inventory that is valid on its own (a factory reset
//!   of rows without a MAC), for `check --action`, `plan` and `run` alike.
//! - `errors`: how problems are printed.

mod device_id;
mod encoding;
mod errors;
mod header;
mod host;
mod links;
mod mac;
mod parse;
mod power;
mod protocol;
mod quoting;
mod reader;
pub mod rules;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use device_id::{MAX_DEVICE_ID_DIGITS, device_id_problem};
pub use host::{HostError, reasons as unicast_reasons, unicast_problem};
pub use mac::reasons as identity_reasons;
pub use power::{MAX_OUTLET, PowerViaError};
pub use protocol::{ProtocolChoice, ProtocolChoiceError};

/// A validated inventory.
#[derive(Debug, Clone)]
pub struct Inventory {
    pub path: PathBuf,
    pub devices: Vec<Device>,
}

/// One inventory row.
#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    /// 1-based line of the record in the file.
    pub line: u64,
    pub id: String,
    pub host: Host,
    pub model: Option<String>,
    pub mac: Option<MacAddr>,
    pub site: Option<String>,
    pub unit: Option<String>,
    pub power_via: Option<PowerVia>,
    pub credentials: Option<String>,
    /// `protocol` column; [`ProtocolChoice::Auto`] when absent or empty.
    pub protocol: ProtocolChoice,
    /// `device_id` column: hex digits, as the device reports its id.
    pub device_id: Option<String>,
    pub notes: Option<String>,
    /// Columns the inventory has beyond the known ones, by header name (lower-cased), kept so
    /// that nothing the user wrote is lost. The simulator reads `sim_fault` from here.
    pub extra: BTreeMap<String, String>,
}

impl Device {
    /// A row with only an id and a host (an IP or name, no port), on line 2: for building
    /// rows in code, mostly in tests, with `..Device::bare(…)` for the rest.
    pub fn bare(id: &str, host: &str) -> Device {
        Device {
            line: 2,
            id: id.to_owned(),
            host: Host {
                name: host.to_owned(),
                port: None,
            },
            model: None,
            mac: None,
            site: None,
            unit: None,
            power_via: None,
            credentials: None,
            protocol: ProtocolChoice::Auto,
            device_id: None,
            notes: None,
            extra: BTreeMap::new(),
        }
    }
}

/// `host` column: an IP address or host name, with an optional port.
///
/// `name` holds an IPv6 address without its brackets (`::1`, not `[::1]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub name: String,
    pub port: Option<u16>,
}

/// `power_via` column: the row id of the plug or strip that powers this device, and for a
/// strip the 1-based outlet number (`strip-3#2`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PowerVia {
    pub id: String,
    pub outlet: Option<u16>,
}

/// A 48-bit MAC address. Parses `AA:BB:CC:DD:EE:FF`, `aa-bb-cc-dd-ee-ff` and `AABBCCDDEEFF`;
/// displays as upper-case with colons. Any 48 bits parse; whether they can be a device's
/// identity is [`MacAddr::is_device_identity`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacAddr(pub [u8; 6]);

/// One problem in an inventory file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    pub message: String,
}

/// Every problem found in an inventory file. Display prints one `FILE:LINE: message` per line.
#[derive(Debug, Clone)]
pub struct InventoryErrors {
    pub path: PathBuf,
    pub errors: Vec<RowError>,
}

/// Why an inventory could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    // The OS reason is the source, not part of the message: `{:#}` prints the whole chain, and
    // repeating it here would print it twice.
    #[error("cannot read inventory {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(InventoryErrors),
}

/// Reads and validates an inventory file.
pub fn load(path: &Path) -> Result<Inventory, LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &bytes).map_err(LoadError::Invalid)
}

/// Validates inventory bytes; `path` is only used in messages.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Inventory, InventoryErrors> {
    parse::parse(path, bytes)
}
