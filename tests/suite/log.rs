#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The transparency log over HTTP on both backends: the signed checkpoint verifies with the
//! published log key; tiles and entry bundles recompute its root; every sample package has an
//! inclusion proof; a withdrawal grows the log consistently; log order decides key validity; and
//! writers in several processes append one gap-free sequence. Tampering is caught by the
//! client-side verifiers.

use crate::common;

use common::server::{Backend, TestRegistry};
use common::*;
use prequal::log::checkpoint::Checkpoint;
use prequal::log::merkle::{self, Hash};
use prequal::log::note::{Note, VerifierKey};
use prequal::log::tiles;
use prequal::registry::OrgKind;
use prequal::registry::views::{KeyRevocation, NewOrganisation};
use serde_json::{Value, json};

both_backends!(
    log_origins_are_unique_by_default_and_recorded_ones_are_kept,
    log_read_api_verifies,
    log_order_decides_key_validity,
    concurrent_writers_share_one_log,
    existing_state_is_logged_at_start_up
);

fn hash(hex_str: &str) -> Hash {
    hex::decode(hex_str).unwrap().try_into().unwrap()
}

/// Fetches and verifies the checkpoint with the published key.
fn checkpoint(reg: &TestRegistry) -> Checkpoint {
    let key = reg.get("/log/key", None);
    assert_eq!(key.status, 200);
    let key = VerifierKey::parse(String::from_utf8(key.body).unwrap().trim_end()).unwrap();
    // No --log-origin, no --public-url: named after the log key, unique to this registry.
    assert!(key.name().starts_with("prequal-"), "{}", key.name());
    let res = reg.get("/log/checkpoint", None);
    assert_eq!(res.status, 200);
    assert!(res.headers["content-type"].starts_with("text/plain"));
    let note = Note::parse(&res.body).unwrap();
    let cp = Checkpoint::parse(note.verify(&key).unwrap()).unwrap();
    assert_eq!(cp.origin, key.name());
    cp
}

fn log_key_name(reg: &TestRegistry) -> String {
    let key = reg.get("/log/key", None);
    assert_eq!(key.status, 200);
    VerifierKey::parse(String::from_utf8(key.body).unwrap().trim_end()).unwrap().name().to_owned()
}

/// The default origin comes from `--public-url`, else from the log key; an origin recorded in
/// the database for the same key is kept without `--log-origin` (registries that started with
/// the old `127.0.0.1/log` default keep it); a loopback origin draws a warning.
fn log_origins_are_unique_by_default_and_recorded_ones_are_kept(backend: Backend) {
    let mut first = TestRegistry::start_with(backend.clone(), &["--log-origin", "127.0.0.1/log"]);
    assert_eq!(log_key_name(&first), "127.0.0.1/log");
    first.kill();
    let log = std::fs::read_to_string(first.log_path()).unwrap();
    assert!(log.contains("names a loopback host"), "{log}");
    // The same key, no origin given: the recorded one.
    let key_file = first.data.join("log-key.json");
    let mut again = first.replica(&["--log-key", key_file.to_str().unwrap()]);
    again.spawn();
    assert_eq!(log_key_name(&again), "127.0.0.1/log");
    again.kill();
    // From the public URL, on a database of its own.
    let by_url = TestRegistry::start_with(backend, &["--public-url", "https://prequal.example/"]);
    assert_eq!(log_key_name(&by_url), "prequal.example/log");
}

/// Every entry of a tree of `size`, from the entry bundles.
fn entries(reg: &TestRegistry, size: u64) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for n in 0..size.div_ceil(tiles::TILE_WIDTH) {
        let width = (size - n * tiles::TILE_WIDTH).min(tiles::TILE_WIDTH);
        let partial = if width < tiles::TILE_WIDTH { format!(".p/{width}") } else { String::new() };
        let res = reg.get(&format!("/log/tile/entries/{}{partial}", tiles::encode_index(n)), None);
        assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
        let bundle = tiles::split_bundle(&res.body).unwrap();
        assert_eq!(bundle.len() as u64, width);
        out.extend(bundle.into_iter().map(<[u8]>::to_vec));
    }
    out
}

fn log_read_api_verifies(backend: Backend) {
    let samples = samples_dir();
    let reg = TestRegistry::start_with(backend, &["--demo", "--samples", samples.to_str().unwrap()]);
    let cp = checkpoint(&reg);
    assert!(cp.size > 10, "{}", cp.size);

    // Entries recompute the checkpoint's root; so do the level-0 hash tiles.
    let all = entries(&reg, cp.size);
    let leaves: Vec<Hash> = all.iter().map(|e| merkle::leaf_hash(e)).collect();
    assert_eq!(merkle::root_of_leaves(&leaves), cp.root);
    // tlog-tiles: entry bundles are gzip-compressed for a client that accepts it, not otherwise.
    let bundle_path = format!("{}/log/tile/entries/000.p/{}", reg.url, cp.size);
    let plain = common::server::try_request(&bundle_path, "GET", None, None, &[]).unwrap();
    assert_eq!(plain.headers.get("content-encoding"), None);
    for accept in ["gzip", "br;q=1.0, gzip;q=0.5", "*"] {
        let gz = common::server::try_request(&bundle_path, "GET", None, None, &[("Accept-Encoding", accept)]).unwrap();
        assert_eq!(gz.headers["content-encoding"], "gzip", "{accept}");
        assert_eq!(gz.headers["vary"], "Accept-Encoding");
        assert!(gz.body.len() < plain.body.len());
        let mut unzipped = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz.body[..]), &mut unzipped).unwrap();
        assert_eq!(unzipped, plain.body);
    }
    for accept in ["gzip;q=0", "br", "identity"] {
        let res = common::server::try_request(&bundle_path, "GET", None, None, &[("Accept-Encoding", accept)]).unwrap();
        assert_eq!((res.headers.get("content-encoding"), &res.body), (None, &plain.body), "{accept}");
    }
    let tile = reg.get(&format!("/log/tile/0/000.p/{}", cp.size), None);
    assert_eq!(tile.status, 200);
    let tile_hashes: Vec<Hash> = tile.body.chunks(32).map(|c| c.try_into().unwrap()).collect();
    assert_eq!(tile_hashes, leaves);
    // A flipped bit in an entry or a tile hash changes the root.
    let mut bad = all[3].clone();
    bad[0] ^= 1;
    let mut tampered = leaves.clone();
    tampered[3] = merkle::leaf_hash(&bad);
    assert_ne!(merkle::root_of_leaves(&tampered), cp.root);
    // Tiles that do not exist yet, malformed indexes.
    assert_eq!(reg.get(&format!("/log/tile/0/000.p/{}", cp.size + 1), None).status, 404);
    assert_eq!(reg.get("/log/tile/0/000", None).status, 404);
    assert_eq!(reg.get("/log/tile/0/x000/000", None).status, 404);
    assert_eq!(reg.get("/log/tile/entries/0", None).status, 404);

    let text: Vec<String> = all.iter().map(|e| String::from_utf8(e.clone()).unwrap()).collect();
    assert!(text.iter().all(|t| t.starts_with("prequal-log-entry-v1\nkind ")));
    // The allied sample package is logged sealed: its digest and level, never its name or lab.
    let sealed: Vec<&String> = text.iter().filter(|t| t.contains("\nsealed sha256:")).collect();
    assert!(
        sealed.iter().any(|t| t.contains("kind package_published\n") && t.contains("\nreleasability allied\n")),
        "{sealed:?}"
    );
    assert!(sealed.iter().all(|t| t.lines().count() == 6), "kind, at, digest, releasability, sealed: {sealed:?}");
    assert!(!text.iter().any(|t| t.contains("iron-nitride")), "the allied package's name is not in the public log");
    // A reader who may see the package can open the seal; nobody else learns anything.
    let at = text.iter().position(|t| t.contains("\nsealed sha256:")).unwrap();
    assert_eq!(reg.get(&format!("/v1/log/sealed/{at}"), None).status, 404);
    let opened = reg.get(&format!("/v1/log/sealed/{at}"), Some(&reg.operator_token));
    assert_eq!(opened.status, 200, "{}", String::from_utf8_lossy(&opened.body));
    let opened = opened.json();
    assert_eq!(opened["entry"].as_str().unwrap(), text[at]);
    let full = opened["full_entry"].as_str().unwrap();
    assert!(full.contains("\nname iron-nitride") && full.contains("\nreleasability allied\n"), "{full}");
    let commitment = {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        h.update(hex::decode(opened["salt"].as_str().unwrap()).unwrap());
        h.update(full.as_bytes());
        hex::encode(h.finalize())
    };
    assert!(text[at].ends_with(&format!("\nsealed sha256:{commitment}\n")), "the seal commits to the full entry");
    let public = text.iter().position(|t| !t.contains("\nsealed ")).unwrap();
    assert_eq!(reg.get(&format!("/v1/log/sealed/{public}"), Some(&reg.operator_token)).status, 404);
    // Organisations and keys come before the packages they sign.
    let first_package = text.iter().position(|t| t.contains("kind package_published")).unwrap();
    assert!(text[..first_package].iter().any(|t| t.contains("kind key_added")));

    // An inclusion proof for each sample package, against the checkpoint.
    let list = reg.get("/v1/packages?limit=500", Some(&reg.operator_token)).json();
    let digests: Vec<String> =
        list["packages"].as_array().unwrap().iter().map(|p| p["digest"].as_str().unwrap().to_owned()).collect();
    assert_eq!(digests.len(), text.iter().filter(|t| t.contains("kind package_published")).count());
    for d in &digests {
        let res = reg.get(&format!("/v1/log/proof/inclusion?digest={d}&size={}", cp.size), Some(&reg.operator_token));
        assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
        let p = res.json();
        let index = p["leaf_index"].as_u64().unwrap();
        assert!(text[index as usize].contains(&format!("\ndigest {d}\n")));
        let proof: Vec<Hash> = p["hashes"].as_array().unwrap().iter().map(|h| hash(h.as_str().unwrap())).collect();
        let leaf = merkle::leaf_hash(&all[index as usize]);
        assert_eq!(hash(p["leaf_hash"].as_str().unwrap()), leaf);
        merkle::verify_inclusion(index, cp.size, &leaf, &proof, &cp.root).unwrap();
        let mut bad = proof.clone();
        bad[0][7] ^= 0x20;
        assert!(merkle::verify_inclusion(index, cp.size, &leaf, &bad, &cp.root).is_err());
    }
    let res = reg.get(&format!("/v1/log/proof/inclusion?digest={}&size={}", digests[0], cp.size + 5), None);
    assert_eq!(res.status, 400);
    assert!(res.json()["error"]["message"].as_str().unwrap().starts_with("size:"), "{}", res.json());

    // A withdrawal: the log grows, consistently.
    let tokens: Value = serde_json::from_slice(&std::fs::read(reg.data.join("demo-tokens.json")).unwrap()).unwrap();
    let owner = list["packages"][0]["organisation"].as_str().unwrap();
    let token = tokens[owner]["token"].as_str().unwrap();
    let res = reg.post_json(&format!("/v1/packages/{}/withdraw", digests[0]), Some(token), &json!({"reason": "test"}));
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    let cp2 = checkpoint(&reg);
    assert_eq!(cp2.size, cp.size + 1);
    let last = entries(&reg, cp2.size).pop().unwrap();
    assert!(String::from_utf8(last).unwrap().contains("kind package_withdrawn\n"));
    let res = reg.get(&format!("/v1/log/proof/consistency?from={}&to={}", cp.size, cp2.size), None);
    assert_eq!(res.status, 200);
    let proof: Vec<Hash> = res.json()["hashes"].as_array().unwrap().iter().map(|h| hash(h.as_str().unwrap())).collect();
    merkle::verify_consistency(cp.size, cp2.size, &proof, &cp.root, &cp2.root).unwrap();
    let mut bad = proof.clone();
    bad[proof.len() - 1][0] ^= 1;
    assert!(merkle::verify_consistency(cp.size, cp2.size, &bad, &cp.root, &cp2.root).is_err());
    let res = reg.get(&format!("/v1/log/proof/consistency?from=1&to={}", cp2.size + 1), None);
    assert_eq!(res.status, 400);
    assert!(res.json()["error"]["message"].as_str().unwrap().starts_with("to:"));

    // Entries as JSON text.
    let res = reg.get("/v1/log/entries?start=0&end=2", None).json();
    assert_eq!(res["entries"].as_array().unwrap().len(), 2);
    assert_eq!(res["entries"][0].as_str().unwrap().as_bytes(), all[0].as_slice());
}

fn kinds(reg: &TestRegistry) -> Vec<String> {
    let cp = checkpoint(reg);
    entries(reg, cp.size)
        .iter()
        .map(|e| {
            let t = String::from_utf8(e.clone()).unwrap();
            let kind = t.lines().nth(1).unwrap().trim_start_matches("kind ").to_owned();
            let subject = t.lines().nth(3).unwrap().split_once(' ').unwrap().1.to_owned();
            format!("{kind} {subject}")
        })
        .collect()
}

fn log_order_decides_key_validity(backend: Backend) {
    let reg = TestRegistry::start(backend);
    let tokens = reg.register(&[("lab-a", OrgKind::Lab, "US", Some(&test_key(1)))]);
    let dir = tempfile::tempdir().unwrap();
    let before = signed_package_from(dir.path(), "ferrite-sr-y30bh", &[1]);
    let res = reg.upload(&before, Some(&tokens["lab-a"]));
    assert_eq!(res.status, 201, "{}", String::from_utf8_lossy(&res.body));
    let digest_before = res.json()["digest"].as_str().unwrap().to_owned();
    let key_id = prequal::package::signing::KeyId::of(&test_key(1).public_key()).as_str().to_owned();
    reg.library()
        .revoke_key(&key_id, &KeyRevocation { reason: "rotated".into(), effective_at: None, compromised: false })
        .unwrap();
    let after = signed_package_from(dir.path(), "ndfeb-gbd-dy-uh", &[1]);
    let res = reg.upload(&after, Some(&tokens["lab-a"]));
    assert_eq!((res.status, res.code().as_str()), (422, "key_revoked"));

    let kinds = kinds(&reg);
    let pos = |s: &str| kinds.iter().position(|k| k == s).unwrap_or_else(|| panic!("no '{s}' in {kinds:?}"));
    assert!(pos(&format!("key_added {key_id}")) < pos(&format!("package_published {digest_before}")));
    assert!(pos(&format!("package_published {digest_before}")) < pos(&format!("key_revoked {key_id}")));
    assert_eq!(kinds.iter().filter(|k| k.starts_with("package_published")).count(), 1, "{kinds:?}");
    // The package published before the revocation still proves its inclusion.
    let res = reg.get(&format!("/v1/log/proof/inclusion?digest={digest_before}"), Some(&tokens["lab-a"]));
    assert_eq!(res.status, 200);
}

fn concurrent_writers_share_one_log(backend: Backend) {
    let reg = TestRegistry::start(backend);
    let start = checkpoint(&reg).size;
    const EACH: usize = 8;
    std::thread::scope(|s| {
        for writer in 0..2 {
            let reg = &reg;
            s.spawn(move || {
                let lib = reg.library();
                for i in 0..EACH {
                    lib.create_organisation(&NewOrganisation {
                        id: format!("lib-{writer}-{i}"),
                        name: "library writer".into(),
                        kind: OrgKind::Lab,
                        country: "US".into(),
                    })
                    .unwrap();
                }
            });
        }
        s.spawn(|| {
            for i in 0..EACH {
                let body = json!({"id": format!("http-{i}"), "name": "server writer", "kind": "lab", "country": "US"});
                let res = reg.post_json("/v1/organisations", Some(&reg.operator_token), &body);
                assert_eq!(res.status, 201, "{}", String::from_utf8_lossy(&res.body));
            }
        });
    });
    let cp = checkpoint(&reg);
    assert_eq!(cp.size, start + 3 * EACH as u64);
    let all = entries(&reg, cp.size);
    let leaves: Vec<Hash> = all.iter().map(|e| merkle::leaf_hash(e)).collect();
    assert_eq!(merkle::root_of_leaves(&leaves), cp.root);
    let mut subjects: Vec<String> = kinds(&reg).into_iter().filter(|k| k.starts_with("organisation_added")).collect();
    let n = subjects.len();
    subjects.sort();
    subjects.dedup();
    assert_eq!(subjects.len(), n);
    assert_eq!(n, 1 + 3 * EACH, "{subjects:?}");
    // The root the server computes from its stored subtrees agrees at every size.
    for size in [1, cp.size / 2, cp.size] {
        let res = reg.get(&format!("/v1/log/proof/consistency?from={size}&to={}", cp.size), None);
        let proof: Vec<Hash> =
            res.json()["hashes"].as_array().unwrap().iter().map(|h| hash(h.as_str().unwrap())).collect();
        let old = merkle::root_of_leaves(&leaves[..size as usize]);
        merkle::verify_consistency(size, cp.size, &proof, &old, &cp.root).unwrap();
    }
}

/// A registry whose data predates the log: start-up logs it once, in the registry's order.
fn existing_state_is_logged_at_start_up(backend: Backend) {
    let samples = samples_dir();
    let mut reg = TestRegistry::start_with(backend, &["--demo", "--samples", samples.to_str().unwrap()]);
    let logged = kinds(&reg);
    reg.kill();
    {
        use diesel::RunQueryDsl;
        use diesel::connection::SimpleConnection;
        let lib = reg.library();
        let mut conn = lib.store.conn().unwrap();
        conn.batch_execute(
            "DELETE FROM log_nodes; DELETE FROM log_entries; UPDATE log_head SET size = 0, backfilled = FALSE",
        )
        .unwrap();
        let n: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>("COUNT(*) FROM log_entries"))
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(n, 0);
    }
    reg.spawn();
    let backfilled = kinds(&reg);
    // The same changes, once each; keys before the packages they sign.
    let (mut a, mut b) = (logged.clone(), backfilled.clone());
    a.sort();
    b.sort();
    assert_eq!(a, b);
    let published = backfilled.iter().position(|k| k.starts_with("package_published")).unwrap();
    assert!(backfilled[..published].iter().any(|k| k.starts_with("key_added")));
    assert!(backfilled.iter().position(|k| k.starts_with("organisation_added")).unwrap() == 0);
    // Once: a restart appends nothing.
    let size = checkpoint(&reg).size;
    reg.kill();
    reg.spawn();
    assert_eq!(checkpoint(&reg).size, size);
}
