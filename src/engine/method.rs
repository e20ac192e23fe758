//! How one device gets the action: the method as data, chosen in `plan` from the catalog, the
//! inventory and what the user asked (`--method`). The job `match`es on it: a remote command
//! ([`super::job::command`]), an upstream power cycle ([`super::job::upstream`]), or a work
//! order ([`super::job::manual`]). Pure; sends nothing.

use std::time::Duration;

use crate::catalog::{ModelInfo, Procedure};
use crate::inventory::Device;
use crate::model::{Action, Method};

pub use crate::model::MethodChoice;

/// The plug or strip outlet a device is power-cycled through.
#[derive(Debug, Clone, PartialEq)]
pub struct Upstream {
    /// The feeding row's id (`power_via` without its `#N`).
    pub via: String,
    /// The strip's outlet, from 1; `None` for a plug's own relay.
    pub outlet: Option<u16>,
    /// How long the outlet stays off: the catalog's off time for the powered device (device
    /// time; the run's time scale applies).
    pub off_time: Duration,
    /// The feeding row, as the inventory has it: how to reach the switch.
    pub feeder: Box<Device>,
    /// How the switch is reached: its own job's link once a run has settled it
    /// (`execute::prepare`), else the inventory's and the catalog's.
    pub switch: Option<super::plan::LinkPlan>,
}

impl Upstream {
    /// `strip-1#2` or `plug-3`: the outlet as `power_via` writes it, and the key devices
    /// behind the same outlet share.
    pub fn outlet_name(&self) -> String {
        match self.outlet {
            Some(n) => format!("{}#{n}", self.via),
            None => self.via.clone(),
        }
    }
}

/// A work order: what a person does, and why the tool can't.
#[derive(Debug, Clone, PartialEq)]
pub struct Manual {
    /// The catalog's physical procedure for the action, when it gives one.
    pub procedure: Option<Procedure>,
    /// Why no remote path is used, in words for the plan and the job's detail.
    pub why: String,
    /// A person asked for the work order (`--method manual`, or the row's `method` column),
    /// rather than the tool having no path.
    pub asked: bool,
}

/// How one device gets the action, with what that method needs.
#[derive(Debug, Clone, PartialEq)]
pub enum MethodPlan {
    /// A command over the device's own local protocol, on the job's link.
    Remote,
    /// Switch off the outlet that powers it, hold, switch on, see it come back.
    Upstream(Upstream),
    /// A work order; nothing is sent.
    Manual(Manual),
}

impl MethodPlan {
    /// The stored word (`jobs.method`, reports).
    pub fn word(&self) -> Method {
        match self {
            MethodPlan::Remote => Method::Remote,
            MethodPlan::Upstream(_) => Method::Upstream,
            MethodPlan::Manual(_) => Method::Manual,
        }
    }

    /// Why this method, for the plan.
    pub fn why(&self, model: &ModelInfo, action: Action) -> String {
        match self {
            MethodPlan::Remote => format!(
                "the {} takes a {} command over its local protocol",
                shown_model(model),
                command_word(action)
            ),
            MethodPlan::Upstream(u) => format!(
                "power_via {}: its outlet is switched off for {} s, then on",
                u.outlet_name(),
                u.off_time.as_secs()
            ),
            MethodPlan::Manual(m) => m.why.clone(),
        }
    }
}

fn command_word(action: Action) -> &'static str {
    match action {
        Action::PowerCycle => "reboot",
        Action::FactoryReset => "factory-reset",
    }
}

fn shown_model(model: &ModelInfo) -> &'static str {
    if model.model == crate::catalog::UNKNOWN.model {
        "device (model unknown)"
    } else {
        model.model
    }
}

/// Chooses one device's method: from the catalog's remote capabilities for `model`, the row's
/// `power_via` (with its feeding row, when the inventory has it) and what `--method` asks.
pub fn choose(
    device: &Device,
    model: &ModelInfo,
    feeder: Option<&Device>,
    action: Action,
    asked: MethodChoice,
) -> MethodPlan {
    let procedure = match action {
        Action::PowerCycle => model.soft,
        Action::FactoryReset => model.factory,
    };
    let manual = |why: String| {
        MethodPlan::Manual(Manual {
            procedure,
            asked: asked == MethodChoice::Manual,
            why: match procedure {
                Some(p) => format!("{why}; by hand: {}", p.words()),
                None => format!("{why}; no physical procedure known, see the device's manual"),
            },
        })
    };
    let remote = match action {
        Action::PowerCycle => model.remote.reboot,
        Action::FactoryReset => model.remote.factory_reset,
    };
    let upstream = || {
        let via = device.power_via.as_ref()?;
        Some(MethodPlan::Upstream(Upstream {
            via: via.id.clone(),
            outlet: via.outlet,
            off_time: model.off_time,
            feeder: Box::new(feeder?.clone()),
            switch: None,
        }))
    };
    let no_command = || {
        format!(
            "no local {} command for a {}",
            command_word(action),
            shown_model(model)
        )
    };
    match (asked, action) {
        (MethodChoice::Manual, _) => manual(format!("{} manual", asker(device, asked))),
        // Cutting the power restarts a device; it never erases it.
        (MethodChoice::Upstream, Action::FactoryReset) => {
            manual("a power cycle at the outlet can't factory-reset a device".into())
        }
        (MethodChoice::Upstream, Action::PowerCycle) => upstream().unwrap_or_else(|| {
            manual(no_power_via(
                device,
                &format!("{} upstream", asker(device, asked)),
            ))
        }),
        (MethodChoice::Remote, _) if remote => MethodPlan::Remote,
        (MethodChoice::Remote, _) => manual(no_command()),
        (MethodChoice::Auto, _) if remote => MethodPlan::Remote,
        (MethodChoice::Auto, Action::PowerCycle) => upstream().unwrap_or_else(|| {
            manual(format!(
                "{}, and {}",
                no_command(),
                no_power_via(device, "nothing upstream")
            ))
        }),
        (MethodChoice::Auto, Action::FactoryReset) => manual(no_command()),
    }
}

/// Who asked for a method: the row's own `method` column, or the run's `--method`.
fn asker(device: &Device, asked: MethodChoice) -> &'static str {
    if device.method == asked {
        "the row's method"
    } else {
        "--method"
    }
}

fn no_power_via(device: &Device, what: &str) -> String {
    match &device.power_via {
        None => format!("{what}: the row has no power_via"),
        Some(via) => format!("{what}: power_via {via} names no row of this inventory"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;

    fn row(id: &str, model: &str, via: Option<&str>) -> Device {
        Device {
            model: Some(model.into()),
            power_via: via.map(|v| v.parse().unwrap()),
            ..Device::bare(id, "10.0.0.5")
        }
    }

    fn chosen(d: &Device, feeder: Option<&Device>, action: Action, asked: MethodChoice) -> Method {
        let model = catalog::lookup(d.model.as_deref().unwrap());
        choose(d, &model, feeder, action, asked).word()
    }

    #[test]
    fn auto_prefers_a_remote_command_then_the_outlet_then_a_work_order() {
        let strip = row("strip", "HS300", None);
        let plug = row("p", "HS110", Some("strip#2"));
        let d230 = row("bell", "D230", Some("strip#3"));
        let lone_d230 = row("bell2", "D230", None);
        let pc = Action::PowerCycle;
        assert_eq!(
            chosen(&plug, Some(&strip), pc, MethodChoice::Auto),
            Method::Remote
        );
        // The D230 has no remote reboot: its outlet is cycled.
        assert_eq!(
            chosen(&d230, Some(&strip), pc, MethodChoice::Auto),
            Method::Upstream
        );
        assert_eq!(
            chosen(&lone_d230, None, pc, MethodChoice::Auto),
            Method::Manual
        );
        // A power_via naming no row of the inventory can't be used.
        assert_eq!(chosen(&d230, None, pc, MethodChoice::Auto), Method::Manual);
    }

    #[test]
    fn a_factory_reset_without_a_local_command_is_a_work_order_with_the_button_procedure() {
        let cam = row("cam", "KC100", Some("strip#1"));
        let strip = row("strip", "HS300", None);
        let model = catalog::lookup("KC100");
        for asked in [
            MethodChoice::Auto,
            MethodChoice::Remote,
            MethodChoice::Upstream,
        ] {
            let MethodPlan::Manual(m) =
                choose(&cam, &model, Some(&strip), Action::FactoryReset, asked)
            else {
                panic!("{asked:?}: a KC100 has no factory-reset command");
            };
            assert_eq!(m.procedure, model.factory);
            assert!(
                m.why.contains("recessed reset button") || m.why.contains("power cycle"),
                "{}",
                m.why
            );
        }
        let MethodPlan::Manual(m) =
            choose(&cam, &model, None, Action::FactoryReset, MethodChoice::Auto)
        else {
            panic!()
        };
        assert!(
            m.why
                .starts_with("no local factory-reset command for a KC100"),
            "{}",
            m.why
        );
    }

    #[test]
    fn method_upstream_cycles_the_outlet_even_of_a_device_with_a_remote_reboot() {
        let strip = row("strip", "HS300", None);
        let bulb = row("b", "KL130", Some("strip#2"));
        let model = catalog::lookup("KL130");
        let MethodPlan::Upstream(u) = choose(
            &bulb,
            &model,
            Some(&strip),
            Action::PowerCycle,
            MethodChoice::Upstream,
        ) else {
            panic!("power_via names a strip outlet")
        };
        assert_eq!((u.via.as_str(), u.outlet), ("strip", Some(2)));
        assert_eq!(u.outlet_name(), "strip#2");
        assert_eq!(u.off_time, model.off_time);
        assert_eq!(u.feeder.id, "strip");
        // Without power_via there is nothing to switch.
        let lone = row("b2", "KL130", None);
        assert_eq!(
            chosen(&lone, None, Action::PowerCycle, MethodChoice::Upstream),
            Method::Manual
        );
    }

    #[test]
    fn method_remote_and_manual_are_taken_as_asked() {
        let strip = row("strip", "HS300", None);
        let d230 = row("bell", "D230", Some("strip#3"));
        let plug = row("p", "HS110", Some("strip#2"));
        let pc = Action::PowerCycle;
        assert_eq!(
            chosen(&d230, Some(&strip), pc, MethodChoice::Remote),
            Method::Manual
        );
        for action in [Action::PowerCycle, Action::FactoryReset] {
            assert_eq!(
                chosen(&plug, Some(&strip), action, MethodChoice::Manual),
                Method::Manual
            );
            assert_eq!(
                chosen(&plug, Some(&strip), action, MethodChoice::Remote),
                Method::Remote
            );
        }
    }
}
