//! `rfbplay play`, `type`, `inject` and `ctl`: keyboard/mouse playback.
//!
//! The terminal part lives here: the status line, and single-key commands
//! (space, n, q) read with the terminal in non-canonical mode. That mode is
//! set with `stty`, not a terminal crate: the crate forbids unsafe code, so
//! termios calls through libc are out, and stty does the job in two calls
//! and restores the saved settings. Ctrl-C stays a signal (isig is kept);
//! it stops the playback cleanly, so the terminal is restored.

use anyhow::{bail, Context};
use rfbplay::client::{ConnectOptions, Target};
use rfbplay::kb::control::{self, ControlServer};
use rfbplay::kb::live::Session;
use rfbplay::kb::play::{self, Control, Observer, PlayOptions, Quiet};
use rfbplay::kb::{self, typing, Action, LoadOptions, Program, Step};
use rfbplay::search::Match;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct Connection {
    /// File holding the VNC password (text, or made by vncpasswd); else
    /// $VNC_PASSWORD. A password never goes on the command line.
    #[arg(long)]
    password_file: Option<PathBuf>,
    /// Connect and handshake timeout.
    #[arg(long, default_value = "10s", value_parser = duration)]
    connect_timeout: Duration,
}

/// Every form `client::Target` reads, for `--help`.
const TARGET_FORMS: &str =
    "TARGET is a VNC server: `host:N` is display N (port 5900+N) for N < 100, \
`host:PORT` a port of 100 or more, `host::PORT` always a port, bare `host` port 5900, \
`:N` display N on localhost, `[v6addr]:N` or `[v6addr]::PORT` for IPv6 (a bare IPv6 \
address like 2001:db8::1 means port 5900). TCP only (no Unix socket paths).";

#[derive(clap::Args, Debug)]
#[command(after_help = TARGET_FORMS)]
pub struct PlayArgs {
    /// `TARGET FILE.kb`, or only `FILE.kb` with --check (TARGET forms below).
    #[arg(required = true, num_args = 1..=2, value_names = ["TARGET", "FILE"])]
    args: Vec<String>,
    /// Parse everything (LoadFile targets and images too), print the
    /// duration and event counts, send nothing.
    #[arg(long)]
    check: bool,
    /// Play this many times faster.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Send every event right after the previous one.
    #[arg(long, conflicts_with = "speed")]
    no_delays: bool,
    /// Open a control socket for `rfbplay ctl PATH ...`. PATH must be new,
    /// or a stale socket nothing answers on; any other file there is refused.
    #[arg(long)]
    control: Option<PathBuf>,
    /// Largest mean difference per colour channel (0-255) that still counts
    /// as a WaitForIt/ClickItEvent match.
    #[arg(long, default_value_t = 12.0)]
    tolerance: f64,
    /// Print the file's comment lines as playback passes them.
    #[arg(long, short)]
    verbose: bool,
    /// Spin (instead of sleeping) for the last part of each delay.
    #[arg(long, default_value = "200us", value_parser = duration)]
    spin: Duration,
    /// Print how late each event was sent against its schedule.
    #[arg(long)]
    timing: bool,
    /// Also record the screen, over a second connection, to this new .fb
    /// file, from before the first event until the screen settles after
    /// the last; the events sent go to OUT.sent.kb beside it (login.fb:
    /// login.sent.kb), on the same clock as the recording.
    #[arg(long, value_name = "OUT.fb")]
    record: Option<PathBuf>,
    #[command(flatten)]
    conn: Connection,
}

#[derive(clap::Args, Debug)]
#[command(after_help = TARGET_FORMS)]
pub struct TypeArgs {
    target: String,
    /// Text to type; `\n` or a newline presses Return, `\t` Tab.
    text: String,
    /// Time between key events.
    #[arg(long, default_value = "10ms", value_parser = duration)]
    delay: Duration,
    #[command(flatten)]
    conn: Connection,
}

#[derive(clap::Args, Debug)]
#[command(after_help = TARGET_FORMS)]
pub struct InjectArgs {
    target: String,
    /// One event as in a .kb file without the delay, e.g.
    /// `KeyEvent,true,Return`, `PointerEvent,1,100,200`, `LoadFile,a.kb`,
    /// `ClickItEvent,5s,ok.png`.
    event: String,
    /// Largest mean difference per colour channel (0-255) that still counts
    /// as a match, for a WaitForIt/ClickItEvent (or a LoadFile holding one).
    #[arg(long, default_value_t = 12.0)]
    tolerance: f64,
    #[command(flatten)]
    conn: Connection,
}

#[derive(clap::Args, Debug)]
pub struct CtlArgs {
    /// The socket given to `play --control` or `record --control`.
    socket: PathBuf,
    /// pause, continue, step, getstep, stop, or inject EVENT (a playback);
    /// list [--json], add NAME=TARGET, stop NAME, add-kb NAME[=TARGET]
    /// --listen HOST:PORT, stop-kb NAME, or stop --all (record --control).
    #[arg(required = true, num_args = 1.., allow_hyphen_values = true)]
    command: Vec<String>,
}

fn duration(s: &str) -> Result<Duration, String> {
    kb::parse::parse_ns(s)
        .map(Duration::from_nanos)
        .ok_or_else(|| format!("'{s}' is not a duration (250ms, 1s, or nanoseconds)"))
}

fn connect(target: &str, conn: &Connection) -> anyhow::Result<Session> {
    let target: Target = target.parse()?;
    let opts = ConnectOptions {
        password: super::record::password(conn.password_file.as_deref())?,
        timeout: conn.connect_timeout,
        shared: true,
    };
    Ok(Session::connect(&target, &opts)?)
}

pub fn run_play(a: PlayArgs) -> anyhow::Result<ExitCode> {
    let (target, file) = match (a.check, a.args.as_slice()) {
        (true, [file]) => (None, file),
        (_, [target, file]) => (Some(target), file),
        _ => bail!("play needs TARGET and FILE (or --check FILE)"),
    };
    let program = kb::load(Path::new(file), &LoadOptions::default())?;
    if a.check || target.is_none() {
        print_check(file, &program)?;
        return Ok(ExitCode::SUCCESS);
    }
    let Some(target) = target else { unreachable!() };
    let opts = PlayOptions {
        speed: a.speed,
        no_delays: a.no_delays,
        spin: a.spin,
        tolerance: a.tolerance,
        log_sent: a.record.is_some(),
    };
    let (tx, rx) = mpsc::channel();
    // Before connecting, so a refused path costs no connection.
    let _server = match &a.control {
        Some(p) => Some(ControlServer::start(p, &program.inputs(), tx.clone())?),
        None => None,
    };
    let screen = match &a.record {
        Some(out) => Some(start_screen(target, out, &a.conn)?),
        None => None,
    };
    let mut session = connect(target, &a.conn)?;
    stop_on_signals(tx.clone())?;
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let _raw = if interactive { keys(tx.clone()) } else { None };
    drop(tx);
    let mut status = Status {
        live: interactive,
        verbose: a.verbose,
    };
    let result = play::play(&mut session, &program, &opts, &rx, &mut status);
    status.clear();
    let report = result?;
    if let (Some((screen, zero)), Some(out)) = (screen, &a.record) {
        let last = report.sent.last().map_or_else(Instant::now, |(t, _)| *t);
        let summary = screen.finish_after(last)?;
        let sent = kb::screen::sent_path(out);
        let header = format!(
            "sent by rfbplay play {file} to {target}; time 0 is time 0 of {}",
            out.display()
        );
        kb::screen::write_sent(&sent, &header, zero, &report.sent)?;
        let updates: u64 = summary.files.iter().map(|f| f.counts.updates).sum();
        eprintln!(
            "rfbplay: recorded {} ({updates} updates) and {} ({} events sent)",
            out.display(),
            sent.display(),
            report.sent.len()
        );
    }
    if a.timing {
        let (mean, max) = report.mean_max_lateness_ns();
        let ms = |ns: u64| ns as f64 / 1e6;
        eprintln!(
            "timing: {} events, send lateness mean {:.3} ms, median {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            report.lateness_ns.len(),
            mean / 1e6,
            ms(report.lateness_quantile_ns(0.5)),
            ms(report.lateness_quantile_ns(0.99)),
            ms(max)
        );
    }
    if report.stopped {
        eprintln!("rfbplay: stopped after {} events", report.events_sent);
    }
    Ok(ExitCode::SUCCESS)
}

/// `play --record OUT`: the screen recording, started and holding its
/// first update, and its time 0.
fn start_screen(
    target: &str,
    out: &Path,
    conn: &Connection,
) -> anyhow::Result<(kb::screen::Screen, Instant)> {
    let sent = kb::screen::sent_path(out);
    if sent.exists() {
        bail!("{} already exists; it is left alone", sent.display());
    }
    let target: Target = target.parse()?;
    let job = rfbplay::record::Job {
        name: target.to_string(),
        target,
        out: out.to_path_buf(),
    };
    let opts = rfbplay::record::RecordOptions {
        connect: ConnectOptions {
            password: super::record::password(conn.password_file.as_deref())?,
            timeout: conn.connect_timeout,
            shared: true,
        },
        ..Default::default()
    };
    Ok(kb::screen::Screen::start(job, opts)?)
}

fn print_check(file: &str, p: &Program) -> std::io::Result<()> {
    let c = p.counts();
    let d = p.duration_ns();
    super::outln!("{file}: ok");
    super::outln!(
        "duration:   {} ({} ns, without WaitForIt time)",
        rfbplay::Time(d),
        d
    );
    super::outln!("key events: {}", c.keys);
    super::outln!("pointer:    {}", c.pointers);
    super::outln!("WaitForIt:  {}", c.waits);
    super::outln!("ClickIt:    {}", c.clicks);
    super::outln!("LoadFile:   {} ({} files)", c.loads, p.files.len());
    super::outln!("comments:   {}", c.comments);
    Ok(())
}

pub fn run_type(a: TypeArgs) -> anyhow::Result<ExitCode> {
    let events = typing::type_events(&typing::unescape(&a.text));
    let delay = a.delay.as_nanos() as u64;
    let program = Program {
        files: vec![PathBuf::from("<type>")],
        steps: events
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let kb::Event::Key { down, keysym } = e else {
                    unreachable!()
                };
                Step {
                    file: 0,
                    line: i as u32 + 1,
                    delay_ns: if i == 0 { 0 } else { delay },
                    action: Action::Key {
                        down: *down,
                        keysym: *keysym,
                    },
                }
            })
            .collect(),
    };
    run_once(&a.target, &a.conn, &program, PlayOptions::default())
}

pub fn run_inject(a: InjectArgs) -> anyhow::Result<ExitCode> {
    let cwd = std::env::current_dir()?;
    let program = kb::load::parse_inject(&a.event, &cwd, &LoadOptions::default())?;
    let opts = PlayOptions {
        tolerance: a.tolerance,
        ..PlayOptions::default()
    };
    run_once(&a.target, &a.conn, &program, opts)
}

fn run_once(
    target: &str,
    conn: &Connection,
    program: &Program,
    opts: PlayOptions,
) -> anyhow::Result<ExitCode> {
    let mut session = connect(target, conn)?;
    let (_tx, rx) = mpsc::channel();
    play::play(&mut session, program, &opts, &rx, &mut Quiet)?;
    // Let the server read the last events before the socket closes.
    std::thread::sleep(Duration::from_millis(50));
    Ok(ExitCode::SUCCESS)
}

pub fn run_ctl(a: CtlArgs) -> anyhow::Result<ExitCode> {
    let mut line = a.command.join(" ");
    if let Some(event) = line.strip_prefix("inject ") {
        line = format!("inject {}", absolute_paths(event.trim())?);
    }
    let answer = control::request(&a.socket, &line)
        .with_context(|| format!("cannot talk to {}", a.socket.display()))?;
    match serde_json::from_str::<serde_json::Value>(&answer) {
        // `list` of a recorder: a table, unless --json asked for the JSON.
        Ok(v) if line == "list" && v["recordings"].is_array() => print!("{}", table(&v)),
        _ => super::outln!("{answer}"),
    }
    Ok(if answer.starts_with("error") {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `list`'s rows, one line each: type, name, state, target, file, what
/// was recorded, and the error if there is one.
fn table(v: &serde_json::Value) -> String {
    let rows = v["recordings"].as_array().map_or(&[][..], |r| r.as_slice());
    let s = |r: &serde_json::Value, k: &str| r[k].as_str().unwrap_or("").to_string();
    let mut out = format!(
        "{:<4} {:<12} {:<12} {:<22} {:<28} {}\n",
        "TYPE", "NAME", "STATE", "TARGET", "FILE", "RECORDED"
    );
    for r in rows {
        let what = if r["type"] == "kb" {
            format!(
                "{} viewers, {} keys, {} pointer events; viewers connect to {}",
                r["viewers"],
                r["keys"],
                r["pointers"],
                s(r, "listen")
            )
        } else {
            format!(
                "{} updates, {} bytes, {:.1} s",
                r["updates"],
                r["file_bytes"],
                r["elapsed_s"].as_f64().unwrap_or(0.0)
            )
        };
        out += &format!(
            "{:<4} {:<12} {:<12} {:<22} {:<28} {what}\n",
            s(r, "type"),
            s(r, "name"),
            s(r, "state"),
            s(r, "target"),
            s(r, "file")
        );
        if let Some(e) = r["error"].as_str() {
            out += &format!("     {}: {e}\n", s(r, "name"));
        }
    }
    out
}

/// The playback runs elsewhere: relative LoadFile and image paths are made
/// absolute here, against the directory `ctl` runs in.
fn absolute_paths(event: &str) -> anyhow::Result<String> {
    let cwd = std::env::current_dir()?;
    Ok(match kb::parse_event(event)? {
        kb::Event::LoadFile { path } => format!("LoadFile,{}", cwd.join(path).display()),
        kb::Event::Wait {
            click,
            timeout_ns,
            image,
        } if cwd.join(&image).exists() => {
            let e = kb::Event::Wait {
                click,
                timeout_ns,
                image: cwd.join(&image).display().to_string(),
            };
            kb::write::format_event(&e)
        }
        _ => event.to_string(),
    })
}

/// Ctrl-C and SIGTERM stop the playback (so the terminal gets restored).
fn stop_on_signals(tx: Sender<Control>) -> anyhow::Result<()> {
    let flag = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&flag))?;
    }
    std::thread::spawn(move || loop {
        if flag.swap(false, Ordering::SeqCst) && tx.send(Control::Stop).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    });
    Ok(())
}

/// Restores the terminal settings `stty -g` saved.
struct RawTerminal(String);

impl Drop for RawTerminal {
    fn drop(&mut self) {
        let _ = Command::new("stty")
            .arg(&self.0)
            .stdin(Stdio::inherit())
            .status();
    }
}

/// Reads single keys from the terminal: space pauses/continues, n steps,
/// q stops.
fn keys(tx: Sender<Control>) -> Option<RawTerminal> {
    let saved = Command::new("stty")
        .arg("-g")
        .stdin(Stdio::inherit())
        .output()
        .ok()?;
    let saved = String::from_utf8(saved.stdout).ok()?.trim().to_string();
    let ok = Command::new("stty")
        .args(["-icanon", "-echo", "min", "1"])
        .stdin(Stdio::inherit())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return None;
    }
    std::thread::spawn(move || {
        let mut paused = false;
        let mut byte = [0u8; 1];
        let mut stdin = std::io::stdin();
        while stdin.read_exact(&mut byte).is_ok() {
            let c = match byte[0] {
                b' ' => {
                    paused = !paused;
                    if paused {
                        Control::Pause
                    } else {
                        Control::Continue
                    }
                }
                b'n' => Control::Step,
                b'q' => Control::Stop,
                _ => continue,
            };
            if tx.send(c).is_err() {
                break;
            }
        }
    });
    Some(RawTerminal(saved))
}

/// The one-line status on stderr.
struct Status {
    live: bool,
    /// Whether comment lines are printed.
    verbose: bool,
}

impl Status {
    fn clear(&self) {
        if self.live {
            eprint!("\r\x1b[K");
        }
    }
}

impl Observer for Status {
    fn next(&mut self, program: &Program, index: usize, left_ns: u64) {
        if !self.live {
            return;
        }
        let Some(step) = program.steps.get(index) else {
            return;
        };
        let mut text = format!(
            "{}/{} {} {}  {} left  [space pause, n step, q stop]",
            index + 1,
            program.steps.len(),
            program.location(step),
            play::describe(program, step),
            rfbplay::Time(left_ns)
        );
        text.truncate(200);
        eprint!("\r\x1b[K{text}");
        let _ = std::io::stderr().flush();
    }

    fn comment(&mut self, text: &str) {
        if self.verbose {
            self.clear();
            eprintln!("{text}");
        }
    }

    fn paused(&mut self, paused: bool) {
        if self.live {
            eprint!(" {}", if paused { "[paused]" } else { "" });
        }
    }

    fn found(&mut self, program: &Program, step: &Step, m: &Match) {
        self.clear();
        eprintln!(
            "{}: found at {},{} (mean difference {:.2})",
            program.location(step),
            m.x,
            m.y,
            m.score
        );
    }
}

/// How record-kb serves viewers, for its `--help`.
const RECORD_KB_HELP: &str =
    "Viewers are recorded one at a time until Ctrl-C or SIGTERM (or, with --once, \
until the first viewer leaves); a viewer that connects while another is recorded is told so and \
closed. All viewers go into the one FILE, in order: each starts with a `#: viewer N connected from \
ADDR` comment line, and its first event's delay is the time since the previous event (the first \
viewer's: since it connected), so a replay keeps the gaps between viewers.";

#[derive(clap::Args, Debug)]
#[command(after_help = format!("{RECORD_KB_HELP}\n\n{TARGET_FORMS}"))]
pub struct RecordKbArgs {
    /// Where viewers connect (host:port). A non-loopback address lets
    /// other machines in, and draws a warning.
    #[arg(long, default_value = "127.0.0.1:5999")]
    listen: String,
    /// Stop after the first viewer disconnects.
    #[arg(long)]
    once: bool,
    /// The VNC server (TARGET forms below).
    target: String,
    /// The .kb file to write (replaced if it exists).
    file: PathBuf,
}

pub fn run_record_kb(a: RecordKbArgs) -> anyhow::Result<ExitCode> {
    let target: Target = a.target.parse()?;
    let listener = std::net::TcpListener::bind(&a.listen)
        .with_context(|| format!("--listen {}: cannot listen", a.listen))?;
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback() {
        eprintln!(
            "rfbplay: warning: listening on {addr}, which other machines can reach: whoever connects uses {target} through it (--listen 127.0.0.1:PORT keeps it local)"
        );
    }
    let mut out = std::fs::File::create(&a.file)
        .with_context(|| format!("{}: cannot create", a.file.display()))?;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    eprintln!(
        "rfbplay: point a VNC viewer at {addr} (it reaches {target}); recording to {}{}",
        a.file.display(),
        if a.once {
            " until the viewer leaves"
        } else {
            "; viewers one at a time, until Ctrl-C"
        }
    );
    let mut recorder = kb::record::Recorder::new(&mut out);
    let mut code = ExitCode::SUCCESS;
    while !stop.load(Ordering::Relaxed) {
        let s = match recorder.record_viewer(&listener, &target, &stop) {
            Ok(Some(s)) => s,
            Ok(None) => break,
            // A server that refused one viewer may take the next.
            Err(e @ kb::record::RecordError::Connect { .. }) if !a.once => {
                eprintln!("rfbplay: error: {:#}", anyhow::Error::from(e));
                code = ExitCode::FAILURE;
                continue;
            }
            Err(e @ kb::record::RecordError::Write(_)) => {
                return Err(anyhow::Error::from(e).context(a.file.display().to_string()));
            }
            Err(e) => return Err(e.into()),
        };
        eprintln!(
            "rfbplay: viewer {} ({}): recorded {} key and {} pointer events ({} other viewer messages{})",
            s.viewer,
            s.peer,
            s.keys,
            s.pointers,
            s.other_messages,
            match s.refused {
                0 => String::new(),
                n => format!("; {n} other viewers turned away"),
            }
        );
        if !s.hidden_security.is_empty() {
            eprintln!(
                "rfbplay: note: hid security types {:?} from the viewer (only None and VNC Authentication can be followed)",
                s.hidden_security
            );
        }
        if let Some(lost) = s.lost {
            eprintln!(
                "rfbplay: warning: viewer {}: stopped logging: {lost}",
                s.viewer
            );
            code = ExitCode::FAILURE;
        }
        if a.once {
            break;
        }
    }
    Ok(code)
}
