//! C2SP `tlog-proof` (<https://c2sp.org/tlog-proof>): an offline-verifiable proof that an entry
//! is in a log, as text:
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! [extra <base64>]
//! index <decimal>
//! <base64 hash, leaf's sibling first>…
//!
//! <the checkpoint as a signed note, with any cosignatures>
//! ```
//!
//! Parsing only splits and decodes; the caller verifies the checkpoint, the cosignatures and
//! the inclusion proof.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::merkle::Hash;

pub const HEADER: &str = "c2sp.org/tlog-proof@v1";
/// A tree of 2^64 leaves has inclusion proofs of at most 64 hashes.
const MAX_HASHES: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed tlog-proof: {0}")]
pub struct TlogProofError(pub &'static str);

impl TlogProofError {
    pub fn code(&self) -> &'static str {
        "tlog_proof_malformed"
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    /// Opaque, unauthenticated extra data.
    pub extra: Option<Vec<u8>>,
    pub index: u64,
    pub hashes: Vec<Hash>,
    /// The signed checkpoint note, verbatim.
    pub checkpoint: String,
}

impl TlogProof {
    pub fn encode(&self) -> String {
        let mut s = format!("{HEADER}\n");
        if let Some(extra) = &self.extra {
            s.push_str(&format!("extra {}\n", B64.encode(extra)));
        }
        s.push_str(&format!("index {}\n", self.index));
        for h in &self.hashes {
            s.push_str(&B64.encode(h));
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&self.checkpoint);
        s
    }

    pub fn parse(text: &str) -> Result<TlogProof, TlogProofError> {
        let (head, checkpoint) =
            text.split_once("\n\n").ok_or(TlogProofError("no empty line before the checkpoint"))?;
        let mut lines = head.split('\n').peekable();
        if lines.next() != Some(HEADER) {
            return Err(TlogProofError("the first line must be c2sp.org/tlog-proof@v1"));
        }
        let mut extra = None;
        if let Some(e) = lines.peek().and_then(|l| l.strip_prefix("extra ")) {
            extra = Some(B64.decode(e).map_err(|_| TlogProofError("extra is not base64"))?);
            lines.next();
        }
        let index = lines
            .next()
            .and_then(|l| l.strip_prefix("index "))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && (*n == "0" || !n.starts_with('0')))
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or(TlogProofError("expected 'index <decimal>'"))?;
        let mut hashes = Vec::new();
        for line in lines {
            if hashes.len() == MAX_HASHES {
                return Err(TlogProofError("more than 64 proof hashes"));
            }
            let h: Hash = B64
                .decode(line)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or(TlogProofError("a proof line is not the base64 of 32 bytes"))?;
            hashes.push(h);
        }
        Ok(TlogProof { extra, index, hashes, checkpoint: checkpoint.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_malformed_proofs() {
        let p = TlogProof {
            extra: Some(b"x".to_vec()),
            index: 73894,
            hashes: vec![[1; 32], [2; 32]],
            checkpoint: "o\n2\nAAAA\n\n\u{2014} o AAAA\n".into(),
        };
        let text = p.encode();
        assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra eA==\nindex 73894\nAQEB"));
        assert_eq!(TlogProof::parse(&text).unwrap(), p);
        let none = TlogProof { extra: None, hashes: vec![], ..p.clone() };
        assert_eq!(TlogProof::parse(&none.encode()).unwrap(), none);
        for bad in [
            "c2sp.org/tlog-proof@v2\nindex 1\n\ncp\n",
            "c2sp.org/tlog-proof@v1\nindex 01\n\ncp\n",
            "c2sp.org/tlog-proof@v1\nindex x\n\ncp\n",
            "c2sp.org/tlog-proof@v1\nindex 1\nAAAA\n\ncp\n",
            "c2sp.org/tlog-proof@v1\nindex 1\n",
        ] {
            assert_eq!(TlogProof::parse(bad).unwrap_err().code(), "tlog_proof_malformed", "{bad}");
        }
    }
}
