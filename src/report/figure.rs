//! Figure data: charts of named series, carried by a claim's report so that drawing a figure
//! ([`crate::plot::render`]) reads the report instead of running its sweep again.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Style {
    Line,
    Dashed,
    Points,
    LinePoints,
    /// A step function: each value holds until the next point's x, where it jumps (for
    /// quantities that change at a threshold, not in between).
    Steps,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
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

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
}

/// One figure's data: its file stem and its charts (side by side, the first one's title is the
/// figure's title). A claim's report carries its figures, so drawing them runs no sweep.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Figure {
    pub stem: String,
    pub panels: Vec<Chart>,
}

impl Figure {
    pub fn new(stem: &str, panels: Vec<Chart>) -> Self {
        Figure {
            stem: stem.to_string(),
            panels,
        }
    }
    pub fn one(stem: &str, chart: Chart) -> Self {
        Figure::new(stem, vec![chart])
    }
}
