//! The chart's words for time: its time labels and their step, the interval of its small
//! charts, and row labels cut to fit.

/// A step between time labels that gives at most about eight of them.
pub fn tick_step(span: f64) -> f64 {
    const STEPS: [f64; 19] = [
        100.0, 200.0, 500.0, 1e3, 2e3, 5e3, 1e4, 15e3, 3e4, 6e4, 12e4, 3e5, 6e5, 9e5, 18e5, 36e5,
        72e5, 216e5, 864e5,
    ];
    STEPS
        .into_iter()
        .find(|s| span / s <= 8.0)
        .unwrap_or(span / 8.0)
}

/// `0.5s`, `42s`, `2m30s`, `1h05m`, from milliseconds; tenths when `step` is under a second.
pub fn clock(ms: f64, step: f64) -> String {
    let s = ms / 1000.0;
    if step < 1000.0 && ms < 60_000.0 {
        return format!("{s:.1}s");
    }
    let s = s.round() as u64;
    match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 && s % 60 == 0 => format!("{}m", s / 60),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{}h{:02}m", s / 3600, s / 60 % 60),
    }
}

/// `250 ms`, `2.0 s`, `1.5 min`.
pub fn interval(ms: f64) -> String {
    match ms {
        ms if ms < 1000.0 => format!("{ms:.0} ms"),
        ms if ms < 60_000.0 => format!("{:.1} s", ms / 1000.0),
        ms => format!("{:.1} min", ms / 60_000.0),
    }
}

/// At most `n` characters, with `…` when cut.
pub fn shorten(text: &str, n: usize) -> String {
    if text.chars().count() <= n {
        return text.to_string();
    }
    let mut s: String = text.chars().take(n - 1).collect();
    s.push('…');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_people_write_them() {
        assert_eq!(clock(500.0, 200.0), "0.5s");
        assert_eq!(clock(42_000.0, 5000.0), "42s");
        assert_eq!(clock(120_000.0, 60_000.0), "2m");
        assert_eq!(clock(150_000.0, 30_000.0), "2m30s");
        assert_eq!(clock(3_900_000.0, 300_000.0), "1h05m");
        assert_eq!(interval(250.0), "250 ms");
        assert_eq!(interval(2000.0), "2.0 s");
        assert_eq!(interval(90_000.0), "1.5 min");
    }

    #[test]
    fn about_eight_labels_at_most() {
        for span in [1.0, 900.0, 1300.0, 61_000.0, 7_200_000.0, 1e9] {
            let step = tick_step(span);
            assert!(span / step <= 8.0 + 1e-9, "{span}: {step}");
        }
        assert_eq!(tick_step(1300.0), 200.0);
    }

    #[test]
    fn long_labels_are_cut_with_an_ellipsis() {
        assert_eq!(shorten("hall-1", 24), "hall-1");
        assert_eq!(shorten("abcdef", 4), "abc…");
    }
}
