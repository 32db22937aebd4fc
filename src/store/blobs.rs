//! Content-addressed blob directory: `blobs/sha256/<2 hex>/<64 hex>.zip`, named by the SHA-256
//! of the exact bytes uploaded, with in-progress uploads under `tmp/`.
//!
//! A blob becomes visible by an atomic rename after its bytes are on disk; the database row
//! that references it is committed afterwards. A crash between the two leaves an unreferenced
//! blob, which [`BlobStore::list`] lets the registry sweep at start-up.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use tempfile::NamedTempFile;

#[derive(Debug, Clone)]
pub struct BlobStore {
    blobs: PathBuf,
    tmp: PathBuf,
}

fn valid_hex(sha256_hex: &str) -> bool {
    sha256_hex.len() == 64 && sha256_hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl BlobStore {
    pub fn open(data_dir: &Path) -> io::Result<BlobStore> {
        let store = BlobStore { blobs: data_dir.join("blobs").join("sha256"), tmp: data_dir.join("tmp") };
        fs::create_dir_all(&store.blobs)?;
        fs::create_dir_all(&store.tmp)?;
        Ok(store)
    }

    /// A new temporary file for an upload in progress; deleted when dropped unless stored.
    pub fn temp_file(&self) -> io::Result<NamedTempFile> {
        tempfile::Builder::new().prefix("upload-").suffix(".tmp").tempfile_in(&self.tmp)
    }

    pub fn path(&self, sha256_hex: &str) -> Option<PathBuf> {
        valid_hex(sha256_hex).then(|| self.blobs.join(&sha256_hex[..2]).join(format!("{sha256_hex}.zip")))
    }

    /// Moves a finished upload into place under its hash. The file's bytes and the directory
    /// entry are synced before this returns.
    pub fn put(&self, file: NamedTempFile, sha256_hex: &str) -> io::Result<PathBuf> {
        let Some(path) = self.path(sha256_hex) else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a SHA-256 hex digest"));
        };
        file.as_file().sync_all()?;
        let dir = path.parent().unwrap_or(&self.blobs).to_path_buf();
        fs::create_dir_all(&dir)?;
        file.persist(&path).map_err(|e| e.error)?;
        File::open(&dir)?.sync_all()?;
        Ok(path)
    }

    pub fn exists(&self, sha256_hex: &str) -> bool {
        self.path(sha256_hex).is_some_and(|p| p.is_file())
    }

    pub fn remove(&self, sha256_hex: &str) -> io::Result<()> {
        match self.path(sha256_hex) {
            Some(p) => match fs::remove_file(p) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            },
            None => Ok(()),
        }
    }

    /// Every stored blob with its modification time.
    pub fn list(&self) -> io::Result<Vec<(String, SystemTime)>> {
        let mut out = Vec::new();
        for shard in fs::read_dir(&self.blobs)? {
            let shard = shard?;
            if !shard.file_type()?.is_dir() {
                continue;
            }
            for entry in fs::read_dir(shard.path())? {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if let Some(hex) = name.strip_suffix(".zip")
                    && valid_hex(hex)
                {
                    out.push((hex.to_owned(), entry.metadata()?.modified()?));
                }
            }
        }
        Ok(out)
    }

    /// Removes temporary files of interrupted uploads last touched before `older_than`.
    pub fn sweep_tmp(&self, older_than: SystemTime) -> io::Result<usize> {
        let mut removed = 0;
        for entry in fs::read_dir(&self.tmp)? {
            let entry = entry?;
            if entry.metadata()?.modified()? <= older_than {
                fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Checks a file can be created and synced in the store (for `/readyz`).
    pub fn check_writable(&self) -> io::Result<()> {
        let f = self.temp_file()?;
        f.as_file().sync_all()?;
        f.close()
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
        let path = store.put(f, hex).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"hello");
        assert!(store.exists(hex));
        assert_eq!(store.list().unwrap().len(), 1);
        store.remove(hex).unwrap();
        assert!(!store.exists(hex));
        assert!(store.path("../etc/passwd").is_none());
        let _left = store.temp_file().unwrap().into_temp_path().keep().unwrap();
        assert_eq!(store.sweep_tmp(SystemTime::now()).unwrap(), 1);
    }
}
