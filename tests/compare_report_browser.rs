//! The page of `rfbplay compare --report` in a real headless Chromium (the
//! system's, driven by tools/report_check.js through puppeteer-core),
//! opened by file:// as a person opens it from a CI artefact: every image
//! it shows loads, the checks that did not pass come first, nothing is
//! fetched from outside the report folder, and each of the four views
//! (side by side, slider, blend, toggle) shows something else. Screenshots
//! stay in target/report-artifacts/.

mod common;

use common::TempDir;
use std::path::Path;
use std::process::Command;

fn screen(path: &Path, boxes: &[(u32, u32, u32, u32)]) {
    common::boxes_png(path, 320, 200, boxes);
}

#[test]
fn the_report_page_in_chromium() {
    let Some(node) = common::browser() else {
        return;
    };
    let t = TempDir::new("cmp-report-browser");
    let (g, r) = (t.path().join("golden"), t.path().join("run"));
    // Names sort so that a passing check comes first by path.
    screen(&g.join("a_same.png"), &[(20, 20, 100, 30)]);
    screen(&r.join("a_same.png"), &[(20, 20, 100, 30)]);
    screen(&g.join("dialog #2/b changed.png"), &[(20, 20, 100, 30)]);
    screen(&r.join("dialog #2/b changed.png"), &[(200, 120, 100, 60)]);
    screen(&g.join("c_gone.png"), &[(5, 5, 10, 10)]);
    screen(&r.join("d_new.png"), &[(50, 50, 10, 10)]);
    let td = common::testdata();
    for d in [&g, &r] {
        std::fs::copy(td.join("minimega_qemu_ipxe.fb"), d.join("e_boot.fb")).unwrap();
    }
    std::fs::write(g.join("e_boot.fb.times"), "1\nend\n").unwrap();
    let report = t.path().join("report");
    let out = Command::new(env!("CARGO_BIN_EXE_rfbplay"))
        .arg("compare")
        .arg("--baseline")
        .arg(&g)
        .arg("--actual")
        .arg(&r)
        .arg("--report")
        .arg(&report)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let artefacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/report-artifacts");
    let _ = std::fs::remove_dir_all(&artefacts);
    let index = report.join("index.html").canonicalize().unwrap();
    let url = format!("file://{}", index.display());
    let run = Command::new(node)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/report_check.js"))
        .arg(&url)
        .arg(&artefacts)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "browser check failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    eprintln!("{v}");
    assert!(v["notes"].as_array().unwrap().is_empty(), "{}", v["notes"]);
    assert_eq!(v["title"], "rfbplay compare: 3 of 6 not the same");

    // Failures first, in the report's order; the passing ones in the table.
    let order: Vec<(String, String)> = v["order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["status"].as_str().unwrap().to_string(),
                c["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        ("different", "dialog #2/b changed.png"),
        ("missing", "c_gone.png"),
        ("extra", "d_new.png"),
    ];
    assert_eq!(
        order,
        want.map(|(s, i)| (s.to_string(), i.to_string())),
        "failures first"
    );
    assert_eq!(
        v["passed_rows"], 3,
        "a_same.png, e_boot.fb@1, e_boot.fb@end"
    );

    // Every image shown loads, in both kinds of view; nothing but the
    // report's own files is requested.
    for key in ["images_sbs", "images_stack"] {
        let imgs = v[key].as_array().unwrap();
        assert!(!imgs.is_empty(), "{key}");
        for i in imgs {
            assert!(
                i["w"].as_u64().unwrap() > 0 && i["h"].as_u64().unwrap() > 0,
                "{key}: {i} did not load"
            );
        }
    }
    assert_eq!(
        v["images_sbs"].as_array().unwrap().len(),
        5,
        "expected, actual, diff; expected; actual"
    );
    let root = format!("file://{}", report.canonicalize().unwrap().display());
    for req in v["requests"].as_array().unwrap() {
        let req = req.as_str().unwrap();
        assert!(req.starts_with(&root), "{req} is outside the report folder");
    }

    // Each view shows something else.
    let views = &v["views"];
    assert_eq!(v["first"], "dialog #2/b changed.png");
    assert_eq!(
        (&views["sbs"]["sbs"], &views["sbs"]["viewer"]),
        (&true.into(), &false.into())
    );
    for m in ["slider", "blend", "toggle"] {
        assert_eq!(
            (&views[m]["sbs"], &views[m]["viewer"]),
            (&false.into(), &true.into()),
            "{m}"
        );
    }
    assert_eq!(views["slider"]["clip"], "inset(0px 0px 0px 50%)");
    assert_eq!(views["slider20"]["clip"], "inset(0px 0px 0px 20%)");
    // The slider's position carries over: actual at 20 % over expected.
    assert_eq!(views["blend"]["opacity"], "0.2");
    assert_eq!(views["blend"]["clip"], "none");
    assert_eq!(views["toggle"]["opacity"], "0");
    assert_eq!(views["toggle"]["range"], false);
    assert_eq!(views["toggled"]["opacity"], "1");
    assert!(views["toggled"]["which"]
        .as_str()
        .unwrap()
        .starts_with("actual"));
    let shots: Vec<Vec<u8>> = ["sbs", "slider", "slider20", "blend", "toggle", "toggled"]
        .iter()
        .map(|m| {
            let img = image::open(views[*m]["shot"].as_str().unwrap()).unwrap();
            img.to_rgb8().into_raw()
        })
        .collect();
    for i in 0..shots.len() {
        for j in i + 1..shots.len() {
            assert!(shots[i] != shots[j], "views {i} and {j} look the same");
        }
    }
    assert_eq!(v["view_after_reload"], "toggle");
    assert!(artefacts.join("report.png").is_file());
}
