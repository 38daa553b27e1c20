//! The `rfbplay` command: argument parsing and dispatch live in `cli`.

fn main() -> std::process::ExitCode {
    rfbplay_cli::run()
}

#[path = "cli/mod.rs"]
mod rfbplay_cli;
