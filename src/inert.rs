//! Text from outside (what a device says about itself, its error messages, an inventory cell)
//! made inert for terminals, logs and report files: one line, every control character escaped.
//!
//! A device's `err_msg` or alias is untrusted. Printed raw, an escape sequence can clear the
//! screen or recolour it, a carriage return can overwrite the line before it, and a newline can
//! forge a line of our own output (`[ 9/9] … succeeded`). Escaped, the same bytes show as what
//! they are: `\u{1b}[2J`, `\n`.
//!
//! Escaped are the C0 controls (U+0000–U+001F), DEL and the C1 controls (U+0080–U+009F, which
//! some terminals read as escape sequences too), and the Unicode format characters that reorder
//! or hide text (bidirectional marks, overrides and isolates, zero-width and other invisible
//! characters, the line and paragraph separators). Everything else, including non-ASCII letters
//! and the variation selectors emoji need, passes unchanged, so an alias like `Küche` or
//! an emoji stays readable.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

/// `s` as one line with every control and reordering character escaped. Borrowed when there was
/// nothing to escape, which is almost always.
pub fn inert(s: &str) -> Cow<'_, str> {
    // Printable ASCII is never escaped (the controls are below it and DEL, the tricks above
    // it): a byte scan, where a plan of a million rows spent a third of its time decoding chars.
    if s.bytes().all(|b| (b' '..=b'~').contains(&b)) || !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        push_char(&mut out, c);
    }
    Cow::Owned(out)
}

/// Displays its text inert, for `format!("{}", Inert(&msg))` without an allocation when the
/// text is clean.
#[derive(Debug, Clone, Copy)]
pub struct Inert<'a>(pub &'a str);

impl fmt::Display for Inert<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&inert(self.0))
    }
}

/// Whether `c` must not reach a terminal or a log line as it is.
pub fn needs_escape(c: char) -> bool {
    c.is_control() || is_format_trick(c)
}

/// Characters that are not controls but change what a reader sees: bidirectional embeddings,
/// overrides and isolates (the "Trojan Source" characters) and the marks that steer them (the
/// left-to-right, right-to-left and Arabic letter marks), zero-width spaces and joiners, the
/// word joiner, the BOM, the Unicode line and paragraph separators, and characters that show
/// as nothing: the soft hyphen (visible only where a line breaks), the Mongolian vowel
/// separator (a zero-width space in older Unicode, still rendered as nothing), the interlinear
/// annotation marks, and the tag characters (U+E0000–U+E007F), an invisible copy of ASCII that
/// can carry a whole hidden message inside a name that looks short and clean. The variation
/// selectors (U+FE00–U+FE0F) are invisible too but stay: emoji need them, and on their own they
/// change how a character looks, not which one it is.
fn is_format_trick(c: char) -> bool {
    matches!(c,
        '\u{00AD}'
        | '\u{061C}'
        | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{2028}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}'
        | '\u{E0000}'..='\u{E007F}')
}

fn push_char(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if needs_escape(c) => {
            // Writing to a String can't fail.
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_text_is_borrowed_unchanged() {
        for s in [
            "",
            "Lobby lamp",
            "Küche · 2. OG",
            "50:C7:BF:00:00:01",
            "a\\nb",
            // Variation selectors stay: emoji need them.
            "\u{2764}\u{fe0f} \u{263a}\u{fe0e} x\u{fe00}",
        ] {
            assert!(matches!(inert(s), Cow::Borrowed(b) if b == s), "{s:?}");
        }
    }

    #[test]
    fn escape_sequences_line_breaks_and_tabs_are_shown_not_obeyed() {
        assert_eq!(
            inert("\u{1b}[2J\u{1b}[H[ 9/9] forged succeeded\r\nnext"),
            "\\u{1b}[2J\\u{1b}[H[ 9/9] forged succeeded\\r\\nnext"
        );
        assert_eq!(inert("a\tb\u{0}c\u{7f}"), "a\\tb\\u{0}c\\u{7f}");
    }

    #[test]
    fn c1_controls_and_text_reordering_characters_are_escaped() {
        // U+009B is the one-byte CSI some terminals obey; U+202E flips the rest of the line.
        assert_eq!(
            inert("x\u{9b}31my\u{202e}gnp.exe"),
            "x\\u{9b}31my\\u{202e}gnp.exe"
        );
        assert_eq!(
            inert("\u{200b}\u{2028}\u{2066}\u{feff}"),
            "\\u{200b}\\u{2028}\\u{2066}\\u{feff}"
        );
        // Each shows as nothing: `ad\u{ad}min` reads as `admin` but is not equal to it.
        assert_eq!(
            inert("ad\u{ad}min\u{61c}x\u{180e}y"),
            "ad\\u{ad}min\\u{61c}x\\u{180e}y"
        );
    }

    #[test]
    fn the_result_is_always_one_line_without_a_single_control_character() {
        let every: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        let out = inert(&every);
        assert!(!out.chars().any(needs_escape), "{out}");
        assert!(!out.contains('\n'));
        // Escaping is idempotent: inert text has nothing left to escape.
        assert_eq!(inert(&out), out);
    }

    #[test]
    fn tag_characters_and_annotation_marks_are_escaped() {
        // `Lobby` followed by an invisible `ok` in tag characters.
        assert_eq!(
            inert("Lobby\u{e006f}\u{e006b}\u{fff9}"),
            "Lobby\\u{e006f}\\u{e006b}\\u{fff9}"
        );
    }

    #[test]
    fn the_display_wrapper_writes_the_same_text() {
        assert_eq!(format!("<{}>", Inert("a\u{1b}b")), "<a\\u{1b}b>");
    }
}
