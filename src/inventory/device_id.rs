//! `device_id` column: the id a device reports about itself (`deviceId` in IOT sysinfo,
//! `device_id` in SMART device info and discovery). Checked like a MAC before anything
//! disruptive, so a value that no device can report would make every row fail at the device:
//! it is refused here instead, where the file is read.

/// The longest device id accepted. Kasa and Tapo firmware report 40 hex digits (a strip's
/// outlets add two); 64 leaves room for other firmware while still catching a pasted cell.
pub const MAX_DEVICE_ID_DIGITS: usize = 64;

/// Why a `device_id` cell can't be a device's id, or `None` when it can be. Device ids are
/// hex digits, compared without regard to case.
pub fn device_id_problem(text: &str) -> Option<String> {
    if text.len() > MAX_DEVICE_ID_DIGITS {
        return Some(format!(
            "a device id is at most {MAX_DEVICE_ID_DIGITS} hex digits, as the device reports it \
             (deviceId)"
        ));
    }
    if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some(
            "a device id has only hex digits (0-9, A-F), as the device reports it (deviceId)"
                .to_string(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_ids_of_any_case_up_to_64_digits_are_device_ids() {
        for id in [
            "80AB",
            "8006abcdef",
            "8006F8A2D4C4A1E1F6AF2F5F0A8A0B0E1A2B3C4D",
            &"A".repeat(64),
        ] {
            assert_eq!(device_id_problem(id), None, "{id}");
        }
    }

    #[test]
    fn other_text_and_overlong_ids_are_refused_with_the_reason() {
        for id in ["8006-ABCD", "'=cmd", "id 1", "80AB\n", "é"] {
            assert!(
                device_id_problem(id).unwrap().contains("only hex digits"),
                "{id:?}"
            );
        }
        assert!(
            device_id_problem(&"A".repeat(65))
                .unwrap()
                .contains("at most 64")
        );
    }
}
