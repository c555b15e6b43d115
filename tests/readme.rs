//! The README's generated sections equal what `freelunch readme` writes: the claim table (from
//! the registry), the figure list (from `figures/*.svg`) and the DP comparison table, recomputed
//! in full by the same function and seed (it compiles and runs every model of the sweep in f64:
//! about a second).

use freelunch::claims::RunConfig;
use freelunch::readme::{claim_table, dp_table, figure_list, section};
use std::path::Path;

fn readme() -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    std::fs::read_to_string(p).unwrap()
}

#[test]
fn readme_claim_table_is_generated_from_the_registry() {
    let text = readme();
    assert_eq!(
        section(&text, "claims"),
        Some(claim_table().as_str()),
        "README claim table differs: run `cargo run --release -- readme`"
    );
}

#[test]
fn readme_figure_list_matches_the_figures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("figures");
    let text = readme();
    let want = figure_list(&dir).unwrap();
    assert_eq!(
        section(&text, "figures"),
        Some(want.as_str()),
        "README figure list differs: run `cargo run --release -- readme`"
    );
}

#[test]
fn readme_dp_table_is_measured() {
    let text = readme();
    assert_eq!(
        section(&text, "dp-table"),
        Some(dp_table(RunConfig::default().seed).unwrap().as_str()),
        "README DP table differs: run `cargo run --release -- readme`"
    );
}

/// A hand edit inside a generated section is caught by `--check` and undone by a rewrite; a
/// README without the markers is refused with a message.
#[test]
fn readme_check_catches_a_hand_edit_and_rewrite_restores_it() {
    let dir = std::env::temp_dir().join(format!("freelunch-readme-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("README.md");
    let figures = Path::new(env!("CARGO_MANIFEST_DIR")).join("figures");
    let text = readme();
    let table = section(&text, "dp-table").unwrap();
    let edited = text.replacen(table, &table.replacen("| 182 |", "| 181 |", 1), 1);
    assert_ne!(edited, text);
    std::fs::write(&path, &edited).unwrap();
    let seed = RunConfig::default().seed;
    let differ = freelunch::readme::command(&path, &figures, seed, true).unwrap();
    assert_eq!(differ, vec!["dp-table".to_string()]);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        edited,
        "--check wrote"
    );
    freelunch::readme::command(&path, &figures, seed, false).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    std::fs::write(&path, "# no markers\n").unwrap();
    let e = freelunch::readme::command(&path, &figures, seed, true).unwrap_err();
    assert!(e.to_string().contains("no generated section"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
