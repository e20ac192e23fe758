//! A row of the chart of a big run: consecutive jobs (by start) drawn as one stripe per outcome.

use std::fmt::{self, Write};

use super::chart::{LEFT, PLOT, colour, slots};
use super::spans::Span;
use crate::model::Outcome;
use crate::report::summary::outcome_word;

/// A row of consecutive jobs (by start), gathered as they come: per outcome, how many, the
/// earliest start (or settling) and the latest end.
pub struct Group {
    span: f64,
    pub len: usize,
    slots: [(usize, f64, f64); SLOTS],
}

/// Every outcome, then unfinished.
const SLOTS: usize = Outcome::ALL.len() + 1;

impl Group {
    pub fn new(span: f64) -> Group {
        Group {
            span,
            len: 0,
            slots: [(0, span, f64::NEG_INFINITY); SLOTS],
        }
    }

    pub fn add(&mut self, s: &Span<'_>) {
        let i = slots()
            .position(|o| o == s.outcome)
            .expect("slots() lists every outcome");
        let slot = &mut self.slots[i];
        slot.0 += 1;
        if let Some(a) = s.start.or(s.end) {
            slot.1 = slot.1.min(a);
        }
        slot.2 = slot.2.max(s.end.unwrap_or(self.span));
        self.len += 1;
    }

    /// One stripe per outcome among them, its height their share.
    pub fn row(
        &self,
        out: &mut dyn Write,
        first: usize,
        x: &impl Fn(f64) -> f64,
        y: f64,
        row_h: f64,
    ) -> fmt::Result {
        let mut sy = y + 1.0;
        let usable = row_h - 2.0;
        let mut parts = Vec::new();
        for (o, &(count, a, latest)) in slots().zip(&self.slots) {
            if count == 0 {
                continue;
            }
            parts.push(format!("{count} {}", outcome_word(o)));
            let b = a.max(latest);
            // A few failures among a hundred jobs must still show.
            let least = if o == Some(Outcome::Succeeded) {
                1.0
            } else {
                2.0
            };
            let h = (usable * count as f64 / self.len as f64)
                .max(least)
                .min(y + row_h - sy);
            if h <= 0.0 {
                break;
            }
            writeln!(
                out,
                "<rect class=\"group\" x=\"{:.1}\" y=\"{sy:.2}\" width=\"{:.1}\" height=\"{h:.2}\" fill=\"{}\"/>",
                x(a),
                (x(b) - x(a)).max(1.5),
                colour(o)
            )?;
            sy += h;
        }
        writeln!(
            out,
            "<rect x=\"{LEFT}\" y=\"{y}\" width=\"{PLOT}\" height=\"{row_h}\" fill=\"none\"><title>jobs {}–{} by start: {}</title></rect>",
            first + 1,
            first + self.len,
            parts.join(", ")
        )
    }
}
