//! The operation matrix: each store operation, and the same HTTP requests
//! done by the floor and by object_store, at a value size and concurrency.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use konserve_s3::blocking::S3Store;
use konserve_s3::internals::layout;
use konserve_s3::nonblocking::S3Store as AsyncS3Store;
use konserve_s3::value::Value;
use object_store::aws::AmazonS3;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload};
use uuid::Uuid;

use crate::floor::{Floor, FloorAsync, drain, drain_async};
use crate::measure::{Res, Sample, run_tasks, run_threads};

/// How many bytes the store's metadata read (in `bassoc`) asks for.
pub const META_PREFIX: u64 = 4096;

/// A store operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    Get,
    Assoc,
    UpdateIn,
    Exists,
    Dissoc,
    Bassoc,
    Bget,
}

impl Op {
    pub const ALL: [Op; 7] = [
        Op::Get,
        Op::Assoc,
        Op::UpdateIn,
        Op::Exists,
        Op::Dissoc,
        Op::Bassoc,
        Op::Bget,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::Assoc => "assoc",
            Op::UpdateIn => "update_in",
            Op::Exists => "exists",
            Op::Dissoc => "dissoc",
            Op::Bassoc => "bassoc",
            Op::Bget => "bget",
        }
    }

    /// The HTTP requests of one operation (the same for every client).
    pub fn requests(self) -> &'static str {
        match self {
            Op::Get => "GET",
            Op::Assoc => "PUT",
            Op::UpdateIn => "GET + PUT",
            Op::Exists => "HEAD",
            Op::Dissoc => "HEAD + DELETE",
            Op::Bassoc => "ranged GET + PUT",
            Op::Bget => "GET (streamed)",
        }
    }

    /// Whether the value size matters (`exists` and `dissoc` move no value,
    /// so they run at the smallest size only).
    pub fn sized(self) -> bool {
        !matches!(self, Op::Exists | Op::Dissoc)
    }

    fn tag(self) -> &'static str {
        match self {
            Op::Get | Op::Exists => "e",
            Op::Assoc => "a",
            Op::UpdateIn => "u",
            Op::Dissoc => "d",
            Op::Bassoc => "ba",
            Op::Bget => "b",
        }
    }
}

/// Who sends the requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Client {
    /// `konserve_s3::blocking` Store (threads, ureq).
    Store,
    /// Bare presigned requests, ureq (threads).
    Floor,
    /// `konserve_s3::nonblocking` Store (tasks, reqwest).
    StoreAsync,
    /// Bare presigned requests, reqwest (tasks).
    FloorAsync,
    /// object_store 0.14 `AmazonS3` (tasks).
    ObjectStore,
    /// aws-sdk-s3 1.x `Client` (tasks).
    AwsSdk,
}

impl Client {
    pub const ALL: [Client; 6] = [
        Client::Store,
        Client::Floor,
        Client::StoreAsync,
        Client::FloorAsync,
        Client::ObjectStore,
        Client::AwsSdk,
    ];

    /// Short name for `--clients`.
    pub fn id(self) -> &'static str {
        match self {
            Client::Store => "store",
            Client::Floor => "floor",
            Client::StoreAsync => "store-async",
            Client::FloorAsync => "floor-async",
            Client::ObjectStore => "object_store",
            Client::AwsSdk => "aws-sdk-s3",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Client::Store => "konserve-s3 blocking",
            Client::Floor => "floor ureq",
            Client::StoreAsync => "konserve-s3 async",
            Client::FloorAsync => "floor reqwest",
            Client::ObjectStore => "object_store",
            Client::AwsSdk => "aws-sdk-s3",
        }
    }
}

/// A value size's data: the value, and the exact blobs the store writes
/// for it (the floor and object_store send these same bytes).
pub struct Payload {
    pub size: usize,
    /// The EDN value (bytes) for `get`/`assoc`/`update_in`.
    pub value: Value,
    /// The blob the store writes for `value`.
    pub edn_blob: Bytes,
    /// The raw bytes for `bassoc`.
    pub bin_data: Bytes,
    /// The blob the store writes for `bin_data`.
    pub bin_blob: Bytes,
}

/// Everything the clients need.
pub struct Ctx {
    pub rt: tokio::runtime::Runtime,
    pub store_id: Uuid,
    pub store: S3Store,
    pub store_async: AsyncS3Store,
    pub floor: Arc<Floor>,
    pub floor_async: Arc<FloorAsync>,
    /// Writes the blobs a cell starts from; never measured.
    pub setup: Floor,
    pub object_store: Arc<AmazonS3>,
    pub aws: aws_sdk_s3::Client,
    pub bucket: String,
}

/// One key: as the store names it, and as the object the store writes.
#[derive(Clone)]
pub struct Key {
    pub value: Value,
    pub object: String,
    pub path: Path,
}

impl Key {
    pub fn new(store_id: Uuid, name: String) -> Key {
        let value = Value::from(name);
        let object = layout::object_key(store_id, &layout::blob_name(&value));
        let path = Path::from(object.as_str());
        Key {
            value,
            object,
            path,
        }
    }
}

/// The keys of one run: `keys[worker][i]` (one key per worker, reused, for
/// every operation but `dissoc`, which needs a fresh existing key each time).
pub type Keys = Arc<Vec<Vec<Key>>>;

fn key_of(keys: &[Vec<Key>], w: usize, i: usize) -> &Key {
    let mine = &keys[w];
    &mine[i % mine.len()]
}

/// The keys a cell works on.
pub fn cell_keys(
    ctx: &Ctx,
    op: Op,
    size: usize,
    workers: usize,
    per_worker: usize,
    run: usize,
) -> Keys {
    Arc::new(
        (0..workers)
            .map(|w| {
                if op == Op::Dissoc {
                    (0..per_worker)
                        .map(|i| Key::new(ctx.store_id, format!("d-{run}-{w}-{i}")))
                        .collect()
                } else {
                    vec![Key::new(ctx.store_id, format!("{}-{size}-{w}", op.tag()))]
                }
            })
            .collect(),
    )
}

/// Writes what a cell reads before it runs (untimed): the values read by
/// `get`/`exists`/`update_in`, the binary values read by `bget` and
/// overwritten by `bassoc`, the keys `dissoc` deletes.
pub fn prepare(ctx: &Ctx, op: Op, keys: &Keys, p: &Payload) -> Res<()> {
    let all: Vec<&Key> = keys.iter().flatten().collect();
    let parallel = 32.min(all.len().max(1));
    let per = all.len().div_ceil(parallel);
    let chunks: Vec<&[&Key]> = all.chunks(per.max(1)).collect();
    // The blobs the store writes, put with a client of its own: setting up
    // with 32 threads through a measured client would leave that client
    // alone with 32 pooled connections, which ureq's pool scans on every
    // request.
    run_threads(chunks.len(), 1, |w, _| {
        for key in chunks[w] {
            let blob = match op {
                Op::Bget | Op::Bassoc => &p.bin_blob,
                _ => &p.edn_blob,
            };
            ctx.setup.put(&key.object, blob)?;
        }
        Ok(())
    })?;
    Ok(())
}

/// Runs `per_worker` operations `op` on each of `workers` workers of
/// `client`.
pub fn run_cell(
    ctx: &Ctx,
    client: Client,
    op: Op,
    p: &Arc<Payload>,
    keys: &Keys,
    workers: usize,
    per_worker: usize,
) -> Res<Sample> {
    let retries = |stats: konserve_s3::s3::StatsSnapshot| {
        stats.per_action.values().map(|a| a.retries).sum::<u64>()
    };
    match client {
        Client::Store => {
            let before = ctx.store.backing().client().stats();
            let mut s = run_threads(workers, per_worker, |w, i| {
                store_op(&ctx.store, op, key_of(keys, w, i), p)
            })?;
            s.retries = retries(ctx.store.backing().client().stats().since(&before));
            Ok(s)
        }
        Client::Floor => run_threads(workers, per_worker, |w, i| {
            floor_op(&ctx.floor, op, key_of(keys, w, i), p)
        }),
        Client::StoreAsync => {
            let before = ctx.store_async.backing().client().stats();
            let (store, keys, p) = (ctx.store_async.clone(), keys.clone(), p.clone());
            let mut s = ctx
                .rt
                .block_on(run_tasks(workers, per_worker, move |w, i| {
                    let (store, keys, p) = (store.clone(), keys.clone(), p.clone());
                    async move { store_async_op(&store, op, key_of(&keys, w, i), &p).await }
                }))?;
            s.retries = retries(ctx.store_async.backing().client().stats().since(&before));
            Ok(s)
        }
        Client::FloorAsync => {
            let (floor, keys, p) = (ctx.floor_async.clone(), keys.clone(), p.clone());
            ctx.rt.block_on(run_tasks(workers, per_worker, move |w, i| {
                let (floor, keys, p) = (floor.clone(), keys.clone(), p.clone());
                async move { floor_async_op(&floor, op, key_of(&keys, w, i), &p).await }
            }))
        }
        Client::ObjectStore => {
            let (os, keys, p) = (ctx.object_store.clone(), keys.clone(), p.clone());
            ctx.rt.block_on(run_tasks(workers, per_worker, move |w, i| {
                let (os, keys, p) = (os.clone(), keys.clone(), p.clone());
                async move { object_store_op(&os, op, key_of(&keys, w, i), &p).await }
            }))
        }
        Client::AwsSdk => {
            let (aws, keys, p) = (ctx.aws.clone(), keys.clone(), p.clone());
            let bucket: Arc<str> = ctx.bucket.as_str().into();
            ctx.rt.block_on(run_tasks(workers, per_worker, move |w, i| {
                let (aws, keys, p, b) = (aws.clone(), keys.clone(), p.clone(), bucket.clone());
                async move { aws_op(&aws, &b, op, key_of(&keys, w, i), &p).await }
            }))
        }
    }
}

fn check(ok: bool, what: &str) -> Res<()> {
    if ok { Ok(()) } else { Err(what.into()) }
}

/// Whether `got` bytes is the size of `blob` (blobs of different keys differ
/// by a few bytes of metadata; a value read by the store lacks the header).
fn about(got: impl TryInto<u64>, blob: &Bytes) -> bool {
    let got = got.try_into().unwrap_or(0);
    got.abs_diff(blob.len() as u64) < 256
}

fn store_op(store: &S3Store, op: Op, key: &Key, p: &Payload) -> Res<()> {
    let k = key.value.clone();
    match op {
        Op::Get => check(store.get(k)?.is_some(), "get: missing")?,
        Op::Assoc => store.assoc(k, p.value.clone())?,
        Op::UpdateIn => {
            store.update_in(&[k], |_| p.value.clone())?;
        }
        Op::Exists => check(store.exists(k)?, "exists: missing")?,
        Op::Dissoc => check(store.dissoc(k)?, "dissoc: missing")?,
        Op::Bassoc => store.bassoc(k, p.bin_data.clone())?,
        Op::Bget => {
            let mut value = store.bget(k)?.ok_or("bget: missing")?;
            check(drain(&mut value.reader)? == value.size, "bget: short")?;
        }
    }
    Ok(())
}

async fn store_async_op(store: &AsyncS3Store, op: Op, key: &Key, p: &Payload) -> Res<()> {
    let k = key.value.clone();
    match op {
        Op::Get => check(store.get(k).await?.is_some(), "get: missing")?,
        Op::Assoc => store.assoc(k, p.value.clone()).await?,
        Op::UpdateIn => {
            store.update_in(&[k], |_| p.value.clone()).await?;
        }
        Op::Exists => check(store.exists(k).await?, "exists: missing")?,
        Op::Dissoc => check(store.dissoc(k).await?, "dissoc: missing")?,
        Op::Bassoc => store.bassoc(k, p.bin_data.clone()).await?,
        Op::Bget => {
            let mut value = store.bget(k).await?.ok_or("bget: missing")?;
            check(
                drain_async(&mut value.reader).await? == value.size,
                "bget: short",
            )?;
        }
    }
    Ok(())
}

fn floor_op(floor: &Floor, op: Op, key: &Key, p: &Payload) -> Res<()> {
    let k = key.object.as_str();
    match op {
        Op::Get => check(about(floor.get(k)?.len(), &p.edn_blob), "get: short")?,
        Op::Assoc => floor.put(k, &p.edn_blob)?,
        Op::UpdateIn => {
            floor.get(k)?;
            floor.put(k, &p.edn_blob)?;
        }
        Op::Exists => check(floor.head(k)?, "exists: missing")?,
        Op::Dissoc => {
            check(floor.head(k)?, "dissoc: missing")?;
            floor.delete(k)?;
        }
        Op::Bassoc => {
            floor.get_prefix(k, META_PREFIX)?;
            floor.put(k, &p.bin_blob)?;
        }
        Op::Bget => check(about(floor.get_to_sink(k)?, &p.bin_blob), "bget: short")?,
    }
    Ok(())
}

async fn floor_async_op(floor: &FloorAsync, op: Op, key: &Key, p: &Payload) -> Res<()> {
    let k = key.object.as_str();
    match op {
        Op::Get => check(about(floor.get(k).await?.len(), &p.edn_blob), "get: short")?,
        Op::Assoc => floor.put(k, p.edn_blob.clone()).await?,
        Op::UpdateIn => {
            floor.get(k).await?;
            floor.put(k, p.edn_blob.clone()).await?;
        }
        Op::Exists => check(floor.head(k).await?, "exists: missing")?,
        Op::Dissoc => {
            check(floor.head(k).await?, "dissoc: missing")?;
            floor.delete(k).await?;
        }
        Op::Bassoc => {
            floor.get_prefix(k, META_PREFIX).await?;
            floor.put(k, p.bin_blob.clone()).await?;
        }
        Op::Bget => check(
            about(floor.get_to_sink(k).await?, &p.bin_blob),
            "bget: short",
        )?,
    }
    Ok(())
}

async fn object_store_op(os: &AmazonS3, op: Op, key: &Key, p: &Payload) -> Res<()> {
    let path = &key.path;
    match op {
        Op::Get => check(
            about(os.get(path).await?.bytes().await?.len(), &p.edn_blob),
            "get: short",
        )?,
        Op::Assoc => {
            os.put(path, PutPayload::from(p.edn_blob.clone())).await?;
        }
        Op::UpdateIn => {
            os.get(path).await?.bytes().await?;
            os.put(path, PutPayload::from(p.edn_blob.clone())).await?;
        }
        Op::Exists => {
            os.head(path).await?;
        }
        Op::Dissoc => {
            os.head(path).await?;
            os.delete(path).await?;
        }
        Op::Bassoc => {
            // The same ranged GET as the store's metadata read.
            let options = GetOptions {
                range: Some(GetRange::Bounded(0..META_PREFIX)),
                ..GetOptions::default()
            };
            os.get_opts(path, options).await?.bytes().await?;
            os.put(path, PutPayload::from(p.bin_blob.clone())).await?;
        }
        Op::Bget => {
            let mut stream = os.get(path).await?.into_stream();
            let mut total = 0u64;
            while let Some(chunk) = stream.next().await {
                total += chunk?.len() as u64;
            }
            check(about(total, &p.bin_blob), "bget: short")?;
        }
    }
    Ok(())
}

async fn aws_op(aws: &aws_sdk_s3::Client, bucket: &str, op: Op, key: &Key, p: &Payload) -> Res<()> {
    use aws_sdk_s3::primitives::ByteStream;
    let k = key.object.as_str();
    let get = || aws.get_object().bucket(bucket).key(k);
    let put = |blob: &Bytes| {
        aws.put_object()
            .bucket(bucket)
            .key(k)
            .body(ByteStream::from(blob.clone()))
    };
    match op {
        Op::Get => check(
            about(
                get().send().await?.body.collect().await?.into_bytes().len(),
                &p.edn_blob,
            ),
            "get: short",
        )?,
        Op::Assoc => {
            put(&p.edn_blob).send().await?;
        }
        Op::UpdateIn => {
            get().send().await?.body.collect().await?;
            put(&p.edn_blob).send().await?;
        }
        Op::Exists => {
            aws.head_object().bucket(bucket).key(k).send().await?;
        }
        Op::Dissoc => {
            aws.head_object().bucket(bucket).key(k).send().await?;
            aws.delete_object().bucket(bucket).key(k).send().await?;
        }
        Op::Bassoc => {
            get()
                .range(format!("bytes=0-{}", META_PREFIX - 1))
                .send()
                .await?
                .body
                .collect()
                .await?;
            put(&p.bin_blob).send().await?;
        }
        Op::Bget => {
            let mut body = get().send().await?.body;
            let mut total = 0u64;
            while let Some(chunk) = body.try_next().await? {
                total += chunk.len() as u64;
            }
            check(about(total, &p.bin_blob), "bget: short")?;
        }
    }
    Ok(())
}
