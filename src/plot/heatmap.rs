//! A heat-map of a trace: one row per residual coordinate or memory slot (grouped and labelled
//! by subspace), one column per position; colour is the signed value on a symmetric log scale
//! (blue negative, white zero, red positive), so both a 10⁻⁶ leak and a 10³ score are visible.

use super::{register_font, render_png};
use crate::error::{Error, Result};
use crate::export::trace::Trace;
use crate::io::write_file;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Signed log scale: `sign(v)·log10(1 + |v|/floor)`, so values below `floor` fade to white.
fn symlog(v: f64, floor: f64) -> f64 {
    v.signum() * (1.0 + v.abs() / floor).log10()
}

fn colour(s: f64) -> RGBColor {
    // s in [-1, 1]
    let s = s.clamp(-1.0, 1.0);
    let fade = |c: u8, k: f64| (255.0 - (255.0 - c as f64) * k).round() as u8;
    if s >= 0.0 {
        RGBColor(fade(178, s), fade(24, s), fade(43, s))
    } else {
        RGBColor(fade(33, -s), fade(102, -s), fade(172, -s))
    }
}

const FLOOR: f64 = 1e-6;

fn draw<DB: DrawingBackend>(tr: &Trace, root: DrawingArea<DB, plotters::coord::Shift>) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: &dyn std::fmt::Display| Error::io(format!("cannot draw the trace: {e}"));
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let (w, h) = root.dim_in_pixel();
    let rows: usize = tr.groups.iter().map(|g| g.rows.len()).sum();
    let cols = tr.values.len();
    if rows == 0 || cols == 0 {
        return Err(Error::compute("the trace is empty: nothing to draw"));
    }
    let (left, top, right, bottom) = (190i32, 50i32, 110i32, 60i32);
    let pw = (w as i32 - left - right).max(1) as f64;
    let ph = (h as i32 - top - bottom).max(1) as f64;
    let cw = pw / cols as f64;
    let rh = ph / rows as f64;
    let vmax = tr
        .values
        .iter()
        .flatten()
        .filter(|v| v.is_finite())
        .fold(0.0f64, |a, v| a.max(v.abs()));
    let smax = symlog(vmax.max(FLOOR), FLOOR).max(1e-12);
    let font = ("sans-serif", 13).into_font();
    let mut name = tr.model.clone();
    if name.chars().count() > 60 {
        name = name.chars().take(59).collect::<String>() + "…";
    }
    root.draw(&Text::new(
        format!("{name}: residual subspaces and memory slots over positions"),
        (left, 15),
        ("sans-serif", 18).into_font(),
    ))
    .map_err(|e| err(&e))?;
    for (t, vals) in tr.values.iter().enumerate() {
        let x0 = left + (t as f64 * cw) as i32;
        let x1 = left + ((t + 1) as f64 * cw).ceil() as i32;
        for (r, v) in vals.iter().enumerate() {
            let y0 = top + (r as f64 * rh) as i32;
            let y1 = top + ((r + 1) as f64 * rh).ceil() as i32;
            let c = if v.is_finite() {
                colour(symlog(*v, FLOOR) / smax)
            } else {
                RGBColor(0, 0, 0)
            };
            root.draw(&Rectangle::new([(x0, y0), (x1, y1)], c.filled()))
                .map_err(|e| err(&e))?;
        }
    }
    // Group separators and labels (skip labels that would overlap the previous one).
    let mut r = 0;
    let mut last_label_y = i32::MIN;
    for g in &tr.groups {
        let y = top + (r as f64 * rh) as i32;
        root.draw(&PathElement::new(
            vec![(left, y), (left + pw as i32, y)],
            BLACK.mix(0.3),
        ))
        .map_err(|e| err(&e))?;
        let mid = top + ((r as f64 + g.rows.len() as f64 / 2.0) * rh) as i32 - 6;
        if mid >= last_label_y + 14 {
            let mut name = g.name.clone();
            if name.chars().count() > 26 {
                name = name.chars().take(25).collect::<String>() + "…";
            }
            root.draw(&Text::new(name, (6, mid), font.clone()))
                .map_err(|e| err(&e))?;
            last_label_y = mid;
        }
        r += g.rows.len();
    }
    // Prompt / generated boundary and position ticks.
    let xb = left + (tr.prompt_len as f64 * cw) as i32;
    if tr.prompt_len < cols {
        root.draw(&PathElement::new(
            vec![(xb, top - 4), (xb, top + ph as i32 + 4)],
            ShapeStyle::from(&BLACK).stroke_width(2),
        ))
        .map_err(|e| err(&e))?;
    }
    let step = (cols / 12).max(1);
    for t in (0..cols).step_by(step) {
        let x = left + ((t as f64 + 0.5) * cw) as i32;
        root.draw(&Text::new(
            format!("{}", t + 1),
            (x - 4, top + ph as i32 + 6),
            font.clone(),
        ))
        .map_err(|e| err(&e))?;
    }
    root.draw(&Text::new(
        "position t (1-based; the thick line ends the prompt)",
        (left, h as i32 - 26),
        font.clone(),
    ))
    .map_err(|e| err(&e))?;
    // Colour key.
    let kx = w as i32 - right + 25;
    let kh = ph as i32;
    for k in 0..kh {
        let s = 1.0 - 2.0 * k as f64 / kh as f64;
        root.draw(&Rectangle::new(
            [(kx, top + k), (kx + 18, top + k + 1)],
            colour(s).filled(),
        ))
        .map_err(|e| err(&e))?;
    }
    for (s, label) in [
        (1.0, format!("+{vmax:.1e}")),
        (0.0, "0".to_string()),
        (-1.0, format!("-{vmax:.1e}")),
    ] {
        let y = top + ((1.0 - s) / 2.0 * kh as f64) as i32 - 6;
        root.draw(&Text::new(label, (kx + 22, y), font.clone()))
            .map_err(|e| err(&e))?;
    }
    root.draw(&Text::new("symlog", (kx - 4, top - 18), font.clone()))
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// Write `<stem>.svg` and `<stem>.png` for the trace; returns both paths.
/// The two files `--heatmap STEM` writes, `(STEM.svg, STEM.png)`. STEM is the path without an
/// extension: a final `.svg` or `.png` is dropped (`t.png` writes t.svg and t.png), any other
/// dot is part of the name (`t.v2` writes t.v2.svg and t.v2.png, never replacing `t.png`). A
/// STEM that names no file (empty, or ending in `/`) is refused.
pub fn heatmap_paths(stem: &Path) -> Result<(PathBuf, PathBuf)> {
    let text = stem.as_os_str().to_string_lossy();
    if text.is_empty() || text.ends_with('/') || stem.file_name().is_none() {
        return Err(Error::input(format!(
            "--heatmap `{text}` names no file: give a path without an extension, e.g. `trace` for trace.svg and trace.png"
        )));
    }
    let base = match stem.extension().and_then(|e| e.to_str()) {
        Some("svg" | "png") => stem.with_extension(""),
        _ => stem.to_path_buf(),
    };
    let with = |ext: &str| {
        let mut s = base.clone().into_os_string();
        s.push(ext);
        PathBuf::from(s)
    };
    Ok((with(".svg"), with(".png")))
}

pub fn write_heatmap(tr: &Trace, stem: &Path) -> Result<Vec<PathBuf>> {
    let (svg_path, png_path) = heatmap_paths(stem)?;
    register_font();
    let rows: usize = tr.groups.iter().map(|g| g.rows.len()).sum();
    let height = (rows as u32 * 4).clamp(500, 2400) + 110;
    let size = (1100u32, height);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        draw(tr, root)?;
    }
    write_file(&svg_path, svg.as_bytes())?;
    render_png(&png_path, size, |root| draw(tr, root))?;
    Ok(vec![svg_path, png_path])
}
