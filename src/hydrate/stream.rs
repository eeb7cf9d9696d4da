//! The rewrite of one response body as it streams through the body filter.
//!
//! Input buffers are read a piece at a time (at most [`PIECE`] bytes; file buffers of a cached
//! response are read into one scratch buffer) and given to the rewriter; its output is copied
//! into buffers of this module's own, which are reused once sent. While more than
//! [`BUSY_LIMIT`] bytes of them wait for the client, input is held back (and the connection
//! marked buffered, as gzip does), so memory per request does not grow with the page.

use core::ptr;

use microcache_core::hydrate::{Rewriter, Summary};
use nginx_sys::{
    ngx_alloc_chain_link, ngx_buf_t, ngx_chain_add_copy, ngx_chain_get_free_buf, ngx_chain_t,
    ngx_chain_update_chains, ngx_http_request_t, ngx_int_t, ngx_palloc, ngx_pcalloc, ngx_pool_t,
    ngx_read_file, off_t, NGX_ERROR,
};
use ngx::core::Status;

use super::plans::{self, PlanKey};
use crate::ngx_http_microcache_module;

/// The most input rewritten at a time.
const PIECE: usize = 32 * 1024;
/// The size of an output buffer.
const OUT_BUFFER: usize = 32 * 1024;
/// Output waiting for the client beyond which input is held back.
const BUSY_LIMIT: usize = 64 * 1024;
/// The bit of `c->buffered` that says this filter holds input. nginx's own filters use 0x01 to
/// 0x20 (gzip's is 0x20); 0x40 is free.
const BUFFERED: u32 = 0x40;

pub type Next = unsafe fn(*mut ngx_http_request_t, *mut ngx_chain_t) -> ngx_int_t;

pub struct Stream {
    rewriter: Rewriter,
    /// Where the recorded plan goes, for a page from the cache.
    plan: Option<PlanKey>,
    /// Input received and not yet rewritten.
    input: *mut ngx_chain_t,
    /// Output not yet passed on.
    out: *mut ngx_chain_t,
    /// The output buffers: reusable, and passed on but not yet sent.
    free: *mut ngx_chain_t,
    busy: *mut ngx_chain_t,
    scratch: *mut u8,
    failed: bool,
    /// The last buffer has gone through; from then on the body passes on untouched.
    pub done: bool,
    summary: Option<Summary>,
}

/// The buffers of this module carry its address as their tag.
fn tag() -> *mut core::ffi::c_void {
    ptr::addr_of!(ngx_http_microcache_module).cast_mut().cast()
}

impl Stream {
    pub fn new(rewriter: Rewriter, plan: Option<PlanKey>) -> Stream {
        Stream {
            rewriter,
            plan,
            input: ptr::null_mut(),
            out: ptr::null_mut(),
            free: ptr::null_mut(),
            busy: ptr::null_mut(),
            scratch: ptr::null_mut(),
            failed: false,
            done: false,
            summary: None,
        }
    }

    /// How the rewrite went, once, after the last buffer.
    pub fn take_summary(&mut self) -> Option<Summary> {
        self.summary.take()
    }

    /// The body filter's work: takes `input`, passes on what is rewritten.
    ///
    /// # Safety
    /// `r` is the request being answered, `input` its body chain, `next` the next body filter.
    pub unsafe fn filter(
        &mut self,
        r: &mut ngx_http_request_t,
        input: *mut ngx_chain_t,
        next: Next,
    ) -> ngx_int_t {
        // SAFETY: the request's pool and connection are valid while it runs.
        let (pool, c) = unsafe { (r.pool, &mut *r.connection) };
        if !input.is_null() {
            // SAFETY: links for the same buffers, from the request pool.
            if unsafe { ngx_chain_add_copy(pool, &mut self.input, input) } != 0 {
                return NGX_ERROR as ngx_int_t;
            }
        }
        // Called without input (the client can take more) or with our output still waiting:
        // let the filters below send what they hold.
        let mut flush = input.is_null() || !self.busy.is_null();
        let mut rc = Status::NGX_OK.into();
        loop {
            let mut batch = 0;
            while !self.input.is_null()
                && !self.done
                && batch < OUT_BUFFER
                && busy_bytes(self.busy) < BUSY_LIMIT
            {
                // SAFETY: the input links and their buffers are valid while the request runs.
                batch += match unsafe { self.step(pool) } {
                    Some(n) => n,
                    None => return NGX_ERROR as ngx_int_t,
                };
            }
            if !self.out.is_null() || flush {
                // SAFETY: as the caller guarantees.
                rc = unsafe { next(r, self.out) };
                // SAFETY: our chains, from the request pool.
                unsafe {
                    ngx_chain_update_chains(
                        pool,
                        &mut self.free,
                        &mut self.busy,
                        &mut self.out,
                        tag(),
                    )
                };
                flush = false;
                if rc == NGX_ERROR as ngx_int_t {
                    return rc;
                }
            }
            // Input is held back only while output waits for the client, whose next write
            // event calls this filter again.
            if self.done || self.input.is_null() || busy_bytes(self.busy) >= BUSY_LIMIT {
                break;
            }
        }
        let holding = !self.input.is_null() && !self.done;
        let buffered = c.buffered() & !BUFFERED | if holding { BUFFERED } else { 0 };
        c.set_buffered(buffered);
        if holding || (!self.busy.is_null() && rc == ngx_int_t::from(Status::NGX_OK)) {
            return Status::NGX_AGAIN.into();
        }
        rc
    }

    /// Rewrites the next piece of the first input buffer; at its end, applies its flags and
    /// drops its link. The number of input bytes, `None` on an error.
    ///
    /// # Safety
    /// The input chain is not empty; its links and buffers are valid.
    unsafe fn step(&mut self, pool: *mut ngx_pool_t) -> Option<usize> {
        let link = self.input;
        // SAFETY: guaranteed by the caller.
        let b = unsafe { &mut *(*link).buf };
        if self.scratch.is_null() && needs_reading(b) {
            // SAFETY: the request pool is valid.
            self.scratch = unsafe { ngx_palloc(pool, PIECE) }.cast();
            if self.scratch.is_null() {
                return None;
            }
        }
        // SAFETY: the scratch buffer holds PIECE bytes and lives as long as the request.
        let scratch = unsafe { core::slice::from_raw_parts_mut(self.scratch, PIECE) };
        let piece = take(b, scratch, PIECE)?;
        let taken = piece.len();
        let mut out = Output { pool, out: &mut self.out, free: &mut self.free, failed: false };
        self.rewriter.write(piece, |bytes| out.push(bytes));
        if buf_size(b) == 0 {
            // SAFETY: the link is ours (ngx_chain_add_copy); its buffer stays the caller's.
            unsafe {
                self.input = (*link).next;
                (*link).next = (*pool).chain;
                (*pool).chain = link;
            }
            if b.last_buf() != 0 {
                let summary = self.rewriter.end(|bytes| out.push(bytes));
                if let (Some(key), Some(plan)) = (self.plan, self.rewriter.take_plan()) {
                    plans::store(key, plan);
                }
                self.summary = Some(summary);
                self.done = true;
                out.mark(|b| b.set_last_buf(1));
            } else if b.flush() != 0 {
                out.mark(|b| b.set_flush(1));
            }
        }
        self.failed |= out.failed;
        (!self.failed).then_some(taken)
    }
}

/// Adds output to the chain to pass on, in this module's buffers.
struct Output<'a> {
    pool: *mut ngx_pool_t,
    out: &'a mut *mut ngx_chain_t,
    free: &'a mut *mut ngx_chain_t,
    failed: bool,
}

impl Output<'_> {
    fn push(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() && !self.failed {
            let Some(b) = self.room() else {
                self.failed = true;
                return;
            };
            let n = bytes.len().min(b.end as usize - b.last as usize);
            // SAFETY: the buffer has n bytes of room after `last`.
            unsafe {
                ptr::copy_nonoverlapping(bytes.as_ptr(), b.last, n);
                b.last = b.last.add(n);
            }
            bytes = &bytes[n..];
        }
    }

    /// Sets a flag on the last output buffer, or on a buffer without data if there is none:
    /// nginx takes an empty buffer in memory for a mistake.
    fn mark(&mut self, set: impl FnOnce(&mut ngx_buf_t)) {
        let b = if self.out.is_null() { self.special() } else { self.last() };
        match b {
            Some(b) => set(b),
            None => self.failed = true,
        }
    }

    /// A buffer without memory added at the end of the out chain. It has no tag: a filter
    /// below may hold it after its size says it is done, so it is never reused.
    fn special(&mut self) -> Option<&mut ngx_buf_t> {
        // SAFETY: the request pool is valid.
        let (link, b) = unsafe {
            let b = ngx_pcalloc(self.pool, size_of::<ngx_buf_t>()).cast::<ngx_buf_t>();
            (ngx_alloc_chain_link(self.pool), b)
        };
        // SAFETY: checked for null; fresh pool memory.
        let (link, b) = unsafe { (link.as_mut()?, b.as_mut()?) };
        link.buf = b;
        link.next = ptr::null_mut();
        *self.out = link;
        Some(b)
    }

    fn last(&mut self) -> Option<&mut ngx_buf_t> {
        let mut link = *self.out;
        // SAFETY: the out chain is ours, from the request pool.
        unsafe {
            while !link.is_null() && !(*link).next.is_null() {
                link = (*link).next;
            }
            link.as_mut().and_then(|l| l.buf.as_mut())
        }
    }

    /// The last output buffer if it has room, else a new one.
    fn room(&mut self) -> Option<&mut ngx_buf_t> {
        let full = self.last().is_none_or(|b| b.last == b.end);
        if full {
            self.append()
        } else {
            self.last()
        }
    }

    /// A buffer, reused or new, added at the end of the out chain.
    fn append(&mut self) -> Option<&mut ngx_buf_t> {
        // SAFETY: the free chain is ours; a link from it or a new one comes with a buffer.
        let link = unsafe { ngx_chain_get_free_buf(self.pool, self.free).as_mut()? };
        // SAFETY: as above.
        let b = unsafe { link.buf.as_mut()? };
        if b.start.is_null() {
            // SAFETY: the request pool is valid.
            let start = unsafe { ngx_palloc(self.pool, OUT_BUFFER) }.cast::<u8>();
            b.set_temporary(1);
            // Sent at once rather than collected: it is wanted back.
            b.set_recycled(1);
            if start.is_null() {
                return None;
            }
            b.start = start;
            b.pos = start;
            b.last = start;
            // SAFETY: OUT_BUFFER bytes were allocated.
            b.end = unsafe { start.add(OUT_BUFFER) };
            b.tag = tag();
        }
        b.set_flush(0);
        b.set_last_buf(0);
        let mut at = &mut *self.out;
        // SAFETY: the out chain is ours.
        unsafe {
            while !at.is_null() {
                at = &mut (**at).next;
            }
        }
        *at = link;
        Some(b)
    }
}

/// The next piece of a buffer's data, at most `max` bytes, marked consumed. Data in memory is
/// borrowed; data in a file (a cached response, a temporary file) is read into `scratch`.
/// `None` when the file cannot be read (nginx has logged why).
pub fn take<'a>(b: &mut ngx_buf_t, scratch: &'a mut [u8], max: usize) -> Option<&'a [u8]> {
    if in_memory(b) {
        let n = (b.last as usize - b.pos as usize).min(max);
        // SAFETY: pos..last is the buffer's data; it lives as long as the request, longer
        // than 'a.
        let data = unsafe { core::slice::from_raw_parts(b.pos, n) };
        // SAFETY: n bytes are within pos..last.
        b.pos = unsafe { b.pos.add(n) };
        if b.in_file() != 0 {
            b.file_pos += n as off_t;
        }
        return Some(data);
    }
    if b.in_file() == 0 || b.file_last <= b.file_pos {
        return Some(&[]);
    }
    let n = usize::try_from(b.file_last - b.file_pos).unwrap_or(0).min(max).min(scratch.len());
    // SAFETY: a file buffer's file is open while the buffer is in use; scratch has n bytes.
    let read = unsafe { ngx_read_file(b.file, scratch.as_mut_ptr(), n, b.file_pos) };
    if usize::try_from(read).ok() != Some(n) {
        return None;
    }
    b.file_pos += n as off_t;
    Some(&scratch[..n])
}

fn in_memory(b: &ngx_buf_t) -> bool {
    b.temporary() != 0 || b.memory() != 0 || b.mmap() != 0
}

/// Whether the buffer's data is in a file only.
pub fn needs_reading(b: &ngx_buf_t) -> bool {
    !in_memory(b) && b.in_file() != 0 && b.file_last > b.file_pos
}

/// Bytes of data left in the buffer (nginx's `ngx_buf_size`).
pub fn buf_size(b: &ngx_buf_t) -> usize {
    if in_memory(b) {
        b.last as usize - b.pos as usize
    } else {
        usize::try_from(b.file_last - b.file_pos).unwrap_or(0)
    }
}

fn busy_bytes(mut link: *mut ngx_chain_t) -> usize {
    let mut bytes = 0;
    // SAFETY: the busy chain is ours, from the request pool.
    while let Some(l) = unsafe { link.as_ref() } {
        // SAFETY: each link of ours has a buffer.
        bytes += unsafe { (*l.buf).last as usize - (*l.buf).pos as usize };
        link = l.next;
    }
    bytes
}
