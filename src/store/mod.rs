//! Storage: the database (SQLite by default, PostgreSQL in production, one diesel code path
//! through [`AnyConnection`]) and the content-addressed blob store (a directory or an
//! S3-compatible object store, [`blobs`]).
//!
//! This module runs queries and moves files; it decides no policy (who may read or publish what
//! is in `registry`). Every function here blocks: callers on async workers use `web::block`.

pub mod blobs;
pub mod models;
pub mod schema;

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{self, ManageConnection};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub use blobs::{BlobConfig, BlobError, BlobStore};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// One connection to either backend; queries are written once against it.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

/// Where the database is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(String),
    Postgres(String),
}

impl DatabaseUrl {
    /// `postgres://…` or `postgresql://…` is PostgreSQL; `sqlite://PATH` or a plain path is SQLite.
    pub fn parse(url: &str) -> DatabaseUrl {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            DatabaseUrl::Postgres(url.to_owned())
        } else {
            DatabaseUrl::Sqlite(url.strip_prefix("sqlite://").unwrap_or(url).to_owned())
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            DatabaseUrl::Sqlite(_) => "sqlite",
            DatabaseUrl::Postgres(_) => "postgres",
        }
    }

    /// The URL with any password hidden, for logs.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(p) => format!("sqlite://{p}"),
            DatabaseUrl::Postgres(u) => redact_password(u),
        }
    }
}

fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let Some((userinfo, host)) = rest.split_once('@') else { return url.to_owned() };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

/// Opens connections for the pool, each set up for its backend.
#[derive(Debug, Clone)]
pub struct Manager {
    url: DatabaseUrl,
}

impl ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<AnyConnection, r2d2::Error> {
        match &self.url {
            DatabaseUrl::Postgres(url) => {
                PgConnection::establish(url).map(AnyConnection::Postgresql).map_err(r2d2::Error::ConnectionError)
            }
            DatabaseUrl::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(path).map_err(r2d2::Error::ConnectionError)?;
                // WAL lets readers run during a write; FULL makes a commit durable before the
                // registry answers 201; foreign keys are off by default in SQLite. Reads go
                // through a memory map (shared by every connection, up to 1 GiB of the file) and
                // a 16 MiB page cache per connection, rather than a system call per page.
                conn.batch_execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
                     PRAGMA mmap_size = 1073741824; PRAGMA cache_size = -16384;",
                )
                .map_err(r2d2::Error::QueryError)?;
                Ok(AnyConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1").map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, _conn: &mut AnyConnection) -> bool {
        false
    }
}

pub type Pool = r2d2::Pool<Manager>;
pub type PooledConnection = r2d2::PooledConnection<Manager>;

/// A storage failure: the database or the blob directory could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("blob store: {0}")]
    Blob(#[from] BlobError),
}

impl From<r2d2::PoolError> for StoreError {
    fn from(e: r2d2::PoolError) -> Self {
        StoreError::Unavailable(e.to_string())
    }
}

/// The PostgreSQL advisory lock key held while migrating ("prequal" in ASCII, as a number).
const MIGRATION_LOCK: i64 = 0x0070_7265_7175_616c;

/// Namespace of the advisory locks on blob addresses (the two-key form, so they never collide
/// with the single-key locks above or with [`lock_package_name`]).
const BLOB_LOCK_SPACE: i32 = 0x7072_6571;

/// A PostgreSQL session-level advisory lock on one blob address, held on a connection of its
/// own until dropped. Publishers hold it shared from before they store a blob until their rows
/// are committed; the sweeper takes it exclusively (without waiting) before it removes an
/// unreferenced blob, so it never removes one that a publisher is about to reference, in this
/// process or another. On SQLite it is a no-op: one process serves a SQLite file, and the
/// sweeper there relies on intents and their age.
pub struct BlobLock {
    conn: Option<PooledConnection>,
    key: i32,
    shared: bool,
    /// Returned after the connection (fields drop in order).
    _permit: Option<Permit>,
}

/// Connections that blob locks may hold at once: half the pool (at least one), so that slow
/// blob stores (a large object PUT holds its lock's connection throughout) never take every
/// connection from the requests that only read. Uploads beyond it wait for a permit, holding
/// no connection.
#[derive(Debug)]
struct Permits {
    free: Mutex<usize>,
    returned: Condvar,
}

impl Permits {
    fn acquire(self: &Arc<Self>) -> Permit {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        while *free == 0 {
            free = self.returned.wait(free).unwrap_or_else(|p| p.into_inner());
        }
        *free -= 1;
        Permit(self.clone())
    }
}

struct Permit(Arc<Permits>);

impl Drop for Permit {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.0.returned.notify_one();
    }
}

impl BlobLock {
    /// The connection that holds the lock (PostgreSQL), for the publish transaction.
    pub fn connection(&mut self) -> Option<&mut AnyConnection> {
        self.conn.as_deref_mut()
    }
}

impl Drop for BlobLock {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.as_mut() {
            let f = if self.shared { "pg_advisory_unlock_shared" } else { "pg_advisory_unlock" };
            if let Err(e) = conn.batch_execute(&format!("SELECT {f}({BLOB_LOCK_SPACE}, {})", self.key)) {
                // A connection that cannot unlock is broken; its session's locks end with it.
                log::warn!("releasing a blob lock: {e}");
            }
        }
    }
}

fn blob_lock_key(sha256_hex: &str) -> i32 {
    let prefix = sha256_hex.get(..8).and_then(|h| u32::from_str_radix(h, 16).ok()).unwrap_or(0);
    i32::from_ne_bytes(prefix.to_ne_bytes())
}

/// The database pool and the blob store of one registry.
pub struct Store {
    pool: Pool,
    url: DatabaseUrl,
    pub blobs: BlobStore,
    /// SQLite allows one writer; taking this lock before a write transaction avoids
    /// lock-upgrade failures between pooled connections. PostgreSQL needs none.
    sqlite_writer: Option<Mutex<()>>,
    blob_lock_permits: Arc<Permits>,
}

impl Store {
    /// Connects, applies pending migrations and opens the blob directory under `data_dir`.
    pub fn open(url: &DatabaseUrl, data_dir: &Path, pool_size: u32) -> Result<Store, StoreError> {
        Self::open_with(url, data_dir, pool_size, &BlobConfig::Filesystem)
    }

    /// Connects, applies pending migrations and opens the configured blob store (staging
    /// uploads under `data_dir/tmp`).
    pub fn open_with(
        url: &DatabaseUrl,
        data_dir: &Path,
        pool_size: u32,
        blob_config: &BlobConfig,
    ) -> Result<Store, StoreError> {
        if let DatabaseUrl::Sqlite(path) = url
            && let Some(parent) = Path::new(path).parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)
                .map_err(|e| StoreError::Unavailable(format!("{}: {e}", parent.display())))?;
        }
        let blobs = BlobStore::open_with(data_dir, blob_config)?;
        let pool = r2d2::Pool::builder()
            .max_size(pool_size)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(10))
            .build(Manager { url: url.clone() })
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let store = Store {
            pool,
            url: url.clone(),
            blobs,
            sqlite_writer: matches!(url, DatabaseUrl::Sqlite(_)).then(|| Mutex::new(())),
            blob_lock_permits: Arc::new(Permits {
                free: Mutex::new((pool_size as usize / 2).max(1)),
                returned: Condvar::new(),
            }),
        };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let applied = match &mut *conn {
            AnyConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
            AnyConnection::Postgresql(c) => {
                // Replicas starting together on one database: one migrates, the others wait
                // and then find nothing pending. (diesel does not lock on its own; two
                // concurrent runs would both create the same tables.)
                use diesel::RunQueryDsl;
                diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})")).execute(c)?;
                let result = c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|v| v.len());
                diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})")).execute(c)?;
                result
            }
        }
        .map_err(|e| StoreError::Migration(e.to_string()))?;
        if applied > 0 {
            log::info!("applied {applied} database migration(s) to {}", self.url.redacted());
        }
        Ok(())
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    pub fn conn(&self) -> Result<PooledConnection, StoreError> {
        Ok(self.pool.get()?)
    }

    /// Runs `f` in one transaction; on SQLite, one writer at a time.
    pub fn write<T, E>(&self, f: impl FnOnce(&mut AnyConnection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<diesel::result::Error> + From<StoreError>,
    {
        let _guard: Option<MutexGuard<'_, ()>> =
            self.sqlite_writer.as_ref().map(|m| m.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        let mut conn = self.conn()?;
        let conn: &mut AnyConnection = &mut conn;
        // SQLite: BEGIN IMMEDIATE, so that the write lock is taken (waiting out another
        // process's writer with the busy timeout) before the transaction reads. A deferred
        // transaction that reads first and then writes cannot wait for the lock: SQLite answers
        // "database is locked" at once when another process wrote in between.
        let AnyConnection::Sqlite(sqlite) = conn else { return conn.transaction(f) };
        use diesel::connection::{AnsiTransactionManager, TransactionManager};
        AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
        let result = f(conn);
        let AnyConnection::Sqlite(sqlite) = conn else {
            return Err(StoreError::Unavailable("the connection changed backend".into()).into());
        };
        match result {
            Ok(value) => match AnsiTransactionManager::commit_transaction(sqlite) {
                Ok(()) => Ok(value),
                Err(e) => {
                    let _ = AnsiTransactionManager::rollback_transaction(sqlite);
                    Err(e.into())
                }
            },
            Err(e) => {
                AnsiTransactionManager::rollback_transaction(sqlite)?;
                Err(e)
            }
        }
    }

    /// Whether blob locks are real (PostgreSQL) rather than no-ops (SQLite).
    pub fn has_blob_locks(&self) -> bool {
        matches!(self.url, DatabaseUrl::Postgres(_))
    }

    /// Takes the shared lock on a blob address, waiting for a sweeper that holds it.
    pub fn lock_blob_shared(&self, sha256_hex: &str) -> Result<BlobLock, StoreError> {
        let key = blob_lock_key(sha256_hex);
        if !self.has_blob_locks() {
            return Ok(BlobLock { conn: None, key, shared: true, _permit: None });
        }
        let permit = self.blob_lock_permits.acquire();
        let mut conn = self.conn()?;
        conn.batch_execute(&format!("SELECT pg_advisory_lock_shared({BLOB_LOCK_SPACE}, {key})"))?;
        Ok(BlobLock { conn: Some(conn), key, shared: true, _permit: Some(permit) })
    }

    /// Takes the exclusive lock on a blob address if no publisher holds it; None otherwise.
    pub fn try_lock_blob(&self, sha256_hex: &str) -> Result<Option<BlobLock>, StoreError> {
        use diesel::RunQueryDsl;
        let key = blob_lock_key(sha256_hex);
        if !self.has_blob_locks() {
            return Ok(Some(BlobLock { conn: None, key, shared: false, _permit: None }));
        }
        #[derive(diesel::QueryableByName)]
        struct Locked {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            locked: bool,
        }
        let mut conn = self.conn()?;
        let got: Locked = diesel::sql_query(format!("SELECT pg_try_advisory_lock({BLOB_LOCK_SPACE}, {key}) AS locked"))
            .get_result(&mut *conn)?;
        Ok(got.locked.then_some(BlobLock { conn: Some(conn), key, shared: false, _permit: None }))
    }

    /// [`Store::write`] on the connection that holds `lock` (PostgreSQL), so that the lock is
    /// held until the transaction has committed.
    pub fn write_locked<T, E>(
        &self,
        lock: &mut BlobLock,
        f: impl FnOnce(&mut AnyConnection) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<diesel::result::Error> + From<StoreError>,
    {
        match lock.connection() {
            Some(conn) => conn.transaction(f),
            None => self.write(f),
        }
    }

    /// Runs `f` (no transaction) on the connection that holds `lock`, or on a pooled one when
    /// locks are no-ops; a pool of one connection is enough.
    pub fn on_lock_connection<T, E>(
        &self,
        lock: &mut BlobLock,
        f: impl FnOnce(&mut AnyConnection) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        match lock.connection() {
            Some(conn) => f(conn),
            None => {
                let mut conn = self.conn()?;
                f(&mut conn)
            }
        }
    }

    /// Checks the database answers (for `/readyz`), waiting at most 2 s for a connection so
    /// a readiness probe gets its answer while the database is down.
    pub fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.get_timeout(Duration::from_secs(2))?;
        conn.batch_execute("SELECT 1")?;
        Ok(())
    }
}

/// Serialises the writers of one package name until the end of the current transaction, so
/// concurrent publications of versions of a name see each other (PostgreSQL's default isolation
/// would let two of them both think they are the latest). SQLite already has a single writer.
pub fn lock_package_name(conn: &mut AnyConnection, name: &str) -> diesel::QueryResult<()> {
    use diesel::RunQueryDsl;
    match conn {
        AnyConnection::Postgresql(c) => {
            diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind::<diesel::sql_types::Text, _>(name)
                .execute(c)?;
        }
        AnyConnection::Sqlite(_) => {}
    }
    Ok(())
}

/// Milliseconds since the Unix epoch, the registry's clock.
pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// RFC 3339 (UTC, milliseconds) for a registry time.
pub fn format_time(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_millis(t).to_string()
}

/// Parses an RFC 3339 time (`2026-11-23T10:00:00Z`; a date alone means midnight UTC).
pub fn parse_time(s: &str) -> Result<i64, String> {
    let text = if s.len() == 10 { format!("{s}T00:00:00Z") } else { s.to_owned() };
    let t = humantime::parse_rfc3339_weak(&text).map_err(|e| format!("'{s}' is not an RFC 3339 time: {e}"))?;
    let since = t.duration_since(std::time::UNIX_EPOCH).map_err(|_| format!("'{s}' is before 1970"))?;
    i64::try_from(since.as_millis()).map_err(|_| format!("'{s}' is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls() {
        assert_eq!(DatabaseUrl::parse("postgres://u:pw@h/db").backend(), "postgres");
        assert_eq!(DatabaseUrl::parse("postgres://u:pw@h/db").redacted(), "postgres://u:***@h/db");
        assert_eq!(DatabaseUrl::parse("sqlite://x/y.db"), DatabaseUrl::Sqlite("x/y.db".into()));
        assert_eq!(DatabaseUrl::parse("y.db"), DatabaseUrl::Sqlite("y.db".into()));
    }

    #[test]
    fn times_round_trip() {
        let ms = parse_time("2026-11-23T10:00:00.250Z").unwrap();
        assert_eq!(format_time(ms), "2026-11-23T10:00:00.250Z");
        assert_eq!(parse_time("2026-01-01").unwrap(), parse_time("2026-01-01T00:00:00Z").unwrap());
        assert!(parse_time("yesterday").is_err());
    }
}
