//! Treaps over cells: binary search trees whose shape follows a pseudo-random priority per node,
//! so their expected depth is logarithmic whatever order hostile keys arrive in. Iterative, with
//! children stored as cell indices, so a tree lives in the shared region as it is.

use core::cmp::Ordering;

use super::cells::{Region, NIL};

/// Where a kind of node keeps its children.
#[derive(Clone, Copy)]
pub struct Tree {
    pub left: usize,
    pub right: usize,
}

impl Region<'_> {
    /// Inserts `node`, whose key is not in the tree. `cmp(region, other)` orders `node`'s key
    /// against `other`'s.
    pub fn tree_insert(
        &mut self,
        t: Tree,
        root: usize,
        node: u32,
        cmp: impl Fn(&Region<'_>, u32) -> Ordering,
    ) {
        let p = self.priority(node);
        let mut slot = root;
        loop {
            let cur = self.r32(slot);
            if cur == NIL || self.priority(cur) < p {
                break;
            }
            let side = if cmp(self, cur) == Ordering::Less { t.left } else { t.right };
            slot = self.cell(cur) + side;
        }
        // Split the subtree that `node` displaces into its smaller and larger keys.
        let mut rest = self.r32(slot);
        let mut less = self.cell(node) + t.left;
        let mut more = self.cell(node) + t.right;
        while rest != NIL {
            if cmp(self, rest) == Ordering::Greater {
                self.w32(less, rest);
                less = self.cell(rest) + t.right;
                rest = self.r32(less);
            } else {
                self.w32(more, rest);
                more = self.cell(rest) + t.left;
                rest = self.r32(more);
            }
        }
        self.w32(less, NIL);
        self.w32(more, NIL);
        self.w32(slot, node);
    }

    /// The node whose key compares equal, if any.
    pub fn tree_find(
        &self,
        t: Tree,
        root: usize,
        cmp: impl Fn(&Region<'_>, u32) -> Ordering,
    ) -> Option<u32> {
        let mut cur = self.r32(root);
        while cur != NIL {
            cur = match cmp(self, cur) {
                Ordering::Equal => return Some(cur),
                Ordering::Less => self.get(cur, t.left),
                Ordering::Greater => self.get(cur, t.right),
            };
        }
        None
    }

    /// Removes `node`, found by `cmp` (which orders `node`'s key against another's). Returns
    /// whether it was there.
    pub fn tree_remove(
        &mut self,
        t: Tree,
        root: usize,
        node: u32,
        cmp: impl Fn(&Region<'_>, u32) -> Ordering,
    ) -> bool {
        let mut slot = root;
        loop {
            let cur = self.r32(slot);
            if cur == NIL {
                return false;
            }
            if cur == node {
                break;
            }
            let side = if cmp(self, cur) == Ordering::Less { t.left } else { t.right };
            slot = self.cell(cur) + side;
        }
        // Merge the node's subtrees in its place.
        let mut a = self.get(node, t.left);
        let mut b = self.get(node, t.right);
        loop {
            if a == NIL || b == NIL {
                self.w32(slot, if a == NIL { b } else { a });
                return true;
            }
            if self.priority(a) > self.priority(b) {
                self.w32(slot, a);
                slot = self.cell(a) + t.right;
                a = self.r32(slot);
            } else {
                self.w32(slot, b);
                slot = self.cell(b) + t.left;
                b = self.r32(slot);
            }
        }
    }

    /// Visits, in key order, the nodes for which `from` holds (a monotone predicate: false for
    /// a prefix of the order, then true) until `visit` returns false. Work: the tree's depth
    /// plus the nodes visited.
    pub fn tree_walk(
        &self,
        t: Tree,
        root: usize,
        from: impl Fn(&Region<'_>, u32) -> bool,
        mut visit: impl FnMut(&Region<'_>, u32) -> bool,
    ) {
        let mut stack = Vec::new();
        let mut cur = self.r32(root);
        while cur != NIL {
            if from(self, cur) {
                stack.push(cur);
                cur = self.get(cur, t.left);
            } else {
                cur = self.get(cur, t.right);
            }
        }
        while let Some(node) = stack.pop() {
            if !visit(self, node) {
                return;
            }
            cur = self.get(node, t.right);
            while cur != NIL {
                stack.push(cur);
                cur = self.get(cur, t.left);
            }
        }
    }
}
