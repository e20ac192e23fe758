//! The catalog's table tests: one per family, and the issue's model list.

use super::*;
use std::time::Duration;

#[test]
fn region_suffix_and_case_do_not_change_the_lookup() {
    assert_eq!(lookup("HS110(EU)"), lookup("hs110"));
    assert_eq!(lookup(" HS300(US) ").family, Family::Strip);
}

#[test]
fn strips_know_their_outlet_count() {
    for (model, outlets) in [
        ("HS300", 6),
        ("KP303", 3),
        ("KP400", 2),
        ("EP40", 2),
        ("P304M", 4),
    ] {
        let info = lookup(model);
        assert_eq!(info.family, Family::Strip, "{model}");
        assert_eq!(info.outlets, outlets, "{model}");
    }
}

#[test]
fn families_of_the_issue_models() {
    assert_eq!(lookup("HS100").protocol, Protocol::Mixed);
    assert_eq!(lookup("EP25").protocol, Protocol::Mixed);
    assert_eq!(lookup("P110(UK)").protocol, Protocol::Smart);
    assert_eq!(lookup("P300").outlets, 3);
    let cases = [
        ("HS103", Family::Plug),
        ("HS105", Family::Plug),
        ("KP115", Family::Plug),
        ("KP125", Family::Plug),
        ("EP10", Family::Plug),
        ("EP25", Family::Plug),
        ("HS200", Family::WallSwitch),
        ("HS220", Family::Dimmer),
        ("KS230", Family::Dimmer),
        ("KL130", Family::Bulb),
    ];
    for (model, family) in cases {
        assert_eq!(lookup(model).family, family, "{model}");
        assert_ne!(lookup(model).protocol, Protocol::Unknown, "{model}");
    }
}

#[test]
fn unknown_models_get_the_conservative_entry() {
    let info = lookup("ZZ9000(XX)");
    assert_eq!(info, UNKNOWN);
    assert!(info.boot_time >= lookup("HS100").boot_time);
    assert!(!info.family.has_relay());
}

#[test]
fn every_model_appears_once() {
    let mut names: Vec<_> = MODELS.iter().map(|m| m.model).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(before, names.len());
}

/// Every model issue 10 names, by family.
const ISSUE_KASA_CAMERAS: &[&str] = &[
    "KC100", "KC105", "KC110", "KC115", "KC120", "KC125", "KC200", "KC400", "KC401", "KC410S",
    "KC420WS", "EC60", "EC70",
];
const ISSUE_TAPO_CAMERAS: &[&str] = &[
    "C100", "C110", "C200", "C210", "C220", "C310", "C320WS", "C520WS", "TC65", "TC70",
];
const ISSUE_DOORBELLS: &[&str] = &["KD110", "D130", "D230"];

fn of(family: Family) -> impl Iterator<Item = &'static ModelInfo> {
    models().iter().filter(move |m| m.family == family)
}

#[test]
fn every_camera_and_doorbell_the_issue_names_is_in_the_catalog_with_its_family() {
    for (list, family) in [
        (ISSUE_KASA_CAMERAS, Family::Camera),
        (ISSUE_TAPO_CAMERAS, Family::Camera),
        (ISSUE_DOORBELLS, Family::Doorbell),
    ] {
        for model in list {
            assert_eq!(lookup(model).family, family, "{model}");
        }
    }
    assert_eq!(of(Family::Camera).count(), 23);
    assert_eq!(of(Family::Doorbell).count(), 3);
}

#[test]
fn cameras_and_doorbells_are_found_with_region_suffixes_and_in_lower_case() {
    assert_eq!(lookup("KC420WS(US)").model, "KC420WS");
    assert_eq!(lookup("c210(eu)"), lookup("C210"));
    assert_eq!(lookup(" ec60(US) ").protocol, Protocol::Linkie2);
    assert_eq!(lookup("d230(EU)").family, Family::Doorbell);
    assert_eq!(lookup("tc70"), lookup("TC70(EU)"));
}

#[test]
fn kasa_cameras_speak_linkie2_and_tapo_cameras_ssl_aes() {
    for model in ISSUE_KASA_CAMERAS {
        assert_eq!(lookup(model).protocol, Protocol::Linkie2, "{model}");
    }
    for model in ISSUE_TAPO_CAMERAS {
        assert_eq!(lookup(model).protocol, Protocol::SslAes, "{model}");
    }
    assert_eq!(lookup("KD110").protocol, Protocol::Linkie2);
    assert_eq!(lookup("D130").protocol, Protocol::SslAes);
    assert_eq!(lookup("D230").protocol, Protocol::HubChild { hub: "H200" });
}

#[test]
fn cameras_reboot_remotely_and_never_claim_a_local_factory_reset() {
    for m in of(Family::Camera) {
        assert!(m.remote.reboot, "{}", m.model);
        assert!(!m.remote.factory_reset, "{}", m.model);
        let factory = m.factory.expect(m.model);
        assert_eq!(factory.button, Button::RecessedPinhole, "{}", m.model);
        assert_eq!(factory.tool, Some(Tool::Pin), "{}", m.model);
        assert_eq!(factory.hold, Hold::secs(5, 10), "{}", m.model);
        assert_eq!(factory.light, Light::FlashesRapidly, "{}", m.model);
        assert_eq!(factory.then, Then::RestartsForSetup, "{}", m.model);
        let soft = m.soft.expect(m.model);
        assert_eq!(soft.button, Button::PowerSupply, "{}", m.model);
        assert_eq!(soft.hold.min, m.off_time, "{}", m.model);
        assert_eq!(m.boot_time, Duration::from_secs(120), "{}", m.model);
    }
}

#[test]
fn only_the_kasa_cameras_the_guidance_names_offer_the_app_reset() {
    let with_app: Vec<_> = of(Family::Camera)
        .filter(|m| m.app_path.is_some())
        .map(|m| m.model)
        .collect();
    assert_eq!(with_app, ["KC200", "KC400", "KC420WS"]);
}

#[test]
fn doorbells_never_claim_a_local_factory_reset_and_reset_off_their_bracket() {
    for m in of(Family::Doorbell) {
        assert!(!m.remote.factory_reset, "{}", m.model);
        assert_eq!(m.app_path, None, "{}", m.model);
        let factory = m.factory.expect(m.model);
        assert!(factory.words().contains("bracket"), "{}", m.model);
        assert_eq!(factory.hold, Hold::secs(5, 10), "{}", m.model);
        assert_eq!(factory.light, Light::BlinksRedOrAmber, "{}", m.model);
        let soft = m.soft.expect(m.model);
        assert_eq!(soft.button, Button::BreakerOrTransformer, "{}", m.model);
        assert_eq!(soft.hold, Hold::secs(10, 15), "{}", m.model);
        assert_eq!(soft.then, Then::Restarts, "{}", m.model);
        assert_eq!(m.boot_time, Duration::from_secs(180), "{}", m.model);
    }
    assert!(lookup("KD110").remote.reboot);
    assert!(lookup("D130").remote.reboot);
    // Through the hub's controlChild the reboot is unverified.
    assert!(!lookup("D230").remote.reboot);
}

#[test]
fn plugs_strips_and_switches_have_both_remote_commands_and_the_plug_button() {
    let families = [
        Family::Plug,
        Family::Strip,
        Family::WallSwitch,
        Family::Dimmer,
    ];
    for m in models().iter().filter(|m| families.contains(&m.family)) {
        assert_eq!(
            m.remote,
            Remote {
                reboot: true,
                factory_reset: true
            },
            "{}",
            m.model
        );
        assert!(matches!(
            m.protocol,
            Protocol::Iot | Protocol::Mixed | Protocol::Smart
        ));
        let soft = m.soft.expect(m.model);
        let factory = m.factory.expect(m.model);
        assert_eq!(
            (soft.button, soft.tool),
            (Button::OnHousing, None),
            "{}",
            m.model
        );
        assert_eq!(soft.hold, Hold::secs(5, 5), "{}", m.model);
        assert_eq!(soft.then, Then::Restarts, "{}", m.model);
        assert_eq!(factory.hold, Hold::secs(10, 10), "{}", m.model);
        assert_eq!(factory.then, Then::RestartsForSetup, "{}", m.model);
        assert_eq!(
            m.app_path,
            Some("Device Settings > Advanced > Reset Device"),
            "{}",
            m.model
        );
        assert_eq!(m.boot_time, Duration::from_secs(60), "{}", m.model);
    }
    assert!(of(Family::Plug).count() >= 17);
    assert!(of(Family::Strip).count() >= 10);
}

#[test]
fn bulbs_and_light_strips_reset_remotely_and_claim_no_physical_procedure() {
    for m in models()
        .iter()
        .filter(|m| matches!(m.family, Family::Bulb | Family::LightStrip))
    {
        assert!(m.remote.reboot && m.remote.factory_reset, "{}", m.model);
        assert_eq!(
            (m.soft, m.factory, m.app_path),
            (None, None, None),
            "{}",
            m.model
        );
        assert_eq!(m.protocol, Protocol::Iot, "{}", m.model);
    }
    assert!(of(Family::Bulb).count() >= 10);
}

#[test]
fn every_off_time_is_within_the_vendors_10_to_15_seconds() {
    for m in models().iter().chain([&UNKNOWN]) {
        assert!(
            (Duration::from_secs(10)..=Duration::from_secs(15)).contains(&m.off_time),
            "{}",
            m.model
        );
    }
    assert_eq!(UNKNOWN.off_time, Duration::from_secs(15));
}

#[test]
fn every_procedure_holds_for_a_sane_range_and_comes_back_after_the_boot_time() {
    for m in models() {
        for p in [m.soft, m.factory].into_iter().flatten() {
            assert!(p.hold.min <= p.hold.max, "{}", m.model);
            assert!(p.hold.max <= Duration::from_secs(15), "{}", m.model);
            assert_eq!(p.back_after, m.boot_time, "{}", m.model);
        }
    }
}

#[test]
fn unknown_models_keep_todays_remote_behaviour_and_get_a_warning() {
    assert_eq!(
        UNKNOWN.remote,
        Remote {
            reboot: true,
            factory_reset: true
        }
    );
    assert_eq!(
        (UNKNOWN.soft, UNKNOWN.factory, UNKNOWN.app_path),
        (None, None, None)
    );
    assert_eq!(
        unknown_model_warning(" ZZ9000(XX) ").as_deref(),
        Some(
            "unknown model \"ZZ9000(XX)\": conservative defaults (180 s boot, 15 s off); no \
             physical or app reset procedure known, see the device's manual"
        )
    );
    assert_eq!(unknown_model_warning("kc110(us)"), None);
}

#[test]
fn a_procedure_reads_as_one_line_for_a_person() {
    assert_eq!(
        lookup("KC120").factory.unwrap().words(),
        "the recessed reset button with a paperclip or pin, for 5–10 s (the light flashes \
         rapidly); it restarts with factory settings; set it up again in the app, back after \
         about 120 s"
    );
    assert_eq!(
        lookup("HS103").soft.unwrap().words(),
        "the button on the device, for 5 s (the guidance doesn't say what the light does); it \
         restarts with its settings and rejoins the network, back after about 60 s"
    );
}
