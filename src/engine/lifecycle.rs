//! Store lifecycle on S3: create, connect, exists, delete, release, list,
//! delete the bucket. Many stores share a bucket; each is known by its marker
//! `<id>_.konserve-metadata`.

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use uuid::Uuid;

use super::client::S3Client;
use super::s3_backing::S3Backing;
use super::store::Store;
use super::{io, mode};
use crate::Conditions;
use crate::action::Action;
use crate::config::{ConditionalWrites, S3Config};
use crate::error::{Error, ErrorContext, Result};
use crate::layout::{self, BlobKind};
use crate::s3::S3Request;

/// A konserve store in S3.
pub type S3Store = Store<S3Backing>;

fn client_and_id(config: &S3Config) -> Result<(S3Client, Uuid)> {
    let id = config.store_id()?;
    Ok((S3Client::new(config)?, id))
}

fn store_of(config: &S3Config, client: S3Client, id: Uuid) -> S3Store {
    Store::with_options(S3Backing::new(client, id), config.store.clone())
}

/// With optimistic locking on and `conditional-writes` `auto`: the
/// provider's capabilities (probed once per endpoint, see
/// [`S3Client::capabilities`]) must make locking safe, or the store is
/// refused with [`Error::Unsupported`] saying why, so locking never runs
/// on a provider that would silently lose updates.
#[io(AFIT)]
async fn check_conditional_writes(config: &S3Config, client: &S3Client) -> Result<()> {
    if !config.store.locking() || config.store.conditional_writes != ConditionalWrites::Auto {
        return Ok(());
    }
    let caps = client.capabilities().await?;
    caps.locking_verdict().map_err(|reason| Error::Unsupported {
        operation: "optimistic locking",
        reason: format!(
            "{reason}. Turn optimistic locking off (optimistic-locking-retries 0) for \
                 last-writer-wins, or use a provider that checks conditional writes \
                 (docs/providers.md)"
        )
        .into(),
    })
}

/// Creates the store of `config` (its bucket too, when missing) and
/// writes its marker.
///
#[doc = mode::doc_example!("create_store")]
///
/// # Errors
/// [`Error::StoreAlreadyExists`] when the marker is there already;
/// [`Error::InvalidConfig`] without an `id`; S3 failures.
#[io(AFIT)]
pub async fn create_store(config: &S3Config) -> Result<S3Store> {
    let (client, id) = client_and_id(config)?;
    let marker = layout::marker_key(id);
    if client.object_exists(&marker).await? {
        return Err(Error::StoreAlreadyExists {
            bucket: client.bucket().to_owned(),
            id,
        });
    }
    if !client.bucket_exists().await? {
        client.create_bucket().await?;
    }
    check_conditional_writes(config, &client).await?;
    let create_only = if config.store.conditional_writes == ConditionalWrites::Off {
        Conditions::NONE
    } else {
        Conditions::if_absent()
    };
    // The marker is tagged, and its write repeated on a transient failure
    // (a 500, a reset): a repeat refused with 412 is checked against the
    // tag, so a first attempt that landed is not mistaken for another
    // creator's store.
    let tag = Uuid::new_v4().simple().to_string();
    let req = S3Request::put_object(&marker, Bytes::from_static(layout::MARKER_BODY))?
        .with_conditions(create_only)
        .with_write_tag(tag.clone())
        .repeatable();
    client.learn_capabilities().await;
    let req = client.with_body_checksum(req);
    match client.execute(&req).await {
        Ok(_) => {}
        Err(Error::PreconditionFailed(c)) => {
            let ours = c.attempts > 1
                && client.head_object(&marker).await?.write_tag.as_deref() == Some(tag.as_str());
            if !ours {
                return Err(Error::StoreAlreadyExists {
                    bucket: client.bucket().to_owned(),
                    id,
                });
            }
        }
        Err(e) => return Err(e),
    }
    Ok(store_of(config, client, id))
}

/// Connects to the existing store of `config`: one HEAD of its marker
/// (plus the conditional-write probe when optimistic locking is on and
/// `conditional-writes` is `auto`).
///
/// # Errors
/// [`Error::StoreNotFound`] when it does not exist;
/// [`Error::NoSuchBucket`] when its bucket does not exist;
/// [`Error::Unsupported`] when locking is on and the provider fails the
/// probe; S3 failures.
#[io(AFIT)]
pub async fn connect_store(config: &S3Config) -> Result<S3Store> {
    let (client, id) = client_and_id(config)?;
    match client.object_exists(&layout::marker_key(id)).await {
        Ok(true) => {
            check_conditional_writes(config, &client).await?;
            Ok(store_of(config, client, id))
        }
        // A HEAD of an object in a missing bucket is a bare 404 on most
        // providers: ask the bucket (one more request, on this path only),
        // so that a wrong bucket name is not reported as a missing store.
        Ok(false) => match client.bucket_exists().await {
            Ok(false) => Err(Error::no_such_bucket(ErrorContext {
                status: Some(404),
                ..ErrorContext::new(Action::HeadBucket, client.bucket(), None)
            })),
            Ok(true) | Err(_) => Err(Error::StoreNotFound {
                bucket: client.bucket().to_owned(),
                id,
            }),
        },
        Err(e) => Err(e),
    }
}

/// Whether the store of `config` exists (one HEAD of its marker).
///
/// # Errors
/// S3 failures (a missing bucket is `false`).
#[io(AFIT)]
pub async fn store_exists(config: &S3Config) -> Result<bool> {
    let (client, id) = client_and_id(config)?;
    match client.object_exists(&layout::marker_key(id)).await {
        Err(Error::NoSuchBucket(_)) => Ok(false),
        other => other,
    }
}

/// Deletes every object of the store of `config` — its `.ksv`,
/// `.ksv.new` and `.ksv.backup` blobs and its marker — and nothing else,
/// in `DeleteObjects` batches of 1000, after aborting the store's
/// incomplete multipart uploads (which hold storage but are no objects).
/// The bucket stays.
///
/// # Errors
/// S3 failures (a missing bucket or store is not an error, nor a
/// provider without `ListMultipartUploads`).
#[io(AFIT)]
pub async fn delete_store(config: &S3Config) -> Result<()> {
    let (client, id) = client_and_id(config)?;
    let prefix = layout::store_prefix(id);
    let listed = match client.list_objects(Some(&prefix)).await {
        Ok(l) => l,
        Err(Error::NoSuchBucket(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut doomed: Vec<String> = Vec::new();
    let mut marker: Option<String> = None;
    for o in listed {
        match o.key.strip_prefix(&prefix).and_then(layout::blob_kind) {
            Some(BlobKind::Marker) => marker = Some(o.key),
            Some(_) => doomed.push(o.key),
            None => {}
        }
    }
    match S3Backing::new(client.clone(), id)
        .cleanup_incomplete_uploads(Duration::ZERO)
        .await
    {
        Ok(_) | Err(Error::NotImplemented(_)) => {}
        Err(e) => return Err(e),
    }
    // The marker goes last: a store whose deletion failed half-way is
    // still listed, so the deletion can be repeated.
    client.delete_objects(&doomed).await?;
    if let Some(m) = marker {
        client.delete_object(&m, &Conditions::NONE).await?;
    }
    Ok(())
}

/// Aborts the incomplete multipart uploads of the store of `config` that
/// were started more than `older_than` ago (all of them for
/// [`Duration::ZERO`]): the parts of large binary values whose write
/// crashed, was cancelled, or lost the answer to its
/// `CreateMultipartUpload`. Returns how many it aborted. See
/// [`S3Backing::cleanup_incomplete_uploads`]; a bucket lifecycle rule
/// `AbortIncompleteMultipartUpload` is the provider-side safety net
/// (docs/consistency.md).
///
#[doc = mode::doc_example!("cleanup_incomplete_uploads")]
///
/// # Errors
/// [`Error::InvalidConfig`] without an `id`; S3 failures (a missing
/// bucket has no uploads).
#[io(AFIT)]
pub async fn cleanup_incomplete_uploads(config: &S3Config, older_than: Duration) -> Result<usize> {
    let (client, id) = client_and_id(config)?;
    match S3Backing::new(client, id)
        .cleanup_incomplete_uploads(older_than)
        .await
    {
        Err(Error::NoSuchBucket(_)) => Ok(0),
        other => other,
    }
}

/// The ids of every store in the bucket of `config` (from their
/// markers; objects with other prefixes are ignored). A missing bucket
/// has no stores.
///
/// # Errors
/// S3 failures.
#[io(AFIT)]
pub async fn list_stores(config: &S3Config) -> Result<BTreeSet<Uuid>> {
    let client = S3Client::new(config)?;
    match client.list_objects(None).await {
        Ok(listed) => Ok(listed
            .iter()
            .filter_map(|o| layout::marker_store_id(&o.key))
            .collect()),
        Err(Error::NoSuchBucket(_)) => Ok(BTreeSet::new()),
        Err(e) => Err(e),
    }
}

/// Deletes the (empty) bucket of `config`.
///
/// # Errors
/// S3 failures, e.g. `BucketNotEmpty`.
#[io(AFIT)]
pub async fn delete_bucket(config: &S3Config) -> Result<()> {
    S3Client::new(config)?.delete_bucket().await
}

/// Releases a store: konserve's `release-store`. Connections are pooled per
/// client and closed when the last clone of the store is dropped, so this
/// only drops the handle.
pub fn release_store<B>(store: Store<B>) {
    drop(store);
}

/// Connects to the store of `config`, creating it (and its bucket) the
/// first time: the `if store_exists … else create_store` dance in one call.
/// When another process creates the store between the two steps, this
/// connects to theirs.
///
#[doc = mode::doc_example!("connect_or_create")]
///
/// # Errors
/// As [`connect_store`] and [`create_store`].
#[io(AFIT)]
pub async fn connect_or_create(config: &S3Config) -> Result<S3Store> {
    match connect_store(config).await {
        Err(Error::StoreNotFound { .. } | Error::NoSuchBucket(_)) => {
            match create_store(config).await {
                Err(Error::StoreAlreadyExists { .. }) => connect_store(config).await,
                other => other,
            }
        }
        other => other,
    }
}
