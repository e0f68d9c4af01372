//! The bound on an engine thread's memory: every allocation its QuickJS
//! runtime makes goes through this allocator, which counts the bytes it
//! holds and refuses one that would pass the bound (`Sandbox::max_memory_mb`).
//! QuickJS turns a refusal into an exception in the code that asked; the
//! engine counts refusals, so a run that ends in one ends with
//! `Error::Limit` even when what it threw is not QuickJS's "out of memory"
//! (QuickJS throws `null` when it cannot allocate the error either). The
//! count is also what the host reads as the engine's memory: no walk of
//! the heap.

use std::cell::Cell;
use std::rc::Rc;

/// What the allocator and the engine share (one thread).
#[derive(Debug, Default)]
pub(super) struct Budget {
    /// Bytes held now (as `malloc_usable_size` counts them).
    pub(super) used: Cell<usize>,
    /// Allocations refused so far.
    pub(super) refusals: Cell<u64>,
}

/// libc's allocator, counted and bounded.
pub(super) struct Bounded {
    budget: Rc<Budget>,
    limit: usize,
}

impl Bounded {
    pub(super) fn new(budget: Rc<Budget>, limit: usize) -> Self {
        Bounded { budget, limit }
    }

    fn fits(&self, more: usize) -> bool {
        let fits = self.budget.used.get().saturating_add(more) <= self.limit;
        if !fits {
            self.budget.refusals.set(self.budget.refusals.get() + 1);
        }
        fits
    }

    fn add(&self, ptr: *mut u8) {
        if !ptr.is_null() {
            // SAFETY: `ptr` was just returned by libc's allocator.
            let size = unsafe { libc::malloc_usable_size(ptr.cast()) };
            self.budget.used.set(self.budget.used.get() + size);
        }
    }
}

// SAFETY: every pointer handed out comes from libc's malloc family and is
// released with it; `usable_size` is libc's for such pointers.
unsafe impl rquickjs::allocator::Allocator for Bounded {
    fn alloc(&mut self, size: usize) -> *mut u8 {
        if !self.fits(size) {
            return std::ptr::null_mut();
        }
        // SAFETY: plain malloc.
        let ptr = unsafe { libc::malloc(size.max(1)) }.cast::<u8>();
        self.add(ptr);
        ptr
    }

    fn calloc(&mut self, count: usize, size: usize) -> *mut u8 {
        if !self.fits(count.saturating_mul(size)) {
            return std::ptr::null_mut();
        }
        // SAFETY: plain calloc.
        let ptr = unsafe { libc::calloc(count.max(1), size.max(1)) }.cast::<u8>();
        self.add(ptr);
        ptr
    }

    unsafe fn dealloc(&mut self, ptr: *mut u8) {
        // SAFETY: `ptr` came from this allocator (the caller's contract).
        let size = unsafe { libc::malloc_usable_size(ptr.cast()) };
        self.budget
            .used
            .set(self.budget.used.get().saturating_sub(size));
        // SAFETY: as above.
        unsafe { libc::free(ptr.cast()) };
    }

    unsafe fn realloc(&mut self, ptr: *mut u8, new_size: usize) -> *mut u8 {
        if ptr.is_null() {
            return if new_size == 0 {
                std::ptr::null_mut()
            } else {
                self.alloc(new_size)
            };
        }
        if new_size == 0 {
            // SAFETY: the caller's contract.
            unsafe { self.dealloc(ptr) };
            return std::ptr::null_mut();
        }
        // SAFETY: `ptr` came from this allocator (the caller's contract).
        let old = unsafe { libc::malloc_usable_size(ptr.cast()) };
        if new_size > old && !self.fits(new_size - old) {
            return std::ptr::null_mut();
        }
        // SAFETY: as above; on failure the old block is left as it was.
        let moved = unsafe { libc::realloc(ptr.cast(), new_size) }.cast::<u8>();
        if !moved.is_null() {
            self.budget
                .used
                .set(self.budget.used.get().saturating_sub(old));
            self.add(moved);
        }
        moved
    }

    unsafe fn usable_size(ptr: *mut u8) -> usize {
        // SAFETY: the caller's contract.
        unsafe { libc::malloc_usable_size(ptr.cast()) }
    }
}
