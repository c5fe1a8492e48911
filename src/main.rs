use std::process::ExitCode;

use clap::Parser;
use hearth::cli::Cli;

/// mimalloc rather than glibc's malloc: it returns freed memory to the system, where glibc
/// kept what a burst of writes had used (see README "Benchmarks", memory).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
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
