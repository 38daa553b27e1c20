//! Command-line interface: parses arguments and calls the library. No
//! decoding logic lives here.

mod args;
mod batch;
mod compare;
mod compare_rec;
mod compare_report;
mod export;
mod find;
mod frames;
mod index;
mod info;
mod kb;
mod progress;
mod record;
mod serve;
mod updates;

use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

/// Decode, inspect and export VNC framebuffer recordings (minimega .fb).
#[derive(Parser, Debug)]
#[command(name = "rfbplay", version, about, long_about = None)]
pub struct Cli {
    /// Print only errors: no notes, no warnings about cut recordings.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Duration, screen sizes, updates and rectangles per encoding, messages, truncation.
    Info(info::Args),
    /// The screen at one moment (or after one update), as PNG, JPEG or WebP.
    Frame(frames::FrameArgs),
    /// Build the seek index that makes `frame --at` fast on long recordings.
    Index(index::Args),
    /// A numbered PNG sequence at a frame rate, or one PNG per change.
    Frames(frames::FramesArgs),
    /// Every message: each update's rectangles and the pixels it changed.
    Updates(updates::Args),
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
    /// Drive a running `play --control PATH` or `record --control PATH`.
    Ctl(kb::CtlArgs),
    /// Record a viewer's keys and pointer through a proxy, as a .kb file.
    RecordKb(kb::RecordKbArgs),
    /// Compare screenshots (PNG, or a recording at a moment), two recordings, or two folders (--baseline/--actual/--report): exit 0 same, 1 different, 2 error.
    Compare(compare::Args),
    /// Every time span where a needle image (PNG or openQA needle) is on screen: exit 0 found, 1 not, 2 error.
    Find(find::Args),
    /// Watch a folder's recordings in a browser; `rfbplay DIR` means this.
    Serve(serve::Args),
}

/// Subcommand names, so `rfbplay FILE OUT` can mean `rfbplay export FILE OUT`.
const COMMANDS: &[&str] = &[
    "info",
    "frame",
    "frames",
    "updates",
    "index",
    "export",
    "help",
    "play",
    "type",
    "inject",
    "ctl",
    "record-kb",
    "record",
    "compare",
    "find",
    "serve",
];

/// A mistake in how a command was called: exit status 2, like clap's own.
#[derive(Debug)]
pub(crate) struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

static QUIET: AtomicBool = AtomicBool::new(false);

/// A line for the user on standard error, unless `--quiet`.
pub(crate) fn note(line: &str) {
    if !QUIET.load(Ordering::Relaxed) {
        eprintln!("rfbplay: {line}");
    }
}

/// Whether `--quiet` was given.
pub(crate) fn is_quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// [`report`] with the warnings left out when `quiet`.
pub(crate) fn report_unless(
    file: &Path,
    summary: &rfbplay::player::Summary,
    quiet: bool,
) -> ExitCode {
    if quiet {
        QUIET.store(true, Ordering::Relaxed);
    }
    report(file, summary)
}

/// A warning, unless `--quiet`.
pub(crate) fn warn(line: &str) {
    note(&format!("warning: {line}"));
}

/// `1 frame`, `2 frames`.
pub(crate) fn plural(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// `println!` that hands a write error (a closed pipe, as by `| head`)
/// to the caller through `?` instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?
    }};
}
pub(crate) use outln;

/// Whether the error comes from standard output having been closed (as by
/// `| head`): the program then ends quietly, as Unix tools do.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    let broken = Some(std::io::ErrorKind::BrokenPipe);
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().map(|io| io.kind()) == broken
            || c.downcast_ref::<serde_json::Error>()
                .and_then(|j| j.io_error_kind())
                == broken
    })
}

/// Rewrites minimega's forms into subcommands: `rfbplay FILE OUT` means
/// `rfbplay export FILE OUT` (even when FILE does not exist, so the user
/// hears that it does not), `rfbplay DIR` alone means `rfbplay serve DIR`,
/// and `rfbplay help CMD --help` means help.
fn rewrite(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    if let Some(first) = args.get(1).and_then(|a| a.to_str()).map(str::to_string) {
        let first = first.as_str();
        let positional = args[1..]
            .iter()
            .filter(|a| !a.to_string_lossy().starts_with('-'))
            .count();
        if !first.starts_with('-')
            && !COMMANDS.contains(&first)
            && positional - usize::from(args.iter().any(|a| a == "--listen")) == 1
            && Path::new(first).is_dir()
        {
            args.insert(1, "serve".into());
        } else if !first.starts_with('-')
            && !COMMANDS.contains(&first)
            && (Path::new(first).exists() || positional >= 2)
        {
            args.insert(1, "export".into());
        }
        if first == "help" {
            args.retain(|a| a != "--help" && a != "-h");
        }
    }
    args
}

pub fn run() -> ExitCode {
    let args = rewrite(std::env::args_os().collect());
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
    QUIET.store(cli.quiet, Ordering::Relaxed);
    if matches!(cli.command, Command::Export(_)) && !rfbplay::export::video::encoders_linked() {
        return exec_video();
    }
    // Commands that write files leave no temporary one behind when a
    // signal stops them; the recorders and .kb players shut down their own
    // way.
    let own_shutdown = matches!(
        cli.command,
        Command::Record(_)
            | Command::Play(_)
            | Command::Type(_)
            | Command::Inject(_)
            | Command::Ctl(_)
            | Command::RecordKb(_)
    );
    if !own_shutdown {
        if let Err(e) = rfbplay::output::clean_up_on_signals() {
            eprintln!("rfbplay: warning: cannot watch for signals: {e}");
        }
    }
    let result = match cli.command {
        Command::Info(a) => info::run(a),
        Command::Frame(a) => frames::run_frame(a),
        Command::Frames(a) => frames::run_frames(a),
        Command::Updates(a) => updates::run(a),
        Command::Index(a) => index::run(a),
        Command::Record(a) => record::run(a),
        Command::Export(a) => export::run(a),
        Command::Play(a) => kb::run_play(a),
        Command::Type(a) => kb::run_type(a),
        Command::Inject(a) => kb::run_inject(a),
        Command::Ctl(a) => kb::run_ctl(a),
        Command::RecordKb(a) => kb::run_record_kb(a),
        Command::Compare(a) => compare::run(a),
        Command::Find(a) => find::run(a),
        Command::Serve(a) => serve::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rfbplay: error: {}", chain(e.as_ref()));
            if e.downcast_ref::<Usage>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// The program that runs `export`: rfbplay with FFmpeg's libraries
/// linked in, installed beside `rfbplay`.
pub const VIDEO_PROGRAM: &str = "rfbplay-video";

/// Runs this command line in [`VIDEO_PROGRAM`] instead of this program.
/// `rfbplay` itself does not link FFmpeg, whose hundred-odd shared
/// libraries took most of the time of a short command such as
/// `frame --at`; only exports need them.
fn exec_video() -> ExitCode {
    use std::os::unix::process::CommandExt;
    let video = std::env::current_exe().map(|me| me.with_file_name(VIDEO_PROGRAM));
    let error = match &video {
        Ok(video) if video.is_file() => {
            let mut args = std::env::args_os();
            let mut command = std::process::Command::new(video);
            if let Some(arg0) = args.next() {
                command.arg0(arg0);
            }
            let e = command.args(args).exec();
            format!("cannot run {}: {e}", video.display())
        }
        Ok(video) => format!(
            "video export needs {}, which is missing: `cargo build --release` \
             (or `cargo install --path .`) builds it beside rfbplay",
            video.display()
        ),
        Err(e) => format!("cannot find the rfbplay program's own path: {e}"),
    };
    eprintln!("rfbplay: error: {error}");
    ExitCode::FAILURE
}

/// An error and its causes, each said once, joined by ": ".
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    rfbplay::error_chain(e)
}

/// Prints the warnings of a playback: a cut, data after the recording,
/// and each stretch `--salvage` skipped.
pub(crate) fn warnings(file: &Path, summary: &rfbplay::player::Summary) {
    if let Some(w) = summary.truncation_warning(file) {
        warn(&w);
    }
    if let Some(w) = summary.trailing_data_warning(file) {
        warn(&w);
    }
    damage_warnings(file, summary);
}

/// One warning per damaged stretch that salvage skipped.
pub(crate) fn damage_warnings(file: &Path, summary: &rfbplay::player::Summary) {
    for d in &summary.damaged {
        damage_warning(&file.display().to_string(), &d.describe());
    }
}

/// The warning of one skipped stretch: the file, then what was skipped.
pub(crate) fn damage_warning(file: &str, description: &str) {
    warn(&format!("{file}: {description}"));
}

/// Prints the warnings and errors of a playback; returns the exit code:
/// success for a complete or merely truncated recording, failure for damage.
pub(crate) fn report(file: &Path, summary: &rfbplay::player::Summary) -> ExitCode {
    warnings(file, summary);
    match &summary.error {
        Some(e) => {
            eprintln!("rfbplay: error: {}", chain(e));
            ExitCode::FAILURE
        }
        None => ExitCode::SUCCESS,
    }
}

pub(crate) fn display(p: &Path) -> String {
    PathBuf::from(p).display().to_string()
}
