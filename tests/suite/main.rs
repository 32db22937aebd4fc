//! The integration tests, one binary: each file is a module (`api`, `cli`, `mirror`, …), so
//! the test code links once instead of once per file (nextest still runs every test in its own
//! process). Run one file's tests with `cargo nextest run -E 'test(/^api::/)'` or a name
//! filter such as `cargo nextest run api::`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod common;

mod api;
mod api_access;
mod api_conformance;
mod api_fit;
mod api_search;
mod browser;
mod cli;
mod cli_registry;
mod crash;
mod deploy;
mod faults;
mod fit;
mod import;
mod interop;
mod load;
mod log;
mod manifest_schema;
mod mirror;
mod object_store;
mod openapi;
mod package_hostile;
mod package_tamper_proptest;
mod profile_class;
mod profile_issuers;
mod replicas;
mod sample_packages;
mod stats;
mod web_pages;
mod witness;
