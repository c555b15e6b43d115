//! The f64 interval tier ([`Interval`]) encloses: on adversarial operands (small integers, thirds,
//! powers of two, wide exponents, near overflow, subnormals, signed zeros, infinities) the result
//! of every operation contains the exact result at every sampled point of its operands (MPFR, exact
//! for `+ − ×`, 600 bits otherwise). Controls: the same check flags intervals that only round to
//! nearest; exact integer arithmetic stays points; an inexact quotient is one ulp wide.

use freelunch::num::{Interval, Scalar};
use freelunch::rng::Rng;
use rug::{float::Constant, Float};

const EXACT_BITS: u32 = 2200;
const REF_BITS: u32 = 600;

/// An adversarial f64.
fn operand(rng: &mut Rng) -> f64 {
    let sign = if rng.below(2) == 0 { 1.0 } else { -1.0 };
    sign * match rng.below(10) {
        0 => rng.below(40) as f64,
        1 => 1.0 / 3.0 * (1 + rng.below(9)) as f64,
        2 => 2f64.powi(rng.below(200) as i32 - 100),
        3 => rng.uniform(-1.0, 1.0) * 2f64.powi(rng.below(120) as i32 - 60),
        4 => rng.uniform(1.0, 2.0) * 1e307,
        5 => rng.uniform(0.0, 1.0) * 1e-308,
        6 => 0.0,
        7 => f64::INFINITY,
        8 => rng.uniform(-40.0, 40.0),
        _ => rng.uniform(-1.0, 1.0),
    }
}

/// A point, a few-ulp interval or a wide interval around adversarial ends.
fn interval(rng: &mut Rng) -> Interval {
    let a = operand(rng);
    match rng.below(3) {
        0 => Interval::from_f64(a, 53),
        1 => {
            let mut b = a;
            for _ in 0..rng.below(4) + 1 {
                b = b.next_up();
            }
            Interval::new(a, b)
        }
        _ => Interval::new(a, operand(rng)),
    }
}

/// The ends and the midpoint (when finite) as exact MPFR values.
fn samples(x: &Interval) -> Vec<Float> {
    let mut v = vec![Float::with_val(53, x.lo()), Float::with_val(53, x.hi())];
    let m = 0.5 * x.lo() + 0.5 * x.hi();
    if m.is_finite() && m >= x.lo() && m <= x.hi() {
        v.push(Float::with_val(53, m));
    }
    v
}

fn sigmoid(x: &Float) -> Float {
    let e = Float::with_val(REF_BITS, -x).exp();
    Float::with_val(REF_BITS, 1) / (Float::with_val(REF_BITS, 1) + e)
}

/// `max(x, 0) + ln1p(e^{−|x|})` (MPFR's exponent range would overflow `e^x` far out).
fn softplus(x: &Float) -> Float {
    let t = Float::with_val(REF_BITS, -x.clone().abs()).exp().ln_1p();
    Float::with_val(REF_BITS, x.clone().max(&Float::new(53)) + t)
}

fn normal_cdf(x: &Float) -> Float {
    let s2 = Float::with_val(REF_BITS, 2).sqrt();
    let t = Float::with_val(REF_BITS, -x) / s2;
    t.erfc() / 2
}

type Unary = (&'static str, fn(&mut Interval), fn(&Float) -> Float);
type Binary = (
    &'static str,
    fn(&Interval, &Interval) -> Interval,
    fn(&Float, &Float) -> Float,
);

const UNARY: [Unary; 13] = [
    ("neg", |x| x.neg_mut(), |x| Float::with_val(53, -x)),
    ("abs", |x| x.abs_mut(), |x| Float::with_val(53, x.abs_ref())),
    (
        "exp",
        |x| x.exp_mut(),
        |x| Float::with_val(REF_BITS, x).exp(),
    ),
    ("ln", |x| x.ln_mut(), |x| Float::with_val(REF_BITS, x).ln()),
    (
        "ln_1p",
        |x| x.ln_1p_mut(),
        |x| Float::with_val(REF_BITS, x).ln_1p(),
    ),
    (
        "sqrt",
        |x| x.sqrt_mut(),
        |x| Float::with_val(REF_BITS, x).sqrt(),
    ),
    (
        "erf",
        |x| x.erf_mut(),
        |x| Float::with_val(REF_BITS, x).erf(),
    ),
    (
        "erfc",
        |x| x.erfc_mut(),
        |x| Float::with_val(REF_BITS, x).erfc(),
    ),
    (
        "relu",
        |x| x.relu_mut(),
        |x| Float::with_val(53, x.clone().max(&Float::new(53))),
    ),
    ("sigmoid", |x| x.sigmoid_mut(), sigmoid),
    ("softplus", |x| x.softplus_mut(), softplus),
    (
        "silu",
        |x| x.silu_mut(),
        |x| Float::with_val(REF_BITS, x * sigmoid(x)),
    ),
    (
        "gelu",
        |x| x.gelu_mut(),
        |x| Float::with_val(REF_BITS, x * normal_cdf(x)),
    ),
];

const BINARY: [Binary; 6] = [
    (
        "add",
        |a, b| a.add(b),
        |a, b| Float::with_val(EXACT_BITS, a + b),
    ),
    (
        "sub",
        |a, b| a.sub(b),
        |a, b| Float::with_val(EXACT_BITS, a - b),
    ),
    (
        "mul",
        |a, b| a.mul(b),
        |a, b| Float::with_val(EXACT_BITS, a * b),
    ),
    (
        "div",
        |a, b| a.div(b),
        |a, b| Float::with_val(REF_BITS, a / b),
    ),
    (
        "max",
        |a, b| a.max_s(b),
        |a, b| Float::with_val(53, a.max_ref(b)),
    ),
    (
        "min",
        |a, b| a.min_s(b),
        |a, b| Float::with_val(53, a.min_ref(b)),
    ),
];

/// Whether `r` holds the exact value `v` (an undefined exact value asks nothing).
fn holds(r: &Interval, v: &Float) -> bool {
    v.is_nan() || (!r.is_nan() && *v >= r.lo() && *v <= r.hi())
}

/// Check that `r` holds every exact value; where the operation is undefined at some sampled
/// point (a NaN exact value, e.g. ∞ − ∞, or a quotient by an interval holding 0), a NaN result
/// (no enclosure claimed) is accepted.
fn judge(
    r: &Interval,
    values: Vec<(String, Float)>,
    undefined: bool,
    checks: &mut usize,
    escapes: &mut Vec<String>,
) {
    let undefined = undefined || values.iter().any(|(_, v)| v.is_nan());
    for (what, v) in values {
        *checks += 1;
        if !(holds(r, &v) || undefined && r.is_nan()) {
            escapes.push(format!("{what} = {v} ∉ {r:?}"));
        }
    }
}

/// Checks run and escapes found over `rounds` random operand sets, with `bin` computing the
/// binary operations (the tier's own, or a control).
fn sweep(
    rounds: usize,
    bin: &dyn Fn(usize, &Interval, &Interval) -> Interval,
) -> (usize, Vec<String>) {
    let mut rng = Rng::new(2410_03810).stream("interval-enclosure");
    let (mut checks, mut escapes) = (0, Vec::new());
    for _ in 0..rounds {
        let (a, b, c) = (interval(&mut rng), interval(&mut rng), interval(&mut rng));
        for (name, f, exact) in UNARY {
            let mut r = a;
            f(&mut r);
            let values = samples(&a)
                .into_iter()
                .map(|x| (format!("{name}({x})"), exact(&x)));
            judge(&r, values.collect(), false, &mut checks, &mut escapes);
        }
        for (k, (name, _, exact)) in BINARY.iter().enumerate() {
            let r = bin(k, &a, &b);
            let mut values = Vec::new();
            for x in samples(&a) {
                for y in samples(&b) {
                    values.push((format!("{name}({x}, {y})"), exact(&x, &y)));
                }
            }
            // a quotient by an interval holding 0 is undefined
            let by_zero = *name == "div" && b.lo() <= 0.0 && b.hi() >= 0.0;
            judge(&r, values, by_zero, &mut checks, &mut escapes);
        }
        // c + a·b, and c·a + b·a
        let mut fma = c;
        fma.mul_add_assign(&a, &b);
        let mut fmma = c;
        fmma.mul_add_mul_assign(&a, &b, &a);
        let (mut v_fma, mut v_fmma) = (Vec::new(), Vec::new());
        for x in samples(&a) {
            for y in samples(&b) {
                for z in samples(&c) {
                    let xy = Float::with_val(EXACT_BITS, &x * &y);
                    v_fma.push((
                        format!("{z} + {x}·{y}"),
                        Float::with_val(EXACT_BITS, &z + &xy),
                    ));
                    let zx = Float::with_val(EXACT_BITS, &z * &x);
                    let yx = Float::with_val(EXACT_BITS, &y * &x);
                    v_fmma.push((
                        format!("{z}·{x} + {y}·{x}"),
                        Float::with_val(EXACT_BITS, &zx + &yx),
                    ));
                }
            }
        }
        judge(&fma, v_fma, false, &mut checks, &mut escapes);
        judge(&fmma, v_fmma, false, &mut checks, &mut escapes);
    }
    (checks, escapes)
}

#[test]
fn every_operation_encloses_the_exact_result() {
    let (checks, escapes) = sweep(1500, &|k, a, b| BINARY[k].1(a, b));
    assert!(checks > 40_000, "only {checks} checks");
    assert!(
        escapes.is_empty(),
        "{} of {checks} escape, e.g. {:?}",
        escapes.len(),
        &escapes[..escapes.len().min(5)]
    );
}

#[test]
fn the_check_flags_intervals_rounded_to_nearest() {
    let nearest = |k: usize, a: &Interval, b: &Interval| {
        let ends = |f: fn(f64, f64) -> f64| {
            let v = [
                f(a.lo(), b.lo()),
                f(a.lo(), b.hi()),
                f(a.hi(), b.lo()),
                f(a.hi(), b.hi()),
            ];
            Interval::new(
                v.iter().copied().fold(f64::INFINITY, f64::min),
                v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            )
        };
        match k {
            0 => ends(|x, y| x + y),
            1 => ends(|x, y| x - y),
            2 => ends(|x, y| x * y),
            _ => BINARY[k].1(a, b),
        }
    };
    let (_, escapes) = sweep(300, &nearest);
    for op in ["add", "sub", "mul"] {
        assert!(
            escapes.iter().any(|e| e.starts_with(op)),
            "round-to-nearest {op} was never caught"
        );
    }
}

#[test]
fn exact_results_stay_points_and_inexact_ones_are_one_ulp_wide() {
    let mut acc = Interval::zero(53);
    for k in 1..=1000i64 {
        acc.mul_add_assign(&Interval::from_i64(k, 53), &Interval::from_i64(k - 500, 53));
    }
    let want: i64 = (1..=1000i64).map(|k| k * (k - 500)).sum();
    assert_eq!((acc.lo(), acc.hi()), (want as f64, want as f64));
    let third = Interval::from_ratio(1, 3, 53);
    assert_eq!(third.hi(), third.lo().next_up());
    assert!(third.contains(&(Float::with_val(REF_BITS, 1) / 3)));
    let pi = Interval::pi(53);
    assert!(pi.contains(&Float::with_val(REF_BITS, Constant::Pi)));
    // i64::MAX is not an f64: its interval is two ulps wide and holds it
    let big = Interval::from_i64(i64::MAX, 53);
    assert!(big.lo() < big.hi());
    assert!(big.contains(&Float::with_val(64, i64::MAX)));
}
