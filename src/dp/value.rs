//! A rule's transition after parameters are substituted: an integer expression over the read
//! ports ([`VExpr`]), evaluated directly on integers (the spec's own semantics, used by the
//! reference solver) and compiled gadget by gadget into a [`Circuit`] (proofs/dp-problems.md,
//! "Compilation").

use crate::gadgets::{Circuit, Lin};

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// A transition over read ports, with every parameter a constant.
#[derive(Clone, Debug)]
pub enum VExpr {
    Const(i64),
    Read(usize),
    Add(Box<VExpr>, Box<VExpr>),
    Sub(Box<VExpr>, Box<VExpr>),
    /// Multiplication by a constant.
    Scale(i64, Box<VExpr>),
    /// `x mod q`, q ≥ 1 (Euclidean: the result is in `0..q`).
    Mod(Box<VExpr>, i64),
    Min(Box<VExpr>, Box<VExpr>),
    Max(Box<VExpr>, Box<VExpr>),
    /// A comparison: 1 when it holds, else 0.
    Cmp(CmpOp, Box<VExpr>, Box<VExpr>),
    Not(Box<VExpr>),
    And(Box<VExpr>, Box<VExpr>),
    Or(Box<VExpr>, Box<VExpr>),
    /// `if(c, a, b)` for a 0/1 condition c.
    If(Box<VExpr>, Box<VExpr>, Box<VExpr>),
    /// `table[x]`, x in `0..table.len()`.
    Lookup(Box<VExpr>, Vec<i64>),
}

impl VExpr {
    pub fn as_const(&self) -> Option<i64> {
        match self {
            VExpr::Const(v) => Some(*v),
            _ => None,
        }
    }
    /// A 0/1 value: a comparison, a boolean combination, or the constants 0 and 1.
    pub fn is_bool(&self) -> bool {
        match self {
            VExpr::Cmp(..) | VExpr::Not(_) | VExpr::And(..) | VExpr::Or(..) => true,
            VExpr::Const(v) => *v == 0 || *v == 1,
            _ => false,
        }
    }

    /// Evaluate on integer reads. `Err` names what failed (a lookup outside its table).
    pub fn eval(&self, reads: &[i64]) -> Result<i64, String> {
        use VExpr::*;
        let b = |x: bool| x as i64;
        Ok(match self {
            Const(v) => *v,
            Read(p) => reads[*p],
            Add(a, c) => a.eval(reads)? + c.eval(reads)?,
            Sub(a, c) => a.eval(reads)? - c.eval(reads)?,
            Scale(k, a) => k * a.eval(reads)?,
            Mod(a, q) => a.eval(reads)?.rem_euclid(*q),
            Min(a, c) => a.eval(reads)?.min(c.eval(reads)?),
            Max(a, c) => a.eval(reads)?.max(c.eval(reads)?),
            Cmp(op, a, c) => {
                let (x, y) = (a.eval(reads)?, c.eval(reads)?);
                b(match op {
                    CmpOp::Lt => x < y,
                    CmpOp::Le => x <= y,
                    CmpOp::Gt => x > y,
                    CmpOp::Ge => x >= y,
                    CmpOp::Eq => x == y,
                    CmpOp::Ne => x != y,
                })
            }
            Not(a) => 1 - a.eval(reads)?,
            And(a, c) => b(a.eval(reads)? == 1 && c.eval(reads)? == 1),
            Or(a, c) => b(a.eval(reads)? == 1 || c.eval(reads)? == 1),
            If(c, x, y) => {
                if c.eval(reads)? == 1 {
                    x.eval(reads)?
                } else {
                    y.eval(reads)?
                }
            }
            Lookup(x, t) => {
                let i = x.eval(reads)?;
                *usize::try_from(i)
                    .ok()
                    .and_then(|i| t.get(i))
                    .ok_or_else(|| {
                        format!("lookup index {i} is outside its table 0..{}", t.len() - 1)
                    })?
            }
        })
    }

    /// Add the gadgets computing this expression to `c` (units named `{name}.{op}{k}`); `reads`
    /// are the exact-integer read forms. `Err` when a gadget's hypothesis fails (a lookup index
    /// whose range leaves the table).
    pub fn compile(&self, c: &mut Circuit, reads: &[Lin], name: &str) -> Result<Lin, String> {
        let mut k = 0;
        self.build(c, reads, name, &mut k)
    }

    fn build(&self, c: &mut Circuit, r: &[Lin], name: &str, k: &mut usize) -> Result<Lin, String> {
        use VExpr::*;
        Ok(match self {
            Const(v) => Lin::constant(*v as f64),
            Read(p) => r[*p].clone(),
            Add(a, b) => a.build(c, r, name, k)?.plus(&b.build(c, r, name, k)?),
            Sub(a, b) => a.build(c, r, name, k)?.minus(&b.build(c, r, name, k)?),
            Scale(s, a) => a.build(c, r, name, k)?.scale(*s as f64),
            Mod(a, q) => {
                let x = a.build(c, r, name, k)?;
                // shift a possibly negative x by a multiple of q: same residue, x ≥ 0
                let (lo, _) = c.range(&x);
                let shift = if lo < 0.0 {
                    (-lo / *q as f64).ceil() * *q as f64
                } else {
                    0.0
                };
                c.modulo(&tag(k, name, "mod"), &x.offset(shift), *q)
            }
            Min(a, b) => {
                let (x, y) = (a.build(c, r, name, k)?, b.build(c, r, name, k)?);
                c.min(&tag(k, name, "min"), &x, &y)
            }
            Max(a, b) => {
                let (x, y) = (a.build(c, r, name, k)?, b.build(c, r, name, k)?);
                c.max(&tag(k, name, "max"), &x, &y)
            }
            Cmp(op, a, b) => {
                let (x, y) = (a.build(c, r, name, k)?, b.build(c, r, name, k)?);
                match op {
                    CmpOp::Gt => c.greater(&tag(k, name, "gt"), &x, &y),
                    CmpOp::Lt => c.greater(&tag(k, name, "lt"), &y, &x),
                    CmpOp::Ge => c.step(&tag(k, name, "ge"), &x.minus(&y)),
                    CmpOp::Le => c.step(&tag(k, name, "le"), &y.minus(&x)),
                    CmpOp::Ne => c.not_equal(&tag(k, name, "ne"), &x, &y),
                    CmpOp::Eq => match (b.as_const(), a.as_const()) {
                        (Some(v), _) => c.indicator(&tag(k, name, "eq"), &x, v),
                        (None, Some(v)) => c.indicator(&tag(k, name, "eq"), &y, v),
                        (None, None) => c.indicator(&tag(k, name, "eq"), &x.minus(&y), 0),
                    },
                }
            }
            Not(a) => Lin::constant(1.0).minus(&a.build(c, r, name, k)?),
            And(a, b) => {
                let s = a.build(c, r, name, k)?.plus(&b.build(c, r, name, k)?);
                c.relu(tag(k, name, "and"), s.offset(-1.0))
            }
            Or(a, b) => {
                let s = a.build(c, r, name, k)?.plus(&b.build(c, r, name, k)?);
                let both = c.relu(tag(k, name, "or"), s.offset(-1.0));
                s.minus(&both)
            }
            If(cond, a, b) => {
                let f = cond.build(c, r, name, k)?;
                let x = a.build(c, r, name, k)?;
                let y = b.build(c, r, name, k)?;
                if b.as_const() == Some(0) {
                    c.gate(&tag(k, name, "if"), &x, &f)
                } else if a.as_const() == Some(0) {
                    c.gate(&tag(k, name, "else"), &y, &Lin::constant(1.0).minus(&f))
                } else {
                    y.plus(&c.gate(&tag(k, name, "if"), &x.minus(&y), &f))
                }
            }
            Lookup(a, t) => {
                let x = a.build(c, r, name, k)?;
                let (lo, hi) = c.range(&x);
                if lo < 0.0 || hi > (t.len() - 1) as f64 {
                    return Err(format!(
                        "the lookup index ranges over [{lo}, {hi}], outside its table 0..{}",
                        t.len() - 1
                    ));
                }
                let domain: Vec<i64> = (0..t.len() as i64).collect();
                c.table(&tag(k, name, "lookup"), &x, &domain, t)
                    .map_err(|e| e.to_string())?
            }
        })
    }
}

/// A fresh unit name `{name}.{op}{k}`.
fn tag(k: &mut usize, name: &str, op: &str) -> String {
    *k += 1;
    format!("{name}.{op}{k}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use VExpr::*;

    fn bx(e: VExpr) -> Box<VExpr> {
        Box::new(e)
    }

    /// Every construct's circuit equals its integer semantics on every pair of reads in 0..6.
    #[test]
    fn circuits_equal_the_integer_semantics() {
        let (a, b) = (|| bx(Read(0)), || bx(Read(1)));
        let exprs = vec![
            Add(a(), b()),
            Sub(a(), b()),
            Scale(3, a()),
            Mod(bx(Sub(a(), bx(Scale(2, b())))), 4),
            Min(a(), b()),
            Max(a(), b()),
            Cmp(CmpOp::Lt, a(), b()),
            Cmp(CmpOp::Le, a(), b()),
            Cmp(CmpOp::Gt, a(), b()),
            Cmp(CmpOp::Ge, a(), b()),
            Cmp(CmpOp::Eq, a(), b()),
            Cmp(CmpOp::Eq, a(), bx(Const(2))),
            Cmp(CmpOp::Ne, a(), b()),
            Not(bx(Cmp(CmpOp::Eq, a(), b()))),
            And(
                bx(Cmp(CmpOp::Gt, a(), bx(Const(1)))),
                bx(Cmp(CmpOp::Lt, b(), bx(Const(3)))),
            ),
            Or(
                bx(Cmp(CmpOp::Gt, a(), bx(Const(1)))),
                bx(Cmp(CmpOp::Lt, b(), bx(Const(3)))),
            ),
            If(bx(Cmp(CmpOp::Gt, a(), b())), a(), bx(Const(0))),
            If(bx(Cmp(CmpOp::Gt, a(), b())), bx(Const(0)), b()),
            If(bx(Cmp(CmpOp::Gt, a(), b())), bx(Add(a(), b())), b()),
            Lookup(a(), vec![3, 1, 4, 1, 5, 9]),
        ];
        for e in &exprs {
            let mut c = Circuit::new();
            let r = vec![c.free_input("a", 0.0, 5.0), c.free_input("b", 0.0, 5.0)];
            let out = e.compile(&mut c, &r, "t").unwrap();
            assert!(c.half_integral(), "{e:?}");
            for x in 0..6 {
                for y in 0..6 {
                    let got = c.eval(&[x as f64, y as f64], std::slice::from_ref(&out))[0];
                    assert_eq!(got, e.eval(&[x, y]).unwrap() as f64, "{e:?} at ({x}, {y})");
                }
            }
        }
    }

    #[test]
    fn a_lookup_outside_its_table_is_refused() {
        let e = Lookup(bx(Read(0)), vec![1, 2]);
        let mut c = Circuit::new();
        let r = vec![c.free_input("a", 0.0, 5.0)];
        assert!(e.compile(&mut c, &r, "t").unwrap_err().contains("outside"));
        assert!(e.eval(&[4]).is_err());
    }
}
