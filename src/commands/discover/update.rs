//! `discover --update FILE`: move the hosts of an inventory's rows to where discovery found
//! their MACs, and say which rows it did not find.
//!
//! A CSV file is rewritten in place, line by line, so comments, the delimiter, a BOM, the line
//! endings and the encoding (Windows-1252 included: only ASCII addresses change) all stay; the
//! old file is kept as `FILE.bak`. A workbook is never rewritten: the updated rows are written
//! as CSV to `--out` (UTF-8, `,`, LF). With `--out`, a CSV inventory is also left as it is and
//! the updated copy written there.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;

use anyhow::Context;

use super::Row;
use crate::exit::Status;
use crate::inert::Inert;
use crate::inventory::{self, Device, Format, Host, Inventory, LoadError, MacAddr, ReadOptions};
use crate::output::say;

/// One row to move.
struct Move<'a> {
    device: &'a Device,
    to: Host,
}

/// Updates the inventory at `path` (read with `options`) from the discovered `rows`. `rows`
/// hold only addresses `check` accepts, and the updated inventory is parsed before it is
/// written: when the moves would leave a problem (two rows at one address, say, because a
/// device took an address a row still claims), nothing is written.
pub(super) fn update(
    path: &Path,
    options: &ReadOptions,
    out: Option<&Path>,
    rows: &[Row],
) -> anyhow::Result<Status> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read inventory {}", path.display()))?;
    let inv = match inventory::parse_with(path, &bytes, options) {
        Ok(inv) => inv,
        Err(LoadError::Invalid(errors)) => {
            say!("{errors}");
            say!(
                "fleetreset: fix {} first (see `fleetreset check`); nothing was changed",
                path.display()
            );
            return Ok(Status::BadInput);
        }
        Err(other) => return Err(other.into()),
    };
    for warning in inv.warning_lines() {
        say!("{warning}");
    }
    let workbook = Format::of(path).is_workbook();
    if workbook && out.is_none() {
        say!(
            "fleetreset: {} is a workbook, and discover never rewrites one; pass --out FILE.csv \
             to write the updated inventory as CSV. Nothing was changed.",
            path.display()
        );
        return Ok(Status::BadInput);
    }
    if let Some(out) = out.filter(|o| Format::of(o).is_workbook()) {
        say!(
            "fleetreset: --out {} names a workbook, but the updated inventory is written as \
             CSV; name it .csv",
            out.display()
        );
        return Ok(Status::BadInput);
    }
    let by_mac: HashMap<MacAddr, &Row> =
        rows.iter().filter_map(|r| r.mac.map(|m| (m, r))).collect();
    let moves = moves(&inv, &by_mac);
    let updated = if workbook {
        let sheet_rows = inventory::sheet_rows(path, &bytes, inv.sheet.as_deref())?;
        sheet_csv(&sheet_rows, &moves)?
    } else {
        let Some(updated) = patched(&inv, &bytes, &moves) else {
            return Ok(Status::BadInput);
        };
        updated
    };
    if !moves.is_empty() || out.is_some() {
        let reread = match out {
            Some(out) => inventory::parse(out, &updated),
            None => inventory::parse_with(path, &updated, &inv.read).map_err(|e| match e {
                LoadError::Invalid(errors) => errors,
                // The same bytes but the moved addresses, read as the file was.
                other => inv.errors(vec![inventory::RowError {
                    line: 1,
                    message: format!("{other:#}"),
                }]),
            }),
        };
        if let Err(errors) = reread {
            say!("{errors}");
            say!(
                "fleetreset: moving the hosts found would leave {} with the problems above; \
                 nothing was changed",
                out.unwrap_or(path).display()
            );
            return Ok(Status::BadInput);
        }
    }
    let mut stdout = std::io::stdout().lock();
    for m in &moves {
        writeln!(
            stdout,
            "moved {}: {} -> {} (MAC {})",
            Inert(&m.device.id),
            m.device.host,
            m.to,
            m.device.mac.map(|m| m.to_string()).unwrap_or_default()
        )?;
    }
    for d in inv
        .devices
        .iter()
        .filter(|d| d.mac.is_some_and(|m| !by_mac.contains_key(&m)))
    {
        writeln!(
            stdout,
            "not found: {} (MAC {}) at {}, {}:{}",
            Inert(&d.id),
            d.mac.map(|m| m.to_string()).unwrap_or_default(),
            d.host,
            inv.location(),
            d.line
        )?;
    }
    let without_mac = inv.devices.iter().filter(|d| d.mac.is_none()).count();
    if without_mac > 0 {
        say!(
            "fleetreset: {without_mac} row(s) of {} have no MAC, so discovery can't look for \
             them",
            inv.location()
        );
    }
    let known: HashSet<MacAddr> = inv.devices.iter().filter_map(|d| d.mac).collect();
    for r in rows
        .iter()
        .filter(|r| r.mac.is_some_and(|m| !known.contains(&m)))
    {
        writeln!(
            stdout,
            "not in the inventory: {} {} at {}",
            r.model,
            r.mac.map(|m| m.to_string()).unwrap_or_default(),
            r.host
        )?;
    }
    match out {
        Some(out) => {
            std::fs::write(out, &updated).with_context(|| format!("writing {}", out.display()))?;
            writeln!(
                stdout,
                "{} host(s) updated, written to {} ({} left as it was)",
                moves.len(),
                out.display(),
                inv.location()
            )?;
        }
        None => {
            if !moves.is_empty() {
                replace(path, &updated)?;
            }
            writeln!(
                stdout,
                "{} host(s) updated in {}",
                moves.len(),
                path.display()
            )?;
        }
    }
    Ok(Status::Success)
}

/// The rows whose MAC answered at another address, and where; a new address `check` would
/// refuse is reported and not taken.
fn moves<'a>(inv: &'a Inventory, by_mac: &HashMap<MacAddr, &Row>) -> Vec<Move<'a>> {
    let mut moves = Vec::new();
    for d in &inv.devices {
        let Some(found) = d.mac.and_then(|mac| by_mac.get(&mac)) else {
            continue;
        };
        let found_ip = found.ip.to_string();
        if d.host.ip() == Some(found.ip) || d.host.name == found_ip {
            continue;
        }
        let to = Host {
            name: found_ip,
            port: d.host.port,
        };
        if let Some(reason) = to.unicast_problem() {
            say!(
                "{}:{}: {}: answered at {to}, which is {reason}; not moved",
                inv.location(),
                d.line,
                Inert(&d.id)
            );
            continue;
        }
        moves.push(Move { device: d, to });
    }
    moves
}

/// The CSV file's bytes with each move's host field replaced in its record (which may span
/// lines: a quoted field can hold line breaks). `None` (said why) when a row can't be
/// rewritten.
fn patched(inv: &Inventory, bytes: &[u8], moves: &[Move<'_>]) -> Option<Vec<u8>> {
    let delimiter = inv.read.delimiter.unwrap_or(b',');
    let mut lines: Vec<Vec<u8>> = bytes
        .split_inclusive(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect();
    for m in moves {
        let idx = usize::try_from(m.device.line - 1).unwrap_or(usize::MAX);
        let record = record_lines(&lines, idx);
        let replaced = record.clone().and_then(|r| {
            replace_field(
                &lines[r.clone()].concat(),
                delimiter,
                m.device.host.to_string().as_bytes(),
                m.to.to_string().as_bytes(),
            )
        });
        let (Some(r), Some(replaced)) = (record, replaced) else {
            say!(
                "{}:{}: {}: moved to {}, but the row could not be rewritten; edit it by hand. \
                 Nothing was changed.",
                inv.location(),
                m.device.line,
                Inert(&m.device.id),
                m.to
            );
            return None;
        };
        lines[r.start] = replaced;
        for line in &mut lines[r.start + 1..r.end] {
            line.clear();
        }
    }
    Some(lines.concat())
}

/// The lines of the record that starts on line `idx` (0-based): up to the line where its
/// quotes balance. `None` when it never ends.
fn record_lines(lines: &[Vec<u8>], idx: usize) -> Option<std::ops::Range<usize>> {
    let mut quotes = 0usize;
    for (end, line) in lines.iter().enumerate().skip(idx) {
        quotes += line.iter().filter(|&&b| b == b'"').count();
        if quotes.is_multiple_of(2) {
            return Some(idx..end + 1);
        }
    }
    None
}

/// A workbook's rows as CSV, with each move's host in the `host` column.
fn sheet_csv(rows: &[(u64, Vec<String>)], moves: &[Move<'_>]) -> anyhow::Result<Vec<u8>> {
    let to: HashMap<u64, String> = moves
        .iter()
        .map(|m| (m.device.line, m.to.to_string()))
        .collect();
    let host_column = rows
        .first()
        .and_then(|(_, header)| header.iter().position(|h| h.eq_ignore_ascii_case("host")));
    let mut w = csv::Writer::from_writer(Vec::new());
    for (line, fields) in rows {
        let mut fields = fields.clone();
        if let (Some(host), Some(i)) = (to.get(line), host_column) {
            fields[i] = host.clone();
        }
        w.write_record(&fields)?;
    }
    Ok(w.into_inner().map_err(|e| e.into_error())?)
}

/// Writes `updated` over `path`, keeping the old file as `path.bak`.
fn replace(path: &Path, updated: &[u8]) -> anyhow::Result<()> {
    let mut backup = path.as_os_str().to_owned();
    backup.push(".bak");
    std::fs::copy(path, &backup)
        .with_context(|| format!("keeping a backup at {}", Path::new(&backup).display()))?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, updated).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))
}

/// Replaces the one field of a CSV record (separated by `delimiter`) equal to `old` (trimmed)
/// with `new`, keeping the line ending. Fields are split outside quotes only, so an address
/// inside a quoted note is never taken for the host. Works on bytes, so any ASCII-compatible
/// encoding stays.
pub(super) fn replace_field(line: &[u8], delimiter: u8, old: &[u8], new: &[u8]) -> Option<Vec<u8>> {
    let body_len = line.len()
        - line
            .iter()
            .rev()
            .take_while(|b| matches!(b, b'\n' | b'\r'))
            .count();
    let (body, ending) = line.split_at(body_len);
    let mut fields: Vec<&[u8]> = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (i, &b) in body.iter().enumerate() {
        if b == b'"' {
            quoted = !quoted;
        } else if b == delimiter && !quoted {
            fields.push(&body[start..i]);
            start = i + 1;
        }
    }
    fields.push(&body[start..]);
    let hits: Vec<usize> = fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.trim_ascii() == old)
        .map(|(i, _)| i)
        .collect();
    let [i] = hits.as_slice() else { return None };
    fields[*i] = new;
    let mut out = fields.join(&delimiter);
    out.extend_from_slice(ending);
    Some(out)
}
