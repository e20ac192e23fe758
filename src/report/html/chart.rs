//! The run's timeline as one inline SVG: time from the run's start to its last recorded moment
//! across; one bar per job from its first start to its outcome, coloured by outcome, with a
//! legend; below it the starts per interval and the jobs in flight (the rolling concurrency);
//! the run's own events (started, interrupted, stopped, resumed, finished) as labelled
//! vertical lines across all three.
//!
//! It stays readable and small whatever the fleet: up to [`LABELLED`] jobs get a labelled row
//! each, up to [`ONE_ROW_EACH`] a thin row each; a bigger run is drawn in at most [`GROUPS`]
//! rows of consecutive jobs (by start), each row split into one stripe per outcome from the
//! first start to the last end of its jobs with that outcome, its height the share of them.
//! The two small charts always have [`BUCKETS`] bars. So 10,000 jobs make at most a few
//! hundred shapes.
//!
//! The audit records no batch boundaries (the engine's batches are not events), so the chart
//! shows what they do instead: the in-flight line drops between rolling batches.
//!
//! Device text appears only as the escaped text of `<title>` tooltips and row labels.

use std::fmt::{self, Write};

use super::axis::{clock, interval, shorten, tick_step};
use super::escape;
use super::group::Group;
use super::spans::{self, Span};
use crate::model::Outcome;
use crate::report::local_time::Zone;
use crate::report::source::{Source, Step};
use crate::report::summary::outcome_word;
use crate::store::{EventRow, RunEvent, Timestamp};

pub const LABELLED: usize = 40;
pub const ONE_ROW_EACH: usize = 200;
pub const GROUPS: usize = 100;
pub const BUCKETS: usize = 60;

const WIDTH: f64 = 1000.0;
pub(super) const LEFT: f64 = 160.0;
const RIGHT: f64 = 16.0;
pub(super) const PLOT: f64 = WIDTH - LEFT - RIGHT;
const GANTT_TOP: f64 = 64.0;
const SMALL: f64 = 48.0;

/// The fill of an outcome's bars, its swatch in the legend.
pub fn colour(outcome: Option<Outcome>) -> &'static str {
    match outcome {
        Some(Outcome::Succeeded) => "#2e7d32",
        Some(Outcome::Failed) => "#c62828",
        Some(Outcome::ManualRequired) => "#ef6c00",
        Some(Outcome::ManualConfirmed) => "#1565c0",
        Some(Outcome::Skipped) => "#9e9e9e",
        None => "#7b1fa2",
    }
}

/// Every outcome in report order, then unfinished.
pub(super) fn slots() -> impl Iterator<Item = Option<Outcome>> {
    Outcome::ALL.iter().map(|o| Some(*o)).chain([None])
}

pub fn render(out: &mut dyn Write, src: Source<'_>, zone: Zone) -> anyhow::Result<()> {
    let run = src.run();
    let events = src.run_events();
    match src {
        Source::Record(record) => {
            let (spans, span) = spans::of(record);
            draw(out, spans.len(), span, run.started_at, &events, zone, |f| {
                spans.iter().try_for_each(f)
            })
        }
        Source::Db(reader) => {
            let span = spans::length(run, reader.last_moment()?);
            let t0 = run.started_at;
            let n = src.job_count();
            draw(out, n, span, t0, &events, zone, |f| {
                reader.spans(|row| f(&Span::of_row(&row, t0)))
            })
        }
    }
}

/// The chart of `n` jobs over `span` ms, whose spans `each` hands over in order of start
/// ([`Span::sort_key`]); the run's own events mark it.
#[allow(clippy::too_many_arguments)]
fn draw(
    out: &mut dyn Write,
    n: usize,
    span: f64,
    t0: Timestamp,
    events: &[&EventRow],
    zone: Zone,
    each: impl FnOnce(&mut dyn FnMut(&Span<'_>) -> Step) -> Step,
) -> anyhow::Result<()> {
    let x = |ms: f64| LEFT + (ms / span).clamp(0.0, 1.0) * PLOT;
    let (row_h, rows) = match n {
        n if n <= LABELLED => (16.0, n),
        n if n <= ONE_ROW_EACH => (5.0, n),
        n => (7.0, n.div_ceil(n.div_ceil(GROUPS))),
    };
    let gantt_bottom = GANTT_TOP + row_h * rows.max(1) as f64;
    let starts_top = gantt_bottom + 30.0;
    let flight_top = starts_top + SMALL + 14.0;
    let bottom = flight_top + SMALL;
    let height = bottom + 24.0;
    writeln!(
        out,
        "<svg class=\"chart\" id=\"timeline-chart\" viewBox=\"0 0 {WIDTH} {height}\" width=\"{WIDTH}\" height=\"{height}\" role=\"img\" aria-label=\"Timeline of the run: {} job(s) over {}\" font-family=\"system-ui, sans-serif\" font-size=\"11\">",
        n,
        clock(span, 1000.0)
    )?;
    writeln!(
        out,
        "<rect x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{height}\" fill=\"#fff\"/>"
    )?;
    legend(out)?;
    let step = tick_step(span);
    // Grid and time labels under the bars and under the small charts.
    let mut t = 0.0;
    while t <= span + 0.5 {
        let tx = x(t);
        writeln!(
            out,
            "<line x1=\"{tx:.1}\" x2=\"{tx:.1}\" y1=\"{GANTT_TOP}\" y2=\"{bottom}\" stroke=\"#e0e0e0\"/>"
        )?;
        for y in [gantt_bottom + 13.0, bottom + 14.0] {
            writeln!(
                out,
                "<text x=\"{tx:.1}\" y=\"{y}\" text-anchor=\"middle\" fill=\"#333\">+{}</text>",
                clock(t, step)
            )?;
        }
        t += step;
    }
    let mut starts = spans::Starts::new(span, BUCKETS);
    let mut flight = spans::InFlight::new(span, BUCKETS);
    let per = n.div_ceil(GROUPS).max(1);
    let mut group = Group::new(span);
    let mut i = 0usize;
    each(&mut |s| {
        starts.add(s);
        flight.add(s);
        if n <= ONE_ROW_EACH {
            let y = GANTT_TOP + row_h * i as f64;
            if n <= LABELLED {
                writeln!(
                    out,
                    "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#222\">{}</text>",
                    LEFT - 6.0,
                    y + row_h - 4.0,
                    escape(&shorten(s.device_id, 24))
                )?;
            }
            job_bar(out, s, &x, y, row_h, span)?;
        } else {
            group.add(s);
            if group.len == per {
                let row = i / per;
                group.row(out, row * per, &x, GANTT_TOP + row_h * row as f64, row_h)?;
                group = Group::new(span);
            }
        }
        i += 1;
        Ok(())
    })?;
    if n > ONE_ROW_EACH {
        if group.len > 0 {
            let row = i / per;
            group.row(out, row * per, &x, GANTT_TOP + row_h * row as f64, row_h)?;
        }
        writeln!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"#222\">{per} jobs a row</text>",
            LEFT - 6.0,
            GANTT_TOP + 10.0
        )?;
    }
    if n == 0 {
        writeln!(
            out,
            "<text x=\"{}\" y=\"{}\" fill=\"#333\">no job</text>",
            LEFT + 4.0,
            GANTT_TOP + 12.0
        )?;
    }
    small_charts(
        out,
        &starts.counts(),
        &flight.finish(),
        span,
        starts_top,
        flight_top,
    )?;
    markers(out, events, t0, zone, &x, bottom)?;
    writeln!(out, "</svg>")?;
    Ok(())
}

fn legend(out: &mut dyn Write) -> fmt::Result {
    let mut lx = LEFT;
    for o in slots() {
        let word = outcome_word(o);
        writeln!(
            out,
            "<rect x=\"{lx}\" y=\"6\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{}\" y=\"15\" fill=\"#222\">{word}</text>",
            colour(o),
            lx + 14.0
        )?;
        lx += 24.0 + 6.5 * word.len() as f64;
    }
    Ok(())
}

/// One job's bar; a job that never started gets a thin mark where it was settled (skipped).
fn job_bar(
    out: &mut dyn Write,
    s: &Span<'_>,
    x: &impl Fn(f64) -> f64,
    y: f64,
    row_h: f64,
    span: f64,
) -> fmt::Result {
    let h = (row_h - if row_h > 6.0 { 5.0 } else { 1.0 }).max(1.0);
    let (x0, w, when) = match (s.start, s.end) {
        (Some(a), end) => {
            let b = end.unwrap_or(span).max(a);
            let (x0, x1) = (x(a), x(b));
            let until = end.map_or("not finished".to_string(), |e| {
                format!("+{}", clock(e, 1.0))
            });
            (
                x0,
                (x1 - x0).max(1.5),
                format!("+{} to {until}", clock(a, 1.0)),
            )
        }
        (None, Some(e)) => (
            x(e) - 1.0,
            2.0,
            format!("never started; settled at +{}", clock(e, 1.0)),
        ),
        (None, None) => return Ok(()),
    };
    writeln!(
        out,
        "<rect class=\"job\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"{}\"><title>{}: {}, {when}</title></rect>",
        y + (row_h - h) / 2.0,
        colour(s.outcome),
        escape(s.device_id),
        outcome_word(s.outcome)
    )
}

fn small_charts(
    out: &mut dyn Write,
    starts: &[u32],
    flight: &[u32],
    span: f64,
    starts_top: f64,
    flight_top: f64,
) -> fmt::Result {
    let bw = PLOT / BUCKETS as f64;
    let most = starts.iter().copied().max().unwrap_or(0).max(1);
    let label = |out: &mut dyn Write, y: f64, a: &str, b: &str| {
        writeln!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"#222\">{a}</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"#555\">{b}</text>",
            LEFT - 6.0,
            y + 16.0,
            LEFT - 6.0,
            y + 30.0
        )
    };
    label(
        out,
        starts_top,
        "Starts",
        &format!("per {}, max {most}", interval(span / BUCKETS as f64)),
    )?;
    for (i, n) in starts.iter().enumerate().filter(|(_, n)| **n > 0) {
        let h = SMALL * f64::from(*n) / f64::from(most);
        writeln!(
            out,
            "<rect class=\"starts\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"#455a64\"><title>{n} started</title></rect>",
            LEFT + bw * i as f64 + 0.5,
            starts_top + SMALL - h,
            (bw - 1.0).max(0.5)
        )?;
    }
    let most = flight.iter().copied().max().unwrap_or(0).max(1);
    label(out, flight_top, "In flight", &format!("max {most} at once"))?;
    let base = flight_top + SMALL;
    let mut d = format!("M{LEFT},{base}");
    for (i, n) in flight.iter().enumerate() {
        let y = base - SMALL * f64::from(*n) / f64::from(most);
        let _ = write!(
            d,
            " L{:.1},{y:.1} L{:.1},{y:.1}",
            LEFT + bw * i as f64,
            LEFT + bw * (i + 1) as f64
        );
    }
    let _ = write!(d, " L{},{base} Z", LEFT + PLOT);
    writeln!(
        out,
        "<path class=\"inflight\" d=\"{d}\" fill=\"#b0bec5\" stroke=\"#37474f\" stroke-width=\"1\"/>"
    )?;
    for y in [starts_top + SMALL, base] {
        writeln!(
            out,
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#888\"/>",
            LEFT + PLOT
        )?;
    }
    Ok(())
}

/// The run's own events as labelled vertical lines; labels that would collide go a row lower.
fn markers(
    out: &mut dyn Write,
    events: &[&EventRow],
    t0: Timestamp,
    zone: Zone,
    x: &impl Fn(f64) -> f64,
    bottom: f64,
) -> fmt::Result {
    let mut last_x = [f64::MIN; 2];
    for row in events {
        let Some(event) = RunEvent::of_row(row) else {
            continue;
        };
        let (word, stroke) = match &event {
            RunEvent::Started(_) => ("started", "#424242"),
            RunEvent::Interrupted(_) => ("interrupted", "#b71c1c"),
            RunEvent::Stopped(_) => ("stopped", "#b71c1c"),
            RunEvent::Resumed(_) => ("resumed", "#1565c0"),
            RunEvent::Finished(_) => ("finished", "#424242"),
        };
        let mx = x((row.at - t0).num_milliseconds() as f64);
        let level = usize::from(mx - last_x[0] < 70.0 && mx - last_x[1] >= 70.0);
        last_x[level] = mx;
        let ly = 36.0 + 14.0 * level as f64;
        let anchor = if mx > LEFT + PLOT - 60.0 {
            "end"
        } else {
            "start"
        };
        let lx = if anchor == "end" { mx - 3.0 } else { mx + 3.0 };
        writeln!(
            out,
            "<g class=\"marker\"><title>{word}: {}</title><line x1=\"{mx:.1}\" x2=\"{mx:.1}\" y1=\"{}\" y2=\"{bottom}\" stroke=\"{stroke}\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\"/><text x=\"{lx:.1}\" y=\"{ly}\" text-anchor=\"{anchor}\" fill=\"{stroke}\" font-weight=\"bold\">{word}</text></g>",
            zone.show(&row.at),
            ly - 10.0
        )?;
    }
    Ok(())
}
