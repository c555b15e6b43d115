//! Numbers quoted in `proofs/` (and so in `freelunch explain`, which prints those files) are the
//! ones `verify` measures: each is recomputed here from the registry with the default settings.

use freelunch::claims::{self, RunConfig};

/// `N of M` right before `marker` in `text` (the last two numbers before it).
fn count_before(text: &str, marker: &str) -> Option<(usize, usize)> {
    let head = &text[..text.find(marker)?];
    let nums: Vec<usize> = head
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect();
    match nums[..] {
        [.., n, m] => Some((n, m)),
        _ => None,
    }
}

#[test]
fn copy_const_random_instances_below_the_necessary_threshold_match_verify() {
    let r = claims::run_timed(
        claims::find("copy-const").unwrap().as_ref(),
        &RunConfig::default(),
    )
    .unwrap();
    let note = r
        .notes
        .iter()
        .find(|n| n.contains("reach ε below the necessary threshold"))
        .expect("verify reports the random instances below the threshold");
    let measured = count_before(note, " reach ε below").expect("N of M in the note");
    let proof = include_str!("../proofs/copy-const.md").replace('\n', " ");
    let quoted = count_before(&proof, " random instances do)").expect("N of M in the proof");
    assert_eq!(
        quoted, measured,
        "proofs/copy-const.md quotes {quoted:?}, the default verify measures {measured:?}"
    );
    assert!(claims::find("copy-const")
        .unwrap()
        .explain()
        .contains(&format!("{} of {}", measured.0, measured.1)));
}
