//! Command-line interface: parses arguments and calls the library. No
//! decoding logic lives here.

mod compare;
mod export;
mod frames;
mod info;
mod kb;
mod progress;
mod record;

use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Decode, inspect and export VNC framebuffer recordings (minimega .fb).
#[derive(Parser, Debug)]
#[command(name = "rfbplay", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Duration, screen sizes, updates and rectangles per encoding, messages, truncation.
    Info(info::Args),
    /// The screen at one moment, as a PNG.
    Frame(frames::FrameArgs),
    /// A numbered PNG sequence at a frame rate.
    Frames(frames::FramesArgs),
    /// Record a VNC server's screen to a .fb file (run without arguments for help).
    Record(record::Args),
    /// A video file (mp4, mkv, mov, webm, gif, avi); `rfbplay FILE OUT` means this.
    Export(export::Args),
    /// Replay a keyboard/mouse .kb file to a VNC server (or --check it).
    Play(kb::PlayArgs),
    /// Type a string as key presses (US keyboard).
    Type(kb::TypeArgs),
    /// Send one .kb event now.
    Inject(kb::InjectArgs),
    /// Drive a running `play --control PATH`.
    Ctl(kb::CtlArgs),
    /// Record a viewer's keys and pointer through a proxy, as a .kb file.
    RecordKb(kb::RecordKbArgs),
    /// Compare two screenshots (PNG): exit 0 same, 1 different, 2 error.
    Compare(compare::Args),
}

/// Subcommand names, so `rfbplay FILE OUT` can mean `rfbplay export FILE OUT`.
const COMMANDS: &[&str] = &[
    "info",
    "frame",
    "frames",
    "export",
    "help",
    "play",
    "type",
    "inject",
    "ctl",
    "record-kb",
    "record",
    "compare",
];

pub fn run() -> ExitCode {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(first) = args.get(1).and_then(|a| a.to_str()) {
        if !first.starts_with('-') && !COMMANDS.contains(&first) && Path::new(first).exists() {
            args.insert(1, "export".into());
        }
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let result = match cli.command {
        Command::Info(a) => info::run(a),
        Command::Frame(a) => frames::run_frame(a),
        Command::Frames(a) => frames::run_frames(a),
        Command::Record(a) => record::run(a),
        Command::Export(a) => export::run(a),
        Command::Play(a) => kb::run_play(a),
        Command::Type(a) => kb::run_type(a),
        Command::Inject(a) => kb::run_inject(a),
        Command::Ctl(a) => kb::run_ctl(a),
        Command::RecordKb(a) => kb::run_record_kb(a),
        Command::Compare(a) => compare::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rfbplay: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Prints the warnings and errors of a playback; returns the exit code:
/// success for a complete or merely truncated recording, failure for damage.
pub(crate) fn report(file: &Path, summary: &rfbplay::player::Summary) -> ExitCode {
    if let Some(w) = summary.truncation_warning(file) {
        eprintln!("rfbplay: warning: {w}");
    }
    match &summary.error {
        Some(e) => {
            eprintln!("rfbplay: error: {e}");
            ExitCode::FAILURE
        }
        None => ExitCode::SUCCESS,
    }
}

pub(crate) fn display(p: &Path) -> String {
    PathBuf::from(p).display().to_string()
}
