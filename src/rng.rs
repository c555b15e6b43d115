//! A small seeded generator (SplitMix64): deterministic sweeps without a dependency.

#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    /// An independent stream for sub-task `k`.
    pub fn fork(&self, k: u64) -> Self {
        let mut r = Rng(self.0 ^ k.wrapping_mul(0xD1B5_4A32_D192_ED03));
        r.next_u64();
        r
    }
    /// An independent stream named by the case it serves (its configuration as text, e.g.
    /// `copy-linear/exact/Slot/T=16/f64`): streams derive from what they are for, so adding or
    /// reordering cases never shifts another case's stream, and no id is numbered by hand.
    pub fn stream(&self, key: &str) -> Self {
        // FNV-1a over the key's bytes
        let h = key.bytes().fold(0xCBF2_9CE4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01B3)
        });
        self.fork(h)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `[0, 1)` with 53 random bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    /// Uniform integer in `[0, n)`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_streams_are_reproducible_and_distinct() {
        let r = Rng::new(7);
        let a = |k: &str| r.stream(k).next_u64();
        assert_eq!(a("copy/T=16"), a("copy/T=16"));
        assert_ne!(a("copy/T=16"), a("copy/T=17"));
        assert_ne!(Rng::new(8).stream("copy/T=16").next_u64(), a("copy/T=16"));
    }
}
