//! The DP problems: edit distance and LIS (general DPs), an order-k linear recurrence mod q and
//! an elementary cellular automaton on a ring (m-local DPs). Each has a plain reference solver.

use super::circuit::{Circuit, Lin};
use super::{DpProblem, Step, StepKind};
use crate::error::{Error, Result};

/// Largest sequence length T any problem instance may have.
pub const MAX_TOTAL_LEN: usize = 20_000;

pub const PROBLEM_NAMES: [&str; 4] = ["edit", "lis", "linrec", "eca"];

/// Collects the generated steps, padding unused read ports with the previous position
/// (distance 1, so a dummy read never widens a memory).
struct Steps {
    n: usize,
    ports: usize,
    steps: Vec<Step>,
}

impl Steps {
    fn new(n: usize, ports: usize) -> Self {
        Steps {
            n,
            ports,
            steps: Vec::new(),
        }
    }
    /// Position of the next step.
    fn next_pos(&self) -> usize {
        self.n + 2 + self.steps.len()
    }
    fn push(&mut self, kind: StepKind, reads: &[usize]) -> usize {
        let pos = self.next_pos();
        let mut r = reads.to_vec();
        r.resize(self.ports, pos - 1);
        self.steps.push(Step { kind, reads: r });
        pos
    }
    fn finish(mut self, answer_rule: usize, answer_reads: &[usize]) -> Vec<Step> {
        self.push(StepKind::Sep, &[]);
        self.push(StepKind::Rule(answer_rule), answer_reads);
        self.steps
    }
}

/// Reject an instance whose sequence `input + SEP + steps` would exceed [`MAX_TOTAL_LEN`].
/// `steps` is the step count computed arithmetically (`None` on overflow), so an oversized
/// instance is rejected before its step list is built.
fn check_len(p: &dyn DpProblem, steps: Option<usize>) -> Result<()> {
    let t = steps.and_then(|s| s.checked_add(p.input_len() + 1));
    match t {
        Some(t) if t <= MAX_TOTAL_LEN => Ok(()),
        _ => Err(Error::input(format!(
            "{} has a chain of thought of {} tokens, more than the supported {MAX_TOTAL_LEN}",
            p.describe(),
            t.map_or("too many".to_string(), |t| t.to_string())
        ))),
    }
}

fn in_range(name: &str, v: usize, lo: usize, hi: usize) -> Result<usize> {
    if v < lo || v > hi {
        return Err(Error::input(format!(
            "{name} must be between {lo} and {hi} (got {v})"
        )));
    }
    Ok(v)
}

// ---------------------------------------------------------------- edit distance

/// Edit distance between `a` (length n1) and `b` (length n2), input `a ++ b`, with costs.
/// States `(i, j)`, `0 ≤ i ≤ n1`, `0 ≤ j ≤ n2`, row-major.
#[derive(Clone, Debug)]
pub struct EditDistance {
    pub n1: usize,
    pub n2: usize,
    pub sigma: usize,
    pub ins: usize,
    pub del: usize,
    pub sub: usize,
}

impl EditDistance {
    pub fn new(
        n1: usize,
        n2: usize,
        sigma: usize,
        ins: usize,
        del: usize,
        sub: usize,
    ) -> Result<Self> {
        in_range("the first string length", n1, 1, 100)?;
        in_range("the second string length", n2, 1, 100)?;
        in_range("the alphabet size", sigma, 2, 64)?;
        in_range("the insertion cost", ins, 0, 20)?;
        in_range("the deletion cost", del, 0, 20)?;
        in_range("the substitution cost", sub, 0, 20)?;
        let p = EditDistance {
            n1,
            n2,
            sigma,
            ins,
            del,
            sub,
        };
        // one step per DP cell, then SEP and the answer
        let cells = (n1 + 1).checked_mul(n2 + 1);
        check_len(&p, cells.and_then(|c| c.checked_add(2)))?;
        Ok(p)
    }
    fn pos(&self, i: usize, j: usize) -> usize {
        self.n1 + self.n2 + 1 + i * (self.n2 + 1) + j + 1
    }
}

impl DpProblem for EditDistance {
    fn id(&self) -> &'static str {
        "edit"
    }
    fn describe(&self) -> String {
        format!(
            "edit distance (|a|={}, |b|={}, alphabet {}, costs ins {} del {} sub {})",
            self.n1, self.n2, self.sigma, self.ins, self.del, self.sub
        )
    }
    fn input_len(&self) -> usize {
        self.n1 + self.n2
    }
    fn alphabet(&self) -> usize {
        self.sigma
    }
    fn values(&self) -> usize {
        self.sigma.max(self.n1 * self.del + self.n2 * self.ins + 1)
    }
    fn read_ports(&self) -> usize {
        5
    }
    fn rules(&self) -> Vec<&'static str> {
        vec!["cell", "answer"]
    }
    fn steps(&self) -> Vec<Step> {
        let mut s = Steps::new(self.input_len(), 5);
        for i in 0..=self.n1 {
            for j in 0..=self.n2 {
                if i == 0 {
                    s.push(StepKind::Boundary((j * self.ins) as i64), &[]);
                } else if j == 0 {
                    s.push(StepKind::Boundary((i * self.del) as i64), &[]);
                } else {
                    s.push(
                        StepKind::Rule(0),
                        &[
                            self.pos(i - 1, j),
                            self.pos(i, j - 1),
                            self.pos(i - 1, j - 1),
                            i,
                            self.n1 + j,
                        ],
                    );
                }
            }
        }
        s.finish(1, &[self.pos(self.n1, self.n2)])
    }
    fn transition(&self, c: &mut Circuit, r: &[Lin]) -> Vec<Lin> {
        let neq = c.not_equal("ed.neq", &r[3], &r[4]);
        let x_del = r[0].offset(self.del as f64);
        let x_ins = r[1].offset(self.ins as f64);
        let x_sub = r[2].add_scaled(&neq, self.sub as f64);
        let m = c.min("ed.min_del_ins", &x_del, &x_ins);
        let cell = c.min("ed.min_sub", &m, &x_sub);
        vec![cell, r[0].clone()]
    }
    fn solve(&self, input: &[usize]) -> Vec<usize> {
        let (a, b) = input.split_at(self.n1);
        let mut d = vec![vec![0usize; self.n2 + 1]; self.n1 + 1];
        for i in 0..=self.n1 {
            for j in 0..=self.n2 {
                d[i][j] = if i == 0 {
                    j * self.ins
                } else if j == 0 {
                    i * self.del
                } else {
                    let s = if a[i - 1] == b[j - 1] { 0 } else { self.sub };
                    (d[i - 1][j] + self.del)
                        .min(d[i][j - 1] + self.ins)
                        .min(d[i - 1][j - 1] + s)
                };
            }
        }
        let mut seq = input.to_vec();
        seq.push(self.sep());
        seq.extend(d.iter().flatten().copied());
        seq.push(self.sep());
        seq.push(d[self.n1][self.n2]);
        seq
    }
    fn local(&self) -> bool {
        false
    }
    fn resized(&self, size: usize) -> Result<Box<dyn DpProblem>> {
        Ok(Box::new(EditDistance::new(
            size, size, self.sigma, self.ins, self.del, self.sub,
        )?))
    }
    fn size(&self) -> usize {
        self.n1
    }
}

// ---------------------------------------------------------------- LIS

/// Longest increasing subsequence in the pairwise-state form of proofs/dp-problems.md:
/// for j = 1..n: `dp(j,0) = 1`, `dp(j,k) = max(dp(j,k−1), 1[s_j > s_k]·dp(k,k−1) + 1)` for
/// k < j, then the running answer `best(j) = max(best(j−1), dp(j,j−1))` (`best(1) = 1`).
#[derive(Clone, Debug)]
pub struct Lis {
    pub n: usize,
    pub sigma: usize,
}

impl Lis {
    pub fn new(n: usize, sigma: usize) -> Result<Self> {
        in_range("the sequence length", n, 1, 150)?;
        in_range("the alphabet size", sigma, 2, 64)?;
        let p = Lis { n, sigma };
        // position j contributes j steps dp(j, ·) and best(j): Σ (j + 1) = n(n+3)/2; SEP, answer
        let cells = n.checked_mul(n + 3).map(|x| x / 2);
        check_len(&p, cells.and_then(|c| c.checked_add(2)))?;
        Ok(p)
    }
    /// Positions of `dp(j,k)` and `best(j)` (1-based j).
    fn layout(&self) -> (Vec<Vec<usize>>, Vec<usize>) {
        let mut pos = self.n + 2;
        let mut dp = vec![Vec::new(); self.n + 1];
        let mut best = vec![0; self.n + 1];
        for j in 1..=self.n {
            for _ in 0..j {
                dp[j].push(pos);
                pos += 1;
            }
            best[j] = pos;
            pos += 1;
        }
        (dp, best)
    }
}

impl DpProblem for Lis {
    fn id(&self) -> &'static str {
        "lis"
    }
    fn describe(&self) -> String {
        format!("LIS (n={}, alphabet {})", self.n, self.sigma)
    }
    fn input_len(&self) -> usize {
        self.n
    }
    fn alphabet(&self) -> usize {
        self.sigma
    }
    fn values(&self) -> usize {
        self.sigma.max(self.n + 1)
    }
    fn read_ports(&self) -> usize {
        4
    }
    fn rules(&self) -> Vec<&'static str> {
        vec!["extend", "best", "answer"]
    }
    fn steps(&self) -> Vec<Step> {
        let (dp, best) = self.layout();
        let mut s = Steps::new(self.n, 4);
        for j in 1..=self.n {
            s.push(StepKind::Boundary(1), &[]);
            for k in 1..j {
                s.push(StepKind::Rule(0), &[dp[j][k - 1], dp[k][k - 1], j, k]);
            }
            if j == 1 {
                s.push(StepKind::Boundary(1), &[]);
            } else {
                s.push(StepKind::Rule(1), &[best[j - 1], dp[j][j - 1]]);
            }
        }
        s.finish(2, &[best[self.n]])
    }
    fn transition(&self, c: &mut Circuit, r: &[Lin]) -> Vec<Lin> {
        let gt = c.greater("lis.gt", &r[2], &r[3]);
        let take = c.gate("lis.take", &r[1], &gt);
        let ext = c.max("lis.extend", &r[0], &take.offset(1.0));
        let best = c.max("lis.best", &r[0], &r[1]);
        vec![ext, best, r[0].clone()]
    }
    fn solve(&self, s: &[usize]) -> Vec<usize> {
        let n = self.n;
        let mut e = vec![0usize; n + 1]; // e[k] = dp(k, k-1)
        let mut seq = s.to_vec();
        seq.push(self.sep());
        let mut best = 0;
        for j in 1..=n {
            let mut cur = 1;
            seq.push(cur);
            for k in 1..j {
                let cand = if s[j - 1] > s[k - 1] { e[k] + 1 } else { 1 };
                cur = cur.max(cand);
                seq.push(cur);
            }
            e[j] = cur;
            best = best.max(cur);
            seq.push(best);
        }
        seq.push(self.sep());
        seq.push(best);
        seq
    }
    fn local(&self) -> bool {
        false
    }
    fn resized(&self, size: usize) -> Result<Box<dyn DpProblem>> {
        Ok(Box::new(Lis::new(size, self.sigma)?))
    }
    fn size(&self) -> usize {
        self.n
    }
}

// ---------------------------------------------------------------- linear recurrence

/// `v_{k+i} = (Σ_{l=1}^{k} c_l v_{k+i−l}) mod q` for i = 1..steps, seeds `v_1..v_k` as input.
#[derive(Clone, Debug)]
pub struct LinRec {
    pub coeffs: Vec<usize>,
    pub q: usize,
    pub steps: usize,
}

impl LinRec {
    pub fn new(coeffs: Vec<usize>, q: usize, steps: usize) -> Result<Self> {
        in_range("the order k", coeffs.len(), 1, 16)?;
        in_range("the modulus q", q, 2, 1000)?;
        in_range("the number of terms", steps, 1, MAX_TOTAL_LEN)?;
        if let Some(c) = coeffs.iter().find(|&&c| c >= q) {
            return Err(Error::input(format!(
                "recurrence coefficient {c} must be below the modulus {q}"
            )));
        }
        let p = LinRec { coeffs, q, steps };
        check_len(&p, steps.checked_add(2))?;
        Ok(p)
    }
    fn k(&self) -> usize {
        self.coeffs.len()
    }
    fn pos(&self, j: usize) -> usize {
        if j <= self.k() {
            j
        } else {
            self.k() + 1 + (j - self.k())
        }
    }
}

impl DpProblem for LinRec {
    fn id(&self) -> &'static str {
        "linrec"
    }
    fn describe(&self) -> String {
        format!(
            "linear recurrence mod {} with coefficients {:?}, {} terms",
            self.q, self.coeffs, self.steps
        )
    }
    fn input_len(&self) -> usize {
        self.k()
    }
    fn alphabet(&self) -> usize {
        self.q
    }
    fn values(&self) -> usize {
        self.q
    }
    fn read_ports(&self) -> usize {
        self.k()
    }
    fn rules(&self) -> Vec<&'static str> {
        vec!["term", "answer"]
    }
    fn steps(&self) -> Vec<Step> {
        let k = self.k();
        let mut s = Steps::new(k, k);
        for i in 1..=self.steps {
            let reads: Vec<usize> = (1..=k).map(|l| self.pos(k + i - l)).collect();
            s.push(StepKind::Rule(0), &reads);
        }
        s.finish(1, &[self.pos(k + self.steps)])
    }
    fn transition(&self, c: &mut Circuit, r: &[Lin]) -> Vec<Lin> {
        let mut x = Lin::default();
        for (l, &cl) in self.coeffs.iter().enumerate() {
            x = x.add_scaled(&r[l], cl as f64);
        }
        let term = c.modulo("rec.mod", &x, self.q as i64);
        vec![term, r[0].clone()]
    }
    fn solve(&self, seeds: &[usize]) -> Vec<usize> {
        let mut v = seeds.to_vec();
        for _ in 0..self.steps {
            let len = v.len();
            let x: usize = (1..=self.k())
                .map(|l| self.coeffs[l - 1] * v[len - l])
                .sum();
            v.push(x % self.q);
        }
        let mut seq = seeds.to_vec();
        seq.push(self.sep());
        seq.extend_from_slice(&v[self.k()..]);
        seq.push(self.sep());
        seq.push(*v.last().unwrap_or(&0));
        seq
    }
    fn local(&self) -> bool {
        true
    }
    fn resized(&self, size: usize) -> Result<Box<dyn DpProblem>> {
        Ok(Box::new(LinRec::new(self.coeffs.clone(), self.q, size)?))
    }
    fn size(&self) -> usize {
        self.steps
    }
}

// ---------------------------------------------------------------- cellular automaton

/// Elementary cellular automaton `rule` on a ring of width w: the input is row 0, the CoT holds
/// rows 1..=rows cell by cell, the answer is the last cell.
#[derive(Clone, Debug)]
pub struct Eca {
    pub rule: u8,
    pub width: usize,
    pub rows: usize,
}

impl Eca {
    pub fn new(rule: usize, width: usize, rows: usize) -> Result<Self> {
        in_range("the automaton rule", rule, 0, 255)?;
        in_range("the ring width", width, 3, 512)?;
        in_range("the number of rows", rows, 1, MAX_TOTAL_LEN)?;
        let p = Eca {
            rule: rule as u8,
            width,
            rows,
        };
        check_len(&p, rows.checked_mul(width).and_then(|c| c.checked_add(2)))?;
        Ok(p)
    }
    fn pos(&self, r: usize, c: usize) -> usize {
        if r == 0 {
            c + 1
        } else {
            self.width + 1 + (r - 1) * self.width + c + 1
        }
    }
}

impl DpProblem for Eca {
    fn id(&self) -> &'static str {
        "eca"
    }
    fn describe(&self) -> String {
        format!(
            "cellular automaton rule {} on a ring of width {}, {} rows",
            self.rule, self.width, self.rows
        )
    }
    fn input_len(&self) -> usize {
        self.width
    }
    fn alphabet(&self) -> usize {
        2
    }
    fn values(&self) -> usize {
        2
    }
    fn read_ports(&self) -> usize {
        3
    }
    fn rules(&self) -> Vec<&'static str> {
        vec!["cell", "answer"]
    }
    fn steps(&self) -> Vec<Step> {
        let w = self.width;
        let mut s = Steps::new(w, 3);
        for r in 1..=self.rows {
            for c in 0..w {
                s.push(
                    StepKind::Rule(0),
                    &[
                        self.pos(r - 1, (c + w - 1) % w),
                        self.pos(r - 1, c),
                        self.pos(r - 1, (c + 1) % w),
                    ],
                );
            }
        }
        s.finish(1, &[self.pos(self.rows, w - 1)])
    }
    fn transition(&self, c: &mut Circuit, r: &[Lin]) -> Vec<Lin> {
        let idx = r[0].scale(4.0).add_scaled(&r[1], 2.0).plus(&r[2]);
        let mut cell = Lin::default();
        for v in 0..8 {
            if self.rule >> v & 1 == 1 {
                let hit = c.indicator(&format!("eca.pattern{v}"), &idx, v as i64);
                cell = cell.plus(&hit);
            }
        }
        vec![cell, r[0].clone()]
    }
    fn solve(&self, row0: &[usize]) -> Vec<usize> {
        let w = self.width;
        let mut seq = row0.to_vec();
        seq.push(self.sep());
        let mut row = row0.to_vec();
        for _ in 0..self.rows {
            let next: Vec<usize> = (0..w)
                .map(|c| {
                    let idx = 4 * row[(c + w - 1) % w] + 2 * row[c] + row[(c + 1) % w];
                    (self.rule as usize >> idx) & 1
                })
                .collect();
            seq.extend_from_slice(&next);
            row = next;
        }
        seq.push(self.sep());
        seq.push(row[w - 1]);
        seq
    }
    fn local(&self) -> bool {
        true
    }
    fn resized(&self, size: usize) -> Result<Box<dyn DpProblem>> {
        Ok(Box::new(Eca::new(self.rule as usize, self.width, size)?))
    }
    fn size(&self) -> usize {
        self.rows
    }
}

/// Parameters the CLI can set; `None` means the problem's default.
#[derive(Clone, Debug, Default)]
pub struct ProblemParams {
    pub n: Option<usize>,
    pub n2: Option<usize>,
    pub sigma: Option<usize>,
    pub costs: Option<(usize, usize, usize)>,
    pub coeffs: Option<Vec<usize>>,
    pub q: Option<usize>,
    pub width: Option<usize>,
    pub rule: Option<usize>,
}

/// Build a problem by name: `edit` (n = |a|, n2 = |b|), `lis` (n = length), `linrec`
/// (n = number of generated terms), `eca` (n = rows).
/// A parameter the problem does not use is an input error (named by its CLI flag).
pub fn problem_by_name(name: &str, p: &ProblemParams) -> Result<Box<dyn DpProblem>> {
    let given = [
        ("--n2", p.n2.is_some()),
        ("--sigma", p.sigma.is_some()),
        ("--costs", p.costs.is_some()),
        ("--coeffs", p.coeffs.is_some()),
        ("--q", p.q.is_some()),
        ("--width", p.width.is_some()),
        ("--rule", p.rule.is_some()),
    ];
    let used: &[&str] = match name {
        "edit" => &["--n2", "--sigma", "--costs"],
        "lis" => &["--sigma"],
        "linrec" => &["--coeffs", "--q"],
        "eca" => &["--width", "--rule"],
        _ => &[],
    };
    if PROBLEM_NAMES.contains(&name) {
        if let Some((flag, _)) = given.iter().find(|(f, set)| *set && !used.contains(f)) {
            return Err(Error::input(format!(
                "{flag} does not apply to the {name} problem (it takes --n{})",
                used.iter().map(|u| format!(", {u}")).collect::<String>()
            )));
        }
    }
    Ok(match name {
        "edit" => {
            let n = p.n.unwrap_or(4);
            let (ins, del, sub) = p.costs.unwrap_or((1, 1, 1));
            Box::new(EditDistance::new(
                n,
                p.n2.unwrap_or(n),
                p.sigma.unwrap_or(4),
                ins,
                del,
                sub,
            )?)
        }
        "lis" => Box::new(Lis::new(p.n.unwrap_or(6), p.sigma.unwrap_or(8))?),
        "linrec" => Box::new(LinRec::new(
            p.coeffs.clone().unwrap_or_else(|| vec![1, 1]),
            p.q.unwrap_or(10),
            p.n.unwrap_or(20),
        )?),
        "eca" => Box::new(Eca::new(
            p.rule.unwrap_or(110),
            p.width.unwrap_or(8),
            p.n.unwrap_or(8),
        )?),
        _ => {
            return Err(Error::input(format!(
                "unknown DP problem `{name}` (known: {})",
                PROBLEM_NAMES.join(", ")
            )))
        }
    })
}
