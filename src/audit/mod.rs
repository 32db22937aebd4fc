//! Checking a registry's transparency log from outside: a client for its log endpoints, the
//! state file that remembers the last checkpoint seen, the consistency rule against it, and the
//! two flows built on them — a witness cosigning (`prequal log cosign`, and a mirror after it
//! has verified a checkpoint: [`cosign_checked`]) and a client requiring a quorum of witnesses
//! (`prequal log verify`). Offline evidence bundles are in [`evidence`].
//!
//! Formats and cryptography are in `crate::log`; this module does the HTTP and the files.

pub mod evidence;
pub mod witness_client;

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use crate::log::checkpoint::{Checkpoint, SignedCheckpoint, SignedCheckpointError};
use crate::log::cosignature::{self, Cosignature, CosignatureError, CosignerKey, Witness};
use crate::log::merkle::{self, Hash};
use crate::log::note::VerifierKey;
use crate::registry::views::{CosignaturesAccepted, InclusionProof, LogEntries, SealedEntry};

/// The largest response body read from a registry (a package download excepted).
const MAX_BODY: u64 = 16 << 20;

/// Why a check of a registry's log failed or could not run. `code()` is stable.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("cannot reach {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("{url} answered {status} {code}: {message}")]
    Registry { url: String, status: u16, code: String, message: String },
    #[error("{url}: unexpected response: {detail}")]
    BadResponse { url: String, detail: String },
    #[error("the checkpoint does not verify with the log key: {0}")]
    Checkpoint(SignedCheckpointError),
    #[error("{0}")]
    Cosignature(CosignatureError),
    #[error("the checkpoint has {got} entries, fewer than the {seen} of the last one seen: refusing to go back")]
    OlderThanSeen { seen: u64, got: u64 },
    #[error("the checkpoint of size {got} is not consistent with the last one seen (size {seen}): {detail}")]
    Inconsistent { seen: u64, got: u64, detail: String },
    #[error("state file {path}: {detail}")]
    State { path: String, detail: String },
    #[error("cannot write {path}: {detail}")]
    Write { path: String, detail: String },
}

impl AuditError {
    pub fn code(&self) -> &str {
        match self {
            AuditError::Unreachable { .. } => "registry_unreachable",
            AuditError::Registry { code, .. } => code,
            AuditError::BadResponse { .. } => "bad_response",
            AuditError::Checkpoint(e) => e.code(),
            AuditError::Cosignature(e) => e.code(),
            AuditError::OlderThanSeen { .. } => "checkpoint_older_than_seen",
            AuditError::Inconsistent { .. } => "checkpoint_inconsistent",
            AuditError::State { .. } => "state_file",
            AuditError::Write { .. } => "write_failed",
        }
    }

    /// True when the registry's answer was checked and refused (exit 1); false when the check
    /// could not run (exit 2).
    pub fn is_refusal(&self) -> bool {
        match self {
            AuditError::Checkpoint(_)
            | AuditError::Cosignature(_)
            | AuditError::OlderThanSeen { .. }
            | AuditError::Inconsistent { .. } => true,
            AuditError::Registry { status, .. } => *status < 500,
            _ => false,
        }
    }
}

/// The HTTP client of prequal's commands that talk to a registry (log clients, mirrors):
/// statuses are answers, not errors; 10 s to connect, 10 min for a whole request.
pub fn http_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(10)))
        .timeout_global(Some(Duration::from_secs(600)))
        .build()
        .new_agent()
}

/// The log endpoints of one registry.
pub struct LogClient {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl LogClient {
    /// `base` is the registry's URL; `token` is sent when given (non-public packages).
    pub fn new(base: &str, token: Option<&str>) -> LogClient {
        LogClient { base: base.trim_end_matches('/').to_owned(), token: token.map(str::to_owned), agent: http_agent() }
    }

    fn send(&self, path: &str, post: Option<&str>, limit: u64) -> Result<Vec<u8>, AuditError> {
        self.send_with_progress(path, post, limit, &mut |_, _| {})
    }

    /// [`LogClient::send`], telling `progress` the bytes received so far and the total the
    /// response announced, as the body arrives.
    fn send_with_progress(
        &self,
        path: &str,
        post: Option<&str>,
        limit: u64,
        progress: &mut dyn FnMut(u64, Option<u64>),
    ) -> Result<Vec<u8>, AuditError> {
        let url = format!("{}{path}", self.base);
        let unreachable = |e: ureq::Error| AuditError::Unreachable { url: url.clone(), detail: e.to_string() };
        let mut res = match post {
            Some(body) => {
                let mut req = self.agent.post(&url).header("Content-Type", "text/plain; charset=utf-8");
                if let Some(t) = &self.token {
                    req = req.header("Authorization", &format!("Bearer {t}"));
                }
                req.send(body).map_err(unreachable)?
            }
            None => {
                let mut req = self.agent.get(&url);
                if let Some(t) = &self.token {
                    req = req.header("Authorization", &format!("Bearer {t}"));
                }
                req.call().map_err(unreachable)?
            }
        };
        let status = res.status().as_u16();
        let total =
            res.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        let bad = |e: std::io::Error| AuditError::BadResponse { url: url.clone(), detail: e.to_string() };
        let mut reader = res.body_mut().with_config().limit(limit).reader();
        let mut body = Vec::new();
        let mut chunk = vec![0u8; 64 << 10];
        loop {
            let n = std::io::Read::read(&mut reader, &mut chunk).map_err(bad)?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
            progress(body.len() as u64, total);
        }
        if !(200..300).contains(&status) {
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let field = |k: &str| v["error"][k].as_str().unwrap_or("").to_owned();
            let code = Some(field("code")).filter(|c| !c.is_empty()).unwrap_or_else(|| format!("http_{status}"));
            return Err(AuditError::Registry { url, status, code, message: field("message") });
        }
        Ok(body)
    }

    fn json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, AuditError> {
        let body = self.send(path, None, MAX_BODY)?;
        serde_json::from_slice(&body)
            .map_err(|e| AuditError::BadResponse { url: format!("{}{path}", self.base), detail: e.to_string() })
    }

    /// `GET /log/checkpoint`: the current checkpoint note, with any cosignatures.
    pub fn checkpoint(&self) -> Result<Vec<u8>, AuditError> {
        self.send("/log/checkpoint", None, MAX_BODY)
    }

    /// `GET /log/checkpoint/cosigned`: the newest cosigned checkpoint, or None if there is none.
    pub fn cosigned_checkpoint(&self) -> Result<Option<Vec<u8>>, AuditError> {
        match self.send("/log/checkpoint/cosigned", None, MAX_BODY) {
            Ok(b) => Ok(Some(b)),
            Err(AuditError::Registry { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /v1/log/proof/consistency`, decoded.
    pub fn consistency(&self, from: u64, to: u64) -> Result<Vec<Hash>, AuditError> {
        #[derive(Deserialize)]
        struct Proof {
            hashes: Vec<String>,
        }
        let path = format!("/v1/log/proof/consistency?from={from}&to={to}");
        let p: Proof = self.json(&path)?;
        decode_hashes(&p.hashes)
            .map_err(|detail| AuditError::BadResponse { url: format!("{}{path}", self.base), detail })
    }

    /// `GET /v1/log/proof/inclusion` of a package's entry in the tree of `size`.
    pub fn inclusion(&self, digest: &str, size: u64) -> Result<InclusionProof, AuditError> {
        self.json(&format!("/v1/log/proof/inclusion?digest={digest}&size={size}"))
    }

    /// The entry at `index`, as text.
    pub fn entry(&self, index: u64) -> Result<String, AuditError> {
        let path = format!("/v1/log/entries?start={index}&end={}", index.saturating_add(1));
        let e: LogEntries = self.json(&path)?;
        e.entries
            .into_iter()
            .next()
            .ok_or_else(|| AuditError::BadResponse { url: format!("{}{path}", self.base), detail: "no entry".into() })
    }

    /// `GET /v1/log/sealed/{index}` (needs a token that may see the package).
    pub fn sealed(&self, index: u64) -> Result<SealedEntry, AuditError> {
        self.json(&format!("/v1/log/sealed/{index}"))
    }

    /// The package file as published.
    pub fn download(&self, digest: &str, limit: u64) -> Result<Vec<u8>, AuditError> {
        self.send(&format!("/v1/packages/{digest}/download"), None, limit)
    }

    /// [`LogClient::download`], telling `progress` (bytes so far, announced total) as it goes.
    pub fn download_with_progress(
        &self,
        digest: &str,
        limit: u64,
        progress: &mut dyn FnMut(u64, Option<u64>),
    ) -> Result<Vec<u8>, AuditError> {
        self.send_with_progress(&format!("/v1/packages/{digest}/download"), None, limit, progress)
    }

    /// `POST /log/cosignature`.
    pub fn submit_cosignature(&self, note: &str) -> Result<CosignaturesAccepted, AuditError> {
        let body = self.send("/log/cosignature", Some(note), MAX_BODY)?;
        serde_json::from_slice(&body).map_err(|e| AuditError::BadResponse {
            url: format!("{}/log/cosignature", self.base),
            detail: e.to_string(),
        })
    }
}

fn decode_hashes(hex_hashes: &[String]) -> Result<Vec<Hash>, String> {
    hex_hashes
        .iter()
        .map(|h| {
            hex::decode(h).ok().and_then(|b| b.try_into().ok()).ok_or_else(|| format!("'{h}' is not a hex SHA-256"))
        })
        .collect()
}

/// The state file: the last checkpoint a witness cosigned or a client accepted, as the signed
/// note it was (JSON `{"origin", "size", "root", "checkpoint"}`; `checkpoint` is authoritative
/// and re-verified with the log key on every load, the rest is for people).
#[derive(Debug, Serialize, Deserialize)]
struct StateFile {
    origin: String,
    size: u64,
    root: String,
    checkpoint: String,
}

/// Reads the last checkpoint seen from `path`; None if the file does not exist yet.
pub fn load_state(path: &Path, log_key: &VerifierKey) -> Result<Option<SignedCheckpoint>, AuditError> {
    let bad = |detail: String| AuditError::State { path: path.display().to_string(), detail };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(bad(e.to_string())),
    };
    let state: StateFile = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    let cp = SignedCheckpoint::verify(state.checkpoint.as_bytes(), log_key)
        .map_err(|e| bad(format!("the stored checkpoint does not verify with this log key: {e}")))?;
    Ok(Some(cp))
}

/// Records `cp` as the last checkpoint seen (written to a temporary file, then renamed).
pub fn save_state(path: &Path, cp: &SignedCheckpoint) -> Result<(), AuditError> {
    let bad = |detail: String| AuditError::State { path: path.display().to_string(), detail };
    let c = cp.checkpoint();
    let state =
        StateFile { origin: c.origin.clone(), size: c.size, root: B64.encode(c.root), checkpoint: cp.note().encode() };
    let json = serde_json::to_vec_pretty(&state).map_err(|e| bad(e.to_string()))?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, json).map_err(|e| bad(e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(|e| bad(e.to_string()))
}

/// The append-only rule between the last checkpoint seen and a new one of the same log: never
/// smaller; at the same size the same root; at a larger size, `proof` (RFC 9162 §2.1.4) must
/// prove the old tree is a prefix of the new one.
pub fn check_consistency(seen: &Checkpoint, new: &Checkpoint, proof: &[Hash]) -> Result<(), AuditError> {
    if new.size < seen.size {
        return Err(AuditError::OlderThanSeen { seen: seen.size, got: new.size });
    }
    merkle::verify_consistency(seen.size, new.size, proof, &seen.root, &new.root)
        .map_err(|e| AuditError::Inconsistent { seen: seen.size, got: new.size, detail: e.to_string() })
}

/// Checks `new` against `seen`, fetching the consistency proof from the registry when needed.
pub fn check_against_seen(
    client: &LogClient,
    seen: Option<&SignedCheckpoint>,
    new: &SignedCheckpoint,
) -> Result<(), AuditError> {
    let Some(seen) = seen else { return Ok(()) };
    let (old, cur) = (seen.checkpoint(), new.checkpoint());
    let proof = if old.size > 0 && old.size < cur.size { client.consistency(old.size, cur.size)? } else { Vec::new() };
    check_consistency(old, cur, &proof)
}

/// For a caller (a mirror) that has verified `checkpoint` and holds the consistency proof from
/// the last checkpoint it cosigned (`seen`): checks the proof, then cosigns at `now` (POSIX
/// seconds). Returns the cosignature line.
pub fn cosign_checked(
    witness: &Witness,
    seen: Option<&SignedCheckpoint>,
    checkpoint: &SignedCheckpoint,
    proof: &[Hash],
    now: u64,
) -> Result<String, AuditError> {
    if let Some(seen) = seen {
        check_consistency(seen.checkpoint(), checkpoint.checkpoint(), proof)?;
    }
    witness.cosign(checkpoint, now).map_err(AuditError::Cosignature)
}

/// The note to submit: the checkpoint text, the log's own signature line and `cosignature`.
pub fn cosigned_note(checkpoint: &SignedCheckpoint, log_key: &VerifierKey, cosignature: &str) -> String {
    let mut note = format!("{}\n", checkpoint.text());
    for sig in checkpoint.note().signatures() {
        if sig.name == log_key.name() && sig.key_id == log_key.key_id() {
            note.push_str(&sig.line());
        }
    }
    note.push_str(cosignature);
    note
}

/// The POSIX time now, in seconds.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// What `prequal log cosign` did.
#[derive(Debug, Serialize)]
pub struct CosignReport {
    pub origin: String,
    pub tree_size: u64,
    pub root: String,
    /// The size of the last checkpoint this witness had cosigned, if any.
    pub previous_size: Option<u64>,
    pub cosignature: String,
    pub accepted: CosignaturesAccepted,
}

/// A witness's round: fetch the registry's checkpoint, verify it with the log key and against
/// the state file, cosign it, record it in the state file, and submit it to the registry.
pub fn cosign_registry(
    client: &LogClient,
    log_key: &VerifierKey,
    witness: &Witness,
    state: Option<&Path>,
) -> Result<CosignReport, AuditError> {
    let note = client.checkpoint()?;
    let cp = SignedCheckpoint::verify(&note, log_key).map_err(AuditError::Checkpoint)?;
    let seen = match state {
        Some(p) => load_state(p, log_key)?,
        None => None,
    };
    check_against_seen(client, seen.as_ref(), &cp)?;
    let line = witness.cosign(&cp, now_secs()).map_err(AuditError::Cosignature)?;
    if let Some(p) = state {
        save_state(p, &cp)?;
    }
    let accepted = client.submit_cosignature(&cosigned_note(&cp, log_key, &line))?;
    let c = cp.checkpoint();
    Ok(CosignReport {
        origin: c.origin.clone(),
        tree_size: c.size,
        root: B64.encode(c.root),
        previous_size: seen.map(|s| s.checkpoint().size),
        cosignature: line.trim_end().to_owned(),
        accepted,
    })
}

/// One witness's cosignature as reported.
#[derive(Debug, Serialize)]
pub struct CosignerReport {
    pub witness: String,
    pub timestamp: u64,
}

/// What `prequal log verify` accepted.
#[derive(Debug, Serialize)]
pub struct VerifyReport {
    pub origin: String,
    pub tree_size: u64,
    pub root: String,
    /// Whether the newest cosigned checkpoint was used (the current one lacked the quorum).
    pub from_cosigned_endpoint: bool,
    pub quorum: usize,
    pub cosigners: Vec<CosignerReport>,
    /// The size of the last checkpoint accepted before, from the state file.
    pub previous_size: Option<u64>,
}

fn cosigners(found: &[Cosignature]) -> Vec<CosignerReport> {
    found.iter().map(|c| CosignerReport { witness: c.witness.to_string(), timestamp: c.timestamp }).collect()
}

/// A client's check of a registry: the log's signature, `quorum` distinct named witnesses, and
/// consistency with the last checkpoint accepted (state file, updated on success). Uses the
/// current checkpoint if it has the quorum, else the newest cosigned one.
pub fn verify_registry(
    client: &LogClient,
    log_key: &VerifierKey,
    witnesses: &[CosignerKey],
    quorum: usize,
    state: Option<&Path>,
) -> Result<VerifyReport, AuditError> {
    // A quorum that the named witnesses can never meet is a usage error, found before fetching.
    if quorum > cosignature::distinct_keys(witnesses) {
        return Err(AuditError::Cosignature(CosignatureError::QuorumTooLarge {
            quorum,
            witnesses: cosignature::distinct_keys(witnesses),
        }));
    }
    let check = |note: &[u8]| -> Result<(SignedCheckpoint, Vec<Cosignature>), AuditError> {
        let cp = SignedCheckpoint::verify(note, log_key).map_err(AuditError::Checkpoint)?;
        let found = cosignature::verify_cosignatures(&cp, witnesses).map_err(AuditError::Cosignature)?;
        Ok((cp, found))
    };
    let (mut cp, mut found) = check(&client.checkpoint()?)?;
    let mut from_cosigned = false;
    if found.len() < quorum
        && let Some(note) = client.cosigned_checkpoint()?
    {
        (cp, found) = check(&note)?;
        from_cosigned = true;
    }
    cosignature::require_quorum(&found, witnesses, quorum).map_err(AuditError::Cosignature)?;
    let seen = match state {
        Some(p) => load_state(p, log_key)?,
        None => None,
    };
    check_against_seen(client, seen.as_ref(), &cp)?;
    if let Some(p) = state {
        save_state(p, &cp)?;
    }
    let c = cp.checkpoint();
    Ok(VerifyReport {
        origin: c.origin.clone(),
        tree_size: c.size,
        root: B64.encode(c.root),
        from_cosigned_endpoint: from_cosigned,
        quorum,
        cosigners: cosigners(&found),
        previous_size: seen.map(|s| s.checkpoint().size),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::merkle::Leaves;

    fn tree(leaves: &[Hash], size: u64) -> Checkpoint {
        Checkpoint {
            origin: "o".into(),
            size,
            root: merkle::root_of_leaves(&leaves[..size as usize]),
            extensions: vec![],
        }
    }

    #[test]
    fn the_append_only_rule() {
        let leaves: Vec<Hash> = (0..9u8).map(|i| merkle::leaf_hash(&[i])).collect();
        let (old, new) = (tree(&leaves, 5), tree(&leaves, 9));
        let proof = merkle::consistency_proof(&mut Leaves(&leaves), 5, 9).unwrap();
        check_consistency(&old, &new, &proof).unwrap();
        check_consistency(&old, &old, &[]).unwrap();
        assert_eq!(check_consistency(&new, &old, &[]).unwrap_err().code(), "checkpoint_older_than_seen");
        // Another history: same sizes, one leaf changed.
        let mut other = leaves.clone();
        other[2] = merkle::leaf_hash(b"rewritten");
        let forked = tree(&other, 9);
        let forked_proof = merkle::consistency_proof(&mut Leaves(&other), 5, 9).unwrap();
        assert_eq!(check_consistency(&old, &forked, &forked_proof).unwrap_err().code(), "checkpoint_inconsistent");
        assert_eq!(check_consistency(&old, &forked, &proof).unwrap_err().code(), "checkpoint_inconsistent");
        assert_eq!(check_consistency(&new, &forked, &[]).unwrap_err().code(), "checkpoint_inconsistent");
        // The first checkpoint seen needs no proof.
        check_consistency(&tree(&leaves, 0), &new, &[]).unwrap();
    }
}
