//! Writing for people on stderr in a way that can never stop the work.
//!
//! `say!` panics when stderr is gone: a closed pipe (`fleetreset run … 2>&1 | head -3`),
//! a terminal that was closed, a full disk behind `2>run.log`. A run that panics there leaves
//! jobs without outcomes and writes no reports, so every message of ours goes through [`say!`],
//! which drops a line it can't write and carries on. What a device said must be made
//! [`inert`](crate::inert::inert) before it is formatted into a line.

use std::fmt;
use std::io::Write;

/// Writes one line to stderr; a failed write is ignored. Use through [`say!`].
pub fn say_line(args: fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| err.write_all(b"\n"));
}

/// Writes text to stderr without a line end (a prompt); a failed write is ignored.
pub fn say_partial(args: fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| err.flush());
}

/// `say!` that never panics: a line for people on stderr, dropped if stderr is gone.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::output::say_line(format_args!($($arg)*))
    };
}

/// `say_prompt!` that never panics, for prompts.
macro_rules! say_prompt {
    ($($arg:tt)*) => {
        $crate::output::say_partial(format_args!($($arg)*))
    };
}

pub(crate) use say;
pub(crate) use say_prompt;

/// The status a command decided on, whatever became of printing it: a reader that went away
/// (`fleetreset check bad.csv | head -1`, `… | true`) changes nothing about what the command
/// found. Any other output error is an error.
pub fn despite_closed_pipe(
    status: crate::exit::Status,
    printed: std::io::Result<()>,
) -> anyhow::Result<crate::exit::Status> {
    match printed {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(status),
    }
}

/// Whether the error is a closed stdout, however it was wrapped: plain, or inside the JSON
/// or CSV writer that met it.
pub fn is_closed_pipe(err: &anyhow::Error) -> bool {
    use std::io::ErrorKind::BrokenPipe;
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == BrokenPipe)
            || cause
                .downcast_ref::<serde_json::Error>()
                .is_some_and(|e| e.io_error_kind() == Some(BrokenPipe))
            || cause.downcast_ref::<csv::Error>().is_some_and(
                |e| matches!(e.kind(), csv::ErrorKind::Io(io) if io.kind() == BrokenPipe),
            )
    })
}

/// Whether colour may be used on stderr: only on a terminal, and never when `NO_COLOR` is set
/// to anything non-empty (<https://no-color.org>).
pub fn colour_on_stderr() -> bool {
    use std::io::IsTerminal;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && std::io::stderr().is_terminal()
}

/// How every time people read is written: wall-clock time with its UTC offset, so a time
/// copied into a ticket means one moment (`2026-12-01 14:03:07 +01:00`).
pub const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S %:z";

/// `t` in [`TIME_FORMAT`], in its own zone (callers pass local time for people).
pub fn local_time<Tz: chrono::TimeZone>(t: &chrono::DateTime<Tz>) -> String
where
    Tz::Offset: fmt::Display,
{
    t.format(TIME_FORMAT).to_string()
}

/// A duration for people, whole seconds past a minute: `850 ms`, `4.2 s`, `3 min 20 s`,
/// `2 h 5 min`. Say with it which clock it is (real time, or device time at a time scale).
pub fn duration(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    if d < std::time::Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else if secs < 60 {
        format!("{:.1} s", d.as_secs_f64())
    } else if secs < 3600 {
        format!("{} min {} s", secs / 60, secs % 60)
    } else {
        format!("{} h {} min", secs / 3600, (secs % 3600) / 60)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn durations_read_in_the_unit_that_fits() {
        assert_eq!(super::duration(Duration::from_millis(850)), "850 ms");
        assert_eq!(super::duration(Duration::from_millis(4210)), "4.2 s");
        assert_eq!(super::duration(Duration::from_secs(200)), "3 min 20 s");
        assert_eq!(super::duration(Duration::from_secs(7500)), "2 h 5 min");
    }
}
