//! `keys` on a store of many keys, against konserve-s3's (Clojure) pattern:
//! list the whole bucket, then one full GET per key, one after another.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt};
use konserve_s3::blocking::{S3Client, S3Store};
use konserve_s3::internals::codec::blob::Encoding;
use konserve_s3::internals::layout;
use konserve_s3::nonblocking::S3Store as AsyncS3Store;
use konserve_s3::value::{Set, Value};
use object_store::aws::AmazonS3;
use object_store::{GetOptions, GetRange, ObjectStore};

use crate::floor::Floor;
use crate::measure::{Res, run_threads};
use crate::ops::META_PREFIX;
use crate::sys::cpu_time;

/// How many metadata reads the store keeps in flight (the default of
/// `StoreOptions::keys_parallelism`); the floor and object_store use the same.
pub const IN_FLIGHT: usize = 16;

/// Who lists the keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lister {
    /// `keys` on a fresh store handle: nothing cached, a metadata read per key.
    Store,
    StoreAsync,
    /// `keys` again on a handle that listed the unchanged store before:
    /// the metadata comes from its cache, only the LISTs are sent.
    StoreRepeat,
    StoreAsyncRepeat,
    Floor,
    /// The floor with 64 in flight: does more parallelism help here?
    Floor64,
    ObjectStore,
    /// The Clojure konserve-s3 pattern, with this crate's `S3Client`.
    Sequential,
}

impl Lister {
    pub const ALL: [Lister; 8] = [
        Lister::Store,
        Lister::StoreAsync,
        Lister::StoreRepeat,
        Lister::StoreAsyncRepeat,
        Lister::Floor,
        Lister::Floor64,
        Lister::ObjectStore,
        Lister::Sequential,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Lister::Store => "konserve-s3 blocking `keys`, first (fresh handle)",
            Lister::StoreAsync => "konserve-s3 async `keys`, first (fresh handle)",
            Lister::StoreRepeat => "konserve-s3 blocking `keys`, repeated (unchanged store)",
            Lister::StoreAsyncRepeat => "konserve-s3 async `keys`, repeated (unchanged store)",
            Lister::Floor => "floor ureq: LIST + ranged GETs, 16 threads",
            Lister::Floor64 => "floor ureq: LIST + ranged GETs, 64 threads",
            Lister::ObjectStore => "object_store: list + ranged GETs, 16 in flight",
            Lister::Sequential => {
                "konserve-s3 (Clojure) pattern: LIST bucket + full GET per key, sequential"
            }
        }
    }
}

/// Wall and CPU time of the runs of one lister.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timing {
    pub runs: u32,
    pub wall: Duration,
    pub cpu: Duration,
}

impl Timing {
    pub fn secs(&self) -> f64 {
        self.wall.as_secs_f64() / f64::from(self.runs.max(1))
    }
    pub fn cpu_secs(&self) -> f64 {
        self.cpu.as_secs_f64() / f64::from(self.runs.max(1))
    }
}

/// What the `keys` benchmark needs.
pub struct KeysCtx<'a> {
    pub rt: &'a tokio::runtime::Runtime,
    pub client: S3Client,
    pub store: S3Store,
    pub store_async: AsyncS3Store,
    pub floor: Arc<Floor>,
    pub object_store: Arc<AmazonS3>,
    pub prefix: String,
}

/// Writes `n` keys into the store `store_id`: the blobs the store writes
/// for `assoc`, encoded here and sent as bare presigned PUTs from 64
/// threads (about twice as fast as `assoc`, which matters at 100 000 keys).
pub fn populate(floor: &Floor, store_id: uuid::Uuid, n: usize) -> Res<()> {
    use konserve_s3::internals::meta::{BlobType, fresh};
    let encoding = Encoding::default();
    let workers = 64.min(n.max(1));
    let per = n.div_ceil(workers);
    run_threads(workers, per, |w, i| {
        let idx = w * per + i;
        if idx < n {
            let key = Value::from(format!("key-{idx}"));
            let value = Value::from(format!(
                "value of key number {idx:>8}, about a hundred bytes long: {}",
                "x".repeat(30)
            ));
            let blob = encoding.encode_edn_blob(&fresh(&key, BlobType::Edn, None), &value)?;
            let object = layout::object_key(store_id, &layout::blob_name(&key));
            floor.put(&object, &blob)?;
        }
        Ok(())
    })?;
    Ok(())
}

/// A new handle on the context's store: same backing and options, an
/// empty metadata cache, as a process that just connected has.
pub fn fresh_handle(store: &S3Store) -> S3Store {
    S3Store::with_options(store.backing().clone(), store.options().clone())
}

fn fresh_async_handle(store: &AsyncS3Store) -> AsyncS3Store {
    AsyncS3Store::with_options(store.backing().clone(), store.options().clone())
}

/// One listing by `who`; returns the number of keys found.
pub fn run(ctx: &KeysCtx<'_>, who: Lister, timing: &mut Timing) -> Res<usize> {
    // Untimed set-up: a cold handle for a first listing, a warm cache for
    // a repeated one.
    let cold = fresh_handle(&ctx.store);
    let cold_async = fresh_async_handle(&ctx.store_async);
    match who {
        Lister::StoreRepeat => {
            ctx.store.keys()?;
        }
        Lister::StoreAsyncRepeat => {
            ctx.rt.block_on(ctx.store_async.keys())?;
        }
        _ => {}
    }
    let cpu0 = cpu_time();
    let t0 = Instant::now();
    let found = match who {
        Lister::Store => cold.keys()?.len(),
        Lister::StoreAsync => ctx.rt.block_on(cold_async.keys())?.len(),
        Lister::StoreRepeat => ctx.store.keys()?.len(),
        Lister::StoreAsyncRepeat => ctx.rt.block_on(ctx.store_async.keys())?.len(),
        Lister::Floor => floor_keys(ctx, IN_FLIGHT)?,
        Lister::Floor64 => floor_keys(ctx, 64)?,
        Lister::ObjectStore => ctx.rt.block_on(object_store_keys(ctx))?,
        Lister::Sequential => sequential_keys(ctx)?.len(),
    };
    timing.wall += t0.elapsed();
    timing.cpu += cpu_time().saturating_sub(cpu0);
    timing.runs += 1;
    Ok(found)
}

fn is_value_blob(object: &str, prefix: &str) -> bool {
    object
        .strip_prefix(prefix)
        .is_some_and(|n| layout::blob_kind(n) == Some(layout::BlobKind::Value))
}

/// The same requests as `keys`, bare: LIST under the store's prefix, then a
/// ranged GET of each blob's first 4 KiB, `threads` threads.
fn floor_keys(ctx: &KeysCtx<'_>, threads: usize) -> Res<usize> {
    let names: Vec<String> = ctx
        .floor
        .list(&ctx.prefix)?
        .into_iter()
        .filter(|k| is_value_blob(k, &ctx.prefix))
        .collect();
    let encoding = Encoding::default();
    let per = names.len().div_ceil(threads);
    let found = std::sync::atomic::AtomicUsize::new(0);
    run_threads(threads, per, |w, i| {
        if let Some(name) = names.get(w * per + i) {
            let bytes = ctx.floor.get_prefix(name, META_PREFIX)?;
            encoding.decode_meta(&bytes)?;
            found.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    })?;
    Ok(found.into_inner())
}

/// object_store: list, then ranged GETs of the first 4 KiB, 16 in flight.
async fn object_store_keys(ctx: &KeysCtx<'_>) -> Res<usize> {
    let os = ctx.object_store.clone();
    let prefix = ctx.prefix.clone();
    let listed: Vec<_> = os.list(None).try_collect().await?;
    let names: Vec<_> = listed
        .into_iter()
        .filter(|m| is_value_blob(m.location.as_ref(), &prefix))
        .map(|m| m.location)
        .collect();
    let encoding = Encoding::default();
    let metas: Vec<Res<Value>> = futures_util::stream::iter(names)
        .map(|path| {
            let os = os.clone();
            let encoding = &encoding;
            async move {
                let options = GetOptions {
                    range: Some(GetRange::Bounded(0..META_PREFIX)),
                    ..GetOptions::default()
                };
                let bytes = os.get_opts(&path, options).await?.bytes().await?;
                Ok(encoding.decode_meta(&bytes)?.1)
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    let mut n = 0;
    for m in metas {
        m?;
        n += 1;
    }
    Ok(n)
}

/// konserve-s3 (Clojure)'s `keys`: list the whole bucket, then read every
/// blob whole, one after another, and decode its metadata.
fn sequential_keys(ctx: &KeysCtx<'_>) -> Res<Set> {
    let encoding = Encoding::default();
    let mut out = Set::new();
    for object in ctx.client.list_objects(None)? {
        if !is_value_blob(&object.key, &ctx.prefix) {
            continue;
        }
        let got = ctx.client.get_object(&object.key, None)?;
        out.insert(encoding.decode_meta(&got.body)?.1);
    }
    Ok(out)
}

/// Requests of one `keys`: (LISTs, GETs, all).
pub type RequestCount = (u64, u64, u64);

/// The requests of a first `keys` on a fresh handle and of a repeated one
/// on the same handle, the store unchanged in between.
pub fn count_requests(ctx: &KeysCtx<'_>) -> Res<(RequestCount, RequestCount)> {
    use konserve_s3::s3::Action;
    let store = fresh_handle(&ctx.store);
    let client = store.backing().client();
    let mut counts = Vec::new();
    for _ in 0..2 {
        let before = client.stats();
        store.keys()?;
        let used = client.stats().since(&before);
        counts.push((
            used.requests(Action::ListObjectsV2),
            used.requests(Action::GetObject),
            used.total_requests(),
        ));
    }
    Ok((counts[0], counts[1]))
}
