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

impl ProgressView {
    /// A bar when stderr is a terminal, lines otherwise.
    pub fn for_stderr() -> ProgressView {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} {msg}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
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

    pub fn begin(&mut self, total: usize) {
        self.tally().total = total;
        if let ProgressView::Bar(b) = self {
            b.bar.set_length(total as u64);
            b.started = Instant::now();
            b.refresh();
        }
    }

    pub fn started(&mut self, _device: &str) {
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
        let t = &self.tally;
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = t.done as f64 / secs;
        let eta = if t.done > 0 {
            format!("{:.0}s", (t.total - t.done) as f64 / rate)
        } else {
            "?".into()
        };
        self.bar.set_message(format!(
            "ok {} · failed {} · in flight {} · {:.1}/s · eta {eta}",
            t.done - t.failed,
            t.failed,
            t.in_flight,
            rate
        ));
    }
}
