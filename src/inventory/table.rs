//! Any table a person fills in a spreadsheet, read the way inventories are read (the same
//! encoding detection, delimiter detection, CSV reader and workbook reader) but without
//! validating its rows as devices: for files other than inventories, such as a returned
//! work-order checklist (`fleetreset confirm RUN --from FILE`).

use std::path::Path;

use super::options::{Format, ReadOptions};
use super::{InventoryErrors, LoadError, RowError, delimiter, encoding, reader, sniff, workbook};

/// A table's rows as text, header first, each with its line (CSV) or sheet row (workbook).
/// Comment rows and empty rows are left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub rows: Vec<(u64, Vec<String>)>,
    /// The sheet read, for a workbook.
    pub sheet: Option<String>,
    /// What the file got away with (text read as Windows-1252), as `LINE: message`.
    pub warnings: Vec<RowError>,
}

/// Reads the table in `bytes` (CSV or a workbook, by `path`'s extension). A row that can't be
/// read (broken quoting, an error cell) fails the whole file, with every such row listed:
/// what is read back must be what the person wrote.
pub fn read_table(path: &Path, bytes: &[u8], options: &ReadOptions) -> Result<Table, LoadError> {
    let format = Format::of(path);
    options.check(path, format)?;
    let invalid = |sheet: Option<String>, errors: Vec<RowError>| {
        LoadError::Invalid(InventoryErrors {
            path: path.to_path_buf(),
            sheet,
            errors,
            warnings: Vec::new(),
        })
    };
    if let Some(what) = sniff::problem(bytes, format) {
        return Err(invalid(
            None,
            vec![RowError {
                line: 1,
                message: format!("the file is {what}"),
            }],
        ));
    }
    let (records, sheet, warnings): (Vec<_>, _, _) = if format.is_workbook() {
        let sheet = workbook::read(bytes, format, options.sheet.as_deref()).map_err(|source| {
            LoadError::Workbook {
                path: path.to_path_buf(),
                source,
            }
        })?;
        (sheet.records, Some(sheet.name), Vec::new())
    } else {
        let decoded = encoding::decode(bytes, options.encoding);
        if !decoded.errors.is_empty() {
            return Err(invalid(None, decoded.errors));
        }
        let d = match options.delimiter {
            Some(d) => d,
            None => delimiter::detect(&decoded.body).map_err(|e| invalid(None, vec![e]))?,
        };
        let records = reader::records(&decoded.body, d).collect();
        (records, None, decoded.warnings)
    };
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for record in records {
        match record {
            Ok(r) if r.fields.iter().all(String::is_empty) => {}
            Ok(r) => rows.push((r.line, r.fields)),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(invalid(sheet, errors));
    }
    Ok(Table {
        rows,
        sheet,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_semicolon_csv_with_a_bom_reads_as_rows_with_their_lines() {
        let bytes = "\u{FEFF}# returned\r\nid;confirmed_by\r\n\r\na;Ana\r\nb;\"B, C\"\r\n";
        let table = read_table(
            Path::new("x.csv"),
            bytes.as_bytes(),
            &ReadOptions::default(),
        )
        .unwrap();
        assert_eq!(
            table.rows,
            [
                (2, vec!["id".to_string(), "confirmed_by".to_string()]),
                (4, vec!["a".to_string(), "Ana".to_string()]),
                (5, vec!["b".to_string(), "B, C".to_string()]),
            ]
        );
        assert_eq!(table.sheet, None);
    }

    #[test]
    fn windows_1252_text_reads_with_a_warning() {
        let bytes = b"id,confirmed_by\na,Jos\xe9\n";
        let table = read_table(Path::new("x.csv"), bytes, &ReadOptions::default()).unwrap();
        assert_eq!(table.rows[1].1[1], "José");
        assert_eq!(table.warnings.len(), 1);
    }

    #[test]
    fn a_workbook_that_is_not_one_is_an_error() {
        let err = read_table(Path::new("x.xlsx"), b"id,host\n", &ReadOptions::default());
        assert!(err.is_err());
    }
}
