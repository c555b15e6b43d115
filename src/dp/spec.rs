//! DP specs (proofs/dp-problems.md): a TOML file describing a DP of Assumption 2 — parameters,
//! state families on an index grid, a topological `order` program, boundary values, transition
//! rules over reads, the answer and the value bound — loaded into a [`Spec`], validated, and
//! instantiated at given parameters as a [`SpecProblem`], which implements [`DpProblem`].
//!
//! Every refusal is a [`SpecError`] naming the file, line, column and field, and saying what
//! Assumption 2 requires.

use super::lang::{self, BinOp, Expr, Node, ReadDef, Stmt};
use super::value::{CmpOp, VExpr};
use super::{DpProblem, Step, StepKind};
use crate::error::{Error, Result};
use crate::gadgets::{Circuit, Lin};
use crate::rng::Rng;
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};
use toml::Spanned;

/// Largest sequence length T any problem instance may have.
pub const MAX_TOTAL_LEN: usize = 20_000;
/// Largest value bound V (tokens are `0..V`, SEP is token V).
pub const MAX_VALUES: i64 = 100_000;
/// Largest number of loop iterations the `order` program may run (emitting or not).
const MAX_LOOP_STEPS: usize = 10_000_000;

/// What Assumption 2 requires, quoted by the errors.
pub const A2_ARITY: &str =
    "Assumption 2 requires a constant arity: every rule reads a fixed number of earlier states";
pub const A2_BOUNDED: &str =
    "Assumption 2 requires bounded values: every state value lies in 0..V for a declared V";
pub const A2_EARLIER: &str =
    "Assumption 2 requires every read to be of an earlier state in a topological order";
pub const A2_POLY: &str =
    "Assumption 2 requires a number of states polynomial in the size parameter";
pub const A2_INPUT_READ: &str = "a read position that depends on the input lies outside Assumption 2 (read positions may depend only on the state's indices and the parameters)";
pub const A2_OPS: &str = "Assumption 2 builds the transition from operations the gadget layer proves: +, −, multiplication by a constant, min, max, comparisons, ==, !=, &&, ||, !, if, lookup tables and mod q";

/// Why a spec is refused, and where.
#[derive(Clone, Debug)]
pub struct SpecError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    /// The TOML field, e.g. `state.d.case[2].value`.
    pub field: String,
    /// What is wrong and what Assumption 2 requires (one sentence).
    pub msg: String,
    pub kind: SpecErrorKind,
}

/// The kind of refusal (tests match on this, not on the sentence).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpecErrorKind {
    Syntax,
    Schema,
    Name,
    Cycle,
    LaterRead,
    MissingState,
    Unbounded,
    UnsupportedOp,
    Arity,
    InputDependentRead,
    NotPolynomial,
    Param,
    Range,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: field `{}`: {}",
            self.file, self.line, self.col, self.field, self.msg
        )
    }
}

impl From<SpecError> for Error {
    fn from(e: SpecError) -> Self {
        Error::input(e.to_string())
    }
}

type SResult<T> = std::result::Result<T, SpecError>;

/// A text field of the spec: its text and where it starts in the file.
#[derive(Clone, Debug)]
struct Text {
    text: String,
    /// Byte offset in the file of the text's first character.
    start: usize,
    field: String,
}

/// A parameter value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Val {
    Int(i64),
    Vec(Vec<i64>),
}

impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Val::Int(v) => write!(f, "{v}"),
            Val::Vec(v) => write!(f, "{v:?}"),
        }
    }
}

// ------------------------------------------------------------------ raw TOML schema

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    problem: Spanned<RawProblem>,
    #[serde(default)]
    param: Vec<RawParam>,
    #[serde(default)]
    state: Vec<RawState>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProblem {
    id: Spanned<String>,
    #[serde(default)]
    describe: Option<String>,
    #[serde(default)]
    doc: Option<String>,
    size: Spanned<Vec<String>>,
    input_len: Spanned<toml::Value>,
    alphabet: Spanned<toml::Value>,
    #[serde(default)]
    values: Option<Spanned<toml::Value>>,
    order: Spanned<String>,
    answer: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParam {
    name: Spanned<String>,
    default: Spanned<toml::Value>,
    #[serde(default)]
    min: Option<Spanned<toml::Value>>,
    #[serde(default)]
    max: Option<Spanned<toml::Value>>,
    /// Vector parameters: `[min length, max length]`.
    #[serde(default)]
    len: Option<Spanned<Vec<i64>>>,
    #[serde(default)]
    doc: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawState {
    name: Spanned<String>,
    indices: Spanned<Vec<String>>,
    #[serde(default)]
    case: Vec<RawCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    #[serde(default)]
    when: Option<Spanned<String>>,
    #[serde(default)]
    boundary: Option<Spanned<toml::Value>>,
    #[serde(default)]
    rule: Option<Spanned<String>>,
    #[serde(default)]
    reads: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    value: Option<Spanned<String>>,
}

// ------------------------------------------------------------------ the parsed spec

/// A parameter declaration.
#[derive(Clone, Debug)]
pub struct ParamDecl {
    pub name: String,
    name_text: Text,
    default: ParamDefault,
    min: Option<(Text, Node)>,
    max: Option<(Text, Node)>,
    len: Option<(usize, usize)>,
    pub doc: String,
}

#[derive(Clone, Debug)]
enum ParamDefault {
    Scalar(Text, Node),
    Vector(Vec<i64>),
}

impl ParamDecl {
    pub fn is_vector(&self) -> bool {
        matches!(self.default, ParamDefault::Vector(_))
    }
    /// The declaration as text: `name = default in min..=max`.
    pub fn summary(&self) -> String {
        let d = match &self.default {
            ParamDefault::Scalar(t, _) => t.text.clone(),
            ParamDefault::Vector(v) => format!("{v:?}"),
        };
        let r = |x: &Option<(Text, Node)>| x.as_ref().map_or("…".into(), |(t, _)| t.text.clone());
        format!(
            "{} = {d} (range {}..={})",
            self.name,
            r(&self.min),
            r(&self.max)
        )
    }
}

#[derive(Clone, Debug)]
struct Family {
    name: String,
    text: Text,
    indices: Vec<String>,
    cases: Vec<Case>,
}

#[derive(Clone, Debug)]
struct Case {
    when: Option<(Text, Node)>,
    kind: CaseKind,
}

#[derive(Clone, Debug)]
enum CaseKind {
    Boundary(Text, Node),
    Rule {
        rule: usize,
        reads: Vec<(Text, ReadDef)>,
        value: (Text, Node),
    },
}

/// A loaded, validated DP spec (parameters not yet chosen).
#[derive(Debug)]
pub struct Spec {
    pub file: String,
    source: String,
    pub id: String,
    pub doc: String,
    describe: Option<String>,
    /// The size parameters: resizing sets each of them to the new size.
    pub size: Vec<String>,
    size_text: Text,
    pub params: Vec<ParamDecl>,
    input_len: (Text, Node),
    alphabet: (Text, Node),
    values: (Text, Node),
    order: (Text, Vec<Stmt>),
    answer: (Text, Node),
    families: Vec<Family>,
    /// Rule names in order of appearance, then `answer`.
    rules: Vec<String>,
}

/// Names the language reserves.
const RESERVED: [&str; 9] = [
    "input", "min", "max", "if", "sum", "lookup", "len", "bit", "answer",
];

impl Spec {
    fn err(&self, t: &Text, at: usize, kind: SpecErrorKind, msg: impl Into<String>) -> SpecError {
        let (line, col) = line_col(&self.source, t, at);
        SpecError {
            file: self.file.clone(),
            line,
            col,
            field: t.field.clone(),
            msg: msg.into(),
            kind,
        }
    }

    /// Load and validate a spec: parse, check names and structure, then build the instance at
    /// the default parameters (which runs every check of [`Spec::instance`]).
    pub fn load(file: &str, source: &str) -> SResult<Arc<Spec>> {
        let spec = Arc::new(Self::parse(file, source)?);
        spec.instance(&[])?;
        Ok(spec)
    }

    fn parse(file: &str, source: &str) -> SResult<Spec> {
        let raw: RawSpec = toml::from_str(source).map_err(|e| {
            let (line, col) = e
                .span()
                .map(|s| offset_line_col(source, s.start))
                .unwrap_or((1, 1));
            SpecError {
                file: file.into(),
                line,
                col,
                field: "(toml)".into(),
                msg: format!("not a valid DP spec: {}", e.message()),
                kind: SpecErrorKind::Schema,
            }
        })?;
        let text = |s: &Spanned<String>, field: &str| Text {
            text: s.get_ref().clone(),
            start: content_start(source, s.span().start),
            field: field.into(),
        };
        let vtext = |s: &Spanned<toml::Value>, field: &str| -> SResult<Text> {
            let t = match s.get_ref() {
                toml::Value::String(x) => x.clone(),
                toml::Value::Integer(v) => v.to_string(),
                other => {
                    let (line, col) = offset_line_col(source, s.span().start);
                    return Err(SpecError {
                        file: file.into(),
                        line,
                        col,
                        field: field.into(),
                        msg: format!(
                            "expected an integer or an expression string, found a {}",
                            other.type_str()
                        ),
                        kind: SpecErrorKind::Schema,
                    });
                }
            };
            Ok(Text {
                text: t,
                start: content_start(source, s.span().start),
                field: field.into(),
            })
        };
        let p = raw.problem.get_ref();
        let problem_text = Text {
            text: String::new(),
            start: raw.problem.span().start,
            field: "problem".into(),
        };
        let mut spec = Spec {
            file: file.into(),
            source: source.into(),
            id: p.id.get_ref().clone(),
            doc: p.doc.clone().unwrap_or_default(),
            describe: p.describe.clone(),
            size: p.size.get_ref().clone(),
            size_text: Text {
                text: String::new(),
                start: p.size.span().start,
                field: "problem.size".into(),
            },
            params: Vec::new(),
            input_len: (vtext(&p.input_len, "problem.input_len")?, int_node(0)),
            alphabet: (vtext(&p.alphabet, "problem.alphabet")?, int_node(0)),
            values: (problem_text.clone(), int_node(0)),
            order: (text(&p.order, "problem.order"), Vec::new()),
            answer: (text(&p.answer, "problem.answer"), int_node(0)),
            families: Vec::new(),
            rules: Vec::new(),
        };
        let parse = |spec: &Spec, t: &Text| -> SResult<Node> {
            lang::parse_expr(&t.text).map_err(|e| spec.err(t, e.at, SpecErrorKind::Syntax, e.msg))
        };
        spec.input_len.1 = parse(&spec, &spec.input_len.0)?;
        spec.alphabet.1 = parse(&spec, &spec.alphabet.0)?;
        match &p.values {
            Some(v) => {
                let t = vtext(v, "problem.values")?;
                spec.values = (t.clone(), parse(&spec, &t)?);
            }
            None => {
                return Err(spec.err(
                    &problem_text,
                    0,
                    SpecErrorKind::Unbounded,
                    format!("the problem declares no value bound `values`: {A2_BOUNDED}"),
                ))
            }
        }
        spec.answer.1 = parse(&spec, &spec.answer.0)?;
        let ot = spec.order.0.clone();
        spec.order.1 = lang::parse_order(&ot.text)
            .map_err(|e| spec.err(&ot, e.at, SpecErrorKind::Syntax, e.msg))?;
        if spec.id.is_empty()
            || !spec
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            let t = text(&p.id, "problem.id");
            return Err(spec.err(
                &t,
                0,
                SpecErrorKind::Name,
                "the id must be a non-empty name of letters, digits and `_`",
            ));
        }

        // parameters
        for (k, rp) in raw.param.iter().enumerate() {
            let f = |x: &str| format!("param[{k}].{x}");
            let name_text = text(&rp.name, &f("name"));
            let name = rp.name.get_ref().clone();
            spec.check_new_name(&name_text, &name)?;
            let default = match rp.default.get_ref() {
                toml::Value::Array(a) => {
                    let v: Option<Vec<i64>> = a.iter().map(|x| x.as_integer()).collect();
                    match v {
                        Some(v) => ParamDefault::Vector(v),
                        None => {
                            let t = Text {
                                text: String::new(),
                                start: rp.default.span().start,
                                field: f("default"),
                            };
                            return Err(spec.err(
                                &t,
                                0,
                                SpecErrorKind::Schema,
                                "a vector default must be an array of integers",
                            ));
                        }
                    }
                }
                _ => {
                    let t = vtext(&rp.default, &f("default"))?;
                    let n = parse(&spec, &t)?;
                    ParamDefault::Scalar(t, n)
                }
            };
            let bound = |spec: &Spec,
                         b: &Option<Spanned<toml::Value>>,
                         x: &str|
             -> SResult<Option<(Text, Node)>> {
                b.as_ref()
                    .map(|b| {
                        let t = vtext(b, &f(x))?;
                        let n = parse(spec, &t)?;
                        Ok((t, n))
                    })
                    .transpose()
            };
            let min = bound(&spec, &rp.min, "min")?;
            let max = bound(&spec, &rp.max, "max")?;
            let len = match &rp.len {
                Some(l)
                    if l.get_ref().len() == 2
                        && l.get_ref()[0] >= 0
                        && l.get_ref()[0] <= l.get_ref()[1] =>
                {
                    Some((l.get_ref()[0] as usize, l.get_ref()[1] as usize))
                }
                Some(l) => {
                    let t = Text {
                        text: String::new(),
                        start: l.span().start,
                        field: f("len"),
                    };
                    return Err(spec.err(
                        &t,
                        0,
                        SpecErrorKind::Schema,
                        "`len` must be [min length, max length]",
                    ));
                }
                None => None,
            };
            if matches!(default, ParamDefault::Scalar(..)) != len.is_none() {
                return Err(spec.err(&name_text, 0, SpecErrorKind::Schema, "a vector parameter (array default) needs `len = [min, max]`, a scalar one must not have it"));
            }
            spec.params.push(ParamDecl {
                name,
                name_text,
                default,
                min,
                max,
                len,
                doc: rp.doc.clone().unwrap_or_default(),
            });
        }
        for s in &spec.size {
            if !spec.params.iter().any(|p| &p.name == s && !p.is_vector()) {
                return Err(spec.err(
                    &spec.size_text,
                    0,
                    SpecErrorKind::Name,
                    format!("the size parameter `{s}` is not a declared scalar parameter"),
                ));
            }
        }
        if spec.size.is_empty() {
            return Err(spec.err(
                &spec.size_text,
                0,
                SpecErrorKind::Schema,
                "`size` must name at least one parameter (the one the sweeps vary)",
            ));
        }

        // state families and their cases
        for (fi, rs) in raw.state.iter().enumerate() {
            let name = rs.name.get_ref().clone();
            let ft = text(&rs.name, &format!("state[{fi}].name"));
            spec.check_new_name(&ft, &name)?;
            let fam_field = format!("state.{name}");
            let indices = rs.indices.get_ref().clone();
            for ix in &indices {
                if spec.params.iter().any(|p| &p.name == ix) || RESERVED.contains(&ix.as_str()) {
                    let t = Text {
                        text: String::new(),
                        start: rs.indices.span().start,
                        field: format!("{fam_field}.indices"),
                    };
                    return Err(spec.err(
                        &t,
                        0,
                        SpecErrorKind::Name,
                        format!("the index `{ix}` shadows a parameter or a reserved name"),
                    ));
                }
            }
            let mut cases = Vec::new();
            for (ci, rc) in rs.case.iter().enumerate() {
                let cf = |x: &str| format!("{fam_field}.case[{ci}].{x}");
                let when = match &rc.when {
                    Some(w) => {
                        let t = text(w, &cf("when"));
                        let n = parse(&spec, &t)?;
                        Some((t, n))
                    }
                    None => None,
                };
                let kind = match (&rc.boundary, &rc.value) {
                    (Some(b), None) if rc.reads.is_none() && rc.rule.is_none() => {
                        let t = vtext(b, &cf("boundary"))?;
                        let n = parse(&spec, &t)?;
                        CaseKind::Boundary(t, n)
                    }
                    (None, Some(v)) => {
                        let rule_name = rc
                            .rule
                            .as_ref()
                            .map_or(name.clone(), |r| r.get_ref().clone());
                        if spec.rules.contains(&rule_name) || rule_name == "answer" {
                            let t = rc
                                .rule
                                .as_ref()
                                .map_or(ft.clone(), |r| text(r, &cf("rule")));
                            return Err(spec.err(&t, 0, SpecErrorKind::Name, format!("the rule name `{rule_name}` is used twice (name each rule case with `rule = ...`)")));
                        }
                        spec.rules.push(rule_name);
                        let mut reads = Vec::new();
                        for (k, r) in rc.reads.iter().flatten().enumerate() {
                            let t = text(r, &cf(&format!("reads[{k}]")));
                            let d = lang::parse_read(&t.text)
                                .map_err(|e| spec.err(&t, e.at, SpecErrorKind::Syntax, e.msg))?;
                            reads.push((t, d));
                        }
                        let vt = text(v, &cf("value"));
                        let vn = parse(&spec, &vt)?;
                        CaseKind::Rule {
                            rule: spec.rules.len() - 1,
                            reads,
                            value: (vt, vn),
                        }
                    }
                    _ => {
                        let t = Text {
                            text: String::new(),
                            start: rc
                                .when
                                .as_ref()
                                .map_or(rs.name.span().start, |w| w.span().start),
                            field: cf(""),
                        };
                        return Err(spec.err(&t, 0, SpecErrorKind::Schema, "a case is either a boundary (`boundary = ...`) or a rule (`value = ...` with `reads`)"));
                    }
                };
                cases.push(Case { when, kind });
            }
            if cases.is_empty() {
                return Err(spec.err(
                    &ft,
                    0,
                    SpecErrorKind::Schema,
                    format!("the state family `{name}` has no case"),
                ));
            }
            spec.families.push(Family {
                name,
                text: ft,
                indices,
                cases,
            });
        }
        spec.rules.push("answer".into());
        spec.check_static()?;
        Ok(spec)
    }

    fn check_new_name(&self, t: &Text, name: &str) -> SResult<()> {
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_alphanumeric() || c == '_');
        if !valid || RESERVED.contains(&name) || name == "for" || name == "in" {
            return Err(self.err(
                t,
                0,
                SpecErrorKind::Name,
                format!("`{name}` is not a usable name (reserved, or not letters, digits and `_`)"),
            ));
        }
        if self.params.iter().any(|p| p.name == name)
            || self.families.iter().any(|f| f.name == name)
        {
            return Err(self.err(
                t,
                0,
                SpecErrorKind::Name,
                format!("the name `{name}` is declared twice"),
            ));
        }
        Ok(())
    }

    fn family(&self, name: &str) -> Option<usize> {
        self.families.iter().position(|f| f.name == name)
    }

    /// Checks that need no parameter values: read positions use only indices and parameters,
    /// read arrays have a constant length, loop bounds are polynomial, states are known.
    fn check_static(&self) -> SResult<()> {
        // loop bounds: polynomial in the parameters
        fn walk(spec: &Spec, stmts: &[Stmt]) -> SResult<()> {
            let t = &spec.order.0;
            for s in stmts {
                match s {
                    Stmt::For { lo, hi, body, .. } => {
                        for b in [lo, hi] {
                            if let Some(p) = b.variable_power() {
                                return Err(spec.err(t, p.at, SpecErrorKind::NotPolynomial, format!("the loop bound `{b}` is exponential in a parameter: {A2_POLY}")));
                            }
                        }
                        walk(spec, body)?;
                    }
                    Stmt::Emit { family, idx, at } => {
                        let Some(f) = spec.family(family) else {
                            return Err(spec.err(t, *at, SpecErrorKind::Name, format!("the order emits `{family}`, which is not a declared state family")));
                        };
                        if spec.families[f].indices.len() != idx.len() {
                            return Err(spec.err(
                                t,
                                *at,
                                SpecErrorKind::Schema,
                                format!(
                                    "`{family}` has {} indices, the order gives {}",
                                    spec.families[f].indices.len(),
                                    idx.len()
                                ),
                            ));
                        }
                    }
                }
            }
            Ok(())
        }
        walk(self, &self.order.1)?;
        self.check_target(&self.answer.0, &self.answer.1)?;
        for f in &self.families {
            for c in &f.cases {
                let CaseKind::Rule { reads, .. } = &c.kind else {
                    continue;
                };
                for (t, r) in reads {
                    if let Some((var, lo, hi, _)) = &r.array {
                        for b in [lo, hi] {
                            let mut names = Vec::new();
                            b.names(&mut names);
                            if let Some((n, at)) = names
                                .iter()
                                .find(|(n, _)| !self.params.iter().any(|p| &p.name == n))
                            {
                                return Err(self.err(t, *at, SpecErrorKind::Arity, format!("the read array `{}[{var}]` has a length that depends on `{n}`: {A2_ARITY}", r.name)));
                            }
                        }
                    }
                    self.check_target(t, &r.target)?;
                }
            }
        }
        Ok(())
    }

    /// A read target is `input[k]`, a state, or `if(cond, target, target)` with index-only
    /// positions.
    fn check_target(&self, t: &Text, n: &Node) -> SResult<()> {
        let index_only = |e: &Node| -> SResult<()> {
            let mut names = Vec::new();
            e.names(&mut names);
            if let Some((name, at)) = names
                .iter()
                .find(|(x, _)| x == "input" || self.family(x).is_some())
            {
                return Err(self.err(
                    t,
                    *at,
                    SpecErrorKind::InputDependentRead,
                    format!("the read position `{e}` depends on `{name}`: {A2_INPUT_READ}"),
                ));
            }
            Ok(())
        };
        match &n.e {
            Expr::Index(name, args) if name == "input" || self.family(name).is_some() => {
                if name == "input" && args.len() != 1 {
                    return Err(self.err(t, n.at, SpecErrorKind::Schema, "`input` takes one index: input[k], k = 1..n"));
                }
                args.iter().try_for_each(index_only)
            }
            Expr::Call(f, args) if f == "if" && args.len() == 3 => {
                index_only(&args[0])?;
                self.check_target(t, &args[1])?;
                self.check_target(t, &args[2])
            }
            _ => Err(self.err(t, n.at, SpecErrorKind::Schema, format!("`{n}` is not a read: a read is `input[k]`, a state like `d[i, j]`, or `if(cond, read, read)`"))),
        }
    }

    /// The parameters in declaration order, defaults filled in, each checked against its range.
    pub fn resolve_params(&self, given: &[(String, Val)]) -> SResult<Vec<(String, Val)>> {
        for (k, _) in given {
            if !self.params.iter().any(|p| &p.name == k) {
                let known: Vec<&str> = self.params.iter().map(|p| p.name.as_str()).collect();
                return Err(self.err(
                    &self.size_text,
                    0,
                    SpecErrorKind::Param,
                    format!(
                        "the problem `{}` has no parameter `{k}` (its parameters: {})",
                        self.id,
                        known.join(", ")
                    ),
                ));
            }
        }
        let mut env: Vec<(String, Val)> = Vec::new();
        for p in &self.params {
            let v = match given.iter().find(|(k, _)| k == &p.name) {
                // a one-entry list given as a single number
                Some((_, Val::Int(x))) if p.is_vector() => Val::Vec(vec![*x]),
                Some((_, v)) => v.clone(),
                None => match &p.default {
                    ParamDefault::Vector(v) => Val::Vec(v.clone()),
                    ParamDefault::Scalar(t, n) => Val::Int(self.ival(t, n, &env)?),
                },
            };
            let bound = |b: &Option<(Text, Node)>| {
                b.as_ref().map(|(t, n)| self.ival(t, n, &env)).transpose()
            };
            let (lo, hi) = (bound(&p.min)?, bound(&p.max)?);
            let range = format!(
                "{}..={}",
                lo.map_or("".into(), |v| v.to_string()),
                hi.map_or("".into(), |v| v.to_string())
            );
            let out = |x: i64| lo.is_some_and(|l| x < l) || hi.is_some_and(|h| x > h);
            match (&v, p.len) {
                (Val::Int(x), None) if out(*x) => {
                    return Err(self.err(
                        &p.name_text,
                        0,
                        SpecErrorKind::Param,
                        format!("the parameter {} must be in {range} (got {x})", p.name),
                    ));
                }
                (Val::Vec(xs), Some((lmin, lmax))) => {
                    if xs.len() < lmin || xs.len() > lmax {
                        return Err(self.err(&p.name_text, 0, SpecErrorKind::Param, format!("the parameter {} must have between {lmin} and {lmax} entries (got {})", p.name, xs.len())));
                    }
                    if let Some(x) = xs.iter().find(|&&x| out(x)) {
                        return Err(self.err(
                            &p.name_text,
                            0,
                            SpecErrorKind::Param,
                            format!("every entry of {} must be in {range} (got {x})", p.name),
                        ));
                    }
                }
                (Val::Int(_), Some(_)) => {
                    return Err(self.err(
                        &p.name_text,
                        0,
                        SpecErrorKind::Param,
                        format!("the parameter {} is a list (give it as k=a,b,c)", p.name),
                    ));
                }
                (Val::Vec(_), None) => {
                    return Err(self.err(
                        &p.name_text,
                        0,
                        SpecErrorKind::Param,
                        format!("the parameter {} is a single number, not a list", p.name),
                    ));
                }
                _ => {}
            }
            env.push((p.name.clone(), v));
        }
        Ok(env)
    }

    /// Evaluate an index expression (parameters, indices, integer arithmetic).
    fn ival(&self, t: &Text, n: &Node, env: &[(String, Val)]) -> SResult<i64> {
        let e = |msg: String| self.err(t, n.at, SpecErrorKind::Range, msg);
        let input_dependent = |what: &str| {
            self.err(
                t,
                n.at,
                SpecErrorKind::InputDependentRead,
                format!("`{what}` cannot appear in an index or bound: {A2_INPUT_READ}"),
            )
        };
        let lookup = |name: &str| env.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v);
        Ok(match &n.e {
            Expr::Int(v) => *v,
            Expr::Name(name) => match lookup(name) {
                Some(Val::Int(v)) => *v,
                Some(Val::Vec(_)) => {
                    return Err(e(format!("`{name}` is a list: index it, `{name}[k]`")))
                }
                None if name == "input" || self.family(name).is_some() => {
                    return Err(input_dependent(name))
                }
                None => {
                    return Err(self.err(
                        t,
                        n.at,
                        SpecErrorKind::Name,
                        format!("unknown name `{name}`"),
                    ))
                }
            },
            Expr::Index(name, args) => match lookup(name) {
                Some(Val::Vec(v)) if args.len() == 1 => {
                    let k = self.ival(t, &args[0], env)?;
                    *usize::try_from(k)
                        .ok()
                        .and_then(|k| v.get(k))
                        .ok_or_else(|| e(format!("index {k} is outside {name}[0..{}]", v.len())))?
                }
                _ if name == "input" || self.family(name).is_some() => {
                    return Err(input_dependent(&n.to_string()))
                }
                _ => {
                    return Err(self.err(
                        t,
                        n.at,
                        SpecErrorKind::Name,
                        format!("`{name}` is not a list parameter"),
                    ))
                }
            },
            Expr::Call(f, args) => {
                let arg = |k: usize| self.ival(t, &args[k], env);
                match (f.as_str(), args.len()) {
                    ("min", k) if k >= 1 => (0..k).map(arg).collect::<SResult<Vec<_>>>()?.into_iter().min().unwrap_or(0),
                    ("max", k) if k >= 1 => (0..k).map(arg).collect::<SResult<Vec<_>>>()?.into_iter().max().unwrap_or(0),
                    ("if", 3) => if arg(0)? != 0 { arg(1)? } else { arg(2)? },
                    ("bit", 2) => (arg(0)? >> arg(1)?.clamp(0, 62)) & 1,
                    ("len", 1) => match &args[0].e {
                        Expr::Name(name) => match lookup(name) {
                            Some(Val::Vec(v)) => v.len() as i64,
                            _ => return Err(e(format!("`len` takes a list parameter, not `{name}`"))),
                        },
                        _ => return Err(e("`len` takes a list parameter".into())),
                    },
                    ("sum", 4) => {
                        let Expr::Name(var) = &args[0].e else { return Err(e("sum(var, lo, hi, expr) needs a variable name".into())) };
                        let (lo, hi) = (arg(1)?, arg(2)?);
                        let mut env = env.to_vec();
                        let mut s = 0i64;
                        for v in lo..=hi {
                            env.push((var.clone(), Val::Int(v)));
                            s = s.checked_add(self.ival(t, &args[3], &env)?).ok_or_else(|| e("overflow".into()))?;
                            env.pop();
                        }
                        s
                    }
                    _ => return Err(e(format!("`{f}` with {} arguments is not a function of index expressions (min, max, if, bit, len, sum)", args.len()))),
                }
            }
            Expr::List(_) => return Err(e("a list is not a number".into())),
            Expr::Neg(a) => -self.ival(t, a, env)?,
            Expr::Not(a) => (self.ival(t, a, env)? == 0) as i64,
            Expr::Bin(op, a, b) => {
                let (x, y) = (self.ival(t, a, env)?, self.ival(t, b, env)?);
                let ov = || e(format!("`{n}` overflows"));
                match op {
                    BinOp::Add => x.checked_add(y).ok_or_else(ov)?,
                    BinOp::Sub => x.checked_sub(y).ok_or_else(ov)?,
                    BinOp::Mul => x.checked_mul(y).ok_or_else(ov)?,
                    BinOp::Div | BinOp::Mod if y == 0 => {
                        return Err(e(format!("`{n}` divides by zero")))
                    }
                    BinOp::Div => x.div_euclid(y),
                    BinOp::Mod => x.rem_euclid(y),
                    BinOp::Pow => u32::try_from(y)
                        .ok()
                        .and_then(|y| x.checked_pow(y))
                        .ok_or_else(ov)?,
                    BinOp::Lt => (x < y) as i64,
                    BinOp::Le => (x <= y) as i64,
                    BinOp::Gt => (x > y) as i64,
                    BinOp::Ge => (x >= y) as i64,
                    BinOp::Eq => (x == y) as i64,
                    BinOp::Ne => (x != y) as i64,
                    BinOp::And => (x != 0 && y != 0) as i64,
                    BinOp::Or => (x != 0 || y != 0) as i64,
                }
            }
        })
    }

    /// Lower a rule's value to a [`VExpr`]: reads become ports, parameters constants.
    fn lower(&self, t: &Text, n: &Node, cx: &LowerCx) -> SResult<VExpr> {
        use VExpr as V;
        let unsupported = |what: String| {
            self.err(
                t,
                n.at,
                SpecErrorKind::UnsupportedOp,
                format!("{what}: {A2_OPS}"),
            )
        };
        let bx = Box::new;
        let as_const = |e: &VExpr| e.as_const();
        Ok(match &n.e {
            Expr::Int(v) => V::Const(*v),
            Expr::Name(name) => {
                if let Some(v) = cx.locals.iter().rev().find(|(k, _)| k == name) {
                    V::Const(v.1)
                } else if let Some(&(port, len)) = cx.reads.get(name) {
                    if len.is_some() {
                        return Err(self.err(
                            t,
                            n.at,
                            SpecErrorKind::Name,
                            format!(
                                "`{name}` is a read array: index it with a constant, `{name}[k]`"
                            ),
                        ));
                    }
                    V::Read(port)
                } else if let Some((_, Val::Int(v))) = cx.params.iter().find(|(k, _)| k == name) {
                    V::Const(*v)
                } else if cx.indices.contains(name) {
                    return Err(self.err(t, n.at, SpecErrorKind::UnsupportedOp, format!("the value uses the state index `{name}`, but one rule circuit serves every state of the rule: use the index in a `when` condition (a separate rule) or in a read position")));
                } else {
                    return Err(self.err(t, n.at, SpecErrorKind::Name, format!("unknown name `{name}` (a value may use its reads, the parameters and sum variables)")));
                }
            }
            Expr::Index(name, args) => {
                if args.len() != 1 {
                    return Err(self.err(
                        t,
                        n.at,
                        SpecErrorKind::Schema,
                        format!("`{n}` needs exactly one index"),
                    ));
                }
                if let Some(&(port, Some(len))) = cx.reads.get(name) {
                    let k = self.const_arg(t, &args[0], cx)?;
                    if !(cx.read_lo[name]..cx.read_lo[name] + len as i64).contains(&k) {
                        return Err(self.err(
                            t,
                            n.at,
                            SpecErrorKind::Range,
                            format!(
                                "`{n}` is outside the read array {name}[{}..{}]",
                                cx.read_lo[name],
                                cx.read_lo[name] + len as i64
                            ),
                        ));
                    }
                    V::Read(port + (k - cx.read_lo[name]) as usize)
                } else if let Some((_, Val::Vec(v))) = cx.params.iter().find(|(k, _)| k == name) {
                    let k = self.const_arg(t, &args[0], cx)?;
                    V::Const(
                        *usize::try_from(k)
                            .ok()
                            .and_then(|k| v.get(k))
                            .ok_or_else(|| {
                                self.err(
                                    t,
                                    n.at,
                                    SpecErrorKind::Range,
                                    format!("index {k} is outside {name}[0..{}]", v.len()),
                                )
                            })?,
                    )
                } else if name == "input" || self.family(name).is_some() {
                    return Err(self.err(t, n.at, SpecErrorKind::Schema, format!("the value reads `{n}` directly: declare it in `reads` (e.g. `x = {n}`) and use the read's name")));
                } else {
                    return Err(self.err(
                        t,
                        n.at,
                        SpecErrorKind::Name,
                        format!("unknown list `{name}`"),
                    ));
                }
            }
            Expr::List(_) => {
                return Err(self.err(
                    t,
                    n.at,
                    SpecErrorKind::Schema,
                    "a list is only a `lookup` table",
                ))
            }
            Expr::Neg(a) => {
                let x = self.lower(t, a, cx)?;
                match as_const(&x) {
                    Some(v) => V::Const(-v),
                    None => V::Scale(-1, bx(x)),
                }
            }
            Expr::Not(a) => {
                let x = self.lower(t, a, cx)?;
                if !x.is_bool() {
                    return Err(self.err(
                        t,
                        n.at,
                        SpecErrorKind::UnsupportedOp,
                        format!("`!` needs a condition (a comparison), not `{a}`"),
                    ));
                }
                match as_const(&x) {
                    Some(v) => V::Const(1 - v),
                    None => V::Not(bx(x)),
                }
            }
            Expr::Bin(op, a, b) => {
                let (x, y) = (self.lower(t, a, cx)?, self.lower(t, b, cx)?);
                if let (Some(p), Some(q)) = (as_const(&x), as_const(&y)) {
                    let env: Vec<(String, Val)> =
                        vec![("__a".into(), Val::Int(p)), ("__b".into(), Val::Int(q))];
                    let leaf = |name: &str, at: usize| {
                        Box::new(Node {
                            e: Expr::Name(name.into()),
                            at,
                        })
                    };
                    let node = Node {
                        e: Expr::Bin(*op, leaf("__a", a.at), leaf("__b", b.at)),
                        at: n.at,
                    };
                    return Ok(V::Const(self.ival(t, &node, &env)?));
                }
                let cmp = |c: CmpOp| V::Cmp(c, bx(x.clone()), bx(y.clone()));
                match op {
                    BinOp::Add => V::Add(bx(x), bx(y)),
                    BinOp::Sub => V::Sub(bx(x), bx(y)),
                    BinOp::Mul => match (as_const(&x), as_const(&y)) {
                        (Some(k), _) => V::Scale(k, bx(y)),
                        (_, Some(k)) => V::Scale(k, bx(x)),
                        _ => return Err(unsupported(format!("`{n}` multiplies two values (only multiplication by a constant is a proved gadget)"))),
                    },
                    BinOp::Mod => match as_const(&y) {
                        Some(q) if q >= 1 => V::Mod(bx(x), q),
                        Some(q) => return Err(self.err(t, n.at, SpecErrorKind::Range, format!("the modulus in `{n}` must be at least 1 (got {q})"))),
                        None => return Err(unsupported(format!("`{n}` takes a value modulo a value (the modulus must be a constant)"))),
                    },
                    BinOp::Div => return Err(unsupported(format!("`{n}` divides a value (division is not a proved gadget)"))),
                    BinOp::Pow => return Err(unsupported(format!("`{n}` raises a value to a power"))),
                    BinOp::Lt => cmp(CmpOp::Lt),
                    BinOp::Le => cmp(CmpOp::Le),
                    BinOp::Gt => cmp(CmpOp::Gt),
                    BinOp::Ge => cmp(CmpOp::Ge),
                    BinOp::Eq => cmp(CmpOp::Eq),
                    BinOp::Ne => cmp(CmpOp::Ne),
                    BinOp::And | BinOp::Or => {
                        if !x.is_bool() || !y.is_bool() {
                            return Err(self.err(t, n.at, SpecErrorKind::UnsupportedOp, format!("`{}` needs two conditions (comparisons) in `{n}`", op.symbol())));
                        }
                        if *op == BinOp::And { V::And(bx(x), bx(y)) } else { V::Or(bx(x), bx(y)) }
                    }
                }
            }
            Expr::Call(f, args) => match (f.as_str(), args.len()) {
                ("min" | "max", k) if k >= 2 => {
                    let mut acc = self.lower(t, &args[0], cx)?;
                    for a in &args[1..] {
                        let y = self.lower(t, a, cx)?;
                        acc = match (as_const(&acc), as_const(&y), f.as_str()) {
                            (Some(p), Some(q), "min") => V::Const(p.min(q)),
                            (Some(p), Some(q), _) => V::Const(p.max(q)),
                            (_, _, "min") => V::Min(bx(acc), bx(y)),
                            _ => V::Max(bx(acc), bx(y)),
                        };
                    }
                    acc
                }
                ("if", 3) => {
                    let c = self.lower(t, &args[0], cx)?;
                    if !c.is_bool() {
                        return Err(self.err(t, args[0].at, SpecErrorKind::UnsupportedOp, format!("the condition of `if` must be a comparison or a 0/1 constant, not `{}`", args[0])));
                    }
                    let (x, y) = (self.lower(t, &args[1], cx)?, self.lower(t, &args[2], cx)?);
                    match as_const(&c) {
                        Some(1) => x,
                        Some(_) => y,
                        None => V::If(bx(c), bx(x), bx(y)),
                    }
                }
                ("sum", 4) => {
                    let Expr::Name(var) = &args[0].e else {
                        return Err(self.err(
                            t,
                            args[0].at,
                            SpecErrorKind::Schema,
                            "sum(var, lo, hi, expr) needs a variable name",
                        ));
                    };
                    let (lo, hi) = (
                        self.const_arg(t, &args[1], cx)?,
                        self.const_arg(t, &args[2], cx)?,
                    );
                    if hi - lo > 4096 {
                        return Err(self.err(
                            t,
                            n.at,
                            SpecErrorKind::Arity,
                            format!("`sum` over {} terms: {A2_ARITY}", hi - lo + 1),
                        ));
                    }
                    let mut acc = V::Const(0);
                    for v in lo..=hi {
                        let mut inner = cx.clone();
                        inner.locals.push((var.clone(), v));
                        let term = self.lower(t, &args[3], &inner)?;
                        acc = match (as_const(&acc), as_const(&term)) {
                            (Some(p), Some(q)) => V::Const(p + q),
                            _ => V::Add(bx(acc), bx(term)),
                        };
                    }
                    acc
                }
                ("lookup", 2) => {
                    let x = self.lower(t, &args[0], cx)?;
                    let table = match &args[1].e {
                        Expr::List(items) => items.iter().map(|i| self.const_arg(t, i, cx)).collect::<SResult<Vec<_>>>()?,
                        Expr::Name(name) => match cx.params.iter().find(|(k, _)| k == name) {
                            Some((_, Val::Vec(v))) => v.clone(),
                            _ => return Err(self.err(t, args[1].at, SpecErrorKind::Schema, format!("the table of `lookup` must be a list or a list parameter, not `{name}`"))),
                        },
                        _ => return Err(self.err(t, args[1].at, SpecErrorKind::Schema, "the table of `lookup` must be a list or a list parameter")),
                    };
                    if table.is_empty() {
                        return Err(self.err(
                            t,
                            args[1].at,
                            SpecErrorKind::Schema,
                            "a `lookup` table needs at least one entry",
                        ));
                    }
                    match as_const(&x) {
                        Some(k) => V::Const(
                            *usize::try_from(k)
                                .ok()
                                .and_then(|k| table.get(k))
                                .ok_or_else(|| {
                                    self.err(
                                        t,
                                        n.at,
                                        SpecErrorKind::Range,
                                        format!("lookup index {k} is outside the table"),
                                    )
                                })?,
                        ),
                        None => V::Lookup(bx(x), table),
                    }
                }
                ("bit" | "len", _) => V::Const(self.const_arg(t, n, cx)?),
                _ => {
                    return Err(unsupported(format!(
                        "`{f}` with {} arguments is not a supported function",
                        args.len()
                    )))
                }
            },
        })
    }

    /// A constant (parameter-only) argument inside a value.
    fn const_arg(&self, t: &Text, n: &Node, cx: &LowerCx) -> SResult<i64> {
        let mut env: Vec<(String, Val)> = cx.params.to_vec();
        env.extend(cx.locals.iter().map(|(k, v)| (k.clone(), Val::Int(*v))));
        let mut names = Vec::new();
        n.names(&mut names);
        if let Some((name, at)) = names.iter().find(|(x, _)| cx.reads.contains_key(x)) {
            return Err(self.err(
                t,
                *at,
                SpecErrorKind::UnsupportedOp,
                format!("`{n}` must be a constant, but it uses the read `{name}`"),
            ));
        }
        self.ival(t, n, &env)
    }

    /// The instance at the given parameters (the others at their defaults).
    pub fn instance(self: &Arc<Self>, given: &[(String, Val)]) -> SResult<SpecProblem> {
        SpecProblem::build(self.clone(), given, true)
    }

    /// One line per parameter (for `--list` and the docs).
    pub fn param_lines(&self) -> Vec<String> {
        self.params.iter().map(ParamDecl::summary).collect()
    }
}

/// What a value may name while it is lowered.
#[derive(Clone)]
struct LowerCx<'a> {
    params: &'a [(String, Val)],
    /// read name → (first port, array length).
    reads: HashMap<String, (usize, Option<usize>)>,
    read_lo: HashMap<String, i64>,
    indices: &'a [String],
    locals: Vec<(String, i64)>,
}

fn int_node(v: i64) -> Node {
    Node {
        e: Expr::Int(v),
        at: 0,
    }
}

/// Byte offset of the first character of a string value whose span starts at `start` (skips
/// the opening quotes, and the newline a `"""` string drops).
fn content_start(source: &str, start: usize) -> usize {
    let rest = &source[start.min(source.len())..];
    let skip = if rest.starts_with("\"\"\"") || rest.starts_with("'''") {
        if rest[3..].starts_with('\n') {
            4
        } else if rest[3..].starts_with("\r\n") {
            5
        } else {
            3
        }
    } else if rest.starts_with('"') || rest.starts_with('\'') {
        1
    } else {
        0
    };
    start + skip
}

/// 1-based line and column of a byte offset.
fn offset_line_col(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Line and column of character `at` of a text field (escapes in the TOML string are assumed
/// absent, as in every catalog spec).
fn line_col(source: &str, t: &Text, at: usize) -> (usize, usize) {
    let start = t.start.min(source.len());
    let off = source[start..]
        .char_indices()
        .nth(at)
        .map_or(source.len(), |(b, _)| start + b);
    offset_line_col(source, off)
}

// ------------------------------------------------------------------ instances

/// A compiled rule of an instance.
#[derive(Clone, Debug)]
struct RuleIr {
    name: String,
    value: VExpr,
    /// Where the rule's value is written (for errors).
    text: Text,
}

/// A DP spec at fixed parameters: the [`DpProblem`] the compiler, the claims and the CLI use.
#[derive(Clone)]
pub struct SpecProblem {
    pub spec: Arc<Spec>,
    /// Every parameter's value, in declaration order.
    pub params: Vec<(String, Val)>,
    /// The parameters given explicitly (the others follow their defaults when resized).
    given: Vec<(String, Val)>,
    n: usize,
    alphabet: usize,
    values: usize,
    ports: usize,
    steps: Vec<Step>,
    /// Per step, the state's name (e.g. `d[2, 3]`), for errors.
    state_names: Vec<String>,
    rules: Vec<RuleIr>,
    local: Arc<OnceLock<bool>>,
}

impl fmt::Debug for SpecProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpecProblem({})", self.describe())
    }
}

impl SpecProblem {
    fn build(spec: Arc<Spec>, given: &[(String, Val)], validate: bool) -> SResult<Self> {
        let params = spec.resolve_params(given)?;
        let s = &*spec;
        let num = |(t, n): &(Text, Node), what: &str, lo: i64, hi: i64| -> SResult<usize> {
            let v = s.ival(t, n, &params)?;
            if v < lo || v > hi {
                let kind = if what == "values" {
                    SpecErrorKind::Unbounded
                } else {
                    SpecErrorKind::Range
                };
                let why = if what == "values" {
                    format!(": {A2_BOUNDED}, with V at most {MAX_VALUES}")
                } else {
                    String::new()
                };
                return Err(s.err(
                    t,
                    0,
                    kind,
                    format!("{what} = {v} must be in {lo}..={hi}{why}"),
                ));
            }
            Ok(v as usize)
        };
        let n = num(&s.input_len, "input_len", 0, MAX_TOTAL_LEN as i64)?;
        let alphabet = num(&s.alphabet, "alphabet", 1, MAX_VALUES)?;
        let values = num(&s.values, "values", 1, MAX_VALUES)?;
        if alphabet > values {
            return Err(s.err(&s.values.0, 0, SpecErrorKind::Range, format!("values = {values} must be at least the alphabet {alphabet} (input symbols are tokens too)")));
        }

        // 1. run the order program: every state and its position
        let mut emitted: Vec<(usize, Vec<i64>)> = Vec::new();
        let mut pos_of: HashMap<(usize, Vec<i64>), usize> = HashMap::new();
        let budget = MAX_TOTAL_LEN.saturating_sub(n + 3);
        let mut iters = 0usize;
        let mut env = params.clone();
        run_order(
            s,
            &s.order.1,
            &mut env,
            &mut emitted,
            &mut pos_of,
            budget,
            &mut iters,
        )?;
        let first = n + 2;

        // 2. every rule lowered once: its reads are numbered ports (array lengths depend on
        // the parameters only, so every state of a rule reads the same number of states)
        let mut rules: Vec<Option<RuleIr>> = vec![None; s.rules.len()];
        let mut rule_reads = vec![0usize; s.rules.len()];
        for fam in &s.families {
            for c in &fam.cases {
                let CaseKind::Rule { rule, reads, value } = &c.kind else {
                    continue;
                };
                let mut names: HashMap<String, (usize, Option<usize>)> = HashMap::new();
                let mut read_lo = HashMap::new();
                let mut count = 0;
                for (t, r) in reads {
                    if names.contains_key(&r.name) {
                        return Err(s.err(
                            t,
                            0,
                            SpecErrorKind::Name,
                            format!("the read `{}` is declared twice", r.name),
                        ));
                    }
                    let len = match &r.array {
                        None => None,
                        Some((_, lo, hi, inc)) => {
                            let (lo, hi) = (s.ival(t, lo, &params)?, s.ival(t, hi, &params)?);
                            let hi = if *inc { hi } else { hi - 1 };
                            read_lo.insert(r.name.clone(), lo);
                            Some((hi - lo + 1).max(0) as usize)
                        }
                    };
                    names.insert(r.name.clone(), (count, len));
                    count += len.unwrap_or(1);
                }
                rule_reads[*rule] = count;
                let cx = LowerCx {
                    params: &params,
                    reads: names,
                    read_lo,
                    indices: &fam.indices,
                    locals: Vec::new(),
                };
                let v = s.lower(&value.0, &value.1, &cx)?;
                rules[*rule] = Some(RuleIr {
                    name: s.rules[*rule].clone(),
                    value: v,
                    text: value.0.clone(),
                });
            }
        }

        // 3. each state's case and read positions
        let mut raw_steps: Vec<(StepKind, Vec<usize>)> = Vec::with_capacity(emitted.len() + 2);
        let mut forward: Option<(usize, usize, Text)> = None;
        let mut edges: Vec<Vec<usize>> = vec![Vec::new(); emitted.len()];
        for (k, (fi, idx)) in emitted.iter().enumerate() {
            let fam = &s.families[*fi];
            let mut env = params.clone();
            env.extend(
                fam.indices
                    .iter()
                    .zip(idx)
                    .map(|(i, &v)| (i.clone(), Val::Int(v))),
            );
            let mut chosen = None;
            for c in &fam.cases {
                let hit = match &c.when {
                    None => true,
                    Some((t, w)) => s.ival(t, w, &env)? != 0,
                };
                if hit {
                    chosen = Some(c);
                    break;
                }
            }
            let Some(case) = chosen else {
                return Err(s.err(
                    &fam.text,
                    0,
                    SpecErrorKind::Schema,
                    format!(
                        "the state {} matches no case (add a case without `when`)",
                        state_name(s, *fi, idx)
                    ),
                ));
            };
            match &case.kind {
                CaseKind::Boundary(t, b) => {
                    let v = s.ival(t, b, &env)?;
                    if v < 0 || v >= values as i64 {
                        return Err(s.err(
                            t,
                            0,
                            SpecErrorKind::Unbounded,
                            format!(
                                "the boundary value of {} is {v}, outside 0..{}: {A2_BOUNDED}",
                                state_name(s, *fi, idx),
                                values - 1
                            ),
                        ));
                    }
                    raw_steps.push((StepKind::Boundary(v), Vec::new()));
                }
                CaseKind::Rule { rule, reads, .. } => {
                    let mut positions = Vec::with_capacity(rule_reads[*rule]);
                    for (t, r) in reads {
                        let items: Vec<Option<i64>> = match &r.array {
                            None => vec![None],
                            Some((_, lo, hi, inc)) => {
                                let (lo, hi) = (s.ival(t, lo, &params)?, s.ival(t, hi, &params)?);
                                let hi = if *inc { hi } else { hi - 1 };
                                (lo..=hi).map(Some).collect()
                            }
                        };
                        for item in items {
                            let mut renv = env.clone();
                            if let (Some(v), Some((var, ..))) = (item, &r.array) {
                                renv.push((var.clone(), Val::Int(v)));
                            }
                            let p = match resolve_target(s, t, &r.target, &renv)? {
                                Target::Input(i) => {
                                    if i < 1 || i > n as i64 {
                                        return Err(s.err(
                                            t,
                                            r.target.at,
                                            SpecErrorKind::MissingState,
                                            format!(
                                                "{} reads input[{i}], outside input[1..={n}]",
                                                state_name(s, *fi, idx)
                                            ),
                                        ));
                                    }
                                    i as usize
                                }
                                Target::State(g, gi) => {
                                    let Some(&q) = pos_of.get(&(g, gi.clone())) else {
                                        return Err(s.err(
                                            t,
                                            r.target.at,
                                            SpecErrorKind::MissingState,
                                            format!(
                                                "{} reads {}, which is not a state of the order",
                                                state_name(s, *fi, idx),
                                                state_name(s, g, &gi)
                                            ),
                                        ));
                                    };
                                    edges[k].push(q);
                                    if q >= k && forward.is_none() {
                                        forward = Some((k, q, t.clone()));
                                    }
                                    first + q
                                }
                            };
                            positions.push(p);
                        }
                    }
                    raw_steps.push((StepKind::Rule(*rule), positions));
                }
            }
        }
        if let Some((k, q, t)) = forward {
            if let Some(cycle) = find_cycle(&edges) {
                let path: Vec<String> = cycle
                    .iter()
                    .map(|&c| state_name(s, emitted[c].0, &emitted[c].1))
                    .collect();
                return Err(s.err(
                    &t,
                    0,
                    SpecErrorKind::Cycle,
                    format!("the reads form a cycle {}: {A2_EARLIER}", path.join(" → ")),
                ));
            }
            return Err(s.err(
                &t,
                0,
                SpecErrorKind::LaterRead,
                format!(
                    "{} reads {}, which comes later in the order: {A2_EARLIER}",
                    state_name(s, emitted[k].0, &emitted[k].1),
                    state_name(s, emitted[q].0, &emitted[q].1)
                ),
            ));
        }

        // 4. the answer: one read of a state
        let at = &s.answer;
        let answer_pos = match resolve_target(s, &at.0, &at.1, &params)? {
            Target::State(g, gi) => match pos_of.get(&(g, gi.clone())) {
                Some(&q) => first + q,
                None => {
                    return Err(s.err(
                        &at.0,
                        0,
                        SpecErrorKind::MissingState,
                        format!(
                            "the answer {} is not a state of the order",
                            state_name(s, g, &gi)
                        ),
                    ))
                }
            },
            Target::Input(_) => {
                return Err(s.err(
                    &at.0,
                    0,
                    SpecErrorKind::Schema,
                    "the answer must be a state, not an input symbol",
                ))
            }
        };
        let answer_rule = s.rules.len() - 1;
        rules[answer_rule] = Some(RuleIr {
            name: "answer".into(),
            value: VExpr::Read(0),
            text: at.0.clone(),
        });
        let ports = rule_reads.iter().copied().max().unwrap_or(0).max(1);
        let mut steps = Vec::with_capacity(raw_steps.len() + 2);
        let mut push = |kind: StepKind, reads: &[usize]| {
            let pos = first + steps.len();
            let mut r = reads.to_vec();
            r.resize(ports, pos - 1);
            steps.push(Step { kind, reads: r });
        };
        for (kind, reads) in &raw_steps {
            push(kind.clone(), reads);
        }
        push(StepKind::Sep, &[]);
        push(StepKind::Rule(answer_rule), &[answer_pos]);
        let mut state_names: Vec<String> =
            emitted.iter().map(|(f, i)| state_name(s, *f, i)).collect();
        state_names.push("SEP".into());
        state_names.push("answer".into());
        let rules: Vec<RuleIr> = rules.into_iter().flatten().collect();
        let p = SpecProblem {
            spec: spec.clone(),
            params,
            given: given.to_vec(),
            n,
            alphabet,
            values,
            ports,
            steps,
            state_names,
            rules,
            local: Arc::new(OnceLock::new()),
        };
        if validate {
            p.validate()?;
        }
        Ok(p)
    }

    /// Checks on the built instance: every rule circuit builds (its gadgets' hypotheses hold on
    /// reads in `0..V`), and on a few inputs every state value lies in `0..V` (bounded values).
    fn validate(&self) -> SResult<()> {
        let s = &*self.spec;
        for r in &self.rules {
            let mut c = Circuit::new();
            let reads: Vec<Lin> = (0..self.ports)
                .map(|k| c.free_input(format!("read{k}"), 0.0, (self.values - 1) as f64))
                .collect();
            r.value.compile(&mut c, &reads, &r.name).map_err(|m| {
                s.err(
                    &r.text,
                    0,
                    SpecErrorKind::Range,
                    format!("the rule `{}` does not compile: {m}", r.name),
                )
            })?;
        }
        let mut rng = Rng::new(0x5eed);
        let mut inputs = vec![vec![0; self.n], vec![self.alphabet - 1; self.n]];
        inputs.push((0..self.n).map(|i| i % self.alphabet).collect());
        for _ in 0..6 {
            inputs.push(self.random_input(&mut rng));
        }
        for x in &inputs {
            self.try_solve(x)?;
        }
        Ok(())
    }

    /// The spec's own semantics on `input`: the whole sequence, or the first state whose value
    /// leaves `0..V` (or whose lookup leaves its table).
    pub fn try_solve(&self, input: &[usize]) -> SResult<Vec<usize>> {
        let s = &*self.spec;
        let mut seq: Vec<usize> = input.to_vec();
        seq.push(self.values);
        let mut buf = vec![0i64; self.ports];
        for (k, step) in self.steps.iter().enumerate() {
            let tok = match step.kind {
                StepKind::Sep => self.values,
                StepKind::Boundary(v) => v as usize,
                StepKind::Rule(rule) => {
                    for (b, &p) in buf.iter_mut().zip(&step.reads) {
                        let t = seq[p - 1];
                        *b = if t == self.values { 0 } else { t as i64 };
                    }
                    let r = &self.rules[rule];
                    let v = r.value.eval(&buf).map_err(|m| {
                        s.err(
                            &r.text,
                            0,
                            SpecErrorKind::Range,
                            format!("at {} on the input {input:?}: {m}", self.state_names[k]),
                        )
                    })?;
                    if v < 0 || v >= self.values as i64 {
                        return Err(s.err(&r.text, 0, SpecErrorKind::Unbounded, format!("the rule `{}` gives {} the value {v} on the input {input:?}, outside the declared values 0..{}: {A2_BOUNDED} (raise `values`, or bound the value with `% q` or `min`)", r.name, self.state_names[k], self.values - 1)));
                    }
                    v as usize
                }
            };
            seq.push(tok);
        }
        Ok(seq)
    }

    /// The value of a parameter.
    pub fn param(&self, name: &str) -> Option<&Val> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// The given parameters with `changes` applied (the rest keep following their defaults).
    fn given_with(&self, changes: &[(String, Val)]) -> Vec<(String, Val)> {
        let mut given: Vec<(String, Val)> = (self.given.iter())
            .filter(|(k, _)| !changes.iter().any(|(c, _)| c == k))
            .cloned()
            .collect();
        given.extend(changes.iter().cloned());
        given
    }

    /// The size parameters set to `size`.
    fn size_changes(&self, size: i64) -> Vec<(String, Val)> {
        (self.spec.size.iter())
            .map(|k| (k.clone(), Val::Int(size)))
            .collect()
    }

    /// The same problem with some parameters changed.
    pub fn with(&self, changes: &[(String, Val)]) -> Result<SpecProblem> {
        Ok(SpecProblem::build(
            self.spec.clone(),
            &self.given_with(changes),
            true,
        )?)
    }

    /// Dependency distance of the instance at `size`, without the value checks.
    fn distance_at(&self, size: i64) -> Option<usize> {
        let given = self.given_with(&self.size_changes(size));
        let p = SpecProblem::build(self.spec.clone(), &given, false).ok()?;
        Some(super::dependency_distance(&p))
    }

    /// m-local, derived from the reads: the dependency distance is the same at the sizes
    /// s₀ + 1, 2s₀ + 3 and 4s₀ + 7 (s₀ the instance's size, as far as the parameter's range
    /// allows; at least two sizes must build).
    fn derive_local(&self) -> bool {
        let s0 = self.size() as i64;
        let ds: Vec<usize> = [s0 + 1, 2 * s0 + 3, 4 * s0 + 7]
            .iter()
            .filter_map(|&s| self.distance_at(s))
            .collect();
        let d0 = super::dependency_distance(self);
        ds.len() >= 2 && ds.iter().all(|&d| d == d0)
    }
}

enum Target {
    Input(i64),
    State(usize, Vec<i64>),
}

fn resolve_target(s: &Spec, t: &Text, n: &Node, env: &[(String, Val)]) -> SResult<Target> {
    match &n.e {
        Expr::Index(name, args) if name == "input" => Ok(Target::Input(s.ival(t, &args[0], env)?)),
        Expr::Index(name, args) => match s.family(name) {
            Some(f) => {
                if args.len() != s.families[f].indices.len() {
                    return Err(s.err(t, n.at, SpecErrorKind::Schema, format!("`{name}` has {} indices, `{n}` gives {}", s.families[f].indices.len(), args.len())));
                }
                let idx = args.iter().map(|a| s.ival(t, a, env)).collect::<SResult<Vec<_>>>()?;
                Ok(Target::State(f, idx))
            }
            None => Err(s.err(t, n.at, SpecErrorKind::Name, format!("`{name}` is not a state family or `input`"))),
        },
        Expr::Call(f, args) if f == "if" && args.len() == 3 => {
            if s.ival(t, &args[0], env)? != 0 {
                resolve_target(s, t, &args[1], env)
            } else {
                resolve_target(s, t, &args[2], env)
            }
        }
        _ => Err(s.err(t, n.at, SpecErrorKind::Schema, format!("`{n}` is not a read (`input[k]`, a state like `d[i, j]`, or `if(cond, read, read)`)"))),
    }
}

fn state_name(s: &Spec, f: usize, idx: &[i64]) -> String {
    let i: Vec<String> = idx.iter().map(|v| v.to_string()).collect();
    format!("{}[{}]", s.families[f].name, i.join(", "))
}

/// Run the order program, numbering the states it emits.
fn run_order(
    s: &Spec,
    stmts: &[Stmt],
    env: &mut Vec<(String, Val)>,
    emitted: &mut Vec<(usize, Vec<i64>)>,
    pos_of: &mut HashMap<(usize, Vec<i64>), usize>,
    budget: usize,
    iters: &mut usize,
) -> SResult<()> {
    let t = &s.order.0;
    for st in stmts {
        match st {
            Stmt::For {
                var,
                lo,
                hi,
                inclusive,
                body,
            } => {
                let (a, b) = (s.ival(t, lo, env)?, s.ival(t, hi, env)?);
                let b = if *inclusive { b } else { b - 1 };
                let mut v = a;
                while v <= b {
                    *iters += 1;
                    if *iters > MAX_LOOP_STEPS {
                        return Err(s.err(
                            t,
                            lo.at,
                            SpecErrorKind::NotPolynomial,
                            format!(
                                "the order runs more than {MAX_LOOP_STEPS} loop steps: {A2_POLY}"
                            ),
                        ));
                    }
                    env.push((var.clone(), Val::Int(v)));
                    run_order(s, body, env, emitted, pos_of, budget, iters)?;
                    env.pop();
                    v += 1;
                }
            }
            Stmt::Emit { family, idx, at } => {
                let f = s.family(family).expect("checked at load");
                let i = idx
                    .iter()
                    .map(|e| s.ival(t, e, env))
                    .collect::<SResult<Vec<_>>>()?;
                if emitted.len() >= budget {
                    return Err(s.err(t, *at, SpecErrorKind::NotPolynomial, format!("the chain of thought would have more than the supported {MAX_TOTAL_LEN} tokens (the order emits more than {budget} states)")));
                }
                let key = (f, i);
                if pos_of.contains_key(&key) {
                    return Err(s.err(
                        t,
                        *at,
                        SpecErrorKind::Schema,
                        format!(
                            "the order emits the state {} twice",
                            state_name(s, key.0, &key.1)
                        ),
                    ));
                }
                pos_of.insert(key.clone(), emitted.len());
                emitted.push(key);
            }
        }
    }
    Ok(())
}

/// A cycle in the read graph (`edges[k]`: the states k reads), as a list of states.
fn find_cycle(edges: &[Vec<usize>]) -> Option<Vec<usize>> {
    // 0 = new, 1 = on the stack, 2 = done
    let mut mark = vec![0u8; edges.len()];
    let mut parent = vec![usize::MAX; edges.len()];
    for root in 0..edges.len() {
        if mark[root] != 0 {
            continue;
        }
        let mut stack = vec![(root, 0usize)];
        mark[root] = 1;
        while let Some(&mut (v, ref mut next)) = stack.last_mut() {
            if let Some(&w) = edges[v].get(*next) {
                *next += 1;
                if mark[w] == 1 {
                    let mut cyc = vec![w];
                    let mut u = v;
                    while u != w {
                        cyc.push(u);
                        u = parent[u];
                    }
                    cyc.push(w);
                    cyc.reverse();
                    return Some(cyc);
                }
                if mark[w] == 0 {
                    mark[w] = 1;
                    parent[w] = v;
                    stack.push((w, 0));
                }
            } else {
                mark[v] = 2;
                stack.pop();
            }
        }
    }
    None
}

impl DpProblem for SpecProblem {
    fn id(&self) -> String {
        self.spec.id.clone()
    }
    fn describe(&self) -> String {
        match &self.spec.describe {
            Some(tpl) => {
                let mut out = tpl.clone();
                for (k, v) in &self.params {
                    out = out.replace(&format!("{{{k}}}"), &v.to_string());
                }
                out
            }
            None => {
                let ps: Vec<String> = self
                    .params
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                format!("{} ({})", self.spec.id, ps.join(", "))
            }
        }
    }
    fn input_len(&self) -> usize {
        self.n
    }
    fn alphabet(&self) -> usize {
        self.alphabet
    }
    fn values(&self) -> usize {
        self.values
    }
    fn read_ports(&self) -> usize {
        self.ports
    }
    fn rules(&self) -> Vec<String> {
        self.rules.iter().map(|r| r.name.clone()).collect()
    }
    fn steps(&self) -> Vec<Step> {
        self.steps.clone()
    }
    fn transition(&self, c: &mut Circuit, reads: &[Lin]) -> Vec<Lin> {
        // every rule compiled at load (`validate`), so a failure here cannot happen; a zero
        // output would be caught by the interpreter and the decoding checks
        self.rules
            .iter()
            .map(|r| {
                let name = format!("{}.{}", self.spec.id, r.name);
                r.value.compile(c, reads, &name).unwrap_or_default()
            })
            .collect()
    }
    fn solve(&self, input: &[usize]) -> Vec<usize> {
        // `check_input` refuses an input on which a value leaves 0..V; the SEP token marks such
        // a state here (never a valid value)
        self.try_solve(input)
            .unwrap_or_else(|_| vec![self.values; self.n + self.steps.len() + 1])
    }
    fn local(&self) -> bool {
        *self.local.get_or_init(|| self.derive_local())
    }
    fn resized(&self, size: usize) -> Result<Box<dyn DpProblem>> {
        Ok(Box::new(self.with(&self.size_changes(size as i64))?))
    }
    fn size(&self) -> usize {
        match self.param(&self.spec.size[0]) {
            Some(Val::Int(v)) => *v as usize,
            _ => 0,
        }
    }
    fn check_input(&self, input: &[usize]) -> Result<()> {
        super::check_input_shape(self, input)?;
        self.try_solve(input).map(|_| ()).map_err(Error::from)
    }
}

/// Parse `k=v` (v an integer or a comma-separated list) into a parameter assignment.
pub fn parse_param(text: &str) -> Result<(String, Val)> {
    let Some((k, v)) = text.split_once('=') else {
        return Err(Error::input(format!(
            "--param `{text}` must be name=value (a list as name=1,2,3)"
        )));
    };
    let k = k.trim().to_string();
    let nums = v
        .split(',')
        .map(|x| x.trim().parse::<i64>())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| {
            Error::input(format!(
                "--param `{text}`: the value must be an integer or comma-separated integers"
            ))
        })?;
    Ok(if nums.len() == 1 && !v.contains(',') {
        (k, Val::Int(nums[0]))
    } else {
        (k, Val::Vec(nums))
    })
}
