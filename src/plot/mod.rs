//! Figures: line/point charts written as SVG and PNG (atomically), with an embedded font.
//! Quantities far outside f64's range are passed as log10 values (computed in MPFR) and drawn
//! on a linear axis labelled `log10(...)`.

use crate::error::{Error, Result};
pub mod heatmap;

use crate::io::write_file;
pub use crate::report::figure::{Chart, Figure, Series, Style};
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::path::{Path, PathBuf};
use std::sync::Once;

static FONT: Once = Once::new();

pub(crate) fn register_font() {
    FONT.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../../assets/DejaVuSans.ttf");
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, bytes);
    });
}

/// Twelve colours, each used once per figure (after twelve series the dash pattern and the
/// marker shape still tell series apart).
const PALETTE: [RGBColor; 12] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(0, 0, 128),
    RGBColor(128, 0, 0),
];

/// Marker shapes, cycled per series so points that coincide stay distinguishable.
#[derive(Clone, Copy)]
enum Marker {
    Circle,
    Triangle,
    Square,
    Cross,
}

const MARKERS: [Marker; 4] = [
    Marker::Circle,
    Marker::Triangle,
    Marker::Square,
    Marker::Cross,
];

/// Whether an axis counts bits (integer ticks only).
fn integer_axis(label: &str) -> bool {
    label.contains("bits") && !label.contains("log")
}

/// Tick label: integers without `.0`, others with at most three decimals.
fn tick(v: f64, integer: bool) -> String {
    if integer {
        return if (v - v.round()).abs() < 1e-9 {
            format!("{}", v.round())
        } else {
            String::new()
        };
    }
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// Number of ticks for an axis: one per integer when an integer axis spans few values.
fn tick_count(lo: f64, hi: f64, integer: bool) -> usize {
    if integer {
        ((hi.floor() - lo.ceil()) as usize + 1).clamp(2, 12)
    } else {
        10
    }
}

fn draw_marker<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    at: (i32, i32),
    m: Marker,
    col: RGBColor,
    r: i32,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let (x, y) = at;
    match m {
        Marker::Circle => area.draw(&Circle::new(at, r, col.filled())),
        Marker::Triangle => area.draw(&Polygon::new(
            vec![(x, y - r - 1), (x - r - 1, y + r), (x + r + 1, y + r)],
            col.filled(),
        )),
        Marker::Square => area.draw(&Rectangle::new(
            [(x - r, y - r), (x + r, y + r)],
            col.filled(),
        )),
        Marker::Cross => {
            let st = ShapeStyle::from(&col).stroke_width(2);
            area.draw(&PathElement::new(vec![(x - r, y - r), (x + r, y + r)], st))?;
            area.draw(&PathElement::new(vec![(x - r, y + r), (x + r, y - r)], st))
        }
    }
}

/// Legend entries per row below the plot: two, or one when a name is long.
fn legend_columns(chart: &Chart) -> usize {
    if legend_names(chart).iter().any(|n| n.chars().count() > 50) {
        1
    } else {
        2
    }
}

/// Rows of the legend below the plot.
fn legend_rows(chart: &Chart) -> u32 {
    chart.series.len().div_ceil(legend_columns(chart)) as u32
}

/// Legend text per series (a series drawn wider because later ones cover it says so).
fn legend_names(chart: &Chart) -> Vec<String> {
    let under = covered_by_later(chart);
    chart
        .series
        .iter()
        .zip(under)
        .map(|(s, u)| {
            if u > 0 {
                format!("{} (thick: another series lies on it)", s.name)
            } else {
                s.name.clone()
            }
        })
        .collect()
}

/// For each series, how many later series lie on top of it (same x values, y within 0.3% of
/// the y range): such a series is drawn wider (thicker line, larger marker) so it shows around
/// the ones covering it.
fn covered_by_later(chart: &Chart) -> Vec<usize> {
    let ys = || {
        chart
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
    };
    let y_range = ys().fold(f64::NEG_INFINITY, f64::max) - ys().fold(f64::INFINITY, f64::min);
    let tol = 3e-3 * y_range.max(1e-300);
    let same = |a: &Series, b: &Series| {
        !a.points.is_empty()
            && a.points.len() == b.points.len()
            && a.points.iter().zip(&b.points).all(|(p, q)| {
                (p.0 - q.0).abs() <= 1e-12 * p.0.abs().max(1.0) && (p.1 - q.1).abs() <= tol
            })
    };
    (0..chart.series.len())
        .map(|i| {
            chart.series[i + 1..]
                .iter()
                .filter(|b| same(&chart.series[i], b))
                .count()
        })
        .collect()
}

const LEGEND_ROW: u32 = 22;

fn draw<DB: DrawingBackend>(
    chart: &Chart,
    root: DrawingArea<DB, plotters::coord::Shift>,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: &dyn std::fmt::Display| Error::io(format!("cannot draw `{}`: {e}", chart.title));
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let pts = chart.series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        return Err(Error::compute(format!(
            "figure `{}` has no finite points",
            chart.title
        )));
    }
    let pad = |a: f64, b: f64| {
        let d = (b - a).abs().max(1e-9) * 0.05;
        (a - d, b + d)
    };
    let (x0, x1) = pad(x0, x1);
    let (y0, y1) = pad(y0, y1);
    // The legend gets its own strip below the plot: it never covers data.
    let (_, h) = root.dim_in_pixel();
    let legend_h = legend_rows(chart) * LEGEND_ROW + 10;
    let (plot_area, legend_area) = root.split_vertically(h.saturating_sub(legend_h));
    let (ix, iy) = (integer_axis(&chart.x_label), integer_axis(&chart.y_label));
    let mut c = ChartBuilder::on(&plot_area)
        .caption(&chart.title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| err(&e))?;
    c.configure_mesh()
        .x_desc(&chart.x_label)
        .y_desc(&chart.y_label)
        .x_labels(tick_count(x0, x1, ix))
        .y_labels(tick_count(y0, y1, iy))
        .x_label_formatter(&|v| tick(*v, ix))
        .y_label_formatter(&|v| tick(*v, iy))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| err(&e))?;
    let under = covered_by_later(chart);
    let names = legend_names(chart);
    let style_of = |i: usize| {
        let col = PALETTE[i % PALETTE.len()];
        (
            col,
            ShapeStyle::from(&col).stroke_width(2 + 3 * under[i] as u32),
        )
    };
    let radius = |i: usize| 4 + 3 * under[i] as i32;
    // In series order, each line then its markers: a series that later ones cover is drawn
    // wider (see `covered_by_later`) so it shows around them.
    let plotting = c.plotting_area().clone();
    for (i, s) in chart.series.iter().enumerate() {
        let (col, style) = style_of(i);
        match s.style {
            Style::Line | Style::LinePoints => {
                c.draw_series(LineSeries::new(s.points.clone(), style))
                    .map_err(|e| err(&e))?;
            }
            Style::Dashed => {
                c.draw_series(DashedLineSeries::new(s.points.clone(), 8, 5, style))
                    .map_err(|e| err(&e))?;
            }
            Style::Steps => {
                c.draw_series(LineSeries::new(step_path(&s.points), style))
                    .map_err(|e| err(&e))?;
            }
            Style::Points => {}
        }
        if matches!(s.style, Style::Points | Style::LinePoints | Style::Steps) {
            let m = MARKERS[i % MARKERS.len()];
            for &p in &s.points {
                let at = plotting.map_coordinate(&p);
                draw_marker(&root, at, m, col, radius(i)).map_err(|e| err(&e))?;
            }
        }
    }
    // Legend: sample (line, dashes or marker) and name, one or two entries per row.
    let (w, _) = legend_area.dim_in_pixel();
    let cols = legend_columns(chart) as i32;
    let col_w = (w as i32 - 40) / cols;
    let max_chars = (col_w as usize - 40) / 8;
    for (i, s) in chart.series.iter().enumerate() {
        let (col, _) = style_of(i);
        let style = ShapeStyle::from(&col).stroke_width(2);
        let x = 30 + (i as i32 % cols) * col_w;
        let y = 8 + (i as i32 / cols) * LEGEND_ROW as i32;
        let mid = y + 7;
        match s.style {
            Style::Line | Style::LinePoints | Style::Steps => legend_area
                .draw(&PathElement::new(vec![(x, mid), (x + 28, mid)], style))
                .map_err(|e| err(&e))?,
            Style::Dashed => {
                for k in 0..3 {
                    legend_area
                        .draw(&PathElement::new(
                            vec![(x + k * 11, mid), (x + k * 11 + 7, mid)],
                            style,
                        ))
                        .map_err(|e| err(&e))?;
                }
            }
            Style::Points => {}
        }
        if matches!(s.style, Style::Points | Style::LinePoints | Style::Steps) {
            draw_marker(
                &legend_area,
                (x + 14, mid),
                MARKERS[i % MARKERS.len()],
                col,
                4,
            )
            .map_err(|e| err(&e))?;
        }
        let mut name = names[i].clone();
        if name.chars().count() > max_chars {
            name = name.chars().take(max_chars - 1).collect::<String>() + "…";
        }
        legend_area
            .draw(&Text::new(
                name,
                (x + 36, y),
                ("sans-serif", 14).into_font(),
            ))
            .map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// Reference lines of the given log-log slopes (dashed, named e.g. `O(T²) reference`), spanning
/// the x range of `series` and placed a quarter decade below every data point, so they never
/// cover data and only their slopes are compared.
pub fn reference_slopes(series: &[Series], slopes: &[(f64, &str)]) -> Vec<Series> {
    let pts = || series.iter().flat_map(|s| s.points.iter());
    let x0 = pts().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let x1 = pts().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    if !(x0.is_finite() && x1.is_finite()) {
        return Vec::new();
    }
    slopes
        .iter()
        .map(|&(k, name)| {
            let c = pts()
                .map(|p| p.1 - k * (p.0 - x0))
                .fold(f64::INFINITY, f64::min)
                - 0.25;
            Series::new(
                format!("{name} reference (slope {k})"),
                vec![(x0, c), (x1, c + k * (x1 - x0))],
                Style::Dashed,
            )
        })
        .collect()
}

/// Draw `charts` side by side on `root`.
fn draw_panels<DB: DrawingBackend>(
    charts: &[Chart],
    root: DrawingArea<DB, plotters::coord::Shift>,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)
        .map_err(|e| Error::io(format!("cannot draw a figure: {e}")))?;
    let areas = root.split_evenly((1, charts.len()));
    for (chart, area) in charts.iter().zip(areas) {
        let (_, h) = area.dim_in_pixel();
        let own = 560 + legend_rows(chart) * LEGEND_ROW + 10;
        let (area, _) = area.split_vertically(own.min(h));
        draw(chart, area)?;
    }
    Ok(())
}

/// The path of a step function through `points` (sorted by x): horizontal to the next x, then
/// vertical.
fn step_path(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut path = Vec::with_capacity(2 * points.len());
    for (k, &p) in points.iter().enumerate() {
        if k > 0 {
            path.push((p.0, points[k - 1].1));
        }
        path.push(p);
    }
    path
}

/// Draw `figure`: write `<dir>/<stem>.svg` and `<dir>/<stem>.png`; returns both paths.
pub fn render(figure: &Figure, dir: &Path) -> Result<Vec<PathBuf>> {
    if figure.panels.is_empty() || figure.stem.is_empty() || figure.stem.contains(['/', '\\']) {
        return Err(Error::input(format!(
            "figure `{}` has no chart or is not a plain file name",
            figure.stem
        )));
    }
    write_panels(&figure.panels, dir, &figure.stem)
}

/// Write `<dir>/<stem>.svg` and `<dir>/<stem>.png`; returns both paths.
pub fn write_chart(chart: &Chart, dir: &Path, stem: &str) -> Result<Vec<PathBuf>> {
    write_panels(std::slice::from_ref(chart), dir, stem)
}

/// [`write_chart`] with several charts side by side in one figure (each with its own axes and
/// legend; the first one's title is the figure's title).
pub fn write_panels(charts: &[Chart], dir: &Path, stem: &str) -> Result<Vec<PathBuf>> {
    register_font();
    for chart in charts {
        if let Some(s) = chart.series.iter().find(|s| s.nan_points > 0) {
            return Err(Error::compute(format!(
                "figure `{}`: series `{}` has {} NaN points (a computation failed)",
                chart.title, s.name, s.nan_points
            )));
        }
    }
    if !dir.is_dir() {
        return Err(Error::io(format!(
            "figure directory {} does not exist",
            dir.display()
        )));
    }
    let rows = charts.iter().map(legend_rows).max().unwrap_or(0);
    let size = (900u32 * charts.len() as u32, 560 + rows * LEGEND_ROW + 10);
    let svg_path = dir.join(format!("{stem}.svg"));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        draw_panels(charts, root)?;
    }
    write_file(&svg_path, svg.as_bytes())?;
    let png_path = dir.join(format!("{stem}.png"));
    render_png(&png_path, size, |root| draw_panels(charts, root))?;
    Ok(vec![svg_path, png_path])
}

/// Render a PNG through a private temporary file (the bitmap backend writes files itself),
/// then write it to `path` with [`write_file`]; the temporary never outlives the call.
pub(crate) fn render_png(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>) -> Result<()>,
) -> Result<()> {
    let tmp = std::env::temp_dir().join(format!(
        "freelunch-{}-{}.png",
        std::process::id(),
        PNG_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let result = (|| {
        {
            let root = BitMapBackend::new(&tmp, size).into_drawing_area();
            draw(root)?;
        }
        let bytes = std::fs::read(&tmp).map_err(|e| Error::io_at("write", path, e))?;
        write_file(path, &bytes)
    })();
    let _ = std::fs::remove_file(&tmp);
    result
}

static PNG_SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
