//! Package files ("blobs"), content-addressed by the SHA-256 of the exact bytes uploaded, behind
//! one interface with two backends: a local directory (the default, [`filesystem`]) and an
//! S3-compatible object store ([`s3`]). Uploads are staged in `DATA/tmp/` while they arrive and
//! are verified, whatever the backend.
//!
//! A blob is stored before the database row that references it is committed; the registry
//! records an intent first and sweeps blobs that no row references (`Registry::sweep_orphans`).
//! This module moves bytes; it decides nothing about what may be removed.

mod filesystem;
mod s3;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use tempfile::NamedTempFile;

pub use s3::{S3Blobs, S3Config};

/// Which backend holds the blobs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum BlobConfig {
    /// `DATA/blobs/sha256/…`
    #[default]
    Filesystem,
    S3(S3Config),
}

impl BlobConfig {
    pub fn describe(&self, data_dir: &Path) -> String {
        match self {
            BlobConfig::Filesystem => data_dir.join("blobs").display().to_string(),
            BlobConfig::S3(c) => c.describe(),
        }
    }
}

/// A blob store failure.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("'{0}' is not a SHA-256 hex digest")]
    InvalidAddress(String),
    #[error("blob {sha256} is not in the blob store")]
    Missing { sha256: String },
    /// The object store did not answer, or refused the registry's credentials.
    #[error("object store {store} unavailable: {detail}")]
    Unavailable { store: String, detail: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("blob store configuration: {0}")]
    Config(String),
}

pub(crate) fn io_error(what: String) -> impl Fn(io::Error) -> BlobError {
    move |source| BlobError::Io { what: what.clone(), source }
}

pub(crate) fn valid_hex(sha256_hex: &str) -> bool {
    sha256_hex.len() == 64 && sha256_hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[derive(Debug, Clone)]
enum Backend {
    Filesystem(filesystem::FsBlobs),
    S3(S3Blobs),
}

/// Where a stored blob can be read from, for a download.
pub enum BlobLocation {
    /// A local file (served with range and conditional request support by the HTTP layer).
    File(PathBuf),
    /// An object, streamed from the store.
    Object { store: S3Blobs, sha256: String },
}

/// A stored blob as a local file: the blob itself, or a temporary copy of an object.
pub enum LocalBlob {
    Stored(PathBuf),
    Copy(NamedTempFile),
}

impl LocalBlob {
    pub fn path(&self) -> &Path {
        match self {
            LocalBlob::Stored(p) => p,
            LocalBlob::Copy(f) => f.path(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct BlobStore {
    /// `DATA/tmp/`: uploads in progress, and local copies of objects being read.
    staging: PathBuf,
    backend: Backend,
}

impl BlobStore {
    /// Opens the blob directory under `data_dir`: the same as
    /// `open_with(data_dir, &BlobConfig::Filesystem)`.
    pub fn open(data_dir: &Path) -> Result<BlobStore, BlobError> {
        Self::open_with(data_dir, &BlobConfig::Filesystem)
    }

    /// Opens the configured backend; the staging directory is always `data_dir/tmp`. Opening an
    /// object store does not contact it (readiness does).
    pub fn open_with(data_dir: &Path, config: &BlobConfig) -> Result<BlobStore, BlobError> {
        let staging = data_dir.join("tmp");
        fs::create_dir_all(&staging).map_err(io_error(format!("creating {}", staging.display())))?;
        let backend = match config {
            BlobConfig::Filesystem => Backend::Filesystem(filesystem::FsBlobs::open(data_dir)?),
            BlobConfig::S3(c) => Backend::S3(S3Blobs::open(c)?),
        };
        Ok(BlobStore { staging, backend })
    }

    /// The blob directory or the object store location, for logs.
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Filesystem(fs) => fs.root().display().to_string(),
            Backend::S3(s3) => s3.describe().to_owned(),
        }
    }

    /// A new temporary file for an upload in progress; deleted when dropped unless stored.
    pub fn temp_file(&self) -> io::Result<NamedTempFile> {
        tempfile::Builder::new().prefix("upload-").suffix(".tmp").tempfile_in(&self.staging)
    }

    /// Stores a finished upload under its hash. When this returns Ok the blob is durable and
    /// whole; on error nothing is visible under the hash that was not there before.
    pub fn put(&self, file: NamedTempFile, sha256_hex: &str) -> Result<(), BlobError> {
        match &self.backend {
            Backend::Filesystem(fs) => fs.put(file, sha256_hex),
            Backend::S3(s3) => s3.put(file, sha256_hex),
        }
    }

    pub fn exists(&self, sha256_hex: &str) -> Result<bool, BlobError> {
        match &self.backend {
            Backend::Filesystem(fs) => fs.exists(sha256_hex),
            Backend::S3(s3) => s3.exists(sha256_hex),
        }
    }

    /// Removes a blob; removing one that is not there is not an error.
    pub fn remove(&self, sha256_hex: &str) -> Result<(), BlobError> {
        match &self.backend {
            Backend::Filesystem(fs) => fs.remove(sha256_hex),
            Backend::S3(s3) => s3.remove(sha256_hex),
        }
    }

    /// Every stored blob with its modification time.
    pub fn list(&self) -> Result<Vec<(String, SystemTime)>, BlobError> {
        match &self.backend {
            Backend::Filesystem(fs) => fs.list(),
            Backend::S3(s3) => s3.list(),
        }
    }

    /// Where to read a blob for a download. A missing file is reported here; a missing object
    /// when its stream is opened.
    pub fn location(&self, sha256_hex: &str) -> Result<BlobLocation, BlobError> {
        match &self.backend {
            Backend::Filesystem(fs) => {
                let path = fs.path(sha256_hex)?;
                if path.is_file() {
                    Ok(BlobLocation::File(path))
                } else {
                    Err(BlobError::Missing { sha256: sha256_hex.to_owned() })
                }
            }
            Backend::S3(s3) => Ok(BlobLocation::Object { store: s3.clone(), sha256: sha256_hex.to_owned() }),
        }
    }

    /// A stored blob as a local file, for readers that open the zip (the blob's own file, or a
    /// temporary copy of an object under `DATA/tmp/`, removed when dropped).
    pub fn local(&self, sha256_hex: &str) -> Result<LocalBlob, BlobError> {
        match &self.backend {
            Backend::Filesystem(fs) => {
                let path = fs.path(sha256_hex)?;
                if path.is_file() {
                    Ok(LocalBlob::Stored(path))
                } else {
                    Err(BlobError::Missing { sha256: sha256_hex.to_owned() })
                }
            }
            Backend::S3(s3) => {
                let mut file = tempfile::Builder::new()
                    .prefix("read-")
                    .suffix(".tmp")
                    .tempfile_in(&self.staging)
                    .map_err(io_error("a local copy of a blob".to_owned()))?;
                s3.download_to(sha256_hex, &mut file)?;
                Ok(LocalBlob::Copy(file))
            }
        }
    }

    /// Removes staging files of interrupted uploads last touched before `older_than`.
    pub fn sweep_tmp(&self, older_than: SystemTime) -> io::Result<usize> {
        let mut removed = 0;
        for entry in fs::read_dir(&self.staging)? {
            let entry = entry?;
            if entry.metadata()?.modified()? <= older_than {
                match fs::remove_file(entry.path()) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => removed += 1,
                }
            }
        }
        Ok(removed)
    }

    /// For `/readyz`: a file can be created and synced in the staging directory, and the blob
    /// directory is there or the object store answers.
    pub fn check_ready(&self) -> Result<(), BlobError> {
        let staging = || io_error(format!("staging directory {}", self.staging.display()));
        let f = self.temp_file().map_err(staging())?;
        f.as_file().sync_all().map_err(staging())?;
        f.close().map_err(staging())?;
        match &self.backend {
            Backend::Filesystem(fs) => {
                fs::metadata(fs.root()).map(|_| ()).map_err(io_error(format!("blob directory {}", fs.root().display())))
            }
            Backend::S3(s3) => s3.check_ready(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn put_list_remove() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let mut f = store.temp_file().unwrap();
        f.write_all(b"hello").unwrap();
        let hex = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        store.put(f, hex).unwrap();
        let local = store.local(hex).unwrap();
        assert_eq!(fs::read(local.path()).unwrap(), b"hello");
        assert!(store.exists(hex).unwrap());
        assert_eq!(store.list().unwrap().len(), 1);
        store.remove(hex).unwrap();
        assert!(!store.exists(hex).unwrap());
        assert!(matches!(store.local(hex), Err(BlobError::Missing { .. })));
        assert!(matches!(store.exists("../etc/passwd"), Err(BlobError::InvalidAddress(_))));
        let _left = store.temp_file().unwrap().into_temp_path().keep().unwrap();
        assert_eq!(store.sweep_tmp(SystemTime::now()).unwrap(), 1);
        store.check_ready().unwrap();
    }
}
