//! What a sheet's cells don't say of it, which calamine doesn't read: its hidden (or
//! filtered-out) rows, and for `.ods` its merged cells. A hidden row is not what a person
//! reading the sheet sees, as a hidden sheet is not, and the devices on it must not be acted on
//! unseen; a merged cell shows its value across cells that hold none.
//!
//! `.xlsx`: `xl/workbook.xml` names the sheet's relationship, the workbook's relationships name
//! its part, and the part's `<row r="N" hidden="1">` elements say which rows are hidden (calamine
//! reads the merged cells). `.ods`: `content.xml`'s `<table:table-row table:visibility=…>`, with
//! `table:number-rows-repeated`, and cells' `table:number-rows-spanned`/`…-columns-spanned`.

use std::io::{Cursor, Read};
use std::ops::RangeInclusive;

use calamine::Dimensions;

use quick_xml::Reader;
use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};

/// A sheet's merged cells and hidden rows, 0-based.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Layout {
    pub merged: Vec<Dimensions>,
    pub hidden_rows: Vec<RangeInclusive<u32>>,
}

impl Layout {
    pub fn is_hidden(&self, row: u32) -> bool {
        self.hidden_rows.iter().any(|r| r.contains(&row))
    }
}

fn archive(bytes: &[u8]) -> Result<zip::ZipArchive<Cursor<&[u8]>>, String> {
    zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| e.to_string())
}

/// The text of the part `wanted`, its name matched ignoring case, as calamine matches it.
fn part(zip: &mut zip::ZipArchive<Cursor<&[u8]>>, wanted: &str) -> Result<String, String> {
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
}

/// The hidden rows of the sheet named `sheet` in the `.xlsx` `bytes`.
pub(super) fn xlsx_hidden_rows(
    bytes: &[u8],
    sheet: &str,
) -> Result<Vec<RangeInclusive<u32>>, String> {
    let mut zip = archive(bytes)?;
    let mut part = |name: &str| part(&mut zip, name);
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
fn hidden_rows(xml: &str) -> Result<Vec<RangeInclusive<u32>>, String> {
    let mut reader = Reader::from_str(xml);
    let mut hidden = Vec::new();
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
                    hidden.push(row..=row);
                }
                next = row.saturating_add(1);
            }
            Event::Eof => return Ok(hidden),
            _ => {}
        }
    }
}

/// The layout of the table named `sheet` in the `.ods` `bytes`.
pub(super) fn ods(bytes: &[u8], sheet: &str) -> Result<Layout, String> {
    let content = part(&mut archive(bytes)?, "content.xml")?;
    let mut reader = Reader::from_str(&content);
    let mut layout = Layout::default();
    let count = |e: &BytesStart, name: &str| -> Result<u32, String> {
        local_attribute(e, name).map_or(Ok(1), |n| {
            n.parse::<u32>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("{name} {n:?}"))
        })
    };
    let mut inside = false;
    let mut row = 0u32;
    loop {
        let (e, empty) = match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(e) if inside && e.local_name().as_ref() == "table" => return Ok(layout),
            Event::Eof => return Ok(layout),
            _ => continue,
        };
        match e.local_name().as_ref() {
            "table" if !inside => {
                inside = local_attribute(&e, "name").as_deref() == Some(sheet) && !empty;
            }
            "table-row" if inside => {
                let repeated = count(&e, "number-rows-repeated")?;
                let last = row.saturating_add(repeated - 1);
                if matches!(
                    local_attribute(&e, "visibility").as_deref(),
                    Some("collapse" | "filter")
                ) {
                    layout.hidden_rows.push(row..=last);
                }
                let this = row;
                row = last.saturating_add(1);
                if !empty {
                    row_cells(&mut reader, this, &mut 0, &mut layout, &count)?;
                }
            }
            _ => {}
        }
    }
}

/// Reads the cells of the row numbered `row` up to its end, noting merged (spanned) cells.
fn row_cells(
    reader: &mut Reader<&[u8]>,
    row: u32,
    column: &mut u32,
    layout: &mut Layout,
    count: &dyn Fn(&BytesStart, &str) -> Result<u32, String>,
) -> Result<(), String> {
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(e) | Event::Empty(e)
                if matches!(e.local_name().as_ref(), "table-cell" | "covered-table-cell") =>
            {
                let rows = count(&e, "number-rows-spanned")?;
                let columns = count(&e, "number-columns-spanned")?;
                if rows > 1 || columns > 1 {
                    layout.merged.push(Dimensions {
                        start: (row, *column),
                        end: (
                            row.saturating_add(rows - 1),
                            column.saturating_add(columns - 1),
                        ),
                    });
                }
                *column = column.saturating_add(count(&e, "number-columns-repeated")?);
            }
            Event::End(e) if e.local_name().as_ref() == "table-row" => return Ok(()),
            Event::Eof => return Err("content.xml ends inside a row".to_string()),
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

/// The value of the attribute whose name without its prefix is `name` (`table:name`).
fn local_attribute(e: &BytesStart, name: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .and_then(|a| a.normalized_value(XmlVersion::Implicit1_0).ok())
        .map(|v| v.into_owned())
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
        assert_eq!(hidden_rows(xml).unwrap(), [2..=2, 3..=3, 9..=9]);
        assert!(hidden_rows(r#"<row r="0" hidden="1"/>"#).is_err());
    }

    fn ods_bytes(tables: &str) -> Vec<u8> {
        let mut bytes = Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut bytes);
        zip.start_file("content.xml", zip::write::SimpleFileOptions::default())
            .unwrap();
        let content = format!(
            r#"<office:document-content xmlns:office="o" xmlns:table="t" xmlns:text="x">
               <office:body><office:spreadsheet>{tables}</office:spreadsheet></office:body>
               </office:document-content>"#
        );
        std::io::Write::write_all(&mut zip, content.as_bytes()).unwrap();
        zip.finish().unwrap();
        bytes.into_inner()
    }

    #[test]
    fn an_ods_tables_hidden_rows_and_spanned_cells_are_found_by_sheet_name() {
        let bytes = ods_bytes(
            r#"<table:table table:name="Other"><table:table-row table:visibility="collapse">
                 <table:table-cell table:number-rows-spanned="2"/></table:table-row></table:table>
               <table:table table:name="Fleet">
                 <table:table-row><table:table-cell/></table:table-row>
                 <table:table-row>
                   <table:table-cell table:number-columns-repeated="2"/>
                   <table:table-cell table:number-rows-spanned="2"><text:p>X</text:p></table:table-cell>
                 </table:table-row>
                 <table:table-row table:visibility="collapse" table:number-rows-repeated="3"/>
                 <table:table-row table:visibility="filter"><table:covered-table-cell/></table:table-row>
                 <table:table-row table:number-rows-repeated="1048000"/>
               </table:table>"#,
        );
        assert_eq!(
            ods(&bytes, "Fleet").unwrap(),
            Layout {
                merged: vec![Dimensions {
                    start: (1, 2),
                    end: (2, 2)
                }],
                hidden_rows: vec![2..=4, 5..=5],
            }
        );
        assert_eq!(ods(&bytes, "Missing").unwrap(), Layout::default());
    }
}
