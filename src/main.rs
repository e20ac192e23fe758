use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use fleetreset::cli::{Cli, Command};
use fleetreset::commands;
use fleetreset::exit::Status;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let result = match cli.command {
        Command::Check(args) => commands::check::run(&args),
        Command::Plan(args) => commands::plan::run(&args),
        Command::Run(args) => {
            runtime().and_then(|rt| rt.block_on(commands::run::run(&args, shutdown_signal())))
        }
        Command::Demo(args) => {
            runtime().and_then(|rt| rt.block_on(commands::demo::run(&args, shutdown_signal())))
        }
        Command::Runs(args) => commands::runs::run(&args),
        Command::Report(args) => commands::report::run(&args),
        Command::Simulate(args) => {
            runtime().and_then(|rt| rt.block_on(commands::simulate::run(&args, shutdown_signal())))
        }
    };
    match result {
        Ok(status) => status.into(),
        Err(err) => {
            // A closed stdout (e.g. piped into `head`) is not an error worth a message.
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            let _ = writeln!(std::io::stderr(), "fleetreset: error: {err:#}");
            Status::BadInput.into()
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Resolves on the first Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
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
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
