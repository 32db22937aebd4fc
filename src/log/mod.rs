//! The transparency log: RFC 9162 Merkle hashing and proofs ([`merkle`]), the entries the
//! registry appends for every state change ([`entry`]), C2SP signed notes ([`note`]),
//! checkpoints ([`checkpoint`]), tile addressing ([`tiles`]) and split-view evidence
//! ([`split_view`]).
//!
//! This module computes and checks; it does no I/O and knows nothing of HTTP or the database
//! (the registry stores the log in `log_entries` and `log_nodes` and calls in here).

pub mod checkpoint;
pub mod cosignature;
// Entries carry registry times, formatted by the store.
#[cfg(feature = "server")]
pub mod entry;
pub mod merkle;
pub mod note;
pub mod split_view;
pub mod tiles;
pub mod tlog_proof;
pub mod witness;
