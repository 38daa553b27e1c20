//! `rfbplay serve DIR`: arguments for the web player (see `rfbplay::serve`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Folder of recordings (searched recursively); only files under it are served.
    dir: PathBuf,
    /// Address to listen on; loopback by default, so only this machine can watch.
    #[arg(long, default_value = "127.0.0.1:9004")]
    listen: SocketAddr,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    if !a.listen.ip().is_loopback() {
        super::warn(&format!(
            "listening on {}: anyone who can reach this address can watch every recording under {}",
            a.listen,
            a.dir.display()
        ));
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let config = rfbplay::serve::Config {
        root: a.dir.clone(),
        listen: a.listen,
        decoders: cores * 2,
        cache_bytes: 256 << 20,
        sessions: 32,
    };
    rfbplay::serve::run(config, |addr| {
        super::note(&format!("serving {} at http://{addr}/", a.dir.display()));
    })?;
    Ok(ExitCode::SUCCESS)
}
