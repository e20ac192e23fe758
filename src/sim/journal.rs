//! The simulator's journal: what the simulated devices received, one flushed line each.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// A file of what the simulated devices received, one line each:
/// `<RFC 3339 time> <device id> <reboot|reset|login_failed|discovery>`: every disruptive
/// command, failed login and discovery probe; and the power graph's `outlet_off N`,
/// `outlet_on N`, `power_lost` and `power_back` ([`super::power`]). Lets a rehearsal (or a
/// test) prove what each device was actually sent, independently of what the runner recorded.
#[derive(Debug)]
pub struct Journal {
    file: Mutex<std::fs::File>,
}

impl Journal {
    /// Opens (appending) or creates the journal file.
    pub fn open(path: &std::path::Path) -> std::io::Result<Journal> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Journal {
            file: Mutex::new(file),
        })
    }

    /// Appends one line with one `write` to the unbuffered file, so a reader (a test, while
    /// the simulator runs) sees whole lines and a crash of anything else loses nothing.
    pub fn record(&self, device: &str, command: &str) {
        let line = line(chrono::Utc::now(), device, command);
        let mut f = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Err(e) = f.write_all(line.as_bytes()) {
            tracing::error!("cannot write the simulator journal: {e}");
        }
    }
}

/// `<time> <device> <command>\n`, built in one buffer sized up front.
fn line(at: chrono::DateTime<chrono::Utc>, device: &str, command: &str) -> String {
    use std::fmt::Write as _;
    // An RFC 3339 time with nanoseconds and `+00:00` is 35 bytes.
    let mut line = String::with_capacity(40 + device.len() + command.len());
    let _ = writeln!(line, "{} {device} {command}", at.to_rfc3339());
    line
}

/// One device's way into a [`Journal`], with the row id its lines carry. Writes nothing when
/// the simulator keeps no journal. Cheap to clone: a device's state, account and server each
/// hold one.
#[derive(Debug, Clone, Default)]
pub struct JournalHandle {
    row_id: Arc<str>,
    journal: Option<Arc<Journal>>,
}

impl JournalHandle {
    pub fn new(row_id: &str, journal: Option<Arc<Journal>>) -> JournalHandle {
        JournalHandle {
            row_id: row_id.into(),
            journal,
        }
    }

    /// Appends `<time> <row id> <command>`.
    pub fn record(&self, command: &str) {
        if let Some(j) = &self.journal {
            j.record(&self.row_id, command);
        }
    }

    /// The row id, for log lines.
    pub fn device(&self) -> &str {
        &self.row_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_line_is_the_rfc_3339_time_the_device_and_the_command() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-01T18:20:15.123456789Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(
            line(at, "plug-7", "reboot"),
            "2026-12-01T18:20:15.123456789+00:00 plug-7 reboot\n"
        );
    }

    #[test]
    fn every_record_is_one_whole_line_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let journal = Arc::new(Journal::open(&path).unwrap());
        let a = JournalHandle::new("a", Some(Arc::clone(&journal)));
        a.record("reboot");
        a.clone().record("outlet_off 1");
        JournalHandle::new("b", None).record("reset");
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Vec<&str>> = text
            .lines()
            .map(|l| l.split_once(' ').unwrap().1.split(' ').collect())
            .collect();
        assert_eq!(lines, [vec!["a", "reboot"], vec!["a", "outlet_off", "1"]]);
    }
}
