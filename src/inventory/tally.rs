//! What `check` says of a clean inventory, for a file read without keeping its rows: a
//! million-row file is checked in the memory of its duplicate keys, not of a million devices.

use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;

use super::{Device, Location, RowError};

/// The valid rows of an inventory, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub devices: usize,
    /// Distinct `site` values.
    pub sites: usize,
    /// Rows with a `power_via`.
    pub powered: usize,
}

impl Tally {
    /// The tally of rows already kept.
    pub fn of(devices: &[Device]) -> Tally {
        let sites: HashSet<&str> = devices.iter().filter_map(|d| d.site.as_deref()).collect();
        Tally {
            devices: devices.len(),
            sites: sites.len(),
            powered: devices.iter().filter(|d| d.power_via.is_some()).count(),
        }
    }
}

/// A clean inventory, checked: [`check_with`](super::check_with) of a file.
#[derive(Debug, Clone)]
pub struct Checked {
    pub path: PathBuf,
    /// The sheet the rows came from, for a workbook; `None` for CSV.
    pub sheet: Option<String>,
    pub tally: Tally,
    /// What the file got away with, as [`Inventory::warnings`](super::Inventory::warnings).
    pub warnings: Vec<RowError>,
}

impl Checked {
    /// `FILE`, or `FILE[SHEET]` for a workbook.
    pub fn location(&self) -> impl fmt::Display + '_ {
        Location {
            path: &self.path,
            sheet: self.sheet.as_deref(),
        }
    }

    /// Each warning as `LOCATION:LINE: warning: message`.
    pub fn warning_lines(&self) -> impl Iterator<Item = String> + '_ {
        self.warnings
            .iter()
            .map(|w| format!("{}:{}: warning: {}", self.location(), w.line, w.message))
    }
}
