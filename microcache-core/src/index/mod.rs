//! The cache index: which cache entries a key, a key prefix or a tag names, kept in one flat
//! memory region that nginx maps from a shared-memory zone (`microcache_index`).
//!
//! # Memory layout
//!
//! The region holds no pointers, only offsets and cell indices, so every worker process can
//! map it anywhere and it outlives `nginx -s reload`. It is cut up as follows (`u32`/`u64` in
//! native byte order):
//!
//! ```text
//! 0     header (256 bytes): magic, version, cell size, region length, geometry, state,
//!       128-bit hash seed and a check of the hash function, dirty flag, overflowed flag,
//!       counts, key-tree root, free list, sweep cursor, rebuild owner, generation
//! 256   id buckets:  u32 × a power of two ≈ cells / 8   (heads of entry chains, by id hash)
//! ...   tag buckets: u32 × a power of two ≈ cells / 16  (heads of tag chains, by text hash)
//! ...   cells:       24 bytes each, up to the end of the region; cell 0 is the null index
//! ```
//!
//! Every record is one cell, so any free cell serves any record and a full index has no
//! fragmentation:
//!
//! ```text
//! entry  id[16]  id-chain next  key node
//! node   left  right  entry  key length  key chain  tag links       (treap on (key, id))
//! link   entry  tag  next link of the entry  left  right  -          (treap on entry, per tag)
//! tag    hash  tag-chain next  link-treap root  entries  length  text chain
//! chain  next  20 bytes of a key or a tag
//! ```
//!
//! An entry costs 2 cells plus `ceil(key length / 20)` for its key, plus one cell per tag it
//! carries; a distinct tag costs 1 cell plus `ceil(tag length / 20)`, shared by all its entries.
//! So 48 + 24 × ceil(key/20) bytes per entry and 24 bytes per tag link: a 60-byte key with 10
//! tags takes 360 bytes, and the default 32 MiB holds about 90 000 such entries.
//!
//! # API
//!
//! [`Index::attach`] validates a region (or formats it when it was never used, was laid out by
//! another version or size, or a change to it was interrupted). Then, each call bounded:
//! [`Index::insert`] (or replace), [`Index::remove`] by id, [`Index::collect`] the ids that a
//! key (all its variants), a key prefix or a tag selects, in batches with a [`Cursor`],
//! [`Index::drain`] (collect and remove, for hard purges), [`Index::sweep`] (drop records whose
//! cache entry is gone, a few buckets per call), [`Index::clear`], and the rebuild state
//! ([`Index::claim_rebuild`], [`Index::rebuild_beat`], [`Index::finish_rebuild`]).
//!
//! Costs: id lookups and tag lookups are hash chains (expected O(1)); keys are in one treap
//! ordered by key bytes then id, so an exact key or a prefix costs O(log n + matches); each tag's
//! entries are a treap ordered by entry cell, so a tag costs O(log n + matches) per batch and a
//! link is removed in O(log n). Inserting costs O(key + tags × log n).
//!
//! When cells run out an insert first sweeps a few dead records through the caller's predicate,
//! else is refused and the index is marked overflowed until it is cleared or rebuilt: purges
//! must then walk the cache directory ([`Index::usable`] says whether they may use the index).
//!
//! # Use from several processes
//!
//! The caller serialises all calls: one mutex per index zone, held around each call and never
//! while waiting for anything else. Every call does bounded work, so a big purge is a series
//! of short critical sections:
//!
//! - storing a response: `insert` with [`Replace::Always`] (`alive` may look the cache node up
//!   under the cache zone's own mutex: take the index lock first, the cache lock second, always);
//! - hard purge: `drain` a batch (say 256), release the lock, delete those cache entries, repeat
//!   until `drain` reports none left. Unindexing before deleting means a response stored again
//!   meanwhile is indexed again, never unindexed by the purge; a delete that fails calls
//!   [`Index::mark_incomplete`];
//! - soft purge: `collect` batches with one [`Cursor`], marking the entries expired between
//!   batches; they stay indexed;
//! - a hard purge of the whole zone: `clear` first, then delete the files;
//! - a timer: `sweep` a few hundred records, dropping those whose cache node is gone;
//! - after a start: one worker wins `claim_rebuild`, reads cache files a few per event-loop turn
//!   and `insert`s them with [`Replace::IfAbsent`], calls `rebuild_beat` each turn (stopping when
//!   it returns false) and `finish_rebuild` at the end.
//!
//! A worker that dies in a call leaves the dirty flag set; the next `attach` empties the index
//! and asks for a rebuild rather than trust half a change.

mod cells;
mod check;
mod treap;

use core::cmp::Ordering;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use cells::{chunks_start_with, cmp_chunks, hdr, Chunks, Geometry, Region, CELL, HEADER, NIL};
use treap::Tree;

use crate::tags::{MAX_TAGS, MAX_TAG_BYTES, MAX_TAG_LEN};

/// A cache entry's id: the MD5 nginx names its file by.
pub type Id = [u8; 16];

/// Bytes of one cell: every record (entry, key node, tag link, tag, 20-byte piece of a key or
/// tag) takes one.
pub const CELL_BYTES: usize = CELL;

/// The longest key the index keeps (nginx cannot store longer ones in a cache file header).
pub const MAX_KEY_LEN: usize = u16::MAX as usize;

/// Dead records an insert may look at to make room before it is refused.
const RECLAIM_STEPS: usize = 256;

const MAGIC: u64 = u64::from_le_bytes(*b"mcindex\0");
const VERSION: u32 = 1;
const CHECK_TEXT: &[u8] = b"microcache index";

// Entry cell.
const E_ID: usize = 0;
const E_HNEXT: usize = 16;
const E_NODE: usize = 20;
// Key node cell.
const KEY_TREE: Tree = Tree { left: 0, right: 4 };
const N_ENTRY: usize = 8;
const N_KEY_LEN: usize = 12;
const N_KEY: usize = 16;
const N_LINKS: usize = 20;
// Tag link cell.
const L_ENTRY: usize = 0;
const L_TAG: usize = 4;
const L_NEXT: usize = 8;
const TAG_TREE: Tree = Tree { left: 12, right: 16 };
// Tag cell.
const T_HASH: usize = 0;
const T_HNEXT: usize = 4;
const T_ROOT: usize = 8;
const T_COUNT: usize = 12;
const T_LEN: usize = 16;
const T_TEXT: usize = 20;

/// Whether the index can answer purges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Fresh or emptied after an interrupted change: the cache files must be read back.
    NeedsRebuild,
    /// A worker is reading the cache files back.
    Rebuilding,
    /// Complete (unless [`Stats::overflowed`]).
    Ready,
}

/// What [`Index::attach`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attached {
    /// A valid index, kept as it was.
    Reused,
    /// Never used, or laid out by another version or for another size: formatted, empty.
    Formatted,
    /// A change to it was interrupted (a worker died holding the lock): emptied.
    Repaired,
}

/// The region cannot hold an index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooSmall {
    pub len: usize,
    pub min: usize,
}

/// Whether an insert replaces a record with the same id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replace {
    /// A response was just stored: it replaces the old record.
    Always,
    /// The rebuild read a cache file: a record stored meanwhile is newer and stays.
    IfAbsent,
}

/// Why an insert was refused; the index is then marked overflowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// No room even after sweeping dead records.
    Full,
    /// Longer than [`MAX_KEY_LEN`].
    KeyTooLong,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Inserted {
    /// False when [`Replace::IfAbsent`] kept an existing record.
    pub stored: bool,
    /// An older record with the id was replaced.
    pub replaced: bool,
    /// Distinct tags linked.
    pub tags: usize,
    /// Tags dropped by the per-response limits.
    pub ignored_tags: usize,
    /// Dead records swept to make room.
    pub reclaimed: usize,
}

/// What selects entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Select<'a> {
    /// Every entry with exactly this key (its `Vary` variants included).
    Key(&'a [u8]),
    /// Every entry whose key starts with these bytes; the empty prefix selects everything.
    Prefix(&'a [u8]),
    /// Every entry carrying this tag.
    Tag(&'a [u8]),
}

/// Where a batch of [`Index::collect`] stopped. It stays valid while the index changes between
/// batches: the next batch continues after the last id returned, in key order for keys and
/// prefixes, in entry-cell order for tags.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    last: Option<Last>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Last {
    Entry { key: Vec<u8>, id: Id },
    Link(u32),
}

/// What one [`Index::sweep`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub examined: usize,
    pub removed: usize,
    /// The sweep went past the last bucket: every record present throughout was examined.
    pub wrapped: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stats {
    pub entries: u32,
    pub tags: u32,
    pub links: u32,
    pub cells_used: u32,
    pub cells: u32,
    /// An insert was refused since the last clear: the index misses entries.
    pub overflowed: bool,
    /// Inserts refused, ever.
    pub overflows: u64,
    /// Tags dropped by the per-response limits, ever.
    pub ignored_tags: u64,
    pub state: State,
    /// Counts formats and clears: a rebuild started before a clear is void.
    pub generation: u64,
}

/// A record read back, for checks and diagnostics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub key: Vec<u8>,
    /// In no particular order.
    pub tags: Vec<Vec<u8>>,
}

/// A seed for [`Index::attach`] from the operating system's randomness.
pub fn random_seed() -> [u64; 2] {
    let state = RandomState::new();
    [state.hash_one(1u8), state.hash_one(2u8)]
}

/// The index over a mapped region.
pub struct Index<'m> {
    r: Region<'m>,
}

fn piece(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    Some(bytes).filter(|b| !b.is_empty()).into_iter()
}

fn key_chunks<'r>(r: &'r Region<'r>, node: u32) -> Chunks<'r> {
    r.chunks(r.get(node, N_KEY), r.get(node, N_KEY_LEN) as usize)
}

fn entry_id(r: &Region<'_>, entry: u32) -> Id {
    let mut id = [0; 16];
    id.copy_from_slice(r.bytes(r.cell(entry) + E_ID, 16));
    id
}

fn node_id(r: &Region<'_>, node: u32) -> Id {
    entry_id(r, r.get(node, N_ENTRY))
}

/// Orders `(key, id)` against the key node `other`.
fn cmp_key(r: &Region<'_>, key: &[u8], id: &Id, other: u32) -> Ordering {
    cmp_chunks(piece(key), key_chunks(r, other)).then_with(|| id.cmp(&node_id(r, other)))
}

/// Orders the key nodes `a` and `b`.
fn cmp_nodes(r: &Region<'_>, a: u32, b: u32) -> Ordering {
    cmp_chunks(key_chunks(r, a), key_chunks(r, b)).then_with(|| node_id(r, a).cmp(&node_id(r, b)))
}

fn collect_chunks<'a>(chunks: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    chunks.for_each(|c| out.extend_from_slice(c));
    out
}

impl<'m> Index<'m> {
    /// Opens the index in `mem`, formatting it with `seed` (see [`random_seed`]) unless it
    /// already holds a valid index of this version and size.
    pub fn attach(mem: &'m mut [u8], seed: [u64; 2]) -> Result<(Index<'m>, Attached), TooSmall> {
        let len = mem.len();
        let geo = Geometry::for_len(len).ok_or(TooSmall { len, min: Geometry::min_len() })?;
        let r = Region { mem, geo };
        let valid = r.r64(hdr::MAGIC) == MAGIC
            && r.r32(hdr::VERSION) == VERSION
            && r.r32(hdr::CELL_SIZE) == CELL as u32
            && r.r64(hdr::REGION_LEN) == len as u64
            && r.r32(hdr::CELLS) == geo.cells
            && r.r32(hdr::ID_BUCKETS) == geo.id_buckets
            && r.r32(hdr::TAG_BUCKETS) == geo.tag_buckets
            && r.r64(hdr::CHECK) == r.hash(CHECK_TEXT);
        let mut index = Index { r };
        if !valid {
            index.format(seed);
            return Ok((index, Attached::Formatted));
        }
        if index.r.r32(hdr::DIRTY) != 0 {
            index.reset(State::NeedsRebuild);
            return Ok((index, Attached::Repaired));
        }
        Ok((index, Attached::Reused))
    }

    /// The smallest region an index fits in.
    pub fn min_len() -> usize {
        Geometry::min_len()
    }

    fn format(&mut self, seed: [u64; 2]) {
        let geo = self.r.geo;
        self.r.mem[..HEADER].fill(0);
        self.r.w64(hdr::MAGIC, MAGIC);
        self.r.w32(hdr::VERSION, VERSION);
        self.r.w32(hdr::CELL_SIZE, CELL as u32);
        self.r.w64(hdr::REGION_LEN, self.r.mem.len() as u64);
        self.r.w32(hdr::CELLS, geo.cells);
        self.r.w32(hdr::ID_BUCKETS, geo.id_buckets);
        self.r.w32(hdr::TAG_BUCKETS, geo.tag_buckets);
        self.r.w64(hdr::SEED, seed[0]);
        self.r.w64(hdr::SEED + 8, seed[1]);
        let check = self.r.hash(CHECK_TEXT);
        self.r.w64(hdr::CHECK, check);
        self.reset(State::NeedsRebuild);
    }

    /// Empties the index, keeping its layout, seed and lifetime counters.
    fn reset(&mut self, state: State) {
        let cells_start = self.r.cell(0);
        self.r.mem[HEADER..cells_start].fill(0);
        for field in [
            hdr::ENTRIES,
            hdr::TAGS,
            hdr::LINKS,
            hdr::USED,
            hdr::KEY_ROOT,
            hdr::FREE,
            hdr::SWEEP,
            hdr::OVERFLOWED,
        ] {
            self.r.w32(field, 0);
        }
        self.r.w32(hdr::FRONTIER, 1);
        self.r.w64(hdr::REBUILD_OWNER, 0);
        self.r.w64(hdr::REBUILD_BEAT, 0);
        self.set_state(state);
        let generation = self.r.r64(hdr::GENERATION) + 1;
        self.r.w64(hdr::GENERATION, generation);
        self.r.w32(hdr::DIRTY, 0);
    }

    fn set_state(&mut self, state: State) {
        let v = match state {
            State::NeedsRebuild => 0,
            State::Rebuilding => 1,
            State::Ready => 2,
        };
        self.r.w32(hdr::STATE, v);
    }

    pub fn state(&self) -> State {
        match self.r.r32(hdr::STATE) {
            1 => State::Rebuilding,
            2 => State::Ready,
            _ => State::NeedsRebuild,
        }
    }

    /// Whether purges may trust the index: complete and never refused an insert since the
    /// last clear.
    pub fn usable(&self) -> bool {
        self.state() == State::Ready && self.r.r32(hdr::OVERFLOWED) == 0
    }

    /// Marks the start of a change; a change left half done makes the next attach empty the
    /// index instead of trusting it.
    fn begin(&mut self) {
        self.r.w32(hdr::DIRTY, 1);
    }

    fn end(&mut self) {
        self.r.w32(hdr::DIRTY, 0);
    }

    /// Empties the index and declares it complete: for a hard purge of the whole zone, called
    /// before its files are deleted (stores meanwhile are indexed again).
    pub fn clear(&mut self) {
        self.reset(State::Ready);
    }

    /// Declares the index incomplete until the next clear or rebuild, as a refused insert
    /// does: for when a purge could not delete an entry it already unindexed.
    pub fn mark_incomplete(&mut self) {
        self.r.w32(hdr::OVERFLOWED, 1);
    }

    pub fn stats(&self) -> Stats {
        let r = &self.r;
        Stats {
            entries: r.r32(hdr::ENTRIES),
            tags: r.r32(hdr::TAGS),
            links: r.r32(hdr::LINKS),
            cells_used: r.r32(hdr::USED),
            cells: r.geo.cells.saturating_sub(1),
            overflowed: r.r32(hdr::OVERFLOWED) != 0,
            overflows: r.r64(hdr::OVERFLOWS),
            ignored_tags: r.r64(hdr::IGNORED_TAGS),
            state: self.state(),
            generation: r.r64(hdr::GENERATION),
        }
    }

    fn id_bucket_of(&self, id: &Id) -> usize {
        let b = self.r.hash(id) as u32 & (self.r.geo.id_buckets - 1);
        self.r.id_bucket(b)
    }

    fn find_entry(&self, id: &Id) -> Option<u32> {
        let mut e = self.r.r32(self.id_bucket_of(id));
        while e != NIL {
            if self.r.bytes(self.r.cell(e) + E_ID, 16) == id {
                return Some(e);
            }
            e = self.r.get(e, E_HNEXT);
        }
        None
    }

    fn find_tag(&self, tag: &[u8], hash: u32) -> Option<u32> {
        let r = &self.r;
        let mut t = r.r32(r.tag_bucket(hash & (r.geo.tag_buckets - 1)));
        while t != NIL {
            if r.get(t, T_HASH) == hash
                && r.get(t, T_LEN) as usize == tag.len()
                && cmp_chunks(r.chunks(r.get(t, T_TEXT), tag.len()), piece(tag)).is_eq()
            {
                return Some(t);
            }
            t = r.get(t, T_HNEXT);
        }
        None
    }

    pub fn contains(&self, id: &Id) -> bool {
        self.find_entry(id).is_some()
    }

    /// Entries carrying `tag`, in O(1).
    pub fn tag_count(&self, tag: &[u8]) -> u32 {
        let hash = self.r.hash(tag) as u32;
        self.find_tag(tag, hash).map_or(0, |t| self.r.get(t, T_COUNT))
    }

    pub fn record(&self, id: &Id) -> Option<Record> {
        let r = &self.r;
        let node = r.get(self.find_entry(id)?, E_NODE);
        let mut tags = Vec::new();
        let mut l = r.get(node, N_LINKS);
        while l != NIL {
            let t = r.get(l, L_TAG);
            tags.push(collect_chunks(r.chunks(r.get(t, T_TEXT), r.get(t, T_LEN) as usize)));
            l = r.get(l, L_NEXT);
        }
        Some(Record { key: collect_chunks(key_chunks(r, node)), tags })
    }

    /// Records that the response with this id, stored under `key`, carries `tags` (at most
    /// [`MAX_TAGS`] distinct non-empty tags of at most [`MAX_TAG_LEN`] bytes, [`MAX_TAG_BYTES`]
    /// in all; the rest are ignored and counted; repeats are linked once). When the cells run
    /// out it first sweeps a few records for which `alive` says the cache entry is gone. A
    /// refused insert leaves no record for the id and marks the index overflowed.
    pub fn insert(
        &mut self,
        id: &Id,
        key: &[u8],
        tags: &[&[u8]],
        replace: Replace,
        alive: &mut dyn FnMut(&Id) -> bool,
    ) -> Result<Inserted, Refused> {
        self.begin();
        let result = self.insert_inner(id, key, tags, replace, alive);
        if result.is_err() {
            self.r.w32(hdr::OVERFLOWED, 1);
            let n = self.r.r64(hdr::OVERFLOWS) + 1;
            self.r.w64(hdr::OVERFLOWS, n);
        }
        self.end();
        result
    }

    fn insert_inner(
        &mut self,
        id: &Id,
        key: &[u8],
        tags: &[&[u8]],
        replace: Replace,
        alive: &mut dyn FnMut(&Id) -> bool,
    ) -> Result<Inserted, Refused> {
        let mut done = Inserted::default();
        if let Some(old) = self.find_entry(id) {
            if replace == Replace::IfAbsent {
                return Ok(done);
            }
            self.remove_entry(old);
            done.replaced = true;
        }
        if key.len() > MAX_KEY_LEN {
            return Err(Refused::KeyTooLong);
        }
        let (kept, ignored) = within_limits(tags);
        done.ignored_tags = ignored;
        let n = self.r.r64(hdr::IGNORED_TAGS) + ignored as u64;
        self.r.w64(hdr::IGNORED_TAGS, n);
        // An upper bound: every tag new.
        let need = 2
            + Region::chain_cells(key.len())
            + kept.iter().map(|t| 2 + Region::chain_cells(t.len())).sum::<usize>();
        if (self.r.free_cells() as usize) < need {
            done.reclaimed = self.sweep_steps(RECLAIM_STEPS, alive).removed;
        }
        done.tags = self.try_insert(id, key, &kept).ok_or(Refused::Full)?;
        done.stored = true;
        Ok(done)
    }

    /// Inserts a record whose id is absent; `None` (and nothing kept) when cells run out.
    fn try_insert(&mut self, id: &Id, key: &[u8], tags: &[&[u8]]) -> Option<usize> {
        let entry = self.r.alloc()?;
        let Some(node) = self.r.alloc() else {
            self.r.free(entry);
            return None;
        };
        let Some(chain) = self.r.store(key) else {
            self.r.free(node);
            self.r.free(entry);
            return None;
        };
        let at = self.r.cell(entry) + E_ID;
        self.r.write_bytes(at, id);
        self.r.set(entry, E_NODE, node);
        let bucket = self.id_bucket_of(id);
        let head = self.r.r32(bucket);
        self.r.set(entry, E_HNEXT, head);
        self.r.w32(bucket, entry);
        self.r.set(node, N_ENTRY, entry);
        self.r.set(node, N_KEY_LEN, key.len() as u32);
        self.r.set(node, N_KEY, chain);
        self.r.set(node, N_LINKS, NIL);
        self.r.tree_insert(KEY_TREE, hdr::KEY_ROOT, node, |r, other| cmp_key(r, key, id, other));
        self.r.add32(hdr::ENTRIES, 1);
        let mut linked = 0;
        for tag in tags {
            match self.link(entry, node, tag) {
                Some(new) => linked += usize::from(new),
                None => {
                    self.remove_entry(entry);
                    return None;
                }
            }
        }
        Some(linked)
    }

    /// Links the entry to a tag; `Some(false)` when it already was, `None` when cells ran out.
    fn link(&mut self, entry: u32, node: u32, tag: &[u8]) -> Option<bool> {
        let by_entry = |r: &Region<'_>, other: u32| entry.cmp(&r.get(other, L_ENTRY));
        let hash = self.r.hash(tag) as u32;
        let t = match self.find_tag(tag, hash) {
            Some(t) => {
                let root = self.r.cell(t) + T_ROOT;
                if self.r.tree_find(TAG_TREE, root, by_entry).is_some() {
                    return Some(false);
                }
                t
            }
            None => self.new_tag(tag, hash)?,
        };
        let Some(link) = self.r.alloc() else {
            if self.r.get(t, T_COUNT) == 0 {
                self.delete_tag(t);
            }
            return None;
        };
        self.r.set(link, L_ENTRY, entry);
        self.r.set(link, L_TAG, t);
        let first = self.r.get(node, N_LINKS);
        self.r.set(link, L_NEXT, first);
        self.r.set(node, N_LINKS, link);
        let root = self.r.cell(t) + T_ROOT;
        self.r.tree_insert(TAG_TREE, root, link, by_entry);
        let count = self.r.get(t, T_COUNT);
        self.r.set(t, T_COUNT, count + 1);
        self.r.add32(hdr::LINKS, 1);
        Some(true)
    }

    fn new_tag(&mut self, tag: &[u8], hash: u32) -> Option<u32> {
        let t = self.r.alloc()?;
        let Some(text) = self.r.store(tag) else {
            self.r.free(t);
            return None;
        };
        let bucket = self.r.tag_bucket(hash & (self.r.geo.tag_buckets - 1));
        let head = self.r.r32(bucket);
        for (field, v) in [
            (T_HASH, hash),
            (T_HNEXT, head),
            (T_ROOT, NIL),
            (T_COUNT, 0),
            (T_LEN, tag.len() as u32),
            (T_TEXT, text),
        ] {
            self.r.set(t, field, v);
        }
        self.r.w32(bucket, t);
        self.r.add32(hdr::TAGS, 1);
        Some(t)
    }

    fn delete_tag(&mut self, t: u32) {
        let hash = self.r.get(t, T_HASH);
        let bucket = self.r.tag_bucket(hash & (self.r.geo.tag_buckets - 1));
        unlink(&mut self.r, bucket, t, T_HNEXT);
        let text = self.r.get(t, T_TEXT);
        self.r.free_chain(text);
        self.r.free(t);
        self.r.add32(hdr::TAGS, -1);
    }

    fn remove_entry(&mut self, entry: u32) {
        let node = self.r.get(entry, E_NODE);
        let by_entry = |r: &Region<'_>, other: u32| entry.cmp(&r.get(other, L_ENTRY));
        let mut link = self.r.get(node, N_LINKS);
        while link != NIL {
            let next = self.r.get(link, L_NEXT);
            let t = self.r.get(link, L_TAG);
            let root = self.r.cell(t) + T_ROOT;
            self.r.tree_remove(TAG_TREE, root, link, by_entry);
            let count = self.r.get(t, T_COUNT).saturating_sub(1);
            self.r.set(t, T_COUNT, count);
            if count == 0 {
                self.delete_tag(t);
            }
            self.r.free(link);
            self.r.add32(hdr::LINKS, -1);
            link = next;
        }
        self.r.tree_remove(KEY_TREE, hdr::KEY_ROOT, node, |r, other| cmp_nodes(r, node, other));
        let id = entry_id(&self.r, entry);
        let bucket = self.id_bucket_of(&id);
        unlink(&mut self.r, bucket, entry, E_HNEXT);
        let key = self.r.get(node, N_KEY);
        self.r.free_chain(key);
        self.r.free(node);
        self.r.free(entry);
        self.r.add32(hdr::ENTRIES, -1);
    }

    /// Removes the record with this id; returns whether there was one.
    pub fn remove(&mut self, id: &Id) -> bool {
        let Some(entry) = self.find_entry(id) else {
            return false;
        };
        self.begin();
        self.remove_entry(entry);
        self.end();
        true
    }

    /// Appends to `out` up to `max` (at least 1) ids that `select` selects, after the `cursor`,
    /// and moves the cursor past them. Returns true when no selected id remains after them.
    /// Work: O(log n + max) (keys also cost their length per comparison).
    pub fn collect(
        &self,
        select: Select<'_>,
        cursor: &mut Cursor,
        max: usize,
        out: &mut Vec<Id>,
    ) -> bool {
        let max = max.max(1);
        let r = &self.r;
        let mut done = true;
        let mut taken = 0;
        match select {
            Select::Key(start) | Select::Prefix(start) => {
                let exact = matches!(select, Select::Key(_));
                let after = match &cursor.last {
                    Some(Last::Entry { key, id }) => Some((key.as_slice(), id)),
                    _ => None,
                };
                let from = |r: &Region<'_>, n: u32| match after {
                    Some((key, id)) => cmp_key(r, key, id, n).is_lt(),
                    None => cmp_chunks(key_chunks(r, n), piece(start)).is_ge(),
                };
                let mut last = NIL;
                r.tree_walk(KEY_TREE, hdr::KEY_ROOT, from, |r, n| {
                    let selected = if exact {
                        r.get(n, N_KEY_LEN) as usize == start.len()
                            && chunks_start_with(key_chunks(r, n), start)
                    } else {
                        chunks_start_with(key_chunks(r, n), start)
                    };
                    if !selected {
                        return false;
                    }
                    if taken == max {
                        done = false;
                        return false;
                    }
                    out.push(node_id(r, n));
                    taken += 1;
                    last = n;
                    true
                });
                if last != NIL {
                    let key = collect_chunks(key_chunks(r, last));
                    cursor.last = Some(Last::Entry { key, id: node_id(r, last) });
                }
            }
            Select::Tag(tag) => {
                let Some(t) = self.find_tag(tag, r.hash(tag) as u32) else {
                    return true;
                };
                let after = match cursor.last {
                    Some(Last::Link(entry)) => Some(entry),
                    _ => None,
                };
                let mut last = None;
                let root = r.cell(t) + T_ROOT;
                let from = |r: &Region<'_>, l: u32| after.is_none_or(|a| r.get(l, L_ENTRY) > a);
                r.tree_walk(TAG_TREE, root, from, |r, l| {
                    if taken == max {
                        done = false;
                        return false;
                    }
                    let entry = r.get(l, L_ENTRY);
                    out.push(entry_id(r, entry));
                    taken += 1;
                    last = Some(entry);
                    true
                });
                if let Some(entry) = last {
                    cursor.last = Some(Last::Link(entry));
                }
            }
        }
        done
    }

    /// Removes up to `max` selected records and appends their ids to `out` (a hard purge
    /// unindexes a batch, then deletes those entries without holding the lock). Returns true
    /// when none remains.
    pub fn drain(&mut self, select: Select<'_>, max: usize, out: &mut Vec<Id>) -> bool {
        let start = out.len();
        let done = self.collect(select, &mut Cursor::default(), max, out);
        self.begin();
        for id in &out[start..] {
            if let Some(entry) = self.find_entry(id) {
                self.remove_entry(entry);
            }
        }
        self.end();
        done
    }

    /// Examines the records of the next id buckets, about `budget` buckets and records in
    /// all, and removes those for which `alive` says the cache entry is gone. Successive calls
    /// (from any worker) go round all the buckets.
    pub fn sweep(&mut self, budget: usize, alive: &mut dyn FnMut(&Id) -> bool) -> Swept {
        self.begin();
        let swept = self.sweep_steps(budget, alive);
        self.end();
        swept
    }

    fn sweep_steps(&mut self, budget: usize, alive: &mut dyn FnMut(&Id) -> bool) -> Swept {
        let buckets = self.r.geo.id_buckets;
        let mut swept = Swept::default();
        let mut bucket = self.r.r32(hdr::SWEEP) % buckets;
        let mut steps = 0;
        while steps < budget && !swept.wrapped {
            steps += 1;
            let mut entry = self.r.r32(self.r.id_bucket(bucket));
            while entry != NIL {
                let next = self.r.get(entry, E_HNEXT);
                steps += 1;
                swept.examined += 1;
                if !alive(&entry_id(&self.r, entry)) {
                    self.remove_entry(entry);
                    swept.removed += 1;
                }
                entry = next;
            }
            bucket += 1;
            if bucket == buckets {
                bucket = 0;
                swept.wrapped = true;
            }
        }
        self.r.w32(hdr::SWEEP, bucket);
        swept
    }

    /// Makes `owner` the worker that reads the cache files back, when the index needs it or
    /// the previous owner has not reported for `lease` (same unit as `now`). Returns the
    /// generation to pass to [`Index::rebuild_beat`] and [`Index::finish_rebuild`].
    pub fn claim_rebuild(&mut self, owner: u64, now: u64, lease: u64) -> Option<u64> {
        let stale = now.saturating_sub(self.r.r64(hdr::REBUILD_BEAT)) > lease;
        match self.state() {
            State::NeedsRebuild => {}
            State::Rebuilding if stale => {}
            _ => return None,
        }
        self.set_state(State::Rebuilding);
        self.r.w64(hdr::REBUILD_OWNER, owner);
        self.r.w64(hdr::REBUILD_BEAT, now);
        Some(self.r.r64(hdr::GENERATION))
    }

    fn rebuilding_by(&self, owner: u64, generation: u64) -> bool {
        self.state() == State::Rebuilding
            && self.r.r64(hdr::REBUILD_OWNER) == owner
            && self.r.r64(hdr::GENERATION) == generation
    }

    /// The owner reports progress; false when it lost the rebuild (taken over, or the index
    /// was cleared) and must stop.
    pub fn rebuild_beat(&mut self, owner: u64, generation: u64, now: u64) -> bool {
        let ours = self.rebuilding_by(owner, generation);
        if ours {
            self.r.w64(hdr::REBUILD_BEAT, now);
        }
        ours
    }

    /// Every cache file was read: the index is complete (unless it overflowed).
    pub fn finish_rebuild(&mut self, owner: u64, generation: u64) -> bool {
        let ours = self.rebuilding_by(owner, generation);
        if ours {
            self.set_state(State::Ready);
        }
        ours
    }

    /// Checks every structural invariant; for tests and fuzzing. Work: O(size).
    pub fn validate(&self) -> Result<(), String> {
        check::validate(&self.r)
    }
}

/// Removes `cell` from the chain that starts at `slot`, whose cells link through `next`.
fn unlink(r: &mut Region<'_>, mut slot: usize, cell: u32, next: usize) {
    loop {
        let cur = r.r32(slot);
        if cur == NIL {
            return;
        }
        if cur == cell {
            let after = r.get(cell, next);
            r.w32(slot, after);
            return;
        }
        slot = r.cell(cur) + next;
    }
}

/// The tags within the per-response limits, and how many were dropped.
fn within_limits<'t>(tags: &[&'t [u8]]) -> (Vec<&'t [u8]>, usize) {
    let mut kept = Vec::new();
    let mut bytes = 0;
    let mut ignored = 0;
    for tag in tags.iter().filter(|t| !t.is_empty()) {
        if tag.len() > MAX_TAG_LEN || kept.len() == MAX_TAGS || bytes + tag.len() > MAX_TAG_BYTES {
            ignored += 1;
        } else {
            bytes += tag.len();
            kept.push(*tag);
        }
    }
    (kept, ignored)
}
