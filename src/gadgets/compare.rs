//! Integer comparison gadgets (proofs/dp-general.md, transition circuits): step, compare,
//! `≠`, `min`, `max`, `mod`. Each is an identity of piecewise-linear functions on integers, so
//! it is exact with ReLU units on integer inputs; with smooth units the circuit's forward error
//! propagation ([`Circuit::sink_error_bounds`]) bounds it.

use super::circuit::{Circuit, Lin};

impl Circuit {
    /// `min(a, b) = a − ReLU(a − b)`.
    pub fn min(&mut self, name: &str, a: &Lin, b: &Lin) -> Lin {
        let r = self.relu(format!("{name}.a-b"), a.minus(b));
        a.minus(&r)
    }

    /// `max(a, b) = a + ReLU(b − a)`.
    pub fn max(&mut self, name: &str, a: &Lin, b: &Lin) -> Lin {
        let r = self.relu(format!("{name}.b-a"), b.minus(a));
        a.plus(&r)
    }

    /// `1[x ≥ 0]` for integer `x`: `ReLU(x + 1) − ReLU(x)`.
    pub fn step(&mut self, name: &str, x: &Lin) -> Lin {
        let a = self.relu(format!("{name}.x+1"), x.offset(1.0));
        let b = self.relu(format!("{name}.x"), x.clone());
        a.minus(&b)
    }

    /// `1[a > b]` for integers.
    pub fn greater(&mut self, name: &str, a: &Lin, b: &Lin) -> Lin {
        self.step(name, &a.minus(b).offset(-1.0))
    }

    /// `1[a ≠ b]` for integers: `1[a > b] + 1[b > a]` (four units of one level).
    pub fn not_equal(&mut self, name: &str, a: &Lin, b: &Lin) -> Lin {
        let up = self.greater(&format!("{name}.gt"), a, b);
        let down = self.greater(&format!("{name}.lt"), b, a);
        up.plus(&down)
    }

    /// `x mod q` for an integer `x ≥ 0` in the form's range: `x − q·Σ_j 1[x ≥ jq]`.
    pub fn modulo(&mut self, name: &str, x: &Lin, q: i64) -> Lin {
        let (_, hi) = self.range(x);
        let mut out = x.clone();
        let mut j = 1;
        while (j * q) as f64 <= hi {
            let s = self.step(&format!("{name}.ge{}", j * q), &x.offset(-(j * q) as f64));
            out = out.add_scaled(&s, -(q as f64));
            j += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Evaluate `f(circuit, a, b)` on every integer pair of `lo..=hi` with ReLU units.
    fn table2(
        lo: i64,
        hi: i64,
        f: impl Fn(&mut Circuit, &Lin, &Lin) -> Lin,
    ) -> Vec<(i64, i64, f64)> {
        let mut c = Circuit::new();
        let a = c.free_input("a", lo as f64, hi as f64);
        let b = c.free_input("b", lo as f64, hi as f64);
        let o = f(&mut c, &a, &b);
        let mut rows = Vec::new();
        for x in lo..=hi {
            for y in lo..=hi {
                rows.push((
                    x,
                    y,
                    c.eval(&[x as f64, y as f64], std::slice::from_ref(&o))[0],
                ));
            }
        }
        rows
    }

    #[test]
    fn comparisons_are_exact_on_integers() {
        for (a, b, v) in table2(-4, 4, |c, a, b| c.min("m", a, b)) {
            assert_eq!(v, a.min(b) as f64);
        }
        for (a, b, v) in table2(-4, 4, |c, a, b| c.max("m", a, b)) {
            assert_eq!(v, a.max(b) as f64);
        }
        for (a, b, v) in table2(-4, 4, |c, a, b| c.greater("g", a, b)) {
            assert_eq!(v, (a > b) as i64 as f64);
        }
        for (a, b, v) in table2(-4, 4, |c, a, b| c.not_equal("n", a, b)) {
            assert_eq!(v, (a != b) as i64 as f64);
        }
    }

    #[test]
    fn step_is_a_step_only_on_integers() {
        let mut c = Circuit::new();
        let x = c.free_input("x", -3.0, 3.0);
        let s = c.step("s", &x);
        for k in -3..=3 {
            assert_eq!(
                c.eval(&[k as f64], std::slice::from_ref(&s))[0],
                (k >= 0) as i64 as f64
            );
        }
        // between integers the ramp shows: the hypothesis "integer input" is needed
        assert_eq!(c.eval(&[-0.5], std::slice::from_ref(&s))[0], 0.5);
    }

    #[test]
    fn modulo_is_exact_on_its_range() {
        let mut c = Circuit::new();
        let x = c.free_input("x", 0.0, 40.0);
        let m = c.modulo("mod", &x, 7);
        for k in 0..=40 {
            assert_eq!(
                c.eval(&[k as f64], std::slice::from_ref(&m))[0],
                (k % 7) as f64
            );
        }
        // beyond the declared range no step was built: 47 mod 7 comes out wrong
        assert_ne!(c.eval(&[47.0], std::slice::from_ref(&m))[0], 5.0);
    }
}
