//! What a write copies when nobody asks: write hooks' events are built only
//! when a hook is registered, so an `update_in` without hooks copies no
//! value for them. Counted with a global allocator that counts the bytes
//! each thread allocates while counting is on (the memory backing works on
//! the calling thread).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use konserve_s3::blocking::{MemoryBacking, Store};
use konserve_s3::value::Value;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATED: Cell<u64> = const { Cell::new(0) };
}

fn count(bytes: usize) {
    // `try_with`: no panic while the thread's locals are torn down.
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = ALLOCATED.try_with(|a| a.set(a.get() + bytes as u64));
        }
    });
}

// SAFETY: every call is passed on to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: as the caller promised for `layout`.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: as the caller promised for `ptr`, `layout`, `new_size`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Bytes this thread allocates in `f`.
fn allocated_by<T>(f: impl FnOnce() -> T) -> (u64, T) {
    ALLOCATED.with(|a| a.set(0));
    COUNTING.with(|c| c.set(true));
    let out = f();
    COUNTING.with(|c| c.set(false));
    (ALLOCATED.with(Cell::get), out)
}

/// A value whose copy allocates about a megabyte, in many pieces.
fn big_value() -> Value {
    Value::Vector(
        (0..10_000)
            .map(|i| Value::from(format!("{i:0>100}")))
            .collect(),
    )
}

/// Bytes allocated by `update` on `store` without a hook, then with one,
/// and by a copy of the stored value (`value`).
fn with_and_without_hook(
    store: &Store<MemoryBacking>,
    value: &Value,
    update: impl Fn(),
) -> (u64, u64, u64) {
    let (copy, _) = allocated_by(|| value.clone());
    assert!(copy > 1_000_000, "{copy}");
    update();
    let (without, _) = allocated_by(&update);
    store.add_write_hook("h", |_| {});
    let (with, _) = allocated_by(&update);
    (without, with, copy)
}

#[test]
fn update_in_copies_no_value_for_hooks_nobody_registered() {
    let store = Store::new(MemoryBacking::new());
    let value = big_value();
    store.assoc("k", value.clone()).unwrap();
    let (without, with, copy) = with_and_without_hook(&store, &value, || {
        store
            .update_in(&[Value::from("k")], |v| v.unwrap_or(Value::Nil))
            .unwrap();
    });
    // The event holds a copy of the old and of the new value.
    assert!(
        with >= without + copy * 18 / 10,
        "with a hook {with} bytes, without {without}, a copy {copy}"
    );
    eprintln!("update_in of a {copy}-byte value: {without} bytes allocated, {with} with a hook");
}

#[test]
fn update_as_copies_no_value_for_hooks_nobody_registered() {
    let store = Store::new(MemoryBacking::new());
    let strings: Vec<String> = (0..10_000).map(|i| format!("{i:0>100}")).collect();
    store.assoc_as("k", &strings).unwrap();
    let (without, with, copy) = with_and_without_hook(&store, &big_value(), || {
        store
            .update_as("k", |v: Option<Vec<String>>| v.unwrap_or_default())
            .unwrap();
    });
    // The event holds a copy of the old value (the new one is moved in).
    assert!(
        with >= without + copy * 9 / 10,
        "with a hook {with} bytes, without {without}, a copy {copy}"
    );
}
