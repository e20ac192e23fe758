//! Byte-level checks, made before any CSV parsing: a UTF-8 byte order mark, line endings, and
//! bytes that are not UTF-8. Each is reported on its physical line.

use super::RowError;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// What the byte-level checks found.
pub(super) struct Checked<'a> {
    /// The bytes to parse as CSV: the input without its BOM.
    pub body: &'a [u8],
    pub errors: Vec<RowError>,
}

/// Checks `bytes`, reporting the BOM once, CRLF once (at the first such line, with the count),
/// a bare CR once (it ends a record without starting a line, so it would shift every line
/// number after it), and invalid UTF-8 on every line that has it.
pub(super) fn check(bytes: &[u8]) -> Checked<'_> {
    let mut errors = Vec::new();
    let body = match bytes.strip_prefix(BOM) {
        Some(body) => {
            errors.push(RowError {
                line: 1,
                message: "starts with a UTF-8 byte order mark (BOM); save the file as UTF-8 \
                          without BOM"
                    .to_string(),
            });
            body
        }
        None => bytes,
    };
    let mut crlf = Tally::default();
    let mut bare_cr = Tally::default();
    let mut offset = 0;
    for (line, text) in (1..).zip(bytes.split(|&b| b == b'\n')) {
        let without_cr = match text.strip_suffix(b"\r") {
            // The last piece has no `\n` after it, so a `\r` ending it is a bare CR.
            Some(rest) if offset + text.len() < bytes.len() => {
                crlf.add(line);
                rest
            }
            _ => text,
        };
        if without_cr.contains(&b'\r') {
            bare_cr.add(line);
        }
        if let Err(err) = std::str::from_utf8(text) {
            let at = err.valid_up_to();
            errors.push(RowError {
                line,
                message: format!(
                    "invalid UTF-8 (byte 0x{:02X} at byte offset {}); save the file as UTF-8",
                    text[at],
                    offset + at
                ),
            });
        }
        offset += text.len() + 1;
    }
    if let Some(first) = crlf.first {
        errors.push(RowError {
            line: first,
            message: format!(
                "{} with Windows line endings (CRLF), the first here; convert the file to \
                 Unix line endings (LF), e.g. with `dos2unix`",
                lines(crlf.count)
            ),
        });
    }
    if let Some(first) = bare_cr.first {
        errors.push(RowError {
            line: first,
            message: format!(
                "{} with a carriage return (CR) not followed by a newline, the first here; \
                 use Unix line endings (LF)",
                lines(bare_cr.count)
            ),
        });
    }
    Checked { body, errors }
}

#[derive(Default)]
struct Tally {
    first: Option<u64>,
    count: u64,
}

impl Tally {
    fn add(&mut self, line: u64) {
        self.first.get_or_insert(line);
        self.count += 1;
    }
}

fn lines(count: u64) -> String {
    match count {
        1 => "1 line".to_string(),
        n => format!("{n} lines"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(bytes: &[u8]) -> Vec<(u64, String)> {
        check(bytes)
            .errors
            .into_iter()
            .map(|e| (e.line, e.message))
            .collect()
    }

    #[test]
    fn clean_utf8_with_lf_has_no_errors() {
        let checked = check("id,host\nplüg,10.0.0.1\n".as_bytes());
        assert!(checked.errors.is_empty());
        assert_eq!(checked.body, "id,host\nplüg,10.0.0.1\n".as_bytes());
    }

    #[test]
    fn a_bom_is_reported_on_line_1_and_stripped() {
        let checked = check(b"\xEF\xBB\xBFid,host\n");
        assert_eq!(checked.body, b"id,host\n");
        assert_eq!(
            errors(b"\xEF\xBB\xBFid,host\n"),
            [(
                1,
                "starts with a UTF-8 byte order mark (BOM); save the file as UTF-8 without BOM"
                    .to_string()
            )]
        );
    }

    #[test]
    fn crlf_is_reported_once_at_the_first_crlf_line_with_the_count() {
        assert_eq!(
            errors(b"id,host\na,1\r\nb,2\r\nc,3\r\n"),
            [(
                2,
                "3 lines with Windows line endings (CRLF), the first here; convert the file to \
                 Unix line endings (LF), e.g. with `dos2unix`"
                    .to_string()
            )]
        );
    }

    #[test]
    fn a_bare_cr_is_reported_once() {
        assert_eq!(
            errors(b"id,host\ra,1\rb,2\r"),
            [(
                1,
                "1 line with a carriage return (CR) not followed by a newline, the first here; \
                 use Unix line endings (LF)"
                    .to_string()
            )]
        );
    }

    #[test]
    fn invalid_utf8_is_reported_on_each_line_with_its_file_offset() {
        assert_eq!(
            errors(b"id,host\nplug-\xE9,1\nok,2\n\xFF\xFE,3\n"),
            [
                (
                    2,
                    "invalid UTF-8 (byte 0xE9 at byte offset 13); save the file as UTF-8"
                        .to_string()
                ),
                (
                    4,
                    "invalid UTF-8 (byte 0xFF at byte offset 22); save the file as UTF-8"
                        .to_string()
                ),
            ]
        );
    }

    #[test]
    fn binary_content_does_not_panic() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
        let found = errors(&bytes);
        assert!(!found.is_empty());
    }
}
