//! Blobs as files: `DATA/blobs/sha256/<2 hex>/<64 hex>.zip`. A blob becomes visible by an
//! atomic rename of its finished, synced staging file.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use tempfile::NamedTempFile;

use super::{BlobError, io_error, valid_hex};

#[derive(Debug, Clone)]
pub struct FsBlobs {
    root: PathBuf,
}

impl FsBlobs {
    pub fn open(data_dir: &Path) -> Result<FsBlobs, BlobError> {
        let root = data_dir.join("blobs").join("sha256");
        fs::create_dir_all(&root).map_err(io_error(format!("creating {}", root.display())))?;
        Ok(FsBlobs { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path(&self, sha256_hex: &str) -> Result<PathBuf, BlobError> {
        if valid_hex(sha256_hex) {
            Ok(self.root.join(&sha256_hex[..2]).join(format!("{sha256_hex}.zip")))
        } else {
            Err(BlobError::InvalidAddress(sha256_hex.to_owned()))
        }
    }

    /// Moves a finished upload into place; its bytes and the directory entry are synced first.
    pub fn put(&self, file: NamedTempFile, sha256_hex: &str) -> Result<(), BlobError> {
        let path = self.path(sha256_hex)?;
        let what = || format!("storing blob {sha256_hex}");
        file.as_file().sync_all().map_err(io_error(what()))?;
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        fs::create_dir_all(&dir).map_err(io_error(what()))?;
        file.persist(&path).map_err(|e| io_error(what())(e.error))?;
        File::open(&dir).and_then(|d| d.sync_all()).map_err(io_error(what()))?;
        Ok(())
    }

    pub fn exists(&self, sha256_hex: &str) -> Result<bool, BlobError> {
        Ok(self.path(sha256_hex)?.is_file())
    }

    pub fn remove(&self, sha256_hex: &str) -> Result<(), BlobError> {
        match fs::remove_file(self.path(sha256_hex)?) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_error(format!("removing blob {sha256_hex}"))(e)),
            _ => Ok(()),
        }
    }

    /// Every stored blob with its modification time.
    pub fn list(&self) -> Result<Vec<(String, SystemTime)>, BlobError> {
        let listing = || io_error(format!("listing {}", self.root.display()));
        let mut out = Vec::new();
        for shard in fs::read_dir(&self.root).map_err(listing())? {
            let shard = shard.map_err(listing())?;
            if !shard.file_type().map_err(listing())?.is_dir() {
                continue;
            }
            for entry in fs::read_dir(shard.path()).map_err(listing())? {
                let entry = entry.map_err(listing())?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if let Some(hex) = name.strip_suffix(".zip")
                    && valid_hex(hex)
                {
                    let modified = entry.metadata().and_then(|m| m.modified()).map_err(listing())?;
                    out.push((hex.to_owned(), modified));
                }
            }
        }
        Ok(out)
    }
}
