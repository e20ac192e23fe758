//! The hidden rows of an `.xlsx` sheet, which calamine reads as any other: a row hidden (or
//! filtered out) is not what a person reading the sheet sees, as a hidden sheet is not, and
//! the devices on it must not be acted on unseen.
//!
//! Read from the sheet's XML: `xl/workbook.xml` names the sheet's relationship, the workbook's
//! relationships name its part, and the part's `<row r="N" hidden="1">` elements say which.

use std::collections::BTreeSet;
use std::io::{Cursor, Read};

use quick_xml::Reader;
use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};

/// 0-based numbers of the hidden rows of the sheet named `sheet` in the `.xlsx` `bytes`.
pub(super) fn rows(bytes: &[u8], sheet: &str) -> Result<BTreeSet<u32>, String> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let mut part = |wanted: &str| -> Result<String, String> {
        // Part names are matched ignoring case, as calamine matches them.
        let name = zip
            .file_names()
            .flatten()
            .find(|n| n.eq_ignore_ascii_case(wanted))
            .map_or_else(|| wanted.to_string(), |n| n.into_owned());
        let mut text = String::new();
        zip.by_name(&name)
            .map_err(|e| format!("{name}: {e}"))?
            .read_to_string(&mut text)
            .map_err(|e| format!("{name}: {e}"))?;
        Ok(text)
    };
    let workbook = part("xl/workbook.xml")?;
    let id = find(&workbook, "sheet", |e| {
        (attribute(e, "name").as_deref() == Some(sheet))
            .then(|| relationship_id(e))
            .flatten()
    })?
    .ok_or_else(|| format!("xl/workbook.xml names no sheet {sheet:?}"))?;
    let relationships = part("xl/_rels/workbook.xml.rels")?;
    let target = find(&relationships, "Relationship", |e| {
        (attribute(e, "Id").as_deref() == Some(id.as_str()))
            .then(|| attribute(e, "Target"))
            .flatten()
    })?
    .ok_or_else(|| format!("no part for the sheet {sheet:?}"))?;
    let path = match target.strip_prefix('/') {
        Some(absolute) => absolute.to_string(),
        None => format!("xl/{target}"),
    };
    hidden_rows(&part(&path)?)
}

/// The rows marked hidden in a worksheet part. A `<row>` without `r` follows the one before.
fn hidden_rows(xml: &str) -> Result<BTreeSet<u32>, String> {
    let mut reader = Reader::from_str(xml);
    let mut hidden = BTreeSet::new();
    let mut next = 0u32;
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "row" => {
                let row = match attribute(&e, "r") {
                    Some(r) => r
                        .parse::<u32>()
                        .ok()
                        .and_then(|r| r.checked_sub(1))
                        .ok_or_else(|| format!("a row numbered {r:?}"))?,
                    None => next,
                };
                if matches!(attribute(&e, "hidden").as_deref(), Some("1" | "true")) {
                    hidden.insert(row);
                }
                next = row.saturating_add(1);
            }
            Event::Eof => return Ok(hidden),
            _ => {}
        }
    }
}

/// The first `element` for which `pick` gives a value.
fn find(
    xml: &str,
    element: &str,
    pick: impl Fn(&BytesStart) -> Option<String>,
) -> Result<Option<String>, String> {
    let mut reader = Reader::from_str(xml);
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == element => {
                if let Some(value) = pick(&e) {
                    return Ok(Some(value));
                }
            }
            Event::Eof => return Ok(None),
            _ => {}
        }
    }
}

/// The unescaped value of the attribute named `name` (without a prefix).
fn attribute(e: &BytesStart, name: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == name)
        .and_then(|a| a.normalized_value(XmlVersion::Implicit1_0).ok())
        .map(|v| v.into_owned())
}

/// A `<sheet>`'s relationship id: `r:id`, whatever the prefix of the relationships namespace.
fn relationship_id(e: &BytesStart) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.prefix().is_some() && a.key.local_name().as_ref() == "id")
        .and_then(|a| a.normalized_value(XmlVersion::Implicit1_0).ok())
        .map(|v| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_rows_are_read_by_number_or_by_order() {
        let xml = r#"<worksheet><sheetData>
            <row r="1"><c r="A1"/></row>
            <row r="3" hidden="1"><c r="A3"/></row>
            <row hidden="true"/>
            <row r="9" hidden="0"/>
            <row r="10" hidden="1"/>
        </sheetData></worksheet>"#;
        assert_eq!(hidden_rows(xml).unwrap(), BTreeSet::from([2, 3, 9]));
        assert!(hidden_rows(r#"<row r="0" hidden="1"/>"#).is_err());
    }
}
