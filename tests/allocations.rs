//! What an operation copies. Write hooks' events are built only when a
//! hook is registered, so an `update_in` without hooks copies no value for
//! them; and on S3 a value is copied no more than its encoding or decoding
//! needs: a body is read into one buffer sized by its `Content-Length`, a
//! blob is serialized into one buffer, a binary value goes out behind its
//! header as a chained body and comes back in the buffer it was read into.
//! Counted with a global allocator that counts the bytes each thread
//! allocates while counting is on (the blocking store works on the calling
//! thread).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use std::io::Read;

use common::{bucket_name, config_for, server};
use konserve_s3::blocking::{MemoryBacking, Store, create_store};
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

/// Bytes allocated per operation on S3, as a multiple of the value's size,
/// for a 4 MiB value (so that per-request bookkeeping, a few KiB, does not
/// count).
#[test]
fn s3_operations_copy_a_large_value_only_where_encoding_needs_to() {
    let mut config = config_for(&bucket_name("copies"), &server().endpoint);
    config.id = Some(konserve_s3::Uuid::new_v4());
    assert!(
        konserve_s3::S3Client::new(&config)
            .unwrap()
            .create_bucket()
            .unwrap()
    );
    let store = create_store(&config).unwrap();
    let size = 4 << 20;
    let data: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
    let value = Value::Bytes(data.clone());
    store.assoc("k", value.clone()).unwrap();
    store.bassoc("b", data.clone()).unwrap();
    let times = |bytes: u64| bytes as f64 / size as f64;

    let given = value.clone();
    let (assoc, _) = allocated_by(|| store.assoc("k", given).unwrap());
    let (get, got) = allocated_by(|| store.get("k").unwrap());
    assert_eq!(got.as_ref(), Some(&value));
    let given = data.clone();
    let (bassoc, _) = allocated_by(|| store.bassoc("b", given).unwrap());
    let (binary_get, got) = allocated_by(|| store.get("b").unwrap());
    assert_eq!(got.as_ref(), Some(&value));
    let (bget, read) = allocated_by(|| {
        let mut chunk = [0u8; 64 << 10];
        let mut found = store.bget("b").unwrap().unwrap();
        let mut n = 0;
        loop {
            match found.reader.read(&mut chunk).unwrap() {
                0 => return n,
                k => n += k,
            }
        }
    });
    assert_eq!(read, size);
    let (update, _) = allocated_by(|| {
        store
            .update_in(&[Value::from("k")], |v| v.unwrap_or(Value::Nil))
            .unwrap()
    });
    eprintln!(
        "4 MiB value, bytes allocated ÷ value size: assoc {:.2}, get {:.2}, bassoc {:.2}, \
         get of a binary value {:.2}, bget {:.2}, update_in {:.2}",
        times(assoc),
        times(get),
        times(bassoc),
        times(binary_get),
        times(bget),
        times(update)
    );
    // The blob it is serialized into.
    assert!(times(assoc) < 1.1, "assoc: {}", times(assoc));
    // The body read, and the value decoded out of it.
    assert!(times(get) < 2.1, "get: {}", times(get));
    // Header and metadata only: the value goes out behind them.
    assert!(times(bassoc) < 0.05, "bassoc: {}", times(bassoc));
    // The body read, which becomes the value.
    assert!(times(binary_get) < 1.1, "binary get: {}", times(binary_get));
    // Streamed through a small buffer.
    assert!(times(bget) < 0.1, "bget: {}", times(bget));
    // A get, the update's value returned, an assoc.
    assert!(times(update) < 4.1, "update_in: {}", times(update));
}
