use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

use clap::Parser;
use hearth::cli::Cli;

/// mimalloc rather than glibc's malloc: it returns freed memory to the system, where glibc
/// kept what a burst of writes had used (see README "Benchmarks", memory).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How long (ms) mimalloc keeps freed pages before handing them back to the system. Its
/// default, a second, let a thread that went quiet after a burst (a reader, a hashing
/// thread) hold that burst's pages until it ran again: the server sat 20-30 MB above what it
/// used between benchmark rows. Shorter is not free: every hand-back is an madvise that
/// stops both cores for a TLB flush, and at 10 ms the signed-in list at 100k records lost
/// 40% of its throughput; 100 ms keeps most of both (README "Benchmarks").
const PURGE_DELAY_MS: &str = "100";
const PURGE_DELAY_VAR: &str = "MIMALLOC_PURGE_DELAY";

/// mimalloc reads its options from the environment once, before `main` runs, and the purge
/// delay has no build-time switch: so the process runs itself again, once, with it set (the
/// same pid, arguments and environment besides). An operator's own `MIMALLOC_PURGE_DELAY`
/// is kept. If the exec fails, hearth goes on with mimalloc's default.
fn with_allocator_options() {
    if std::env::var_os(PURGE_DELAY_VAR).is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let mut again = Command::new(exe);
    if let Some(name) = args.next() {
        again.arg0(name);
    }
    let failed = again.args(args).env(PURGE_DELAY_VAR, PURGE_DELAY_MS).exec();
    eprintln!("note: could not restart with {PURGE_DELAY_VAR} set ({failed}); going on");
}

fn main() -> ExitCode {
    with_allocator_options();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version land here: print them as clap formats them.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let rendered = e.render().to_string();
            eprintln!(
                "{}",
                rendered
                    .lines()
                    .next()
                    .unwrap_or("error: invalid arguments")
            );
            return ExitCode::from(2);
        }
    };
    match hearth::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", hearth::cli::describe(&e));
            ExitCode::FAILURE
        }
    }
}
