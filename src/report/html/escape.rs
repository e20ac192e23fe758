//! The one HTML escaper of the reports (`report.html`, `work-orders.html`): text from the audit
//! is made inert ([`crate::inert`]: control and reordering characters shown as `\n`,
//! `\u{1b}`, …), then the five characters that mean something to HTML are escaped, so the
//! result is safe as element text and inside a double- or single-quoted attribute value. It is
//! never safe in a script, a style, a URL or an event handler, and the reports put no stored
//! text in any of those.

use crate::inert::inert;

/// Text made inert, then safe as HTML text or inside a double- or single-quoted attribute.
pub fn escape(text: &str) -> String {
    let text = inert(text);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_quotes_and_controls_are_escaped_and_the_rest_kept() {
        assert_eq!(
            escape("<img src=x onerror=alert(1)>"),
            "&lt;img src=x onerror=alert(1)&gt;"
        );
        assert_eq!(
            escape("\"><script>alert('1')</script>&amp;"),
            "&quot;&gt;&lt;script&gt;alert(&#39;1&#39;)&lt;/script&gt;&amp;amp;"
        );
        assert_eq!(escape("Küche\n\u{202e}x"), "Küche\\n\\u{202e}x");
    }
}
