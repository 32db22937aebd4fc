//! The origin's side of witnessing: accepting cosignatures of the log's checkpoints from the
//! witnesses the registry is configured with (`prequal serve --witness`), storing them in
//! `log_cosignatures`, and serving them with the checkpoint of their tree size.
//!
//! A submission is a checkpoint note carrying one or more cosignature lines. It is accepted
//! only if, in order:
//! 1. it parses as a signed note and a tlog-checkpoint (`malformed_checkpoint`, 400);
//! 2. the log's own signature on it verifies with the log key, its origin is this log's, its
//!    size is at most the log's, and its root is the log's root at that size
//!    (`checkpoint_not_ours`, 422): a witness cannot get the origin to serve a view it never
//!    signed;
//! 3. every line that claims a configured witness (name and key id) verifies as a
//!    cosignature/v1 of that checkpoint (`bad_cosignature`, 422), and there is at least one
//!    (`no_cosignature`, 422). Lines by keys the registry does not know are ignored, as
//!    signed-note requires of verifiers: a witness may add its other keys' lines, or a note may
//!    arrive carrying cosignatures collected elsewhere.
//!
//! Nothing is stored unless every line by a configured witness passes. One cosignature is kept
//! per witness and size: resubmitting (the same line, or a newer one for the same size) stores
//! nothing new.

use diesel::prelude::*;

use super::transparency::{DbNodes, cosignature_lines, head, tree_root_at};
use super::views::CosignaturesAccepted;
use super::{Registry, RegistryError, Result, is_unique_violation};
use crate::log::checkpoint::{SignedCheckpoint, SignedCheckpointError};
use crate::log::cosignature::{Cosignature, CosignerKey, Witness};
use crate::log::merkle::{self, Hash};
use crate::log::note::NoteError;
use crate::log::witness::{
    AddCheckpoint, Recorded, WitnessError, WitnessedLog, check_against_record, verify_checkpoint,
};
use crate::store::schema::{log_cosignatures, witnessed_logs};
use crate::store::{AnyConnection, now_ms};

fn refused(code: &'static str, detail: impl Into<String>) -> RegistryError {
    RegistryError::CosignatureRefused { code, detail: detail.into() }
}

impl Registry {
    /// Accepts cosignatures from `witnesses` (verifier keys, type 0x04).
    pub fn with_witnesses(mut self, witnesses: Vec<CosignerKey>) -> Registry {
        self.witnesses = witnesses;
        self
    }

    pub fn witnesses(&self) -> &[CosignerKey] {
        &self.witnesses
    }

    /// Checks and stores the cosignatures carried by `note` (see the module docs).
    pub fn accept_cosignatures(&self, note: &[u8]) -> Result<CosignaturesAccepted> {
        let key = self.log_key().ok_or_else(|| RegistryError::Unavailable("no log key configured".into()))?;
        // Step 1 and the signature of step 2.
        let signed = SignedCheckpoint::verify(note, key.verifier()).map_err(|e| match e {
            SignedCheckpointError::Note(NoteError::NotSignedByKey { .. } | NoteError::BadSignature { .. })
            | SignedCheckpointError::WrongOrigin { .. } => {
                refused("checkpoint_not_ours", format!("this log did not sign the checkpoint: {e}"))
            }
            other => refused("malformed_checkpoint", other.to_string()),
        })?;
        let cp = signed.checkpoint();
        // The rest of step 2: the log's own root at that size.
        let mut conn = self.store.conn()?;
        let current = head(&mut conn)?.0;
        if cp.size > current {
            return Err(refused(
                "checkpoint_not_ours",
                format!("the checkpoint's size {} is larger than the log ({current} entries)", cp.size),
            ));
        }
        if tree_root_at(&mut conn, cp.size)? != cp.root {
            return Err(refused(
                "checkpoint_not_ours",
                format!("the checkpoint's root is not this log's root at size {}", cp.size),
            ));
        }
        drop(conn);
        // Step 3.
        let mut cosignatures: Vec<Cosignature> = Vec::new();
        for sig in signed.note().signatures() {
            if sig.name == key.origin() && sig.key_id == key.verifier().key_id() {
                continue;
            }
            // signed-note: lines by unknown keys are ignored, not refused.
            let Some(witness) = self.witnesses.iter().find(|w| w.claims(sig)) else { continue };
            let cosig = witness.verify(signed.text(), sig).map_err(|e| refused("bad_cosignature", e.to_string()))?;
            if !cosignatures.iter().any(|c| c.witness == cosig.witness) {
                cosignatures.push(cosig);
            }
        }
        if cosignatures.is_empty() {
            return Err(refused("no_cosignature", "the note carries no cosignature by a witness this log accepts"));
        }
        let size = i64::try_from(cp.size).map_err(|_| RegistryError::Internal("tree size out of range".into()))?;
        let store = || {
            self.store.write(|conn| -> Result<(Vec<String>, Vec<String>)> {
                let (mut stored, mut already) = (Vec::new(), Vec::new());
                for c in &cosignatures {
                    let witness = c.witness.to_string();
                    let exists = log_cosignatures::table.find((&witness, size)).count().get_result::<i64>(conn)? > 0;
                    if exists {
                        already.push(witness);
                        continue;
                    }
                    diesel::insert_into(log_cosignatures::table)
                        .values((
                            log_cosignatures::witness.eq(&witness),
                            log_cosignatures::tree_size.eq(size),
                            log_cosignatures::root_hash.eq(cp.root.as_slice()),
                            log_cosignatures::cosigned_at.eq(i64::try_from(c.timestamp).unwrap_or(i64::MAX)),
                            log_cosignatures::line.eq(&c.line),
                            log_cosignatures::received_at.eq(now_ms()),
                        ))
                        .execute(conn)
                        .map_err(|e| {
                            if is_unique_violation(&e) {
                                RegistryError::Conflict(format!("{witness} cosigned size {size} concurrently"))
                            } else {
                                e.into()
                            }
                        })?;
                    stored.push(witness);
                }
                Ok((stored, already))
            })
        };
        // Two submissions of one witness's cosignature racing: the loser finds it stored.
        let (stored, already_stored) = match store() {
            Err(RegistryError::Conflict(_)) => store()?,
            other => other?,
        };
        Ok(CosignaturesAccepted { tree_size: cp.size, stored, already_stored })
    }

    /// A mirror acting as a witness: keeps its own cosignature `line` (by `witness`, at
    /// `timestamp`) of the upstream checkpoint `signed` it has verified and committed, so its
    /// `GET /log/checkpoint` serves the checkpoint with it. Storing it twice is harmless.
    pub fn keep_own_cosignature(
        &self,
        witness: &CosignerKey,
        signed: &SignedCheckpoint,
        line: &str,
        timestamp: u64,
    ) -> Result<()> {
        let cp = signed.checkpoint();
        let size = i64::try_from(cp.size).map_err(|_| RegistryError::Internal("tree size out of range".into()))?;
        let name = witness.to_string();
        self.store.write(|conn| -> Result<()> {
            let exists = log_cosignatures::table.find((&name, size)).count().get_result::<i64>(conn)? > 0;
            if !exists {
                diesel::insert_into(log_cosignatures::table)
                    .values((
                        log_cosignatures::witness.eq(&name),
                        log_cosignatures::tree_size.eq(size),
                        log_cosignatures::root_hash.eq(cp.root.as_slice()),
                        log_cosignatures::cosigned_at.eq(i64::try_from(timestamp).unwrap_or(i64::MAX)),
                        log_cosignatures::line.eq(line),
                        log_cosignatures::received_at.eq(now_ms()),
                    ))
                    .execute(conn)?;
            }
            Ok(())
        })
    }

    /// The newest checkpoint that witnesses cosigned, with their cosignatures: the largest tree
    /// size in `log_cosignatures`. Not found while no witness has cosigned.
    pub fn cosigned_checkpoint(&self) -> Result<String> {
        if self.log_key.is_none() {
            // A mirror serves its upstream's, with its own cosignature if it witnesses.
            let mut note = self.mirrored_cosigned_checkpoint()?.ok_or_else(|| {
                RegistryError::not_found("no witness has cosigned a checkpoint of the entries this mirror holds yet")
            })?;
            if let Some(size) = note.lines().nth(1).and_then(|l| l.parse::<u64>().ok()) {
                for line in cosignature_lines(&mut *self.store.conn()?, size)? {
                    if !note.contains(line.as_str()) {
                        note.push_str(&line);
                    }
                }
            }
            return Ok(note);
        }
        let mut conn = self.store.conn()?;
        let size: Option<i64> =
            log_cosignatures::table.select(diesel::dsl::max(log_cosignatures::tree_size)).first(&mut conn)?;
        let size = size.ok_or_else(|| RegistryError::not_found("no witness has cosigned a checkpoint yet"))?;
        let size = u64::try_from(size).map_err(|_| RegistryError::Internal("stored tree size below zero".into()))?;
        let mut note = self.signed_checkpoint(&mut conn, size)?;
        for line in cosignature_lines(&mut conn, size)? {
            note.push_str(&line);
        }
        Ok(note)
    }
}

/// This registry as a C2SP tlog-witness (`POST /add-checkpoint`) of the configured logs, any
/// C2SP log and not only prequal's: the key it cosigns with and the logs it cosigns for. What
/// it last cosigned of each log is in `witnessed_logs`.
pub struct WitnessService {
    witness: Witness,
    logs: Vec<WitnessedLog>,
}

impl WitnessService {
    pub fn new(witness: Witness, logs: Vec<WitnessedLog>) -> WitnessService {
        WitnessService { witness, logs }
    }

    pub fn witness(&self) -> &Witness {
        &self.witness
    }

    pub fn logs(&self) -> &[WitnessedLog] {
        &self.logs
    }
}

/// What the witness recorded of `origin`.
fn recorded(conn: &mut AnyConnection, origin: &str) -> Result<Option<Recorded>> {
    let row: Option<(i64, Vec<u8>)> = witnessed_logs::table
        .find(origin)
        .select((witnessed_logs::tree_size, witnessed_logs::root_hash))
        .first(conn)
        .optional()?;
    row.map(|(size, root)| {
        let size = u64::try_from(size).map_err(|_| RegistryError::Internal("a witnessed size below zero".into()))?;
        let root = root.try_into().map_err(|_| RegistryError::Internal("a witnessed root is not 32 bytes".into()))?;
        Ok(Recorded { size, root })
    })
    .transpose()
}

impl Registry {
    /// Acts as a tlog-witness with `service`.
    pub fn with_witness_service(mut self, service: WitnessService) -> Registry {
        self.witness_service = Some(service);
        self
    }

    pub fn witness_service(&self) -> Option<&WitnessService> {
        self.witness_service.as_ref()
    }

    /// tlog-witness `add-checkpoint`: checks the request (see [`crate::log::witness`]), records
    /// the checkpoint as the last cosigned of its log (atomically with the check against the
    /// previous record, so concurrent requests cannot roll the log back) and returns the
    /// cosignature line. A witness that is not configured knows no log (404).
    pub fn add_checkpoint(&self, body: &[u8]) -> Result<String> {
        let refused = RegistryError::WitnessRefused;
        let req = AddCheckpoint::parse(body).map_err(refused)?;
        let Some(service) = &self.witness_service else {
            let origin = String::from_utf8_lossy(&req.note).lines().next().unwrap_or_default().to_owned();
            return Err(refused(WitnessError::UnknownOrigin(origin)));
        };
        let trusted = verify_checkpoint(&service.logs, &req.note).map_err(refused)?;
        let cp = trusted.checkpoint();
        let size =
            i64::try_from(cp.size).map_err(|_| refused(WitnessError::Malformed("tree size out of range".into())))?;
        let note = String::from_utf8_lossy(&req.note).into_owned();
        let record = || {
            self.store.write(|conn| -> Result<()> {
                let before = recorded(conn, &cp.origin)?;
                check_against_record(req.old_size, &req.proof, cp, before).map_err(refused)?;
                let values = (
                    witnessed_logs::tree_size.eq(size),
                    witnessed_logs::root_hash.eq(cp.root.as_slice()),
                    witnessed_logs::checkpoint.eq(&note),
                    witnessed_logs::updated_at.eq(now_ms()),
                );
                let changed = match before {
                    None => diesel::insert_into(witnessed_logs::table)
                        .values((witnessed_logs::origin.eq(&cp.origin), values))
                        .execute(conn)
                        .map_err(|e| {
                            if is_unique_violation(&e) {
                                RegistryError::Conflict(format!("'{}' was witnessed concurrently", cp.origin))
                            } else {
                                e.into()
                            }
                        })?,
                    // Compare and swap: only the record the checks were made against is replaced.
                    Some(r) => diesel::update(
                        witnessed_logs::table
                            .find(&cp.origin)
                            .filter(witnessed_logs::tree_size.eq(i64::try_from(r.size).unwrap_or(i64::MAX)))
                            .filter(witnessed_logs::root_hash.eq(r.root.as_slice())),
                    )
                    .set(values)
                    .execute(conn)?,
                };
                if changed != 1 {
                    return Err(RegistryError::Conflict(format!("'{}' was witnessed concurrently", cp.origin)));
                }
                Ok(())
            })
        };
        // A concurrent request moved the record: check again against the new one (which then
        // answers 409 with the size it recorded, unless this request is the same checkpoint).
        match record() {
            Err(RegistryError::Conflict(_)) => record()?,
            other => other?,
        }
        service
            .witness
            .cosign_text(trusted.text(), crate::audit::now_secs())
            .map_err(|e| RegistryError::Internal(format!("cosigning: {e}")))
    }

    /// The checkpoint of `size` entries signed by this log, without cosignatures (what an
    /// origin sends its witnesses).
    pub fn checkpoint_at(&self, size: u64) -> Result<String> {
        let mut conn = self.store.conn()?;
        let current = head(&mut conn)?.0;
        if size > current {
            return Err(RegistryError::bad_request(format!("size: {size} is larger than the log ({current} entries)")));
        }
        self.signed_checkpoint(&mut conn, size)
    }

    /// The consistency proof between two sizes as hashes (see `consistency_proof` for JSON).
    pub fn consistency_hashes(&self, from: u64, to: u64) -> Result<Vec<Hash>> {
        let mut conn = self.store.conn()?;
        let current = head(&mut conn)?.0;
        if from > to || to > current {
            return Err(RegistryError::bad_request(format!(
                "no consistency proof from {from} to {to} in a log of {current}"
            )));
        }
        merkle::consistency_proof(&mut DbNodes(&mut conn), from, to)
    }
}
