//! What an action refuses of an inventory that is valid on its own. `check --action`, `plan`
//! and `run` all ask [`refusals`], and print what it says through [`errors`], so the three
//! refuse the same rows with the same `FILE:LINE: message` lines.

use super::{Device, Inventory, InventoryErrors, RowError};
use crate::inert::Inert;
use crate::model::Action;

/// The words after `ID: ` for a factory-reset row without a MAC.
pub const NO_MAC: &str = "no MAC to verify the device's identity before wiping it; a device_id \
                          alone is not enough (add the mac column, or pass \
                          --allow-unverified-identity)";

/// Whether a factory reset may act on this row without `--allow-unverified-identity`: the row
/// gives a MAC. A `device_id` alone is not enough: it can only be learnt from the device
/// itself (by `discover`), so it proves the device is the one that answered then, which may
/// already have been the wrong one; a MAC can be checked against the label and the router.
pub fn identity_verifiable(device: &Device) -> bool {
    device.mac.is_some()
}

/// The rows `action` must not act on, in line order; empty when it may act on every row.
pub fn refusals(inventory: &Inventory, action: Action, allow_unverified: bool) -> Vec<RowError> {
    match action {
        Action::PowerCycle => Vec::new(),
        Action::FactoryReset if allow_unverified => Vec::new(),
        Action::FactoryReset => inventory
            .devices
            .iter()
            .filter(|d| !identity_verifiable(d))
            .map(|d| RowError {
                line: d.line,
                message: format!("{}: {NO_MAC}", Inert(&d.id)),
            })
            .collect(),
    }
}

/// The one way the rules' problems become [`InventoryErrors`] for `inventory`'s file.
pub fn errors(inventory: &Inventory, errors: Vec<RowError>) -> InventoryErrors {
    inventory.errors(errors)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn inventory(text: &str) -> Inventory {
        crate::inventory::parse(Path::new("inv/x.csv"), text.as_bytes()).unwrap()
    }

    const ROWS: &str = "id,host,mac,device_id\n\
                        a,10.0.0.1,50:C7:BF:00:00:01,\n\
                        b,10.0.0.2,,8006AB\n\
                        c,10.0.0.3,,\n";

    #[test]
    fn a_factory_reset_refuses_every_row_without_a_mac_a_device_id_alone_too() {
        let inv = inventory(ROWS);
        let found = refusals(&inv, Action::FactoryReset, false);
        assert_eq!(
            errors(&inv, found).to_string(),
            format!("inv/x.csv:3: b: {NO_MAC}\ninv/x.csv:4: c: {NO_MAC}")
        );
    }

    #[test]
    fn allowing_unverified_identity_or_a_power_cycle_refuses_nothing() {
        let inv = inventory(ROWS);
        assert_eq!(refusals(&inv, Action::FactoryReset, true), []);
        assert_eq!(refusals(&inv, Action::PowerCycle, false), []);
    }

    #[test]
    fn a_row_id_is_shown_inert() {
        let inv = inventory("id,host\n\"x\u{1b}[2J\",10.0.0.1\n");
        let found = refusals(&inv, Action::FactoryReset, false);
        assert!(found[0].message.starts_with("x\\u{1b}[2J: "), "{found:?}");
    }
}
