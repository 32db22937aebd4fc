//! prequal: a registry for signed, standardized qualification test-data packages.
//!
//! Labs pack their test data into packages (`package`), sign and verify them offline; the
//! registry verifies every upload with the same code. See `README.md` for the tour.
//!
//! The `server` feature (on by default) brings the registry, CLI, storage, statistics and fit
//! engine. Without it only the formats remain (`package`, `log`, `units`), which is what the
//! fuzz targets under `tests/fuzz` build, instrumented.

#[cfg(feature = "server")]
pub mod audit;
#[cfg(feature = "server")]
pub mod cli;
#[cfg(feature = "server")]
pub mod display;
#[cfg(feature = "server")]
pub mod fit;
#[cfg(feature = "server")]
pub mod http;
pub mod import;
pub mod log;
pub mod package;
#[cfg(feature = "server")]
pub mod profile;
#[cfg(feature = "server")]
pub mod registry;
#[cfg(feature = "server")]
pub mod stats;
#[cfg(feature = "server")]
pub mod store;
pub mod units;
#[cfg(feature = "server")]
pub mod web;
