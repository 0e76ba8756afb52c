//! A global allocator that counts the bytes allocated and not yet freed, for benchmarks that
//! report heap per item beside RSS. A program opts in with
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOCATOR: testkit::alloc::CountingAllocator = testkit::alloc::CountingAllocator::new();
//! ```
//!
//! and reads [`CountingAllocator::live`]. The count lives in that static of the program (a
//! global allocator is a static by nature); nothing here is global.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Forwards to the system allocator and keeps the bytes allocated and not yet freed.
#[derive(Debug, Default)]
pub struct CountingAllocator {
    live: AtomicUsize,
}

impl CountingAllocator {
    pub const fn new() -> Self {
        Self {
            live: AtomicUsize::new(0),
        }
    }

    /// Bytes allocated through this allocator and not yet freed.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }
}

// SAFETY: forwards every call to the system allocator with the same arguments; the counter
// has no effect on the memory handed out.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.live.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which is System's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.live.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.live.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from this allocator, so from System, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        self.live.fetch_add(new_size, Ordering::Relaxed);
        self.live.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: as for `dealloc`, and `new_size` is the caller's to uphold.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
