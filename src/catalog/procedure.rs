//! What a person does at the device: the physical soft and factory procedures, in closed words.
//!
//! The guidance here is the vendor's as quoted in issue 10. Where it says nothing for a family the
//! value says so (`Light::NotStated`) or the family has no procedure at all, rather than a guess.

use std::time::Duration;

/// What a person presses, pulls or switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    /// The button on the device's own housing. The guidance gives how long to hold it, not where
    /// it sits, which varies by model.
    OnHousing,
    /// A recessed reset button, reached with a pin. The guidance doesn't say where it is on each
    /// model.
    RecessedPinhole,
    /// A pinhole button that can only be reached with the doorbell taken off its bracket.
    PinholeUnderBracket,
    /// The camera's power: unplug its adapter (or switch its outlet) and plug it back in.
    PowerSupply,
    /// The doorbell's power: the circuit breaker, or the plug of its transformer.
    BreakerOrTransformer,
}

impl Button {
    pub fn words(self) -> &'static str {
        match self {
            Button::OnHousing => "the button on the device",
            Button::RecessedPinhole => "the recessed reset button",
            Button::PinholeUnderBracket => {
                "the pinhole button, with the doorbell taken off its bracket"
            }
            Button::PowerSupply => "the power adapter: unplug it",
            Button::BreakerOrTransformer => {
                "the power: switch off the breaker or unplug the doorbell's transformer"
            }
        }
    }
}

/// What the person needs in hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// A paperclip or pin, for a recessed button.
    Pin,
}

impl Tool {
    pub fn words(self) -> &'static str {
        match self {
            Tool::Pin => "a paperclip or pin",
        }
    }
}

/// How long to hold (a button pressed, or the power off), from `min` to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hold {
    pub min: Duration,
    pub max: Duration,
}

impl Hold {
    pub const fn secs(min: u64, max: u64) -> Hold {
        Hold {
            min: Duration::from_secs(min),
            max: Duration::from_secs(max),
        }
    }
}

/// What the device's light does when the hold has done its work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Light {
    /// Kasa cameras: "until the light flashes rapidly".
    FlashesRapidly,
    /// The Kasa doorbell: "until the LED blinks red/amber".
    BlinksRedOrAmber,
    /// The device is unpowered, so its light is out.
    Off,
    /// The guidance says nothing about the light for this family.
    NotStated,
}

impl Light {
    pub fn words(self) -> &'static str {
        match self {
            Light::FlashesRapidly => "the light flashes rapidly",
            Light::BlinksRedOrAmber => "the LED blinks red or amber",
            Light::Off => "the light goes out",
            Light::NotStated => "the guidance doesn't say what the light does",
        }
    }
}

/// What happens after the procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// It restarts with its settings kept and rejoins the network.
    Restarts,
    /// It restarts with factory settings: it must be set up again in the app before it is back on
    /// the network, so nothing on the LAN sees it return by itself.
    RestartsForSetup,
}

impl Then {
    pub fn words(self) -> &'static str {
        match self {
            Then::Restarts => "it restarts with its settings and rejoins the network",
            Then::RestartsForSetup => {
                "it restarts with factory settings; set it up again in the app"
            }
        }
    }
}

/// One physical procedure: press or switch `button` with `tool` for `hold` until `light`, then
/// `then`, and the device is back (or ready for setup) after `back_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Procedure {
    pub button: Button,
    pub tool: Option<Tool>,
    pub hold: Hold,
    pub light: Light,
    pub then: Then,
    pub back_after: Duration,
}

impl Procedure {
    /// One line for a person: what to hold, with what, for how long, what to watch, what follows.
    pub fn words(&self) -> String {
        let tool = self
            .tool
            .map(|t| format!(" with {}", t.words()))
            .unwrap_or_default();
        let (min, max) = (self.hold.min.as_secs(), self.hold.max.as_secs());
        let hold = if min == max {
            format!("{min} s")
        } else {
            format!("{min}–{max} s")
        };
        format!(
            "{}{tool}, for {hold} ({}); {}, back after about {} s",
            self.button.words(),
            self.light.words(),
            self.then.words(),
            self.back_after.as_secs()
        )
    }
}

/// The physical procedures of one family; `None` where the guidance gives none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Procedures {
    /// A restart that keeps the settings.
    pub soft: Option<Procedure>,
    /// A reset to factory settings.
    pub factory: Option<Procedure>,
}

/// Plugs: "a 5 s press" soft-resets; the light isn't described.
const fn plug_soft(back_after: Duration) -> Procedure {
    Procedure {
        button: Button::OnHousing,
        tool: None,
        hold: Hold::secs(5, 5),
        light: Light::NotStated,
        then: Then::Restarts,
        back_after,
    }
}

/// Plugs: "10 s" factory-resets; offline, the button is the only way.
const fn plug_factory(back_after: Duration) -> Procedure {
    Procedure {
        button: Button::OnHousing,
        tool: None,
        hold: Hold::secs(10, 10),
        light: Light::NotStated,
        then: Then::RestartsForSetup,
        back_after,
    }
}

/// The plug guidance, for plugs, strips, wall switches and dimmers. The issue gives it for plugs
/// only; strips, switches and dimmers get it as the nearest family, with a button on the housing.
pub const fn button_device(back_after: Duration) -> Procedures {
    Procedures {
        soft: Some(plug_soft(back_after)),
        factory: Some(plug_factory(back_after)),
    }
}

/// Cameras. The guidance names no soft-reset button, so the soft procedure is a power cycle held
/// for `off`, the tool's own off time. The factory procedure is the Kasa cameras' ("a recessed
/// button held 5–10 s until the light flashes rapidly"); Tapo cameras get it as family guidance.
pub const fn camera(off: Hold, back_after: Duration) -> Procedures {
    Procedures {
        soft: Some(Procedure {
            button: Button::PowerSupply,
            tool: None,
            hold: off,
            light: Light::Off,
            then: Then::Restarts,
            back_after,
        }),
        factory: Some(Procedure {
            button: Button::RecessedPinhole,
            tool: Some(Tool::Pin),
            hold: Hold::secs(5, 10),
            light: Light::FlashesRapidly,
            then: Then::RestartsForSetup,
            back_after,
        }),
    }
}

/// Doorbells, from the Kasa doorbell's guidance: power cut at the breaker or the transformer for
/// 10–15 s; factory reset off the bracket, a pinhole held 5–10 s until the LED blinks red/amber.
/// Tapo doorbells get it as family guidance. What releases the bracket isn't said.
pub const fn doorbell(back_after: Duration) -> Procedures {
    Procedures {
        soft: Some(Procedure {
            button: Button::BreakerOrTransformer,
            tool: None,
            hold: Hold::secs(10, 15),
            light: Light::Off,
            then: Then::Restarts,
            back_after,
        }),
        factory: Some(Procedure {
            button: Button::PinholeUnderBracket,
            tool: Some(Tool::Pin),
            hold: Hold::secs(5, 10),
            light: Light::BlinksRedOrAmber,
            then: Then::RestartsForSetup,
            back_after,
        }),
    }
}

/// Bulbs, light strips and unknown models: the guidance gives no procedure, so none is claimed.
pub const NONE: Procedures = Procedures {
    soft: None,
    factory: None,
};
