//! `rfbplay updates`: one line per message, with what each update changed.

use super::progress::Bar;
use rfbplay::player::{PlayOptions, Player};
use rfbplay::time::parse_duration;
use rfbplay::Time;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Recording (.fb, .fbs, .rbs), recognised by content.
    file: PathBuf,
    /// First time to list (seconds or a duration such as 1m3s).
    #[arg(long, value_parser = parse_duration)]
    from: Option<Time>,
    /// Last time to list.
    #[arg(long, value_parser = parse_duration)]
    to: Option<Time>,
    /// One JSON object per line instead of text (schema in the README).
    #[arg(long)]
    json: bool,
    /// Read on past damage: skip what cannot be decoded, go on at the next
    /// update that decodes, and warn of each skipped stretch.
    #[arg(long)]
    salvage: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let (Some(from), Some(to)) = (args.from, args.to) {
        if from > to {
            return Err(super::Usage(format!("--from {from} is after --to {to}")).into());
        }
    }
    let mut player = Player::open(
        &args.file,
        PlayOptions {
            measure_damage: true,
            salvage: args.salvage,
            ..Default::default()
        },
    )?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut failed: Option<std::io::Error> = None;
    let mut emit = |e: &rfbplay::inspect::Entry, _: &rfbplay::framebuffer::Screen| {
        let r = if args.json {
            serde_json::to_writer(&mut out, e)
                .map_err(std::io::Error::from)
                .and_then(|_| writeln!(out))
        } else {
            writeln!(out, "{e}")
        };
        match r {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                failed = Some(e);
                ControlFlow::Break(())
            }
        }
    };
    let summary = rfbplay::inspect::entries(
        &mut player,
        args.from.unwrap_or(Time::ZERO),
        args.to,
        &mut emit,
        &Bar::new("reading"),
    );
    if let Some(e) = failed {
        return Err(e.into());
    }
    out.flush()?;
    drop(out);
    let code = super::report(&args.file, &summary);
    if let (Some(from), Some(end), None) = (args.from, summary.last_update, &summary.error) {
        if from > end.ceil_ms() && !summary.stopped {
            anyhow::bail!(
                "{}: --from {from} is past the end of the recording ({end})",
                args.file.display()
            );
        }
    }
    Ok(code)
}
