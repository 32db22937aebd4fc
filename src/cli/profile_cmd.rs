//! `prequal profile`: sign a requirement profile with the issuer's key and push the signed
//! version to a registry.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::Outcome;
use crate::package::SecretKey;
use crate::profile::issued::{SignedProfile, check_canonical};

#[derive(Args, Debug)]
pub struct ProfileArgs {
    #[command(subcommand)]
    command: ProfileCommand,
}

#[derive(Subcommand, Debug)]
enum ProfileCommand {
    /// Check a profile JSON file and sign it with the issuer's key: writes a signed profile
    /// envelope (the body `POST /v1/profiles` takes). The version must be a semantic version.
    Sign {
        /// The profile document.
        profile: PathBuf,
        /// The issuing organisation's secret key file (`prequal keygen`; the key registered for
        /// the organisation).
        #[arg(long)]
        key: PathBuf,
        /// Where to write the envelope (default: PROFILE with `.signed.json`).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Register a signed profile version (`prequal profile sign`) with a registry.
    Push {
        /// The signed profile envelope.
        signed: PathBuf,
        /// Registry base URL.
        #[arg(long, env = "PREQUAL_REGISTRY", default_value = "http://127.0.0.1:8080")]
        registry: String,
        /// A certifier token (the issuing organisation's) or an operator token (issues for the
        /// registry operator).
        #[arg(long, env = "PREQUAL_TOKEN", hide_env_values = true)]
        token: String,
        #[arg(long)]
        json: bool,
    },
}

pub(super) fn profile(args: ProfileArgs) -> Outcome {
    match args.command {
        ProfileCommand::Sign { profile, key, out } => sign(&profile, &key, out),
        ProfileCommand::Push { signed, registry, token, json } => push(&signed, &registry, &token, json),
    }
}

fn sign(path: &Path, key: &Path, out: Option<PathBuf>) -> Outcome {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {}: {e}", path.display());
            return Outcome::Failed;
        }
    };
    let (profile, _, _) = match check_canonical(&path.display().to_string(), &bytes) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: [{}] {e}", e.code());
            return Outcome::Refused;
        }
    };
    let key = match SecretKey::read(key) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: {e}");
            return Outcome::Failed;
        }
    };
    let signed = SignedProfile::sign(&profile, &key);
    let out = out.unwrap_or_else(|| path.with_extension("signed.json"));
    let mut text = serde_json::to_string_pretty(&signed).unwrap_or_default();
    text.push('\n');
    if let Err(e) = std::fs::write(&out, text) {
        eprintln!("error: {}: {e}", out.display());
        return Outcome::Failed;
    }
    println!(
        "signed {} {} with key {} (sha256 {}) -> {}",
        profile.id,
        profile.version,
        key.key_id(),
        signed.sha256,
        out.display()
    );
    Outcome::Ok
}

fn push(path: &Path, registry: &str, token: &str, json: bool) -> Outcome {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {}: {e}", path.display());
            return Outcome::Failed;
        }
    };
    let url = format!("{}/v1/profiles", registry.trim_end_matches('/'));
    let sent = super::push_cmd::agent()
        .post(&url)
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .send(&bytes[..]);
    let mut response = match sent {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: could not reach {url}: {e}");
            return Outcome::Failed;
        }
    };
    let status = response.status().as_u16();
    let body = super::push_cmd::response_json(&mut response, 16 << 20);
    if json {
        println!("{}", serde_json::to_string_pretty(&body).unwrap_or_default());
    }
    match status {
        200 | 201 => {
            if !json {
                println!(
                    "{} {} {} by '{}'{}",
                    if status == 201 { "registered" } else { "already registered:" },
                    body["id"].as_str().unwrap_or(""),
                    body["version"].as_str().unwrap_or(""),
                    body["organisation"].as_str().unwrap_or(""),
                    body["log_index"].as_u64().map(|i| format!(", log entry {i}")).unwrap_or_default()
                );
            }
            Outcome::Ok
        }
        _ => {
            eprintln!(
                "refused ({status} {}): {}",
                body["error"]["code"].as_str().unwrap_or("?"),
                body["error"]["message"].as_str().unwrap_or("")
            );
            if status >= 500 { Outcome::Failed } else { Outcome::Refused }
        }
    }
}
