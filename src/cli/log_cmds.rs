//! `prequal log …` (witness keys, cosigning, checking a registry's log against a quorum of
//! witnesses) and `prequal evidence export`. The work is in `crate::audit`.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::json;

use super::Outcome;
use crate::audit::{self, AuditError, LogClient, evidence};
use crate::log::cosignature::{CosignerKey, Witness, distinct_keys};
use crate::log::note::VerifierKey;
use crate::package::SecretKey;

#[derive(Args, Debug)]
pub struct LogArgs {
    #[command(subcommand)]
    command: LogCommand,
}

#[derive(Subcommand, Debug)]
enum LogCommand {
    /// Check a split-view evidence bundle (written by a mirror) offline: both checkpoints
    /// signed by the key and provably inconsistent. Exit 0 if it proves a split view, 1 if not,
    /// 2 if unreadable.
    CheckEvidence {
        /// The evidence bundle file (JSON) the mirror wrote.
        file: PathBuf,
        /// The log's verifier key; must be the bundle's (default: the key the bundle names).
        #[arg(long, value_name = "VKEY")]
        key: Option<String>,
    },
    /// Print a witness's verifier key (`<name>+<key id>+<base64(0x04 ‖ key)>`) for a
    /// `prequal keygen` key file: give it to the registries the witness cosigns for.
    WitnessKey {
        /// The witness's secret key file (written by `prequal keygen`).
        #[arg(long)]
        key: PathBuf,
        /// The witness's name, e.g. `witness.example.org/w1` (no spaces, no '+').
        #[arg(long)]
        name: String,
        /// Print the result as JSON (for scripts).
        #[arg(long)]
        json: bool,
    },
    /// As a witness: fetch the registry's checkpoint, verify it with the log key and its
    /// consistency with the last one this witness cosigned (--state), cosign it and submit the
    /// cosignature to the registry.
    Cosign {
        #[command(flatten)]
        target: Target,
        /// The witness's secret key file (written by `prequal keygen`).
        #[arg(long)]
        key: PathBuf,
        /// The witness's name (as in its verifier key).
        #[arg(long)]
        name: String,
        /// Remembers the last checkpoint cosigned; a smaller or inconsistent one is refused.
        #[arg(long)]
        state: Option<PathBuf>,
        /// Print the result as JSON (for scripts).
        #[arg(long)]
        json: bool,
    },
    /// As a client: check the registry's checkpoint with the log key, require --quorum of the
    /// named witnesses to have cosigned it (each witness key counts once), and check it is
    /// consistent with the last one accepted (--state). Exit 1 if refused.
    Verify {
        #[command(flatten)]
        target: Target,
        /// A witness's verifier key; repeat for several.
        #[arg(long = "witness", value_name = "VKEY")]
        witnesses: Vec<String>,
        /// How many distinct named witnesses must have cosigned (default: all of them).
        #[arg(long)]
        quorum: Option<usize>,
        /// Remembers the last checkpoint accepted; a smaller or inconsistent one is refused.
        #[arg(long)]
        state: Option<PathBuf>,
        /// Print the result as JSON (for scripts).
        #[arg(long)]
        json: bool,
    },
}

/// The registry and its log key.
#[derive(Args, Debug)]
struct Target {
    /// Registry base URL.
    #[arg(long, env = "PREQUAL_REGISTRY", default_value = "http://127.0.0.1:8080")]
    registry: String,
    /// The log's verifier key, `<origin>+<key id>+<base64>` (as served at /log/key; obtain it
    /// out of band, never from the registry being checked).
    #[arg(long, value_name = "VKEY")]
    log_key: String,
}

#[derive(Args, Debug)]
pub struct EvidenceArgs {
    #[command(subcommand)]
    command: EvidenceCommand,
}

#[derive(Subcommand, Debug)]
enum EvidenceCommand {
    /// Write an offline evidence bundle for a package: the package as published, its log
    /// entry, its inclusion proof and a cosigned checkpoint covering it (JSON,
    /// `prequal-evidence-v1`). Check it with `prequal verify FILE --log-key …`.
    Export {
        /// Registry base URL.
        #[arg(long, env = "PREQUAL_REGISTRY", default_value = "http://127.0.0.1:8080")]
        registry: String,
        /// The package digest, `sha256:<hex>`.
        #[arg(long)]
        digest: String,
        /// The bundle file to write.
        #[arg(long)]
        out: PathBuf,
        /// Also write the C2SP tlog-proof (index, inclusion proof, checkpoint with its
        /// cosignatures) on its own to this file, for tools that read that format.
        #[arg(long, value_name = "FILE")]
        tlog_proof: Option<PathBuf>,
        /// An API token, for packages that are not public.
        #[arg(long, env = "PREQUAL_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Print the result as JSON (for scripts).
        #[arg(long)]
        json: bool,
    },
}

/// POSIX seconds as RFC 3339, for people.
pub(super) fn secs_to_time(secs: u64) -> String {
    crate::store::format_time(i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX))
}

fn print_json(value: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

fn usage(e: impl std::fmt::Display) -> Outcome {
    eprintln!("error: {e}");
    Outcome::Failed
}

fn report_error(e: &AuditError, json: bool) -> Outcome {
    if json {
        print_json(&json!({"ok": false, "code": e.code(), "message": e.to_string()}));
    }
    eprintln!("{} [{}]: {e}", if e.is_refusal() { "REFUSED" } else { "error" }, e.code());
    if e.is_refusal() { Outcome::Refused } else { Outcome::Failed }
}

fn witness(key: &Path, name: &str) -> Result<Witness, String> {
    let secret = SecretKey::read(key).map_err(|e| e.to_string())?;
    Witness::new(name, secret.signing_key().clone()).map_err(|e| format!("--name: {e}"))
}

/// Parses `--witness` values.
pub(super) fn parse_witnesses(values: &[String]) -> Result<Vec<CosignerKey>, String> {
    values.iter().map(|w| CosignerKey::parse(w).map_err(|e| format!("--witness {w}: [{}] {e}", e.code()))).collect()
}

pub(super) fn parse_log_key(value: &str) -> Result<VerifierKey, String> {
    VerifierKey::parse(value.trim()).map_err(|e| format!("--log-key: [{}] {e}", e.code()))
}

pub(super) fn log(args: LogArgs) -> Outcome {
    match args.command {
        LogCommand::CheckEvidence { file, key } => super::mirror_cmd::check_evidence(file, key),
        LogCommand::WitnessKey { key, name, json } => {
            let w = match witness(&key, &name) {
                Ok(w) => w,
                Err(e) => return usage(e),
            };
            if json {
                print_json(&json!({"name": name, "verifier_key": w.verifier().to_string()}));
            } else {
                println!("{}", w.verifier());
            }
            Outcome::Ok
        }
        LogCommand::Cosign { target, key, name, state, json } => {
            let (w, log_key) = match witness(&key, &name).and_then(|w| Ok((w, parse_log_key(&target.log_key)?))) {
                Ok(v) => v,
                Err(e) => return usage(e),
            };
            let client = LogClient::new(&target.registry, None);
            match audit::cosign_registry(&client, &log_key, &w, state.as_deref()) {
                Ok(r) => {
                    if json {
                        print_json(&json!({"ok": true, "report": r}));
                    } else {
                        println!("cosigned {} at size {} (root {})", r.origin, r.tree_size, r.root);
                        match r.previous_size {
                            Some(p) => println!("  consistent with the last checkpoint cosigned (size {p})"),
                            None => println!("  no earlier checkpoint recorded (first cosignature or no --state)"),
                        }
                        println!(
                            "  registry stored {} new, {} already present",
                            r.accepted.stored.len(),
                            r.accepted.already_stored.len()
                        );
                    }
                    Outcome::Ok
                }
                Err(e) => report_error(&e, json),
            }
        }
        LogCommand::Verify { target, witnesses, quorum, state, json } => {
            let parsed = parse_log_key(&target.log_key).and_then(|k| Ok((k, parse_witnesses(&witnesses)?)));
            let (log_key, witnesses) = match parsed {
                Ok(v) => v,
                Err(e) => return usage(e),
            };
            let quorum = quorum.unwrap_or_else(|| distinct_keys(&witnesses));
            let client = LogClient::new(&target.registry, None);
            match audit::verify_registry(&client, &log_key, &witnesses, quorum, state.as_deref()) {
                Ok(r) => {
                    if json {
                        print_json(&json!({"ok": true, "report": r}));
                    } else {
                        println!("VERIFIED {} at size {} (root {})", r.origin, r.tree_size, r.root);
                        println!("  signed by the log key");
                        println!("  cosigned by {} of the named witnesses (quorum {}):", r.cosigners.len(), r.quorum);
                        for c in &r.cosigners {
                            println!("    {} at {}", c.witness, secs_to_time(c.timestamp));
                        }
                        if r.from_cosigned_endpoint {
                            println!(
                                "  (the current checkpoint lacked the quorum; the newest cosigned one was checked)"
                            );
                        }
                        match r.previous_size {
                            Some(p) => println!("  consistent with the last checkpoint accepted (size {p})"),
                            None => println!("  no earlier checkpoint recorded (first check or no --state)"),
                        }
                    }
                    Outcome::Ok
                }
                Err(e) => report_error(&e, json),
            }
        }
    }
}

pub(super) fn evidence(args: EvidenceArgs) -> Outcome {
    match args.command {
        EvidenceCommand::Export { registry, digest, out, tlog_proof, token, json } => {
            let client = LogClient::new(&registry, token.as_deref());
            // A bar for the package's download, drawn once its size is announced (on a terminal,
            // not with --json, and only for large packages).
            let mut bar: Option<indicatif::ProgressBar> = None;
            let exported = {
                let mut progress = |done: u64, total: Option<u64>| {
                    if let Some(total) = total {
                        bar.get_or_insert_with(|| super::progress::bar(total, "downloading", json)).set_position(done);
                    }
                };
                evidence::export_bundle(&client, &digest, &out, tlog_proof.as_deref(), &mut progress)
            };
            if let Some(bar) = bar.take() {
                bar.finish_and_clear();
            }
            match exported {
                Ok(r) => {
                    if json {
                        print_json(&json!({"ok": true, "report": r, "bundle": out.display().to_string()}));
                    } else {
                        println!("wrote {} ({} bytes)", out.display(), r.bytes);
                        println!(
                            "  {} entry {} in a checkpoint of size {} with {} cosignature line(s){}",
                            r.digest,
                            r.leaf_index,
                            r.tree_size,
                            r.cosignatures,
                            if r.sealed { "; sealed entry opened" } else { "" }
                        );
                        if !r.cosigned_checkpoint {
                            eprintln!(
                                "warning: no cosigned checkpoint covers this package yet; the bundle holds the current one, which a verifier requiring witnesses will refuse"
                            );
                        }
                        println!(
                            "Check it offline: prequal verify {} --log-key LOG-VKEY --witness W-VKEY …",
                            out.display()
                        );
                    }
                    Outcome::Ok
                }
                Err(e) => report_error(&e, json),
            }
        }
    }
}
