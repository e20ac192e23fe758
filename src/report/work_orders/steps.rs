//! A model's procedure for the run's action, as steps a technician ticks off: the catalog's
//! soft procedure for a power cycle, its factory procedure for a factory reset, the app's reset
//! as an alternative while the device is online, and what to check afterwards. Models the
//! catalog doesn't know, and families it gives no procedure for, get conservative generic steps
//! with a warning.

use std::time::Duration;

use crate::catalog::{self, Button, Family, Hold, Light, ModelInfo, Procedure, Then};
use crate::model::Action;

/// The longest off time of the vendor's 10–15 s, for devices we know nothing about.
const GENERIC_OFF: Hold = Hold::secs(15, 15);

/// What a technician does at one device, and checks afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Steps {
    /// `Factory reset of a doorbell (KD110)`.
    pub title: String,
    /// What to bring, if anything.
    pub bring: Option<&'static str>,
    /// In order.
    pub actions: Vec<String>,
    /// The app's way, while the device is still online.
    pub app: Option<String>,
    /// What shows the work was done.
    pub check: Vec<String>,
    /// Set when these are generic steps rather than the model's.
    pub warning: Option<String>,
}

impl Steps {
    pub fn for_model(model: Option<&str>, action: Action) -> Steps {
        let info = model.map_or(catalog::UNKNOWN, catalog::lookup);
        let procedure = match action {
            Action::PowerCycle => info.soft,
            Action::FactoryReset => info.factory,
        };
        let what = match action {
            Action::PowerCycle => "Power cycle (settings kept)",
            Action::FactoryReset => "Factory reset (settings, Wi-Fi and account erased)",
        };
        let named = model.map(str::trim).filter(|m| !m.is_empty());
        let title = match (info.family, named) {
            (Family::Unknown, Some(m)) => format!("{what} of model {m} (not in the catalog)"),
            (Family::Unknown, None) => format!("{what} (no model given)"),
            (family, Some(m)) => format!("{what} of a {} ({m})", family_word(family)),
            (family, None) => format!("{what} of a {}", family_word(family)),
        };
        let app = match action {
            Action::FactoryReset => info.app_path.map(|path| {
                format!("while the device is still online, the app can do it instead: {path}")
            }),
            Action::PowerCycle => None,
        };
        match procedure {
            Some(p) => Steps {
                title,
                bring: p.tool.map(|t| t.words()),
                actions: actions(&p),
                app,
                check: check(&p, action),
                warning: None,
            },
            None => generic(title, &info, named, action, app),
        }
    }
}

fn family_word(family: Family) -> &'static str {
    match family {
        Family::Plug => "plug",
        Family::Strip => "power strip",
        Family::WallSwitch => "wall switch",
        Family::Dimmer => "dimmer",
        Family::Bulb => "bulb",
        Family::LightStrip => "light strip",
        Family::Camera => "camera",
        Family::Doorbell => "doorbell",
        Family::Unknown => "device",
    }
}

/// `5 s`, `5–10 s`.
fn hold_words(hold: Hold) -> String {
    let (min, max) = (hold.min.as_secs(), hold.max.as_secs());
    if min == max {
        format!("{min} s")
    } else {
        format!("{min}–{max} s")
    }
}

/// Until when to hold: the light, or the whole time where the guidance doesn't say.
fn until(p: &Procedure) -> String {
    match p.light {
        Light::NotStated | Light::Off => {
            "(the guidance doesn't say what the light does: hold it the whole time)".to_string()
        }
        light => format!("until {}", light.words()),
    }
}

fn actions(p: &Procedure) -> Vec<String> {
    let hold = hold_words(p.hold);
    match p.button {
        Button::OnHousing => vec![format!(
            "Press and hold the button on the device for {hold} {}; then release it.",
            until(p)
        )],
        Button::RecessedPinhole => vec![format!(
            "With the pin, press and hold the recessed reset button for {hold} {}; then release it.",
            until(p)
        )],
        Button::PinholeUnderBracket => vec![
            "Take the doorbell off its mounting bracket.".to_string(),
            format!(
                "With the pin, press and hold the pinhole button for {hold} {}; then release it.",
                until(p)
            ),
            "Put the doorbell back on its bracket.".to_string(),
        ],
        Button::PowerSupply => vec![
            "Unplug the power adapter (or switch off the outlet it is plugged into).".to_string(),
            format!("Leave it unpowered for {hold}, so it fully discharges, then plug it back in."),
        ],
        Button::BreakerOrTransformer => vec![
            "Switch off the doorbell's circuit breaker, or unplug its transformer.".to_string(),
            format!("Leave the power off for {hold}, then switch it back on."),
        ],
    }
}

fn back(after: Duration, then: Then) -> String {
    match then {
        Then::Restarts => format!(
            "It restarts and is back on the network after about {} s.",
            after.as_secs()
        ),
        Then::RestartsForSetup => format!(
            "It restarts with factory settings, ready to be set up again after about {} s.",
            after.as_secs()
        ),
    }
}

fn check(p: &Procedure, action: Action) -> Vec<String> {
    let mut check = Vec::new();
    if !matches!(p.light, Light::NotStated | Light::Off) {
        check.push(format!("During the hold, {}.", p.light.words()));
    }
    check.push(back(p.back_after, p.then));
    check.extend(afterwards(action));
    check
}

/// What shows the action's effect, whatever the model.
fn afterwards(action: Action) -> Vec<String> {
    match action {
        Action::PowerCycle => vec![
            "It shows online in the app again, with its name and settings as before.".to_string(),
        ],
        Action::FactoryReset => vec![
            "It no longer appears in the account in the app.".to_string(),
            "It is in setup mode, waiting to be added again (it has left the old Wi-Fi)."
                .to_string(),
        ],
    }
}

/// Steps for a device without a known procedure: cut its power for the longest off time the
/// vendor gives (a power cycle), or its manual's reset (a factory reset).
fn generic(
    title: String,
    info: &ModelInfo,
    model: Option<&str>,
    action: Action,
    app: Option<String>,
) -> Steps {
    let whose = match (info.family, model) {
        (Family::Unknown, Some(m)) => format!("model {m:?} is not in the catalog"),
        (Family::Unknown, None) => "the inventory gives no model".to_string(),
        (family, _) => format!(
            "the vendor's guidance gives no physical procedure for a {}",
            family_word(family)
        ),
    };
    let (actions, then) = match action {
        Action::PowerCycle => (
            vec![
                "Switch off the device's power: its plug, outlet, wall switch, breaker or transformer."
                    .to_string(),
                format!(
                    "Leave it off for {}, so it fully discharges, then switch it back on.",
                    hold_words(GENERIC_OFF)
                ),
            ],
            Then::Restarts,
        ),
        Action::FactoryReset => (
            vec![
                "Follow the factory-reset procedure in the device's manual (on TP-Link devices usually a reset button held about 10 s until the light changes).".to_string(),
            ],
            Then::RestartsForSetup,
        ),
    };
    let mut check = vec![back(info.boot_time, then)];
    check.extend(afterwards(action));
    Steps {
        title,
        bring: None,
        actions,
        app,
        check,
        warning: Some(format!(
            "{whose}: these are generic steps; check the device's manual first"
        )),
    }
}
