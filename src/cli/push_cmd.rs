//! `prequal push`: upload a package to a registry, with a progress bar for large files (on a
//! terminal only).

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use super::Outcome;

/// An HTTP client that hands 4xx/5xx answers back instead of failing on them.
pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(10)))
        .build()
        .new_agent()
}

pub(super) fn push(package: &Path, registry: &str, token: &str, json: bool) -> Outcome {
    if let Some(hint) = super::package_cmds::not_a_package_hint(package) {
        eprintln!("error: {hint}");
        return Outcome::Failed;
    }
    let mut file = match File::open(package) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {}: {e}", package.display());
            return Outcome::Failed;
        }
    };
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = super::progress::bar(size, "uploading", json);
    let mut reader = bar.wrap_read(&mut file);
    let url = format!("{}/v1/packages", registry.trim_end_matches('/'));
    let sent = agent()
        .post(&url)
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", "application/zip")
        .header("Content-Length", &size.to_string())
        .send(ureq::SendBody::from_reader(&mut reader as &mut dyn Read));
    bar.finish_and_clear();
    let mut response = match sent {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: could not reach {url}: {e}");
            return Outcome::Failed;
        }
    };
    let status = response.status().as_u16();
    let body = response_json(&mut response, 64 << 20);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"status": status, "body": body})).unwrap_or_default()
        );
    }
    match status {
        200 | 201 => {
            if !json {
                let s = |k: &str| body.get(k).and_then(|v| v.as_str()).unwrap_or("?").to_owned();
                let what = if status == 201 { "published" } else { "already published" };
                println!("{what}: {} {} {}", s("name"), s("version"), s("digest"));
                println!("{}/v1/packages/{}", registry.trim_end_matches('/'), s("digest"));
            }
            Outcome::Ok
        }
        _ => {
            if !json {
                let err = &body["error"];
                eprintln!(
                    "refused ({status} {}): {}",
                    err["code"].as_str().unwrap_or("?"),
                    err["message"].as_str().unwrap_or("")
                );
                if let Some(details) = err["details"].as_array().filter(|d| d.len() > 1) {
                    for d in details {
                        eprintln!("  [{}] {}", d["code"].as_str().unwrap_or("?"), d["message"].as_str().unwrap_or(""));
                    }
                }
            }
            if status >= 500 { Outcome::Failed } else { Outcome::Refused }
        }
    }
}

/// A registry's JSON answer, or an error body (`bad_response`) saying why it could not be read.
pub(super) fn response_json(response: &mut ureq::http::Response<ureq::Body>, limit: u64) -> serde_json::Value {
    response.body_mut().with_config().limit(limit).read_json().unwrap_or_else(
        |e| serde_json::json!({"error": {"code": "bad_response", "message": e.to_string(), "details": []}}),
    )
}
