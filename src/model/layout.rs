//! Named subspaces of the residual stream (as in tracr): every coordinate has a name.

use crate::error::{Error, Result};
use serde::Serialize;
use std::ops::Range;

#[derive(Clone, Debug, Serialize)]
pub struct Subspace {
    pub name: String,
    pub start: usize,
    pub len: usize,
    /// What the subspace holds, for summaries.
    pub meaning: String,
}

/// A typed handle to one residual coordinate, handed out by a [`Layout`]: gadgets and memories
/// read named inputs and write named outputs through these, never through hand offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Coord(usize);

impl Coord {
    /// The residual index.
    pub fn index(self) -> usize {
        self.0
    }
}

/// A typed handle to a named block of consecutive residual coordinates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Block {
    start: usize,
    len: usize,
}

impl Block {
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Coordinate `k` of the block (`k < len`; a larger `k` is a construction bug).
    pub fn at(&self, k: usize) -> Coord {
        assert!(
            k < self.len,
            "block of {} coordinates has no coordinate {k}",
            self.len
        );
        Coord(self.start + k)
    }
    /// Every coordinate, in order.
    pub fn coords(&self) -> impl Iterator<Item = Coord> + '_ {
        (self.start..self.start + self.len).map(Coord)
    }
    /// The residual index range.
    pub fn range(&self) -> Range<usize> {
        self.start..self.start + self.len
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Layout {
    pub subspaces: Vec<Subspace>,
}

impl Layout {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn width(&self) -> usize {
        self.subspaces.last().map(|s| s.start + s.len).unwrap_or(0)
    }

    /// Append a subspace of `len` coordinates; returns its coordinate range.
    pub fn add(&mut self, name: &str, len: usize, meaning: &str) -> Range<usize> {
        assert!(
            self.subspaces.iter().all(|s| s.name != name),
            "subspace `{name}` defined twice"
        );
        let start = self.width();
        self.subspaces.push(Subspace {
            name: name.to_string(),
            start,
            len,
            meaning: meaning.to_string(),
        });
        start..start + len
    }

    /// Append a one-coordinate subspace; returns its index.
    pub fn add1(&mut self, name: &str, meaning: &str) -> usize {
        self.add(name, 1, meaning).start
    }

    /// Append a named block of `len` coordinates (typed handle).
    pub fn block(&mut self, name: &str, len: usize, meaning: &str) -> Block {
        let r = self.add(name, len, meaning);
        Block {
            start: r.start,
            len,
        }
    }

    /// Append a named one-coordinate subspace (typed handle).
    pub fn coord(&mut self, name: &str, meaning: &str) -> Coord {
        Coord(self.add1(name, meaning))
    }

    /// The block named `name`.
    pub fn find(&self, name: &str) -> Result<Block> {
        let r = self.range(name)?;
        Ok(Block {
            start: r.start,
            len: r.len(),
        })
    }

    pub fn range(&self, name: &str) -> Result<Range<usize>> {
        self.subspaces
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.start..s.start + s.len)
            .ok_or_else(|| Error::compute(format!("no subspace named `{name}`")))
    }

    /// The one-coordinate subspace `name` (typed handle).
    pub fn coord_of(&self, name: &str) -> Result<Coord> {
        Ok(Coord(self.at(name, 0)?))
    }

    /// Coordinate `k` of subspace `name`.
    pub fn at(&self, name: &str, k: usize) -> Result<usize> {
        let r = self.range(name)?;
        if k >= r.len() {
            return Err(Error::compute(format!(
                "subspace `{name}` has {} coordinates, asked for {k}",
                r.len()
            )));
        }
        Ok(r.start + k)
    }

    /// Stable name of coordinate `i`: `name` or `name[k]`.
    pub fn coord_name(&self, i: usize) -> String {
        for s in &self.subspaces {
            if i >= s.start && i < s.start + s.len {
                return if s.len == 1 {
                    s.name.clone()
                } else {
                    format!("{}[{}]", s.name, i - s.start)
                };
            }
        }
        format!("coord[{i}]")
    }
}
