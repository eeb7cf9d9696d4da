//! The elements of an nginx list (`ngx_list_t`): header lists, the cycle's shared memory zones.

use core::marker::PhantomData;

use nginx_sys::{ngx_list_part_t, ngx_list_t};

/// Iterator over the elements of an `ngx_list_t` of `T`.
pub struct Elements<'a, T> {
    part: *const ngx_list_part_t,
    index: usize,
    _list: PhantomData<&'a T>,
}

impl<T> Clone for Elements<'_, T> {
    fn clone(&self) -> Self {
        Elements { part: self.part, index: self.index, _list: PhantomData }
    }
}

/// The elements of `list`.
///
/// # Safety
/// The list's elements are `T`, and they stay valid while `'a` lasts.
pub unsafe fn elements<T>(list: &ngx_list_t) -> Elements<'_, T> {
    Elements { part: &list.part, index: 0, _list: PhantomData }
}

impl<'a, T> Iterator for Elements<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        loop {
            // SAFETY: the parts of the list stay valid for 'a (the contract of `elements`).
            let part = unsafe { self.part.as_ref()? };
            if self.index < part.nelts {
                self.index += 1;
                // SAFETY: index - 1 < nelts, and the elements are T.
                return Some(unsafe { &*part.elts.cast::<T>().add(self.index - 1) });
            }
            self.part = part.next;
            self.index = 0;
        }
    }
}
