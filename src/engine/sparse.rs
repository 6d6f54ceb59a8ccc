//! The two leaf pieces every stage shares: the sparse vector and the hash that names features.

/// FNV-1a over a tag byte and the bytes of a string.
pub fn fnv1a(tag: u8, bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    h ^= u64::from(tag);
    h = h.wrapping_mul(0x0100_0000_01b3);
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Sparse vector: sorted feature ids with weights.
#[derive(Clone, Debug, Default)]
pub struct SparseVec {
    pub ids: Vec<u32>,
    pub vals: Vec<f32>,
}

impl SparseVec {
    pub fn dot(&self, other: &SparseVec) -> f32 {
        let (mut i, mut j, mut s) = (0, 0, 0.0);
        while i < self.ids.len() && j < other.ids.len() {
            match self.ids[i].cmp(&other.ids[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    s += self.vals[i] * other.vals[j];
                    i += 1;
                    j += 1;
                }
            }
        }
        s
    }
}
