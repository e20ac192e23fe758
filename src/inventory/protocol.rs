//! `protocol` column: [`ProtocolChoice`], the transport a row asks for, parsed once here so that
//! `check`, `plan`, `run` and `simulate` all accept and refuse the same words.

use std::fmt;
use std::str::FromStr;

use crate::device::ProtocolKind;

/// What a row's `protocol` column asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProtocolChoice {
    /// `auto`, an empty cell or no column: the catalog or discovery decides.
    #[default]
    Auto,
    /// `klap`: IOT JSON over KLAP v1 or SMART JSON over KLAP v2, whichever the model speaks
    /// (`engine::plan::protocol_column` settles which).
    Klap,
    /// One protocol: `iot` (or `xor`), `aes`, `tpap`, `iot-klap`, or one of the exact words of
    /// [`ProtocolKind`].
    Exact(ProtocolKind),
}

/// The words the column takes besides the exact [`ProtocolKind`] ones, for messages.
const SHORT_WORDS: &str = "auto, iot, klap, aes, tpap";

/// Why a `protocol` cell is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {SHORT_WORDS}, or one of {}", exact_words())]
pub struct ProtocolChoiceError;

fn exact_words() -> String {
    let words: Vec<_> = ProtocolKind::ALL.iter().map(|p| p.as_str()).collect();
    words.join(", ")
}

/// Case and surrounding spaces don't matter: spreadsheets capitalise cells.
impl FromStr for ProtocolChoice {
    type Err = ProtocolChoiceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let word = s.trim().to_ascii_lowercase();
        Ok(match word.as_str() {
            "" | "auto" => ProtocolChoice::Auto,
            "klap" => ProtocolChoice::Klap,
            "iot" | "xor" => ProtocolChoice::Exact(ProtocolKind::Iot),
            "aes" => ProtocolChoice::Exact(ProtocolKind::SmartAes),
            "tpap" => ProtocolChoice::Exact(ProtocolKind::SmartTpap),
            "iot-klap" => ProtocolChoice::Exact(ProtocolKind::IotKlapV1),
            exact => ProtocolChoice::Exact(
                ProtocolKind::ALL
                    .iter()
                    .copied()
                    .find(|p| p.as_str() == exact)
                    .ok_or(ProtocolChoiceError)?,
            ),
        })
    }
}

/// The canonical word, which parses back to the same choice.
impl fmt::Display for ProtocolChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolChoice::Auto => f.write_str("auto"),
            ProtocolChoice::Klap => f.write_str("klap"),
            ProtocolChoice::Exact(kind) => f.write_str(kind.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_word_parses_whatever_its_case() {
        for (word, choice) in [
            ("", ProtocolChoice::Auto),
            (" Auto ", ProtocolChoice::Auto),
            ("KLAP", ProtocolChoice::Klap),
            ("iot", ProtocolChoice::Exact(ProtocolKind::Iot)),
            ("xor", ProtocolChoice::Exact(ProtocolKind::Iot)),
            ("AES", ProtocolChoice::Exact(ProtocolKind::SmartAes)),
            ("iot-klap", ProtocolChoice::Exact(ProtocolKind::IotKlapV1)),
            (
                "iot-klap-v2",
                ProtocolChoice::Exact(ProtocolKind::IotKlapV2),
            ),
            ("smart-klap", ProtocolChoice::Exact(ProtocolKind::SmartKlap)),
            ("smart-aes", ProtocolChoice::Exact(ProtocolKind::SmartAes)),
            ("SslAes", ProtocolChoice::Exact(ProtocolKind::SslAes)),
            ("linkie2", ProtocolChoice::Exact(ProtocolKind::Linkie2)),
        ] {
            assert_eq!(word.parse(), Ok(choice), "{word:?}");
        }
    }

    #[test]
    fn a_misspelt_protocol_is_refused_listing_the_words() {
        for bad in ["klapp", "telnet", "smart", "iot klap"] {
            assert_eq!(bad.parse::<ProtocolChoice>(), Err(ProtocolChoiceError));
        }
        assert_eq!(
            ProtocolChoiceError.to_string(),
            "expected auto, iot, klap, aes, tpap, or one of iot, iot-klap-v1, iot-klap-v2, \
             smart-klap, smart-aes, smart-tpap, sslaes, camera-tpap, linkie2"
        );
    }

    #[test]
    fn display_writes_a_word_that_parses_back() {
        for choice in [ProtocolChoice::Auto, ProtocolChoice::Klap]
            .into_iter()
            .chain(ProtocolKind::ALL.iter().map(|k| ProtocolChoice::Exact(*k)))
        {
            assert_eq!(choice.to_string().parse(), Ok(choice));
        }
    }
}
