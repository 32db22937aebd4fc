//! Signed notes and checkpoints (C2SP signed-note, tlog-checkpoint): `Note::parse`, verification
//! against the key the seeds are signed with, `Checkpoint::parse` on the note text, and
//! `VerifierKey::parse` on the first line. A checkpoint that parses must print back to its text.
#![no_main]

use std::sync::OnceLock;

use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use prequal::log::checkpoint::Checkpoint;
use prequal::log::note::{Note, NoteSigner, VerifierKey};

/// The key of the seed notes in `seeds/signed_note` (name `fuzz.prequal.example`, seed [7; 32]).
fn verifier() -> &'static VerifierKey {
    static KEY: OnceLock<VerifierKey> = OnceLock::new();
    KEY.get_or_init(|| match NoteSigner::new("fuzz.prequal.example", SigningKey::from_bytes(&[7; 32])) {
        Ok(signer) => signer.verifier().clone(),
        Err(e) => panic!("the fuzz key name is refused: {e}"),
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(note) = Note::parse(data) {
        let text = match note.verify(verifier()) {
            Ok(text) => text,
            Err(_) => note.unverified_text(),
        };
        if let Ok(checkpoint) = Checkpoint::parse(text) {
            assert_eq!(checkpoint.to_text(), text, "a checkpoint does not print back to its text");
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(checkpoint) = Checkpoint::parse(text) {
            assert_eq!(checkpoint.to_text(), text, "a checkpoint does not print back to its text");
        }
        if let Ok(key) = VerifierKey::parse(text.lines().next().unwrap_or("")) {
            assert_eq!(VerifierKey::parse(&key.to_string()).as_ref(), Ok(&key));
        }
    }
});
