//! The random draw of `fleetreset audit sample`: which sanitized devices a verifier checks
//! again. Pure, and reproducible from its seed by anyone, with any ChaCha20 implementation:
//!
//! 1. The population is the run's sanitized jobs sorted by their inventory position (`seq`).
//! 2. The generator is ChaCha20 (20 rounds) seeded by `rand_core`'s `seed_from_u64(seed)`
//!    (`rand_chacha::ChaCha20Rng`, version 0.3).
//! 3. A partial Fisher–Yates shuffle: for `i` in `0..size`, `j = i + below(n - i)` and positions
//!    `i` and `j` swap; the first `size` positions are the sample. `below(m)` takes the
//!    generator's next `u64` `x`, draws again while `x >= 2^64 - (2^64 mod m)` (so every value
//!    is equally likely), and gives `x mod m`.
//! 4. The sample is listed in inventory order.
//!
//! [`DRAW`] says this in the audit, next to the seed.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// How the draw was made, as the `sample_drawn` event records it.
pub const DRAW: &str =
    "chacha20 seed_from_u64, population by inventory position, partial Fisher-Yates";

/// A sampling percentage, in (0, 100].
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches('%').trim();
    let p: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a percentage (give e.g. 5 or 5%)"))?;
    if !(p.is_finite() && p > 0.0 && p <= 100.0) {
        return Err(format!(
            "{text:?}: the percentage must be more than 0 and at most 100"
        ));
    }
    Ok(p)
}

/// How many of `population` devices a `percent` sample checks: `ceil(population × percent /
/// 100)`, at least 1 and at most the population (0 of an empty one).
pub fn size(population: usize, percent: f64) -> usize {
    if population == 0 {
        return 0;
    }
    // The product of two exact numbers, less a hair, so 20 × 5 % is 1 and not 2 by rounding.
    let exact = population as f64 * percent / 100.0;
    let n = (exact - 1e-9).ceil().max(1.0) as usize;
    n.min(population)
}

/// The positions (indices into the population, which the caller sorted by inventory position)
/// of a sample of `size` drawn with `seed`, in ascending order. No position twice.
pub fn draw(population: usize, size: usize, seed: u64) -> Vec<usize> {
    let size = size.min(population);
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut positions: Vec<usize> = (0..population).collect();
    for i in 0..size {
        let j = i + below(&mut rng, (population - i) as u64) as usize;
        positions.swap(i, j);
    }
    let mut sample = positions[..size].to_vec();
    sample.sort_unstable();
    sample
}

/// A uniform number in `0..m` (`m` > 0), by rejection.
fn below(rng: &mut impl RngCore, m: u64) -> u64 {
    // 2^64 mod m, computed in u64: (2^64 - m) mod m.
    let rem = m.wrapping_neg() % m;
    loop {
        let x = rng.next_u64();
        // x < 2^64 - rem, written so that rem = 0 accepts everything.
        if rem == 0 || x < rem.wrapping_neg() {
            return x % m;
        }
    }
}

/// Whether two names are one person as far as text can tell: case, and every run of
/// whitespace (tabs, no-break spaces), aside. A sample's verifier must not be the run's
/// operator by this test.
pub fn same_person(a: &str, b: &str) -> bool {
    fn folded(name: &str) -> String {
        name.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    }
    folded(a) == folded(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_size_is_the_rounded_up_share_at_least_one_and_at_most_all() {
        assert_eq!(size(20, 5.0), 1);
        assert_eq!(size(21, 5.0), 2);
        assert_eq!(size(100, 5.0), 5);
        assert_eq!(size(101, 5.0), 6);
        assert_eq!(size(3, 100.0), 3);
        assert_eq!(size(1, 0.1), 1);
        assert_eq!(size(7, 10.0), 1);
        assert_eq!(size(30, 10.0), 3);
        assert_eq!(size(1000, 12.5), 125);
        assert_eq!(size(0, 5.0), 0);
    }

    #[test]
    fn a_percentage_is_more_than_0_and_at_most_100() {
        assert_eq!(parse_percent("5"), Ok(5.0));
        assert_eq!(parse_percent("12.5%"), Ok(12.5));
        assert_eq!(parse_percent("100"), Ok(100.0));
        for bad in ["0", "-1", "100.1", "NaN", "inf", "five", ""] {
            assert!(parse_percent(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_same_seed_draws_the_same_sample_and_another_seed_another() {
        let a = draw(200, 10, 42);
        assert_eq!(a, draw(200, 10, 42));
        assert_eq!(a.len(), 10);
        let others: Vec<Vec<usize>> = (0..20).map(|s| draw(200, 10, 1000 + s)).collect();
        assert!(others.iter().any(|o| *o != a), "{others:?}");
    }

    #[test]
    fn the_draw_is_pinned_to_its_documented_algorithm() {
        // Anyone re-drawing with ChaCha20Rng::seed_from_u64(7) and the steps in the module
        // documentation gets these; a change of generator or of the steps shows here.
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let mut positions: Vec<usize> = (0..10).collect();
        for i in 0..3 {
            let m = (10 - i) as u64;
            let x = rng.next_u64();
            assert!(x < u64::MAX - (u64::MAX % m)); // no rejection for these few
            positions.swap(i, i + (x % m) as usize);
        }
        let mut expected = positions[..3].to_vec();
        expected.sort_unstable();
        assert_eq!(draw(10, 3, 7), expected);
        assert_eq!(draw(10, 3, 7), [1, 3, 8]);
    }

    #[test]
    fn a_sample_has_no_device_twice_and_all_of_them_at_100_percent() {
        for seed in 0..50 {
            let s = draw(37, 12, seed);
            let mut unique = s.clone();
            unique.dedup();
            assert_eq!(unique.len(), 12, "{s:?}");
            assert!(s.iter().all(|&p| p < 37), "{s:?}");
            assert!(s.windows(2).all(|w| w[0] < w[1]), "{s:?}");
        }
        assert_eq!(draw(5, 5, 9), vec![0, 1, 2, 3, 4]);
        assert_eq!(draw(5, 9, 9), vec![0, 1, 2, 3, 4]);
        assert_eq!(draw(1, size(1, 5.0), 3), vec![0]);
        assert!(draw(0, 0, 3).is_empty());
    }

    #[test]
    fn every_device_can_be_drawn() {
        let mut seen = [false; 8];
        for seed in 0..200 {
            for p in draw(8, 1, seed) {
                seen[p] = true;
            }
        }
        assert!(seen.iter().all(|&s| s), "{seen:?}");
    }

    #[test]
    fn below_stays_below_its_bound() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        for m in [1u64, 2, 3, 7, 1 << 63, u64::MAX] {
            for _ in 0..100 {
                assert!(below(&mut rng, m) < m);
            }
        }
    }

    #[test]
    fn one_person_whatever_the_case_and_the_spaces() {
        assert!(same_person("Alice Smith", "alice smith"));
        assert!(same_person(" Alice\tSmith ", "Alice Smith"));
        assert!(same_person("Alice  Smith", "Alice\u{a0}Smith"));
        assert!(!same_person("Alice Smith", "Alice Smyth"));
        assert!(!same_person("AliceSmith", "Alice Smith"));
    }
}
