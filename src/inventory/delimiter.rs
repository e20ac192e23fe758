//! Which character separates the fields of a CSV inventory: the one of `,` `;` and tab that
//! makes the header row name the required columns. Spreadsheets write `;` where the decimal
//! separator is a comma (most of Europe), and tab for "Text (Tab delimited)".

use csv::ReaderBuilder;

use super::RowError;
use super::options::shown;

/// The delimiters detection chooses from, in the order messages list them.
const CANDIDATES: [u8; 3] = [b',', b';', b'\t'];

/// The columns every inventory has; a delimiter that splits the header into both is the one.
const REQUIRED: [&str; 2] = ["id", "host"];

/// The delimiter of `body` (decoded text), detected from its header row: the first line that
/// is neither blank nor a comment, read to its end outside quotes. With no header row there is
/// nothing to tell, and `,` is as good as any (the missing header is reported later).
pub(super) fn detect(body: &[u8]) -> Result<u8, RowError> {
    let Some((line, header)) = header_row(body) else {
        return Ok(b',');
    };
    let fitting: Vec<u8> = CANDIDATES
        .into_iter()
        .filter(|&d| names_required(header, d))
        .collect();
    match fitting.as_slice() {
        [one] => return Ok(*one),
        [] => {}
        several => {
            return Err(RowError {
                line,
                message: format!(
                    "the header row names id and host when split at {}; pass --delimiter to \
                     say which separates the fields",
                    listed(several)
                ),
            });
        }
    }
    let present: Vec<u8> = CANDIDATES
        .into_iter()
        .filter(|&d| unquoted_count(header, d) > 0)
        .collect();
    match present.as_slice() {
        // Detection changes nothing: the header's missing columns are the problem, and
        // `hint` says so when it is one column.
        [] => Ok(b','),
        [one] => Ok(*one),
        several => Err(RowError {
            line,
            message: format!(
                "cannot tell the delimiter: the header row has {} outside quotes, and split at \
                 none of them does it name both id and host; pass --delimiter",
                listed(several)
            ),
        }),
    }
}

/// What to say when the header row split at `delimiter` is one column without id and host.
pub(super) fn hint(header: &[String], delimiter: u8, forced: bool) -> Option<String> {
    let [only] = header else { return None };
    if !forced {
        return Some(
            "the header has one column: no ',', ';' or tab separates its names; pass \
             --delimiter with the character that does"
                .to_string(),
        );
    }
    let likely = CANDIDATES
        .into_iter()
        .filter(|&d| d != delimiter)
        .max_by_key(|&d| only.bytes().filter(|&b| b == d).count())
        .filter(|&d| only.as_bytes().contains(&d));
    Some(match likely {
        Some(d) => format!(
            "the header has one column when split at {}; is the file separated by {}? pass \
             --delimiter {}, or leave it out to detect it",
            shown(delimiter),
            shown(d),
            shown(d)
        ),
        None => format!(
            "the header has one column when split at {}; is that the file's delimiter?",
            shown(delimiter)
        ),
    })
}

/// The header row's line number and bytes: lines that are empty, blank or start with `#` are
/// skipped, as the CSV reader skips them; the row ends at the first line break outside quotes.
fn header_row(body: &[u8]) -> Option<(u64, &[u8])> {
    let mut at = 0;
    let mut line = 1;
    while at < body.len() {
        let rest = &body[at..];
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let text = &rest[..end];
        let blank = text.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'));
        if !blank && text.first() != Some(&b'#') {
            let mut quoted = false;
            let len = rest
                .iter()
                .position(|&b| {
                    quoted ^= b == b'"';
                    b == b'\n' && !quoted
                })
                .unwrap_or(rest.len());
            return Some((line, &rest[..len]));
        }
        at += end + 1;
        line += 1;
    }
    None
}

fn unquoted_count(row: &[u8], delimiter: u8) -> usize {
    let mut quoted = false;
    row.iter()
        .filter(|&&b| {
            quoted ^= b == b'"';
            b == delimiter && !quoted
        })
        .count()
}

fn names_required(row: &[u8], delimiter: u8) -> bool {
    let mut reader = ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(row);
    let Some(Ok(record)) = reader.byte_records().next() else {
        return false;
    };
    let names: Vec<String> = record
        .iter()
        .map(|f| String::from_utf8_lossy(f).trim().to_lowercase())
        .collect();
    REQUIRED.iter().all(|r| names.iter().any(|n| n == r))
}

fn listed(delimiters: &[u8]) -> String {
    let names: Vec<String> = delimiters.iter().map(|&d| shown(d)).collect();
    match names.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delimiter_that_names_id_and_host_is_chosen() {
        assert_eq!(detect(b"id,host,site\na,1,x\n"), Ok(b','));
        assert_eq!(detect(b"id;host;site\r\na;1;x\r\n"), Ok(b';'));
        assert_eq!(detect(b"id\thost\tsite\n"), Ok(b'\t'));
        // Commas inside a field of a semicolon file don't count.
        assert_eq!(detect(b"id;host;\"notes, more\"\n"), Ok(b';'));
        assert_eq!(detect(b"id;host;notes (a, b)\n"), Ok(b';'));
    }

    #[test]
    fn comments_blank_lines_and_quoted_line_breaks_are_passed_over() {
        assert_eq!(detect(b"# a; b; c\n\n  \nid;host\n"), Ok(b';'));
        assert_eq!(detect(b"id;\"ho\nst\";host\n"), Ok(b';'));
    }

    #[test]
    fn a_header_without_id_and_host_keeps_its_only_delimiter() {
        assert_eq!(detect(b"name;address\n"), Ok(b';'));
        assert_eq!(detect(b"id host\n"), Ok(b','));
        assert_eq!(detect(b""), Ok(b','));
    }

    #[test]
    fn two_delimiters_that_both_fit_are_ambiguous() {
        let error = detect(b"# x\nid,host,x;id;host\n").unwrap_err();
        assert_eq!(error.line, 2);
        assert_eq!(
            error.message,
            "the header row names id and host when split at ',' and ';'; pass --delimiter to \
             say which separates the fields"
        );
    }

    #[test]
    fn two_delimiters_where_neither_fits_are_ambiguous() {
        let error = detect(b"name,x;address\n").unwrap_err();
        assert_eq!(
            error.message,
            "cannot tell the delimiter: the header row has ',' and ';' outside quotes, and split \
             at none of them does it name both id and host; pass --delimiter"
        );
    }

    #[test]
    fn a_one_column_header_gets_a_hint() {
        let one = |text: &str| vec![text.to_string()];
        assert_eq!(
            hint(&one("id;host;site"), b',', true).unwrap(),
            "the header has one column when split at ','; is the file separated by ';'? pass \
             --delimiter ';', or leave it out to detect it"
        );
        assert_eq!(
            hint(&one("id|host"), b',', false).unwrap(),
            "the header has one column: no ',', ';' or tab separates its names; pass \
             --delimiter with the character that does"
        );
        assert_eq!(hint(&["a".into(), "b".into()], b',', true), None);
    }
}
