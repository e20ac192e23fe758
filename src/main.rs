use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use fleetreset::cli::{AuditCommand, Cli, Command};
use fleetreset::commands;
use fleetreset::engine::shutdown::{self, Signals};
use fleetreset::exit::Status;
use fleetreset::inert::inert;
use tracing_subscriber::field::MakeExt;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return bad_usage(err),
    };
    init_tracing(cli.verbose);
    // Before any socket: a run's jobs in flight and a simulator's devices each hold some.
    fleetreset::open_files::raise_to_hard();
    let json = wants_json(&cli.command);
    let result = match cli.command {
        Command::Check(args) => commands::check::run(&args),
        Command::Plan(args) => commands::plan::run(&args),
        Command::Runs(args) => commands::runs::run(&args),
        Command::Discover(args) => {
            runtime().and_then(|rt| rt.block_on(commands::discover::run(&args)))
        }
        Command::Report(args) => commands::report::run(&args),
        Command::WorkOrders(args) => commands::work_orders::run(&args),
        Command::Certificates(args) => commands::certificates::run(&args),
        Command::Keygen(args) => commands::keygen::run(&args),
        Command::History(args) => commands::history::run(&args),
        Command::Audit(args) => runtime().and_then(|rt| rt.block_on(commands::audit::run(&args))),
        Command::Confirm(args) => {
            runtime().and_then(|rt| rt.block_on(commands::confirm::run(&args)))
        }
        Command::Run(args) => runtime().and_then(|rt| {
            rt.block_on(async {
                commands::run::run(&args, listen_for_signals(Some(RUN_STOPPING))).await
            })
        }),
        Command::Resume(args) => runtime().and_then(|rt| {
            rt.block_on(async {
                commands::resume::run(&args, listen_for_signals(Some(RUN_STOPPING))).await
            })
        }),
        Command::Demo(args) => runtime().and_then(|rt| {
            rt.block_on(async {
                commands::demo::run(&args, listen_for_signals(Some(RUN_STOPPING))).await
            })
        }),
        Command::Simulate(args) => runtime().and_then(|rt| {
            rt.block_on(async {
                let signals = listen_for_signals(None);
                commands::simulate::run(&args, async move { signals.at_least(1).await }).await
            })
        }),
    };
    match result {
        Ok(status) => status.into(),
        Err(err) => {
            // A closed stdout (e.g. piped into `head`) is not an error worth a message.
            if fleetreset::output::is_closed_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            fleetreset::exit::finish(&err, json).into()
        }
    }
}

/// Whether the command was asked for JSON on stdout: then every way it ends prints JSON.
fn wants_json(command: &Command) -> bool {
    match command {
        Command::Run(a) => a.json,
        Command::Resume(a) => a.json,
        Command::Plan(a) => a.json,
        Command::Runs(a) => a.json,
        Command::History(a) => a.json,
        Command::Check(_)
        | Command::Simulate(_)
        | Command::Discover(_)
        | Command::Report(_)
        | Command::WorkOrders(_)
        | Command::Certificates(_)
        | Command::Confirm(_)
        | Command::Keygen(_)
        | Command::Demo(_) => false,
        Command::Audit(a) => match &a.command {
            AuditCommand::Verify(v) => v.json,
            AuditCommand::Sample(_) | AuditCommand::Merge(_) => false,
        },
    }
}

/// Options clap refused: its usage message on stderr, as always, and with `--json` among the
/// arguments one JSON object on stdout too. `--help` and `--version` are not refusals.
fn bad_usage(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let informational = matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if !informational && std::env::args_os().any(|a| a == "--json") {
        // What clap says before its usage lines, on one line.
        let rendered = err.render().to_string();
        let said: Vec<&str> = rendered
            .lines()
            .take_while(|l| !l.starts_with("Usage:"))
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let reason = said.join(" ");
        let reason = reason.trim_start_matches("error: ");
        let doc = fleetreset::exit::early_json(
            fleetreset::exit::EarlyStatus::Refused,
            Status::BadInput,
            &inert(reason),
        );
        if let Ok(text) = fleetreset::report::json_inert(&doc) {
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
        }
    }
    let _ = err.print();
    if informational {
        ExitCode::SUCCESS
    } else {
        Status::BadInput.into()
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// What a run says on its first signal.
const RUN_STOPPING: &str = "fleetreset: stopping: no new job will start; jobs in flight are finishing. \
    Press Ctrl-C again to stop them at once (their intents stay recorded; the run's summary ends \
    with the `fleetreset resume` command that continues it).";

/// Counts Ctrl-C and SIGTERM for the command: the first asks it to stop starting work, the
/// second to stop at once. Must be called inside the runtime.
///
/// SIGHUP (the terminal was closed, an SSH session dropped) is not a request to stop: a run
/// whose terminal went away goes on, records every outcome and writes its reports, and what it
/// would have printed is dropped. Stopping there would leave commands in flight unverified.
fn listen_for_signals(first_message: Option<&'static str>) -> Signals {
    #[cfg(unix)]
    if let Ok(mut hangup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        tokio::spawn(async move {
            while hangup.recv().await.is_some() {
                tracing::info!("the terminal went away (SIGHUP); carrying on");
            }
        });
    }
    let (tx, signals) = shutdown::channel();
    tokio::spawn(async move {
        // Both streams are registered once, before the first signal, and kept: a stream made
        // anew after each signal (as `tokio::signal::ctrl_c()` is) misses a second Ctrl-C that
        // lands before it exists, and the run would go on finishing jobs it was told to drop.
        #[cfg(unix)]
        let (mut interrupt, mut term) = {
            use tokio::signal::unix::{SignalKind, signal};
            (
                signal(SignalKind::interrupt()).ok(),
                signal(SignalKind::terminate()).ok(),
            )
        };
        loop {
            #[cfg(unix)]
            let (sigint, sigterm) = (
                async {
                    match interrupt.as_mut() {
                        Some(s) => {
                            s.recv().await;
                        }
                        None => std::future::pending().await,
                    }
                },
                async {
                    match term.as_mut() {
                        Some(t) => {
                            t.recv().await;
                        }
                        None => std::future::pending().await,
                    }
                },
            );
            #[cfg(not(unix))]
            let (sigint, sigterm) = (
                async {
                    if tokio::signal::ctrl_c().await.is_err() {
                        std::future::pending::<()>().await
                    }
                },
                std::future::pending::<()>(),
            );
            let name = tokio::select! {
                _ = sigint => "SIGINT",
                _ = sigterm => "SIGTERM",
            };
            // Read before the signal is passed on: the question ends on it, and stops asking.
            let asking = tx.command_is_asking();
            tx.signal_named(name);
            // Never `eprintln!` here: with stderr a closed pipe it would panic this task, and
            // with it every later Ctrl-C.
            let said = match (tx.count(), first_message) {
                // At the confirmation question the command answers the signal itself.
                (1, Some(_)) if asking => None,
                (1, Some(msg)) => Some(msg),
                (1, None) => None,
                _ => Some("fleetreset: stopping now"),
            };
            if let Some(msg) = said {
                let _ = writeln!(std::io::stderr(), "{msg}");
            }
        }
    });
    signals
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("FLEETRESET_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Every field of a log line is made inert: a device's text (an alias, an error message)
    // can't carry escape sequences or line breaks into a terminal or a log file. Colour only on
    // a terminal, and never with NO_COLOR.
    let fields = tracing_subscriber::fmt::format::debug_fn(|w, field, value| {
        let text = format!("{value:?}");
        let text = inert(&text);
        if field.name() == "message" {
            write!(w, "{text}")
        } else {
            write!(w, "{field}={text}")
        }
    })
    .delimited(" ");
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(fleetreset::output::colour_on_stderr())
        .fmt_fields(fields)
        .with_timer(LocalTime)
        .with_target(false)
        .init();
}

/// Log lines carry the local time with its offset, like every other time people read.
struct LocalTime;

impl tracing_subscriber::fmt::time::FormatTime for LocalTime {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        write!(
            w,
            "{}",
            chrono::Local::now().format("%Y-%m-%dT%H:%M:%S%.3f%:z")
        )
    }
}
