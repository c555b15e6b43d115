//! `gate-mul` (proofs/gate-mul.md, Mamba-specific): the SiLU output gate multiplies.
//!
//! Two SSM channels carry the same `y` (here through the skip `D = 1`, with `B = 0` so the state
//! stays 0); channel 0 is gated by `SiLU(z + K)`, channel 1 by `SiLU(K)`, and `W_o` writes their
//! difference: `y·(SiLU(z+K) − SiLU(K)) = y·z + e` with the exact error
//! `e = y·(K·σ(−K) − (z+K)·σ(−(z+K)))`. With `ψ(v) = v·σ(−v)`, decreasing for `v ≥ t₁`
//! (`t₁ ≈ 1.2785`, where ψ peaks), `|z| ≤ M` and `K − M ≥ t₁` give `ψ(z+K)` between `ψ(K+M)` and
//! `ψ(K−M)`, so the sharp bound (attained at `z = ±M`) is
//! `|e| ≤ |y|·max(ψ(K−M) − ψ(K), ψ(K) − ψ(K+M)) ≤ |y|·ψ(K−M) ≤ |y|·(K+M)·e^{−(K−M)}`
//! (the original specification states twice the last one).

use super::{check_out_not_input, check_positive};
use crate::error::{Error, Result};
use crate::model::Activation;
use crate::model::{Coord, Gate, Layout, SparseMatrix, SsmLayer};

/// Width of the residual stream of [`GateMul::standalone`].
pub const STANDALONE_WIDTH: usize = 3;
use crate::num::{zeros, Scalar};

/// The gated pair's coordinates and gain.
#[derive(Clone, Debug)]
pub struct GateMul<S> {
    pub y: Coord,
    pub z: Coord,
    pub out: Coord,
    pub gain: S,
}

impl<S: Scalar> GateMul<S> {
    pub fn new(y: Coord, z: Coord, out: Coord, gain: S) -> Result<Self> {
        check_positive("the gate shift K", &gain)?;
        check_out_not_input("gate-mul", &[out.index()], &[y.index(), z.index()])?;
        Ok(GateMul { y, z, out, gain })
    }

    /// The gadget on its own residual stream `[y, z, out]` (width [`STANDALONE_WIDTH`]).
    pub fn standalone(gain: S) -> Result<Self> {
        let mut lay = Layout::new();
        let y = lay.coord("y", "the gated value");
        let z = lay.coord("z", "the gate input");
        let out = lay.coord("out", "≈ y·z");
        Self::new(y, z, out, gain)
    }

    /// The gated SSM layer (2 channels, state 1) on a residual stream of `width` coordinates.
    pub fn layer(&self, name: &str, width: usize, prec: u32) -> Result<SsmLayer<S>> {
        let (y, z, out) = (self.y.index(), self.z.index(), self.out.index());
        for c in [y, z, out] {
            if c >= width {
                return Err(Error::input(format!(
                    "gate-mul: coordinate {c} is outside the residual stream of width {width}"
                )));
            }
        }
        let one = S::one(prec);
        let a = vec![one.neg(), one.neg()];
        let decay = SsmLayer::detect_decay(&a, 2, 1);
        Ok(SsmLayer {
            name: name.to_string(),
            width,
            channels: 2,
            state: 1,
            w_delta: SparseMatrix::zeros(2, width),
            b_delta: zeros(2, prec),
            w_b: SparseMatrix::zeros(1, width),
            w_c: SparseMatrix::zeros(1, width),
            w_u: SparseMatrix::from_entries(
                2,
                width,
                vec![(0, y, one.clone()), (1, y, one.clone())],
            ),
            a,
            d_skip: vec![one.clone(), one.clone()],
            gate: Some(Gate {
                w_z: SparseMatrix::from_entries(2, width, vec![(0, z, one.clone())]),
                b_z: vec![self.gain.clone(), self.gain.clone()],
            }),
            w_o: SparseMatrix::from_entries(
                width,
                2,
                vec![(out, 0, one.clone()), (out, 1, one.neg())],
            ),
            decay,
        })
    }
}

/// The exact error `y·(K·σ(−K) − (z+K)·σ(−(z+K)))` (evaluate at high precision).
pub fn exact_error<S: Scalar>(y: &S, z: &S, gain: &S) -> S {
    let zk = z.add(gain);
    let t1 = gain.mul(&gain.neg().sigmoid());
    let t2 = zk.mul(&zk.neg().sigmoid());
    y.mul(&t1.sub(&t2))
}

/// `ψ(v) = v·σ(−v)`.
pub fn psi<S: Scalar>(v: &S) -> S {
    v.mul(&v.neg().sigmoid())
}

/// The sharp bound the code checks: `|y|·max(ψ(K−M) − ψ(K), ψ(K) − ψ(K+M))`, valid for
/// `|z| ≤ M`, `K − M ≥ t₁`.
pub fn error_bound<S: Scalar>(y: &S, m: &S, gain: &S) -> Result<S> {
    let p = gain.precision();
    let r = gain.sub(m);
    let t1 = super::relu::sup_constant::<S>(Activation::Silu, p).t_star;
    if !r.certainly_ge(&t1) {
        return Err(Error::input(format!(
            "gate-mul's bound needs K − M ≥ t₁ ≈ {:.4} (got K = {}, M = {})",
            t1.to_f64(),
            gain.to_f64(),
            m.to_f64()
        )));
    }
    let pk = psi(gain);
    let below = psi(&r).sub(&pk);
    let above = pk.sub(&psi(&gain.add(m)));
    Ok(y.abs().mul(&below.max_s(&above)))
}

/// the original specification's stated bound `2|y|(K+M)e^{−(K−M)}` (weaker than [`error_bound`]).
pub fn theory_bound<S: Scalar>(y: &S, m: &S, gain: &S) -> S {
    let p = gain.precision();
    y.abs()
        .mul(&S::from_i64(2, p))
        .mul(&gain.add(m))
        .mul(&gain.sub(m).neg().exp())
}
