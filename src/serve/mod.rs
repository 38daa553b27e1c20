//! `rfbplay serve`: watch the recordings of a folder in any browser, with
//! exact pixels. The list page shows every recording under the folder; the
//! player page draws PNG frames (lossless) on a canvas. The page, script and
//! styles are compiled into the binary; nothing is fetched from elsewhere.
//!
//! The server only reads: it serves recordings under its folder (see
//! [`paths`]) and nothing a request says changes a file. Decoding runs on
//! blocking threads under a shared [`screens::Budget`]; a request that
//! would queue behind too many others gets 503 at once.

// An early answer (404, 403, 503) is an axum Response, made once per
// request; boxing it would only add noise.
#![allow(clippy::result_large_err)]

pub mod indexer;
pub mod inputs;
pub mod live;
pub mod needle;
pub mod paths;
pub mod screens;
pub mod session;
pub mod timeline;

use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use screens::{Budget, FrameError, Screens};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use timeline::Timelines;

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{}: not a folder", .0.display())]
    NotAFolder(PathBuf),
    #[error("cannot listen on {addr}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the server's runtime")]
    Runtime(#[source] std::io::Error),
}

/// How to serve.
pub struct Config {
    pub root: PathBuf,
    pub listen: SocketAddr,
    /// Decodes that may run at once.
    pub decoders: usize,
    /// Memory for cached frames, in bytes.
    pub cache_bytes: usize,
    /// Recordings kept playing (each a thread and its screens).
    pub sessions: usize,
}

struct App {
    root: PathBuf,
    budget: Budget,
    screens: Screens,
    timelines: Timelines,
    finds: needle::Finds,
    live: Arc<live::Live>,
    indexer: Arc<indexer::Indexer>,
}

type Shared = Arc<App>;

const LIST_HTML: &str = include_str!("assets/list.html");
const PLAYER_HTML: &str = include_str!("assets/player.html");
const PLAYER_JS: &str = include_str!("assets/player.js");
const LIST_JS: &str = include_str!("assets/list.js");
const STYLE_CSS: &str = include_str!("assets/style.css");

/// Serves until the process is stopped. `ready` is called with the bound
/// address once requests are accepted.
pub fn run(config: Config, ready: impl FnOnce(SocketAddr)) -> Result<(), ServeError> {
    let root = config
        .root
        .canonicalize()
        .ok()
        .filter(|p| p.is_dir())
        .ok_or_else(|| ServeError::NotAFolder(config.root.clone()))?;
    let app = Arc::new(App {
        root,
        budget: Budget::new(config.decoders),
        screens: Screens::new(config.cache_bytes, config.sessions),
        timelines: Timelines::default(),
        finds: needle::Finds::default(),
        live: Arc::default(),
        indexer: Arc::default(),
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_io()
        .max_blocking_threads(config.decoders.max(1) * 6 + 4)
        .build()
        .map_err(ServeError::Runtime)?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| ServeError::Listen {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ServeError::Listen {
            addr: config.listen,
            source,
        })?;
        ready(addr);
        axum::serve(listener, router(app))
            .await
            .map_err(|source| ServeError::Listen { addr, source })
    })
}

fn router(app: Shared) -> Router {
    Router::new()
        .route("/", get(|| async { html(LIST_HTML) }))
        .route("/play", get(play_query))
        .route("/play/{*path}", get(play_path))
        .route(
            "/assets/player.js",
            get(|| async { asset(PLAYER_JS, "text/javascript") }),
        )
        .route(
            "/assets/list.js",
            get(|| async { asset(LIST_JS, "text/javascript") }),
        )
        .route(
            "/assets/style.css",
            get(|| async { asset(STYLE_CSS, "text/css") }),
        )
        .route("/api/list", get(api_list))
        .route("/api/timeline", get(api_timeline))
        .route("/api/frame", get(api_frame))
        .route("/api/thumb", get(api_thumb))
        .route("/api/inputs", get(api_inputs))
        .route(
            "/api/find",
            post(api_find).layer(axum::extract::DefaultBodyLimit::max(needle::MAX_UPLOAD)),
        )
        .layer(middleware::from_fn(refuse_encoded_separators))
        .with_state(app)
}

/// A path segment that hides a separator (`%2f`, `%5c`) could name a file
/// in another folder than it seems to: such requests are refused whole.
async fn refuse_encoded_separators(req: Request, next: Next) -> Response {
    let raw = req.uri().path().to_ascii_lowercase();
    if raw.contains("%2f") || raw.contains("%5c") || raw.contains("%00") {
        return text(StatusCode::NOT_FOUND, "not found");
    }
    next.run(req).await
}

fn html(body: &'static str) -> Response {
    asset(body, "text/html; charset=utf-8")
}

fn asset(body: &'static str, kind: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

fn text(status: StatusCode, msg: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{msg}\n"),
    )
        .into_response()
}

fn json(value: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

fn busy() -> Response {
    let mut r = text(
        StatusCode::SERVICE_UNAVAILABLE,
        "busy: too many recordings are being decoded; try again shortly",
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

impl App {
    fn resolve(&self, relative: &str) -> Result<PathBuf, Response> {
        paths::resolve(&self.root, relative).map_err(|e| match e {
            paths::Refused::NotFound => text(StatusCode::NOT_FOUND, &e.to_string()),
            paths::Refused::Outside => text(StatusCode::FORBIDDEN, &e.to_string()),
        })
    }
}

/// Runs blocking work under the decode budget.
async fn decode<T: Send + 'static>(
    app: &Shared,
    work: impl FnOnce(&App) -> T + Send + 'static,
) -> Result<T, Response> {
    let permit = app.budget.acquire().await.map_err(|_| busy())?;
    let app = app.clone();
    let r = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        work(&app)
    })
    .await;
    r.map_err(|e| text(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))
}

#[derive(Deserialize)]
struct PathQuery {
    path: Option<String>,
    /// Only what the list shows: no per-update arrays.
    brief: Option<u8>,
}

/// The list's view of a timeline.
#[derive(serde::Serialize)]
struct Brief<'a> {
    live: bool,
    duration_s: f64,
    width: u32,
    height: u32,
    file_bytes: u64,
    updates: usize,
    cut: &'a Option<timeline::Stop>,
    damage: &'a Option<timeline::Stop>,
}

/// A timeline and whether its recording is still being written.
#[derive(serde::Serialize)]
struct Full<'a> {
    live: bool,
    #[serde(flatten)]
    timeline: &'a timeline::Timeline,
}

fn timeline_json(tl: &timeline::Timeline, brief: bool, live: bool) -> Response {
    if brief {
        json(&Brief {
            live,
            duration_s: tl.duration_s,
            width: tl.width,
            height: tl.height,
            file_bytes: tl.file_bytes,
            updates: tl.updates.len(),
            cut: &tl.cut,
            damage: &tl.damage,
        })
    } else {
        json(&Full { live, timeline: tl })
    }
}

async fn play_query(State(app): State<Shared>, Query(q): Query<PathQuery>) -> Response {
    play(&app, q.path.as_deref().unwrap_or(""))
}

async fn play_path(State(app): State<Shared>, UrlPath(path): UrlPath<String>) -> Response {
    play(&app, &path)
}

fn play(app: &App, relative: &str) -> Response {
    match app.resolve(relative) {
        Ok(_) => html(PLAYER_HTML),
        Err(r) => r,
    }
}

#[derive(serde::Serialize)]
struct Listed {
    path: String,
    bytes: u64,
}

async fn api_list(State(app): State<Shared>) -> Response {
    let root = app.root.clone();
    let found = tokio::task::spawn_blocking(move || crate::batch::discover(&root)).await;
    match found {
        Ok(Ok(jobs)) => json(
            &jobs
                .iter()
                .map(|j| Listed {
                    path: j.relative.to_string_lossy().into_owned(),
                    bytes: std::fs::metadata(&j.input).map(|m| m.len()).unwrap_or(0),
                })
                .collect::<Vec<_>>(),
        ),
        Ok(Err(e)) => text(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn api_timeline(State(app): State<Shared>, Query(q): Query<PathQuery>) -> Response {
    let file = match app.resolve(q.path.as_deref().unwrap_or("")) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let brief = q.brief.unwrap_or(0) != 0;
    if let Some(tl) = app.live.timeline(&file) {
        return timeline_json(&tl, brief, true);
    }
    let found = match app.timelines.cached(&file) {
        Some(tl) => Ok(Ok(tl)),
        None => {
            let file = file.clone();
            decode(&app, move |app| app.timelines.get(&file)).await
        }
    };
    match found {
        Ok(Ok(tl)) => {
            let live = live::is_live(&file, &tl);
            if live {
                app.live.follow(&file);
            }
            timeline_json(&tl, brief, live)
        }
        Ok(Err(e)) => text(StatusCode::UNPROCESSABLE_ENTITY, &e),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct FrameQuery {
    path: Option<String>,
    /// Seconds, or absent / "end" for the last screen.
    t: Option<String>,
}

/// Parses `t`: seconds or `end` (None).
fn parse_t(t: Option<&str>) -> Result<Option<crate::time::Time>, Response> {
    match t {
        None | Some("end") => Ok(None),
        Some(s) => match s.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => Ok(Some(crate::time::Time::from_secs_f64(v))),
            _ => Err(text(StatusCode::BAD_REQUEST, "t must be seconds or 'end'")),
        },
    }
}

async fn api_frame(State(app): State<Shared>, Query(q): Query<FrameQuery>) -> Response {
    let file = match app.resolve(q.path.as_deref().unwrap_or("")) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let t = match parse_t(q.t.as_deref()) {
        Ok(t) => t,
        Err(r) => return r,
    };
    // The live end of a recording still being written: the follower has it.
    if let Some(at) = t.or_else(|| app.live.end(&file)) {
        let (f, a) = (file.clone(), app.clone());
        if let Some(fb) = a.live.screen_at(&f, at) {
            let png = decode(&app, move |_| {
                crate::export::png::png_bytes(&fb.to_rgb(), fb.width(), fb.height())
            })
            .await;
            return match png {
                Ok(Ok(png)) => {
                    let mut r = png_response(&Arc::new(png), Some(at));
                    r.headers_mut()
                        .insert("x-frame-source", HeaderValue::from_static("live"));
                    r
                }
                Ok(Err(e)) => text(StatusCode::INTERNAL_SERVER_ERROR, &crate::error_chain(&e)),
                Err(r) => r,
            };
        }
    }
    let sought = file.clone();
    let result = decode(&app, move |app| {
        // A timeline already read lets frames share the cache; reading one
        // just for this frame would delay it, except to know where the end is.
        let tl = match t {
            Some(_) => app.timelines.cached(&file),
            None => app.timelines.get(&file).ok(),
        };
        let t = match (t, &tl) {
            (Some(t), _) => t,
            (None, Some(tl)) => tl.end().unwrap_or_default(),
            (None, None) => crate::time::Time::ZERO,
        };
        app.screens
            .screen_at(&file, tl.as_deref(), t)
            .map(|(f, source)| (f, t, source))
    })
    .await;
    match result {
        Ok(Ok((frame, t, source))) => {
            if source != screens::Source::Cache {
                if let Some(tl) = app.timelines.cached(&sought) {
                    if !live::is_live(&sought, &tl) {
                        app.indexer.sought(&sought, tl.duration_s);
                    }
                }
            }
            let mut r = png_response(&frame.png, Some(t));
            r.headers_mut()
                .insert("x-frame-source", HeaderValue::from_static(source.name()));
            r
        }
        Ok(Err(e @ (FrameError::PastEnd(_) | FrameError::NoUpdate))) => {
            text(StatusCode::NOT_FOUND, &e.to_string())
        }
        Ok(Err(e)) => text(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()),
        Err(r) => r,
    }
}

fn png_response(png: &Arc<Vec<u8>>, t: Option<crate::time::Time>) -> Response {
    let mut r = Response::new(Body::from(png.as_ref().clone()));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Some(t) = t {
        if let Ok(v) = HeaderValue::from_str(&format!("{:.9}", t.as_secs_f64())) {
            h.insert("x-frame-time", v);
        }
    }
    r
}

/// The key and pointer events of the .kb file beside a recording.
async fn api_inputs(State(app): State<Shared>, Query(q): Query<PathQuery>) -> Response {
    let file = match app.resolve(q.path.as_deref().unwrap_or("")) {
        Ok(f) => f,
        Err(r) => return r,
    };
    match decode(&app, move |app| inputs::read(&app.root, &file)).await {
        Ok(found) => json(&found),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct FindQuery {
    path: Option<String>,
    /// The region of the screen at `t` that is the needle, when no PNG is sent.
    t: Option<f64>,
    x: Option<u32>,
    y: Option<u32>,
    w: Option<u32>,
    h: Option<u32>,
    threshold: Option<f64>,
}

/// Every span where a needle is on screen: the needle is the PNG in the
/// body, or the region `x,y,w,h` of the screen at `t`. One at a time.
async fn api_find(
    State(app): State<Shared>,
    Query(q): Query<FindQuery>,
    body: axum::body::Bytes,
) -> Response {
    let name = q.path.clone().unwrap_or_default();
    let file = match app.resolve(&name) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let source = if !body.is_empty() {
        needle::Source::Png(body.to_vec())
    } else {
        match (q.t, q.x, q.y, q.w, q.h) {
            (Some(t), Some(x), Some(y), Some(w), Some(h)) if t.is_finite() && t >= 0.0 => {
                needle::Source::Region {
                    t: crate::time::Time::from_secs_f64(t),
                    x,
                    y,
                    w,
                    h,
                }
            }
            _ => {
                return text(
                    StatusCode::BAD_REQUEST,
                    "send a PNG needle, or t, x, y, w and h for a region of the screen at t",
                )
            }
        }
    };
    if q.threshold.is_some_and(|v| !(0.0..=255.0).contains(&v)) {
        return text(StatusCode::BAD_REQUEST, "threshold must be from 0 to 255");
    }
    let app2 = app.clone();
    let result = tokio::task::spawn_blocking(move || {
        let _running = app2.finds.begin()?;
        Some(needle::run(&file, &name, source, q.threshold))
    })
    .await;
    match result {
        Ok(Some(Ok(report))) => json(&report),
        Ok(Some(Err(e))) => text(StatusCode::UNPROCESSABLE_ENTITY, &crate::error_chain(&e)),
        Ok(None) => {
            let mut r = text(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy: another find is running; try again when it ends",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
            r
        }
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// The last screen, at most 192 pixels wide.
async fn api_thumb(State(app): State<Shared>, Query(q): Query<PathQuery>) -> Response {
    let file = match app.resolve(q.path.as_deref().unwrap_or("")) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let result = decode(&app, move |_| thumbnail(&file, 192)).await;
    match result {
        Ok(Ok(png)) => png_response(&Arc::new(png), None),
        Ok(Err(e)) => text(StatusCode::NOT_FOUND, &e),
        Err(r) => r,
    }
}

fn thumbnail(file: &Path, max_w: u32) -> Result<Vec<u8>, String> {
    use crate::sampler::{sample, Moment, Shot};
    let mut player = crate::player::Player::open(file, Default::default())
        .map_err(|e| crate::error_chain(&e))?;
    let (shot, _) = sample(&mut player, Moment::End, &crate::progress::NoProgress);
    let Shot::Screen(fb) = shot else {
        return Err("no screen".into());
    };
    let (w, h) = (fb.width().max(1), fb.height().max(1));
    let scale = (w.div_ceil(max_w)).max(1);
    let (tw, th) = (w.div_ceil(scale), h.div_ceil(scale));
    let rgb = fb.to_rgb();
    let mut out = Vec::with_capacity((tw * th * 3) as usize);
    for y in 0..th {
        for x in 0..tw {
            let i = (((y * scale).min(h - 1) * w + (x * scale).min(w - 1)) * 3) as usize;
            out.extend_from_slice(rgb.get(i..i + 3).unwrap_or(&[0, 0, 0]));
        }
    }
    crate::export::png::png_bytes(&out, tw, th).map_err(|e| crate::error_chain(&e))
}
