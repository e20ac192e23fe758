use super::*;

/// The words `run` reads in the `protocol` column: `auto`, the short ones, and every exact
/// form, in a few spellings.
const WORDS: &[&str] = &[
    "",
    "auto",
    "iot",
    "xor",
    "klap",
    "aes",
    "iot-klap",
    "iot-klap-v1",
    "iot-klap-v2",
    "smart-klap",
    "smart-aes",
    " Smart-KLAP ",
];

/// Models with an IOT capture, a SMART one, both (EP25) and a KLAP hardware one (HS100).
const MODELS: &[&str] = &[
    "HS110(EU)",
    "HS100(UK)",
    "KL130",
    "EP25(US)",
    "P110(UK)",
    "P300",
];

fn row(model: &str, word: &str) -> Device {
    let mut d = Device {
        model: Some(model.to_string()),
        ..Device::bare("d1", "127.0.0.1")
    };
    d.protocol = word
        .parse()
        .unwrap_or_else(|e| panic!("run refuses {word:?}: {e}"));
    d
}

/// The protocol the simulator serves the row in, as `run` names it, or why not.
fn served(model: &str, word: &str) -> Result<ProtocolKind, String> {
    let spec = plan(&[row(model, word)])
        .map_err(|problems| problems[0].message.clone())?
        .remove(0);
    Ok(match (spec.transport, &spec.dialect) {
        (Transport::Xor, Dialect::Iot { .. }) => ProtocolKind::Iot,
        (Transport::KlapV1, Dialect::Iot { .. }) => ProtocolKind::IotKlapV1,
        (Transport::KlapV2, Dialect::Iot { .. }) => ProtocolKind::IotKlapV2,
        (Transport::KlapV2, Dialect::Smart(_)) => ProtocolKind::SmartKlap,
        (Transport::Aes, Dialect::Smart(_)) => ProtocolKind::SmartAes,
        other => panic!("{model} {word:?}: served as {other:?}"),
    })
}

#[test]
fn cameras_are_served_over_their_own_transport_with_the_catalog_s_boot_time() {
    for (model, word, transport, port) in [
        ("C210", "", Transport::SslAes, 443),
        ("C210(EU)", "sslaes", Transport::SslAes, 443),
        ("D130", "auto", Transport::SslAes, 443),
        ("EC60", "", Transport::Linkie2, 10443),
        ("EC60(US)", "linkie2", Transport::Linkie2, 10443),
    ] {
        let spec = &plan(&[row(model, word)]).unwrap()[0];
        assert_eq!(spec.transport, transport, "{model} {word:?}");
        assert_eq!(spec.addr.port(), port, "{model} {word:?}");
        assert!(matches!(spec.dialect, Dialect::Camera(_)), "{model}");
        assert_eq!(
            spec.boot_time,
            catalog::lookup(model).boot_time,
            "{model} {word:?}"
        );
    }
    let refused =
        |model: &str, word: &str| plan(&[row(model, word)]).unwrap_err()[0].message.clone();
    assert!(refused("C210", "klap").contains("speaks sslaes (or tpap, on TPAP firmware) only"));
    let tpap = &plan(&[row("C210(EU)", "tpap")]).unwrap()[0];
    assert_eq!(tpap.transport, Transport::SslAes, "the same TLS listener");
    assert!(matches!(&tpap.dialect, Dialect::Camera(p) if p.tpap));
    assert!(refused("EC60", "tpap").contains("speaks linkie2 only"));
    assert!(refused("EC60", "sslaes").contains("speaks linkie2 only"));
    assert!(refused("P110(UK)", "sslaes").contains("not a camera"));
}

#[test]
fn the_exact_protocol_forms_are_served_as_written() {
    for (model, word, protocol, port) in [
        ("HS110(EU)", "iot", ProtocolKind::Iot, 9999),
        ("HS110(EU)", "iot-klap-v1", ProtocolKind::IotKlapV1, 80),
        ("HS110(EU)", "iot-klap-v2", ProtocolKind::IotKlapV2, 80),
        ("HS100(UK)", "iot-klap-v2", ProtocolKind::IotKlapV2, 80),
        ("EP25(US)", "iot", ProtocolKind::Iot, 9999),
        ("EP25(US)", "iot-klap-v1", ProtocolKind::IotKlapV1, 80),
        ("EP25(US)", "smart-klap", ProtocolKind::SmartKlap, 80),
        ("EP25(US)", "smart-aes", ProtocolKind::SmartAes, 80),
        ("P110(UK)", "smart-klap", ProtocolKind::SmartKlap, 80),
        ("P110(UK)", "SMART-AES", ProtocolKind::SmartAes, 80),
    ] {
        assert_eq!(served(model, word), Ok(protocol), "{model} {word:?}");
        let spec = &plan(&[row(model, word)]).unwrap()[0];
        assert_eq!(spec.addr.port(), port, "{model} {word:?}");
    }
    // IOT over KLAP, v1 or v2, is the KLAP hardware revision's capture.
    for word in ["iot-klap-v1", "iot-klap-v2"] {
        let spec = &plan(&[row("HS100(UK)", word)]).unwrap()[0];
        let Dialect::Iot { profile, .. } = &spec.dialect else {
            panic!("{word}: {:?}", spec.dialect);
        };
        assert_eq!(profile.sysinfo()["hw_ver"], "4.1", "{word}");
    }
}

#[test]
fn every_protocol_word_run_accepts_is_served_as_run_reads_it_or_refused_with_what_the_model_speaks()
{
    for model in MODELS {
        for word in WORDS {
            let d = row(model, word);
            let run = crate::engine::plan::protocol_column(&d, &catalog::lookup(model));
            match (served(model, word), run) {
                (Ok(sim), Some(run)) => assert_eq!(sim, run, "{model} {word:?}"),
                // `auto`: the model's own protocol, which discovery finds.
                (Ok(_), None) => {}
                (Err(message), _) => assert!(
                    message.contains("is a SMART (Tapo) model: it speaks klap or aes")
                        || message.contains("carries SMART JSON only; use iot or klap"),
                    "{model} {word:?}: {message}"
                ),
            }
        }
    }
}

#[test]
fn a_protocol_the_model_cannot_speak_is_refused_naming_what_it_can() {
    for (model, word, message) in [
        (
            "P110(UK)",
            "iot-klap-v2",
            "d1: P110(UK) is a SMART (Tapo) model: it speaks klap or aes (smart-klap, smart-aes), not iot-klap-v2",
        ),
        (
            "P110(UK)",
            "iot",
            "d1: P110(UK) is a SMART (Tapo) model: it speaks klap or aes (smart-klap, smart-aes), not iot",
        ),
        (
            "HS110(EU)",
            "smart-klap",
            "d1: HS110(EU) is a legacy Kasa (IOT) model: smart-klap carries SMART JSON only; use iot or klap (iot-klap-v1, iot-klap-v2)",
        ),
        (
            "HS110(EU)",
            "aes",
            "d1: HS110(EU) is a legacy Kasa (IOT) model: smart-aes carries SMART JSON only; use iot or klap (iot-klap-v1, iot-klap-v2)",
        ),
    ] {
        assert_eq!(served(model, word), Err(message.to_string()));
    }
}

#[test]
fn without_a_protocol_a_model_is_served_in_its_own() {
    for word in ["", "auto", "AUTO"] {
        assert_eq!(served("HS110(EU)", word), Ok(ProtocolKind::Iot));
        assert_eq!(served("EP25(US)", word), Ok(ProtocolKind::Iot));
        assert_eq!(served("P110(UK)", word), Ok(ProtocolKind::SmartKlap));
    }
    assert_eq!(served("HS100(UK)", "klap"), Ok(ProtocolKind::IotKlapV1));
    assert_eq!(served("EP25(US)", "klap"), Ok(ProtocolKind::SmartKlap));
}
