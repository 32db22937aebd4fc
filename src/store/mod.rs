//! Storage: the database (SQLite by default, PostgreSQL in production, one diesel code path
//! through [`AnyConnection`]) and the content-addressed blob directory.
//!
//! This module runs queries and moves files; it decides no policy (who may read or publish what
//! is in `registry`). Every function here blocks: callers on async workers use `web::block`.

pub mod blobs;
pub mod models;
pub mod schema;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{self, ManageConnection};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub use blobs::BlobStore;

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
    Blob(String),
}

impl From<r2d2::PoolError> for StoreError {
    fn from(e: r2d2::PoolError) -> Self {
        StoreError::Unavailable(e.to_string())
    }
}

/// The database pool and the blob store of one registry.
pub struct Store {
    pool: Pool,
    url: DatabaseUrl,
    pub blobs: BlobStore,
    /// SQLite allows one writer; taking this lock before a write transaction avoids
    /// lock-upgrade failures between pooled connections. PostgreSQL needs none.
    sqlite_writer: Option<Mutex<()>>,
}

impl Store {
    /// Connects, applies pending migrations and opens the blob store under `data_dir`.
    pub fn open(url: &DatabaseUrl, data_dir: &Path, pool_size: u32) -> Result<Store, StoreError> {
        if let DatabaseUrl::Sqlite(path) = url
            && let Some(parent) = Path::new(path).parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)
                .map_err(|e| StoreError::Unavailable(format!("{}: {e}", parent.display())))?;
        }
        let blobs = BlobStore::open(data_dir).map_err(|e| StoreError::Blob(e.to_string()))?;
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
        };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let applied = match &mut *conn {
            AnyConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
            AnyConnection::Postgresql(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|v| v.len()),
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
        conn.transaction(f)
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
