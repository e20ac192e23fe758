//! The inventory: one row per device, in a CSV file or a workbook's sheet.
//!
//! Public API (other modules depend on it; keep it stable):
//! - [`load`] reads a file, [`parse`] validates CSV bytes; both return every problem at once.
//!   [`load_with`] and [`parse_with`] take [`ReadOptions`] and read workbooks too (by the
//!   file's extension, [`Format::of`]).
//! - [`check_with`] validates a file without keeping its rows: its [`Checked`] [`Tally`].
//! - [`Device`] is one validated row; [`Host`] and [`MacAddr`] are its typed fields.
//! - [`unicast_problem`] (also [`Host::unicast_problem`]) says why an address can't be one
//!   device's, [`MacAddr::is_device_identity`] whether a MAC can name one device. Rows failing
//!   either are refused; both are public so that what a host name resolves to, and what a
//!   device reports, can be held to the same rules.
//!
//! # Layout
//! - `options`: [`ReadOptions`], [`Format`]: how a file is read.
//! - `encoding`: bytes → UTF-8 before any CSV parsing (BOM, Windows-1252, bare CR).
//! - `delimiter`: `,` `;` or tab, detected from the header row.
//! - `reader`: the one `csv::Reader`, turning bytes into records with their true line numbers.
//! - `quoting`: finds broken quoting that the lenient CSV parser would silently accept.
//! - `workbook`, `cell`: an `.xlsx`/`.ods` sheet → the same records, numbered by sheet row.
//! - `layout`: a sheet's hidden rows and (`.ods`) merged cells, which calamine doesn't read.
//! - `header`: the header row → column positions.
//! - `validate`: one record → [`Device`], plus duplicate ids, hosts and MACs.
//! - `first_seen`: the duplicate finder, each key kept once, compactly.
//! - `tally`: [`Tally`], [`Checked`]: what `check` says of valid rows it doesn't keep.
//! - `links`: `power_via` references between rows.
//! - `host`, `mac`, `power`, `protocol`, `device_id`: the typed fields and their parsers.
//! - `rules`: what an action refuses of an inventory that is valid on its own (a factory reset
//!   of rows without a MAC), for `check --action`, `plan` and `run` alike.
//! - `sniff`: files that are no inventory, told by their first bytes (`.xls`, UTF-16).
//! - `errors`: how problems are printed.
//! - `table`: any other table a person fills in (a returned work-order checklist), read by the
//!   same readers without validating its rows as devices.

mod cell;
mod delimiter;
mod device_id;
mod encoding;
mod errors;
mod first_seen;
mod header;
mod host;
mod layout;
mod links;
mod mac;
mod options;
mod parse;
mod power;
mod protocol;
mod quoting;
mod reader;
pub mod rules;
mod sniff;
mod table;
mod tally;
mod validate;
mod workbook;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub use device_id::{MAX_DEVICE_ID_DIGITS, device_id_problem};
pub use host::{HostError, reasons as unicast_reasons, unicast_problem};
pub use mac::reasons as identity_reasons;
pub use options::{
    Encoding, Format, OptionError, ReadOptions, parse_delimiter, shown as shown_delimiter,
};
pub use power::{MAX_OUTLET, PowerViaError};
pub use protocol::{ProtocolChoice, ProtocolChoiceError};
pub use table::{Table, read_table};
pub use tally::{Checked, Tally};
pub use workbook::WorkbookError;

/// A validated inventory.
#[derive(Debug, Clone)]
pub struct Inventory {
    pub path: PathBuf,
    /// The sheet the rows came from, for a workbook; `None` for CSV.
    pub sheet: Option<String>,
    pub devices: Vec<Device>,
    /// What the file got away with: the Windows-1252 fallback. Commands print them on
    /// stderr ([`Inventory::warning_lines`]); the library prints nothing.
    pub warnings: Vec<RowError>,
    /// How the file was read: the options given, with the delimiter and sheet as found. Reading
    /// the same bytes with these gives the same rows; a run stores them for `resume`.
    pub read: ReadOptions,
}

impl Inventory {
    /// `FILE`, or `FILE[SHEET]` for a workbook: what every `LOCATION:LINE: message` starts
    /// with.
    pub fn location(&self) -> impl fmt::Display + '_ {
        Location {
            path: &self.path,
            sheet: self.sheet.as_deref(),
        }
    }

    /// `errors` as problems of this file (rules checked after loading), printed like the
    /// loader's own.
    pub fn errors(&self, errors: Vec<RowError>) -> InventoryErrors {
        InventoryErrors {
            path: self.path.clone(),
            sheet: self.sheet.clone(),
            errors,
            warnings: Vec::new(),
        }
    }

    /// Each warning as `LOCATION:LINE: warning: message`.
    pub fn warning_lines(&self) -> impl Iterator<Item = String> + '_ {
        self.warnings
            .iter()
            .map(|w| format!("{}:{}: warning: {}", self.location(), w.line, w.message))
    }
}

/// `FILE` or `FILE[SHEET]`.
struct Location<'a> {
    path: &'a Path,
    sheet: Option<&'a str>,
}

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        match self.sheet {
            Some(sheet) => write!(f, "[{}]", crate::inert::Inert(sheet)),
            None => Ok(()),
        }
    }
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
    /// `method` column: how this device is to get the action when the run's `--method` is
    /// `auto`; [`MethodChoice::Auto`] when absent or empty.
    pub method: crate::model::MethodChoice,
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
            method: crate::model::MethodChoice::Auto,
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

/// Every problem found in an inventory file. Display prints one `FILE:LINE: message` per line
/// (`FILE[SHEET]:ROW: message` for a workbook), with the warnings among them in line order as
/// `FILE:LINE: warning: message`.
#[derive(Debug, Clone)]
pub struct InventoryErrors {
    pub path: PathBuf,
    /// The sheet, for a workbook; `None` for CSV.
    pub sheet: Option<String>,
    pub errors: Vec<RowError>,
    /// Not problems, but worth reading beside them (text read as Windows-1252, say).
    pub warnings: Vec<RowError>,
}

impl InventoryErrors {
    /// `FILE` or `FILE[SHEET]`.
    pub fn location(&self) -> impl fmt::Display + '_ {
        Location {
            path: &self.path,
            sheet: self.sheet.as_deref(),
        }
    }
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
    /// An option that doesn't fit the file's format (`--sheet` for a CSV file, say).
    #[error(transparent)]
    Options(#[from] OptionError),
    #[error("cannot read inventory {path}")]
    Workbook {
        path: PathBuf,
        #[source]
        source: WorkbookError,
    },
}

/// Reads and validates an inventory file with the default options.
pub fn load(path: &Path) -> Result<Inventory, LoadError> {
    load_with(path, &ReadOptions::default())
}

/// Reads and validates an inventory file, CSV or workbook by its extension.
pub fn load_with(path: &Path, options: &ReadOptions) -> Result<Inventory, LoadError> {
    let bytes = read(path)?;
    parse_with(path, &bytes, options)
}

/// Validates an inventory file as [`load_with`] does, with the same problems, keeping only a
/// [`Tally`] of its valid rows.
pub fn check_with(path: &Path, options: &ReadOptions) -> Result<Checked, LoadError> {
    let bytes = read(path)?;
    parse_kept(path, &bytes, options, false).map(parse::Parsed::checked)
}

fn read(path: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The rows of a workbook's sheet (`sheet`, or the first visible one) as text, header first, each with its
/// sheet row number; comment rows, empty rows and rows with problems are left out. For writing
/// a workbook inventory out as CSV (`discover --update`); validate it first with
/// [`parse_with`].
pub fn sheet_rows(
    path: &Path,
    bytes: &[u8],
    sheet: Option<&str>,
) -> Result<Vec<(u64, Vec<String>)>, LoadError> {
    let read =
        workbook::read(bytes, Format::of(path), sheet).map_err(|source| LoadError::Workbook {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(read
        .records
        .into_iter()
        .flatten()
        .map(|r| (r.line, r.fields))
        .collect())
}

/// Validates CSV inventory bytes with the default options, whatever `path` is called; `path`
/// is only used in messages.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Inventory, InventoryErrors> {
    parse::csv(path, bytes, &ReadOptions::default())
}

/// Validates the bytes of the inventory file `path`: a workbook or CSV by its extension
/// ([`Format::of`]), read as `options` say.
pub fn parse_with(
    path: &Path,
    bytes: &[u8],
    options: &ReadOptions,
) -> Result<Inventory, LoadError> {
    parse_kept(path, bytes, options, true).map(parse::Parsed::inventory)
}

/// [`parse_with`], keeping the valid rows as devices when `keep` says so, else counting them.
fn parse_kept(
    path: &Path,
    bytes: &[u8],
    options: &ReadOptions,
    keep: bool,
) -> Result<parse::Parsed, LoadError> {
    let format = Format::of(path);
    options.check(path, format)?;
    if let Some(what) = sniff::problem(bytes, format) {
        return Err(LoadError::Invalid(InventoryErrors {
            path: path.to_path_buf(),
            sheet: None,
            errors: vec![RowError {
                line: 1,
                message: format!("the file is {what}"),
            }],
            warnings: Vec::new(),
        }));
    }
    if format.is_workbook() {
        parse::workbook(path, bytes, format, options, keep)
    } else {
        parse::csv_kept(path, bytes, options, keep).map_err(LoadError::Invalid)
    }
}
