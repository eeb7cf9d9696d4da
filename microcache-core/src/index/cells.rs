//! Raw access to the index region: header fields, fixed-size cells, the free list, and byte
//! strings kept as chains of cells. Every read and write is bounds-checked: a damaged region
//! gives wrong answers, never a panic.

use core::cmp::Ordering;
use std::hash::{DefaultHasher, Hasher};

/// The null cell index; cell 0 is never allocated.
pub const NIL: u32 = 0;
/// Every record is one cell.
pub const CELL: usize = 24;
/// Bytes of a string held by one chain cell (the rest is the link to the next).
const CHUNK: usize = CELL - 4;
/// Bytes reserved for the header at the start of the region.
pub const HEADER: usize = 256;

/// Header fields: byte offsets from the start of the region.
pub mod hdr {
    pub const MAGIC: usize = 0; // u64
    pub const VERSION: usize = 8; // u32
    pub const CELL_SIZE: usize = 12; // u32
    pub const REGION_LEN: usize = 16; // u64
    pub const CELLS: usize = 24; // u32
    pub const ID_BUCKETS: usize = 28; // u32
    pub const TAG_BUCKETS: usize = 32; // u32
    pub const STATE: usize = 36; // u32
    pub const SEED: usize = 40; // 2 × u64
    pub const CHECK: usize = 56; // u64: the hash of a fixed string, to detect another hash function
    pub const DIRTY: usize = 64; // u32: non-zero while a change is half done
    pub const OVERFLOWED: usize = 68; // u32
    pub const ENTRIES: usize = 72; // u32
    pub const TAGS: usize = 76; // u32
    pub const LINKS: usize = 80; // u32
    pub const USED: usize = 84; // u32: cells in use
    pub const KEY_ROOT: usize = 88; // u32
    pub const FRONTIER: usize = 92; // u32: first never-used cell
    pub const FREE: usize = 96; // u32: head of the free list
    pub const SWEEP: usize = 100; // u32: next id bucket the sweep visits
    pub const OVERFLOWS: usize = 104; // u64
    pub const IGNORED_TAGS: usize = 112; // u64
    pub const REBUILD_OWNER: usize = 120; // u64
    pub const REBUILD_BEAT: usize = 128; // u64
    pub const GENERATION: usize = 136; // u64
}

/// How a region of a given size is cut up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub cells: u32,
    pub id_buckets: u32,
    pub tag_buckets: u32,
}

impl Geometry {
    /// Enough cells for a handful of entries.
    const MIN_CELLS: usize = 16;

    pub fn for_len(len: usize) -> Option<Geometry> {
        let room = len.checked_sub(HEADER)?;
        let guess = (room / CELL).min(u32::MAX as usize - 1);
        // About one id bucket per 8 cells and one tag bucket per 16: an entry takes at least
        // 3 cells (more with its key and tags), a tag at least 2 and is usually shared.
        let id_buckets = (guess / 8).max(1).next_power_of_two();
        let tag_buckets = (guess / 16).max(1).next_power_of_two();
        let cells = room.checked_sub(4 * (id_buckets + tag_buckets))? / CELL;
        let cells = cells.min(u32::MAX as usize - 1);
        (cells >= Self::MIN_CELLS).then_some(Geometry {
            cells: cells as u32,
            id_buckets: id_buckets as u32,
            tag_buckets: tag_buckets as u32,
        })
    }

    /// The smallest region [`Geometry::for_len`] accepts.
    pub fn min_len() -> usize {
        // Two id buckets and one tag bucket at that size.
        HEADER + 4 * 3 + Self::MIN_CELLS * CELL
    }

    fn tag_base(&self) -> usize {
        HEADER + 4 * self.id_buckets as usize
    }

    fn cell_base(&self) -> usize {
        self.tag_base() + 4 * self.tag_buckets as usize
    }
}

/// The mapped region and its geometry.
pub struct Region<'m> {
    pub mem: &'m mut [u8],
    pub geo: Geometry,
}

impl Region<'_> {
    pub fn r32(&self, at: usize) -> u32 {
        let mut b = [0; 4];
        if let Some(s) = self.mem.get(at..at + 4) {
            b.copy_from_slice(s);
        }
        u32::from_ne_bytes(b)
    }

    pub fn w32(&mut self, at: usize, v: u32) {
        if let Some(s) = self.mem.get_mut(at..at + 4) {
            s.copy_from_slice(&v.to_ne_bytes());
        }
    }

    pub fn r64(&self, at: usize) -> u64 {
        let mut b = [0; 8];
        if let Some(s) = self.mem.get(at..at + 8) {
            b.copy_from_slice(s);
        }
        u64::from_ne_bytes(b)
    }

    pub fn w64(&mut self, at: usize, v: u64) {
        if let Some(s) = self.mem.get_mut(at..at + 8) {
            s.copy_from_slice(&v.to_ne_bytes());
        }
    }

    pub fn add32(&mut self, at: usize, delta: i32) {
        let v = self.r32(at).wrapping_add_signed(delta);
        self.w32(at, v);
    }

    pub fn bytes(&self, at: usize, len: usize) -> &[u8] {
        self.mem.get(at..at + len).unwrap_or_default()
    }

    pub fn write_bytes(&mut self, at: usize, bytes: &[u8]) {
        if let Some(s) = self.mem.get_mut(at..at + bytes.len()) {
            s.copy_from_slice(bytes);
        }
    }

    /// Where cell `i` starts.
    pub fn cell(&self, i: u32) -> usize {
        self.geo.cell_base() + i as usize * CELL
    }

    /// A field of cell `i`.
    pub fn get(&self, i: u32, field: usize) -> u32 {
        self.r32(self.cell(i) + field)
    }

    pub fn set(&mut self, i: u32, field: usize, v: u32) {
        let at = self.cell(i) + field;
        self.w32(at, v);
    }

    pub fn id_bucket(&self, b: u32) -> usize {
        HEADER + 4 * b as usize
    }

    pub fn tag_bucket(&self, b: u32) -> usize {
        self.geo.tag_base() + 4 * b as usize
    }

    pub fn seed(&self) -> [u64; 2] {
        [self.r64(hdr::SEED), self.r64(hdr::SEED + 8)]
    }

    /// SipHash of the bytes, keyed by the region's secret seed: hostile keys and tags cannot
    /// aim at one bucket.
    pub fn hash(&self, bytes: &[u8]) -> u64 {
        keyed_hash(self.seed(), bytes)
    }

    /// A treap priority for node `i`: pseudo-random, fixed for the node's lifetime.
    pub fn priority(&self, i: u32) -> u32 {
        let mut z = u64::from(i) ^ self.r64(hdr::SEED);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z >> 32) as u32
    }

    /// Cells neither in use nor reserved.
    pub fn free_cells(&self) -> u32 {
        self.geo.cells.saturating_sub(1 + self.r32(hdr::USED))
    }

    pub fn alloc(&mut self) -> Option<u32> {
        let head = self.r32(hdr::FREE);
        let cell = if head != NIL {
            let next = self.get(head, 0);
            self.w32(hdr::FREE, next);
            head
        } else {
            let frontier = self.r32(hdr::FRONTIER);
            if frontier >= self.geo.cells {
                return None;
            }
            self.w32(hdr::FRONTIER, frontier + 1);
            frontier
        };
        self.add32(hdr::USED, 1);
        Some(cell)
    }

    pub fn free(&mut self, cell: u32) {
        let head = self.r32(hdr::FREE);
        self.set(cell, 0, head);
        self.w32(hdr::FREE, cell);
        self.add32(hdr::USED, -1);
    }

    /// Stores `bytes` as a chain of cells; `None` (and nothing kept) when the cells run out.
    /// An empty string is the empty chain, [`NIL`].
    pub fn store(&mut self, bytes: &[u8]) -> Option<u32> {
        let mut head = NIL;
        let mut tail = NIL;
        for chunk in bytes.chunks(CHUNK) {
            let Some(cell) = self.alloc() else {
                self.free_chain(head);
                return None;
            };
            self.set(cell, 0, NIL);
            let at = self.cell(cell) + 4;
            self.write_bytes(at, chunk);
            if tail == NIL {
                head = cell;
            } else {
                self.set(tail, 0, cell);
            }
            tail = cell;
        }
        Some(head)
    }

    pub fn free_chain(&mut self, mut cell: u32) {
        while cell != NIL {
            let next = self.get(cell, 0);
            self.free(cell);
            cell = next;
        }
    }

    /// The pieces of a stored string of `len` bytes.
    pub fn chunks(&self, head: u32, len: usize) -> Chunks<'_> {
        Chunks { region: self, next: head, left: len }
    }

    /// Cells a string of `len` bytes takes.
    pub fn chain_cells(len: usize) -> usize {
        len.div_ceil(CHUNK)
    }
}

pub struct Chunks<'r> {
    region: &'r Region<'r>,
    next: u32,
    left: usize,
}

impl<'r> Iterator for Chunks<'r> {
    type Item = &'r [u8];

    fn next(&mut self) -> Option<&'r [u8]> {
        if self.left == 0 || self.next == NIL {
            return None;
        }
        let n = self.left.min(CHUNK);
        let at = self.region.cell(self.next) + 4;
        self.left -= n;
        self.next = self.region.get(self.next, 0);
        Some(self.region.bytes(at, n))
    }
}

pub fn keyed_hash(seed: [u64; 2], bytes: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    h.write_u64(seed[0]);
    h.write_u64(seed[1]);
    h.write(bytes);
    h.finish()
}

/// Compares two strings given as pieces (no piece is empty).
pub fn cmp_chunks<'a>(
    mut a: impl Iterator<Item = &'a [u8]>,
    mut b: impl Iterator<Item = &'a [u8]>,
) -> Ordering {
    let (mut x, mut y): (&[u8], &[u8]) = (&[], &[]);
    loop {
        if x.is_empty() {
            x = a.next().unwrap_or_default();
        }
        if y.is_empty() {
            y = b.next().unwrap_or_default();
        }
        match (x.is_empty(), y.is_empty()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            (false, false) => {}
        }
        let n = x.len().min(y.len());
        match x[..n].cmp(&y[..n]) {
            Ordering::Equal => {}
            other => return other,
        }
        x = &x[n..];
        y = &y[n..];
    }
}

/// Whether the pieces start with `prefix`.
pub fn chunks_start_with<'a>(chunks: impl Iterator<Item = &'a [u8]>, mut prefix: &[u8]) -> bool {
    for chunk in chunks {
        if prefix.is_empty() {
            return true;
        }
        let n = chunk.len().min(prefix.len());
        if chunk[..n] != prefix[..n] {
            return false;
        }
        prefix = &prefix[n..];
    }
    prefix.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry() {
        let min = Geometry::min_len();
        assert!(Geometry::for_len(min).is_some() && Geometry::for_len(min - 1).is_none());
        for len in [min, 4096, 65_536, 32 << 20, 1 << 31] {
            let g = Geometry::for_len(len).unwrap();
            let end = g.cell_base() + g.cells as usize * CELL;
            assert!(end <= len && len - end < CELL, "{len}: {g:?} leaves {}", len - end);
            assert!(g.id_buckets.is_power_of_two() && g.tag_buckets.is_power_of_two());
        }
    }

    #[test]
    fn comparisons_across_pieces() {
        let split = |s: &'static [u8], at: usize| {
            [&s[..at], &s[at..]].into_iter().filter(|p| !p.is_empty())
        };
        assert!(cmp_chunks(split(b"abcdef", 2), split(b"abcdef", 4)).is_eq());
        assert!(cmp_chunks(split(b"abc", 1), split(b"abcd", 3)).is_lt());
        assert!(cmp_chunks(split(b"abd", 1), split(b"abcd", 3)).is_gt());
        assert!(chunks_start_with(split(b"abcdef", 2), b"abc"));
        assert!(chunks_start_with(split(b"abc", 2), b""));
        assert!(!chunks_start_with(split(b"ab", 1), b"abc"));
        assert!(!chunks_start_with(split(b"abd", 1), b"abc"));
    }
}
