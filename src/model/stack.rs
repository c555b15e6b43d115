//! The decoder both Hugging Face token models share ([`MambaModel`], [`NemotronHModel`]): embed a
//! token (or take an embedding), run the blocks, `norm_f` (RMSNorm), `lm_head`, greedy argmax.
//! A step allocates nothing: every buffer lives in the [`StackRunner`].

use super::greedy_argmax;
use super::mamba::{rms_norm_into, MambaModel};
use super::nemotron_h::{BlockState, NemotronHModel};
use super::sparse::SparseMatrix;
use super::ssm::Softplus;
use crate::num::{zeros, Scalar};

/// A stack of blocks between an embedding and an `lm_head`.
pub trait HfStack<S: Scalar> {
    /// What one block keeps between positions.
    type State;
    fn embedding(&self) -> &SparseMatrix<S>;
    fn norm_f(&self) -> &[S];
    fn eps(&self) -> &S;
    fn lm_head(&self) -> &SparseMatrix<S>;
    fn prec(&self) -> u32;
    /// The residual width.
    fn width(&self) -> usize;
    fn vocab_len(&self) -> usize;
    fn new_states(&self) -> Vec<Self::State>;
    /// Every block at the next position: `residual ← block(residual)` in order.
    fn step_blocks(&self, states: &mut [Self::State], residual: &mut [S], sp: Softplus);
}

/// Greedy decoding of a stack model.
#[derive(Clone, Debug)]
pub struct Generation<S> {
    pub tokens: Vec<usize>,
    /// Top logit minus the largest other logit, for each generated token.
    pub margins: Vec<S>,
}

/// Incremental decoding of a stack model.
pub struct StackRunner<'m, S: Scalar, M: HfStack<S>> {
    pub model: &'m M,
    pub states: Vec<M::State>,
    /// The residual after the last block (before `norm_f`).
    pub residual: Vec<S>,
    normed: Vec<S>,
    pub logits: Vec<S>,
    acc: S,
    len: S,
    pub softplus: Softplus,
}

impl<'m, S: Scalar, M: HfStack<S>> StackRunner<'m, S, M> {
    /// A decoder at position 0.
    pub fn new(model: &'m M, softplus: Softplus) -> Self {
        let (w, p) = (model.width(), model.prec());
        StackRunner {
            model,
            states: model.new_states(),
            residual: zeros(w, p),
            normed: zeros(w, p),
            logits: zeros(model.vocab_len(), p),
            acc: S::zero(p),
            len: S::from_i64(w as i64, p),
            softplus,
        }
    }

    /// Feed one token at the next position.
    pub fn feed(&mut self, token: usize) {
        for x in self.residual.iter_mut() {
            x.set_i64(0);
        }
        for (c, v) in self.model.embedding().row(token) {
            self.residual[c].set(v);
        }
        self.forward();
    }

    /// Feed an embedding vector instead of a token (HF's `inputs_embeds`).
    pub fn feed_embedding(&mut self, x: &[S]) {
        for (r, v) in self.residual.iter_mut().zip(x) {
            r.set(v);
        }
        self.forward();
    }

    fn forward(&mut self) {
        let m = self.model;
        m.step_blocks(&mut self.states, &mut self.residual, self.softplus);
        rms_norm_into(
            &self.residual,
            m.norm_f(),
            m.eps(),
            &self.len,
            &mut self.acc,
            &mut self.normed,
        );
        m.lm_head().mul_vec_into(&self.normed, &mut self.logits);
    }

    /// Greedy argmax (ties to the lowest id, as `torch.argmax`) and its margin.
    pub fn argmax(&self) -> (usize, S) {
        greedy_argmax(&self.logits, self.model.prec())
    }

    /// Feed `prompt`, then generate `max_new` tokens greedily.
    pub fn generate(&mut self, prompt: &[usize], max_new: usize) -> Generation<S> {
        for &t in prompt {
            self.feed(t);
        }
        let mut out = Generation {
            tokens: Vec::with_capacity(max_new),
            margins: Vec::with_capacity(max_new),
        };
        for i in 0..max_new {
            if i > 0 {
                self.feed(out.tokens[i - 1]);
            }
            let (tok, margin) = self.argmax();
            out.tokens.push(tok);
            out.margins.push(margin);
        }
        out
    }

    /// The logits at every position of `tokens`.
    pub fn logits_of(&mut self, tokens: &[usize]) -> Vec<Vec<S>> {
        tokens
            .iter()
            .map(|&t| {
                self.feed(t);
                self.logits.clone()
            })
            .collect()
    }
}

/// The accessors both models share: their fields have the same names.
macro_rules! stack_fields {
    () => {
        fn embedding(&self) -> &SparseMatrix<S> {
            &self.embedding
        }
        fn norm_f(&self) -> &[S] {
            &self.norm_f
        }
        fn eps(&self) -> &S {
            &self.eps
        }
        fn lm_head(&self) -> &SparseMatrix<S> {
            &self.lm_head
        }
        fn prec(&self) -> u32 {
            self.prec
        }
        fn width(&self) -> usize {
            self.coord_names.len()
        }
        fn vocab_len(&self) -> usize {
            self.vocab.len()
        }
    };
}

impl<S: Scalar> HfStack<S> for MambaModel<S> {
    type State = super::mamba::MambaBlockState<S>;
    stack_fields!();
    fn new_states(&self) -> Vec<Self::State> {
        self.blocks.iter().map(|b| b.new_state(self.prec)).collect()
    }
    fn step_blocks(&self, states: &mut [Self::State], residual: &mut [S], sp: Softplus) {
        for (b, st) in self.blocks.iter().zip(states.iter_mut()) {
            b.step(st, residual, &self.eps, self.act, sp);
        }
    }
}

impl<S: Scalar> HfStack<S> for NemotronHModel<S> {
    type State = BlockState<S>;
    stack_fields!();
    fn new_states(&self) -> Vec<Self::State> {
        let w = self.coord_names.len();
        self.blocks
            .iter()
            .map(|b| b.new_state(w, self.prec))
            .collect()
    }
    fn step_blocks(&self, states: &mut [Self::State], residual: &mut [S], sp: Softplus) {
        for (b, st) in self.blocks.iter().zip(states.iter_mut()) {
            b.step(st, residual, &self.eps, self.mlp_act, sp);
        }
    }
}
