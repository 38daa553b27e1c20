//! `rfbplay info FILE|FOLDER [--json]`.

use super::progress::Bar;
use rfbplay::player::{PlayOptions, Player};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Recording (.fb, .fbs, .rbs), recognised by content, or a folder of
    /// them (searched recursively).
    file: PathBuf,
    /// Print JSON instead of text (for a folder: one object per line).
    #[arg(long)]
    json: bool,
    /// Read on past damage: skip what cannot be decoded, go on at the next
    /// update that decodes, and list each skipped stretch.
    #[arg(long)]
    salvage: bool,
    #[command(flatten)]
    batch: super::batch::BatchArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.file.is_dir() {
        return run_folder(args);
    }
    let mut player = Player::open(
        &args.file,
        PlayOptions {
            keep_shown: false,
            salvage: args.salvage,
            ..Default::default()
        },
    )?;
    let (info, summary) = rfbplay::info::gather(&mut player, &Bar::new("reading"));
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &info)?;
        writeln!(out)?;
    } else {
        print_text(&mut out, &info)?;
    }
    out.flush()?;
    Ok(super::report(&args.file, &summary))
}

/// `info FOLDER`: every recording's info, in path order, on all cores.
fn run_folder(args: Args) -> anyhow::Result<ExitCode> {
    let plan = super::batch::plan(&args.file, &args.batch, None)?;
    let infos = std::sync::Mutex::new(Vec::new());
    let code = super::batch::execute(&plan, &args.batch, false, |job, _| {
        let opened = Player::open(
            &job.input,
            PlayOptions {
                keep_shown: false,
                salvage: args.salvage,
                ..Default::default()
            },
        );
        let mut player = match opened {
            Ok(p) => p,
            Err(e) => {
                return rfbplay::batch::Done {
                    duration_s: None,
                    warning: None,
                    error: Some(rfbplay::error_chain(&e)),
                    skipped: false,
                }
            }
        };
        let (info, summary) = rfbplay::info::gather(&mut player, &rfbplay::progress::NoProgress);
        infos
            .lock()
            .expect("not poisoned")
            .push((job.relative.clone(), info));
        super::batch::done_from(&job.input, &summary, None)
    })?;
    let mut infos = infos.into_inner().expect("not poisoned");
    infos.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = std::io::stdout().lock();
    for (_, info) in &infos {
        if args.json {
            serde_json::to_writer(&mut out, info)?;
            writeln!(out)?;
        } else {
            let size = info
                .sizes
                .last()
                .map(|s| format!("{}x{}", s.width, s.height))
                .unwrap_or_else(|| "-".into());
            let state = match (&info.error, &info.truncated) {
                (Some(_), _) => "damaged",
                (None, _) if !info.damaged.is_empty() => "salvaged",
                (None, Some(_)) => "cut",
                (None, None) => "complete",
            };
            writeln!(
                out,
                "{:>12}  {size:>10}  {:>7} updates  {state:<8}  {}",
                secs(info.duration_s).to_string(),
                info.updates,
                info.file
            )?;
        }
    }
    out.flush()?;
    Ok(code)
}

/// Seconds from the JSON fields, shown as every command shows times.
fn secs(s: f64) -> rfbplay::Time {
    rfbplay::Time::from_secs_f64(s)
}

fn print_text(out: &mut dyn Write, info: &rfbplay::info::Info) -> std::io::Result<()> {
    writeln!(out, "file:        {}", info.file)?;
    writeln!(out, "format:      {}", info.format)?;
    if let Some(init) = &info.server_init {
        writeln!(
            out,
            "desktop:     {:?}, {}x{} at connection",
            init.name, init.width, init.height
        )?;
    }
    writeln!(
        out,
        "duration:    {} (time of the last complete update)",
        secs(info.duration_s)
    )?;
    if let Some(t) = info.first_update_s {
        writeln!(out, "first update: {}", secs(t))?;
    }
    writeln!(out, "updates:     {}", info.updates)?;
    let pf = &info.pixel_format;
    writeln!(
        out,
        "pixels:      {} bpp, depth {}, {}, {}",
        pf.bits_per_pixel,
        pf.depth,
        if pf.big_endian {
            "big-endian"
        } else {
            "little-endian"
        },
        if pf.true_colour {
            format!(
                "true colour max {}/{}/{} shift {}/{}/{}",
                pf.red_max, pf.green_max, pf.blue_max, pf.red_shift, pf.green_shift, pf.blue_shift
            )
        } else {
            "colour map".to_string()
        }
    )?;
    writeln!(out, "screen sizes:")?;
    for s in &info.sizes {
        writeln!(
            out,
            "  from {:>10}  {}x{}",
            secs(s.time_s).to_string(),
            s.width,
            s.height
        )?;
    }
    writeln!(out, "messages:")?;
    for (name, n) in &info.messages {
        writeln!(out, "  {name:<20} {n}")?;
    }
    if !info.bells_s.is_empty() {
        let shown: Vec<String> = info
            .bells_s
            .iter()
            .take(10)
            .map(|&t| secs(t).to_string())
            .collect();
        let more = if info.bells_s.len() > 10 { " ..." } else { "" };
        writeln!(out, "bells at:    {}{more}", shown.join(", "))?;
    }
    writeln!(out, "rectangles per encoding:")?;
    for (enc, n) in &info.stats.rects {
        let bytes = info.stats.bytes.get(enc).copied().unwrap_or(0);
        writeln!(out, "  {enc:<20} {n:>8} rects {bytes:>12} bytes")?;
        if let Some(subs) = info.stats.subencodings.get(enc) {
            for (sub, k) in subs {
                writeln!(out, "    {sub:<18} {k:>8}")?;
            }
        }
    }
    writeln!(out, "stream bytes: {}", info.stream_bytes)?;
    match &info.truncated {
        Some(t) => writeln!(
            out,
            "truncated:   yes, {} at decompressed byte {} (recording time {})",
            t.message,
            t.decompressed_offset,
            secs(t.time_s)
        )?,
        None => writeln!(out, "truncated:   no")?,
    }
    if let Some(e) = &info.error {
        writeln!(out, "error:       {e}")?;
    }
    if !info.damaged.is_empty() {
        writeln!(out, "damaged:     {} stretches skipped", info.damaged.len())?;
    }
    Ok(())
}
