//! C2SP `tlog-checkpoint` (<https://c2sp.org/tlog-checkpoint>): the note text
//! `<origin>\n<tree size>\n<base64 root hash>\n[<extension line>\n…]`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::merkle::Hash;
use super::note::{Note, NoteError, VerifierKey};

/// Why a checkpoint body was refused. `code()` is stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("a checkpoint needs an origin line, a tree size line and a root hash line")]
    TooShort,
    #[error("the checkpoint must end with a newline")]
    MissingNewline,
    #[error("the origin line is empty")]
    EmptyOrigin,
    #[error("'{0}' is not a canonical decimal tree size")]
    BadSize(String),
    #[error("the root hash is not the base64 of 32 bytes")]
    BadRootHash,
    #[error("extension line {0} is empty")]
    EmptyExtension(usize),
}

impl CheckpointError {
    pub fn code(&self) -> &'static str {
        match self {
            CheckpointError::TooShort => "checkpoint_too_short",
            CheckpointError::MissingNewline => "checkpoint_missing_newline",
            CheckpointError::EmptyOrigin => "checkpoint_empty_origin",
            CheckpointError::BadSize(_) => "checkpoint_bad_size",
            CheckpointError::BadRootHash => "checkpoint_bad_root_hash",
            CheckpointError::EmptyExtension(_) => "checkpoint_empty_extension",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note text (to be signed).
    pub fn to_text(&self) -> String {
        let mut s = format!("{}\n{}\n{}\n", self.origin, self.size, B64.encode(self.root));
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Parses a checkpoint body (the verified text of a note).
    pub fn parse(text: &str) -> Result<Checkpoint, CheckpointError> {
        let body = text.strip_suffix('\n').ok_or(CheckpointError::MissingNewline)?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next()) else {
            return Err(CheckpointError::TooShort);
        };
        if origin.is_empty() {
            return Err(CheckpointError::EmptyOrigin);
        }
        let canonical =
            !size.is_empty() && size.bytes().all(|b| b.is_ascii_digit()) && (size == "0" || !size.starts_with('0'));
        let size_n =
            size.parse::<u64>().ok().filter(|_| canonical).ok_or_else(|| CheckpointError::BadSize(size.to_owned()))?;
        let root: Hash = B64.decode(root).ok().and_then(|r| r.try_into().ok()).ok_or(CheckpointError::BadRootHash)?;
        let mut extensions = Vec::new();
        for (i, line) in lines.enumerate() {
            if line.is_empty() {
                return Err(CheckpointError::EmptyExtension(i + 1));
            }
            extensions.push(line.to_owned());
        }
        Ok(Checkpoint { origin: origin.to_owned(), size: size_n, root, extensions })
    }
}

/// Why a signed checkpoint was refused. `code()` is stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignedCheckpointError {
    #[error("the checkpoint note: {0}")]
    Note(#[from] NoteError),
    #[error("the checkpoint body: {0}")]
    Body(#[from] CheckpointError),
    #[error("the checkpoint's origin is '{found}', not the log key's name '{expected}'")]
    WrongOrigin { expected: String, found: String },
}

impl SignedCheckpointError {
    pub fn code(&self) -> &'static str {
        match self {
            SignedCheckpointError::Note(e) => e.code(),
            SignedCheckpointError::Body(e) => e.code(),
            SignedCheckpointError::WrongOrigin { .. } => "checkpoint_wrong_origin",
        }
    }
}

/// A checkpoint whose signature by the log key verified and whose body parsed, with its origin
/// equal to the key's name (tlog-checkpoint: the origin line is the log's key name). Only
/// [`SignedCheckpoint::verify`] builds one, so holding one proves the log signed it. The note
/// keeps every other signature line (cosignatures), unverified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    note: Note,
    checkpoint: Checkpoint,
}

impl SignedCheckpoint {
    /// Verifies `note` (the signed note's bytes) with the log's key.
    pub fn verify(note: &[u8], log_key: &VerifierKey) -> Result<SignedCheckpoint, SignedCheckpointError> {
        let note = Note::parse(note)?;
        let checkpoint = Checkpoint::parse(note.verify(log_key)?)?;
        if checkpoint.origin != log_key.name() {
            return Err(SignedCheckpointError::WrongOrigin {
                expected: log_key.name().to_owned(),
                found: checkpoint.origin,
            });
        }
        Ok(SignedCheckpoint { note, checkpoint })
    }

    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The verified note text (the checkpoint body, ending in a newline).
    pub fn text(&self) -> &str {
        self.note.unverified_text()
    }

    /// The note with all its signature lines (the log's and any cosignatures, unverified).
    pub fn note(&self) -> &Note {
        &self.note
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_non_canonical_bodies() {
        let c = Checkpoint { origin: "example.com/log".into(), size: 42, root: [3; 32], extensions: vec![] };
        let text = c.to_text();
        assert_eq!(text, format!("example.com/log\n42\n{}\n", B64.encode([3u8; 32])));
        assert_eq!(Checkpoint::parse(&text).unwrap(), c);
        let root = B64.encode([3u8; 32]);
        let code = |s: String| Checkpoint::parse(&s).unwrap_err().code();
        assert_eq!(code(format!("o\n042\n{root}\n")), "checkpoint_bad_size");
        assert_eq!(code(format!("o\n+42\n{root}\n")), "checkpoint_bad_size");
        assert_eq!(code(format!("o\n\n{root}\n")), "checkpoint_bad_size");
        assert_eq!(code(format!("o\n18446744073709551616\n{root}\n")), "checkpoint_bad_size");
        assert_eq!(code(format!("o\n42\n{root}")), "checkpoint_missing_newline");
        assert_eq!(code("o\n42\nAAAA\n".into()), "checkpoint_bad_root_hash");
        assert_eq!(code("o\n42\n".into()), "checkpoint_too_short");
        assert_eq!(code(format!("\n42\n{root}\n")), "checkpoint_empty_origin");
        assert_eq!(code(format!("o\n42\n{root}\n\n")), "checkpoint_empty_extension");
        assert!(Checkpoint::parse(&format!("o\n0\n{root}\next\n")).is_ok());
    }
}
