//! A cache zone's entries in shared memory: nginx's red-black tree of
//! `ngx_http_file_cache_node_t`, keyed by the entry's MD5, under the zone's slab pool mutex.

use core::cmp::Ordering;
use core::mem::size_of;

use nginx_sys::{ngx_http_file_cache_node_t, ngx_rbtree_key_t, time_t, NGX_HTTP_CACHE_KEY_LEN};
use ngx::core::SlabPool;

use super::FileCache;

/// The node of the entry with this hash, if the tree has one; called with the zone locked.
///
/// # Safety
/// The caller holds the zone's mutex for as long as it uses the node.
unsafe fn lookup(cache: &FileCache, hash: &[u8; 16]) -> Option<*mut ngx_http_file_cache_node_t> {
    const NODE_KEY: usize = size_of::<ngx_rbtree_key_t>();
    let mut node_key = [0u8; NODE_KEY];
    node_key.copy_from_slice(&hash[..NODE_KEY]);
    let node_key = ngx_rbtree_key_t::from_ne_bytes(node_key);
    let rest = &hash[NODE_KEY..NGX_HTTP_CACHE_KEY_LEN as usize];
    // SAFETY: the tree is valid under the mutex (as in ngx_http_file_cache_lookup).
    unsafe {
        let tree = &(*cache.raw().sh).rbtree;
        let mut node = tree.root;
        while node != tree.sentinel {
            let order = node_key.cmp(&(*node).key).then_with(|| {
                let fcn = node.cast::<ngx_http_file_cache_node_t>();
                rest.cmp(&(&(*fcn).key)[..])
            });
            match order {
                Ordering::Less => node = (*node).left,
                Ordering::Greater => node = (*node).right,
                Ordering::Equal => return Some(node.cast()),
            }
        }
    }
    None
}

/// Runs `f` on the entry's node, if the tree has one, with the zone locked.
fn with_node<T>(
    cache: &FileCache,
    hash: &[u8; 16],
    f: impl FnOnce(*mut ngx_http_file_cache_node_t) -> T,
) -> Option<T> {
    // SAFETY: the zone is mapped for the life of the worker; its slab pool is at its start.
    let pool = unsafe { SlabPool::from_shm_zone(&*cache.raw().shm_zone) }?;
    let _locked = pool.lock();
    // SAFETY: the zone is locked until `_locked` drops, and `f` runs meanwhile.
    unsafe { lookup(cache, hash) }.map(f)
}

/// Whether the entry is in the cache: its node exists and says so.
pub fn exists(cache: &FileCache, hash: &[u8; 16]) -> bool {
    // SAFETY: with_node gives a node of the locked tree.
    with_node(cache, hash, |fcn| unsafe { ngx_http_file_cache_node_t::exists_raw(fcn) != 0 })
        .unwrap_or(false)
}

/// Marks the entry expired in shared memory, as its file's header is too (nginx reads the
/// validity of a cached response from the file, and an error entry's from the node).
pub fn expire(cache: &FileCache, hash: &[u8; 16], expired: time_t) {
    // SAFETY: with_node gives a node of the locked tree.
    with_node(cache, hash, |fcn| unsafe {
        if (*fcn).valid_sec > expired {
            (*fcn).valid_sec = expired;
        }
    });
}

/// Marks the entry absent, as nginx does before it deletes a file, and takes its size off the
/// zone's total. A node the cache manager is deleting is left to it: nginx has already taken
/// its size off, and does the rest when its unlink returns.
pub fn forget(cache: &FileCache, hash: &[u8; 16]) {
    // SAFETY: with_node gives a node of the locked tree; the zone's totals are under the same
    // lock.
    with_node(cache, hash, |fcn| unsafe {
        if ngx_http_file_cache_node_t::exists_raw(fcn) == 0
            || ngx_http_file_cache_node_t::deleting_raw(fcn) != 0
        {
            return;
        }
        (*cache.raw().sh).size -= (*fcn).fs_size;
        (*fcn).fs_size = 0;
        ngx_http_file_cache_node_t::set_exists_raw(fcn, 0);
    });
}
