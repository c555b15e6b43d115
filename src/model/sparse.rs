//! Compressed sparse rows: evaluation cost tracks nonzero weights, not dense width.

use crate::num::{fma_is_identity, Scalar};

#[derive(Clone, Debug)]
pub struct SparseMatrix<S> {
    pub rows: usize,
    pub cols: usize,
    row_ptr: Vec<usize>,
    col_idx: Vec<usize>,
    vals: Vec<S>,
}

impl<S: Scalar> SparseMatrix<S> {
    pub fn zeros(rows: usize, cols: usize) -> Self {
        SparseMatrix {
            rows,
            cols,
            row_ptr: vec![0; rows + 1],
            col_idx: Vec::new(),
            vals: Vec::new(),
        }
    }

    /// Build from `(row, col, value)` entries. Exact zeros are dropped; a repeated position panics
    /// (constructions must say each weight once).
    pub fn from_entries(rows: usize, cols: usize, mut entries: Vec<(usize, usize, S)>) -> Self {
        entries.retain(|e| !e.2.is_zero());
        entries.sort_by_key(|a| (a.0, a.1));
        for w in entries.windows(2) {
            assert!(
                (w[0].0, w[0].1) != (w[1].0, w[1].1),
                "weight ({}, {}) given twice",
                w[0].0,
                w[0].1
            );
        }
        let mut row_ptr = vec![0; rows + 1];
        let mut col_idx = Vec::with_capacity(entries.len());
        let mut vals = Vec::with_capacity(entries.len());
        for (r, c, v) in entries {
            assert!(
                r < rows && c < cols,
                "weight ({r}, {c}) outside {rows}x{cols}"
            );
            row_ptr[r + 1] += 1;
            col_idx.push(c);
            vals.push(v);
        }
        for r in 0..rows {
            row_ptr[r + 1] += row_ptr[r];
        }
        SparseMatrix {
            rows,
            cols,
            row_ptr,
            col_idx,
            vals,
        }
    }

    pub fn nnz(&self) -> usize {
        self.vals.len()
    }

    pub fn max_abs(&self) -> f64 {
        self.vals
            .iter()
            .map(|v| crate::num::abs_or_inf(v.to_f64()))
            .fold(0.0, f64::max)
    }

    pub fn get(&self, r: usize, c: usize) -> Option<&S> {
        let (a, b) = (self.row_ptr[r], self.row_ptr[r + 1]);
        self.col_idx[a..b]
            .iter()
            .position(|&x| x == c)
            .map(|i| &self.vals[a + i])
    }

    /// Entries of row `r` as `(col, value)`.
    pub fn row(&self, r: usize) -> impl Iterator<Item = (usize, &S)> {
        let (a, b) = (self.row_ptr[r], self.row_ptr[r + 1]);
        self.col_idx[a..b]
            .iter()
            .copied()
            .zip(self.vals[a..b].iter())
    }

    pub fn entries(&self) -> impl Iterator<Item = (usize, usize, &S)> {
        (0..self.rows).flat_map(move |r| self.row(r).map(move |(c, v)| (r, c, v)))
    }

    /// `out <- M x` (in place, no allocation). Terms with an exact zero input are skipped when
    /// skipping is an identity ([`fma_is_identity`]): the cost follows the nonzero inputs and
    /// the result is the dense product's, bit for bit.
    pub fn mul_vec_into(&self, x: &[S], out: &mut [S]) {
        debug_assert_eq!(x.len(), self.cols);
        for (r, o) in out.iter_mut().enumerate().take(self.rows) {
            if !o.is_positive_zero() {
                o.set_i64(0);
            }
            self.row_add_into(r, x, o);
        }
    }

    /// `out <- out + M x` (zero inputs skipped as in [`Self::mul_vec_into`]).
    pub fn mul_vec_add_into(&self, x: &[S], out: &mut [S]) {
        for (r, o) in out.iter_mut().enumerate().take(self.rows) {
            self.row_add_into(r, x, o);
        }
    }

    #[inline]
    fn row_add_into(&self, r: usize, x: &[S], o: &mut S) {
        for k in self.row_ptr[r]..self.row_ptr[r + 1] {
            let (w, xv) = (&self.vals[k], &x[self.col_idx[k]]);
            if !fma_is_identity(o, xv, w) {
                o.mul_add_assign(w, xv);
            }
        }
    }

    /// [`Self::mul_vec_into`] without skipping (the reference the skipping is tested against).
    pub fn mul_vec_into_dense(&self, x: &[S], out: &mut [S]) {
        for (r, o) in out.iter_mut().enumerate().take(self.rows) {
            o.set_i64(0);
            for k in self.row_ptr[r]..self.row_ptr[r + 1] {
                o.mul_add_assign(&self.vals[k], &x[self.col_idx[k]]);
            }
        }
    }

    /// Arithmetic operations of one product: one multiply and one add per nonzero.
    pub fn ops(&self) -> u64 {
        2 * self.nnz() as u64
    }

    /// Convert every weight to another number type (e.g. round an MPFR model to f64).
    pub fn convert<T: Scalar>(&self, f: impl Fn(&S) -> T) -> SparseMatrix<T> {
        SparseMatrix {
            rows: self.rows,
            cols: self.cols,
            row_ptr: self.row_ptr.clone(),
            col_idx: self.col_idx.clone(),
            vals: self.vals.iter().map(f).collect(),
        }
    }
}
