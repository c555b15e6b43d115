//! The README's generated sections: the claim table (from the registry), the DP catalog
//! ([`crate::dp::catalog::catalog_table`]), the DP cost comparison
//! (measured from built models by [`crate::claims::dp_laws::comparison`], the same function that
//! draws `figures/dp-total-cost` and `figures/dp-state`) and the figure list (each figure's title,
//! read from its SVG). Each section sits between `<!-- BEGIN generated: NAME -->` and
//! `<!-- END generated: NAME -->`; `freelunch readme` rewrites them, `freelunch readme --check`
//! only compares, and `tests/readme.rs` fails when they differ.

pub mod hf_table;

use crate::claims::dp_laws::{comparison, Comparison};
use crate::claims::registry;
use crate::error::{Error, Result};
use std::path::Path;

/// The generated sections, by marker name.
pub const SECTIONS: [&str; 4] = ["claims", "dp-catalog", "dp-table", "figures"];

fn begin(name: &str) -> String {
    format!("<!-- BEGIN generated: {name} (freelunch readme; do not edit) -->")
}

fn end(name: &str) -> String {
    format!("<!-- END generated: {name} -->")
}

/// Escape a table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The claim table: id, paper reference, statement, proof file, whether it is built.
pub fn claim_table() -> String {
    let mut o = String::from("| id | paper | statement | proof | built |\n|---|---|---|---|---|\n");
    for c in registry() {
        let i = c.info();
        o.push_str(&format!(
            "| `{}` | {} | {} | [proofs/{}.md](proofs/{}.md) | {} |\n",
            i.id,
            cell(i.paper_ref),
            cell(i.statement),
            i.id,
            i.id,
            if c.built() { "yes" } else { "not yet" }
        ));
    }
    o
}

/// `1234567` as `1,234,567`.
fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut o = String::new();
    for (k, ch) in s.chars().enumerate() {
        if k > 0 && (s.len() - k).is_multiple_of(3) {
            o.push(',');
        }
        o.push(ch);
    }
    o
}

/// The DP comparison table from measured configurations.
pub fn dp_table_from(rows: &[Comparison]) -> String {
    let mut o = String::from(
        "| configuration | T (largest) | state at T | ops, last token | total ops | log-log slope of total ops vs T (T range) |\n|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let (Some(first), Some(last)) = (r.points.first(), r.last()) else {
            continue;
        };
        o.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:.2} ({}–{}, {} sizes) |\n",
            cell(&r.label),
            last.t,
            grouped(last.state as u64),
            grouped(last.ops_last),
            grouped(last.total_ops),
            r.total_slope(),
            first.t,
            last.t,
            r.points.len()
        ));
    }
    o
}

/// The DP comparison table, measured now (f64; seconds in release).
pub fn dp_table(seed: u64) -> Result<String> {
    Ok(dp_table_from(&comparison(seed)?))
}

/// The title of a figure: the first `<text>` element of its SVG.
pub fn svg_title(svg: &str) -> Option<String> {
    let start = svg.find("<text")?;
    let open_end = start + svg[start..].find('>')? + 1;
    let close = open_end + svg[open_end..].find("</text>")?;
    let t = svg[open_end..close].trim();
    Some(
        t.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&"),
    )
}

/// The figure list: every `*.svg` in `dir`, sorted, with its title, named as the README links
/// them (`figures/<name>`).
pub fn figure_list(dir: &Path) -> Result<String> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io_at("read", dir, e))?;
    let mut names: Vec<String> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".svg"))
        .collect();
    names.sort();
    let mut o = String::from("| figure | title |\n|---|---|\n");
    for n in names {
        let path = dir.join(&n);
        let svg = std::fs::read_to_string(&path).map_err(|e| Error::io_at("read", &path, e))?;
        let title = svg_title(&svg).ok_or_else(|| {
            Error::input(format!(
                "{} has no title (no <text> element)",
                path.display()
            ))
        })?;
        o.push_str(&format!("| `figures/{n}` | {} |\n", cell(&title)));
    }
    Ok(o)
}

/// `readme` with the section `name` replaced by `content` (the markers must be present once).
pub fn replace_section(readme: &str, name: &str, content: &str) -> Result<String> {
    let (b, e) = (begin(name), end(name));
    let missing = || {
        Error::input(format!(
            "README has no generated section `{name}`: add the lines `{b}` and `{e}` where it goes"
        ))
    };
    let start = readme.find(&b).ok_or_else(missing)? + b.len();
    let stop = start + readme[start..].find(&e).ok_or_else(missing)?;
    if readme[stop + e.len()..].contains(&b) {
        return Err(Error::input(format!(
            "README has the section `{name}` twice"
        )));
    }
    Ok(format!(
        "{}\n{}{}",
        &readme[..start],
        content,
        &readme[stop..]
    ))
}

/// The current content of section `name` (between its markers, without the leading newline).
pub fn section<'a>(readme: &'a str, name: &str) -> Option<&'a str> {
    let (b, e) = (begin(name), end(name));
    let start = readme.find(&b)? + b.len();
    let stop = start + readme[start..].find(&e)?;
    Some(
        readme[start..stop]
            .strip_prefix('\n')
            .unwrap_or(&readme[start..stop]),
    )
}

/// Generate every section (`claims`, `dp-table`, `figures`) with `figures` the figure directory.
pub fn generate(figures: &Path, seed: u64) -> Result<Vec<(&'static str, String)>> {
    Ok(vec![
        ("claims", claim_table()),
        ("dp-catalog", crate::dp::catalog::catalog_table()?),
        ("dp-table", dp_table(seed)?),
        ("figures", figure_list(figures)?),
        (
            "hf-table",
            hf_table::readme_table(Path::new("docs/hf-measured.json"))?,
        ),
    ])
}

/// `freelunch readme [--check]`: rewrite (or, with `check`, compare) the generated sections of
/// the README at `path`. Returns the names of the sections that differ (empty: up to date).
pub fn command(path: &Path, figures: &Path, seed: u64, check: bool) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io_at("read", path, e))?;
    let mut out = text.clone();
    let mut differ = Vec::new();
    for (name, content) in generate(figures, seed)? {
        if section(&out, name) != Some(content.as_str()) {
            differ.push(name.to_string());
        }
        out = replace_section(&out, name, &content)?;
    }
    if !check && out != text {
        crate::report::write_atomic(path, out.as_bytes())?;
    }
    Ok(differ)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_replaced_between_markers_only() {
        let doc = format!("a\n{}\nold\n{}\nz\n", begin("claims"), end("claims"));
        let new = replace_section(&doc, "claims", "new\n").unwrap();
        assert_eq!(section(&new, "claims"), Some("new\n"));
        assert!(new.starts_with("a\n") && new.ends_with("z\n"));
        assert!(replace_section("no markers", "claims", "x").is_err());
        let twice = format!("{doc}{doc}");
        assert!(replace_section(&twice, "claims", "x").is_err());
    }

    #[test]
    fn titles_and_numbers_are_rendered() {
        let svg = "<svg><rect/><text x=\"1\">\nA &amp; B: slope 2.03\n</text><text>y</text></svg>";
        assert_eq!(svg_title(svg).as_deref(), Some("A & B: slope 2.03"));
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(grouped(12), "12");
        assert_eq!(cell("a|b"), "a\\|b");
    }
}
