//! A full check of the index's invariants, for tests and fuzzing.

use std::collections::HashSet;

use super::cells::{hdr, Region, NIL};
use super::treap::Tree;
use super::{
    cmp_nodes, entry_id, E_HNEXT, E_NODE, KEY_TREE, L_ENTRY, L_NEXT, L_TAG, N_ENTRY, N_KEY_LEN,
    N_LINKS, TAG_TREE, T_COUNT, T_HASH, T_HNEXT, T_LEN, T_ROOT, T_TEXT,
};

/// The nodes of a tree in order, checking the heap order of priorities on the way.
fn in_order(r: &Region<'_>, t: Tree, root: usize, limit: u32) -> Result<Vec<u32>, String> {
    let mut out = Vec::new();
    let mut stack = Vec::new();
    let mut cur = r.r32(root);
    loop {
        while cur != NIL {
            if out.len() + stack.len() > limit as usize || cur >= r.geo.cells {
                return Err(format!("tree at {root} is not a tree"));
            }
            for child in [r.get(cur, t.left), r.get(cur, t.right)] {
                if child != NIL && r.priority(child) > r.priority(cur) {
                    return Err(format!("heap order broken under cell {cur}"));
                }
            }
            stack.push(cur);
            cur = r.get(cur, t.left);
        }
        let Some(node) = stack.pop() else { return Ok(out) };
        out.push(node);
        cur = r.get(node, t.right);
    }
}

/// The cells of a hash chain.
fn chain(r: &Region<'_>, head: usize, next: usize) -> Result<Vec<u32>, String> {
    let mut out = Vec::new();
    let mut cur = r.r32(head);
    while cur != NIL {
        if out.len() > r.geo.cells as usize || cur >= r.geo.cells {
            return Err(format!("chain at {head} is broken"));
        }
        out.push(cur);
        cur = r.get(cur, next);
    }
    Ok(out)
}

pub fn validate(r: &Region<'_>) -> Result<(), String> {
    let cells = r.geo.cells;
    let mut used = 0u64;
    let mut ids = HashSet::new();
    let mut links = 0u64;
    for b in 0..r.geo.id_buckets {
        for e in chain(r, r.id_bucket(b), E_HNEXT)? {
            let id = entry_id(r, e);
            if !ids.insert(id) {
                return Err(format!("id {id:02x?} twice"));
            }
            if r.hash(&id) as u32 & (r.geo.id_buckets - 1) != b {
                return Err(format!("entry {e} in the wrong bucket"));
            }
            let node = r.get(e, E_NODE);
            if r.get(node, N_ENTRY) != e {
                return Err(format!("entry {e} and its node disagree"));
            }
            used += 2 + Region::chain_cells(r.get(node, N_KEY_LEN) as usize) as u64;
            let mut tags = HashSet::new();
            let mut l = r.get(node, N_LINKS);
            while l != NIL {
                if l >= cells || !tags.insert(r.get(l, L_TAG)) || r.get(l, L_ENTRY) != e {
                    return Err(format!("bad tag link {l} of entry {e}"));
                }
                links += 1;
                l = r.get(l, L_NEXT);
            }
        }
    }
    if ids.len() as u64 != u64::from(r.r32(hdr::ENTRIES)) {
        return Err(format!("{} entries counted as {}", ids.len(), r.r32(hdr::ENTRIES)));
    }
    let nodes = in_order(r, KEY_TREE, hdr::KEY_ROOT, cells)?;
    if nodes.len() != ids.len() {
        return Err(format!("key tree has {} nodes for {} entries", nodes.len(), ids.len()));
    }
    for pair in nodes.windows(2) {
        if !cmp_nodes(r, pair[0], pair[1]).is_lt() {
            return Err(format!("key tree out of order at cell {}", pair[1]));
        }
    }
    if nodes.iter().any(|&n| !ids.contains(&entry_id(r, r.get(n, N_ENTRY)))) {
        return Err("key tree node of no indexed entry".into());
    }
    let mut tag_count = 0u64;
    let mut tree_links = 0u64;
    let mut texts = HashSet::new();
    for b in 0..r.geo.tag_buckets {
        for t in chain(r, r.tag_bucket(b), T_HNEXT)? {
            tag_count += 1;
            let len = r.get(t, T_LEN) as usize;
            let text: Vec<u8> = r.chunks(r.get(t, T_TEXT), len).flatten().copied().collect();
            if text.len() != len || r.hash(&text) as u32 != r.get(t, T_HASH) {
                return Err(format!("tag {t} text and hash disagree"));
            }
            if r.get(t, T_HASH) & (r.geo.tag_buckets - 1) != b || !texts.insert(text) {
                return Err(format!("tag {t} misplaced or repeated"));
            }
            let members = in_order(r, TAG_TREE, r.cell(t) + T_ROOT, cells)?;
            if members.is_empty() || members.len() as u32 != r.get(t, T_COUNT) {
                return Err(format!("tag {t} counts {} for {}", r.get(t, T_COUNT), members.len()));
            }
            for pair in members.windows(2) {
                if r.get(pair[0], L_ENTRY) >= r.get(pair[1], L_ENTRY) {
                    return Err(format!("tag {t} tree out of order"));
                }
            }
            if members.iter().any(|&l| r.get(l, L_TAG) != t) {
                return Err(format!("tag {t} holds another tag's link"));
            }
            tree_links += members.len() as u64;
            used += 1 + Region::chain_cells(len) as u64;
        }
    }
    if tree_links != links || links != u64::from(r.r32(hdr::LINKS)) {
        return Err(format!("{links} links from entries, {tree_links} in tag trees"));
    }
    if tag_count != u64::from(r.r32(hdr::TAGS)) {
        return Err(format!("{tag_count} tags counted as {}", r.r32(hdr::TAGS)));
    }
    used += links;
    if used != u64::from(r.r32(hdr::USED)) {
        return Err(format!("{used} cells in use counted as {}", r.r32(hdr::USED)));
    }
    let free = chain(r, hdr::FREE, 0)?.len() as u64;
    let never_used = u64::from(cells.saturating_sub(r.r32(hdr::FRONTIER)));
    if free + never_used + used + 1 != u64::from(cells) {
        return Err(format!("{free} free + {never_used} unused + {used} used != {cells} cells"));
    }
    Ok(())
}
