use calamine::CellErrorType;

use super::*;

/// A record as (line, fields), or a problem as (line, message).
type Item = Result<(u64, Vec<String>), (u64, String)>;

fn s(text: &str) -> Data {
    Data::String(text.to_string())
}

fn read_rows(rows: &[(Vec<Data>, u64)], first_column: usize) -> Vec<Item> {
    read_rows_with(rows, first_column, &Uncached::new())
}

fn read_rows_with(
    rows: &[(Vec<Data>, u64)],
    first_column: usize,
    uncached: &Uncached,
) -> Vec<Item> {
    records(
        rows.iter().map(|(c, l)| (c.as_slice(), *l)),
        first_column,
        uncached,
        &[],
        &|_| false,
    )
    .into_iter()
    .map(|r| {
        r.map(|r| (r.line, r.fields))
            .map_err(|e| (e.line, e.message))
    })
    .collect()
}

fn owned(fields: &[&str]) -> Vec<String> {
    fields.iter().map(|f| f.to_string()).collect()
}

#[test]
fn rows_keep_the_sheets_numbers_and_lose_trailing_empty_cells() {
    let rows = vec![
        (vec![s("# fleet"), Data::Empty, Data::Empty], 3),
        (vec![s("id"), s("host"), s("unit"), Data::Empty], 4),
        (vec![Data::Empty, Data::Empty, Data::Empty, Data::Empty], 5),
        (
            vec![s(" plug-1 "), s("127.0.0.1"), Data::Float(204.0), s("  ")],
            6,
        ),
        (
            vec![s("plug-2"), s("127.0.0.2"), Data::Empty, Data::Empty],
            7,
        ),
    ];
    assert_eq!(
        read_rows(&rows, 0),
        [
            Ok((4, owned(&["id", "host", "unit"]))),
            Ok((6, owned(&["plug-1", "127.0.0.1", "204"]))),
            Ok((7, owned(&["plug-2", "127.0.0.2", ""]))),
        ]
    );
}

#[test]
fn an_error_cell_is_a_problem_naming_its_cell_and_column() {
    let rows = vec![
        (vec![s("id"), s("host"), s("MAC")], 1),
        (
            vec![s("a"), s("127.0.0.1"), Data::Error(CellErrorType::Ref)],
            2,
        ),
    ];
    assert_eq!(
        read_rows(&rows, 1),
        [
            Ok((1, owned(&["id", "host", "MAC"]))),
            Err((
                2,
                "cell D2 (\"mac\") holds the error #REF! instead of a value; fix what its \
                 formula refers to, or type the value"
                    .to_string()
            )),
        ]
    );
}

#[test]
fn a_formula_without_a_cached_value_is_a_problem_not_an_empty_cell() {
    // openpyxl's `ws["E2"] = "=E1"`: the cell reads as empty, its formula is all there is
    // (`uncached` grows the range to hold it).
    let rows = vec![
        (vec![s("id"), s("host"), s("x"), s("mac")], 1),
        (vec![s("a"), s("127.0.0.1"), Data::Empty, Data::Empty], 2),
    ];
    let uncached = Uncached::from([((1, 4), "E1".to_string())]);
    assert_eq!(
        read_rows_with(&rows, 1, &uncached)[1],
        Err((
            2,
            "cell E2 (\"mac\") holds the formula \"=E1\" but no value computed for it (the \
             file was written by a program that computes nothing); open and save it in a \
             spreadsheet program, or type the value"
                .to_string()
        ))
    );
}

#[test]
fn a_value_outside_the_headers_columns_is_a_problem() {
    let rows = vec![
        (vec![s("id"), s("host"), Data::Empty], 1),
        (vec![s("a"), s("127.0.0.1"), Data::Int(7)], 2),
    ];
    assert_eq!(
        read_rows(&rows, 0)[1],
        Err((
            2,
            "cell C2 holds \"7\", but the header row names no column there; name the column \
             in the header row, or clear the cell"
                .to_string()
        ))
    );
}

#[test]
fn an_oversized_cell_is_a_problem_without_its_value() {
    let rows = vec![
        (vec![s("id"), s("host")], 1),
        (vec![s("a"), s(&"x".repeat(MAX_FIELD_BYTES + 1))], 2),
    ];
    assert_eq!(
        read_rows(&rows, 0)[1],
        Err((
            2,
            format!(
                "cell B2 (\"host\") is {} bytes long; the limit is {MAX_FIELD_BYTES} bytes",
                MAX_FIELD_BYTES + 1
            )
        ))
    );
}

#[test]
fn the_default_sheet_is_the_first_visible_worksheet() {
    let sheet = |name: &str, typ, visible| calamine::Sheet {
        name: name.to_string(),
        typ,
        visible,
    };
    let sheets = [
        sheet("Old", SheetType::WorkSheet, SheetVisible::Hidden),
        sheet("Secret", SheetType::WorkSheet, SheetVisible::VeryHidden),
        sheet("Chart", SheetType::ChartSheet, SheetVisible::Visible),
        sheet("Fleet", SheetType::WorkSheet, SheetVisible::Visible),
        sheet("Later", SheetType::WorkSheet, SheetVisible::Visible),
    ];
    assert_eq!(first_visible(&sheets).unwrap(), "Fleet");
    assert_eq!(
        first_visible(&sheets[..2]).unwrap_err().to_string(),
        "the workbook has no visible worksheet (its sheets: \"Old\", \"Secret\"); pass --sheet \
         NAME to read one"
    );
    assert!(matches!(first_visible(&[]), Err(WorkbookError::NoSheets)));
}

#[test]
fn bytes_that_are_not_a_workbook_say_so() {
    let error = read(b"id,host\na,127.0.0.1\n", Format::Xlsx, None)
        .err()
        .unwrap();
    assert!(
        error
            .to_string()
            .starts_with("not an .xlsx workbook, or a damaged one (a CSV file named so?): "),
        "{error}"
    );
    assert!(read(b"", Format::Ods, None).is_err());
}
