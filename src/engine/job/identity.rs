//! Is the device at the address the one the inventory means? Checked before anything
//! disruptive is sent: a DHCP lease that moved between tenants must never get the wrong unit
//! wiped.

use std::net::SocketAddr;

use serde_json::json;

use crate::catalog::{self, Family};
use crate::device::DeviceInfo;
use crate::inert::Inert;
use crate::inventory::{Device, MacAddr};
use crate::model::{Action, EventKind, JobState, Reason};
use crate::store::{Record, StoreError};

use super::{Ctx, Fail, Probe};

pub use crate::inventory::rules::identity_verifiable;

/// The optional `device_id` column: the id the device itself reports (`deviceId`).
fn expected_device_id(device: &Device) -> Option<&str> {
    device.device_id.as_deref()
}

/// Whether the device at `addr` is not the one the inventory row means, and how.
pub fn identity_problem(device: &Device, info: &DeviceInfo, addr: SocketAddr) -> Option<String> {
    let reported = info.mac.parse::<MacAddr>().ok();
    if let Some(expected) = device.mac
        && reported != Some(expected)
    {
        return Some(format!(
            "the inventory says MAC {expected}, the device at {addr} reports {:?}; nothing was sent",
            info.mac
        ));
    }
    if let Some(expected) = expected_device_id(device)
        && !expected.eq_ignore_ascii_case(&info.device_id)
    {
        return Some(format!(
            "the inventory says device id {expected:?}, the device at {addr} reports {:?}; nothing was sent",
            info.device_id
        ));
    }
    match model_difference(device, info) {
        Some(ModelDifference::Family { expected, reported }) => Some(format!(
            "the inventory says {} (a {expected:?}), the device at {addr} reports model {:?} (a {reported:?}); nothing was sent",
            Inert(device.model.as_deref().unwrap_or("")),
            info.model
        )),
        _ => None,
    }
}

/// How the model a device reports differs from the inventory's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ModelDifference {
    /// Another model of the same family (or one the catalog doesn't know): recorded and warned
    /// about, not refused; inventories are often a model off.
    Model,
    /// Another kind of device altogether: a plug where the inventory has a bulb.
    Family { expected: Family, reported: Family },
}

fn model_difference(device: &Device, info: &DeviceInfo) -> Option<ModelDifference> {
    let expected = device.model.as_deref().filter(|m| !m.trim().is_empty())?;
    if catalog::base_model(expected) == catalog::base_model(&info.model) {
        return None;
    }
    let (e, r) = (
        catalog::lookup(expected).family,
        catalog::lookup(&info.model).family,
    );
    if e != Family::Unknown && r != Family::Unknown && e != r {
        Some(ModelDifference::Family {
            expected: e,
            reported: r,
        })
    } else {
        Some(ModelDifference::Model)
    }
}

/// Whether two readings come from the same device: the same MAC and device id.
pub(super) fn same_device(a: &DeviceInfo, b: &DeviceInfo) -> bool {
    a.mac.parse::<MacAddr>().ok() == b.mac.parse::<MacAddr>().ok()
        && a.device_id.eq_ignore_ascii_case(&b.device_id)
}

impl Ctx<'_> {
    /// The device must be the one the inventory means before anything disruptive is sent.
    pub(super) async fn check_identity(
        &self,
        addr: SocketAddr,
        pre: &Probe,
    ) -> Result<Result<(), Fail>, StoreError> {
        let device = &self.job.device;
        let verified = device.mac.is_some() || expected_device_id(device).is_some();
        let identity = json!({
            "expected_mac": device.mac.map(|m| m.to_string()),
            "reported_mac": pre.info.mac,
            "expected_device_id": expected_device_id(device),
            "reported_device_id": pre.info.device_id,
            "expected_model": device.model,
            "reported_model": pre.info.model,
            "verified": verified,
        });
        if let Some(detail) = identity_problem(device, &pre.info, addr) {
            self.event(EventKind::IdentityMismatch, identity).await?;
            return Ok(Err(Fail(Reason::IdentityMismatch, detail)));
        }
        if !identity_verifiable(device)
            && self.config().action == Action::FactoryReset
            && !self.env.allow_unverified_identity
        {
            // The command refuses such runs up front; this keeps a library caller honest too.
            self.event(EventKind::IdentityUnverified, identity).await?;
            return Ok(Err(Fail(
                Reason::IdentityMismatch,
                "no MAC in the inventory to check this device against; not wiped (see --allow-unverified-identity)".into(),
            )));
        }
        if model_difference(device, &pre.info) == Some(ModelDifference::Model) {
            tracing::warn!(
                device = %Inert(&device.id),
                inventory = %Inert(device.model.as_deref().unwrap_or("")),
                reported = %Inert(&pre.info.model),
                "the device reports another model than the inventory's"
            );
            self.event(
                EventKind::ModelMismatch,
                json!({ "expected_model": device.model, "reported_model": pre.info.model }),
            )
            .await?;
        }
        self.record(Record::Identity {
            run_id: self.env.run_id.clone(),
            device_id: device.id.clone(),
            verified,
        })
        .await?;
        self.state(JobState::IdentityChecked, identity).await?;
        Ok(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(model: Option<&str>, mac: Option<&str>, device_id: Option<&str>) -> Device {
        Device {
            model: model.map(str::to_owned),
            mac: mac.map(|m| m.parse().unwrap()),
            device_id: device_id.map(str::to_owned),
            ..Device::bare("d", "127.0.0.1")
        }
    }

    fn info(model: &str, mac: &str, device_id: &str) -> DeviceInfo {
        DeviceInfo {
            model: model.into(),
            alias: "a".into(),
            mac: mac.into(),
            device_id: device_id.into(),
            kind: "IOT.SMARTPLUGSWITCH".into(),
            relay_on: Some(true),
            on_time: Some(5),
            children: vec![],
            bound: Some(true),
            raw: json!({}),
            cloud_raw: None,
        }
    }

    fn addr() -> SocketAddr {
        "127.0.0.1:9999".parse().unwrap()
    }

    #[test]
    fn the_mac_must_match_whatever_way_the_device_writes_it() {
        let d = row(Some("HS110(EU)"), Some("50:C7:BF:00:00:01"), None);
        assert_eq!(
            identity_problem(&d, &info("HS110(EU)", "50-c7-bf-00-00-01", "x"), addr()),
            None
        );
        let wrong = identity_problem(&d, &info("HS110(EU)", "50:C7:BF:00:00:02", "x"), addr());
        assert!(wrong.unwrap().contains("nothing was sent"));
        // A device reporting a MAC that identifies nothing is not the inventory's device.
        let zero = identity_problem(&d, &info("HS110(EU)", "00:00:00:00:00:00", "x"), addr());
        assert!(zero.is_some());
    }

    #[test]
    fn the_device_id_column_is_checked_like_the_mac() {
        let d = row(None, None, Some("8006ABCD"));
        assert_eq!(
            identity_problem(&d, &info("HS110", "m", "8006abcd"), addr()),
            None
        );
        assert!(identity_problem(&d, &info("HS110", "m", "8006ABCE"), addr()).is_some());
    }

    #[test]
    fn another_model_of_the_same_family_is_not_refused_but_another_family_is() {
        let d = row(Some("HS103(US)"), None, None);
        assert_eq!(
            identity_problem(&d, &info("HS105(US)", "m", "x"), addr()),
            None
        );
        assert_eq!(
            model_difference(&d, &info("HS105(US)", "m", "x")),
            Some(ModelDifference::Model)
        );
        assert_eq!(model_difference(&d, &info("HS103(EU)", "m", "x")), None);
        let bulb = identity_problem(&d, &info("KL130(EU)", "m", "x"), addr()).unwrap();
        assert!(bulb.contains("KL130"), "{bulb}");
        assert!(bulb.contains("nothing was sent"), "{bulb}");
        // A model the catalog doesn't know is only a difference of model.
        assert_eq!(
            model_difference(&d, &info("ZZ9000", "m", "x")),
            Some(ModelDifference::Model)
        );
        assert_eq!(
            model_difference(&row(None, None, None), &info("KL130", "m", "x")),
            None
        );
    }

    #[test]
    fn a_factory_reset_needs_a_mac_a_device_id_alone_is_not_enough() {
        assert!(identity_verifiable(&row(
            None,
            Some("50:C7:BF:00:00:01"),
            None
        )));
        assert!(!identity_verifiable(&row(None, None, Some("8006ABCD"))));
        assert!(!identity_verifiable(&row(None, None, None)));
    }

    #[test]
    fn two_readings_are_one_device_when_mac_and_device_id_agree() {
        let a = info("HS110", "50:C7:BF:00:00:01", "8006AB");
        assert!(same_device(
            &a,
            &info("HS110", "50-c7-bf-00-00-01", "8006ab")
        ));
        assert!(!same_device(
            &a,
            &info("HS110", "50:C7:BF:00:00:02", "8006AB")
        ));
        assert!(!same_device(
            &a,
            &info("HS110", "50:C7:BF:00:00:01", "8006AC")
        ));
    }
}
