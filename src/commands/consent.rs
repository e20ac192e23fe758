//! The consent a factory reset asks for on a terminal (typing the device count). Not to be
//! confused with `confirm`, a technician's confirmation of a manual work order.

use std::io::{BufRead, IsTerminal, Write};

use crate::engine::shutdown::Signals;
use crate::exit::Early;
use crate::inert::Inert;
use crate::output::say_prompt;

/// Asks, on a terminal, to type the number of devices to be wiped. Nothing may draw on the
/// terminal while it asks (no progress view exists yet), so the question stays on screen.
///
/// A Ctrl-C (or SIGTERM) while it asks ends the question, not confirmed: the command's own
/// signal handling has taken those signals from the terminal, and a read of the terminal
/// would otherwise go on waiting for a line.
pub async fn confirmed(count: usize, signals: &Signals) -> anyhow::Result<()> {
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(Early::not_confirmed(format!(
            "a factory reset of {count} device(s) needs confirmation; run it on a terminal to confirm, \
             or pass --yes for unattended use. Nothing was sent."
        ))
        .into());
    }
    signals.asking(true);
    let answered = ask(count, signals).await;
    signals.asking(false);
    answered
}

async fn ask(count: usize, signals: &Signals) -> anyhow::Result<()> {
    say_prompt!(
        "This erases the settings, Wi-Fi and account binding of {count} device(s); they will leave the network.\n\
         Type {count} to continue: "
    );
    std::io::stderr().flush()?;
    // A thread of its own, not `spawn_blocking`: after a signal the read is abandoned, and the
    // runtime would wait for a blocking task at exit.
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut answer = String::new();
        let read = std::io::stdin().lock().read_line(&mut answer);
        let _ = tx.send(read.map(|_| answer));
    });
    tokio::select! {
        read = rx => {
            let answer = read.map_err(|_| anyhow::anyhow!("the terminal could not be read"))??;
            check_answer(count, &answer).map_err(Into::into)
        }
        () = signals.at_least(1) => {
            let name = signals.first().map_or("a signal", |(name, _)| name);
            // The typed line is left unfinished: end it, so the reason starts a line.
            say_prompt!("\n");
            Err(Early::not_confirmed(format!(
                "not confirmed: interrupted by {name} at the question; nothing was sent"
            ))
            .into())
        }
    }
}

/// Whether `answer` (a line as typed) confirms wiping `count` devices.
fn check_answer(count: usize, answer: &str) -> Result<(), Early> {
    let typed = answer.trim();
    if typed == count.to_string() {
        return Ok(());
    }
    Err(Early::not_confirmed(format!(
        "not confirmed: expected {count}, got '{}'; nothing was sent",
        Inert(typed)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_device_count_confirms_and_a_wrong_answer_says_what_was_expected() {
        assert!(check_answer(12, " 12\n").is_ok());
        for wrong in ["1\n", "yes\n", "\n", "012\n"] {
            let e = check_answer(12, wrong).unwrap_err();
            assert_eq!(e.status, crate::exit::EarlyStatus::NotConfirmed);
            assert_eq!(
                e.reason,
                format!(
                    "not confirmed: expected 12, got '{}'; nothing was sent",
                    wrong.trim()
                )
            );
        }
    }

    #[test]
    fn a_typed_answer_is_shown_inert() {
        let e = check_answer(2, "\u{1b}[2J3\n").unwrap_err();
        assert!(!e.reason.contains('\u{1b}'), "{}", e.reason);
        assert!(e.reason.contains("got '\\u{1b}[2J3'"), "{}", e.reason);
    }
}
