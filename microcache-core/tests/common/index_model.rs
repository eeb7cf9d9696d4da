//! The index against a plain model (`HashMap` + `BTreeSet`): operation sequences decoded from
//! bytes, so that property tests and the fuzz target share them. Every step validates the
//! index's structure and compares every answer with the model.

use std::collections::{BTreeSet, HashMap, HashSet};

use microcache_core::index::{Cursor, Id, Index, Refused, Replace, Select, State};
use microcache_core::tags::{MAX_TAGS, MAX_TAG_BYTES, MAX_TAG_LEN};

fn id(n: u8) -> Id {
    let mut id = [0; 16];
    id[0] = n;
    id[15] = n.wrapping_mul(7);
    id
}

/// Keys that share prefixes, differ only at the end of a long run, and hold any byte.
fn keys() -> Vec<Vec<u8>> {
    let long: Vec<u8> = (0..5000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let mut long2 = long.clone();
    *long2.last_mut().unwrap() = b'!';
    vec![
        b"".to_vec(),
        b"a".to_vec(),
        b"ab".to_vec(),
        b"httpGEThost/".to_vec(),
        b"httpGEThost/a".to_vec(),
        b"httpGEThost/a?x=1".to_vec(),
        b"httpGEThost/ab".to_vec(),
        b"httpHEADhost/a".to_vec(),
        b"httpGEThost/\x00\xff\n".to_vec(),
        b"httpGEThost/abcdefghijklmnopqrstuvwxyz0123456789".to_vec(),
        long,
        long2,
    ]
}

fn prefixes() -> Vec<Vec<u8>> {
    let mut long: Vec<u8> = (0..4000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let mut all = vec![
        b"".to_vec(),
        b"a".to_vec(),
        b"httpGEThost/".to_vec(),
        b"httpGEThost/a".to_vec(),
        b"httpGEThost/abcdefghijklmnopqrstuvwxyz".to_vec(),
        b"zz".to_vec(),
    ];
    all.push(long.clone());
    long.push(b'!');
    all.push(long);
    all
}

fn tags() -> Vec<Vec<u8>> {
    vec![
        b"post-12".to_vec(),
        b"term-4".to_vec(),
        b"home".to_vec(),
        b"".to_vec(),
        b"Home".to_vec(),
        b"a-tag-longer-than-one-cell-of-twenty-bytes".to_vec(),
        vec![b'x'; MAX_TAG_LEN],
        vec![b'y'; MAX_TAG_LEN + 1],
        b"\x00\xff".to_vec(),
        b"feed".to_vec(),
    ]
}

#[derive(Clone, Debug)]
pub enum Op {
    Insert {
        id: u8,
        key: usize,
        tags: Vec<usize>,
        if_absent: bool,
    },
    /// Inserts one response with more tags than the limits allow.
    InsertMany {
        id: u8,
        key: usize,
        count: usize,
    },
    Remove(u8),
    /// The cache entry is gone (evicted): the sweep or an insert needing room may drop it.
    Kill(u8),
    Sweep(usize),
    Drain {
        select: Sel,
        max: usize,
    },
    Clear,
    Reattach,
}

#[derive(Clone, Copy, Debug)]
pub enum Sel {
    Key(usize),
    Prefix(usize),
    Tag(usize),
}

impl Sel {
    fn with(self, bytes: &[u8]) -> Select<'_> {
        match self {
            Sel::Key(_) => Select::Key(bytes),
            Sel::Prefix(_) => Select::Prefix(bytes),
            Sel::Tag(_) => Select::Tag(bytes),
        }
    }
}

/// Decodes operations from bytes; any bytes give some sequence.
pub fn decode(data: &[u8]) -> Vec<Op> {
    let mut ops = Vec::new();
    let mut it = data.iter().copied();
    let (nk, np, nt) = (keys().len(), prefixes().len(), tags().len());
    while let Some(b) = it.next() {
        let mut next = || it.next().unwrap_or(0);
        let op = match b % 16 {
            0..=6 => {
                let (id, key, n) = (next() % 24, usize::from(next()) % nk, next() % 6);
                let tags = (0..n).map(|_| usize::from(next()) % nt).collect();
                Op::Insert { id, key, tags, if_absent: b % 16 == 6 }
            }
            7 => Op::InsertMany { id: next() % 24, key: usize::from(next()) % nk, count: 1200 },
            8 | 9 => Op::Remove(next() % 24),
            10 => Op::Kill(next() % 24),
            11 => Op::Sweep(usize::from(next() % 64)),
            12 | 13 => {
                let (kind, n, max) = (next() % 3, usize::from(next()), usize::from(next() % 5));
                let select = match kind {
                    0 => Sel::Key(n % nk),
                    1 => Sel::Prefix(n % np),
                    _ => Sel::Tag(n % nt),
                };
                Op::Drain { select, max }
            }
            14 => Op::Clear,
            _ => Op::Reattach,
        };
        ops.push(op);
    }
    ops
}

pub struct Harness {
    mem: Vec<u8>,
    keys: Vec<Vec<u8>>,
    prefixes: Vec<Vec<u8>>,
    tags: Vec<Vec<u8>>,
    model: HashMap<u8, (Vec<u8>, BTreeSet<Vec<u8>>)>,
    dead: HashSet<u8>,
    overflowed: bool,
    pub refused: usize,
}

/// What the index keeps of a response's tags: the limits, applied as the index does.
fn kept_tags(tags: &[&[u8]]) -> BTreeSet<Vec<u8>> {
    let mut kept = Vec::new();
    let mut bytes = 0;
    for t in tags.iter().filter(|t| !t.is_empty()) {
        if t.len() <= MAX_TAG_LEN && kept.len() < MAX_TAGS && bytes + t.len() <= MAX_TAG_BYTES {
            bytes += t.len();
            kept.push(t.to_vec());
        }
    }
    kept.into_iter().collect()
}

impl Harness {
    pub fn new(len: usize) -> Harness {
        let mut mem = vec![0; len];
        let (index, _) = Index::attach(&mut mem, [1, 2]).unwrap();
        assert_eq!(index.state(), State::NeedsRebuild);
        Harness {
            mem,
            keys: keys(),
            prefixes: prefixes(),
            tags: tags(),
            model: HashMap::new(),
            dead: HashSet::new(),
            overflowed: false,
            refused: 0,
        }
    }

    fn index(&mut self) -> Index<'_> {
        Index::attach(&mut self.mem, [3, 4]).unwrap().0
    }

    fn insert(&mut self, n: u8, key: Vec<u8>, tags: Vec<Vec<u8>>, replace: Replace) {
        let dead = self.dead.clone();
        let refs: Vec<&[u8]> = tags.iter().map(Vec::as_slice).collect();
        let present = self.model.contains_key(&n);
        let result = self.index().insert(&id(n), &key, &refs, replace, &mut |i| {
            assert!(i != &id(n), "the id being inserted was offered to the sweep");
            !dead.contains(&i[0])
        });
        match result {
            Ok(done) => {
                assert_eq!(done.replaced, present && replace == Replace::Always);
                assert_eq!(done.stored, !(present && replace == Replace::IfAbsent));
                if done.stored {
                    let kept = kept_tags(&refs);
                    assert_eq!(done.tags, kept.len());
                    self.model.insert(n, (key, kept));
                    self.dead.remove(&n);
                }
            }
            Err(Refused::Full) => {
                self.refused += 1;
                self.overflowed = true;
                self.model.remove(&n);
            }
            Err(Refused::KeyTooLong) => unreachable!("no key is that long"),
        }
    }

    pub fn apply(&mut self, op: &Op) {
        match op {
            Op::Insert { id: n, key, tags, if_absent } => {
                let key = self.keys[*key].clone();
                let tags = tags.iter().map(|&t| self.tags[t].clone()).collect();
                let replace = if *if_absent { Replace::IfAbsent } else { Replace::Always };
                self.insert(*n, key, tags, replace);
            }
            Op::InsertMany { id: n, key, count } => {
                let key = self.keys[*key].clone();
                let tags = (0..*count).map(|i| format!("many-{i}").into_bytes()).collect();
                self.insert(*n, key, tags, Replace::Always);
            }
            Op::Remove(n) => {
                let removed = self.index().remove(&id(*n));
                assert_eq!(removed, self.model.remove(n).is_some());
            }
            Op::Kill(n) => {
                self.dead.insert(*n);
            }
            Op::Sweep(budget) => {
                let dead = self.dead.clone();
                let swept = self.index().sweep(*budget, &mut |i| !dead.contains(&i[0]));
                assert!(swept.examined <= budget + self.model.len());
                assert!(swept.removed <= swept.examined);
            }
            Op::Drain { select, max } => {
                let (select_bytes, expected) = self.selected(*select);
                let mut out = Vec::new();
                let select = select.with(&select_bytes);
                let mut mem = std::mem::take(&mut self.mem);
                let done = Index::attach(&mut mem, [0, 0]).unwrap().0.drain(select, *max, &mut out);
                self.mem = mem;
                let max = (*max).max(1);
                assert_eq!(done, expected.len() <= max, "drain's done flag");
                assert_eq!(out.len(), expected.len().min(max));
                for i in &out {
                    assert!(expected.contains(i), "drained an unselected id");
                    self.model.remove(&i[0]);
                }
            }
            Op::Clear => {
                self.index().clear();
                self.model.clear();
                self.overflowed = false;
            }
            Op::Reattach => {
                let mut mem = std::mem::take(&mut self.mem);
                let (_, attached) = Index::attach(&mut mem, [5, 6]).unwrap();
                assert_eq!(attached, microcache_core::index::Attached::Reused);
                self.mem = mem;
            }
        }
        // Records the sweep (or an insert making room) dropped must have been dead.
        let index = Index::attach(&mut self.mem, [0, 0]).unwrap().0;
        if let Err(e) = index.validate() {
            panic!("after {op:?}: {e}");
        }
        let gone: Vec<u8> =
            self.model.keys().copied().filter(|n| !index.contains(&id(*n))).collect();
        for n in gone {
            assert!(self.dead.contains(&n), "a live record vanished");
            self.model.remove(&n);
        }
        self.check();
    }

    /// The selector's bytes, and the ids it should select, in the index's order for keys and
    /// prefixes.
    fn selected(&self, select: Sel) -> (Vec<u8>, Vec<Id>) {
        let bytes = match select {
            Sel::Key(k) => &self.keys[k],
            Sel::Prefix(p) => &self.prefixes[p],
            Sel::Tag(t) => &self.tags[t],
        };
        let mut hits: Vec<(&[u8], Id)> = self
            .model
            .iter()
            .filter(|(_, (key, tags))| match select {
                Sel::Key(_) => key == bytes,
                Sel::Prefix(_) => key.starts_with(bytes),
                Sel::Tag(_) => tags.contains(bytes),
            })
            .map(|(n, (key, _))| (if let Sel::Tag(_) = select { &[][..] } else { key }, id(*n)))
            .collect();
        hits.sort();
        (bytes.clone(), hits.into_iter().map(|(_, i)| i).collect())
    }

    /// Every answer of the index against the model.
    pub fn check(&mut self) {
        let mut mem = std::mem::take(&mut self.mem);
        let index = Index::attach(&mut mem, [0, 0]).unwrap().0;
        let stats = index.stats();
        assert_eq!(stats.entries as usize, self.model.len());
        assert_eq!(stats.overflowed, self.overflowed);
        assert_eq!(index.usable(), !self.overflowed && stats.state == State::Ready);
        for (n, (key, tags)) in &self.model {
            let record = index.record(&id(*n)).expect("a modelled record is indexed");
            assert_eq!(&record.key, key);
            assert_eq!(&record.tags.into_iter().collect::<BTreeSet<_>>(), tags);
        }
        let selectors = (0..self.keys.len())
            .map(Sel::Key)
            .chain((0..self.prefixes.len()).map(Sel::Prefix))
            .chain((0..self.tags.len()).map(Sel::Tag));
        for (i, sel) in selectors.enumerate() {
            let (bytes, expected) = self.selected(sel);
            let select = sel.with(&bytes);
            // Batches of varying size, resumed through the cursor.
            let batch = 1 + i % 4;
            let mut cursor = Cursor::default();
            let mut got = Vec::new();
            let mut rounds = 0;
            while !index.collect(select, &mut cursor, batch, &mut got) {
                rounds += 1;
                assert!(rounds <= expected.len(), "collect does not finish");
            }
            if let Sel::Tag(t) = sel {
                got.sort();
                assert_eq!(index.tag_count(&self.tags[t]) as usize, expected.len());
            }
            assert_eq!(got, expected, "{sel:?}");
        }
        self.mem = mem;
    }
}
