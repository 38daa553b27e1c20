//! `rfbplay info FILE [--json]`.

use super::progress::Bar;
use rfbplay::player::{PlayOptions, Player};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Recording (.fb, .fbs, .rbs), recognised by content.
    file: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut player = Player::open(
        &args.file,
        PlayOptions {
            keep_shown: false,
            ..Default::default()
        },
    )?;
    let (info, summary) = rfbplay::info::gather(&mut player, &Bar::new("reading"));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&info)?);
    } else {
        print_text(&info);
    }
    Ok(super::report(&args.file, &summary))
}

/// Seconds from the JSON fields, shown as every command shows times.
fn secs(s: f64) -> rfbplay::Time {
    rfbplay::Time::from_secs_f64(s)
}

fn print_text(info: &rfbplay::info::Info) {
    println!("file:        {}", info.file);
    println!("format:      {}", info.format);
    if let Some(init) = &info.server_init {
        println!(
            "desktop:     {:?}, {}x{} at connection",
            init.name, init.width, init.height
        );
    }
    println!(
        "duration:    {} (time of the last complete update)",
        secs(info.duration_s)
    );
    if let Some(t) = info.first_update_s {
        println!("first update: {}", secs(t));
    }
    println!("updates:     {}", info.updates);
    let pf = &info.pixel_format;
    println!(
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
    );
    println!("screen sizes:");
    for s in &info.sizes {
        println!(
            "  from {:>10}  {}x{}",
            secs(s.time_s).to_string(),
            s.width,
            s.height
        );
    }
    println!("messages:");
    for (name, n) in &info.messages {
        println!("  {name:<20} {n}");
    }
    if !info.bells_s.is_empty() {
        let shown: Vec<String> = info
            .bells_s
            .iter()
            .take(10)
            .map(|&t| secs(t).to_string())
            .collect();
        let more = if info.bells_s.len() > 10 { " ..." } else { "" };
        println!("bells at:    {}{more}", shown.join(", "));
    }
    println!("rectangles per encoding:");
    for (enc, n) in &info.stats.rects {
        let bytes = info.stats.bytes.get(enc).copied().unwrap_or(0);
        println!("  {enc:<20} {n:>8} rects {bytes:>12} bytes");
        if let Some(subs) = info.stats.subencodings.get(enc) {
            for (sub, k) in subs {
                println!("    {sub:<18} {k:>8}");
            }
        }
    }
    println!("stream bytes: {}", info.stream_bytes);
    match &info.truncated {
        Some(t) => println!(
            "truncated:   yes, {} at decompressed byte {} (recording time {})",
            t.cause,
            t.decompressed_offset,
            secs(t.time_s)
        ),
        None => println!("truncated:   no"),
    }
    if let Some(e) = &info.error {
        println!("error:       {e}");
    }
}
