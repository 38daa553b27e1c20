//! `rfbplay find`: every time span where a needle image is on the screen of
//! a recording. The needle is a PNG, or an openQA needle (JSON beside its
//! PNG): its `match` areas must all match at their recorded offsets from
//! each other, anywhere on the screen, and its `exclude` areas are left out
//! of the comparison.
//!
//! Scores are [`search`](crate::search)'s: the mean absolute
//! difference per colour channel (0 identical, 255 opposite), so a needle
//! that differs from the screen only in colour does not match grey-equal
//! content. The same searcher finds the needle; this file only decides
//! where to look. It looks only where an update really changed pixels (the
//! damage the player measures): while the needle is on screen and no change
//! touches it, it is still there; an update whose changes touch no position
//! where the needle fits is skipped without a search. When the searches
//! are most of the work, they move to a thread of their own beside the
//! decoding one ([`Searching::Judged`]), with the same outcome.

use crate::compare::areas::{parse_mask_file, AreaError, Rect};
use crate::compare::png::{load_png, LoadError};
use crate::framebuffer::{Framebuffer, Screen};
use crate::player::{Player, Summary, Watcher};
use crate::progress::Progress;
use crate::rfb::Event;
use crate::search::{Area, Budget, Match, Searcher, Template};
use crate::time::Time;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod beside;
use beside::run_searching;
pub use beside::Searching;

/// The default threshold: near-exact content. Lossless encodings give 0;
/// a score of 2 allows a few channel values of lossy (JPEG) noise but
/// nothing a person would call a different picture.
pub const DEFAULT_THRESHOLD: f64 = 2.0;

/// While nothing matches, `find` also keeps the closest position, but
/// only among those scoring at most this much above the threshold: a near
/// miss (lossy noise past the threshold, other anti-aliasing, a few
/// changed pixels) shows how close it came, while a needle that is simply
/// absent would make a search for its closest position compare nearly
/// every place on every changed screen (over 11 minutes for the hour-long
/// benchmark recording) to report a score nobody needs. Each level of
/// margin costs: 3.2-3.6 s for that recording with none, 4.1 s with 5,
/// 5.0-5.7 s with 10.
pub const CLOSEST_MARGIN: f64 = 5.0;

/// The highest score kept as a near miss at `threshold`.
pub fn closest_within(threshold: f64) -> f64 {
    threshold + CLOSEST_MARGIN
}

/// Why a needle could not be read.
#[derive(Debug, thiserror::Error)]
pub enum NeedleError {
    #[error("cannot read {}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not an openQA needle", .path.display())]
    Json {
        path: PathBuf,
        #[source]
        source: AreaError,
    },
    #[error("{}: match level {level} is not between 0 and 100", .path.display())]
    Level { path: PathBuf, level: f64 },
    #[error("{}: no match area lies inside its {width}x{height} image", .path.display())]
    NoMatchArea {
        path: PathBuf,
        width: u32,
        height: u32,
    },
    #[error(transparent)]
    Png(#[from] LoadError),
}

/// A needle ready to search: its match areas, relative to their bounding
/// box, and the one area the searcher looks for first (the anchor).
#[derive(Debug)]
pub struct Needle {
    /// Width and height of the bounding box of the match areas.
    pub width: u32,
    pub height: u32,
    /// The openQA match levels turned into a threshold, when the file has
    /// any: the loosest of its areas' (see [`Needle::area_thresholds`]).
    pub threshold: Option<f64>,
    /// Where the match areas were in the needle's PNG (its top-left corner).
    pub origin: (u32, u32),
    /// The match areas, each scored on its own (as openQA does).
    areas: Vec<MatchArea>,
    /// Channels compared in all areas (3 per pixel).
    channels: u64,
    anchor: Arc<Template>,
    /// The anchor's offset inside the bounding box.
    anchor_at: (u32, u32),
    /// The anchor is the whole needle: its score is the needle's.
    anchor_is_all: bool,
}

/// One match area of a needle: its compared pixels, and the threshold its
/// own openQA match level sets.
#[derive(Debug)]
struct MatchArea {
    /// Row runs (x0, x1, y) relative to the needle's bounding box, with
    /// their B, G, R, X bytes: the area's pixels outside exclude areas.
    runs: Vec<(u32, u32, u32, Vec<u8>)>,
    /// Channels compared (3 per pixel).
    channels: u64,
    /// From the area's `"match"` (or the file's); None: the search's.
    threshold: Option<f64>,
}

/// openQA's similarity is a percentage; 100 is exact. Here it maps
/// linearly onto the score: 96 (openQA's default) allows 10.2.
fn level_threshold(level: f64) -> f64 {
    (100.0 - level) * 2.55
}

fn bgrx_of(img: &crate::compare::view::OwnedImage, r: Rect) -> Vec<u8> {
    let v = img.view();
    let mut out = Vec::with_capacity(r.area() as usize * 4);
    for y in r.y..r.y + r.h {
        for x in r.x..r.x + r.w {
            let [red, g, b, _] = v.rgba(x, y);
            out.extend_from_slice(&[b, g, red, 0]);
        }
    }
    out
}

/// The largest rectangle inside `r` that no exclude area overlaps.
fn largest_clear(r: Rect, excludes: &[Rect]) -> Option<Rect> {
    let mut parts = vec![r];
    for e in excludes {
        let mut next = Vec::new();
        for p in parts {
            if !p.overlaps(e) || e.area() == 0 {
                next.push(p);
                continue;
            }
            let (px1, py1) = (p.right() as u32, p.bottom() as u32);
            let (ex1, ey1) = (e.right() as u32, e.bottom() as u32);
            if e.x > p.x {
                next.push(Rect::new(p.x, p.y, e.x - p.x, p.h));
            }
            if ex1 < px1 {
                next.push(Rect::new(ex1, p.y, px1 - ex1, p.h));
            }
            if e.y > p.y {
                next.push(Rect::new(p.x, p.y, p.w, e.y - p.y));
            }
            if ey1 < py1 {
                next.push(Rect::new(p.x, ey1, p.w, py1 - ey1));
            }
        }
        // Keep the few largest: the split can grow fast with many excludes.
        next.sort_by_key(|p| std::cmp::Reverse(p.area()));
        next.truncate(64);
        parts = next;
    }
    parts.into_iter().max_by_key(|p| p.area())
}

impl Needle {
    /// Reads a PNG, or an openQA needle JSON with its PNG beside it.
    pub fn load(path: &Path) -> Result<Needle, NeedleError> {
        let is_json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        if !is_json {
            let img = load_png(path)?;
            let all = Rect::new(0, 0, img.width, img.height);
            return Needle::build(path, &img, &[(all, None)], &[]);
        }
        let text = std::fs::read_to_string(path).map_err(|source| NeedleError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let areas = parse_mask_file(&text).map_err(|source| NeedleError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        let json_err = |source| NeedleError::Json {
            path: path.to_path_buf(),
            source,
        };
        if areas.select.is_empty() && !areas.masks.is_empty() {
            // A plain list of rectangles is a mask file, not a needle.
            return Err(json_err(AreaError::Shape));
        }
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| json_err(AreaError::Json(e)))?;
        let level_of = |v: Option<&serde_json::Value>| match v {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v) => match v.as_f64() {
                Some(l) if (0.0..=100.0).contains(&l) => Ok(Some(l)),
                _ => Err(NeedleError::Level {
                    path: path.to_path_buf(),
                    level: v.as_f64().unwrap_or(f64::NAN),
                }),
            },
        };
        // openQA gives each area its own level; a level beside the areas
        // serves those without one.
        let file_level = level_of(value.get("match"))?;
        let mut levels = Vec::new();
        for a in value["area"].as_array().into_iter().flatten() {
            let kind = a.get("type").and_then(|t| t.as_str()).unwrap_or("match");
            if kind == "match" {
                levels.push(level_of(a.get("match"))?.or(file_level));
            }
        }
        let img = load_png(&path.with_extension("png"))?;
        let selected: Vec<(Rect, Option<f64>)> = areas
            .select
            .iter()
            .zip(levels.into_iter().chain(std::iter::repeat(file_level)))
            .map(|(&r, l)| (r, l.map(level_threshold)))
            .collect();
        Needle::build(path, &img, &selected, &areas.masks)
    }

    /// A needle that is a whole image already in memory (a PNG uploaded
    /// to `rfbplay serve`, or a region of a frame); `name` names it in
    /// errors.
    pub fn from_image(
        name: &Path,
        img: &crate::compare::view::OwnedImage,
    ) -> Result<Needle, NeedleError> {
        let all = Rect::new(0, 0, img.width, img.height);
        Needle::build(name, img, &[(all, None)], &[])
    }

    fn build(
        path: &Path,
        img: &crate::compare::view::OwnedImage,
        select: &[(Rect, Option<f64>)],
        excludes: &[Rect],
    ) -> Result<Needle, NeedleError> {
        let selected: Vec<(Rect, Option<f64>)> = select
            .iter()
            .map(|&(r, t)| (r.clip(img.width, img.height), t))
            .filter(|(r, _)| r.area() > 0)
            .collect();
        let matches: Vec<Rect> = selected.iter().map(|a| a.0).collect();
        let no_area = || NeedleError::NoMatchArea {
            path: path.to_path_buf(),
            width: img.width,
            height: img.height,
        };
        let bbox = matches
            .iter()
            .copied()
            .reduce(|a, b| a.union(&b))
            .ok_or_else(no_area)?;
        // Compared pixels: each match area's, outside every exclude area.
        let areas: Vec<MatchArea> = selected
            .iter()
            .map(|&(m, threshold)| {
                let mut runs = Vec::new();
                let mut channels = 0u64;
                for y in m.y..m.y + m.h {
                    let mut x = m.x;
                    while x < m.x + m.w {
                        let clear = |x: u32| {
                            let p = Rect::new(x, y, 1, 1);
                            !excludes.iter().any(|e| e.overlaps(&p))
                        };
                        if !clear(x) {
                            x += 1;
                            continue;
                        }
                        let x0 = x;
                        while x < m.x + m.w && clear(x) {
                            x += 1;
                        }
                        let px = bgrx_of(img, Rect::new(x0, y, x - x0, 1));
                        channels += u64::from(x - x0) * 3;
                        runs.push((x0 - bbox.x, x - bbox.x, y - bbox.y, px));
                    }
                }
                MatchArea {
                    runs,
                    channels,
                    threshold,
                }
            })
            .collect();
        let channels = areas.iter().map(|a| a.channels).sum();
        let levelled = areas.iter().any(|a| a.threshold.is_some());
        let threshold = levelled.then(|| {
            areas
                .iter()
                .map(|a| a.threshold.unwrap_or(DEFAULT_THRESHOLD))
                .fold(0.0, f64::max)
        });
        let biggest = matches.iter().copied().max_by_key(|r| r.area());
        let anchor = biggest
            .and_then(|b| largest_clear(b, excludes))
            .filter(|a| a.area() > 0)
            .ok_or_else(no_area)?;
        let template = Template {
            width: anchor.w,
            height: anchor.h,
            bgrx: bgrx_of(img, anchor),
            source: path.display().to_string(),
            path: Some(path.to_path_buf()),
        };
        Ok(Needle {
            width: bbox.w,
            height: bbox.h,
            threshold,
            origin: (bbox.x, bbox.y),
            anchor_is_all: anchor == bbox && matches.len() == 1,
            areas,
            channels,
            anchor: Arc::new(template),
            anchor_at: (anchor.x - bbox.x, anchor.y - bbox.y),
        })
    }

    /// Holds every match area to `threshold` instead of its own level
    /// (`--threshold` given).
    pub fn set_threshold(&mut self, threshold: f64) {
        for a in &mut self.areas {
            a.threshold = Some(threshold);
        }
        self.threshold = Some(threshold);
    }

    /// Each match area's threshold: its own level's, else `search`'s (the
    /// threshold the search runs at), else find's default when other areas
    /// have levels.
    pub fn area_thresholds(&self, search: f64) -> Vec<f64> {
        let levelled = self.areas.iter().any(|a| a.threshold.is_some());
        let fallback = if levelled { DEFAULT_THRESHOLD } else { search };
        self.areas
            .iter()
            .map(|a| a.threshold.unwrap_or(fallback))
            .collect()
    }

    /// The needle's score with its bounding box at (x, y) (which must fit):
    /// the worst of its match areas' mean channel differences, each
    /// scaled so that it passes `search` exactly when the area passes its
    /// own threshold (`limits`, from [`Needle::area_thresholds`]).
    fn score_at(&self, fb: &Framebuffer, x: u32, y: u32, search: f64, limits: &[f64]) -> f64 {
        let mut worst = 0.0f64;
        for (area, &limit) in self.areas.iter().zip(limits) {
            let mut sad = 0u64;
            for (x0, x1, ry, px) in &area.runs {
                let row = fb.row(x + x0, y + ry, x1 - x0);
                for (p, q) in row.chunks_exact(4).zip(px.chunks_exact(4)) {
                    sad += u64::from(p[0].abs_diff(q[0]))
                        + u64::from(p[1].abs_diff(q[1]))
                        + u64::from(p[2].abs_diff(q[2]));
                }
            }
            let score = sad as f64 / area.channels.max(1) as f64;
            let scaled = if score == 0.0 || limit == search {
                score
            } else if limit == 0.0 {
                f64::INFINITY
            } else {
                score * search / limit
            };
            worst = worst.max(scaled);
        }
        worst
    }
}

/// How to search.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Highest score that counts as found.
    pub threshold: f64,
    /// Only where the whole needle lies inside this rectangle.
    pub region: Option<Rect>,
    /// Stop at the first match.
    pub first: bool,
}

/// One time span where the needle was on screen.
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    /// The time of the update that showed it.
    pub start: Time,
    /// The time of the update that removed it, or the recording's end
    /// (`open`), or None when the search stopped at the first match.
    pub end: Option<Time>,
    /// Still on screen when the recording (or its readable part) ended.
    pub open: bool,
    /// Top-left corner of the needle (of its match areas' bounding box).
    pub x: u32,
    pub y: u32,
    /// Score when it appeared.
    pub score: f64,
}

/// The closest the screen came to the needle.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Best {
    pub score: f64,
    pub x: u32,
    pub y: u32,
    pub time: Time,
}

/// The result of [`find`].
#[derive(Debug)]
pub struct Outcome {
    pub spans: Vec<Span>,
    /// The lowest score seen (the best match when found); while nothing
    /// matched, only scores up to [`Outcome::closest_within`] are kept.
    pub best: Option<Best>,
    /// [`closest_within`] the threshold.
    pub closest_within: f64,
    /// Whether the needle fit on the screen (and region) at any update.
    pub fitted: bool,
    pub summary: Summary,
    /// Updates whose changes could not host the needle, skipped unsearched.
    pub skipped: u64,
    pub updates: u64,
}

/// `rfbplay find --json`'s document, schema 1 (the README documents it);
/// `rfbplay serve`'s find answers the same. Field order and names are the
/// schema.
#[derive(Debug, serde::Serialize)]
pub struct Report {
    pub schema: u32,
    pub file: String,
    pub needle: String,
    pub found: bool,
    pub threshold: f64,
    pub spans: Vec<SpanReport>,
    pub best: Option<BestReport>,
    /// While nothing matches, `best` is kept only up to this score.
    pub closest_within: f64,
    pub error: Option<String>,
}

#[derive(Debug, serde::Serialize)]
pub struct SpanReport {
    pub start_s: f64,
    pub end_s: Option<f64>,
    pub open: bool,
    pub x: u32,
    pub y: u32,
    pub score: f64,
}

#[derive(Debug, serde::Serialize)]
pub struct BestReport {
    pub score: f64,
    pub x: u32,
    pub y: u32,
    pub time_s: f64,
}

impl Report {
    /// The report of a search of `file` for `needle` (as the user named
    /// them) at `threshold`: its outcome when it ran, and the error that
    /// stopped it or kept it from running.
    pub fn new(
        file: String,
        needle: String,
        threshold: f64,
        outcome: Option<&Outcome>,
        error: Option<String>,
    ) -> Report {
        // Scores to the thousandth: what a reader compares.
        let round = |v: f64| (v * 1000.0).round() / 1000.0;
        let spans: Vec<SpanReport> = outcome
            .iter()
            .flat_map(|o| &o.spans)
            .map(|s| SpanReport {
                start_s: s.start.as_secs_f64(),
                end_s: s.end.map(|t| t.as_secs_f64()),
                open: s.open,
                x: s.x,
                y: s.y,
                score: round(s.score),
            })
            .collect();
        Report {
            schema: 1,
            file,
            needle,
            found: !spans.is_empty(),
            threshold,
            spans,
            best: outcome.and_then(|o| o.best).map(|b| BestReport {
                score: round(b.score),
                x: b.x,
                y: b.y,
                time_s: b.time.as_secs_f64(),
            }),
            closest_within: closest_within(threshold),
            error,
        }
    }
}

struct Finder<'a> {
    needle: &'a Needle,
    searcher: Searcher,
    opts: Options,
    /// Threshold on the anchor's score implied by the needle's threshold.
    anchor_limit: f64,
    /// Each match area's threshold ([`Needle::area_thresholds`]).
    area_limits: Vec<f64>,
    /// The same for [`Outcome::closest_within`].
    anchor_near: f64,
    fitted: bool,
    current: Option<Span>,
    spans: Vec<Span>,
    best: Option<Best>,
    skipped: u64,
    updates: u64,
}

impl Finder<'_> {
    /// Needle positions (bounding box top-left) inside the screen and region.
    fn positions(&self, fb: &Framebuffer) -> Option<Area> {
        let (w, h) = (fb.width(), fb.height());
        let r = self.opts.region.unwrap_or(Rect::new(0, 0, w, h)).clip(w, h);
        let (nw, nh) = (self.needle.width, self.needle.height);
        (nw <= r.w && nh <= r.h).then(|| Area {
            x0: r.x,
            y0: r.y,
            x1: r.x + r.w - nw + 1,
            y1: r.y + r.h - nh + 1,
        })
    }

    /// The positions whose needle box overlaps `b`, within `all`.
    fn touching(&self, all: Area, b: Rect) -> Option<Area> {
        let a = Area {
            x0: b.x.saturating_sub(self.needle.width - 1).max(all.x0),
            y0: b.y.saturating_sub(self.needle.height - 1).max(all.y0),
            x1: (b.right() as u32).min(all.x1),
            y1: (b.bottom() as u32).min(all.y1),
        };
        (a.x0 < a.x1 && a.y0 < a.y1).then_some(a)
    }

    /// Searches the needle positions in `area`; the best match, with its
    /// score (which may be above the threshold, as the closest seen).
    fn search(&mut self, fb: &Framebuffer, area: Area, time: Time) -> Option<(u32, u32, f64)> {
        let (ax, ay) = self.needle.anchor_at;
        let shifted = Area {
            x0: area.x0 + ax,
            y0: area.y0 + ay,
            x1: area.x1 + ax,
            y1: area.y1 + ay,
        };
        // While nothing was found, look for the closest near miss too, so a
        // miss can say how close it came; the bounds prune against the best
        // so far.
        let limit = if self.spans.is_empty() && self.current.is_none() {
            let near = self.best.map_or(self.anchor_near, |b| {
                (b.score * self.scale()).min(self.anchor_near)
            });
            self.anchor_limit.max(near)
        } else {
            self.anchor_limit
        };
        let mut never = || false;
        let found = self
            .searcher
            .search(fb, shifted, limit, &mut Budget::unlimited(&mut never))
            .best?;
        let (x, y, score) = if self.needle.anchor_is_all {
            (found.x - ax, found.y - ay, found.score)
        } else {
            // The anchor's best place may fail the needle's other areas
            // while a place of the anchor that scores a little worse (or
            // the same, later in reading order) passes them: the anchor
            // shows twice and only one copy has the rest beside it. Try
            // the anchor's places best first, each next one found in the
            // parts of the area around the places tried.
            let mut pending = vec![(shifted, found)];
            let mut best: Option<(u32, u32, f64)> = None;
            for _ in 0..ANCHOR_TRIES {
                let place = |m: &Match| (m.x, m.y, m.score);
                let Some(i) = (0..pending.len())
                    .min_by(|&i, &j| rank(place(&pending[i].1), place(&pending[j].1)))
                else {
                    break;
                };
                let (area, m) = pending.swap_remove(i);
                let (x, y) = (m.x - ax, m.y - ay);
                let score = self.score_at(fb, x, y);
                if best.is_none_or(|b| rank((x, y, score), b).is_lt()) {
                    best = Some((x, y, score));
                }
                if score <= self.opts.threshold || m.score > self.anchor_limit {
                    // Found; or no place of the anchor left can match.
                    break;
                }
                // Only places that can make a match: a near miss is
                // reported from the best place alone, and the tighter
                // limit keeps these searches cheap.
                let tighter = self.anchor_limit;
                for part in around(area, m.x, m.y) {
                    let mut budget = Budget::unlimited(&mut never);
                    if let Some(next) = self.searcher.search(fb, part, tighter, &mut budget).best {
                        pending.push((part, next));
                    }
                }
            }
            best?
        };
        if score <= closest_within(self.opts.threshold) && self.best.is_none_or(|b| score < b.score)
        {
            self.best = Some(Best { score, x, y, time });
        }
        Some((x, y, score))
    }

    fn score_at(&self, fb: &Framebuffer, x: u32, y: u32) -> f64 {
        let t = self.opts.threshold;
        self.needle.score_at(fb, x, y, t, &self.area_limits)
    }

    /// How much larger the anchor's score can be than the needle's.
    fn scale(&self) -> f64 {
        let anchor = f64::from(self.needle.anchor.width) * f64::from(self.needle.anchor.height);
        (self.needle.channels as f64 / 3.0 / anchor.max(1.0)).max(1.0)
    }

    /// After an update at `time` that changed `boxes` of `fb` (all of it
    /// when it was resized).
    fn update(&mut self, fb: &Framebuffer, boxes: &[Rect], time: Time) -> ControlFlow<()> {
        self.updates += 1;
        let Some(all) = self.positions(fb) else {
            self.end_current(time);
            self.skipped += 1;
            return ControlFlow::Continue(());
        };
        self.fitted = true;
        if let Some(cur) = &self.current {
            let at = Rect::new(cur.x, cur.y, self.needle.width, self.needle.height);
            let hit = boxes.iter().any(|b| b.overlaps(&at));
            if !hit {
                self.skipped += 1;
                return ControlFlow::Continue(());
            }
            let fits = u64::from(cur.x) < u64::from(all.x1) && u64::from(cur.y) < u64::from(all.y1);
            if fits && self.score_at(fb, cur.x, cur.y) <= self.opts.threshold {
                return ControlFlow::Continue(());
            }
            self.end_current(time);
            // The needle may still be on screen where no change touched
            // it: a search keeps only its best position, so a second copy
            // shown beside the one that just went was never followed.
            // Every position is searched once, when a span ends.
            return self.look(fb, &[all], time);
        }
        // The positions a change could have made a match at, merged when
        // they overlap (a repaint sends many neighbouring boxes).
        let mut areas: Vec<Area> = Vec::new();
        for b in boxes {
            if let Some(mut a) = self.touching(all, *b) {
                while let Some(i) = areas.iter().position(|o| overlap(o, &a)) {
                    a = a.union(areas.swap_remove(i));
                }
                areas.push(a);
            }
        }
        if areas.is_empty() {
            self.skipped += 1;
            return ControlFlow::Continue(());
        }
        self.look(fb, &areas, time)
    }

    /// Searches `areas` of the screen after the update at `time`, and
    /// starts a span at the best match within the threshold.
    fn look(&mut self, fb: &Framebuffer, areas: &[Area], time: Time) -> ControlFlow<()> {
        let mut best: Option<(u32, u32, f64)> = None;
        for &a in areas {
            if let Some(m) = self.search(fb, a, time) {
                if best.is_none_or(|b| rank(m, b).is_lt()) {
                    best = Some(m);
                }
            }
        }
        if let Some((x, y, score)) = best.filter(|b| b.2 <= self.opts.threshold) {
            self.current = Some(Span {
                start: time,
                end: None,
                open: false,
                x,
                y,
                score,
            });
            if self.opts.first {
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }

    fn end_current(&mut self, time: Time) {
        if let Some(mut s) = self.current.take() {
            s.end = Some(time);
            self.spans.push(s);
        }
    }
}

/// Orders places (x, y, score): the lower score first, then the earlier
/// in reading order, so ties go to the top-left one.
fn rank(a: (u32, u32, f64), b: (u32, u32, f64)) -> std::cmp::Ordering {
    a.2.total_cmp(&b.2).then((a.1, a.0).cmp(&(b.1, b.0)))
}

/// Places of a needle's anchor tried per search, best first, when the
/// best ones fail the needle's other areas.
const ANCHOR_TRIES: usize = 8;

/// `area` without the position (x, y): the rows above it, the row's parts
/// left and right of it, and the rows below.
fn around(area: Area, x: u32, y: u32) -> impl Iterator<Item = Area> {
    let Area { x0, y0, x1, y1 } = area;
    [
        Area { x0, y0, x1, y1: y },
        Area {
            x0,
            y0: y,
            x1: x,
            y1: y + 1,
        },
        Area {
            x0: x + 1,
            y0: y,
            x1,
            y1: y + 1,
        },
        Area {
            x0,
            y0: y + 1,
            x1,
            y1,
        },
    ]
    .into_iter()
    .filter(|a| a.x0 < a.x1 && a.y0 < a.y1)
}

fn overlap(a: &Area, b: &Area) -> bool {
    a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1
}

/// The boxes an update changed on `screen` (all of it when resized).
fn changed_boxes(screen: &Screen) -> Vec<Rect> {
    let (fb, damage) = (screen.shown(), screen.damage());
    if damage.resized {
        vec![Rect::new(0, 0, fb.width(), fb.height())]
    } else {
        damage.boxes.iter().map(|b| Rect::from(*b)).collect()
    }
}

impl Watcher for Finder<'_> {
    fn event(&mut self, event: &Event, screen: &Screen) -> ControlFlow<()> {
        match event {
            Event::Update { time, .. } => {
                self.update(screen.shown(), &changed_boxes(screen), *time)
            }
            _ => ControlFlow::Continue(()),
        }
    }
}

/// Plays `player` (opened with `measure_damage`, without drawing the
/// cursor; `keep_shown` is not needed) and finds every span where `needle` is on screen; the search
/// moves to a thread of its own when it costs much (see
/// [`Searching::Judged`]).
pub fn find(
    player: &mut Player,
    needle: &Needle,
    opts: Options,
    progress: &dyn Progress,
) -> Outcome {
    find_with(player, needle, opts, progress, Searching::Judged)
}

/// [`find`], searching where `how` says; the outcome is the same
/// whichever.
pub fn find_with(
    player: &mut Player,
    needle: &Needle,
    opts: Options,
    progress: &dyn Progress,
    how: Searching,
) -> Outcome {
    let mut f = Finder {
        needle,
        searcher: Searcher::new(needle.anchor.clone()),
        opts,
        anchor_limit: 0.0,
        area_limits: needle.area_thresholds(opts.threshold),
        anchor_near: 0.0,
        fitted: false,
        current: None,
        spans: Vec::new(),
        best: None,
        skipped: 0,
        updates: 0,
    };
    let scale = if needle.anchor_is_all { 1.0 } else { f.scale() };
    f.anchor_limit = opts.threshold * scale;
    f.anchor_near = closest_within(opts.threshold) * scale;
    // `--first` stops decoding at the first match: in turn, so decoding
    // never runs ahead of it. An exact or near-exact needle is ruled out
    // by a few pixels per position: once first seen, its searches cost
    // little next to decoding.
    let cheap = how == Searching::Judged && f.searcher.probes_rule_out(f.anchor_limit);
    let how = if opts.first || cheap {
        Searching::InTurn
    } else {
        how
    };
    let summary = run_searching(&mut f, player, progress, how);
    if let Some(mut s) = f.current.take() {
        if !opts.first {
            s.end = summary.last_update;
            s.open = true;
        }
        f.spans.push(s);
    }
    Outcome {
        spans: f.spans,
        best: f.best,
        closest_within: closest_within(opts.threshold),
        fitted: f.fitted,
        summary,
        skipped: f.skipped,
        updates: f.updates,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn largest_clear_avoids_excludes() {
        let r = Rect::new(0, 0, 100, 50);
        assert_eq!(largest_clear(r, &[]), Some(r));
        // A hole near the left edge: the part right of it is largest.
        let got = largest_clear(r, &[Rect::new(10, 10, 5, 5)]).unwrap();
        assert_eq!(got, Rect::new(15, 0, 85, 50));
        assert_eq!(largest_clear(r, &[r]), None);
    }
}
