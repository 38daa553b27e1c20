//! Where a comparison looks: rectangles, the masks that hide parts of the
//! screen (clocks, cursors, counters), the areas an openQA needle selects,
//! and the dirty rectangles a caller knows to be the only changed places.
//!
//! The scan asks one question per row: which runs of columns are looked
//! at, and which masks cover which columns. `RowAreas` answers it from
//! the rectangles, so the cost is per row and per rectangle, never per
//! pixel.

use serde::Deserialize;

/// A rectangle in pixels; `w` or `h` 0 is empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

impl Rect {
    pub const fn new(x: u32, y: u32, w: u32, h: u32) -> Rect {
        Rect { x, y, w, h }
    }

    pub fn right(&self) -> u64 {
        u64::from(self.x) + u64::from(self.w)
    }

    pub fn bottom(&self) -> u64 {
        u64::from(self.y) + u64::from(self.h)
    }

    pub fn area(&self) -> u64 {
        u64::from(self.w) * u64::from(self.h)
    }

    pub fn contains_row(&self, y: u32) -> bool {
        y >= self.y && u64::from(y) < self.bottom()
    }

    /// The part inside a width x height image.
    pub fn clip(&self, width: u32, height: u32) -> Rect {
        let x0 = self.x.min(width);
        let y0 = self.y.min(height);
        let x1 = self.right().min(u64::from(width)) as u32;
        let y1 = self.bottom().min(u64::from(height)) as u32;
        Rect::new(x0, y0, x1 - x0, y1 - y0)
    }

    /// The smallest rectangle holding both.
    pub fn union(&self, o: &Rect) -> Rect {
        let x0 = self.x.min(o.x);
        let y0 = self.y.min(o.y);
        let x1 = self.right().max(o.right()) as u32;
        let y1 = self.bottom().max(o.bottom()) as u32;
        Rect::new(x0, y0, x1 - x0, y1 - y0)
    }

    pub fn overlaps(&self, o: &Rect) -> bool {
        u64::from(self.x) < o.right()
            && u64::from(o.x) < self.right()
            && u64::from(self.y) < o.bottom()
            && u64::from(o.y) < self.bottom()
    }
}

impl From<crate::rfb::Rect> for Rect {
    fn from(r: crate::rfb::Rect) -> Rect {
        Rect::new(r.x.into(), r.y.into(), r.w.into(), r.h.into())
    }
}

/// Why a rectangle or a mask file was refused.
#[derive(Debug, thiserror::Error)]
pub enum AreaError {
    #[error("expected x,y,w,h (four whole numbers), got {0:?}")]
    BadRect(String),
    #[error("not JSON")]
    Json(#[source] serde_json::Error),
    #[error("a rectangle is malformed")]
    Fields(#[source] serde_json::Error),
    #[error(
        "neither a list of {{x, y, width, height}} rectangles nor an openQA needle with \"area\""
    )]
    Shape,
    #[error("area {index} has unknown type {kind:?} (expected match, exclude or ocr)")]
    UnknownType { index: usize, kind: String },
    #[error("{count} rectangles, more than the limit of {max}")]
    TooMany { count: usize, max: usize },
}

/// More rectangles than any real mask file holds; per-row work is linear in
/// the count, so a hostile file could otherwise make the scan quadratic.
pub const MAX_RECTS: usize = 4096;

impl std::str::FromStr for Rect {
    type Err = AreaError;
    /// `x,y,w,h`.
    fn from_str(s: &str) -> Result<Rect, AreaError> {
        let bad = || AreaError::BadRect(s.to_string());
        let n: Vec<u32> = s
            .split(',')
            .map(|p| p.trim().parse::<u32>().map_err(|_| bad()))
            .collect::<Result<_, _>>()?;
        match n[..] {
            [x, y, w, h] => Ok(Rect::new(x, y, w, h)),
            _ => Err(bad()),
        }
    }
}

/// What a mask file says: areas to ignore, and (openQA `match` areas)
/// areas to look at, the rest being ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MaskFile {
    pub masks: Vec<Rect>,
    pub select: Vec<Rect>,
}

#[derive(Deserialize)]
struct PlainRect {
    x: u32,
    y: u32,
    width: u32,
    height: u32,
}

#[derive(Deserialize)]
struct Needle {
    area: Vec<NeedleArea>,
}

#[derive(Deserialize)]
struct NeedleArea {
    xpos: u32,
    ypos: u32,
    width: u32,
    height: u32,
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

/// Reads a mask file's text: a JSON list of `{"x","y","width","height"}`
/// (all masks), or an openQA needle `{"area": [{"xpos","ypos","width",
/// "height","type"}]}` where `exclude` areas are masks, `match` areas (the
/// default type) are selected, and `ocr` areas are neither.
pub fn parse_mask_file(text: &str) -> Result<MaskFile, AreaError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(AreaError::Json)?;
    let mut out = MaskFile::default();
    if value.is_array() {
        let list: Vec<PlainRect> = serde_json::from_value(value).map_err(AreaError::Fields)?;
        check_count(list.len())?;
        out.masks = list
            .into_iter()
            .map(|r| Rect::new(r.x, r.y, r.width, r.height))
            .collect();
    } else if value.get("area").is_some() {
        let needle: Needle = serde_json::from_value(value).map_err(AreaError::Fields)?;
        check_count(needle.area.len())?;
        for (index, a) in needle.area.into_iter().enumerate() {
            let r = Rect::new(a.xpos, a.ypos, a.width, a.height);
            match a.kind.as_deref().unwrap_or("match") {
                "match" => out.select.push(r),
                "exclude" => out.masks.push(r),
                "ocr" => {}
                other => {
                    return Err(AreaError::UnknownType {
                        index,
                        kind: other.to_string(),
                    })
                }
            }
        }
    } else {
        return Err(AreaError::Shape);
    }
    Ok(out)
}

fn check_count(count: usize) -> Result<(), AreaError> {
    if count > MAX_RECTS {
        return Err(AreaError::TooMany {
            count,
            max: MAX_RECTS,
        });
    }
    Ok(())
}

/// Sorted, disjoint column runs `[x0, x1)` of one row.
pub(crate) type Runs = Vec<(u32, u32)>;

/// The rectangles of a comparison, clipped to the image, answering per-row
/// questions.
pub(crate) struct RowAreas {
    width: u32,
    select: Vec<Rect>,
    dirty: Option<Vec<Rect>>,
    pub masks: Vec<Rect>,
}

impl RowAreas {
    pub fn new(
        width: u32,
        height: u32,
        select: &[Rect],
        dirty: Option<&[Rect]>,
        masks: &[Rect],
    ) -> RowAreas {
        let clip = |v: &[Rect]| -> Vec<Rect> { v.iter().map(|r| r.clip(width, height)).collect() };
        RowAreas {
            width,
            select: clip(select),
            dirty: dirty.map(clip),
            masks: clip(masks),
        }
    }

    pub fn has_masks(&self) -> bool {
        !self.masks.is_empty()
    }

    /// Columns of row `y` that are compared (masks aside): inside a
    /// selected area if there are any, and inside a dirty rectangle if
    /// the caller gave them.
    pub fn looked(&self, y: u32, out: &mut Runs) {
        out.clear();
        if self.select.is_empty() {
            out.push((0, self.width));
        } else {
            runs_of(&self.select, y, out);
        }
        if let Some(dirty) = &self.dirty {
            let mut d = Vec::new();
            runs_of(dirty, y, &mut d);
            intersect(out, &d);
        }
    }

    /// Columns of row `y` outside every selected area (empty when nothing
    /// is selected): ignored, and hatched in the diff image.
    pub fn unselected(&self, y: u32, out: &mut Runs) {
        out.clear();
        if self.select.is_empty() {
            return;
        }
        let mut sel = Vec::new();
        runs_of(&self.select, y, &mut sel);
        let mut x = 0;
        for &(a, b) in &sel {
            if a > x {
                out.push((x, a));
            }
            x = b;
        }
        if x < self.width {
            out.push((x, self.width));
        }
    }

    /// Column runs of row `y` covered by any mask.
    pub fn masked(&self, y: u32, out: &mut Runs) {
        out.clear();
        runs_of(&self.masks, y, out);
    }

    /// (x0, x1, mask index) for every mask crossing row `y`.
    pub fn masks_on_row(&self, y: u32, out: &mut Vec<(u32, u32, usize)>) {
        out.clear();
        for (i, m) in self.masks.iter().enumerate() {
            if m.w > 0 && m.contains_row(y) {
                out.push((m.x, m.x + m.w, i));
            }
        }
    }
}

/// The union of the rectangles' spans on row `y`, sorted and merged.
fn runs_of(rects: &[Rect], y: u32, out: &mut Runs) {
    out.clear();
    for r in rects {
        if r.w > 0 && r.contains_row(y) {
            out.push((r.x, r.x + r.w));
        }
    }
    out.sort_unstable();
    let mut merged: Runs = Vec::with_capacity(out.len());
    for &(a, b) in out.iter() {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    *out = merged;
}

/// Keeps the parts of `runs` inside `other`; both sorted and disjoint.
fn intersect(runs: &mut Runs, other: &[(u32, u32)]) {
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < runs.len() && j < other.len() {
        let a = runs[i].0.max(other[j].0);
        let b = runs[i].1.min(other[j].1);
        if a < b {
            out.push((a, b));
        }
        if runs[i].1 < other[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    *runs = out;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_merge_select_and_dirty() {
        let a = RowAreas::new(
            100,
            10,
            &[Rect::new(10, 0, 20, 5), Rect::new(25, 0, 20, 10)],
            Some(&[Rect::new(0, 0, 30, 10), Rect::new(40, 0, 100, 10)]),
            &[],
        );
        let mut r = Vec::new();
        a.looked(2, &mut r);
        assert_eq!(r, vec![(10, 30), (40, 45)]);
        a.looked(7, &mut r);
        assert_eq!(r, vec![(25, 30), (40, 45)]);
        a.unselected(7, &mut r);
        assert_eq!(r, vec![(0, 25), (45, 100)]);
    }

    #[test]
    fn mask_files_plain_and_needle() {
        let m = parse_mask_file(r#"[{"x":1,"y":2,"width":3,"height":4}]"#).unwrap();
        assert_eq!(m.masks, vec![Rect::new(1, 2, 3, 4)]);
        let n = parse_mask_file(
            r#"{"area":[{"xpos":0,"ypos":0,"width":50,"height":40,"type":"match"},
                {"xpos":5,"ypos":5,"width":10,"height":10,"type":"exclude"},
                {"xpos":9,"ypos":9,"width":1,"height":1,"type":"ocr"}],"tags":["x"]}"#,
        )
        .unwrap();
        assert_eq!(n.select, vec![Rect::new(0, 0, 50, 40)]);
        assert_eq!(n.masks, vec![Rect::new(5, 5, 10, 10)]);
        assert!(matches!(parse_mask_file("{}"), Err(AreaError::Shape)));
        assert!(matches!(parse_mask_file("[1,"), Err(AreaError::Json(_))));
        assert!(matches!(
            parse_mask_file(r#"[{"x":-1,"y":0,"width":1,"height":1}]"#),
            Err(AreaError::Fields(_))
        ));
        assert!(matches!(
            parse_mask_file(r#"{"area":[{"xpos":0,"ypos":0,"width":1,"height":1,"type":"x"}]}"#),
            Err(AreaError::UnknownType { index: 0, .. })
        ));
        assert_eq!("1, 2,3,4".parse::<Rect>().unwrap(), Rect::new(1, 2, 3, 4));
        assert!("1,2,3".parse::<Rect>().is_err());
    }
}
