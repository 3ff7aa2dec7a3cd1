//! The `macie-audit` binary: parse the command line, call the library, map the outcome to an exit code.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;
use macie_audit::cli::{Cli, Command};
use macie_audit::error::EXIT_USAGE;
use macie_audit::interrupt::{self, Cancellation};
use macie_audit::report::metadata::sanitise_command_line;
use macie_audit::{Error, logging, merge, remediate, replay, scan, setup};

/// mimalloc returns freed memory to the system promptly; glibc's per-thread arenas kept large
/// organizations' runs well above the memory the evidence needs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return match error.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ExitCode::SUCCESS,
                _ => ExitCode::from(EXIT_USAGE),
            };
        }
    };
    logging::init(cli.verbose, cli.quiet, cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(macie_audit::error::EXIT_INCOMPLETE);
        }
    };
    match cli.command {
        Command::Scan(args) => {
            let show_progress = !cli.quiet && std::io::stderr().is_terminal();
            let command_line = sanitise_command_line(std::env::args());
            let cancellation = Cancellation::new();
            runtime.spawn(interrupt::listen(cancellation.clone()));
            match runtime.block_on(scan::scan(
                &args,
                &command_line,
                show_progress,
                &cancellation,
            )) {
                Ok(outcome) => {
                    print!("{}", outcome.summary);
                    ExitCode::from(outcome.exit_code)
                }
                Err(error) => fail(&error),
            }
        }
        Command::Init(args) => match setup::init(&args) {
            Ok(message) => {
                print!("{message}");
                ExitCode::SUCCESS
            }
            Err(error) => fail(&error),
        },
        Command::CheckConfig(args) => match runtime.block_on(setup::check_config(&args)) {
            Ok(outcome) => {
                print!("{}", outcome.report);
                ExitCode::from(outcome.exit_code)
            }
            Err(error) => fail(&error),
        },
        Command::Merge(args) => match merge::merge(&args, &sanitise_command_line(std::env::args()))
        {
            Ok(outcome) => {
                print!("{}", outcome.summary);
                ExitCode::from(outcome.exit_code)
            }
            Err(error) => fail(&error),
        },
        Command::Remediate(args) => {
            let show_progress = !cli.quiet && std::io::stderr().is_terminal();
            let command_line = sanitise_command_line(std::env::args());
            let cancellation = Cancellation::new();
            runtime.spawn(interrupt::listen(cancellation.clone()));
            match runtime.block_on(remediate::remediate(
                &args,
                &command_line,
                show_progress,
                &cancellation,
                &mut remediate::Terminal,
            )) {
                Ok(outcome) => ExitCode::from(outcome.exit_code),
                Err(error) => fail(&error),
            }
        }
        Command::Report(args) => {
            match replay::report(&args, &sanitise_command_line(std::env::args())) {
                Ok(outcome) => {
                    print!("{}", outcome.summary);
                    ExitCode::from(outcome.exit_code)
                }
                Err(error) => fail(&error),
            }
        }
    }
}

fn fail(error: &Error) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::from(error.exit_code())
}
