//! `freelunch trace`: run a model token by token and record, per position, every residual
//! coordinate (grouped by named subspace), every SSM memory slot `h[d,n]`, the decoded token and
//! its logit margin; write them as CSV or JSON and as a heat-map (coordinates × time).

use super::limits::{MAX_POSITIONS, MAX_TRACE_VALUES, MAX_WORK};
use crate::error::{Error, ModelError, Result};
use crate::model::{LayerState, Model, Softplus};
use crate::num::Scalar;
use serde::Serialize;

/// What a model is fed: tokens (then greedy generation) or a block's residual vectors.
pub enum Feed<'a> {
    Tokens {
        prompt: &'a [usize],
        generate: usize,
    },
    Vectors(&'a [Vec<f64>]),
}

/// Which positions' residual and memory values a run keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// Every position (`freelunch trace`), limited to [`MAX_TRACE_VALUES`] values.
    All,
    /// The last position only (`freelunch run`).
    Last,
}

/// Refuse, before anything is allocated for the run, a run of `positions` positions whose work
/// exceeds [`MAX_WORK`], or whose trace (with [`Keep::All`]) exceeds [`MAX_TRACE_VALUES`].
pub fn check_run_size<S: Scalar>(m: &Model<S>, positions: usize, keep: Keep) -> Result<()> {
    if positions > MAX_POSITIONS {
        return Err(ModelError::OutOfRange {
            name: "the number of positions".into(),
            value: positions.to_string(),
            range: format!("a run feeds at most {MAX_POSITIONS} positions (the model context)"),
        }
        .into());
    }
    let p = positions as u64;
    let memory: u64 = m
        .layers
        .iter()
        .map(|l| match l {
            crate::model::Layer::Ssm(x) => (x.channels as u64).saturating_mul(x.state as u64),
            _ => 0,
        })
        .fold(0, u64::saturating_add);
    let rows = (m.layout.width() as u64).saturating_add(memory);
    let hidden: u64 = m
        .layers
        .iter()
        .map(|l| match l {
            crate::model::Layer::Mlp(x) => x.hidden_width() as u64,
            _ => 0,
        })
        .sum();
    // ops_at(t) is affine in t (attention reads every earlier position).
    let (a, b) = (m.ops_at(0), m.ops_at(1).saturating_sub(m.ops_at(0)));
    let per_position = a
        .saturating_add(rows)
        .saturating_add(hidden)
        .saturating_add(m.vocab.len() as u64);
    let work = per_position
        .saturating_mul(p)
        .saturating_add(b.saturating_mul(p.saturating_mul(p + 1) / 2));
    if work > MAX_WORK {
        return Err(ModelError::TooLarge {
            name: "the run".into(),
            what: format!("{positions} positions of this model take about {work} operations"),
            limit: format!("{MAX_WORK} operations"),
        }
        .into());
    }
    if keep == Keep::All && rows.saturating_mul(p) > MAX_TRACE_VALUES {
        return Err(ModelError::TooLarge {
            name: "the trace".into(),
            what: format!(
                "{positions} positions × {rows} residual coordinates and memory slots = {} values",
                rows.saturating_mul(p)
            ),
            limit: format!("{MAX_TRACE_VALUES} values (use `freelunch run`, which keeps the last position only)"),
        }
        .into());
    }
    Ok(())
}

/// One named group of rows (a residual subspace or an SSM layer's state).
#[derive(Clone, Debug, Serialize)]
pub struct Group {
    pub name: String,
    /// `residual` or `memory`.
    pub kind: &'static str,
    /// Row names (coordinates or slots), in order.
    pub rows: Vec<String>,
}

/// Everything recorded at every position.
#[derive(Clone, Debug, Serialize)]
pub struct Trace {
    pub model: String,
    pub softplus: Softplus,
    /// The token (or `x_t`) fed at each position t = 1, 2, ….
    pub fed: Vec<String>,
    /// The token ids fed (empty for a block fed vectors).
    #[serde(skip)]
    pub fed_tokens: Vec<usize>,
    /// The argmax token after each position (`-` for a model without vocabulary).
    pub decoded: Vec<String>,
    /// Top logit minus the runner-up after each position (NaN without vocabulary).
    pub margin: Vec<f64>,
    pub groups: Vec<Group>,
    /// `values[t][r]`: row r (over all groups, in order) after position t+1.
    pub values: Vec<Vec<f64>>,
    /// Positions that are prompt (the rest are generated).
    pub prompt_len: usize,
}

/// Run `m` on `feed` with the given softplus and record the trace.
pub fn record<S: Scalar>(
    m: &Model<S>,
    feed: Feed<'_>,
    softplus: Softplus,
    keep: Keep,
) -> Result<Trace> {
    let positions = match &feed {
        Feed::Tokens { generate: 0, .. } => {
            return Err(ModelError::OutOfRange {
                name: "the number of tokens to generate".into(),
                value: "0".into(),
                range: "at least 1 token is generated after the prompt".into(),
            }
            .into())
        }
        Feed::Tokens { prompt, generate } => prompt.len().saturating_add(generate - 1),
        Feed::Vectors(xs) => xs.len(),
    };
    check_run_size(m, positions, keep)?;
    let mut run = m.runner();
    run.softplus = softplus;
    let mut groups: Vec<Group> = m
        .layout
        .subspaces
        .iter()
        .map(|s| Group {
            name: s.name.clone(),
            kind: "residual",
            rows: (s.start..s.start + s.len)
                .map(|i| m.layout.coord_name(i))
                .collect(),
        })
        .collect();
    for l in &m.layers {
        if let crate::model::Layer::Ssm(x) = l {
            groups.push(Group {
                name: format!("{}.h", x.name),
                kind: "memory",
                rows: (0..x.channels)
                    .flat_map(|d| (0..x.state).map(move |n| format!("{}.h[{d},{n}]", x.name)))
                    .collect(),
            });
        }
    }
    let tok_name = |t: usize| m.vocab.get(t).cloned().unwrap_or_else(|| t.to_string());
    let mut tr = Trace {
        model: m.name.clone(),
        softplus,
        fed: Vec::new(),
        fed_tokens: Vec::new(),
        decoded: Vec::new(),
        margin: Vec::new(),
        groups,
        values: Vec::new(),
        prompt_len: 0,
    };
    let snapshot = |run: &crate::model::Runner<'_, S>, tr: &mut Trace| {
        let mut row: Vec<f64> = run.residual.iter().map(|v| v.to_f64()).collect();
        for st in &run.states {
            if let LayerState::Ssm(s) = st {
                row.extend(s.h.iter().map(|v| v.to_f64()));
            }
        }
        if keep == Keep::Last {
            tr.values.clear();
        }
        tr.values.push(row);
        if m.vocab.is_empty() {
            tr.decoded.push("-".into());
            tr.margin.push(f64::NAN);
            None
        } else {
            let (tok, margin) = run.argmax();
            tr.decoded.push(tok_name(tok));
            tr.margin.push(margin.to_f64());
            Some(tok)
        }
    };
    match feed {
        Feed::Vectors(xs) => {
            let w = m.layout.width();
            for (k, x) in xs.iter().enumerate() {
                if x.len() != w {
                    return Err(Error::input(format!(
                        "input vector {} has {} values, but the residual width is {w}",
                        k + 1,
                        x.len()
                    )));
                }
                let v: Vec<S> = x.iter().map(|&a| S::from_f64(a, m.prec)).collect();
                run.feed_vector(&v);
                tr.fed.push(format!("x_{}", k + 1));
                snapshot(&run, &mut tr);
            }
            tr.prompt_len = xs.len();
        }
        Feed::Tokens { prompt, generate } => {
            if let Some(&bad) = prompt.iter().find(|&&t| t >= m.vocab.len()) {
                return Err(Error::input(format!(
                    "token {bad} is outside the vocabulary of {} tokens",
                    m.vocab.len()
                )));
            }
            if prompt.is_empty() {
                return Err(Error::input("the prompt is empty"));
            }
            let mut next = None;
            for &t in prompt {
                run.feed(t);
                tr.fed.push(tok_name(t));
                tr.fed_tokens.push(t);
                next = snapshot(&run, &mut tr);
            }
            tr.prompt_len = prompt.len();
            for _ in 1..generate {
                let Some(t) = next else { break };
                run.feed(t);
                tr.fed.push(tok_name(t));
                tr.fed_tokens.push(t);
                next = snapshot(&run, &mut tr);
            }
        }
    }
    Ok(tr)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

impl Trace {
    /// Tokens generated (the decoded token after the last prompt position and after each
    /// generated one).
    pub fn generated(&self) -> Vec<String> {
        self.decoded[self.prompt_len.saturating_sub(1)..].to_vec()
    }

    /// Long-format CSV: `t,fed,decoded,margin,group,kind,row,value` (one line per value).
    pub fn to_csv(&self) -> String {
        let mut o = String::from("t,fed,decoded,margin,group,kind,row,value\n");
        for (t, vals) in self.values.iter().enumerate() {
            let mut r = 0;
            for g in &self.groups {
                for name in &g.rows {
                    o.push_str(&format!(
                        "{},{},{},{:e},{},{},{},{:e}\n",
                        t + 1,
                        csv_field(&self.fed[t]),
                        csv_field(&self.decoded[t]),
                        self.margin[t],
                        csv_field(&g.name),
                        g.kind,
                        csv_field(name),
                        vals[r]
                    ));
                    r += 1;
                }
            }
        }
        o
    }

    /// The JSON form (docs/export.md, `trace` output): per group, a `rows × time` array.
    pub fn to_file(&self) -> TraceFile<'_> {
        let mut r = 0;
        let groups = (self.groups.iter())
            .map(|g| {
                let values = (0..g.rows.len())
                    .map(|k| self.values.iter().map(|v| v[r + k]).collect())
                    .collect();
                r += g.rows.len();
                GroupFile {
                    name: &g.name,
                    kind: g.kind,
                    rows: &g.rows,
                    values,
                }
            })
            .collect();
        TraceFile {
            model: &self.model,
            softplus: self.softplus,
            positions: self.values.len(),
            prompt_len: self.prompt_len,
            fed: &self.fed,
            decoded: &self.decoded,
            margin: (self.margin.iter())
                .map(|m| m.is_finite().then_some(*m))
                .collect(),
            groups,
        }
    }
}

/// `freelunch trace --json`: the run, position by position.
#[derive(Serialize)]
pub struct TraceFile<'a> {
    pub model: &'a str,
    pub softplus: Softplus,
    pub positions: usize,
    pub prompt_len: usize,
    /// The token (or `x_t`) fed and the argmax token after each position.
    pub fed: &'a [String],
    pub decoded: &'a [String],
    /// Top logit minus the runner-up after each position; null when not finite (blocks).
    pub margin: Vec<Option<f64>>,
    pub groups: Vec<GroupFile<'a>>,
}

/// One group of rows (a residual subspace or an SSM layer's memory): `values[row][t]`.
#[derive(Serialize)]
pub struct GroupFile<'a> {
    pub name: &'a str,
    pub kind: &'static str,
    pub rows: &'a [String],
    pub values: Vec<Vec<f64>>,
}
