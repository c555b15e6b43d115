//! The expression language of DP specs (proofs/dp-problems.md, "Grammar"): a hand-written lexer
//! and recursive-descent parser for expressions, read definitions and the `order` program. Every
//! node keeps the character offset where it starts, so an error can name its column.

use std::fmt;

/// A syntax error at character `at` of the parsed text.
#[derive(Clone, Debug)]
pub struct SyntaxError {
    pub at: usize,
    pub msg: String,
}

type PResult<T> = std::result::Result<T, SyntaxError>;

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Int(i64),
    Ident(String),
    Punct(&'static str),
    End,
}

/// Punctuation, longest first so that `..=` wins over `..` and `<=` over `<`.
const PUNCT: [&str; 27] = [
    "..=", "..", "<=", ">=", "==", "!=", "&&", "||", "+", "-", "*", "/", "%", "^", "(", ")", "[",
    "]", ",", "<", ">", "!", "=", "{", "}", ";", ":",
];

fn lex(text: &str) -> PResult<Vec<(Tok, usize)>> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let s: String = chars[start..i].iter().collect();
            let v = s.parse::<i64>().map_err(|_| SyntaxError {
                at: start,
                msg: format!("the number {s} is too large"),
            })?;
            out.push((Tok::Int(v), start));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push((Tok::Ident(chars[start..i].iter().collect()), start));
        } else {
            let rest: String = chars[i..(i + 3).min(chars.len())].iter().collect();
            let Some(p) = PUNCT.iter().find(|p| rest.starts_with(**p)) else {
                return Err(SyntaxError {
                    at: i,
                    msg: format!("unexpected character `{c}`"),
                });
            };
            out.push((Tok::Punct(p), i));
            i += p.chars().count();
        }
    }
    out.push((Tok::End, chars.len()));
    Ok(out)
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Pow => "^",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::And => "&&",
            BinOp::Or => "||",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Int(i64),
    Name(String),
    /// `name[e, …]`: a state, `input`, a read array element or a vector parameter element.
    Index(String, Vec<Node>),
    /// `f(e, …)`: min, max, if, sum, lookup, len, bit.
    Call(String, Vec<Node>),
    /// `[e, …]`: a table for `lookup`.
    List(Vec<Node>),
    Neg(Box<Node>),
    Not(Box<Node>),
    Bin(BinOp, Box<Node>, Box<Node>),
}

/// An expression and the character offset where it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub e: Expr,
    pub at: usize,
}

impl Node {
    /// Every name the expression mentions (plain names and indexed names), in order.
    pub fn names(&self, out: &mut Vec<(String, usize)>) {
        match &self.e {
            Expr::Int(_) => {}
            Expr::Name(n) => out.push((n.clone(), self.at)),
            Expr::Index(n, args) => {
                out.push((n.clone(), self.at));
                args.iter().for_each(|a| a.names(out));
            }
            Expr::Call(_, args) | Expr::List(args) => args.iter().for_each(|a| a.names(out)),
            Expr::Neg(a) | Expr::Not(a) => a.names(out),
            Expr::Bin(_, a, b) => {
                a.names(out);
                b.names(out);
            }
        }
    }
    /// The first `^` whose exponent mentions a name (an exponential in a parameter).
    pub fn variable_power(&self) -> Option<&Node> {
        match &self.e {
            Expr::Bin(BinOp::Pow, a, b) => {
                let mut n = Vec::new();
                b.names(&mut n);
                if n.is_empty() {
                    a.variable_power()
                } else {
                    Some(self)
                }
            }
            Expr::Bin(_, a, b) => a.variable_power().or_else(|| b.variable_power()),
            Expr::Index(_, args) | Expr::Call(_, args) | Expr::List(args) => {
                args.iter().find_map(Node::variable_power)
            }
            Expr::Neg(a) | Expr::Not(a) => a.variable_power(),
            _ => None,
        }
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, args: &[Node]| -> fmt::Result {
            for (k, a) in args.iter().enumerate() {
                if k > 0 {
                    write!(f, ", ")?;
                }
                write!(f, "{a}")?;
            }
            Ok(())
        };
        match &self.e {
            Expr::Int(v) => write!(f, "{v}"),
            Expr::Name(n) => write!(f, "{n}"),
            Expr::Index(n, a) => {
                write!(f, "{n}[")?;
                list(f, a)?;
                write!(f, "]")
            }
            Expr::Call(n, a) => {
                write!(f, "{n}(")?;
                list(f, a)?;
                write!(f, ")")
            }
            Expr::List(a) => {
                write!(f, "[")?;
                list(f, a)?;
                write!(f, "]")
            }
            Expr::Neg(a) => write!(f, "-{a}"),
            Expr::Not(a) => write!(f, "!{a}"),
            Expr::Bin(op, a, b) => write!(f, "({a} {} {b})", op.symbol()),
        }
    }
}

/// One statement of the `order` program.
#[derive(Clone, Debug)]
pub enum Stmt {
    /// `for var in lo..hi { body }` (`..=` includes hi).
    For {
        var: String,
        lo: Node,
        hi: Node,
        inclusive: bool,
        body: Vec<Stmt>,
    },
    /// `family[i, …]`: the next state in the order.
    Emit {
        family: String,
        idx: Vec<Node>,
        at: usize,
    },
}

/// A read definition: `name = target` or `name[var] = target for var in lo..hi`.
#[derive(Clone, Debug)]
pub struct ReadDef {
    pub name: String,
    pub target: Node,
    /// `(var, lo, hi, inclusive)` of a read array.
    pub array: Option<(String, Node, Node, bool)>,
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    k: usize,
}

impl Parser {
    fn new(text: &str) -> PResult<Self> {
        Ok(Parser {
            toks: lex(text)?,
            k: 0,
        })
    }
    fn peek(&self) -> &Tok {
        &self.toks[self.k].0
    }
    fn at(&self) -> usize {
        self.toks[self.k].1
    }
    fn bump(&mut self) -> Tok {
        let t = self.toks[self.k].0.clone();
        if self.k + 1 < self.toks.len() {
            self.k += 1;
        }
        t
    }
    fn is(&self, p: &str) -> bool {
        matches!(self.peek(), Tok::Punct(q) if *q == p)
    }
    fn eat(&mut self, p: &str) -> bool {
        let hit = self.is(p);
        if hit {
            self.bump();
        }
        hit
    }
    fn err<T>(&self, msg: impl Into<String>) -> PResult<T> {
        Err(SyntaxError {
            at: self.at(),
            msg: msg.into(),
        })
    }
    fn found(&self) -> String {
        match self.peek() {
            Tok::Int(v) => format!("`{v}`"),
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Punct(p) => format!("`{p}`"),
            Tok::End => "the end".into(),
        }
    }
    fn expect(&mut self, p: &str) -> PResult<()> {
        if self.eat(p) {
            Ok(())
        } else {
            self.err(format!("expected `{p}`, found {}", self.found()))
        }
    }
    fn ident(&mut self) -> PResult<String> {
        match self.bump() {
            Tok::Ident(s) => Ok(s),
            _ => {
                self.k -= 1;
                self.err(format!("expected a name, found {}", self.found()))
            }
        }
    }
    fn end(&self) -> PResult<()> {
        if *self.peek() == Tok::End {
            Ok(())
        } else {
            self.err(format!("unexpected {} after the expression", self.found()))
        }
    }

    fn expr(&mut self) -> PResult<Node> {
        self.or()
    }
    fn binary(
        &mut self,
        ops: &[(&'static str, BinOp)],
        next: fn(&mut Self) -> PResult<Node>,
    ) -> PResult<Node> {
        let mut a = next(self)?;
        'outer: loop {
            for &(p, op) in ops {
                if self.is(p) {
                    let at = self.at();
                    self.bump();
                    let b = next(self)?;
                    a = Node {
                        e: Expr::Bin(op, Box::new(a), Box::new(b)),
                        at,
                    };
                    continue 'outer;
                }
            }
            return Ok(a);
        }
    }
    fn or(&mut self) -> PResult<Node> {
        self.binary(&[("||", BinOp::Or)], Self::and)
    }
    fn and(&mut self) -> PResult<Node> {
        self.binary(&[("&&", BinOp::And)], Self::cmp)
    }
    fn cmp(&mut self) -> PResult<Node> {
        let a = self.sum()?;
        for (p, op) in [
            ("<=", BinOp::Le),
            (">=", BinOp::Ge),
            ("==", BinOp::Eq),
            ("!=", BinOp::Ne),
            ("<", BinOp::Lt),
            (">", BinOp::Gt),
        ] {
            if self.is(p) {
                let at = self.at();
                self.bump();
                let b = self.sum()?;
                return Ok(Node {
                    e: Expr::Bin(op, Box::new(a), Box::new(b)),
                    at,
                });
            }
        }
        Ok(a)
    }
    fn sum(&mut self) -> PResult<Node> {
        self.binary(&[("+", BinOp::Add), ("-", BinOp::Sub)], Self::product)
    }
    fn product(&mut self) -> PResult<Node> {
        self.binary(
            &[("*", BinOp::Mul), ("/", BinOp::Div), ("%", BinOp::Mod)],
            Self::unary,
        )
    }
    fn unary(&mut self) -> PResult<Node> {
        let at = self.at();
        if self.eat("-") {
            let a = self.unary()?;
            return Ok(Node {
                e: Expr::Neg(Box::new(a)),
                at,
            });
        }
        if self.eat("!") {
            let a = self.unary()?;
            return Ok(Node {
                e: Expr::Not(Box::new(a)),
                at,
            });
        }
        let a = self.atom()?;
        if self.is("^") {
            let at = self.at();
            self.bump();
            let b = self.unary()?;
            return Ok(Node {
                e: Expr::Bin(BinOp::Pow, Box::new(a), Box::new(b)),
                at,
            });
        }
        Ok(a)
    }
    fn args(&mut self, close: &str) -> PResult<Vec<Node>> {
        let mut v = Vec::new();
        if self.eat(close) {
            return Ok(v);
        }
        loop {
            v.push(self.expr()?);
            if self.eat(close) {
                return Ok(v);
            }
            if !self.eat(",") {
                return self.err(format!("expected `,` or `{close}`, found {}", self.found()));
            }
        }
    }
    fn atom(&mut self) -> PResult<Node> {
        let at = self.at();
        match self.bump() {
            Tok::Int(v) => Ok(Node {
                e: Expr::Int(v),
                at,
            }),
            Tok::Ident(name) => {
                if self.eat("[") {
                    let a = self.args("]")?;
                    Ok(Node {
                        e: Expr::Index(name, a),
                        at,
                    })
                } else if self.eat("(") {
                    let a = self.args(")")?;
                    Ok(Node {
                        e: Expr::Call(name, a),
                        at,
                    })
                } else {
                    Ok(Node {
                        e: Expr::Name(name),
                        at,
                    })
                }
            }
            Tok::Punct("(") => {
                let e = self.expr()?;
                self.expect(")")?;
                Ok(e)
            }
            Tok::Punct("[") => {
                let a = self.args("]")?;
                Ok(Node {
                    e: Expr::List(a),
                    at,
                })
            }
            _ => {
                self.k = self.k.saturating_sub(1);
                self.err(format!("expected a value, found {}", self.found()))
            }
        }
    }

    /// `lo..hi` or `lo..=hi`.
    fn range(&mut self) -> PResult<(Node, Node, bool)> {
        let lo = self.sum()?;
        let inclusive = if self.eat("..=") {
            true
        } else if self.eat("..") {
            false
        } else {
            return self.err(format!("expected `..` or `..=`, found {}", self.found()));
        };
        let hi = self.sum()?;
        Ok((lo, hi, inclusive))
    }

    fn stmts(&mut self, nested: bool) -> PResult<Vec<Stmt>> {
        let mut out = Vec::new();
        loop {
            while self.eat(";") {}
            match self.peek().clone() {
                Tok::End if !nested => return Ok(out),
                Tok::Punct("}") if nested => {
                    self.bump();
                    return Ok(out);
                }
                Tok::Ident(w) if w == "for" => {
                    self.bump();
                    let var = self.ident()?;
                    match self.bump() {
                        Tok::Ident(w) if w == "in" => {}
                        _ => {
                            self.k -= 1;
                            return self.err(format!("expected `in`, found {}", self.found()));
                        }
                    }
                    let (lo, hi, inclusive) = self.range()?;
                    self.expect("{")?;
                    let body = self.stmts(true)?;
                    out.push(Stmt::For {
                        var,
                        lo,
                        hi,
                        inclusive,
                        body,
                    });
                }
                Tok::Ident(_) => {
                    let at = self.at();
                    let family = self.ident()?;
                    self.expect("[")?;
                    let idx = self.args("]")?;
                    out.push(Stmt::Emit { family, idx, at });
                }
                _ => {
                    return self.err(format!(
                        "expected `for` or a state like `d[i, j]`, found {}",
                        self.found()
                    ))
                }
            }
        }
    }
}

/// Parse one expression.
pub fn parse_expr(text: &str) -> PResult<Node> {
    let mut p = Parser::new(text)?;
    let e = p.expr()?;
    p.end()?;
    Ok(e)
}

/// Parse the `order` program: `for` loops and state emissions.
pub fn parse_order(text: &str) -> PResult<Vec<Stmt>> {
    Parser::new(text)?.stmts(false)
}

/// Parse a read definition `name = target` or `name[l] = target for l in lo..hi`.
pub fn parse_read(text: &str) -> PResult<ReadDef> {
    let mut p = Parser::new(text)?;
    let name = p.ident()?;
    let var = if p.eat("[") {
        let v = p.ident()?;
        p.expect("]")?;
        Some(v)
    } else {
        None
    };
    p.expect("=")?;
    let target = p.expr()?;
    let array = match var {
        None => None,
        Some(v) => {
            match p.bump() {
                Tok::Ident(w) if w == "for" => {}
                _ => {
                    p.k -= 1;
                    return p.err(format!(
                        "a read array `{name}[{v}]` needs `for {v} in lo..hi`, found {}",
                        p.found()
                    ));
                }
            }
            let w = p.ident()?;
            if w != v {
                return p.err(format!("the read array is indexed by `{v}`, not `{w}`"));
            }
            match p.bump() {
                Tok::Ident(w) if w == "in" => {}
                _ => {
                    p.k -= 1;
                    return p.err(format!("expected `in`, found {}", p.found()));
                }
            }
            let (lo, hi, inc) = p.range()?;
            Some((v, lo, hi, inc))
        }
    };
    p.end()?;
    Ok(ReadDef {
        name,
        target,
        array,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_and_positions() {
        let e = parse_expr("min(a + 2 * b, c) % q").unwrap();
        assert_eq!(e.to_string(), "(min((a + (2 * b)), c) % q)");
        assert_eq!(e.at, 18);
        let e = parse_expr("a > b && !(c == 1) || d").unwrap();
        assert_eq!(e.to_string(), "(((a > b) && !(c == 1)) || d)");
        let err = parse_expr("a + $").unwrap_err();
        assert_eq!(err.at, 4);
        assert!(parse_expr("a b").is_err());
        assert!(parse_expr("f(a,").is_err());
    }

    #[test]
    fn order_programs_and_reads_parse() {
        let o = parse_order("for j in 1..=n { for k in 0..j { dp[j, k] } best[j] }").unwrap();
        assert_eq!(o.len(), 1);
        let Stmt::For {
            body, inclusive, ..
        } = &o[0]
        else {
            panic!("a loop")
        };
        assert!(*inclusive);
        assert_eq!(body.len(), 2);
        assert!(parse_order("for j in 1.. { }").is_err());
        let r =
            parse_read("prev[l] = if(i > l, t[i - l], input[k + i - l]) for l in 1..=k").unwrap();
        assert_eq!(r.name, "prev");
        assert!(r.array.is_some());
        assert!(parse_read("prev[l] = t[i - l]").is_err());
        let v = parse_expr("2 ^ n").unwrap();
        assert!(v.variable_power().is_some());
        assert!(parse_expr("n ^ 2").unwrap().variable_power().is_none());
    }
}
