//! `prequal admin`: the registry's offline management, on the storage `serve` uses (the
//! operator's authority on the machine): organisations, keys, tokens, integrity checks, mirror
//! resumption.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand};

use super::Outcome;
use super::serve_cmds::{StorageArgs, fail};
use crate::log::checkpoint::Checkpoint;
use crate::log::note::{Note, VerifierKey};
use crate::registry::integrity::Problem;
use crate::registry::views::{KeyRevocation, NewKey, NewOrganisation, NewToken};
use crate::registry::{OrgKind, Policy, Registry, RegistryError, Role};

#[derive(Args, Debug)]
pub struct AdminArgs {
    #[command(flatten)]
    storage: StorageArgs,
    /// Print results as JSON.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand, Debug)]
enum AdminCommand {
    /// Organisations: add, list, show.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Signing keys: add, revoke.
    #[command(subcommand)]
    Key(KeyCommand),
    /// API tokens: create (shown once), list, revoke.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Re-check every stored package (file hash, full verification) and the log (leaf hashes,
    /// sealed commitments, root); exit 1 if anything is wrong. Run it after a restore or a crash.
    Check {
        /// Also require the log to extend this signed checkpoint (as `GET /log/checkpoint`
        /// served it, e.g. when the backup was taken): same root at its size.
        #[arg(long, value_name = "FILE", requires = "log_verifier")]
        checkpoint: Option<PathBuf>,
        /// File holding the log's verifier key (as `GET /log/key` serves it), to check the
        /// checkpoint's signature.
        #[arg(long, value_name = "FILE")]
        log_verifier: Option<PathBuf>,
    },
    /// Lift a mirror's halt after reviewing its split-view evidence (`GET /v1/mirror` names
    /// the file; `prequal log check-evidence` checks it). The next sync checks the upstream
    /// against everything verified so far: a split view that persists halts it again.
    MirrorResume,
    /// Remove blobs and temporary files left by interrupted uploads.
    Sweep {
        /// Only list what would be removed.
        #[arg(long)]
        dry_run: bool,
        /// Leave anything younger than this many seconds (uploads still in progress).
        #[arg(long, default_value_t = 3600)]
        grace: u64,
    },
}

#[derive(Subcommand, Debug)]
enum OrgCommand {
    /// Register an organisation.
    Add {
        /// The organisation's id: lowercase letters, digits and '-' (used in URLs and tokens).
        id: String,
        /// The organisation's display name.
        #[arg(long)]
        name: String,
        /// lab, oem, certifier, mirror or operator.
        #[arg(long)]
        kind: String,
        /// ISO 3166-1 alpha-2 code.
        #[arg(long)]
        country: String,
    },
    List,
    Show {
        /// The organisation's id.
        id: String,
    },
}

#[derive(Subcommand, Debug)]
enum KeyCommand {
    /// Register a public key (as printed by `prequal keygen`) for an organisation.
    Add {
        /// The organisation's id.
        organisation: String,
        /// The public key, as `prequal keygen` printed it.
        #[arg(long)]
        public_key: String,
    },
    /// Revoke a key from an effective time (default now).
    Revoke {
        /// The key id, as `prequal keygen` printed it.
        key_id: String,
        /// Why the key is revoked (kept in the log).
        #[arg(long)]
        reason: String,
        /// RFC 3339 time from which the key is invalid; may be in the past.
        #[arg(long)]
        effective_at: Option<String>,
        /// The key was compromised: packages registered since the effective time become suspect.
        #[arg(long)]
        compromised: bool,
    },
}

#[derive(Subcommand, Debug)]
enum TokenCommand {
    /// Issue a token; it is printed once and cannot be recovered.
    Create {
        /// The organisation's id.
        organisation: String,
        /// operator, lab, certifier or reader.
        #[arg(long)]
        role: String,
        #[arg(long, default_value = "")]
        label: String,
    },
    List,
    Revoke {
        /// The token's id, as `admin token list` shows it.
        id: String,
    },
}

fn show<T: serde::Serialize>(json: bool, value: &T, human: impl FnOnce(&T) -> String) {
    if json {
        println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
    } else {
        println!("{}", human(value));
    }
}

pub(super) fn admin(args: AdminArgs) -> Outcome {
    // One connection: a larger pool would open spare connections in the background, and one
    // still opening when the command exits can crash inside libpq.
    let mut storage = args.storage.clone();
    storage.pool_size = 1;
    let registry = match storage.open(Policy::default()) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    match run_admin(&registry, args.command, args.json) {
        Ok(()) => Outcome::Ok,
        Err(e) => {
            eprintln!("error [{}]: {e}", e.code());
            if e.status() < 500 { Outcome::Refused } else { Outcome::Failed }
        }
    }
}

/// Whether the log extends the signed checkpoint in `checkpoint` (signature checked with the
/// verifier key in `verifier`).
fn check_checkpoint(registry: &Registry, checkpoint: &Path, verifier: &Path) -> Result<(), String> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("reading {}: {e}", p.display()));
    let vk_text = String::from_utf8(read(verifier)?).map_err(|_| format!("{} is not UTF-8", verifier.display()))?;
    let vk = VerifierKey::parse(vk_text.trim()).map_err(|e| format!("{}: {e}", verifier.display()))?;
    let note = Note::parse(&read(checkpoint)?).map_err(|e| format!("not a signed note: {e}"))?;
    let text = note.verify(&vk).map_err(|e| format!("signature: {e}"))?;
    let cp = Checkpoint::parse(text).map_err(|e| format!("not a checkpoint: {e}"))?;
    let size = registry.log_size().map_err(|e| e.to_string())?;
    if cp.size > size {
        return Err(format!("the checkpoint has {} entries, the log only {size}", cp.size));
    }
    let root = registry.log_root(cp.size).map_err(|e| e.to_string())?;
    if root != cp.root {
        return Err(format!("the log's root at size {} differs from the checkpoint's", cp.size));
    }
    Ok(())
}

fn run_admin(registry: &Registry, command: AdminCommand, json: bool) -> Result<(), RegistryError> {
    match command {
        AdminCommand::Org(OrgCommand::Add { id, name, kind, country }) => {
            let org =
                registry.create_organisation(&NewOrganisation { id, name, kind: OrgKind::parse(&kind)?, country })?;
            show(json, &org, |o| format!("organisation {} ({}, {}) registered", o.id, o.kind.as_str(), o.country));
        }
        AdminCommand::Org(OrgCommand::List) => {
            let orgs = registry.list_organisations()?;
            show(json, &orgs, |list| {
                list.iter()
                    .map(|o| format!("{:<32} {:<10} {}  {}", o.id, o.kind.as_str(), o.country, o.name))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        AdminCommand::Org(OrgCommand::Show { id }) => {
            let org = registry.get_organisation(&id)?;
            show(json, &org, |o| {
                let mut s = format!(
                    "{} ({}, {}): {}",
                    o.organisation.id,
                    o.organisation.kind.as_str(),
                    o.organisation.country,
                    o.organisation.name
                );
                for k in &o.keys {
                    s.push_str(&format!("\n  key {} {} {}", k.key_id, k.status, k.public_key));
                }
                s
            });
        }
        AdminCommand::Key(KeyCommand::Add { organisation, public_key }) => {
            let key = registry.add_key(&organisation, &NewKey { public_key })?;
            show(json, &key, |k| format!("key {} registered for {}", k.key_id, k.organisation));
        }
        AdminCommand::Key(KeyCommand::Revoke { key_id, reason, effective_at, compromised }) => {
            let key = registry.revoke_key(&key_id, &KeyRevocation { effective_at, compromised, reason })?;
            show(json, &key, |k| {
                format!(
                    "key {} revoked from {}{}",
                    k.key_id,
                    k.revoked_at.as_deref().unwrap_or("?"),
                    if k.compromised { " (compromised: packages registered since then are suspect)" } else { "" }
                )
            });
        }
        AdminCommand::Token(TokenCommand::Create { organisation, role, label }) => {
            let token = registry.create_token(&NewToken { organisation, role: Role::parse(&role)?, label })?;
            show(json, &token, |t| {
                format!(
                    "token {} for {} ({}); shown only now, store it safely:\n{}",
                    t.info.id,
                    t.info.organisation,
                    t.info.role.as_str(),
                    t.token
                )
            });
        }
        AdminCommand::Token(TokenCommand::List) => {
            let tokens = registry.list_tokens()?;
            show(json, &tokens, |list| {
                list.iter()
                    .map(|t| {
                        format!(
                            "{}  {:<32} {:<10} {}{}",
                            t.id,
                            t.organisation,
                            t.role.as_str(),
                            t.label,
                            t.revoked_at.as_ref().map(|r| format!("  (revoked {r})")).unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        AdminCommand::Token(TokenCommand::Revoke { id }) => {
            let token = registry.revoke_token(&id)?;
            show(json, &token, |t| format!("token {} revoked", t.id));
        }
        AdminCommand::Check { checkpoint, log_verifier } => {
            let mut report = registry.check_integrity(&mut |p| log::info!("{p}"))?;
            if let (Some(cp), Some(vk)) = (checkpoint, log_verifier)
                && let Err(message) = check_checkpoint(registry, &cp, &vk)
            {
                report.problems.push(Problem {
                    code: "checkpoint_mismatch",
                    subject: cp.display().to_string(),
                    message,
                });
            }
            show(json, &report, |r| {
                let mut out = format!(
                    "{} package(s), {} verified; log of {} entries, root {}",
                    r.packages, r.packages_verified, r.log_size, r.log_root
                );
                for p in &r.problems {
                    out.push_str(&format!("\n{}: {}: {}", p.code, p.subject, p.message));
                }
                out
            });
            if !report.ok() {
                return Err(RegistryError::Conflict(format!(
                    "the integrity check found {} problem(s)",
                    report.problems.len()
                )));
            }
        }
        AdminCommand::MirrorResume => {
            let reason = registry.resume_mirror()?;
            show(json, &serde_json::json!({ "resumed": true, "was_halted_for": reason }), |_| {
                format!("mirror resumed (it was halted: {reason}); the next sync checks the upstream again")
            });
        }
        AdminCommand::Sweep { dry_run, grace } => {
            let orphans = registry.sweep_orphans(Duration::from_secs(grace), dry_run)?;
            show(json, &orphans, |o| {
                format!("{} unreferenced blob(s){}", o.len(), if dry_run { " would be removed" } else { " removed" })
            });
        }
    }
    Ok(())
}
