//! How a key revocation changes registry state: one rule, applied alike by the origin when an
//! operator revokes a key and by every mirror replaying the log entry.
//!
//! A revocation takes effect at its `effective_at` (the earliest of all revocations of the key
//! counts); "compromised" is never undone; packages signed with the key are re-indexed, since
//! those registered after a compromise become suspect.

use diesel::prelude::*;

use super::{RegistryError, Result, search_index};
use crate::store::AnyConnection;
use crate::store::format_time;
use crate::store::models::KeyRow;
use crate::store::schema::{signatures, signing_keys};

/// Refuses a revocation the origin should never log: one that takes effect before the key was
/// registered (no signature by it can predate that, so the date is a mistake).
pub(super) fn check_effective_time(key: &KeyRow, effective_at: i64) -> Result<()> {
    if effective_at < key.added_at {
        return Err(RegistryError::bad_request(format!(
            "effective_at {} is before key {} was registered ({}); a revocation takes effect at or after registration",
            format_time(effective_at),
            key.key_id,
            format_time(key.added_at)
        )));
    }
    Ok(())
}

/// Records the revocation of `key` and returns the updated row.
pub(super) fn apply(
    conn: &mut AnyConnection,
    key: KeyRow,
    effective_at: i64,
    compromised: bool,
    reason: &str,
) -> Result<KeyRow> {
    let mut row = key;
    row.revoked_at = Some(row.revoked_at.map_or(effective_at, |t| t.min(effective_at)));
    row.compromised = row.compromised || compromised;
    row.revocation_reason = Some(reason.to_owned());
    diesel::update(signing_keys::table.find(&row.key_id))
        .set((
            signing_keys::revoked_at.eq(row.revoked_at),
            signing_keys::compromised.eq(row.compromised),
            signing_keys::revocation_reason.eq(&row.revocation_reason),
        ))
        .execute(conn)?;
    let signed: Vec<String> =
        signatures::table.filter(signatures::key_id.eq(&row.key_id)).select(signatures::digest).load(conn)?;
    search_index::refresh(conn, &signed)?;
    Ok(row)
}
