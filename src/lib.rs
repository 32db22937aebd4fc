//! prequal: a registry for signed, standardized qualification test-data packages.
//!
//! Labs pack their test data into packages (`package`), sign and verify them offline; the
//! registry verifies every upload with the same code. See `README.md` for the tour.

pub mod audit;
pub mod cli;
pub mod fit;
pub mod http;
pub mod log;
pub mod package;
pub mod profile;
pub mod registry;
pub mod stats;
pub mod store;
pub mod units;
pub mod web;
