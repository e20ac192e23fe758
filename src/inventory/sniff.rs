//! Files that are no inventory in any format we read, told by their first bytes, so that the
//! person gets what the file is and how to save it, not a page of CSV problems about its
//! binary content: an old `.xls`, a password-protected workbook, UTF-16 text, a workbook named
//! `.csv`.

use super::Format;

/// The OLE2 compound file signature: Excel 97–2003 `.xls`, and also every encrypted
/// (password-protected) `.xlsx`, which Office wraps in such a container.
const OLE2: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";
/// A zip local file header: `.xlsx` and `.ods` are zip archives.
const ZIP: &[u8] = b"PK\x03\x04";
const UTF16_LE: &[u8] = b"\xFF\xFE";
const UTF16_BE: &[u8] = b"\xFE\xFF";

/// Why `bytes` can't be read as `format`, when their first bytes already say.
pub(super) fn problem(bytes: &[u8], format: Format) -> Option<String> {
    if bytes.starts_with(OLE2) {
        return Some(
            "an old Excel workbook (.xls, Excel 97-2003) or a password-protected one; \
             fleetreset reads .xlsx, .ods and CSV: save it as .xlsx without a password, or as \
             \"CSV UTF-8\""
                .to_string(),
        );
    }
    if format.is_workbook() {
        return None;
    }
    if bytes.starts_with(ZIP) {
        return Some(
            "a zip archive, perhaps a workbook named .csv; give a workbook its own extension \
             (.xlsx or .ods), or save the sheet as \"CSV UTF-8\""
                .to_string(),
        );
    }
    // UTF-16 text starts with its byte order mark; a UTF-8 BOM is EF BB BF, so no overlap.
    if bytes.starts_with(UTF16_LE) || bytes.starts_with(UTF16_BE) {
        return Some(
            "UTF-16 text (Excel's \"Unicode Text\"); save the sheet as \"CSV UTF-8\" instead"
                .to_string(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_xls_or_an_encrypted_workbook_is_named_whatever_its_extension() {
        let xls = [OLE2, b"rest of the compound file"].concat();
        for format in [Format::Csv, Format::Xlsx, Format::Ods] {
            let found = problem(&xls, format).unwrap();
            assert!(found.starts_with("an old Excel workbook (.xls"), "{found}");
        }
    }

    #[test]
    fn utf16_text_and_a_zip_are_named_only_where_a_csv_is_expected() {
        let utf16 = "\u{FEFF}id\thost\r\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect::<Vec<u8>>();
        assert!(
            problem(&utf16, Format::Csv)
                .unwrap()
                .starts_with("UTF-16 text")
        );
        assert!(
            problem(b"PK\x03\x04...", Format::Csv)
                .unwrap()
                .starts_with("a zip archive")
        );
        assert_eq!(problem(b"PK\x03\x04...", Format::Xlsx), None);
    }

    #[test]
    fn csv_with_or_without_a_utf8_bom_passes() {
        assert_eq!(problem(b"\xEF\xBB\xBFid,host\r\n", Format::Csv), None);
        assert_eq!(problem(b"id,host\n", Format::Csv), None);
        assert_eq!(problem(b"", Format::Csv), None);
    }
}
