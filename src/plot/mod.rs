//! Figures: line/point charts written as SVG and PNG (atomically), with an embedded font.
//! Quantities far outside f64's range are passed as log10 values (computed in MPFR) and drawn
//! on a linear axis labelled `log10(...)`.

use crate::error::{Error, Result};
use crate::report::write_atomic;
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::path::{Path, PathBuf};
use std::sync::Once;

static FONT: Once = Once::new();

fn register_font() {
    FONT.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../../assets/DejaVuSans.ttf");
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, bytes);
    });
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Style {
    Line,
    Dashed,
    Points,
    LinePoints,
}

#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub style: Style,
    /// Points with a NaN coordinate: a figure refuses to draw a series that has any.
    pub nan_points: usize,
}

impl Series {
    /// Infinite coordinates (e.g. log10 of an exact zero) cannot be drawn and are left out;
    /// NaN coordinates are counted, and `write_chart` fails on them.
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>, style: Style) -> Self {
        let nan_points = points
            .iter()
            .filter(|p| p.0.is_nan() || p.1.is_nan())
            .count();
        Series {
            name: name.into(),
            points: points
                .into_iter()
                .filter(|p| p.0.is_finite() && p.1.is_finite())
                .collect(),
            style,
            nan_points,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
}

const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];

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
    let mut c = ChartBuilder::on(&root)
        .caption(&chart.title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| err(&e))?;
    c.configure_mesh()
        .x_desc(&chart.x_label)
        .y_desc(&chart.y_label)
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| err(&e))?;
    for (i, s) in chart.series.iter().enumerate() {
        let col = PALETTE[i % PALETTE.len()];
        let style = ShapeStyle::from(&col).stroke_width(2);
        let anno = match s.style {
            Style::Line | Style::LinePoints => c
                .draw_series(LineSeries::new(s.points.clone(), style))
                .map_err(|e| err(&e))?,
            Style::Dashed => c
                .draw_series(DashedLineSeries::new(s.points.clone(), 8, 5, style))
                .map_err(|e| err(&e))?,
            Style::Points => c
                .draw_series(s.points.iter().map(|&p| Circle::new(p, 4, col.filled())))
                .map_err(|e| err(&e))?,
        };
        anno.label(s.name.clone()).legend(move |(x, y)| {
            PathElement::new(
                vec![(x, y), (x + 20, y)],
                ShapeStyle::from(&col).stroke_width(2),
            )
        });
        if s.style == Style::LinePoints {
            c.draw_series(s.points.iter().map(|&p| Circle::new(p, 3, col.filled())))
                .map_err(|e| err(&e))?;
        }
    }
    c.configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .position(emptiest_corner(chart, (x0, x1), (y0, y1)))
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// The legend goes in the corner quadrant holding the fewest data points.
fn emptiest_corner(
    chart: &Chart,
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
) -> SeriesLabelPosition {
    let (xm, ym) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    let mut counts = [0usize; 4];
    for &(x, y) in chart.series.iter().flat_map(|s| s.points.iter()) {
        counts[(x >= xm) as usize + 2 * (y < ym) as usize] += 1;
    }
    let corners = [
        SeriesLabelPosition::UpperLeft,
        SeriesLabelPosition::UpperRight,
        SeriesLabelPosition::LowerLeft,
        SeriesLabelPosition::LowerRight,
    ];
    let best = (0..4).min_by_key(|&i| counts[i]).unwrap_or(1);
    corners[best].clone()
}

/// Write `<dir>/<stem>.svg` and `<dir>/<stem>.png`; returns both paths.
pub fn write_chart(chart: &Chart, dir: &Path, stem: &str) -> Result<Vec<PathBuf>> {
    register_font();
    if let Some(s) = chart.series.iter().find(|s| s.nan_points > 0) {
        return Err(Error::compute(format!(
            "figure `{}`: series `{}` has {} NaN points (a computation failed)",
            chart.title, s.name, s.nan_points
        )));
    }
    if !dir.is_dir() {
        return Err(Error::io(format!(
            "figure directory {} does not exist",
            dir.display()
        )));
    }
    let size = (900u32, 600u32);
    let svg_path = dir.join(format!("{stem}.svg"));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        draw(chart, root)?;
    }
    write_atomic(&svg_path, svg.as_bytes())?;
    let png_path = dir.join(format!("{stem}.png"));
    let tmp = dir.join(format!(".{stem}.tmp{}.png", std::process::id()));
    {
        let root = BitMapBackend::new(&tmp, size).into_drawing_area();
        draw(chart, root)?;
    }
    std::fs::rename(&tmp, &png_path)
        .map_err(|e| Error::io(format!("cannot write {}: {e}", png_path.display())))?;
    Ok(vec![svg_path, png_path])
}
