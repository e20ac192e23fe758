//! Bytes → a validated [`Inventory`], or every problem in the file at once: [`csv`] for CSV
//! text, [`workbook`] for a sheet; both end in the same header and row checks.

use std::path::Path;

use super::options::{Encoding, Format, ReadOptions};
use super::reader::Record;
use super::validate::{Kept, Validator};
use super::{
    Checked, Inventory, InventoryErrors, LoadError, RowError, delimiter, encoding, header, reader,
    workbook,
};

/// A file read and checked: what was kept of its valid rows, and how it was read.
pub(super) struct Parsed {
    path: std::path::PathBuf,
    sheet: Option<String>,
    kept: Kept,
    warnings: Vec<RowError>,
    read: ReadOptions,
}

impl Parsed {
    pub(super) fn inventory(self) -> Inventory {
        Inventory {
            path: self.path,
            sheet: self.sheet,
            devices: match self.kept {
                Kept::Devices(devices) => devices,
                Kept::Tally(_) => unreachable!("an inventory is read keeping its devices"),
            },
            warnings: self.warnings,
            read: self.read,
        }
    }

    pub(super) fn checked(self) -> Checked {
        let tally = match self.kept {
            Kept::Tally(tally) => tally,
            Kept::Devices(devices) => super::Tally::of(&devices),
        };
        Checked {
            path: self.path,
            sheet: self.sheet,
            tally,
            warnings: self.warnings,
        }
    }
}

/// Reads CSV bytes into an [`Inventory`].
pub(super) fn csv(
    path: &Path,
    bytes: &[u8],
    options: &ReadOptions,
) -> Result<Inventory, InventoryErrors> {
    csv_kept(path, bytes, options, true).map(Parsed::inventory)
}

/// Reads CSV bytes: decoded, the delimiter given or detected, then checked row by row; the
/// valid rows are kept as devices when `keep` says so, else counted.
pub(super) fn csv_kept(
    path: &Path,
    bytes: &[u8],
    options: &ReadOptions,
    keep: bool,
) -> Result<Parsed, InventoryErrors> {
    let decoded = encoding::decode(bytes, options.encoding);
    let mut errors = decoded.errors;
    let found = match options.delimiter {
        Some(d) => Ok(d),
        None => delimiter::detect(&decoded.body),
    };
    let mut kept = Kept::empty(keep);
    let mut used = None;
    match found {
        Ok(d) => {
            used = Some(d);
            let forced = options.delimiter.is_some();
            // A row per line at most, a guess to size the tables by.
            let lines = decoded.body.iter().filter(|&&b| b == b'\n').count() + 1;
            kept = checked(
                reader::records(&decoded.body, d),
                lines,
                &mut errors,
                "the file is empty or has only comments",
                |header| delimiter::hint(&header.fields, d, forced),
                keep,
            );
        }
        Err(error) => errors.push(error),
    }
    let read = ReadOptions {
        delimiter: used,
        ..options.clone()
    };
    finish(path, None, kept, errors, decoded.warnings, read)
}

/// Reads the sheet of a workbook.
pub(super) fn workbook(
    path: &Path,
    bytes: &[u8],
    format: Format,
    options: &ReadOptions,
    keep: bool,
) -> Result<Parsed, LoadError> {
    let sheet = workbook::read(bytes, format, options.sheet.as_deref()).map_err(|source| {
        LoadError::Workbook {
            path: path.to_path_buf(),
            source,
        }
    })?;
    let mut errors = Vec::new();
    let rows = sheet.records.len();
    let kept = checked(
        sheet.records.into_iter(),
        rows,
        &mut errors,
        "the sheet is empty or has only comments",
        |_| None,
        keep,
    );
    let read = ReadOptions {
        delimiter: None,
        encoding: Encoding::Auto,
        sheet: Some(sheet.name.clone()),
    };
    finish(path, Some(sheet.name), kept, errors, Vec::new(), read).map_err(LoadError::Invalid)
}

/// The header, then every row checked against it; problems go to `errors`. `hint` may add a
/// word on a header without the required columns. `rows` is about how many records there are.
fn checked(
    mut records: impl Iterator<Item = Result<Record, RowError>>,
    rows: usize,
    errors: &mut Vec<RowError>,
    empty: &str,
    hint: impl Fn(&Record) -> Option<String>,
    keep: bool,
) -> Kept {
    match records.next() {
        None => {
            errors.push(RowError {
                line: 1,
                message: format!(
                    "no header row: {empty}; the first row must name the columns, at least id \
                     and host"
                ),
            });
            Kept::empty(keep)
        }
        // Without the header's columns no row can be checked.
        Some(Err(error)) => {
            errors.push(error);
            Kept::empty(keep)
        }
        Some(Ok(header)) => {
            let (columns, header_errors) = header::columns(&header);
            errors.extend(header_errors);
            let Some(columns) = columns else {
                errors.extend(hint(&header).map(|message| RowError {
                    line: header.line,
                    message,
                }));
                return Kept::empty(keep);
            };
            let mut validator = Validator::new(&columns, keep, rows);
            for record in records {
                match record {
                    Ok(record) => validator.row(&record),
                    Err(error) => validator.unreadable(error),
                }
            }
            let (kept, row_errors) = validator.finish();
            errors.extend(row_errors);
            kept
        }
    }
}

fn finish(
    path: &Path,
    sheet: Option<String>,
    kept: Kept,
    mut errors: Vec<RowError>,
    warnings: Vec<RowError>,
    read: ReadOptions,
) -> Result<Parsed, InventoryErrors> {
    if errors.is_empty() {
        return Ok(Parsed {
            path: path.to_path_buf(),
            sheet,
            kept,
            warnings,
            read,
        });
    }
    // Stable: problems on one line keep the order they were found in.
    errors.sort_by_key(|error| error.line);
    Err(InventoryErrors {
        path: path.to_path_buf(),
        sheet,
        errors,
        warnings,
    })
}

/// The problems `parse` finds in `bytes`, as (line, message); for tests across the module.
#[cfg(test)]
pub(super) fn problems(bytes: &[u8]) -> Vec<(u64, String)> {
    match csv(Path::new("inv.csv"), bytes, &ReadOptions::default()) {
        Ok(_) => Vec::new(),
        Err(errors) => errors
            .errors
            .into_iter()
            .map(|e| (e.line, e.message))
            .collect(),
    }
}

#[cfg(test)]
mod tests;
