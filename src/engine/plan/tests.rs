use super::*;

fn device(model: Option<&str>, mac: Option<&str>) -> Device {
    Device {
        model: model.map(str::to_owned),
        mac: mac.map(|m| m.parse().unwrap()),
        ..Device::bare("d1", "10.0.0.5")
    }
}

#[test]
fn a_device_behind_a_switch_that_is_itself_cycled_upstream_is_warned_it_loses_power_twice() {
    let row = |id: &str, model: &str, via: Option<&str>| Device {
        model: Some(model.into()),
        power_via: via.map(|v| v.parse().unwrap()),
        ..Device::bare(id, &format!("10.0.0.{}", id.len()))
    };
    let devices = [
        row("p", "HS110", None),
        row("strip", "HS300", Some("p")),
        row("bulb1", "KL130", Some("strip#2")),
    ];
    let jobs = plan_with(&devices, Action::PowerCycle, MethodChoice::Upstream);
    assert!(
        jobs[2]
            .warnings
            .iter()
            .any(|w| w.contains("loses power a second time")),
        "{:?}",
        jobs[2].warnings
    );
    // By its own command, the strip cuts nothing: no warning.
    let jobs = plan_with(&devices, Action::PowerCycle, MethodChoice::Auto);
    assert!(
        jobs.iter()
            .all(|j| j.warnings.iter().all(|w| !w.contains("second time")))
    );
}

#[test]
fn a_row_s_method_column_decides_unless_the_run_names_a_method_for_all() {
    let strip = Device {
        model: Some("HS300".into()),
        ..Device::bare("strip", "10.0.0.1")
    };
    let cam = Device {
        model: Some("C210".into()),
        power_via: Some("strip#2".parse().unwrap()),
        method: MethodChoice::Upstream,
        ..Device::bare("cam", "10.0.0.2")
    };
    let words = |asked| -> Vec<Method> {
        plan_with(&[strip.clone(), cam.clone()], Action::PowerCycle, asked)
            .iter()
            .map(|j| j.method.word())
            .collect()
    };
    // The camera has a remote reboot, but its row asks for its outlet.
    assert_eq!(
        words(MethodChoice::Auto),
        [Method::Remote, Method::Upstream]
    );
    assert_eq!(
        words(MethodChoice::Remote),
        [Method::Remote, Method::Remote]
    );
    let manual = plan_with(
        std::slice::from_ref(&cam),
        Action::PowerCycle,
        MethodChoice::Auto,
    );
    // Its outlet's strip is not in this inventory: a work order, saying whose ask it was.
    assert_eq!(manual[0].method.word(), Method::Manual);
    assert!(
        manual[0].why.contains("the row's method upstream"),
        "{}",
        manual[0].why
    );
}

#[test]
fn a_known_plug_with_a_mac_plans_remote_with_no_warnings() {
    let jobs = plan(
        &[device(Some("HS110(EU)"), Some("50:C7:BF:00:00:01"))],
        Action::PowerCycle,
    );
    let j = &jobs[0];
    assert_eq!(j.method, MethodPlan::Remote);
    assert!(j.warnings.is_empty(), "{:?}", j.warnings);
    assert!(j.steps.iter().any(|s| s.contains("50:C7:BF:00:00:01")));
    assert!(j.steps.iter().any(|s| s.starts_with("send reboot")));
    // 2 s of exchanges, 1 s delay, 60 s boot.
    assert_eq!(j.estimate, Duration::from_secs(63));
}

#[test]
fn missing_mac_and_unknown_model_are_warned_about() {
    let j = &plan(&[device(Some("ZZ9000"), None)], Action::FactoryReset)[0];
    assert!(j.warnings.iter().any(|w| w.contains("no MAC")));
    assert!(
        j.warnings
            .iter()
            .any(|w| w.contains("unknown model \"ZZ9000\""))
    );
    assert!(j.steps.iter().any(|s| s.starts_with("send factory reset")));
    let j = &plan(&[device(None, None)], Action::FactoryReset)[0];
    assert!(j.warnings.iter().any(|w| w.contains("no model given")));
}

#[test]
fn a_factory_reset_is_estimated_shorter_than_a_power_cycle() {
    let d = [device(Some("HS103"), None)];
    assert!(plan(&d, Action::FactoryReset)[0].estimate < plan(&d, Action::PowerCycle)[0].estimate);
}

#[test]
fn the_protocol_column_picks_the_payload_klap_carries_by_model() {
    let with = |model: &str, protocol: &str| {
        let mut d = device(Some(model), None);
        d.protocol = protocol.parse().unwrap();
        let info = catalog::lookup(model);
        protocol_column(&d, &info)
    };
    assert_eq!(with("HS100(UK)", "klap"), Some(ProtocolKind::IotKlapV1));
    assert_eq!(with("HS110(EU)", "klap"), Some(ProtocolKind::IotKlapV1));
    assert_eq!(with("EP25(US)", "klap"), Some(ProtocolKind::SmartKlap));
    assert_eq!(with("P110(UK)", "KLAP"), Some(ProtocolKind::SmartKlap));
    assert_eq!(with("P100(US)", "aes"), Some(ProtocolKind::SmartAes));
    assert_eq!(with("HS110(EU)", "auto"), None);
    assert_eq!(with("HS110(EU)", "smart-aes"), Some(ProtocolKind::SmartAes));
}

#[test]
fn a_strip_is_planned_after_the_devices_it_powers_and_they_through_its_outlet() {
    let strip = Device {
        model: Some("HS300".into()),
        ..Device::bare("strip", "10.0.0.1")
    };
    let bell = Device {
        model: Some("D230".into()),
        power_via: Some("strip#3".parse().unwrap()),
        ..Device::bare("bell", "10.0.0.2")
    };
    let jobs = plan(&[strip, bell], Action::PowerCycle);
    assert_eq!(jobs[0].method, MethodPlan::Remote);
    assert_eq!(jobs[0].after, ["bell"]);
    assert!(
        jobs[0].steps[0].starts_with("after: bell"),
        "{:?}",
        jobs[0].steps
    );
    let MethodPlan::Upstream(u) = &jobs[1].method else {
        panic!("{:?}", jobs[1].method);
    };
    assert_eq!(u.outlet_name(), "strip#3");
    assert!(jobs[1].why.contains("strip#3"), "{}", jobs[1].why);
    assert!(
        jobs[1]
            .steps
            .iter()
            .any(|s| s.starts_with("switch strip#3 off; hold it off for at least 15 s")),
        "{:?}",
        jobs[1].steps
    );
    let view = jobs[1].view();
    assert_eq!(view.method, Method::Upstream);
    assert_eq!(view.via.as_deref(), Some("strip#3"));
}

#[test]
fn a_work_order_plans_nothing_sent_and_takes_no_time() {
    let cam = Device {
        model: Some("KC100".into()),
        ..Device::bare("cam", "10.0.0.3")
    };
    let j = &plan(&[cam], Action::FactoryReset)[0];
    assert!(matches!(j.method, MethodPlan::Manual(_)));
    assert_eq!(j.estimate, Duration::ZERO);
    assert!(j.steps.iter().any(|s| s.contains("nothing is sent")));
    assert!(
        j.why
            .starts_with("no local factory-reset command for a KC100"),
        "{}",
        j.why
    );
}

#[test]
fn jobs_keep_inventory_order() {
    let mut b = device(Some("HS103"), None);
    b.id = "d2".into();
    let jobs = plan(&[device(None, None), b], Action::PowerCycle);
    assert_eq!((jobs[0].seq, jobs[1].seq), (0, 1));
    assert_eq!(jobs[1].device.id, "d2");
}
