//! A heat-map of a trace: one row per residual coordinate or memory slot (grouped and labelled
//! by subspace), one column per position labelled by the token fed there; colour is the signed
//! value on a symmetric log scale per group (blue negative, white zero, then yellow, orange,
//! red, purple for growing positive values), whose floor is half the group's smallest nonzero
//! |value| (at most 10⁻⁶ below its largest), so both a 10⁻⁶ leak and the integers 1…9 of a
//! token coordinate get distinct colours. A strip below shows each position's logit margin.

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

/// Positive values: white → yellow → orange → red → purple → near black (distinct hues, so
/// neighbouring integers differ); negative values: white → blue.
fn colour(s: f64) -> RGBColor {
    let s = s.clamp(-1.0, 1.0);
    let fade = |c: u8, k: f64| (255.0 - (255.0 - c as f64) * k).round() as u8;
    if s < 0.0 {
        return RGBColor(fade(33, -s), fade(102, -s), fade(172, -s));
    }
    const STOPS: [(f64, (u8, u8, u8)); 6] = [
        (0.0, (255, 255, 255)),
        (0.2, (255, 237, 140)),
        (0.4, (253, 160, 60)),
        (0.6, (225, 45, 40)),
        (0.8, (130, 20, 110)),
        (1.0, (30, 10, 50)),
    ];
    let k = STOPS.iter().position(|st| st.0 >= s).unwrap_or(5).max(1);
    let ((s0, a), (s1, b)) = (STOPS[k - 1], STOPS[k]);
    let u = (s - s0) / (s1 - s0);
    let mix = |x: u8, y: u8| (x as f64 + (y as f64 - x as f64) * u).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// The symlog scale of one group of rows: `(floor, smax)` with floor half the smallest nonzero
/// |value| (but at least 10⁻⁶ of the largest) and smax the largest value's symlog.
fn group_scale(tr: &Trace, rows: std::ops::Range<usize>) -> (f64, f64, f64) {
    let vals = || {
        tr.values
            .iter()
            .flat_map(|v| v[rows.clone()].iter())
            .map(|v| v.abs())
            .filter(|v| v.is_finite() && *v > 0.0)
    };
    let vmax = vals().fold(0.0f64, f64::max);
    let vmin = vals().fold(f64::INFINITY, f64::min);
    let floor = if vmax > 0.0 {
        (vmin / 2.0).max(vmax * FLOOR)
    } else {
        FLOOR
    };
    (floor, symlog(vmax.max(floor), floor).max(1e-12), vmax)
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
    let (left, top, right, bottom) = (190i32, 50i32, 110i32, 110i32);
    let pw = (w as i32 - left - right).max(1) as f64;
    let ph = (h as i32 - top - bottom).max(1) as f64;
    let cw = pw / cols as f64;
    let rh = ph / rows as f64;
    // per row: the scale of its group
    let mut scale = Vec::with_capacity(rows);
    let mut group_max = Vec::new();
    let mut r0 = 0;
    for g in &tr.groups {
        let (floor, smax, vmax) = group_scale(tr, r0..r0 + g.rows.len());
        scale.extend(std::iter::repeat_n((floor, smax), g.rows.len()));
        group_max.push(vmax);
        r0 += g.rows.len();
    }
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
                colour(symlog(*v, scale[r].0) / scale[r].1)
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
    for (g, gmax) in tr.groups.iter().zip(&group_max) {
        let y = top + (r as f64 * rh) as i32;
        root.draw(&PathElement::new(
            vec![(left, y), (left + pw as i32, y)],
            BLACK.mix(0.3),
        ))
        .map_err(|e| err(&e))?;
        let mid = top + ((r as f64 + g.rows.len() as f64 / 2.0) * rh) as i32 - 6;
        if mid >= last_label_y + 14 {
            let mut name = g.name.clone();
            if name.chars().count() > 17 {
                name = name.chars().take(16).collect::<String>() + "…";
            }
            let name = format!("{name} (≤{gmax:.2})");
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
    // Column labels: the token fed at each position (every column when they fit).
    let step = (cols / 40).max(1);
    let small = ("sans-serif", 11).into_font();
    for t in (0..cols).step_by(step) {
        let x = left + ((t as f64 + 0.5) * cw) as i32;
        let fed = tr.fed.get(t).map_or("?", |s| s.as_str());
        let label: String = fed.chars().take(6).collect();
        root.draw(&Text::new(
            label,
            (x - 5, top + ph as i32 + 4),
            small.clone(),
        ))
        .map_err(|e| err(&e))?;
    }
    // Logit margin strip: log10(top − runner-up) per position, as a line.
    let strip_top = top + ph as i32 + 20;
    let strip_h = 34.0;
    let lm: Vec<f64> = tr
        .margin
        .iter()
        .map(|m| if *m > 0.0 { m.log10() } else { f64::NAN })
        .collect();
    let finite = || lm.iter().copied().filter(|v| v.is_finite());
    let (mlo, mhi) = (
        finite().fold(f64::INFINITY, f64::min),
        finite().fold(f64::NEG_INFINITY, f64::max),
    );
    if mlo.is_finite() {
        let span = (mhi - mlo).max(1e-9);
        let pts: Vec<(i32, i32)> = lm
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .map(|(t, v)| {
                let x = left + ((t as f64 + 0.5) * cw) as i32;
                let y = strip_top + (strip_h * (1.0 - (v - mlo) / span)) as i32;
                (x, y)
            })
            .collect();
        root.draw(&PathElement::new(
            pts.clone(),
            ShapeStyle::from(&RGBColor(44, 130, 44)).stroke_width(2),
        ))
        .map_err(|e| err(&e))?;
        for p in pts {
            root.draw(&Circle::new(p, 2, RGBColor(44, 130, 44).filled()))
                .map_err(|e| err(&e))?;
        }
        let worst = tr
            .margin
            .iter()
            .copied()
            .filter(|m| m.is_finite())
            .fold(f64::INFINITY, f64::min);
        root.draw(&Text::new(
            format!("logit margin, log10 {mlo:.2} … {mhi:.2} (min {worst:.2e})"),
            (6, strip_top + 10),
            small.clone(),
        ))
        .map_err(|e| err(&e))?;
    } else {
        root.draw(&Text::new(
            "no logit margins (a block without vocabulary)",
            (6, strip_top + 10),
            small.clone(),
        ))
        .map_err(|e| err(&e))?;
    }
    root.draw(&Text::new(
        "token fed at each position (the thick line ends the prompt); colour scale per group",
        (left, h as i32 - 22),
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
        (1.0, "+max".to_string()),
        (0.0, "0".to_string()),
        (-1.0, "−max".to_string()),
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
    let height = (rows as u32 * 4).clamp(500, 2400) + 160;
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
