//! Camera and doorbell profiles: what each simulated model answers, copied whole from
//! python-kasa's captures (`profiles/smartcam-*.json`: every SmartCam method the capture
//! asked, with `discovery_result`; `profiles/iotcam-*.json`: the IOT modules a Kasa camera
//! answered, `system.get_sysinfo` among them). Ids and names are scrubbed in the captures, so
//! identity comes from the inventory row, as for plugs.

use serde_json::Value;

use crate::catalog::{self, Protocol};

/// Which transport a camera profile is served over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CameraKind {
    /// Tapo: SmartCam JSON over SslAes (HTTPS 443).
    Tapo,
    /// Kasa: IOT JSON over LINKIE2 (HTTPS 10443, static-RSA TLS 1.2 only).
    Kasa,
}

/// Base model, capture, kind.
const PROFILES: &[(&str, &str, CameraKind)] = &[
    (
        "C210",
        include_str!("../profiles/smartcam-C210.json"),
        CameraKind::Tapo,
    ),
    (
        "D130",
        include_str!("../profiles/smartcam-D130.json"),
        CameraKind::Tapo,
    ),
    (
        "EC60",
        include_str!("../profiles/iotcam-EC60.json"),
        CameraKind::Kasa,
    ),
];

/// One camera model's captured answers.
#[derive(Debug, Clone)]
pub struct CameraProfile {
    pub base_model: &'static str,
    pub kind: CameraKind,
    /// The whole capture: `{method: result or error code}` (Tapo) or `{module: {method: …}}`
    /// (Kasa).
    pub capture: Value,
    /// A Tapo camera on TPAP firmware: it logs in with TPAP where SslAes was, and says so in
    /// discovery.
    pub tpap: bool,
}

impl CameraProfile {
    /// The profile for `model` (region suffix ignored), if the catalog calls it a camera or
    /// doorbell over SslAes or LINKIE2 and a capture exists.
    pub fn for_model(model: &str) -> Option<CameraProfile> {
        let info = catalog::lookup(model);
        if !matches!(info.protocol, Protocol::SslAes | Protocol::Linkie2) {
            return None;
        }
        PROFILES
            .iter()
            .find(|(base, _, _)| *base == info.model)
            .map(|(base, text, kind)| CameraProfile {
                base_model: base,
                kind: *kind,
                capture: serde_json::from_str(text).expect("camera profiles are valid JSON"),
                tpap: false,
            })
    }

    pub fn known_models() -> impl Iterator<Item = &'static str> {
        PROFILES.iter().map(|(m, _, _)| *m)
    }

    /// The model string the capture reports.
    pub fn captured_model(&self) -> &str {
        match self.kind {
            CameraKind::Tapo => self.basic_info()["device_model"].as_str(),
            CameraKind::Kasa => self.sysinfo()["model"].as_str(),
        }
        .unwrap_or(self.base_model)
    }

    /// The MAC the capture reports (its vendor prefix is kept for generated MACs).
    pub fn captured_mac(&self) -> &str {
        match self.kind {
            CameraKind::Tapo => self.basic_info()["mac"].as_str(),
            CameraKind::Kasa => self.sysinfo()["mac"].as_str(),
        }
        .unwrap_or("40-AE-30-00-00-00")
    }

    pub fn basic_info(&self) -> &Value {
        &self.capture["getDeviceInfo"]["device_info"]["basic_info"]
    }

    pub fn sysinfo(&self) -> &Value {
        &self.capture["system"]["get_sysinfo"]["system"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_camera_profile_loads_and_matches_the_catalog() {
        for model in CameraProfile::known_models() {
            let p = CameraProfile::for_model(model).unwrap();
            assert!(p.captured_model().starts_with(model), "{model}");
            let protocol = catalog::lookup(model).protocol;
            match p.kind {
                CameraKind::Tapo => assert_eq!(protocol, Protocol::SslAes, "{model}"),
                CameraKind::Kasa => assert_eq!(protocol, Protocol::Linkie2, "{model}"),
            }
        }
        assert!(CameraProfile::for_model("C210(EU)").is_some());
        assert!(CameraProfile::for_model("HS110").is_none());
    }
}
