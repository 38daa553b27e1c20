//! `rfbplay compare --baseline DIR --actual DIR --report DIR` as a CI job
//! runs it: a suite with an equal pair, a changed pair, a missing and an
//! extra file, an unreadable PNG, recordings checked at the moments of
//! their sidecar and at their end; the exit status for each mix, every
//! field of report.json that a consumer reads, junit.xml validated by
//! xmllint against a JUnit schema, `--update` accepting the changes so the
//! next run passes, and report folders that would touch an input refused.

mod common;

use common::TempDir;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn rfbplay(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rfbplay"))
        .args(args)
        .output()
        .expect("run rfbplay")
}

/// Runs the folder comparison; returns the exit status and stderr.
fn run_suite(golden: &Path, run: &Path, report: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "compare".as_ref(),
        "--baseline".as_ref(),
        golden.as_os_str(),
        "--actual".as_ref(),
        run.as_os_str(),
        "--report".as_ref(),
        report.as_os_str(),
    ];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    let out = rfbplay(&args);
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn report_json(report: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(report.join("report.json")).unwrap()).unwrap()
}

/// A 120x80 light screen with a dark box at each of `boxes`.
fn screen(path: &Path, boxes: &[(u32, u32, u32, u32)]) {
    common::boxes_png(path, 120, 80, boxes);
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(from, to).unwrap();
}

/// golden/ and run/ with one of each case.
fn suite(root: &Path) -> (PathBuf, PathBuf) {
    let (g, r) = (root.join("golden"), root.join("run"));
    let td = common::testdata();
    // Equal, changed (a 5x4 box moved), missing, extra.
    screen(&g.join("login.png"), &[(10, 10, 30, 8)]);
    screen(&r.join("login.png"), &[(10, 10, 30, 8)]);
    screen(&g.join("menu/open.png"), &[(10, 20, 5, 4)]);
    screen(&r.join("menu/open.png"), &[(60, 40, 5, 4)]);
    screen(&g.join("menu/gone.png"), &[]);
    screen(&r.join("menu/new.png"), &[(1, 1, 2, 2)]);
    // Unreadable: a PNG cut short in the actual run.
    screen(&g.join("cut.png"), &[]);
    let bytes = std::fs::read(g.join("cut.png")).unwrap();
    std::fs::write(r.join("cut.png"), &bytes[..bytes.len() / 2]).unwrap();
    // A recording checked at three moments, equal in both runs.
    copy(&td.join("minimega_qemu_ipxe.fb"), &g.join("vm/boot.fb"));
    copy(&td.join("minimega_qemu_ipxe.fb"), &r.join("vm/boot.fb"));
    std::fs::write(
        g.join("vm/boot.fb.times"),
        "# the iPXE banner, then the end\n1\nupdate:3\nend\n",
    )
    .unwrap();
    // A recording without a sidecar whose end differs.
    copy(&td.join("tight_fill.fb"), &g.join("vm/desk.fb"));
    copy(&td.join("tight_palette.fb"), &r.join("vm/desk.fb"));
    // Not part of the suite.
    std::fs::write(g.join("README.txt"), "golden screens").unwrap();
    (g, r)
}

fn check<'a>(v: &'a Value, id: &str) -> &'a Value {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {v}"))
}

/// Validates junit.xml with xmllint against tests/data/junit.xsd, and
/// makes sure the schema does reject a broken document.
fn validate_junit(report: &Path) {
    let Some(xmllint) = common::tool("xmllint") else {
        return;
    };
    let xsd = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/junit.xsd");
    let lint = |file: &Path| {
        Command::new(&xmllint)
            .arg("--noout")
            .arg("--schema")
            .arg(&xsd)
            .arg(file)
            .output()
            .unwrap()
    };
    let out = lint(&report.join("junit.xml"));
    assert!(
        out.status.success(),
        "junit.xml does not validate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let broken = report.with_extension("broken.xml");
    let text = std::fs::read_to_string(report.join("junit.xml")).unwrap();
    std::fs::write(
        &broken,
        text.replacen("<testcase classname", "<testcase nom", 1),
    )
    .unwrap();
    assert!(
        !lint(&broken).status.success(),
        "the schema rejects nothing"
    );
    std::fs::remove_file(&broken).unwrap();
}

const CHECK_KEYS: &[&str] = &[
    "id",
    "path",
    "kind",
    "moment",
    "status",
    "width",
    "height",
    "size_mismatch",
    "diff_pixels",
    "diff_ratio",
    "aa_pixels",
    "bbox",
    "regions",
    "masks",
    "expected_time_s",
    "actual_time_s",
    "images",
    "updated",
    "seconds",
    "error",
    "damaged",
];

#[test]
fn a_suite_with_every_case() {
    let t = TempDir::new("cmp-suite");
    let (g, r) = suite(t.path());
    let report = t.path().join("report");
    let (code, stdout, stderr) = run_suite(&g, &r, &report, &["--jobs", "2"]);
    assert_eq!(code, 2, "an unreadable PNG is an error: {stdout}{stderr}");
    let v = report_json(&report);
    assert_eq!(v["schema"], 1);
    assert_eq!(v["mode"], "folders");
    assert_eq!(v["result"], "error");
    let ids: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "cut.png",
            "login.png",
            "menu/gone.png",
            "menu/new.png",
            "menu/open.png",
            "vm/boot.fb@1",
            "vm/boot.fb@update:3",
            "vm/boot.fb@end",
            "vm/desk.fb@end",
        ],
        "path order, then the sidecar's order; README.txt and the sidecar are not checks"
    );
    for c in v["checks"].as_array().unwrap() {
        let mut keys: Vec<&str> = c.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        let mut want = CHECK_KEYS.to_vec();
        keys.sort_unstable();
        want.sort_unstable();
        assert_eq!(keys, want, "{c}");
    }
    let s = &v["summary"];
    assert_eq!(
        [
            &s["checks"],
            &s["same"],
            &s["different"],
            &s["missing"],
            &s["extra"],
            &s["errors"],
            &s["updated"]
        ],
        [9, 4, 2, 1, 1, 1, 0]
    );

    let same = check(&v, "login.png");
    assert_eq!(same["status"], "same");
    assert_eq!(same["diff_pixels"], 0);
    assert_eq!(
        same["images"],
        serde_json::json!({"expected": null, "actual": null, "diff": null}),
        "a check that passed writes no images"
    );

    let open = check(&v, "menu/open.png");
    assert_eq!(open["status"], "different");
    assert_eq!(open["kind"], "png");
    assert_eq!(open["diff_pixels"], 40);
    assert_eq!(open["bbox"], serde_json::json!([10, 20, 55, 24]));
    for side in ["expected", "actual", "diff"] {
        let rel = open["images"][side].as_str().unwrap();
        assert_eq!(rel, format!("images/menu/open.png.{side}.png"));
        let (w, h, _) = common::read_rgb(&report.join(rel));
        assert_eq!((w, h), (120, 80));
    }
    assert_eq!(
        std::fs::read(report.join("images/menu/open.png.actual.png")).unwrap(),
        std::fs::read(r.join("menu/open.png")).unwrap(),
        "a PNG side is the file's own bytes"
    );

    let gone = check(&v, "menu/gone.png");
    assert_eq!(gone["status"], "missing");
    assert!(report
        .join(gone["images"]["expected"].as_str().unwrap())
        .is_file());
    assert_eq!(gone["images"]["actual"], Value::Null);
    let new = check(&v, "menu/new.png");
    assert_eq!(new["status"], "extra");
    assert!(report
        .join(new["images"]["actual"].as_str().unwrap())
        .is_file());

    let cut = check(&v, "cut.png");
    assert_eq!(cut["status"], "error");
    assert_eq!(cut["error"]["code"], "unreadable_image");
    let msg = cut["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("cut.png") && msg.contains("not a readable PNG"),
        "{msg}"
    );
    assert!(
        report
            .join(cut["images"]["expected"].as_str().unwrap())
            .is_file(),
        "the readable side is still shown"
    );

    for (id, t) in [
        ("vm/boot.fb@1", Some(1.0)),
        ("vm/boot.fb@update:3", None),
        ("vm/boot.fb@end", None),
    ] {
        let c = check(&v, id);
        assert_eq!(
            (c["status"].as_str(), c["kind"].as_str()),
            (Some("same"), Some("recording")),
            "{c}"
        );
        assert!(c["expected_time_s"].as_f64().is_some());
        assert_eq!(c["expected_time_s"], c["actual_time_s"]);
        if let Some(t) = t {
            assert_eq!(c["expected_time_s"].as_f64(), Some(t));
        }
    }
    assert_eq!(check(&v, "vm/boot.fb@update:3")["moment"], "update:3");
    let desk = check(&v, "vm/desk.fb@end");
    assert_eq!(desk["status"], "different", "{desk}");
    let img = report.join(desk["images"]["expected"].as_str().unwrap());
    assert_eq!(
        common::read_rgb(&img).2,
        {
            // The same screen `rfbplay frame` gives for the recording's end.
            let out = rfbplay(&[
                "-q".as_ref(),
                "frame".as_ref(),
                common::testdata().join("tight_fill.fb").as_os_str(),
                "-".as_ref(),
            ]);
            image::load_from_memory(&out.stdout)
                .unwrap()
                .to_rgb8()
                .into_raw()
        },
        "a recording's side is its screen at the moment"
    );

    // The text output names every check that did not pass.
    for line in [
        "error     cut.png",
        "different menu/open.png: 40 pixels differ",
        "missing   menu/gone.png",
        "extra     menu/new.png",
        "different vm/desk.fb@end",
    ] {
        assert!(stdout.contains(line), "{line:?} not in {stdout}");
    }
    assert!(!stdout.contains("login.png"), "{stdout}");

    // junit.xml: one testcase per check, the counts, failures and errors.
    validate_junit(&report);
    let xml = std::fs::read_to_string(report.join("junit.xml")).unwrap();
    assert!(
        xml.contains(r#"<testsuite name="rfbplay compare" tests="9" failures="4" errors="1""#),
        "{xml}"
    );
    assert_eq!(xml.matches("<testcase ").count(), 9);
    assert_eq!(xml.matches("<failure ").count(), 4);
    assert!(
        xml.contains(r#"<failure type="different" message="40 of 9600 pixels differ (0.4167%)">"#),
        "{xml}"
    );
    assert!(xml.contains(r#"<failure type="missing""#) && xml.contains(r#"<failure type="extra""#));
    assert!(xml.contains(r#"<error type="unreadable_image""#), "{xml}");
    assert!(xml.contains(r#"name="vm/boot.fb@update:3""#), "{xml}");

    // index.html: failures first, every image it links exists.
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    let first_same = html.find("id=\"passed\"").unwrap();
    for id in ["cut.png", "menu/open.png", "menu/gone.png", "menu/new.png"] {
        let at = html.find(&format!("data-id=\"{id}\"")).unwrap();
        assert!(
            at < first_same,
            "{id} is listed before the checks that passed"
        );
    }
    for src in html.split("src=\"").skip(1) {
        let rel = &src[..src.find('"').unwrap()];
        assert!(report.join(rel).is_file(), "{rel} is linked but missing");
    }
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "self-contained"
    );

    // --json prints report.json.
    let (code, stdout, _) = run_suite(&g, &r, &report, &["--json", "--jobs", "1"]);
    assert_eq!(code, 2);
    let printed: Value = serde_json::from_str(&stdout).unwrap();
    let mut a = printed.clone();
    let mut b = report_json(&report);
    for d in [&mut a, &mut b] {
        d["summary"]["seconds"] = Value::Null;
        for c in d["checks"].as_array_mut().unwrap() {
            c["seconds"] = Value::Null;
        }
    }
    assert_eq!(a, b);
    // Nothing was written into either input folder.
    assert!(!g.join("report").exists() && !r.join("report").exists());
    assert!(!g.join("menu/new.png").exists(), "no --update, no change");
}

#[test]
fn update_accepts_the_changes_and_the_next_run_passes() {
    let t = TempDir::new("cmp-suite-update");
    let (g, r) = (t.path().join("golden"), t.path().join("run"));
    screen(&g.join("a.png"), &[]);
    screen(&r.join("a.png"), &[]);
    screen(&g.join("sub/b.png"), &[(1, 1, 4, 4)]);
    screen(&r.join("sub/b.png"), &[(2, 1, 4, 4)]);
    screen(&r.join("new/c.png"), &[(7, 7, 7, 7)]);
    let report = t.path().join("report");
    let (code, out, err) = run_suite(&g, &r, &report, &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(report_json(&report)["result"], "failed");
    assert_eq!(check(&report_json(&report), "sub/b.png")["diff_pixels"], 8);

    // The one-pair options apply to every pair.
    let (code, _, _) = run_suite(&g, &r, &report, &["--mask", "0,0,8,8"]);
    assert_eq!(code, 1, "new/c.png is still extra");
    let v = report_json(&report);
    let b = check(&v, "sub/b.png");
    assert_eq!(b["status"], "same");
    assert_eq!(
        b["masks"],
        serde_json::json!([{"rect": [0, 0, 8, 8], "diff_pixels": 8}])
    );
    assert_eq!(v["settings"]["masks"], serde_json::json!([[0, 0, 8, 8]]));
    let (_, _, _) = run_suite(&g, &r, &report, &["--max-diff-pixels", "8"]);
    assert_eq!(check(&report_json(&report), "sub/b.png")["status"], "same");
    let (_, _, _) = run_suite(&g, &r, &report, &["--max-diff-pixels", "7"]);
    assert_eq!(
        check(&report_json(&report), "sub/b.png")["status"],
        "different"
    );
    let (code, _, err) = run_suite(&g, &r, &report, &["--threshold", "2"]);
    assert_eq!(code, 2, "{err}");

    let (code, out, err) = run_suite(&g, &r, &report, &["--update"]);
    assert_eq!(code, 0, "every failure accepted: {out}{err}");
    let v = report_json(&report);
    assert_eq!(v["result"], "passed");
    assert_eq!(v["summary"]["updated"], 2);
    assert_eq!(check(&v, "sub/b.png")["status"], "different");
    assert_eq!(check(&v, "sub/b.png")["updated"], true);
    assert_eq!(check(&v, "a.png")["updated"], false);
    for f in ["sub/b.png", "new/c.png"] {
        assert_eq!(
            std::fs::read(g.join(f)).unwrap(),
            std::fs::read(r.join(f)).unwrap(),
            "{f} now holds the actual screen"
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(g.join("sub"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left: {leftovers:?}");

    let (code, out, err) = run_suite(&g, &r, &report, &[]);
    assert_eq!(code, 0, "{out}{err}");
    let v = report_json(&report);
    assert_eq!(v["summary"]["same"], 3);

    // A missing file is never deleted from the baseline: it stays a failure.
    std::fs::remove_file(r.join("a.png")).unwrap();
    let (code, _, _) = run_suite(&g, &r, &report, &["--update"]);
    assert_eq!(code, 1);
    assert!(g.join("a.png").is_file());
    assert_eq!(check(&report_json(&report), "a.png")["status"], "missing");
}

#[test]
fn recordings_at_their_moments_and_bad_sidecars() {
    let t = TempDir::new("cmp-suite-rec");
    let (g, r) = (t.path().join("golden"), t.path().join("run"));
    let td = common::testdata();
    copy(&td.join("minimega_qemu_ipxe.fb"), &g.join("boot.fb"));
    copy(&td.join("minimega_qemu_ipxe.fb"), &r.join("boot.fb"));
    // A time past the end is that check's error, the others still run.
    std::fs::write(g.join("boot.fb.times"), "end\n9999\n").unwrap();
    copy(&td.join("rre.fb"), &g.join("bad.fb"));
    copy(&td.join("rre.fb"), &r.join("bad.fb"));
    std::fs::write(g.join("bad.fb.times"), "1\nsoon\n").unwrap();
    // A PNG in one tree and a recording in the other.
    screen(&g.join("mixed"), &[]);
    copy(&td.join("rre.fb"), &r.join("mixed"));
    let report = t.path().join("report");
    let (code, out, err) = run_suite(&g, &r, &report, &[]);
    assert_eq!(code, 2, "{out}{err}");
    let v = report_json(&report);
    assert_eq!(check(&v, "boot.fb@end")["status"], "same");
    let past = check(&v, "boot.fb@9999");
    assert_eq!(past["error"]["code"], "past_end", "{past}");
    let bad = check(&v, "bad.fb");
    assert_eq!(bad["error"]["code"], "bad_times_file", "{bad}");
    assert!(
        bad["error"]["message"].as_str().unwrap().contains("line 2"),
        "{bad}"
    );
    assert_eq!(check(&v, "mixed")["error"]["code"], "kind_mismatch");
    validate_junit(&report);
}

#[test]
fn report_folders_that_touch_an_input_are_refused() {
    let t = TempDir::new("cmp-suite-refuse");
    let (g, r) = (t.path().join("golden"), t.path().join("run"));
    screen(&g.join("a.png"), &[]);
    screen(&r.join("a.png"), &[(1, 1, 1, 1)]);
    let listing = |d: &Path| {
        let mut v: Vec<_> = walk(d);
        v.sort();
        v
    };
    let before = (listing(&g), listing(&r));
    for report in [
        g.clone(),
        r.join("report"),
        g.join("."),
        t.path().to_path_buf(),
    ] {
        let (code, out, err) = run_suite(&g, &r, &report, &[]);
        assert_eq!(code, 2, "{}: {out}{err}", report.display());
        assert!(err.contains("report folder"), "{err}");
    }
    #[cfg(unix)]
    {
        let link = t.path().join("link");
        std::os::unix::fs::symlink(&g, &link).unwrap();
        let (code, _, err) = run_suite(&g, &r, &link.join("rep"), &[]);
        assert_eq!(code, 2, "a link into the baseline: {err}");
    }
    assert_eq!(
        (listing(&g), listing(&r)),
        before,
        "the inputs are untouched"
    );

    // Usage errors exit 2 too.
    let out = rfbplay(&[
        "compare".as_ref(),
        "--baseline".as_ref(),
        g.as_os_str(),
        "--actual".as_ref(),
        r.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(2), "no --report");
    let (code, _, err) = run_suite(&g, &t.path().join("nope"), &t.path().join("rep"), &[]);
    assert_eq!(code, 2);
    assert!(err.contains("nope: not a folder"), "{err}");
}

fn walk(d: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(d).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
