//! The `macie-audit` binary: parse the command line into the library's options, run the command,
//! print its outcome and exit with its code.

mod cli;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;
use cli::{Cli, Command};
use macie_audit::commands::{self, Outcome};
use macie_audit::error::{EXIT_INCOMPLETE, EXIT_USAGE};
use macie_audit::interrupt::{self, Cancellation};
use macie_audit::logging;
use macie_audit::report::metadata::sanitise_command_line;

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
            return ExitCode::from(EXIT_INCOMPLETE);
        }
    };
    let command_line = sanitise_command_line(std::env::args());
    let show_progress = !cli.quiet && std::io::stderr().is_terminal();
    // Only the commands that scan listen for Ctrl-C: the others finish in moments.
    let cancellation = Cancellation::new();
    let listen = || {
        runtime.spawn(interrupt::listen(cancellation.clone()));
    };
    let outcome = match cli.command {
        Command::Scan(args) => {
            listen();
            runtime.block_on(commands::scan::scan(
                &args.options(),
                &command_line,
                show_progress,
                &cancellation,
            ))
        }
        Command::Remediate(args) => {
            listen();
            runtime.block_on(commands::remediate::remediate(
                &args.options(),
                &command_line,
                show_progress,
                &cancellation,
            ))
        }
        Command::Report(args) => commands::report::report(&args.options(), &command_line),
        Command::Merge(args) => commands::merge::merge(&args.options(), &command_line),
        Command::Init(args) => commands::setup::init(&args.options()),
        Command::CheckConfig(args) => {
            runtime.block_on(commands::setup::check_config(&args.options()))
        }
    };
    match outcome {
        Ok(Outcome { output, exit_code }) => {
            print!("{output}");
            ExitCode::from(exit_code)
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}
