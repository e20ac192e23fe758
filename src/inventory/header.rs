//! The header row: which column holds which field.

use std::collections::HashMap;

use super::RowError;
use super::errors::quoted;
use super::reader::Record;

/// The columns the inventory format defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Column {
    Id,
    Host,
    Model,
    Mac,
    Site,
    Unit,
    PowerVia,
    Credentials,
    Protocol,
    Method,
    DeviceId,
    Notes,
}

impl Column {
    const ALL: [Column; 12] = [
        Column::Id,
        Column::Host,
        Column::Model,
        Column::Mac,
        Column::Site,
        Column::Unit,
        Column::PowerVia,
        Column::Credentials,
        Column::Protocol,
        Column::Method,
        Column::DeviceId,
        Column::Notes,
    ];

    /// The header name, lower case.
    fn name(self) -> &'static str {
        match self {
            Column::Id => "id",
            Column::Host => "host",
            Column::Model => "model",
            Column::Mac => "mac",
            Column::Site => "site",
            Column::Unit => "unit",
            Column::PowerVia => "power_via",
            Column::Credentials => "credentials",
            Column::Protocol => "protocol",
            Column::Method => "method",
            Column::DeviceId => "device_id",
            Column::Notes => "notes",
        }
    }
}

/// Where each column is, read from the header row.
#[derive(Debug)]
pub(super) struct Columns {
    /// Line of the header row.
    pub line: u64,
    /// Fields in the header; every row must have as many.
    pub width: usize,
    /// Position of each known column, indexed by `Column as usize`.
    known: [Option<usize>; Column::ALL.len()],
    /// Columns the format doesn't define: position and lower-cased name.
    pub extra: Vec<(usize, String)>,
}

impl Columns {
    /// The value of `column` in a row, `None` when the column is absent or the field blank.
    pub fn get<'r>(&self, column: Column, fields: &'r [String]) -> Option<&'r str> {
        let value = fields.get(self.known[column as usize]?)?;
        (!value.is_empty()).then_some(value.as_str())
    }

    /// Whether the header has `column`.
    pub fn has(&self, column: Column) -> bool {
        self.known[column as usize].is_some()
    }
}

/// Reads the header row. The columns come back only when rows can be checked against them,
/// that is when `id` and `host` are there; the problems come back either way.
pub(super) fn columns(header: &Record) -> (Option<Columns>, Vec<RowError>) {
    let mut errors = Vec::new();
    let mut report = |message: String| {
        errors.push(RowError {
            line: header.line,
            message,
        })
    };
    let mut first_seen: HashMap<String, usize> = HashMap::new();
    let mut known = [None; Column::ALL.len()];
    let mut extra = Vec::new();
    for (i, name) in header.fields.iter().enumerate() {
        let name = name.to_lowercase();
        if name.is_empty() {
            report(format!("column {} has no name", i + 1));
            continue;
        }
        if let Some(first) = first_seen.get(&name) {
            report(format!(
                "duplicate column {} (columns {} and {})",
                quoted(&name),
                first + 1,
                i + 1
            ));
            continue;
        }
        first_seen.insert(name.clone(), i);
        match Column::ALL.into_iter().find(|column| column.name() == name) {
            Some(column) => known[column as usize] = Some(i),
            None => extra.push((i, name)),
        }
    }
    let mut complete = true;
    for required in [Column::Id, Column::Host] {
        if known[required as usize].is_none() {
            complete = false;
            report(format!(
                "missing required column {:?}; the first row that is not a comment must be \
                 the header, naming at least id and host",
                required.name()
            ));
        }
    }
    let columns = complete.then_some(Columns {
        line: header.line,
        width: header.fields.len(),
        known,
        extra,
    });
    (columns, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(fields: &[&str]) -> Record {
        Record {
            line: 3,
            fields: fields.iter().map(|f| f.to_string()).collect(),
        }
    }

    fn messages(errors: &[RowError]) -> Vec<(u64, &str)> {
        errors
            .iter()
            .map(|e| (e.line, e.message.as_str()))
            .collect()
    }

    #[test]
    fn names_match_in_any_order_and_any_case() {
        let (columns, errors) =
            columns(&header(&["Notes", "HOST", "Id", "Power_Via", "sim_fault"]));
        assert!(errors.is_empty());
        let columns = columns.unwrap();
        let row: Vec<String> = ["n", "10.0.0.1", "plug-1", "", "offline"]
            .map(String::from)
            .into();
        assert_eq!(columns.get(Column::Id, &row), Some("plug-1"));
        assert_eq!(columns.get(Column::Host, &row), Some("10.0.0.1"));
        assert_eq!(columns.get(Column::Notes, &row), Some("n"));
        assert_eq!(columns.get(Column::PowerVia, &row), None);
        assert_eq!(columns.get(Column::Mac, &row), None);
        assert_eq!(columns.extra, [(4, "sim_fault".to_string())]);
        assert_eq!((columns.line, columns.width), (3, 5));
    }

    #[test]
    fn a_missing_required_column_means_no_columns() {
        let (columns, errors) = columns(&header(&["id", "model"]));
        assert!(columns.is_none());
        assert_eq!(
            messages(&errors),
            [(
                3,
                "missing required column \"host\"; the first row that is not a comment must be \
                 the header, naming at least id and host"
            )]
        );
    }

    #[test]
    fn duplicate_and_unnamed_columns_are_reported_and_the_first_is_used() {
        let (columns, errors) = columns(&header(&["id", "host", "Host", "", "x", "X"]));
        assert_eq!(
            messages(&errors),
            [
                (3, "duplicate column \"host\" (columns 2 and 3)"),
                (3, "column 4 has no name"),
                (3, "duplicate column \"x\" (columns 5 and 6)"),
            ]
        );
        let columns = columns.unwrap();
        let row: Vec<String> = ["a", "first", "second", "", "1", "2"]
            .map(String::from)
            .into();
        assert_eq!(columns.get(Column::Host, &row), Some("first"));
        assert_eq!(columns.extra, [(4, "x".to_string())]);
    }
}
