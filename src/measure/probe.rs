//! The one decoding probe: feed a prompt, then at each output position look at the residual and the
//! logits, and feed either the decoded token (greedy) or the wanted one (teacher-forced). A
//! [`Tally`] counts decoding errors, read errors and logit margins, measured or certified.

use crate::model::{Model, Runner};
use crate::num::{Ball, Enclosure, Scalar};
use rug::Float;

/// What is fed after an output position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feed {
    /// The argmax token (greedy decoding).
    Greedy,
    /// The wanted token (teacher forcing: the run greedy decoding performs whenever it is right).
    Teacher,
}

/// Run `model` on `prompt`, then produce `wants.len()` outputs: at output `q` (0-based), `visit`
/// sees the runner (residual and logits of the last fed position) and the wanted token; then the
/// next token is fed (none after the last output). Returns the decoded (argmax) tokens and the
/// operations counted.
pub fn probe<S: Scalar>(
    model: &Model<S>,
    prompt: &[usize],
    wants: &[usize],
    feed: Feed,
    mut visit: impl FnMut(usize, &Runner<'_, S>, usize),
) -> (Vec<usize>, u64) {
    let mut r = model.runner();
    for &tok in prompt {
        r.feed(tok);
    }
    let mut decoded = Vec::with_capacity(wants.len());
    for (q, &want) in wants.iter().enumerate() {
        visit(q, &r, want);
        let top = r.argmax().0;
        decoded.push(top);
        let tok = match feed {
            Feed::Greedy => top,
            Feed::Teacher => want,
        };
        if q + 1 < wants.len() {
            r.feed(tok);
        }
    }
    (decoded, r.ops)
}

/// Teacher-forced check of a reference output: the smallest `logit_want − max other logit` over
/// the outputs `expected` after `prompt` (negative where the model would decode another token)
/// and its output position (0-based).
pub fn reference_margin<S: Scalar>(
    model: &Model<S>,
    prompt: &[usize],
    expected: &[usize],
) -> (f64, usize) {
    let mut tally = Tally::new(expected.len(), 64);
    probe(model, prompt, expected, Feed::Teacher, |q, r, want| {
        tally.measure(q, r, want)
    });
    tally.min_want_margin
}

/// Errors and margins over the output positions of a probe.
#[derive(Clone, Debug)]
pub struct Tally {
    pub outputs: usize,
    /// Positions whose argmax is not the wanted token.
    pub wrong: usize,
    /// Smallest argmax margin (largest minus second logit; log10, −∞ when ≤ 0).
    pub min_margin_log10: f64,
    /// Smallest `logit_want − max_{j≠want} logit_j` (in f64; negative where another token wins)
    /// and its output position.
    pub min_want_margin: (f64, usize),
    /// Largest `log10 |read − want|` (∞ when not finite).
    pub max_read_error_log10: f64,
    /// Positions whose wanted logit is certainly above every other (certified decoding).
    pub certified: usize,
    /// Positions where another token certainly wins (a certified decoding error).
    pub certainly_wrong: usize,
    /// Smallest lower end of `logit_want − logit_j` over positions and `j ≠ want`.
    pub min_margin_lower: Float,
    /// Smallest upper end of the same: `[min_margin_lower, min_margin_upper]` encloses the
    /// smallest margin.
    pub min_margin_upper: Float,
    /// Largest upper end of `|read − want|`.
    pub max_read_error_upper: Float,
}

impl Tally {
    /// An empty tally for `outputs` positions, its certified extremes at `prec` bits.
    pub fn new(outputs: usize, prec: u32) -> Self {
        Tally {
            outputs,
            wrong: 0,
            min_margin_log10: f64::INFINITY,
            min_want_margin: (f64::INFINITY, 0),
            max_read_error_log10: f64::NEG_INFINITY,
            certified: 0,
            certainly_wrong: 0,
            min_margin_lower: Float::with_val(prec, rug::float::Special::Infinity),
            min_margin_upper: Float::with_val(prec, rug::float::Special::Infinity),
            max_read_error_upper: Float::with_val(prec, 0),
        }
    }

    /// Record output position `q` of a run in point arithmetic: the argmax and its margin, and
    /// the wanted token's margin.
    pub fn measure<S: Scalar>(&mut self, q: usize, r: &Runner<'_, S>, want: usize) {
        let (tok, margin) = r.argmax();
        // an overlap of the top two (a ball margin reaching 0) is no margin
        let ml = if !margin.certainly_gt(&S::zero(margin.precision())) {
            f64::NEG_INFINITY
        } else {
            margin.log10_abs()
        };
        self.min_margin_log10 = self.min_margin_log10.min(ml);
        if tok != want {
            self.wrong += 1;
        }
        let best_other = (r.logits.iter().enumerate())
            .filter(|(i, _)| *i != want)
            .map(|(_, l)| l.to_f64())
            .fold(f64::NEG_INFINITY, f64::max);
        let m = r.logits[want].to_f64() - best_other;
        if m < self.min_want_margin.0 {
            self.min_want_margin = (m, q);
        }
    }

    /// Record the read error `read − want` of a run in point arithmetic.
    pub fn measure_read<S: Scalar>(&mut self, err: &S) {
        let el = if err.is_finite() {
            err.log10_abs()
        } else {
            f64::INFINITY
        };
        self.max_read_error_log10 = self.max_read_error_log10.max(el);
    }

    /// Record an output position of a certified run (balls or intervals): certified when the lower end of
    /// every `logit_want − logit_j` is positive, certainly wrong when one is certainly negative.
    pub fn certify<E: Enclosure>(&mut self, r: &Runner<'_, E>, want: usize) {
        let mut min_lower: Option<Float> = None;
        let mut wrong = false;
        for (j, l) in r.logits.iter().enumerate() {
            if j == want {
                continue;
            }
            let m = r.logits[want].sub(l).enclosure();
            wrong |= m.certainly_negative();
            let (lo, up) = (m.lower(), m.upper());
            if min_lower.as_ref().is_none_or(|x| lo < *x) {
                min_lower = Some(lo);
            }
            if up < self.min_margin_upper {
                self.min_margin_upper = up;
            }
        }
        let min_lower =
            min_lower.unwrap_or_else(|| Float::with_val(self.min_margin_lower.prec(), 1));
        if min_lower > 0 {
            self.certified += 1;
        }
        if wrong {
            self.certainly_wrong += 1;
        }
        if min_lower < self.min_margin_lower {
            self.min_margin_lower = min_lower;
        }
    }

    /// Record a certified read error enclosure `|read − want|`.
    pub fn certify_read(&mut self, err: &Ball) {
        let up = err.upper();
        if up > self.max_read_error_upper {
            self.max_read_error_upper = up;
        }
    }

    /// Every output decoded as wanted (in point arithmetic).
    pub fn exact(&self) -> bool {
        self.wrong == 0
    }

    /// Every output certified.
    pub fn decoding_certified(&self) -> bool {
        self.certified == self.outputs
    }

    /// An enclosure of the smallest margin `logit_want − logit_j` (certified runs): decoding is
    /// certified exactly when it is certainly `> 0`.
    pub fn min_margin(&self) -> Ball {
        let prec = self.min_margin_lower.prec();
        if self.min_margin_lower.is_infinite() && self.min_margin_upper.is_infinite() {
            // no other token (or no output): nothing can beat the wanted one
            return Ball::one(prec);
        }
        Ball::from_endpoints(&self.min_margin_lower, &self.min_margin_upper, prec)
    }
}
