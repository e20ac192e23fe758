//! Broken quoting that the CSV parser accepts without complaint. csv-core never fails on
//! quotes: an unclosed quote silently swallows the rest of the file into one field, and
//! `"ab"cd` silently becomes `abcd`. Both are mistakes worth reporting, so each record's raw
//! bytes are checked here.

/// A quoting mistake, with the offset of the offending byte in the record's raw bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum QuoteProblem {
    /// The quote at this offset opens a field that never closes.
    Unclosed(usize),
    /// This byte follows the closing quote of a field, where only `,` or the end of the
    /// record may be.
    TextAfterClosingQuote(usize),
}

impl QuoteProblem {
    pub(super) fn offset(self) -> usize {
        match self {
            QuoteProblem::Unclosed(at) | QuoteProblem::TextAfterClosingQuote(at) => at,
        }
    }

    pub(super) fn message(self) -> &'static str {
        match self {
            QuoteProblem::Unclosed(_) => {
                "unclosed quote: the quoted field opened on this line never ends, so the rest \
                 of the file was read into it"
            }
            QuoteProblem::TextAfterClosingQuote(_) => {
                "text after the closing quote of a field; inside a quoted field, write a quote \
                 as \"\""
            }
        }
    }
}

/// Checks one record's raw bytes (from its first field to its terminator, if any) as RFC 4180
/// quoting, with fields separated by `delimiter`: a field is either unquoted, or fully quoted
/// with inner quotes doubled. A quote in the middle of an unquoted field (`12" rack`) is kept
/// as it is, and is not a problem; nor are blanks after a closing quote.
pub(super) fn check(raw: &[u8], delimiter: u8) -> Result<(), QuoteProblem> {
    let mut at = 0;
    loop {
        if raw.get(at) == Some(&b'"') {
            at = closing_quote(raw, at)? + 1;
            // Blanks after the closing quote are harmless: fields are trimmed. (A tab is the
            // delimiter itself in a tab-separated file.)
            while matches!(raw.get(at), Some(&b) if matches!(b, b' ' | b'\t') && b != delimiter) {
                at += 1;
            }
            match raw.get(at) {
                None | Some(b'\r' | b'\n') => {}
                Some(&b) if b == delimiter => {}
                Some(_) => return Err(QuoteProblem::TextAfterClosingQuote(at)),
            }
        } else {
            while let Some(&b) = raw.get(at) {
                if b == delimiter || matches!(b, b'\r' | b'\n') {
                    break;
                }
                at += 1;
            }
        }
        match raw.get(at) {
            Some(&b) if b == delimiter => at += 1,
            _ => return Ok(()),
        }
    }
}

/// The offset of the quote closing the field opened at `open`, skipping doubled quotes.
fn closing_quote(raw: &[u8], open: usize) -> Result<usize, QuoteProblem> {
    let mut at = open + 1;
    loop {
        let Some(found) = raw[at..].iter().position(|&b| b == b'"') else {
            return Err(QuoteProblem::Unclosed(open));
        };
        at += found;
        if raw.get(at + 1) == Some(&b'"') {
            at += 2;
        } else {
            return Ok(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_delimiters_separate_quoted_fields() {
        assert_eq!(check(b"\"a;b\";\"c\"\r\n", b';'), Ok(()));
        assert_eq!(check(b"\"a\"\t\"b\"\n", b'\t'), Ok(()));
        assert_eq!(check(b"\"a\" \tb\n", b'\t'), Ok(()));
        assert_eq!(
            check(b"\"a\",b\n", b';'),
            Err(QuoteProblem::TextAfterClosingQuote(3))
        );
    }

    #[test]
    fn well_quoted_records_pass() {
        for raw in [
            &b"a,b,c\n"[..],
            b"a,b,c",
            b"\"a\",\"b,c\",\"\"\n",
            b"\"say \"\"hi\"\"\",x\r\n",
            b"\"two\nlines\",x\n",
            b"12\" rack,x\n",
            b"\"a\"  ,\"b\"\t\n",
            b",,\n",
            b"",
        ] {
            assert_eq!(
                check(raw, b','),
                Ok(()),
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn an_unclosed_quote_is_found_at_its_opening() {
        assert_eq!(
            check(b"a,\"b,c\nd,e\n", b','),
            Err(QuoteProblem::Unclosed(2))
        );
        assert_eq!(check(b"\"a\"\"\n", b','), Err(QuoteProblem::Unclosed(0)));
    }

    #[test]
    fn text_after_a_closing_quote_is_found() {
        assert_eq!(
            check(b"a,\"b\"c,d\n", b','),
            Err(QuoteProblem::TextAfterClosingQuote(5))
        );
        assert_eq!(
            check(b"\"a\" x,b\n", b','),
            Err(QuoteProblem::TextAfterClosingQuote(4))
        );
    }
}
