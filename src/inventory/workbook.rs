//! `.xlsx` and `.ods` inventories: one sheet's rows → the same [`Record`]s the CSV reader
//! gives, numbered as the spreadsheet numbers its rows, so the same validator checks them.
//!
//! The sheet is read as a person sees it: cells as displayed ([`cell::text`]), formulas by
//! their cached value, empty rows and trailing empty columns left out, and a row whose first
//! cell starts with `#` a comment, as a CSV line is. A formula without a cached value (files
//! written by programs that compute nothing, openpyxl's) is a problem, never an empty cell: a
//! spreadsheet program would show a value there, and a MAC read as empty is an identity check
//! silently dropped. Where what a person sees and what the cells hold part ways, the row is a
//! problem too: a hidden or filtered-out row, and cells merged over a value ([`layout`]).

use std::collections::HashMap;
use std::io::Cursor;

use calamine::{
    Data, Dimensions, Ods, OdsError, Range, Reader, SheetType, SheetVisible, Xlsx, XlsxError,
    open_workbook_from_rs,
};

use super::RowError;
use super::cell::{self, column_name};
use super::errors::quoted;
use super::layout::{self, Layout};
use super::options::Format;
use super::reader::{MAX_FIELD_BYTES, Record};

/// One sheet's rows, read.
pub(super) struct Sheet {
    pub name: String,
    /// In sheet order, header first: `Ok` for a usable row, `Err` for one holding an error
    /// cell or a value outside the header's columns.
    pub records: Vec<Result<Record, RowError>>,
}

/// Why a workbook gave no rows.
#[derive(Debug, thiserror::Error)]
pub enum WorkbookError {
    // calamine's messages already hold their causes' (`Xlsx error: Zip error: …`), so the
    // cause is kept as text: as a source, `{:#}` would print each cause three times.
    #[error("not {}, or a damaged one (a CSV file named so?): {detail}", .format.name())]
    Unreadable { format: Format, detail: String },
    #[error("no sheet is named {}; the sheets are {}", quoted(.sheet), listed(.sheets))]
    NoSuchSheet { sheet: String, sheets: Vec<String> },
    #[error("the workbook has no sheets")]
    NoSheets,
    #[error(
        "the workbook has no visible worksheet (its sheets: {}); pass --sheet NAME to read one",
        listed(.sheets)
    )]
    NoVisibleSheet { sheets: Vec<String> },
    #[error("cannot read sheet {}: {detail}", quoted(.sheet))]
    Sheet { sheet: String, detail: String },
}

/// Reads the sheet named `sheet`, or the first visible worksheet, from the bytes of a workbook
/// in `format`. A hidden sheet is never the default: it is not what a person opening the
/// workbook sees as its first sheet (an old list hidden rather than deleted, say).
pub(super) fn read(
    bytes: &[u8],
    format: Format,
    sheet: Option<&str>,
) -> Result<Sheet, WorkbookError> {
    let unreadable = |e: calamine::Error| WorkbookError::Unreadable {
        format,
        detail: e.to_string(),
    };
    let cursor = Cursor::new(bytes);
    match format {
        Format::Ods => {
            let mut book: Ods<_> =
                open_workbook_from_rs(cursor).map_err(|e: OdsError| unreadable(e.into()))?;
            read_sheet(&mut book, sheet, |_, name| {
                layout::ods(bytes, name).map_err(|detail| WorkbookError::Sheet {
                    sheet: name.to_string(),
                    detail,
                })
            })
        }
        // Format::Csv never comes here; reading it as .xlsx fails with a clear message anyway.
        Format::Xlsx | Format::Csv => {
            let mut book: Xlsx<_> =
                open_workbook_from_rs(cursor).map_err(|e: XlsxError| unreadable(e.into()))?;
            read_sheet(&mut book, sheet, |book, name| {
                let detail = |detail: String| WorkbookError::Sheet {
                    sheet: name.to_string(),
                    detail,
                };
                Ok(Layout {
                    merged: book
                        .merge_cells_by_sheet_name(name)
                        .map_err(|e| detail(e.to_string()))?,
                    hidden_rows: layout::xlsx_hidden_rows(bytes, name).map_err(detail)?,
                })
            })
        }
    }
}

/// `layout` reads the [`Layout`] of the sheet it is given the name of.
fn read_sheet<RS, R>(
    book: &mut R,
    sheet: Option<&str>,
    layout: impl FnOnce(&mut R, &str) -> Result<Layout, WorkbookError>,
) -> Result<Sheet, WorkbookError>
where
    RS: std::io::Read + std::io::Seek,
    R: Reader<RS>,
    R::Error: Into<calamine::Error>,
{
    let sheets = book.sheet_names();
    let name = match sheet {
        Some(wanted) => sheets
            .iter()
            .find(|s| s.as_str() == wanted)
            .cloned()
            .ok_or_else(|| WorkbookError::NoSuchSheet {
                sheet: wanted.to_string(),
                sheets: sheets.clone(),
            })?,
        None => first_visible(book.sheets_metadata())?,
    };
    let unreadable = |e: R::Error| WorkbookError::Sheet {
        sheet: name.clone(),
        detail: e.into().to_string(),
    };
    let mut range = book.worksheet_range(&name).map_err(unreadable)?;
    let formulas = book.worksheet_formula(&name).map_err(unreadable)?;
    let uncached = uncached(&mut range, &formulas);
    let layout = layout(book, &name)?;
    // A merged cell with nothing in it reads as what it shows: empty cells.
    let merged: Vec<Dimensions> = layout
        .merged
        .iter()
        .copied()
        .filter(|region| {
            region.start != region.end
                && range.get_value(region.start).is_some_and(|c| !is_blank(c))
        })
        .collect();
    let (first_row, first_column) = range.start().unwrap_or((0, 0));
    let rows = range.rows().zip(u64::from(first_row) + 1..);
    let records = records(rows, first_column as usize, &uncached, &merged, &|row| {
        layout.is_hidden(row)
    });
    Ok(Sheet { name, records })
}

/// Formulas without a cached value, by 0-based (row, column), the text without its `=`.
/// `range` grows to hold their cells: a value range can end before a column of them.
type Uncached = HashMap<(u32, u32), String>;

fn uncached(range: &mut Range<Data>, formulas: &Range<String>) -> Uncached {
    let mut found = Uncached::new();
    let (r0, c0) = formulas.start().unwrap_or((0, 0));
    for (row, column, formula) in formulas.used_cells() {
        let at = (r0 + row as u32, c0 + column as u32);
        match range.get_value(at) {
            Some(value) if !matches!(value, Data::Empty) => {}
            None => {
                range.set_value(at, Data::Empty);
                found.insert(at, formula.clone());
            }
            Some(_) => {
                found.insert(at, formula.clone());
            }
        }
    }
    found
}

/// The first worksheet a person sees: not hidden, and not a chart sheet.
fn first_visible(sheets: &[calamine::Sheet]) -> Result<String, WorkbookError> {
    if sheets.is_empty() {
        return Err(WorkbookError::NoSheets);
    }
    sheets
        .iter()
        .find(|s| s.visible == SheetVisible::Visible && s.typ == SheetType::WorkSheet)
        .map(|s| s.name.clone())
        .ok_or_else(|| WorkbookError::NoVisibleSheet {
            sheets: sheets.iter().map(|s| s.name.clone()).collect(),
        })
}

/// Rows (cells, 1-based row number) → records. `first_column` is the 0-based column of each
/// row's first cell, for messages.
fn records<'a>(
    rows: impl Iterator<Item = (&'a [Data], u64)>,
    first_column: usize,
    uncached: &Uncached,
    merged: &[Dimensions],
    hidden: &dyn Fn(u32) -> bool,
) -> Vec<Result<Record, RowError>> {
    let mut header: Option<Vec<String>> = None;
    let mut out = Vec::new();
    for (cells, line) in rows {
        // Sheet rows are numbered from 1 and columns from `first_column`: both fit a u32.
        let formula = |i: usize| uncached.get(&((line - 1) as u32, (first_column + i) as u32));
        let width = (0..cells.len())
            .rposition(|i| !is_blank(&cells[i]) || formula(i).is_some())
            .map_or(0, |last| last + 1);
        if width == 0 || matches!(cell::text(&cells[0]), Ok(t) if t.trim_start().starts_with('#')) {
            continue;
        }
        // A merged cell shows its value across its cells, but holds it in the first only: read
        // so, the rows below a merged site (or MAC) would have none, silently.
        let at = (line - 1) as u32;
        if hidden(at) {
            out.push(Err(RowError {
                line,
                message: format!(
                    "row {line} is hidden (or filtered out): whoever reads the sheet does not see \
                     it; unhide it, delete it, or make it a comment by starting its first cell \
                     with #"
                ),
            }));
            continue;
        }
        if let Some(region) = merged.iter().find(|r| (r.start.0..=r.end.0).contains(&at)) {
            out.push(Err(RowError {
                line,
                message: format!(
                    "cells {} are merged: their value shows across them but is in {} only; \
                     unmerge them and type the value in each cell",
                    cells_name(region),
                    cell_name(region.start)
                ),
            }));
            continue;
        }
        let names = header.as_deref();
        let row = row(&cells[..width], line, first_column, names, &formula);
        if let (None, Ok(record)) = (names, &row) {
            header = Some(record.fields.clone());
        }
        out.push(row);
    }
    out
}

/// One row's record: its cells up to the header's width (the header's own, for the header),
/// each as text and trimmed as CSV fields are.
fn row<'f>(
    cells: &[Data],
    line: u64,
    first_column: usize,
    header: Option<&[String]>,
    formula: &dyn Fn(usize) -> Option<&'f String>,
) -> Result<Record, RowError> {
    let problem = |message: String| Err(RowError { line, message });
    let column = |i: usize| match header.and_then(|h| h.get(i)).filter(|n| !n.is_empty()) {
        Some(name) => format!(
            "cell {}{line} ({})",
            column_name(first_column + i),
            quoted(&name.to_lowercase())
        ),
        None => format!("cell {}{line}", column_name(first_column + i)),
    };
    let width = header.map_or(cells.len(), <[String]>::len);
    if let Some(f) = (0..cells.len()).find_map(|i| formula(i).map(|f| (i, f))) {
        let (i, f) = f;
        return problem(format!(
            "{} holds the formula {} but no value computed for it (the file was written by a \
             program that computes nothing); open and save it in a spreadsheet program, or \
             type the value",
            column(i),
            // An .ods formula reads `of:=[.A1]`: its namespace and `=` are not what is typed.
            quoted(&format!(
                "={}",
                f.strip_prefix("of:").unwrap_or(f).trim_start_matches('=')
            ))
        ));
    }
    if let Some(i) = (width..cells.len()).find(|&i| !is_blank(&cells[i])) {
        return problem(format!(
            "{} holds {}, but the header row names no column there; name the column in the \
             header row, or clear the cell",
            column(i),
            match cell::text(&cells[i]) {
                Ok(text) => quoted(&text),
                Err(e) => format!("the error #{e}"),
            }
        ));
    }
    let mut fields = Vec::with_capacity(width);
    for (i, c) in cells.iter().take(width).enumerate() {
        match cell::text(c) {
            Ok(text) if text.len() > MAX_FIELD_BYTES => {
                return problem(format!(
                    "{} is {} bytes long; the limit is {MAX_FIELD_BYTES} bytes",
                    column(i),
                    text.len()
                ));
            }
            Ok(text) => fields.push(text.trim().to_string()),
            Err(e) => {
                return problem(format!(
                    "{} holds the error {e} instead of a value; fix what its formula refers to, \
                     or type the value",
                    column(i)
                ));
            }
        }
    }
    fields.resize(width, String::new());
    Ok(Record { line, fields })
}

/// `A1` for the 0-based (row, column).
fn cell_name((row, column): (u32, u32)) -> String {
    format!("{}{}", column_name(column as usize), row + 1)
}

/// `E2:E3`.
fn cells_name(region: &Dimensions) -> String {
    format!("{}:{}", cell_name(region.start), cell_name(region.end))
}

/// Empty, or only blanks: nothing a person would see as a value.
fn is_blank(cell: &Data) -> bool {
    match cell {
        Data::Empty => true,
        Data::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

fn listed(sheets: &[String]) -> String {
    sheets
        .iter()
        .map(|s| quoted(s))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
