//! [`FileBacking`]: a store's blobs as files in one directory, konserve's
//! filestore layout, so a directory written by Clojure's
//! `konserve.filestore` reads here and the other way round.
//!
//! - One flat folder of `<uuid>.ksv` blobs (the names the store passes).
//! - A write goes to `<name>.new`, which is fsynced, renamed over `<name>`,
//!   then the directory is fsynced: konserve's atomic-write protocol
//!   (`:in-place? false`, `:sync-blob? true`). Readers see the old or the new
//!   blob, never a mix.
//! - Leftover `.new` / `.backup` files (a crash in the middle of a write, or
//!   konserve's in-place mode) are listed like any file; the store's key
//!   listing skips them by suffix.
//! - Version tags (ETags) are the quoted hex MD5 of a file's bytes, as S3
//!   gives for a single PUT, so optimistic locking works as on S3.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{self, File, Metadata};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use bytes::Bytes;
use md5::{Digest as _, Md5};

use super::backing::{Backing, BlobStream, StoredBlob};
use crate::Conditions;
use crate::conditions::{md5_etag, md5_etag_of};
use crate::error::{Error, Result};

use super::io;
use super::mode::{self, BodySource, KeyLocks, fill, reader_of};

/// How much of a streamed value is read before it is written out (konserve's
/// filestore buffer size).
const CHUNK: usize = 1 << 20;

/// The most bytes reserved before a file is read (it may change size
/// meanwhile; reading grows the buffer as needed).
const MAX_PREALLOC: u64 = 64 << 20;

/// Suffix of the file a write goes to before it is renamed into place.
const STAGING: &str = ".new";

/// Blobs as files in a directory, konserve's filestore layout.
///
/// Clones share the same in-process state (per-blob write locks and a cache
/// of version tags).
///
#[doc = mode::doc_example!("file_backing")]
///
/// # Concurrency and durability
///
/// Every write is atomic (rename over the old file) and durable once it
/// returns (file and directory fsynced). Conditional writes and deletes
/// ([`Conditions`]) check and commit under a per-blob lock, so they are
/// atomic among the clones of one `FileBacking` in one process. Across
/// processes, or between backings created separately for the same
/// directory, a condition is checked and the file renamed in two steps: a
/// filesystem offers no compare-and-swap, so a concurrent writer can slip in
/// between.
///
/// In the async API all file I/O (including fsync) runs on the calling task's
/// thread, as blocking calls.
///
/// Reading the version tag of a blob hashes the whole file once; the tag is
/// then cached per file version (size, modification time and, on Unix,
/// device and inode), so listing keys does not re-read large binaries.
/// Conditions are always checked against a fresh hash.
#[derive(Clone)]
pub struct FileBacking {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    locks: KeyLocks,
    etags: Mutex<HashMap<String, (FileVersion, String)>>,
}

impl std::fmt::Debug for FileBacking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileBacking")
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}

/// What identifies one version of a file, for the version-tag cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileVersion {
    len: u64,
    modified: Option<SystemTime>,
    #[cfg(unix)]
    dev: u64,
    #[cfg(unix)]
    ino: u64,
}

impl FileVersion {
    fn of(meta: &Metadata) -> Self {
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt as _;
        FileVersion {
            len: meta.len(),
            modified: meta.modified().ok(),
            #[cfg(unix)]
            dev: meta.dev(),
            #[cfg(unix)]
            ino: meta.ino(),
        }
    }
}

impl FileBacking {
    /// The backing of the store in directory `dir`. Creates nothing: reading
    /// a missing directory finds no blobs, and writing into one fails with
    /// [`Error::Io`]; see [`FileBacking::create`].
    ///
    #[doc = mode::doc_example!("file_backing_new")]
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileBacking {
            inner: Arc::new(Inner {
                dir: dir.into(),
                locks: KeyLocks::default(),
                etags: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Like [`FileBacking::new`], creating `dir` (and its parents) if it is
    /// missing.
    ///
    #[doc = mode::doc_example!("file_backing_create")]
    ///
    /// # Errors
    /// [`Error::Io`] when the directory cannot be created.
    pub fn create(dir: impl Into<PathBuf>) -> Result<Self> {
        let backing = Self::new(dir);
        fs::create_dir_all(&backing.inner.dir)?;
        Ok(backing)
    }

    /// The store's directory.
    ///
    #[doc = mode::doc_example!("file_backing_dir")]
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The path of blob `name`, which must be a plain file name.
    fn path(&self, name: &str) -> Result<PathBuf> {
        let plain =
            !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0']);
        if !plain {
            return Err(Error::InvalidObjectKey {
                key: name.to_owned(),
                reason: "a file backing's blob name must be a plain file name",
            });
        }
        Ok(self.inner.dir.join(name))
    }

    fn etags(&self) -> MutexGuard<'_, HashMap<String, (FileVersion, String)>> {
        // Every mutation is a single insert or remove.
        self.inner
            .etags
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn remember(&self, name: &str, version: FileVersion, etag: &str) {
        self.etags()
            .insert(name.to_owned(), (version, etag.to_owned()));
    }

    fn forget(&self, name: &str) {
        self.etags().remove(name);
    }

    /// The version tag of the open file `file` (blob `name`): from the cache
    /// when it is the version cached, else by hashing it.
    fn etag_of(&self, name: &str, file: &mut File, meta: &Metadata) -> io::Result<String> {
        let version = FileVersion::of(meta);
        if let Some((cached, etag)) = self.etags().get(name)
            && *cached == version
        {
            return Ok(etag.clone());
        }
        let etag = hash_file(file)?;
        self.remember(name, version, &etag);
        Ok(etag)
    }

    /// Checks `conditions` against the current file, hashed afresh, as S3
    /// would. Call with the blob's lock held.
    fn check(&self, name: &str, path: &Path, conditions: &Conditions) -> Result<()> {
        if !conditions.is_conditional() {
            return Ok(());
        }
        let current = match open(path)? {
            Some(mut file) => {
                let meta = file.metadata()?;
                let etag = hash_file(&mut file)?;
                self.remember(name, FileVersion::of(&meta), &etag);
                Some(etag)
            }
            None => None,
        };
        if conditions.hold_for(current.as_deref()) {
            Ok(())
        } else {
            Err(Error::precondition_failed(name))
        }
    }

    /// Moves the written staging file into place: fsync, rename, fsync of
    /// the directory; removes the staging file if anything fails.
    /// `pieces`, one after the other, as blob `name` (staged, synced and
    /// renamed into place) if `conditions` hold; under the blob's lock.
    fn write_pieces(&self, name: &str, pieces: &[&[u8]], conditions: &Conditions) -> Result<()> {
        let path = self.path(name)?;
        self.check(name, &path, conditions)?;
        let (staging, mut file) = create_staging(&path)?;
        let written = pieces
            .iter()
            .try_for_each(|p| file.write_all(p))
            .map(|()| md5_etag_of(pieces))
            .map_err(Error::from);
        self.commit(name, &path, &staging, file, written)
    }

    fn commit(
        &self,
        name: &str,
        path: &Path,
        staging: &Path,
        file: File,
        written: Result<String>,
    ) -> Result<()> {
        let done = written.and_then(|etag| {
            file.sync_all()?;
            let version = FileVersion::of(&file.metadata()?);
            drop(file);
            fs::rename(staging, path)?;
            // The rename keeps the file's identity, so its tag stays valid.
            self.remember(name, version, &etag);
            sync_dir(&self.inner.dir)?;
            Ok(())
        });
        if done.is_err() {
            let _ = fs::remove_file(staging);
        }
        done
    }
}

/// `path` opened for reading; `None` when it (or its directory) is missing.
fn open(path: &Path) -> io::Result<Option<File>> {
    match File::open(path) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The quoted hex MD5 of an MD5 digest (the form of [`md5_etag`]).
fn etag_hex(digest: &[u8]) -> String {
    let mut s = String::with_capacity(2 + 2 * digest.len());
    s.push('"');
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s.push('"');
    s
}

/// The version tag of a whole file, read from its start in chunks.
fn hash_file(file: &mut File) -> io::Result<String> {
    file.rewind()?;
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(buf.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(etag_hex(&hasher.finalize()))
}

/// The rest of `file` from where it is, all of it.
fn read_rest(file: &mut File, expected: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(usize::try_from(expected.min(MAX_PREALLOC)).unwrap_or(0));
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// `<path>.new`, created empty (replacing a leftover one).
fn create_staging(path: &Path) -> io::Result<(PathBuf, File)> {
    let mut name = OsString::from(path.as_os_str());
    name.push(STAGING);
    let staging = PathBuf::from(name);
    let file = File::create(&staging)?;
    Ok((staging, file))
}

/// Makes a rename in `dir` durable (fsync of the directory; Unix only, where
/// directories can be opened and synced).
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[io(AFIT)]
impl FileBacking {
    /// Writes `prefix` and then everything `reader` yields to `file`,
    /// chunk by chunk; returns the version tag of what was written.
    async fn write_stream(
        &self,
        file: &mut File,
        prefix: &[u8],
        reader: &mut BodySource<'_>,
    ) -> Result<String> {
        let mut hasher = Md5::new();
        hasher.update(prefix);
        file.write_all(prefix)?;
        let mut buf = Vec::with_capacity(CHUNK);
        loop {
            buf.clear();
            let ended = fill(reader, &mut buf, CHUNK).await?;
            hasher.update(&buf);
            file.write_all(&buf)?;
            if ended {
                break;
            }
        }
        Ok(etag_hex(&hasher.finalize()))
    }
}

#[io(AFIT)]
impl Backing for FileBacking {
    fn kind(&self) -> &'static str {
        "file"
    }

    async fn read_blob(&self, name: &str) -> Result<Option<StoredBlob>> {
        let Some(mut file) = open(&self.path(name)?)? else {
            return Ok(None);
        };
        let meta = file.metadata()?;
        let bytes = read_rest(&mut file, meta.len())?;
        let etag = md5_etag(&bytes);
        if bytes.len() as u64 == meta.len() {
            self.remember(name, FileVersion::of(&meta), &etag);
        }
        Ok(Some(StoredBlob {
            total_size: Some(bytes.len() as u64),
            etag: Some(etag),
            bytes: bytes.into(),
        }))
    }

    async fn read_blob_prefix(&self, name: &str, len: u64) -> Result<Option<StoredBlob>> {
        let Some(mut file) = open(&self.path(name)?)? else {
            return Ok(None);
        };
        let meta = file.metadata()?;
        let mut bytes =
            Vec::with_capacity(usize::try_from(len.min(meta.len()).min(MAX_PREALLOC)).unwrap_or(0));
        (&mut file).take(len).read_to_end(&mut bytes)?;
        let etag = self.etag_of(name, &mut file, &meta)?;
        Ok(Some(StoredBlob {
            bytes: bytes.into(),
            total_size: Some(meta.len()),
            etag: Some(etag),
        }))
    }

    async fn read_blob_stream(&self, name: &str) -> Result<Option<BlobStream>> {
        // Read whole, so that the same source serves both modes (the
        // blocking reader could be the file itself, the async one not
        // without tokio's `fs`).
        let Some(mut file) = open(&self.path(name)?)? else {
            return Ok(None);
        };
        let meta = file.metadata()?;
        let bytes = read_rest(&mut file, meta.len())?;
        Ok(Some(BlobStream {
            total_size: Some(bytes.len() as u64),
            reader: reader_of(Bytes::from(bytes)),
        }))
    }

    async fn write_blob(&self, name: &str, blob: Bytes, conditions: &Conditions) -> Result<()> {
        let _guard = self.inner.locks.lock(name).await;
        self.write_pieces(name, &[&blob], conditions)
    }

    async fn write_blob_pieces_tagged(
        &self,
        name: &str,
        head: Bytes,
        tail: Bytes,
        conditions: &Conditions,
        _tag: &str,
    ) -> Result<()> {
        let _guard = self.inner.locks.lock(name).await;
        self.write_pieces(name, &[&head, &tail], conditions)
    }

    async fn write_blob_stream(
        &self,
        name: &str,
        prefix: Vec<u8>,
        reader: &mut BodySource<'_>,
        conditions: &Conditions,
    ) -> Result<()> {
        let path = self.path(name)?;
        let _guard = self.inner.locks.lock(name).await;
        self.check(name, &path, conditions)?;
        let (staging, mut file) = create_staging(&path)?;
        let written = self.write_stream(&mut file, &prefix, reader).await;
        self.commit(name, &path, &staging, file, written)
    }

    async fn blob_exists(&self, name: &str) -> Result<bool> {
        match fs::metadata(self.path(name)?) {
            Ok(meta) => Ok(!meta.is_dir()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn blob_etag(&self, name: &str) -> Result<Option<String>> {
        let Some(mut file) = open(&self.path(name)?)? else {
            return Ok(None);
        };
        let meta = file.metadata()?;
        Ok(Some(self.etag_of(name, &mut file, &meta)?))
    }

    async fn delete_blob(&self, name: &str, conditions: &Conditions) -> Result<()> {
        let path = self.path(name)?;
        let _guard = self.inner.locks.lock(name).await;
        self.check(name, &path, conditions)?;
        self.forget(name);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete_blobs(&self, names: &[String]) -> Result<()> {
        for name in names {
            self.delete_blob(name, &Conditions::NONE).await?;
        }
        Ok(())
    }

    async fn list_blobs(&self) -> Result<Vec<String>> {
        let entries = match fs::read_dir(&self.inner.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                continue;
            }
            // konserve names are ASCII; anything else is not a blob.
            if let Ok(name) = entry.file_name().into_string() {
                names.push(name);
            }
        }
        names.sort_unstable();
        Ok(names)
    }
}
