//! How an inventory file is read: its format (from the file name), and the options a user can
//! force (delimiter, encoding, sheet).

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Options for reading an inventory. The default reads any CSV flavour and a workbook's first
/// sheet. A run stores the options it read its inventory with, so that `resume` reads it the
/// same way; every field has a serde default, so the parameters of runs recorded before a
/// field existed still load.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReadOptions {
    /// The CSV field delimiter; `None` detects it from the header row.
    pub delimiter: Option<u8>,
    /// How CSV bytes are decoded.
    pub encoding: Encoding,
    /// The workbook sheet; `None` for the first visible one.
    pub sheet: Option<String>,
}

/// How the bytes of a CSV inventory are decoded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum Encoding {
    /// UTF-8; a file that is not falls back to Windows-1252, with one warning.
    #[default]
    #[serde(rename = "auto")]
    #[value(name = "auto")]
    Auto,
    /// UTF-8 only: bytes that are not UTF-8 are problems.
    #[serde(rename = "utf-8")]
    #[value(name = "utf-8")]
    Utf8,
    /// Windows-1252 (what Excel's plain "CSV" writes on Windows), without a warning.
    #[serde(rename = "windows-1252")]
    #[value(name = "windows-1252")]
    Windows1252,
}

/// The kind of file an inventory is, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    /// Office Open XML: `.xlsx` and `.xlsm` (Excel, LibreOffice, Google Sheets' download).
    Xlsx,
    /// OpenDocument spreadsheet: `.ods` (LibreOffice, OpenOffice).
    Ods,
}

impl Format {
    /// By extension, ignoring case; anything that isn't a workbook's is CSV.
    pub fn of(path: &Path) -> Format {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("xlsx" | "xlsm") => Format::Xlsx,
            Some("ods") => Format::Ods,
            _ => Format::Csv,
        }
    }

    pub fn is_workbook(self) -> bool {
        !matches!(self, Format::Csv)
    }

    /// How messages name the format.
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "CSV",
            Format::Xlsx => "an .xlsx workbook",
            Format::Ods => "an .ods workbook",
        }
    }
}

/// An option that doesn't fit the file's format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    #[error("--delimiter is for CSV files; {path} is {format}, whose cells need none")]
    DelimiterForWorkbook { path: String, format: &'static str },
    #[error("--encoding is for CSV files; {path} is {format}, which says its own encoding")]
    EncodingForWorkbook { path: String, format: &'static str },
    #[error(
        "--sheet is for workbooks (.xlsx, .xlsm, .ods); {path} is read as CSV, which has no sheets"
    )]
    SheetForCsv { path: String },
}

impl ReadOptions {
    /// Refuses options that mean nothing for `format`: a user who passed one expected another
    /// kind of file.
    pub(super) fn check(&self, path: &Path, format: Format) -> Result<(), OptionError> {
        let shown = || path.display().to_string();
        if format.is_workbook() {
            if self.delimiter.is_some() {
                return Err(OptionError::DelimiterForWorkbook {
                    path: shown(),
                    format: format.name(),
                });
            }
            if self.encoding != Encoding::Auto {
                return Err(OptionError::EncodingForWorkbook {
                    path: shown(),
                    format: format.name(),
                });
            }
        } else if self.sheet.is_some() {
            return Err(OptionError::SheetForCsv { path: shown() });
        }
        Ok(())
    }
}

/// Parses `--delimiter`: one ASCII character, or `tab`, `comma`, `semicolon` (and `\t`), for
/// shells where a tab is hard to type. Quotes, line breaks and `#` (which starts a comment) can't
/// separate fields.
pub fn parse_delimiter(text: &str) -> Result<u8, String> {
    let byte = match text {
        "tab" | "\\t" | "\t" => b'\t',
        "comma" => b',',
        "semicolon" => b';',
        _ => match text.as_bytes() {
            [b] if b.is_ascii() => *b,
            _ => {
                return Err(format!(
                    "{text:?} is not one character; use e.g. ',' ';' '|' or tab"
                ));
            }
        },
    };
    if matches!(byte, b'"' | b'\n' | b'\r' | b'#') || (byte.is_ascii_alphanumeric()) {
        return Err(format!(
            "{:?} can't separate fields; use e.g. ',' ';' '|' or tab",
            char::from(byte)
        ));
    }
    Ok(byte)
}

/// A delimiter as messages show it: `';'`, `tab`.
pub fn shown(delimiter: u8) -> String {
    match delimiter {
        b'\t' => "tab".to_string(),
        b => format!("'{}'", char::from(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_come_from_the_extension_in_any_case() {
        assert_eq!(Format::of(Path::new("a/inv.csv")), Format::Csv);
        assert_eq!(Format::of(Path::new("inv.XLSX")), Format::Xlsx);
        assert_eq!(Format::of(Path::new("inv.xlsm")), Format::Xlsx);
        assert_eq!(Format::of(Path::new("inv.Ods")), Format::Ods);
        assert_eq!(Format::of(Path::new("inv.txt")), Format::Csv);
        assert_eq!(Format::of(Path::new("inv")), Format::Csv);
    }

    #[test]
    fn delimiters_parse_by_character_or_name() {
        assert_eq!(parse_delimiter(";"), Ok(b';'));
        assert_eq!(parse_delimiter("tab"), Ok(b'\t'));
        assert_eq!(parse_delimiter("\t"), Ok(b'\t'));
        assert_eq!(parse_delimiter("|"), Ok(b'|'));
        assert_eq!(parse_delimiter("semicolon"), Ok(b';'));
        assert!(parse_delimiter(";;").is_err());
        assert!(parse_delimiter("\"").is_err());
        assert!(parse_delimiter("#").is_err());
        assert!(parse_delimiter("a").is_err());
        assert!(parse_delimiter("é").is_err());
    }

    #[test]
    fn options_that_do_not_fit_the_format_are_refused() {
        let csv = Path::new("inv.csv");
        let book = Path::new("inv.xlsx");
        let sheet = ReadOptions {
            sheet: Some("Plugs".into()),
            ..ReadOptions::default()
        };
        let delimiter = ReadOptions {
            delimiter: Some(b';'),
            ..ReadOptions::default()
        };
        let encoding = ReadOptions {
            encoding: Encoding::Utf8,
            ..ReadOptions::default()
        };
        assert_eq!(sheet.check(book, Format::Xlsx), Ok(()));
        assert!(matches!(
            sheet.check(csv, Format::Csv),
            Err(OptionError::SheetForCsv { .. })
        ));
        assert_eq!(delimiter.check(csv, Format::Csv), Ok(()));
        assert!(delimiter.check(book, Format::Xlsx).is_err());
        assert!(encoding.check(book, Format::Ods).is_err());
    }

    #[test]
    fn stored_options_are_stable_json_and_old_runs_read_as_defaults() {
        let options = ReadOptions {
            delimiter: Some(b';'),
            encoding: Encoding::Utf8,
            sheet: Some("Plugs".into()),
        };
        let json = serde_json::to_value(&options).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"delimiter": 59, "encoding": "utf-8", "sheet": "Plugs"})
        );
        assert_eq!(
            serde_json::from_value::<ReadOptions>(json).unwrap(),
            options
        );
        assert_eq!(
            serde_json::from_value::<ReadOptions>(serde_json::json!({})).unwrap(),
            ReadOptions::default()
        );
    }
}
