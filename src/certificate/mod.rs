//! Certificates of sanitization (NIST SP 800-88's record) for factory-reset runs.

/// A device's certificate id within its run: the run id and the job's place in the inventory,
/// from 1 (`20261121T054708Z-3f2a-0007`). Stable: `fleetreset history` and the bundle name
/// certificates by it.
pub fn id(run_id: &str, seq: u32) -> String {
    format!("{run_id}-{:04}", u64::from(seq) + 1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_certificate_id_is_the_run_and_the_inventory_position_from_one() {
        assert_eq!(
            super::id("20261121T054708Z-3f2a", 6),
            "20261121T054708Z-3f2a-0007"
        );
    }
}
