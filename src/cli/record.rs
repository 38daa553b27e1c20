//! `rfbplay record`: argument handling, the password, signals and the
//! status line around [`rfbplay::record`]. One thread per server.

use anyhow::{bail, Context};
use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};
use rfbplay::client::{auth, Chain, ConnectOptions, Target};
use rfbplay::record::{self, output, ConnEnd, Job, Note, Observer, RecordOptions, Status, Summary};
use rfbplay::rfb::Encoding;
use rfbplay::time::parse_duration;
use rfbplay::Time;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const EXAMPLES: &str = "\
Examples:
  rfbplay record 10.0.0.5:1 lin1.fb                 until Ctrl-C, SIGTERM or the server closes
  rfbplay record 10.0.0.5:5901 lin1.fb --duration 10m
  rfbplay record vm1=10.0.0.5:1 vm2=10.0.0.6:2 --dir recordings/
  VNC_PASSWORD=secret rfbplay record host:1 lin1.fb
  rfbplay record host:1 lin1.fb --password-file ~/.vnc/passwd
  rfbplay record host:1 lin1.fb --compat minimega   minimega's wire behaviour, for its player
  rfbplay record host:1 lin1.fb --force             replace lin1.fb if it exists
  rfbplay record --control rec.sock --dir recordings/ vm1=10.0.0.5:1
  rfbplay ctl rec.sock add vm2=10.0.0.6:2           also: list [--json], stop NAME, stop --all
  rfbplay ctl rec.sock add-kb vm2 --listen 127.0.0.1:5999   record vm2's viewer keys; stop-kb vm2

Targets: host:N is display N (port 5900+N) for N < 100; host:PORT for a
port of 100 or more; host::PORT always a port; [v6addr]:N for IPv6.

Passwords (VNC Authentication) come from the VNC_PASSWORD environment
variable or --password-file (a text file's first line, or a file made by
vncpasswd), never from the command line, where other users could see them.
A password file other users can read is used with a warning.

An existing file is never replaced without --force, and the password file
never is.

The file holds the server's bytes in minimega's .fb format: gzip, flushed
twice a second (a killed recorder loses at most the last second) and closed
properly on Ctrl-C, SIGTERM, --duration or when the server closes. It
ends with an empty update stamped when recording stopped, so its length is
the wall time recorded, even on an idle screen.
With --reconnect, a server that goes away is retried with backoff and each
new connection goes to a new numbered file (lin1.fb, lin1.1.fb, ...),
because a new connection starts new compression streams.";

/// Record a VNC server's screen to a .fb file.
#[derive(clap::Args, Debug)]
#[command(after_long_help = EXAMPLES)]
pub struct Args {
    /// `TARGET OUT.fb`, or with --dir one or more `[NAME=]TARGET`.
    #[arg(value_name = "TARGET OUT | NAME=TARGET...")]
    args: Vec<String>,
    /// Folder for several recordings, one NAME.fb per target.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Stop after this long (e.g. 90s, 10m, 1h30m).
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Time>,
    /// Update requests (and so at most updates) per second.
    #[arg(long, default_value_t = 10.0)]
    fps: f64,
    /// Copy another recorder's wire behaviour.
    #[arg(long, value_enum)]
    compat: Option<Compat>,
    /// File holding the VNC password (text, or made by vncpasswd).
    #[arg(long)]
    password_file: Option<PathBuf>,
    /// Retry when the server goes away; continue into numbered files.
    #[arg(long)]
    reconnect: bool,
    /// Replace existing recordings (never the password file).
    #[arg(long)]
    force: bool,
    /// Listen on this Unix socket for `rfbplay ctl SOCK list | add
    /// NAME=TARGET | stop NAME | stop --all`; needs --dir. Runs until
    /// Ctrl-C or SIGTERM.
    #[arg(long, value_name = "SOCK", requires = "dir")]
    control: Option<PathBuf>,
    /// How long to wait for the server to answer.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    timeout: Time,
    /// gzip compression level, 0-9.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(0..=9))]
    gzip_level: u32,
    /// Encodings to ask for, comma-separated (testing aid).
    #[arg(long, hide = true, value_parser = parse_encodings)]
    encodings: Option<Encodings>,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Compat {
    /// RFB 3.3, Raw + DesktopSize, a full frame every 1/fps at the first size.
    Minimega,
}

#[derive(Clone, Debug)]
struct Encodings(Vec<Encoding>);

fn parse_encodings(s: &str) -> Result<Encodings, String> {
    record::parse_encodings(s).map(Encodings)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.args.is_empty() && args.control.is_none() {
        // Exactly what `rfbplay record --help` prints.
        use clap::Parser;
        if let Err(help) = super::Cli::try_parse_from(["rfbplay", "record", "--help"]) {
            help.print()?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let jobs = jobs(&args)?;
    let password = password(args.password_file.as_deref())?;
    let timeout = Duration::from_nanos(args.timeout.0.max(1_000_000));
    if !(args.fps > 0.0 && args.fps <= 1000.0) {
        bail!("--fps must be above 0 and at most 1000");
    }
    let opts = RecordOptions {
        connect: ConnectOptions {
            password,
            timeout,
            shared: true,
        },
        fps: args.fps,
        duration: args.duration.map(|t| Duration::from_nanos(t.0)),
        minimega: matches!(args.compat, Some(Compat::Minimega)),
        encodings: args
            .encodings
            .map_or_else(|| record::DEFAULT_ENCODINGS.to_vec(), |e| e.0),
        reconnect: args.reconnect,
        gzip_level: args.gzip_level,
        read_size: if args.compat.is_some() {
            4096
        } else {
            64 * 1024
        },
        output: output::Policy {
            replace: args.force,
            inputs: args
                .password_file
                .iter()
                .map(|p| (p.clone(), "the password file"))
                .collect(),
        },
        ..RecordOptions::default()
    };
    if let Some(dir) = &args.dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    // Refuse every output before connecting to any server.
    let mut refused = false;
    for job in &jobs {
        if let Err(e) = record::check_output(job, &opts) {
            eprintln!("rfbplay: error: {}{}", prefix(job), Chain(&e));
            refused = true;
        }
    }
    if refused {
        return Ok(ExitCode::FAILURE);
    }

    // The first Ctrl-C or SIGTERM asks every recording to stop and close
    // its file; a second one, if that hangs, exits at once.
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(&stop))?;
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }

    #[cfg(unix)]
    if let Some(sock) = &args.control {
        let dir = args.dir.as_deref().expect("clap requires --dir");
        return controlled(sock, dir, jobs, opts, &stop);
    }

    let line = StatusLine::new();
    let results: Vec<(Job, Result<Summary, record::RecordError>)> = if jobs.len() == 1 {
        let job = jobs.into_iter().next().expect("one job");
        let r = record::record(&job, &opts, &stop, &line);
        vec![(job, r)]
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = jobs
                .into_iter()
                .map(|job| {
                    let (opts, stop, line) = (&opts, &*stop, &line);
                    s.spawn(move || {
                        let r = record::record(&job, opts, stop, line);
                        (job, r)
                    })
                })
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        })
    };
    line.finish();

    let mut ok = true;
    for (job, r) in results {
        match r {
            Ok(summary) => ok &= report(&job, &summary),
            Err(e) => {
                eprintln!("rfbplay: error: {}{}", prefix(&job), Chain(&e));
                ok = false;
            }
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `record --control`: the jobs given, and those added through the socket,
/// until Ctrl-C or SIGTERM.
#[cfg(unix)]
fn controlled(
    sock: &Path,
    dir: &Path,
    jobs: Vec<Job>,
    opts: RecordOptions,
    stop: &AtomicBool,
) -> anyhow::Result<ExitCode> {
    use rfbplay::record::control::{ControlSocket, Sessions};
    let line = Arc::new(StatusLine::new());
    let sessions = Arc::new(Sessions::new(dir, opts, line.clone()));
    let _socket = ControlSocket::serve(sock, Arc::clone(&sessions))?;
    eprintln!(
        "rfbplay: recording into {}; control with: rfbplay ctl {} list",
        dir.display(),
        sock.display()
    );
    for job in jobs {
        if let Err(e) = sessions.add(&job.name, job.target.clone()) {
            eprintln!("rfbplay: error: {e}");
        }
    }
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let ended = sessions.finish();
    line.finish();
    let mut ok = true;
    for e in ended {
        match e.result {
            Some(Ok(summary)) => ok &= report(&e.job, &summary),
            Some(Err(err)) => {
                eprintln!("rfbplay: error: {}{}", prefix(&e.job), Chain(&err));
                ok = false;
            }
            None => ok = false,
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `TARGET OUT`, or `[NAME=]TARGET...` with --dir.
fn jobs(args: &Args) -> anyhow::Result<Vec<Job>> {
    let Some(dir) = &args.dir else {
        let [target, out] = args.args.as_slice() else {
            bail!(
                "give a target and an output file (rfbplay record HOST:N OUT.fb), \
                 or several NAME=HOST:N with --dir"
            );
        };
        let (name, target) = split_name(target);
        let target: Target = target.parse()?;
        return Ok(vec![Job {
            name: name.unwrap_or_else(|| target.to_string()),
            target,
            out: PathBuf::from(out),
        }]);
    };
    let mut jobs: Vec<Job> = vec![];
    for a in &args.args {
        let (name, target) = split_name(a);
        let target: Target = target.parse()?;
        let name =
            name.unwrap_or_else(|| format!("{}_{}", target.host.replace(':', "_"), target.port));
        if jobs.iter().any(|j| j.name == name) {
            bail!("two recordings are named {name:?}; give them NAME=TARGET names");
        }
        jobs.push(Job {
            out: record::path_in_dir(dir, &name),
            name,
            target,
        });
    }
    Ok(jobs)
}

fn split_name(s: &str) -> (Option<String>, &str) {
    match s.split_once('=') {
        Some((n, t)) if !n.is_empty() && !n.contains(['/', '\\', ':']) => (Some(n.to_string()), t),
        _ => (None, s),
    }
}

/// VNC_PASSWORD, or the password file (which wins when both are given).
/// Every command that connects reads its password here; a file other
/// users can read is used, with a warning as ssh gives.
pub(crate) fn password(file: Option<&Path>) -> anyhow::Result<Option<String>> {
    if let Some(file) = file {
        let f = auth::read_password_file(file)?;
        if let Some(mode) = f.too_open {
            eprintln!(
                "rfbplay: warning: the password file {} can be read by other users \
                 (permissions {mode:04o}); `chmod 600` keeps the password private",
                file.display(),
            );
        }
        return Ok(Some(f.password));
    }
    Ok(std::env::var("VNC_PASSWORD").ok().filter(|p| !p.is_empty()))
}

/// Prints how each recording ended; false if it ended in an error.
fn report(job: &Job, s: &Summary) -> bool {
    for f in &s.files {
        let c = &f.counts;
        eprintln!(
            "{}: {} complete: {} of recording, {} updates, {} written ({} of stream)",
            job.name,
            f.path.display(),
            c.length,
            c.updates,
            HumanBytes(c.file_bytes),
            HumanBytes(c.payload_bytes),
        );
        if let Some(why) = &c.lost_tracking {
            eprintln!(
                "{}: note: the recorder could not decode part of the stream ({why}); \
                 the file holds what the server sent, and a newer rfbplay may decode it",
                job.name
            );
        }
    }
    match &s.end {
        ConnEnd::Stopped | ConnEnd::Duration => true,
        ConnEnd::ServerGone(None) => {
            eprintln!(
                "{}{}: the server closed the connection",
                prefix(job),
                job.target
            );
            true
        }
        ConnEnd::ServerGone(Some(e)) => {
            eprintln!("rfbplay: error: {}{}", prefix(job), Chain(e));
            false
        }
    }
}

/// `NAME: ` before an error, unless the name is the target, which the
/// error already names.
fn prefix(job: &Job) -> String {
    if job.name == job.target.to_string() {
        String::new()
    } else {
        format!("{}: ", job.name)
    }
}

/// One status line for all recordings, on a terminal only; notes are
/// printed above it (or plainly when stderr is not a terminal).
struct StatusLine {
    bar: Option<ProgressBar>,
    state: Mutex<BTreeMap<String, Status>>,
}

impl StatusLine {
    fn new() -> StatusLine {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(ProgressStyle::with_template("{msg}").expect("template is valid"));
            bar
        });
        StatusLine {
            bar,
            state: Mutex::new(BTreeMap::new()),
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Observer for StatusLine {
    fn status(&self, name: &str, status: &Status) {
        let Some(bar) = &self.bar else { return };
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        state.insert(name.to_string(), status.clone());
        let line: Vec<String> = state
            .iter()
            .map(|(name, s)| {
                let t = s.elapsed.as_secs();
                format!(
                    "{name} {}:{:02}:{:02} · {} updates · {} written · {}x{}{}",
                    t / 3600,
                    t / 60 % 60,
                    t % 60,
                    s.updates,
                    HumanBytes(s.file_bytes),
                    s.width,
                    s.height,
                    if s.connected { "" } else { " (not connected)" }
                )
            })
            .collect();
        bar.set_message(line.join(" | "));
    }

    fn note(&self, job: &Job, note: &Note<'_>) {
        let line = format!("{}{note}", prefix(job));
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(split_name("vm1=h:1"), (Some("vm1".into()), "h:1"));
        assert_eq!(split_name("h:1"), (None, "h:1"));
        assert_eq!(split_name("a/b=h:1"), (None, "a/b=h:1"));
    }
}
