//! The model reader against mutated exports: real models (DP models on every memory, COPY
//! blocks, lemma gadgets) are exported, then numbers, shapes and fields are mutated, fields
//! deleted, arrays shortened or repeated and bytes truncated. The reader must return an error or
//! a model that runs within the stated limits, quickly, without a panic (docs/export.md, Limits).
//!
//! Case counts: [`CASES`] mutated exports in `mutated_exports_are_refused_or_run_quickly` and
//! [`TRUNCATIONS`] truncated files in `truncated_exports_are_refused`.

mod common;

use freelunch::claims;
use freelunch::dp::{self, MemoryKind, Options};
use freelunch::error::{Error, ModelError};
use freelunch::export::limits::{MAX_DIM, MAX_POSITIONS};
use freelunch::export::run::{Options as RunOptions, Plan};
use freelunch::export::{self, examples::dp_decoding};
use freelunch::model::Activation;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::cell::Cell;
use std::time::{Duration, Instant};

/// Mutated exports run by the fuzz test.
const CASES: u32 = 3000;
/// Truncated files parsed by the truncation test.
const TRUNCATIONS: u32 = 400;
/// A mutated model that is accepted must run within this time (the real ones take milliseconds).
const QUICK: Duration = Duration::from_secs(10);

/// Exported DP models: (problem, size, memory).
fn dp_export(problem: &str, n: usize, memory: MemoryKind) -> Value {
    let p = dp::catalog::at_size(problem, n).expect("problem");
    let opt = Options::new(memory, Activation::Relu);
    let c = dp::compile::<f64>(p.as_ref(), &opt, 53).expect("compiles");
    let input = p.random_input(&mut freelunch::rng::Rng::new(5));
    export::to_json(&c.model, Some(&dp_decoding(p.as_ref(), &input)))
}

/// The first runnable example of a claim, as `explain --export` writes it.
fn claim_export(id: &str) -> Value {
    let c = claims::find(id).expect("claim");
    let (_, ex) = c.runnable_examples().into_iter().next().expect("example");
    let (model, decoding) = ex.expect("builds");
    export::to_json(&model, decoding.as_ref())
}

fn sources() -> Vec<(String, Value)> {
    let mut v = vec![
        (
            "linrec slot".to_string(),
            dp_export("linrec", 4, MemoryKind::Slot),
        ),
        (
            "edit attention".to_string(),
            dp_export("edit", 2, MemoryKind::Attention),
        ),
        (
            "lis position".to_string(),
            dp_export("lis", 3, MemoryKind::Position),
        ),
    ];
    for id in [
        "copy-const",
        "copy-attn",
        "copy-linear",
        "mlp-mul",
        "gate-mul",
    ] {
        v.push((id.to_string(), claim_export(id)));
    }
    v
}

/// Every JSON pointer into `v` (objects, arrays and leaves).
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                pointers(
                    x,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                pointers(x, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

/// Replacement values: hostile numbers (as JSON numbers and as decimal strings), wrong types.
fn hostile_values() -> Vec<Value> {
    vec![
        json!(0),
        json!(1),
        json!(-1),
        json!(MAX_DIM + 1),
        json!(1u64 << 32),
        json!(u64::MAX),
        json!(1e12),
        json!(1.5),
        json!(MAX_POSITIONS),
        json!(100_000_000),
        json!("1e400"),
        json!("-1e400"),
        json!("1e-400"),
        json!("nan"),
        json!("inf"),
        json!("0"),
        json!("-0"),
        json!("1e300"),
        json!("abc"),
        json!(""),
        json!("f32"),
        json!(null),
        json!(true),
        json!([]),
        json!({}),
        json!([1e12, 1e12]),
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    /// Replace the value at a pointer.
    Set(usize, usize),
    /// Delete an object field or array element.
    Delete(usize),
    /// Repeat an array's first element (or an object's value, for objects: no-op).
    Repeat(usize),
    /// Scale a dimension-like number by a factor.
    Scale(usize, u64),
}

fn apply(v: &mut Value, ptrs: &[String], m: &Mutation) {
    let ptr = |k: usize| ptrs[k % ptrs.len()].clone();
    match m {
        Mutation::Set(k, val) => {
            let vals = hostile_values();
            if let Some(x) = v.pointer_mut(&ptr(*k)) {
                *x = vals[val % vals.len()].clone();
            }
        }
        Mutation::Delete(k) => {
            let p = ptr(*k);
            let Some((parent, last)) = p.rsplit_once('/') else {
                return;
            };
            match v.pointer_mut(parent) {
                Some(Value::Object(o)) => {
                    o.remove(&last.replace("~1", "/").replace("~0", "~"));
                }
                Some(Value::Array(a)) => {
                    if let Ok(i) = last.parse::<usize>() {
                        if i < a.len() {
                            a.remove(i);
                        }
                    }
                }
                _ => {}
            }
        }
        Mutation::Repeat(k) => {
            if let Some(Value::Array(a)) = v.pointer_mut(&ptr(*k)) {
                if let Some(first) = a.first().cloned() {
                    a.push(first);
                }
            }
        }
        Mutation::Scale(k, f) => {
            if let Some(x) = v.pointer_mut(&ptr(*k)) {
                if let Some(n) = x.as_u64() {
                    *x = json!(n.saturating_mul(*f));
                }
            }
        }
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), any::<usize>()).prop_map(|(k, v)| Mutation::Set(k, v)),
        2 => any::<usize>().prop_map(Mutation::Delete),
        1 => any::<usize>().prop_map(Mutation::Repeat),
        2 => (any::<usize>(), prop_oneof![Just(2u64), Just(1 << 16), Just(1 << 32), Just(u64::MAX)])
            .prop_map(|(k, f)| Mutation::Scale(k, f)),
    ]
}

/// Read and run one (possibly mutated) export as `freelunch run` would, then record its trace
/// as `freelunch trace` would.
fn read_and_run(v: Value) -> Result<(), Error> {
    let plan = Plan::new(v, &RunOptions::default())?;
    plan.run()?;
    plan.trace()?;
    Ok(())
}

#[test]
fn mutated_exports_are_refused_or_run_quickly() {
    let sources = sources();
    let ptrs: Vec<Vec<String>> = sources
        .iter()
        .map(|(_, v)| {
            let mut p = Vec::new();
            pointers(v, String::new(), &mut p);
            p
        })
        .collect();
    // The unmutated sources run: the fuzz starts from working models.
    for (name, v) in &sources {
        assert!(read_and_run(v.clone()).is_ok(), "{name} does not run");
    }
    let (ran, refused, slowest) = (Cell::new(0u32), Cell::new(0u32), Cell::new(Duration::ZERO));
    let mut runner = common::runner(CASES);
    let strategy = (
        0..sources.len(),
        proptest::collection::vec(mutation(), 1..4),
    );
    runner
        .run(&strategy, |(s, muts)| {
            let mut v = sources[s].1.clone();
            for m in &muts {
                apply(&mut v, &ptrs[s], m);
            }
            let t0 = Instant::now();
            let r = read_and_run(v);
            let took = t0.elapsed();
            slowest.set(slowest.get().max(took));
            prop_assert!(took < QUICK, "{} with {muts:?} took {took:?}", sources[s].0);
            match r {
                Ok(_) => ran.set(ran.get() + 1),
                Err(e) => {
                    refused.set(refused.get() + 1);
                    let msg = e.to_string();
                    prop_assert!(
                        !msg.is_empty() && !msg.contains('\n'),
                        "one sentence: `{msg}`"
                    );
                }
            }
            Ok(())
        })
        .unwrap();
    let (ran, refused, slowest) = (ran.get(), refused.get(), slowest.get());
    eprintln!(
        "{CASES} mutated exports: {ran} ran within the limits, {refused} refused; slowest {slowest:?}"
    );
    assert_eq!(ran + refused, CASES);
    assert!(refused > CASES / 4, "the mutations must hit the checks");
}

#[test]
fn truncated_exports_are_refused() {
    let text = serde_json::to_string(&dp_export("linrec", 4, MemoryKind::Slot)).unwrap();
    let mut runner = common::runner(TRUNCATIONS);
    runner
        .run(&(1..text.len()), |cut| {
            // A truncated file is not JSON, so the reader never sees it; when a cut leaves valid
            // JSON (it cannot here: the text is one object), it must still be refused or run.
            match serde_json::from_str::<Value>(&text[..cut]) {
                Err(_) => {}
                Ok(v) => {
                    let _ = read_and_run(v);
                }
            }
            Ok(())
        })
        .unwrap();
}

// ---------------------------------------------------------------- the listed inputs

fn linrec() -> Value {
    dp_export("linrec", 4, MemoryKind::Slot)
}

fn ssm_index(v: &Value) -> usize {
    common::layer_of_kind(v, "ssm")
}

fn refused(v: Value) -> ModelError {
    match read_and_run(v) {
        Err(Error::Model(e)) => e,
        other => panic!("expected a model error, got {other:?}"),
    }
}

#[test]
fn ssm_state_zero_is_out_of_range() {
    let mut v = linrec();
    let k = ssm_index(&v);
    v["layers"][k]["state"] = json!(0);
    assert!(
        matches!(refused(v), ModelError::OutOfRange { ref name, ref value, .. } if name.ends_with(".state") && value == "0")
    );
}

#[test]
fn ssm_channels_zero_is_out_of_range() {
    let mut v = linrec();
    let k = ssm_index(&v);
    v["layers"][k]["channels"] = json!(0);
    assert!(
        matches!(refused(v), ModelError::OutOfRange { ref name, .. } if name.ends_with(".channels"))
    );
}

#[test]
fn channels_and_state_2_pow_32_are_refused_not_wrapped() {
    let mut v = linrec();
    let k = ssm_index(&v);
    v["layers"][k]["channels"] = json!(1u64 << 32);
    v["layers"][k]["state"] = json!(1u64 << 32);
    assert!(matches!(refused(v), ModelError::OutOfRange { .. }));
    // Within the per-dimension limit, the product is checked against the memory limit.
    let mut v = linrec();
    v["layers"][k]["channels"] = json!(MAX_DIM);
    v["layers"][k]["state"] = json!(MAX_DIM);
    assert!(matches!(refused(v), ModelError::TooLarge { .. }));
}

#[test]
fn head_size_1e12_is_refused_before_allocating() {
    let mut v = dp_export("edit", 2, MemoryKind::Attention);
    let k = common::layer_of_kind(&v, "attention");
    v["layers"][k]["heads"][0]["w_q"]["shape"][0] = json!(1_000_000_000_000u64);
    assert!(
        matches!(refused(v), ModelError::OutOfRange { ref name, .. } if name.contains("w_q.shape"))
    );
}

#[test]
fn residual_width_1e12_and_1e8_are_refused() {
    for w in [1_000_000_000_000u64, 100_000_000] {
        let mut v = linrec();
        v["residual"]["width"] = json!(w);
        let t0 = Instant::now();
        assert!(
            matches!(refused(v), ModelError::OutOfRange { ref name, .. } if name == "residual.width")
        );
        assert!(t0.elapsed() < Duration::from_secs(1));
    }
}

#[test]
fn decoding_generate_1e12_is_out_of_range() {
    let mut v = linrec();
    v["decoding"]["generate"] = json!(1_000_000_000_000u64);
    assert!(
        matches!(refused(v), ModelError::OutOfRange { ref name, .. } if name == "decoding.generate")
    );
}

#[test]
fn run_generate_100000000_and_0_are_out_of_range() {
    for g in [100_000_000, 0] {
        let o = RunOptions {
            generate: Some(g),
            ..RunOptions::default()
        };
        match Plan::new(linrec(), &o) {
            Err(Error::Model(ModelError::OutOfRange { name, .. })) => {
                assert_eq!(name, "--generate")
            }
            other => panic!("--generate {g}: {:?}", other.err()),
        }
    }
    // The largest generation the context allows is accepted.
    let prompt = linrec()["decoding"]["prompt"].as_array().unwrap().len();
    let o = RunOptions {
        generate: Some(MAX_POSITIONS - prompt),
        ..RunOptions::default()
    };
    assert!(Plan::new(linrec(), &o).is_ok());
}

#[test]
fn weight_1e400_in_an_f64_model_is_not_finite_but_fits_mpfr() {
    let mut v = linrec();
    v["readout_bias"][0] = json!("1e400");
    assert!(
        matches!(refused(v.clone()), ModelError::NotFinite { ref name, .. } if name == "readout_bias[0]")
    );
    // 1e400 is finite at MPFR precisions: the check is after rounding, not before.
    let o = RunOptions {
        arith: Some(freelunch::num::Arith::mpfr(64)),
        ..RunOptions::default()
    };
    assert!(Plan::new(v, &o).and_then(|p| p.run()).is_ok());
}

#[test]
fn arithmetic_kind_f32_is_unknown() {
    let mut v = linrec();
    v["arithmetic"]["kind"] = json!("f32");
    assert!(
        matches!(Plan::new(v, &RunOptions::default()), Err(Error::Model(ModelError::Unknown { ref value, .. })) if value == "f32")
    );
}

#[test]
fn empty_model_collection_is_malformed() {
    let v = json!({"format": export::COLLECTION_FORMAT, "schema_version": 1, "claim": "x", "models": []});
    assert!(matches!(
        export::pick(v.clone(), None),
        Err(Error::Model(ModelError::Malformed(_)))
    ));
    assert!(matches!(
        export::pick(v, Some("0")),
        Err(Error::Model(ModelError::Malformed(_)))
    ));
}

#[test]
fn pick_minus_1_is_out_of_range() {
    let one = claim_export("mlp-mul");
    let v = json!({"format": export::COLLECTION_FORMAT, "schema_version": 1, "claim": "x", "models": [one.clone(), one]});
    assert!(matches!(
        export::pick(v, Some("-1")),
        Err(Error::Model(ModelError::OutOfRange { ref name, .. })) if name == "--pick"
    ));
}
