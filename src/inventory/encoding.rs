//! Bytes → UTF-8 text, before any CSV parsing: a UTF-8 byte order mark is dropped, text that is
//! not UTF-8 is read as Windows-1252 (what Excel's plain "CSV" writes on Windows), and a bare
//! CR is refused. Line endings may be LF or CRLF (RFC 4180); every line keeps its number.

use std::borrow::Cow;

use encoding_rs::{CoderResult, WINDOWS_1252};

use super::RowError;
use super::options::Encoding;

/// What Excel's "CSV UTF-8" puts first.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The text to parse as CSV, and what was found on the way.
pub(super) struct Decoded<'a> {
    /// UTF-8, without the BOM. Windows-1252 maps each byte to one character, so line breaks
    /// (and so line numbers) are where they were in the file.
    pub body: Cow<'a, [u8]>,
    pub errors: Vec<RowError>,
    /// At most one: the Windows-1252 fallback, on the first line that is not UTF-8.
    pub warnings: Vec<RowError>,
}

/// Decodes `bytes` as `encoding` says. With [`Encoding::Auto`], bytes that are not UTF-8 make the
/// whole file Windows-1252, with one warning naming the first such line (a file is in one
/// encoding; mixing is not guessed at); with [`Encoding::Utf8`] each such line is a problem.
///
/// A CR not followed by LF is a problem, once: the CSV parser ends a record there without a
/// new line, so every line number after it would be wrong (old Mac "CSV" files end lines so).
pub(super) fn decode(bytes: &[u8], encoding: Encoding) -> Decoded<'_> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let body = bytes.strip_prefix(BOM).unwrap_or(bytes);
    let mut bare_cr = Tally::default();
    let mut invalid = Vec::new();
    let mut offset = 0;
    for (line, text) in (1..).zip(bytes.split(|&b| b == b'\n')) {
        let without_cr = match text.strip_suffix(b"\r") {
            // The last piece has no `\n` after it, so a `\r` ending it is a bare CR.
            Some(rest) if offset + text.len() < bytes.len() => rest,
            _ => text,
        };
        if without_cr.contains(&b'\r') {
            bare_cr.add(line);
        }
        if encoding != Encoding::Windows1252
            && let Err(err) = std::str::from_utf8(text)
        {
            let at = err.valid_up_to();
            invalid.push((line, text[at], offset + at));
        }
        offset += text.len() + 1;
    }
    if let Some(first) = bare_cr.first {
        errors.push(RowError {
            line: first,
            message: format!(
                "{} with a carriage return (CR) not followed by a newline, the first here; \
                 save the file with LF or CRLF line endings",
                lines(bare_cr.count)
            ),
        });
    }
    let body = match (encoding, invalid.first()) {
        (Encoding::Windows1252, _) => windows_1252(body),
        (_, None) => Cow::Borrowed(body),
        (Encoding::Utf8, Some(_)) => {
            errors.extend(invalid.iter().map(|&(line, byte, at)| RowError {
                line,
                message: format!(
                    "invalid UTF-8 (byte 0x{byte:02X} at byte offset {at}); save the file as \
                     UTF-8, or leave out --encoding utf-8 to read it as Windows-1252"
                ),
            }));
            Cow::Borrowed(body)
        }
        (Encoding::Auto, Some(&(line, byte, at))) => {
            warnings.push(RowError {
                line,
                message: format!(
                    "not UTF-8 (byte 0x{byte:02X} at byte offset {at}, the first of {}); read \
                     the whole file as Windows-1252, as Excel's plain \"CSV\" writes it. Check \
                     accented text; save as \"CSV UTF-8\" to be sure, or pass --encoding \
                     windows-1252 to say so",
                    lines(invalid.len() as u64)
                ),
            });
            windows_1252(body)
        }
    };
    Decoded {
        body,
        errors,
        warnings,
    }
}

/// `bytes` read as Windows-1252, into a buffer of exactly the text's length: encoding_rs's
/// one-call decode sizes (and fills) its output for the worst case, three bytes per byte,
/// which for a large file was three more copies of it in memory. Each byte is one character,
/// so the exact length is known before decoding. All ASCII is borrowed as it is.
fn windows_1252(bytes: &[u8]) -> Cow<'_, [u8]> {
    let mut lengths = [0usize; 256];
    for (byte, length) in (0..=u8::MAX).zip(&mut lengths) {
        *length = WINDOWS_1252.decode_without_bom_handling(&[byte]).0.len();
    }
    let length: usize = bytes.iter().map(|&b| lengths[usize::from(b)]).sum();
    // Every byte past ASCII decodes to two or three.
    if length == bytes.len() {
        return Cow::Borrowed(bytes);
    }
    let mut text = String::with_capacity(length);
    let mut decoder = WINDOWS_1252.new_decoder_without_bom_handling();
    let mut read = 0;
    loop {
        let (result, n, _) = decoder.decode_to_string(&bytes[read..], &mut text, true);
        read += n;
        match result {
            CoderResult::InputEmpty => break,
            // Only if a character were longer than its table says; decode on, then.
            CoderResult::OutputFull => text.reserve(bytes.len() - read + 16),
        }
    }
    Cow::Owned(text.into_bytes())
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

    /// (line, message) pairs.
    type Found = Vec<(u64, String)>;

    /// The decoded text, the errors and the warnings.
    fn found(bytes: &[u8], encoding: Encoding) -> (String, Found, Found) {
        let decoded = decode(bytes, encoding);
        let pairs = |v: Vec<RowError>| v.into_iter().map(|e| (e.line, e.message)).collect();
        (
            String::from_utf8_lossy(&decoded.body).into_owned(),
            pairs(decoded.errors),
            pairs(decoded.warnings),
        )
    }

    #[test]
    fn clean_utf8_with_lf_is_borrowed_as_is() {
        let decoded = decode("id,host\nplüg,10.0.0.1\n".as_bytes(), Encoding::Auto);
        assert!(decoded.errors.is_empty() && decoded.warnings.is_empty());
        assert!(matches!(decoded.body, Cow::Borrowed(_)));
        assert_eq!(&*decoded.body, "id,host\nplüg,10.0.0.1\n".as_bytes());
    }

    #[test]
    fn a_bom_is_stripped_without_a_word() {
        let (body, errors, warnings) = found(b"\xEF\xBB\xBFid,host\r\na,1\r\n", Encoding::Auto);
        assert_eq!(body, "id,host\r\na,1\r\n");
        assert!(errors.is_empty() && warnings.is_empty());
    }

    #[test]
    fn crlf_and_lf_endings_are_both_fine() {
        let (_, errors, _) = found(b"id,host\na,1\r\nb,2\nc,3\r\n", Encoding::Utf8);
        assert!(errors.is_empty());
    }

    #[test]
    fn a_bare_cr_is_reported_once() {
        assert_eq!(
            found(b"id,host\ra,1\rb,2\r", Encoding::Auto).1,
            [(
                1,
                "1 line with a carriage return (CR) not followed by a newline, the first here; \
                 save the file with LF or CRLF line endings"
                    .to_string()
            )]
        );
    }

    #[test]
    fn windows_1252_is_decoded_with_one_warning_at_the_first_such_line() {
        let (body, errors, warnings) = found(
            b"id,host,site\nok,1,x\na,2,R\xE9sidence H\xE9l\xE8ne\nb,3,\x80uro\n",
            Encoding::Auto,
        );
        assert_eq!(
            body,
            "id,host,site\nok,1,x\na,2,Résidence Hélène\nb,3,€uro\n"
        );
        assert!(errors.is_empty());
        assert_eq!(
            warnings,
            [(
                3,
                "not UTF-8 (byte 0xE9 at byte offset 25, the first of 2 lines); read the whole \
                 file as Windows-1252, as Excel's plain \"CSV\" writes it. Check accented text; \
                 save as \"CSV UTF-8\" to be sure, or pass --encoding windows-1252 to say so"
                    .to_string()
            )]
        );
    }

    #[test]
    fn forced_windows_1252_decodes_without_a_warning() {
        let (body, errors, warnings) = found(b"id,host\nH\xE9l\xE8ne,1\n", Encoding::Windows1252);
        assert_eq!(body, "id,host\nHélène,1\n");
        assert!(errors.is_empty() && warnings.is_empty());
    }

    #[test]
    fn utf8_only_reports_each_invalid_line_with_its_file_offset() {
        let (_, errors, warnings) =
            found(b"id,host\nplug-\xE9,1\nok,2\n\xFF\xFE,3\n", Encoding::Utf8);
        assert!(warnings.is_empty());
        let message = |byte: &str, at: u32| {
            format!(
                "invalid UTF-8 (byte 0x{byte} at byte offset {at}); save the file as UTF-8, or \
                 leave out --encoding utf-8 to read it as Windows-1252"
            )
        };
        assert_eq!(errors, [(2, message("E9", 13)), (4, message("FF", 22))]);
    }

    #[test]
    fn every_byte_decodes_as_encoding_rs_decodes_it_in_one_call() {
        let bytes: Vec<u8> = (0..=255u8)
            .chain((0..=255u8).rev())
            .cycle()
            .take(5_000)
            .collect();
        let expected = WINDOWS_1252.decode_without_bom_handling(&bytes).0;
        let decoded = windows_1252(&bytes);
        assert_eq!(&*decoded, expected.as_bytes());
        assert!(matches!(decoded, Cow::Owned(ref v) if v.capacity() == v.len()));
        assert!(matches!(windows_1252(b"id,host\n"), Cow::Borrowed(_)));
    }

    #[test]
    fn binary_content_does_not_panic() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
        for encoding in [Encoding::Auto, Encoding::Utf8, Encoding::Windows1252] {
            let decoded = decode(&bytes, encoding);
            assert!(!decoded.errors.is_empty());
        }
    }
}
