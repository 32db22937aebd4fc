//! Blobs as objects in an S3-compatible object store (`object_store` with its `aws` backend):
//! `<prefix>/sha256/<2 hex>/<64 hex>.zip`, the same layout as the blob directory.
//!
//! An object appears whole or not at all: a single PUT, or a multipart upload that becomes
//! visible only when it is completed. The client is asynchronous; the registry's blocking code
//! drives it on a small tokio runtime owned here, and downloads are forwarded chunk by chunk to
//! the HTTP response through a bounded channel, so a large package is never held in memory.

use std::io::{Read, Write};
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::{Stream, StreamExt as _};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{
    BackoffConfig, ClientOptions, GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig,
};
use tempfile::NamedTempFile;

use super::{BlobError, io_error, valid_hex};

/// Objects up to this size are stored with one PUT; larger ones as a multipart upload of parts
/// of this size (S3 requires parts of at least 5 MiB).
const PART_BYTES: usize = 16 << 20;

/// Where the objects are and how to reach them.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Config {
    pub bucket: String,
    /// Key prefix inside the bucket, without leading or trailing `/` (may be empty).
    pub prefix: String,
    /// Endpoint URL of an S3-compatible server; AWS's regional endpoint when absent.
    pub endpoint: Option<String>,
    pub region: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Allow `http://` endpoints (a server on the same host or network).
    pub allow_http: bool,
}

impl std::fmt::Debug for S3Config {
    // Never prints the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &self.secret_access_key.as_ref().map(|_| "***"))
            .field("allow_http", &self.allow_http)
            .finish()
    }
}

impl S3Config {
    /// `s3://bucket` or `s3://bucket/prefix/…`; the other settings start empty.
    pub fn parse_location(location: &str) -> Result<S3Config, BlobError> {
        let rest = location
            .strip_prefix("s3://")
            .ok_or_else(|| BlobError::Config(format!("'{location}' is not an s3://bucket/prefix location")))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.'));
        if !bucket_ok {
            return Err(BlobError::Config(format!(
                "'{bucket}' is not an S3 bucket name (3 to 63 lowercase letters, digits, '-' or '.')"
            )));
        }
        let prefix = prefix.trim_matches('/');
        if prefix.split('/').any(|part| (part.is_empty() && !prefix.is_empty()) || part == "." || part == "..") {
            return Err(BlobError::Config(format!("'{prefix}' is not a usable key prefix")));
        }
        Ok(S3Config {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            endpoint: None,
            region: "us-east-1".to_owned(),
            access_key_id: None,
            secret_access_key: None,
            allow_http: false,
        })
    }

    /// `s3://bucket/prefix` (and the endpoint), for logs and messages.
    pub fn describe(&self) -> String {
        let mut s = format!("s3://{}", self.bucket);
        if !self.prefix.is_empty() {
            s.push('/');
            s.push_str(&self.prefix);
        }
        if let Some(e) = &self.endpoint {
            s.push_str(&format!(" at {e}"));
        }
        s
    }
}

/// The object store client and the runtime that drives it. Cloning shares both.
#[derive(Clone)]
pub struct S3Blobs {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<AmazonS3>,
    prefix: String,
    describe: String,
    /// Always `Some` until dropped.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The registry may be dropped on an async worker, where blocking on the runtime's
        // shutdown is not allowed.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl std::fmt::Debug for S3Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "S3Blobs({})", self.inner.describe)
    }
}

impl S3Blobs {
    pub fn open(config: &S3Config) -> Result<S3Blobs, BlobError> {
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_allow_http(config.allow_http)
            // A down or unreachable store must answer 503 within seconds, not after minutes of
            // retries; a large download may take long, but must not stall.
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(config.allow_http)
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_timeout_disabled()
                    .with_read_timeout(Duration::from_secs(60)),
            )
            .with_retry(RetryConfig {
                backoff: BackoffConfig::default(),
                max_retries: 3,
                retry_timeout: Duration::from_secs(15),
            });
        if let Some(endpoint) = &config.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(id) = &config.access_key_id {
            builder = builder.with_access_key_id(id);
        }
        if let Some(secret) = &config.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        let store = builder.build().map_err(|e| BlobError::Config(format!("{}: {e}", config.describe())))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("prequal-s3")
            .enable_all()
            .build()
            .map_err(io_error("starting the object store client".to_owned()))?;
        Ok(S3Blobs {
            inner: Arc::new(Inner {
                store: Arc::new(store),
                prefix: config.prefix.clone(),
                describe: config.describe(),
                runtime: Some(runtime),
            }),
        })
    }

    pub fn describe(&self) -> &str {
        &self.inner.describe
    }

    fn runtime(&self) -> Result<&tokio::runtime::Runtime, BlobError> {
        self.inner.runtime.as_ref().ok_or_else(|| self.unavailable("the client was shut down"))
    }

    fn unavailable(&self, detail: impl std::fmt::Display) -> BlobError {
        BlobError::Unavailable { store: self.inner.describe.clone(), detail: detail.to_string() }
    }

    fn error(&self, sha256_hex: &str, e: object_store::Error) -> BlobError {
        match e {
            object_store::Error::NotFound { .. } => BlobError::Missing { sha256: sha256_hex.to_owned() },
            other => self.unavailable(other),
        }
    }

    fn key_prefix(&self) -> String {
        if self.inner.prefix.is_empty() { "sha256".to_owned() } else { format!("{}/sha256", self.inner.prefix) }
    }

    fn key(&self, sha256_hex: &str) -> Result<ObjectPath, BlobError> {
        if !valid_hex(sha256_hex) {
            return Err(BlobError::InvalidAddress(sha256_hex.to_owned()));
        }
        Ok(ObjectPath::from(format!("{}/{}/{sha256_hex}.zip", self.key_prefix(), &sha256_hex[..2])))
    }

    /// Uploads a finished staging file under its hash (one PUT, or multipart for large files).
    pub fn put(&self, file: NamedTempFile, sha256_hex: &str) -> Result<(), BlobError> {
        let key = self.key(sha256_hex)?;
        let reading = || io_error(format!("reading the staged upload of {sha256_hex}"));
        let mut f = file.reopen().map_err(reading())?;
        let len = f.metadata().map_err(reading())?.len();
        let store = Arc::clone(&self.inner.store);
        self.runtime()?.block_on(async {
            if len <= PART_BYTES as u64 {
                let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
                f.read_to_end(&mut bytes).map_err(reading())?;
                store.put(&key, PutPayload::from(bytes)).await.map_err(|e| self.error(sha256_hex, e))?;
                return Ok(());
            }
            let mut upload = store.put_multipart(&key).await.map_err(|e| self.error(sha256_hex, e))?;
            let parts = async {
                loop {
                    let mut part = Vec::with_capacity(PART_BYTES);
                    (&mut f).take(PART_BYTES as u64).read_to_end(&mut part).map_err(reading())?;
                    if part.is_empty() {
                        return Ok::<_, BlobError>(());
                    }
                    upload.put_part(PutPayload::from(part)).await.map_err(|e| self.error(sha256_hex, e))?;
                }
            }
            .await;
            match parts {
                Ok(()) => upload.complete().await.map(|_| ()).map_err(|e| self.error(sha256_hex, e)),
                Err(e) => {
                    // Parts of an aborted upload are never visible; abort frees them.
                    let _ = upload.abort().await;
                    Err(e)
                }
            }
        })
    }

    pub fn exists(&self, sha256_hex: &str) -> Result<bool, BlobError> {
        let key = self.key(sha256_hex)?;
        match self.runtime()?.block_on(self.inner.store.head(&key)) {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.error(sha256_hex, e)),
        }
    }

    pub fn remove(&self, sha256_hex: &str) -> Result<(), BlobError> {
        let key = self.key(sha256_hex)?;
        match self.runtime()?.block_on(self.inner.store.delete(&key)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error(sha256_hex, e)),
        }
    }

    /// Every stored blob with its last-modified time.
    pub fn list(&self) -> Result<Vec<(String, SystemTime)>, BlobError> {
        let prefix = ObjectPath::from(self.key_prefix());
        let store = Arc::clone(&self.inner.store);
        self.runtime()?.block_on(async {
            let mut out = Vec::new();
            let mut listing = store.list(Some(&prefix));
            while let Some(meta) = listing.next().await {
                let meta = meta.map_err(|e| self.unavailable(e))?;
                if let Some(hex) = meta.location.filename().and_then(|n| n.strip_suffix(".zip"))
                    && valid_hex(hex)
                {
                    out.push((hex.to_owned(), SystemTime::from(meta.last_modified)));
                }
            }
            Ok(out)
        })
    }

    /// The store answers with these credentials (a HEAD of a key that need not exist).
    pub fn check_ready(&self) -> Result<(), BlobError> {
        let probe = ObjectPath::from(format!("{}/readiness-probe", self.key_prefix()));
        match self.runtime()?.block_on(self.inner.store.head(&probe)) {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.unavailable(e)),
        }
    }

    /// Downloads a blob into `file` (a staging file), streaming.
    pub fn download_to(&self, sha256_hex: &str, file: &mut NamedTempFile) -> Result<(), BlobError> {
        let key = self.key(sha256_hex)?;
        let store = Arc::clone(&self.inner.store);
        let writing = || io_error(format!("copying blob {sha256_hex} to a local file"));
        self.runtime()?.block_on(async {
            let mut stream = store.get(&key).await.map_err(|e| self.error(sha256_hex, e))?.into_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| self.error(sha256_hex, e))?;
                file.write_all(&chunk).map_err(writing())?;
            }
            file.flush().map_err(writing())
        })
    }

    /// The bytes of a blob (or of `range` of it) as a stream, for an HTTP response. The request
    /// runs on this client's runtime; chunks arrive through a channel of a few chunks, so the
    /// download advances only as fast as the reader takes it.
    pub async fn stream(
        &self,
        sha256_hex: &str,
        range: Option<Range<u64>>,
    ) -> Result<impl Stream<Item = Result<actix_web::web::Bytes, BlobError>> + use<>, BlobError> {
        let key = self.key(sha256_hex)?;
        let (opened_tx, opened_rx) = tokio::sync::oneshot::channel::<Result<(), BlobError>>();
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<actix_web::web::Bytes, BlobError>>(4);
        let this = self.clone();
        let sha = sha256_hex.to_owned();
        self.runtime()?.spawn(async move {
            let options = GetOptions { range: range.map(GetRange::from), ..GetOptions::default() };
            let result = match this.inner.store.get_opts(&key, options).await {
                Ok(r) => r,
                Err(e) => {
                    let _ = opened_tx.send(Err(this.error(&sha, e)));
                    return;
                }
            };
            let _ = opened_tx.send(Ok(()));
            let mut chunks = result.into_stream();
            while let Some(chunk) = chunks.next().await {
                let item = chunk.map_err(|e| this.error(&sha, e));
                let failed = item.is_err();
                // The reader went away (client disconnected): stop reading from the store.
                if tx.send(item).await.is_err() || failed {
                    return;
                }
            }
        });
        opened_rx.await.map_err(|_| self.unavailable("the download was abandoned"))??;
        Ok(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        let c = S3Config::parse_location("s3://prequal-blobs/registry/one").unwrap();
        assert_eq!((c.bucket.as_str(), c.prefix.as_str()), ("prequal-blobs", "registry/one"));
        assert_eq!(S3Config::parse_location("s3://bucket").unwrap().prefix, "");
        for bad in ["bucket", "s3://", "s3://B", "s3://bucket/a/../b", "s3://bucket/a//b", "file:///x"] {
            assert!(S3Config::parse_location(bad).is_err(), "{bad}");
        }
        let with_secret = S3Config { secret_access_key: Some("hunter2".into()), ..c };
        assert!(!format!("{with_secret:?}").contains("hunter2"));
    }
}
