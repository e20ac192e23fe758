//! How inventory problems are printed: `FILE:LINE: message` (`FILE[SHEET]:ROW: message` for
//! a workbook), and how a user's value is quoted inside a message.

use std::fmt;

use super::InventoryErrors;

/// How many characters of a user's value a message quotes. Enough to recognise the value; a
/// megabyte of garbage in a field must not become a megabyte of error message.
const QUOTED_CHARS: usize = 60;

/// `value` as a Rust string literal (control characters and quotes escaped), cut to
/// [`QUOTED_CHARS`] characters with `...` after the closing quote when it was longer.
pub(crate) fn quoted(value: &str) -> String {
    match value.char_indices().nth(QUOTED_CHARS) {
        Some((cut, _)) => format!("{:?}...", &value[..cut]),
        None => format!("{value:?}"),
    }
}

impl fmt::Display for InventoryErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errors = self.errors.iter().map(|e| (e, ""));
        let warnings = self.warnings.iter().map(|w| (w, "warning: "));
        let mut lines: Vec<_> = errors.chain(warnings).collect();
        // Stable: a warning comes after the problems of its line.
        lines.sort_by_key(|(e, _)| e.line);
        let location = self.location();
        for (i, (error, kind)) in lines.into_iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{location}:{}: {kind}{}", error.line, error.message)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::inventory::RowError;

    #[test]
    fn short_values_are_quoted_whole_with_escapes() {
        assert_eq!(quoted("plug-1"), r#""plug-1""#);
        assert_eq!(quoted("a\"b\n"), r#""a\"b\n""#);
    }

    #[test]
    fn long_values_are_cut_at_sixty_characters() {
        let long = "é".repeat(1000);
        let expected = format!("{:?}...", "é".repeat(60));
        assert_eq!(quoted(&long), expected);
        assert_eq!(quoted(&"x".repeat(60)), format!("{:?}", "x".repeat(60)));
    }

    #[test]
    fn errors_display_one_file_line_message_per_line() {
        let errors = InventoryErrors {
            path: PathBuf::from("inv/x.csv"),
            sheet: None,
            warnings: Vec::new(),
            errors: vec![
                RowError {
                    line: 1,
                    message: "first".into(),
                },
                RowError {
                    line: 7,
                    message: "second".into(),
                },
            ],
        };
        assert_eq!(
            errors.to_string(),
            "inv/x.csv:1: first\ninv/x.csv:7: second"
        );
    }

    #[test]
    fn workbook_errors_name_the_sheet_and_warnings_come_in_line_order() {
        let row = |line, message: &str| RowError {
            line,
            message: message.into(),
        };
        let errors = InventoryErrors {
            path: PathBuf::from("inv/x.xlsx"),
            sheet: Some("Plugs".into()),
            errors: vec![row(2, "first"), row(9, "second")],
            warnings: vec![row(4, "read as Windows-1252")],
        };
        assert_eq!(
            errors.to_string(),
            "inv/x.xlsx[Plugs]:2: first\ninv/x.xlsx[Plugs]:4: warning: read as Windows-1252\n\
             inv/x.xlsx[Plugs]:9: second"
        );
    }
}
