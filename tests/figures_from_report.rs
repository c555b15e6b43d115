//! A claim's report carries its figures' series: drawing them from a `reproduce --json` report
//! gives the figures a fresh computation draws, and runs no sweep; a report without figures, a
//! file that is not a report, or a series with NaN points is refused in one sentence.

mod common;
use common::{run, s, scratch};
use freelunch::claims::{self, batch, RunConfig};
use freelunch::report::{figures_from_file, to_json};
use std::path::Path;

fn claim(id: &str) -> Box<dyn claims::Claim> {
    claims::registry()
        .into_iter()
        .find(|c| c.info().id == id)
        .expect("registered claim")
}

fn svgs(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("figure directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "svg"))
        .map(|p| {
            let bytes = std::fs::read(&p).expect("svg");
            (p.file_name().unwrap().to_string_lossy().into_owned(), bytes)
        })
        .collect();
    out.sort();
    out
}

/// gate-mul's report, run with its figures, written as JSON to `dir/report.json`.
fn report_with_figures(dir: &Path, figures: bool) -> std::path::PathBuf {
    let cfg = RunConfig {
        figures,
        ..RunConfig::default()
    };
    let rep = claims::run_timed(claim("gate-mul").as_ref(), &cfg).expect("gate-mul runs");
    assert_eq!(rep.figures.is_empty(), !figures);
    let path = dir.join("report.json");
    std::fs::write(&path, to_json(&[rep], false).expect("json")).expect("write report");
    path
}

#[test]
fn figures_drawn_from_a_report_equal_the_computed_ones() {
    let dir = scratch("figures-from-report");
    let (from_report, computed) = (dir.join("from"), dir.join("computed"));
    std::fs::create_dir_all(&from_report).unwrap();
    std::fs::create_dir_all(&computed).unwrap();
    let report = report_with_figures(&dir, true);
    let figures = figures_from_file(&report).expect("the report carries figures");
    assert_eq!(
        figures.iter().map(|f| f.stem.as_str()).collect::<Vec<_>>(),
        ["gate-mul"]
    );
    batch::render_figures(&figures, &from_report).expect("drawn from the report");
    batch::figures_all(&[claim("gate-mul")], &computed, &RunConfig::default()).expect("computed");
    let (a, b) = (svgs(&from_report), svgs(&computed));
    assert_eq!(a.len(), 1);
    assert!(
        a == b,
        "the SVG drawn from the report differs from the computed one"
    );
    // the CLI draws the same file
    let cli = dir.join("cli");
    std::fs::create_dir_all(&cli).unwrap();
    let (code, out, err) = run(&["figures", "--from", s(&report), "--out", s(&cli)]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("gate-mul.svg"), "{out}");
    assert!(svgs(&cli) == a);
}

#[test]
fn a_report_without_figures_or_not_a_report_is_refused() {
    let dir = scratch("figures-refused");
    let plain = report_with_figures(&dir, false);
    let e = figures_from_file(&plain).unwrap_err().to_string();
    assert!(e.contains("carries no figure"), "{e}");
    let other = dir.join("other.json");
    std::fs::write(&other, "{\"a\": 1}").unwrap();
    let e = figures_from_file(&other).unwrap_err().to_string();
    assert!(e.contains("is not a JSON report"), "{e}");
    let (code, _, err) = run(&["figures", "--from", s(&plain), "--out", s(&dir)]);
    assert_eq!((code, err.trim().lines().count()), (2, 1), "{err}");
    let (code, _, err) = run(&[
        "figures",
        "--from",
        s(&dir.join("missing.json")),
        "--out",
        s(&dir),
    ]);
    assert_eq!((code, err.trim().lines().count()), (2, 1), "{err}");
}

#[test]
fn a_series_with_nan_points_in_a_report_is_not_drawn() {
    let dir = scratch("figures-nan");
    let report = report_with_figures(&dir, true);
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(text.contains("\"nan_points\": 0"));
    std::fs::write(
        &report,
        text.replacen("\"nan_points\": 0", "\"nan_points\": 3", 1),
    )
    .unwrap();
    let figures = figures_from_file(&report).expect("still a report");
    let e = batch::render_figures(&figures, &dir)
        .unwrap_err()
        .to_string();
    assert!(e.contains("3 NaN points"), "{e}");
}
