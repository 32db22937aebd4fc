//! The origin's side of C2SP `tlog-witness`: sending each new checkpoint, with the consistency
//! proof from the size the witness last cosigned, to every witness configured with a URL
//! (`prequal serve --witness VKEY=URL`), and storing the cosignatures it answers with through
//! the same checks as `POST /log/cosignature` (so they are served with the checkpoint).
//!
//! The origin does not know a witness's recorded size at first: it sends `old 0`, and a witness
//! that cosigned this log before answers 409 with its size, which the next request uses. A
//! witness that fails or refuses is retried with exponential backoff.

use std::time::{Duration, Instant};

use crate::log::cosignature::CosignerKey;
use crate::log::witness::{AddCheckpoint, SIZE_CONTENT_TYPE};
use crate::registry::Registry;

/// The largest answer read from a witness (a few signature lines).
const MAX_ANSWER: u64 = 64 * 1024;
/// The longest wait between tries of a failing witness.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// A witness the origin asks for cosignatures: its cosigner key and submission prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessEndpoint {
    pub key: CosignerKey,
    /// The submission prefix; requests go to `<url>/add-checkpoint`.
    pub url: String,
}

impl WitnessEndpoint {
    /// `<verifier key>=<submission prefix URL>` (verifier keys hold no '=').
    pub fn parse(spec: &str) -> Result<Option<WitnessEndpoint>, String> {
        let (vkey, url) = match spec.split_once('=') {
            Some((k, u)) => (k, Some(u)),
            None => (spec, None),
        };
        let key = CosignerKey::parse(vkey).map_err(|e| format!("{vkey}: [{}] {e}", e.code()))?;
        match url {
            None => Ok(None),
            Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
                Ok(Some(WitnessEndpoint { key, url: u.trim_end_matches('/').to_owned() }))
            }
            Some(u) => Err(format!("'{u}' is not an http(s) URL")),
        }
    }
}

/// A witness's answer to add-checkpoint.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// 200: the cosignature lines.
    Cosigned(String),
    /// 409 with the size the witness last cosigned.
    SizeConflict(u64),
    /// Any other status, with the body's start.
    Refused { status: u16, body: String },
}

/// `POST <url>/add-checkpoint`.
pub fn add_checkpoint(agent: &ureq::Agent, url: &str, request: &AddCheckpoint) -> Result<Answer, String> {
    let mut res = agent
        .post(format!("{url}/add-checkpoint"))
        .header("Content-Type", "text/plain; charset=utf-8")
        .send(&request.encode()[..])
        .map_err(|e| e.to_string())?;
    let status = res.status().as_u16();
    let size_typed = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(SIZE_CONTENT_TYPE));
    let body = res.body_mut().with_config().limit(MAX_ANSWER).read_to_vec().map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&body).into_owned();
    Ok(match status {
        200 => Answer::Cosigned(text),
        409 if size_typed => match text.strip_suffix('\n').and_then(|s| s.parse().ok()) {
            Some(size) => Answer::SizeConflict(size),
            None => Answer::Refused { status, body: text.chars().take(200).collect() },
        },
        _ => Answer::Refused { status, body: text.chars().take(200).collect() },
    })
}

/// What the origin knows of one witness.
struct Target {
    endpoint: WitnessEndpoint,
    /// The size the witness is believed to have cosigned last (0: unknown or never).
    old: u64,
    /// The size it cosigned for this origin during this process's life.
    cosigned: Option<u64>,
    failures: u32,
    next_try: Instant,
}

/// Sends checkpoints to the configured witnesses; call [`Submitter::round`] periodically.
pub struct Submitter {
    targets: Vec<Target>,
    agent: ureq::Agent,
    interval: Duration,
}

/// The wait after `failures` failures in a row: the interval doubled each time, at most an hour.
pub fn backoff(interval: Duration, failures: u32) -> Duration {
    interval.saturating_mul(1u32 << failures.min(16)).min(MAX_BACKOFF.max(interval))
}

impl Submitter {
    pub fn new(endpoints: Vec<WitnessEndpoint>, interval: Duration) -> Submitter {
        let now = Instant::now();
        let targets = endpoints
            .into_iter()
            .map(|endpoint| Target { endpoint, old: 0, cosigned: None, failures: 0, next_try: now })
            .collect();
        Submitter { targets, agent: super::http_agent(), interval }
    }

    /// Asks every witness that is due and has not cosigned the log's current size.
    pub fn round(&mut self, registry: &Registry) {
        let size = match registry.log_size() {
            Ok(s) => s,
            Err(e) => return log::warn!("witnessing: reading the log size: {e}"),
        };
        if size == 0 {
            return;
        }
        let now = Instant::now();
        for t in &mut self.targets {
            if t.cosigned == Some(size) || now < t.next_try {
                continue;
            }
            match ask(registry, &self.agent, t, size) {
                Ok(()) => {
                    t.failures = 0;
                    t.next_try = now;
                }
                Err(e) => {
                    t.failures = t.failures.saturating_add(1);
                    let wait = backoff(self.interval, t.failures);
                    t.next_try = now + wait;
                    log::warn!(
                        "witnessing: {} at {} ({} failure(s) in a row): {e}; next try in {} s",
                        t.endpoint.key.name(),
                        t.endpoint.url,
                        t.failures,
                        wait.as_secs()
                    );
                }
            }
        }
    }
}

/// One witness, the checkpoint of `size`: at most two requests (the second after a 409 that
/// told the witness's size).
fn ask(registry: &Registry, agent: &ureq::Agent, t: &mut Target, size: u64) -> Result<(), String> {
    let note = registry.checkpoint_at(size).map_err(|e| e.to_string())?;
    for _ in 0..2 {
        if t.old > size {
            return Err(format!(
                "the witness cosigned size {} of this log, larger than the log ({size}): a restored backup or another log with this origin?",
                t.old
            ));
        }
        let proof = if t.old == 0 {
            Vec::new()
        } else {
            registry.consistency_hashes(t.old, size).map_err(|e| e.to_string())?
        };
        let request = AddCheckpoint { old_size: t.old, proof, note: note.clone().into_bytes() };
        match add_checkpoint(agent, &t.endpoint.url, &request)? {
            Answer::Cosigned(lines) => {
                let accepted = registry
                    .accept_cosignatures(format!("{note}{lines}").as_bytes())
                    .map_err(|e| format!("its answer was refused: {}: {e}", e.code()))?;
                log::info!("witnessing: {} cosigned size {size} (stored {:?})", t.endpoint.key.name(), accepted.stored);
                t.old = size;
                t.cosigned = Some(size);
                return Ok(());
            }
            Answer::SizeConflict(recorded) if recorded != t.old => t.old = recorded,
            Answer::SizeConflict(recorded) => {
                return Err(format!("409: the witness recorded size {recorded} with another root hash (a fork?)"));
            }
            Answer::Refused { status, body } => return Err(format!("answered {status}: {body}")),
        }
    }
    Err("the witness's recorded size keeps changing".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_and_backoff_grows_to_a_cap() {
        let w = crate::log::cosignature::Witness::new("w.example/w", ed25519_dalek::SigningKey::from_bytes(&[5; 32]))
            .unwrap();
        let vkey = w.verifier().to_string();
        assert_eq!(WitnessEndpoint::parse(&vkey).unwrap(), None);
        let e = WitnessEndpoint::parse(&format!("{vkey}=http://127.0.0.1:9/w/")).unwrap().unwrap();
        assert_eq!(e.url, "http://127.0.0.1:9/w");
        assert!(WitnessEndpoint::parse(&format!("{vkey}=ftp://x")).is_err());
        let s = Duration::from_secs(10);
        let waits: Vec<u64> = (1..5).map(|f| backoff(s, f).as_secs()).collect();
        assert_eq!(waits, [20, 40, 80, 160]);
        assert_eq!(backoff(s, 30), MAX_BACKOFF);
    }
}
