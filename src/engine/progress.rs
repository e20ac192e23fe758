//! What the person watching a run sees on stderr: a live bar on a terminal, plain lines
//! otherwise. Only the collector drives it, never the jobs.

use crate::output::say;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::inert::Inert;
use crate::model::Outcome;

use super::job::JobResult;

/// How progress is shown.
pub enum ProgressView {
    /// A live bar (done, failed, in flight, rate, ETA) with failures printed above it.
    Bar(Bar),
    /// One line per finished job on stderr, for logs and pipes.
    Lines(Tally),
    /// Nothing (tests, `--json` consumers that capture stderr too).
    Quiet(Tally),
}

#[derive(Debug, Default)]
pub struct Tally {
    total: usize,
    done: usize,
    failed: usize,
    in_flight: usize,
}

pub struct Bar {
    bar: ProgressBar,
    tally: Tally,
    started: Instant,
}

/// The bar's line: the spinner, real time elapsed, a bar as wide as what is left of the
/// terminal's width, and the counts ([`message`]).
const TEMPLATE: &str = "{spinner} {elapsed_precise} [{wide_bar}] {pos}/{len} {msg}";

/// The narrowest terminal the bar's line must fit: the classic 80 columns.
pub const MIN_COLUMNS: usize = 80;

/// Columns the template takes besides the bar and the message, at `total` jobs: spinner and
/// space, `HH:MM:SS` and space, the brackets, space, `pos/len`, space.
#[cfg(test)]
fn fixed_columns(total: usize) -> usize {
    let n = total.to_string().len();
    2 + 9 + 2 + 1 + (2 * n + 1) + 1
}

impl ProgressView {
    /// A bar when stderr is a terminal, lines otherwise. The bar draws at once and keeps
    /// redrawing its line: create it only once nothing else waits on that line (a question).
    pub fn for_stderr() -> ProgressView {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(TEMPLATE)
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            bar.set_message("getting ready");
            bar.enable_steady_tick(Duration::from_millis(200));
            ProgressView::Bar(Bar {
                bar,
                tally: Tally::default(),
                started: Instant::now(),
            })
        } else {
            ProgressView::Lines(Tally::default())
        }
    }

    fn tally(&mut self) -> &mut Tally {
        match self {
            ProgressView::Bar(b) => &mut b.tally,
            ProgressView::Lines(t) | ProgressView::Quiet(t) => t,
        }
    }

    /// What the run is waiting for before its first job (the database, discovery), on the
    /// bar, or as a line with `-v`.
    pub fn waiting(&self, what: &str) {
        match self {
            ProgressView::Bar(b) => b.bar.set_message(format!("waiting: {what}")),
            ProgressView::Lines(_) | ProgressView::Quiet(_) => tracing::info!("{what}"),
        }
    }

    pub fn begin(&mut self, total: usize) {
        self.tally().total = total;
        if let ProgressView::Bar(b) = self {
            b.bar.set_length(total as u64);
            b.started = Instant::now();
            b.refresh();
        }
    }

    pub fn started(&mut self, device: &str) {
        tracing::debug!(device = %Inert(device), "job started");
        self.tally().in_flight += 1;
        if let ProgressView::Bar(b) = self {
            b.refresh();
        }
    }

    pub fn finished(&mut self, r: &JobResult) {
        let t = self.tally();
        t.in_flight = t.in_flight.saturating_sub(1);
        t.done += 1;
        if r.outcome == Outcome::Failed {
            t.failed += 1;
        }
        let line = format!(
            "[{:>w$}/{}] {} {}{}: {}",
            t.done,
            t.total,
            Inert(&r.device_id),
            r.outcome,
            r.reason.map(|x| format!(" ({x})")).unwrap_or_default(),
            r.detail,
            w = t.total.to_string().len(),
        );
        match self {
            ProgressView::Bar(b) => {
                if r.outcome != Outcome::Succeeded {
                    b.bar.println(line);
                }
                b.bar.inc(1);
                b.refresh();
            }
            ProgressView::Lines(_) => say!("{line}"),
            ProgressView::Quiet(_) => {}
        }
    }

    /// One more item done, without a job result (dry runs).
    pub fn advance(&mut self) {
        let t = self.tally();
        t.in_flight = t.in_flight.saturating_sub(1);
        t.done += 1;
        if let ProgressView::Bar(b) = self {
            b.bar.inc(1);
            b.refresh();
        }
    }

    /// A message for the person, above the bar if there is one.
    pub fn note(&self, msg: &str) {
        match self {
            ProgressView::Bar(b) => b.bar.println(msg),
            ProgressView::Lines(_) => say!("{msg}"),
            ProgressView::Quiet(_) => {}
        }
    }

    pub fn end(&mut self) {
        if let ProgressView::Bar(b) = self {
            b.bar.finish_and_clear();
        }
    }
}

impl Bar {
    fn refresh(&self) {
        self.bar
            .set_message(message(&self.tally, self.started.elapsed()));
    }
}

/// The counts after the bar, short enough that the line fits [`MIN_COLUMNS`] up to 99 999
/// jobs: before any job finished it says what it waits for; then done, failed, in flight and
/// the time left (real time, at the rate so far).
fn message(t: &Tally, elapsed: Duration) -> String {
    if t.done == 0 {
        return if t.in_flight == 0 {
            "waiting for the first job to start".into()
        } else {
            format!("{} in flight, waiting for the first to end", t.in_flight)
        };
    }
    let secs = elapsed.as_secs_f64().max(0.001);
    let left = (t.total - t.done.min(t.total)) as f64 * secs / t.done as f64;
    format!(
        "ok {} fail {} busy {} · {} left",
        t.done - t.failed,
        t.failed,
        t.in_flight,
        short_duration(left)
    )
}

/// `45s`, `12m05s`, `3h20m`: a real-time estimate in at most six columns.
fn short_duration(secs: f64) -> String {
    let s = secs.round().clamp(0.0, 359_999.0) as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bar keeps at least this many columns.
    const MIN_BAR: usize = 10;

    #[test]
    fn the_line_fits_80_columns_up_to_99999_jobs() {
        for total in [1, 9, 100, 4096, 99_999] {
            let worst = [
                Tally {
                    total,
                    done: 0,
                    failed: 0,
                    in_flight: total.min(4096),
                },
                Tally {
                    total,
                    done: total - 1,
                    failed: total / 2,
                    in_flight: 1.min(total),
                },
                Tally {
                    total,
                    done: 1,
                    failed: 1,
                    in_flight: total.min(4096),
                },
            ];
            for t in worst {
                let msg = message(&t, Duration::from_secs(359_000));
                let width = fixed_columns(total) + MIN_BAR + msg.chars().count();
                assert!(width <= MIN_COLUMNS, "{width} columns: {msg:?} ({t:?})");
            }
        }
    }

    #[test]
    fn before_the_first_job_the_bar_says_what_it_waits_for() {
        let t = Tally {
            total: 12,
            ..Tally::default()
        };
        assert_eq!(
            message(&t, Duration::ZERO),
            "waiting for the first job to start"
        );
        let t = Tally { in_flight: 3, ..t };
        assert_eq!(
            message(&t, Duration::ZERO),
            "3 in flight, waiting for the first to end"
        );
    }

    #[test]
    fn the_time_left_is_at_the_rate_so_far() {
        let t = Tally {
            total: 10,
            done: 5,
            failed: 1,
            in_flight: 2,
        };
        assert_eq!(
            message(&t, Duration::from_secs(50)),
            "ok 4 fail 1 busy 2 · 50s left"
        );
        assert_eq!(short_duration(725.0), "12m05s");
        assert_eq!(short_duration(12_000.0), "3h20m");
    }
}
