//! The one CSV reader of the crate: inventory bytes → records, each with the physical line it
//! starts on, its fields decoded and trimmed.

use csv::{ByteRecord, Reader, ReaderBuilder};

use super::RowError;
use super::quoting;

/// Longest field accepted, in bytes. Real values are tens of bytes; a longer field is garbage
/// or the rest of a file swallowed by a quote, and is reported rather than copied around.
pub(super) const MAX_FIELD_BYTES: usize = 64 * 1024;

/// One CSV record.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Record {
    /// 1-based physical line the record starts on.
    pub line: u64,
    /// Decoded (invalid UTF-8 replaced: `encoding` reports it) and trimmed.
    pub fields: Vec<String>,
}

/// Records of `bytes`, fields separated by `delimiter`, in file order: `Ok` for a usable record,
/// `Err` for one that can't be used (broken quoting, an oversized field, a CSV error), so that
/// reading goes on after it.
pub(super) fn records(bytes: &[u8], delimiter: u8) -> Records<'_> {
    let reader = ReaderBuilder::new()
        .has_headers(false)
        .delimiter(delimiter)
        // Field counts are checked against the header in `validate`, with a better message.
        .flexible(true)
        .comment(Some(b'#'))
        .from_reader(bytes);
    Records {
        reader,
        bytes,
        delimiter,
        record: ByteRecord::new(),
        done: false,
    }
}

pub(super) struct Records<'a> {
    reader: Reader<&'a [u8]>,
    bytes: &'a [u8],
    delimiter: u8,
    record: ByteRecord,
    done: bool,
}

impl Iterator for Records<'_> {
    type Item = Result<Record, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let before = self.reader.position().clone();
            let read = self.reader.read_byte_record(&mut self.record);
            let (start, line) = record_start(self.bytes, before.byte(), before.line());
            match read {
                Ok(false) => self.done = true,
                Ok(true) => match self.finish(start, line) {
                    Ok(record) if is_blank(&record) => continue,
                    result => return Some(result),
                },
                Err(err) => {
                    // Reading from memory has no I/O to fail; should the reader ever stop
                    // advancing, end here rather than loop.
                    self.done = self.reader.position().byte() == before.byte();
                    return Some(Err(RowError {
                        line,
                        message: err.to_string(),
                    }));
                }
            }
        }
        None
    }
}

impl Records<'_> {
    /// Checks the record just read, which starts at byte `start`, on `line`.
    fn finish(&self, start: usize, line: u64) -> Result<Record, RowError> {
        let end = usize::try_from(self.reader.position().byte()).unwrap_or(usize::MAX);
        let raw = self.bytes.get(start..end).unwrap_or_default();
        if let Err(problem) = quoting::check(raw, self.delimiter) {
            return Err(RowError {
                line: line + newlines(&raw[..problem.offset()]),
                message: problem.message().to_string(),
            });
        }
        if let Some((i, field)) = self
            .record
            .iter()
            .enumerate()
            .find(|(_, field)| field.len() > MAX_FIELD_BYTES)
        {
            return Err(RowError {
                line,
                message: format!(
                    "field {} is {} bytes long; the limit is {MAX_FIELD_BYTES} bytes",
                    i + 1,
                    field.len()
                ),
            });
        }
        let fields = self
            .record
            .iter()
            .map(|field| String::from_utf8_lossy(field).trim().to_string())
            .collect();
        Ok(Record { line, fields })
    }
}

/// Where the record read from position (`at`, `line`) really starts. The reader's position is
/// where the previous record ended, before the empty lines and comment lines that csv-core
/// skips, so its line number alone would point at a comment above the record. This skips them
/// exactly as csv-core does: `\r` and `\n` bytes, and lines whose first byte is `#`.
fn record_start(bytes: &[u8], at: u64, mut line: u64) -> (usize, u64) {
    let mut at = usize::try_from(at).unwrap_or(usize::MAX);
    loop {
        match bytes.get(at) {
            Some(b'\n') => {
                at += 1;
                line += 1;
            }
            Some(b'\r') => at += 1,
            Some(b'#') => match bytes[at..].iter().position(|&b| b == b'\n') {
                Some(end) => {
                    at += end + 1;
                    line += 1;
                }
                None => at = bytes.len(),
            },
            _ => return (at, line),
        }
    }
}

fn newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// A line of only blanks reads as one empty field; it is a blank line, not a row.
fn is_blank(record: &Record) -> bool {
    matches!(record.fields.as_slice(), [only] if only.is_empty())
}

#[cfg(test)]
mod tests {
    use super::quoting::QuoteProblem;
    use super::*;

    /// A record as (line, fields), or a problem as (line, message).
    type Item = Result<(u64, Vec<String>), (u64, String)>;

    fn lines_and_fields(bytes: &[u8]) -> Vec<Item> {
        records(bytes, b',')
            .map(|item| match item {
                Ok(record) => Ok((record.line, record.fields)),
                Err(error) => Err((error.line, error.message)),
            })
            .collect()
    }

    fn ok(line: u64, fields: &[&str]) -> Item {
        Ok((line, fields.iter().map(|f| f.to_string()).collect()))
    }

    #[test]
    fn lines_skip_comments_and_blank_lines() {
        let text = b"# example inventory\n#\nid,host\n\n# the first plug\nplug-1,10.0.0.1\n   \n\n#x\n#y\nplug-2,10.0.0.2";
        assert_eq!(
            lines_and_fields(text),
            [
                ok(3, &["id", "host"]),
                ok(6, &["plug-1", "10.0.0.1"]),
                ok(11, &["plug-2", "10.0.0.2"])
            ]
        );
    }

    #[test]
    fn lines_count_newlines_inside_quoted_fields() {
        let text = b"id,notes\na,\"one\ntwo\n# not a comment\"\nb,x\n";
        assert_eq!(
            lines_and_fields(text),
            [
                ok(1, &["id", "notes"]),
                ok(2, &["a", "one\ntwo\n# not a comment"]),
                ok(5, &["b", "x"])
            ]
        );
    }

    #[test]
    fn lines_are_right_with_crlf_endings() {
        let text = b"id,host\r\n\r\n# c\r\na,1\r\nb,2\r\n";
        assert_eq!(
            lines_and_fields(text),
            [
                ok(1, &["id", "host"]),
                ok(4, &["a", "1"]),
                ok(5, &["b", "2"])
            ]
        );
    }

    #[test]
    fn fields_are_trimmed_and_invalid_utf8_is_replaced() {
        assert_eq!(
            lines_and_fields(b" a , b\xFF \n"),
            [ok(1, &["a", "b\u{FFFD}"])]
        );
    }

    #[test]
    fn broken_quoting_is_reported_and_reading_goes_on() {
        let text = b"id,host\na\"x\"y,\"1\"2\nb,2\nc,\"3\nd,4\n";
        assert_eq!(
            lines_and_fields(text),
            [
                ok(1, &["id", "host"]),
                Err((
                    2,
                    QuoteProblem::TextAfterClosingQuote(0).message().to_string()
                )),
                ok(3, &["b", "2"]),
                Err((4, QuoteProblem::Unclosed(0).message().to_string())),
            ]
        );
    }

    #[test]
    fn an_oversized_field_is_reported_without_its_value() {
        let mut text = b"id,host\na,".to_vec();
        text.extend(std::iter::repeat_n(b'x', 1 << 20));
        text.extend(b"\nb,2\n");
        assert_eq!(
            lines_and_fields(&text),
            [
                ok(1, &["id", "host"]),
                Err((
                    2,
                    "field 2 is 1048576 bytes long; the limit is 65536 bytes".to_string()
                )),
                ok(3, &["b", "2"]),
            ]
        );
    }

    #[test]
    fn semicolons_and_tabs_separate_fields_when_asked() {
        let text = b"id;host;notes\r\na;1;\"x, y\"\r\nb;2;\"two\r\nlines\"\r\n";
        let fields = |bytes: &[u8], d: u8| -> Vec<(u64, Vec<String>)> {
            records(bytes, d)
                .map(|r| r.map(|r| (r.line, r.fields)).unwrap())
                .collect()
        };
        let owned = |f: &[&str]| f.iter().map(|f| f.to_string()).collect::<Vec<_>>();
        assert_eq!(
            fields(text, b';'),
            [
                (1, owned(&["id", "host", "notes"])),
                (2, owned(&["a", "1", "x, y"])),
                (3, owned(&["b", "2", "two\r\nlines"])),
            ]
        );
        assert_eq!(
            fields(b"id\thost\n\"a\"\t1\n", b'\t'),
            [(1, owned(&["id", "host"])), (2, owned(&["a", "1"]))]
        );
    }

    #[test]
    fn a_file_of_only_comments_has_no_records() {
        assert_eq!(lines_and_fields(b"# nothing\n\n# here"), []);
        assert_eq!(lines_and_fields(b""), []);
    }
}
