//! RFC 9162 §2.1 Merkle tree hashing over an index-addressed tree: leaf and node hashes, the
//! root of a tree of any size, and inclusion and consistency proofs, generated and verified.
//!
//! Generation reads only hashes of *complete* subtrees (`2^level` leaves starting at a multiple
//! of `2^level`), through [`NodeSource`]; the database keeps exactly those (`log_nodes`), so a
//! proof costs O(log n) lookups and never loads the whole tree. Every incomplete subtree that
//! RFC 9162's recursion asks for is split into complete ones here.

use sha2::{Digest, Sha256};

/// A SHA-256 hash in the tree.
pub type Hash = [u8; 32];

/// RFC 9162 §2.1.1: `SHA-256(0x00 ‖ entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    h.finalize().into()
}

/// RFC 9162 §2.1.1: `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Why a proof could not be made or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("tree size {from} is larger than tree size {to}")]
    SizesReversed { from: u64, to: u64 },
    #[error("the proof has the wrong number of hashes")]
    WrongLength,
    #[error("the proof does not lead to the expected root hash")]
    RootMismatch,
    #[error("a consistency proof from size {0} to the same size must be empty and the roots equal")]
    NotEmpty(u64),
}

impl ProofError {
    pub fn code(&self) -> &'static str {
        match self {
            ProofError::IndexOutOfRange { .. } => "index_out_of_range",
            ProofError::SizesReversed { .. } => "sizes_reversed",
            ProofError::WrongLength => "proof_wrong_length",
            ProofError::RootMismatch => "root_mismatch",
            ProofError::NotEmpty(_) => "proof_not_empty",
        }
    }
}

/// Hashes of complete subtrees: `node(level, index)` is the root of leaves
/// `[index·2^level, (index+1)·2^level)`; level 0 is the leaf hashes.
pub trait NodeSource {
    type Error: From<ProofError>;
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, Self::Error>;
}

/// Leaf hashes in memory (tests, clients that fetched every entry).
pub struct Leaves<'a>(pub &'a [Hash]);

impl NodeSource for Leaves<'_> {
    type Error = ProofError;
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, ProofError> {
        let width = 1u64 << level;
        let start = index * width;
        let size = self.0.len() as u64;
        if start + width > size {
            return Err(ProofError::IndexOutOfRange { index: start + width - 1, size });
        }
        Ok(root_of_leaves(&self.0[start as usize..(start + width) as usize]))
    }
}

/// The largest power of two strictly smaller than `n` (n ≥ 2).
fn split_point(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// MTH over leaf hashes held in memory (RFC 9162 §2.1.1).
pub fn root_of_leaves(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split_point(n as u64) as usize;
            node_hash(&root_of_leaves(&leaves[..k]), &root_of_leaves(&leaves[k..]))
        }
    }
}

/// MTH of leaves `[start, end)`, from complete subtrees.
pub fn subtree_root<S: NodeSource>(src: &mut S, start: u64, end: u64) -> Result<Hash, S::Error> {
    let n = end - start;
    if n == 0 {
        return Ok(empty_root());
    }
    if n.is_power_of_two() && start.is_multiple_of(n) {
        return src.node(n.trailing_zeros(), start / n);
    }
    let k = split_point(n);
    let left = subtree_root(src, start, start + k)?;
    let right = subtree_root(src, start + k, end)?;
    Ok(node_hash(&left, &right))
}

/// The root of a tree of `size` leaves.
pub fn tree_root<S: NodeSource>(src: &mut S, size: u64) -> Result<Hash, S::Error> {
    subtree_root(src, 0, size)
}

/// RFC 9162 §2.1.3.1 `PATH(m, D[n])`: the audit path of leaf `index` in the tree of `size`.
pub fn inclusion_proof<S: NodeSource>(src: &mut S, index: u64, size: u64) -> Result<Vec<Hash>, S::Error> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size }.into());
    }
    let mut proof = Vec::new();
    path(src, index, 0, size, &mut proof)?;
    Ok(proof)
}

fn path<S: NodeSource>(src: &mut S, m: u64, start: u64, end: u64, out: &mut Vec<Hash>) -> Result<(), S::Error> {
    let n = end - start;
    if n <= 1 {
        return Ok(());
    }
    let k = split_point(n);
    if m < k {
        path(src, m, start, start + k, out)?;
        out.push(subtree_root(src, start + k, end)?);
    } else {
        path(src, m - k, start + k, end, out)?;
        out.push(subtree_root(src, start, start + k)?);
    }
    Ok(())
}

/// RFC 9162 §2.1.4.1 `PROOF(m, D[n])`: a consistency proof from tree size `from` to `to`.
/// Empty when `from` is 0 or equals `to`.
pub fn consistency_proof<S: NodeSource>(src: &mut S, from: u64, to: u64) -> Result<Vec<Hash>, S::Error> {
    if from > to {
        return Err(ProofError::SizesReversed { from, to }.into());
    }
    let mut proof = Vec::new();
    if from > 0 && from < to {
        subproof(src, from, 0, to, true, &mut proof)?;
    }
    Ok(proof)
}

fn subproof<S: NodeSource>(
    src: &mut S,
    m: u64,
    start: u64,
    end: u64,
    whole: bool,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = end - start;
    if m == n {
        if !whole {
            out.push(subtree_root(src, start, end)?);
        }
        return Ok(());
    }
    let k = split_point(n);
    if m <= k {
        subproof(src, m, start, start + k, whole, out)?;
        out.push(subtree_root(src, start + k, end)?);
    } else {
        subproof(src, m - k, start + k, end, false, out)?;
        out.push(subtree_root(src, start, start + k)?);
    }
    Ok(())
}

/// RFC 9162 §2.1.3.2: checks that `leaf` is at `index` in the tree of `size` whose root is `root`.
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return Err(ProofError::WrongLength);
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofError::WrongLength);
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// RFC 9162 §2.1.4.2: checks that the tree of size `from` with root `from_root` is a prefix of
/// the tree of size `to` with root `to_root`.
pub fn verify_consistency(
    from: u64,
    to: u64,
    proof: &[Hash],
    from_root: &Hash,
    to_root: &Hash,
) -> Result<(), ProofError> {
    if from > to {
        return Err(ProofError::SizesReversed { from, to });
    }
    if from == to {
        return if proof.is_empty() && from_root == to_root { Ok(()) } else { Err(ProofError::NotEmpty(from)) };
    }
    if from == 0 {
        // Every tree extends the empty tree; there is nothing to prove.
        return if proof.is_empty() { Ok(()) } else { Err(ProofError::WrongLength) };
    }
    let Some((first, rest)) = proof.split_first() else { return Err(ProofError::WrongLength) };
    // Step 2: when `from` is a power of two, its root is the first hash of the path.
    let (start, path): (Hash, &[Hash]) = if from.is_power_of_two() { (*from_root, proof) } else { (*first, rest) };
    let (mut f_n, mut s_n) = (from - 1, to - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut f_r, mut s_r) = (start, start);
    for c in path {
        if s_n == 0 {
            return Err(ProofError::WrongLength);
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofError::WrongLength);
    }
    if f_r != *from_root || s_r != *to_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn h(s: &str) -> Hash {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    // Known answers from transparency-dev/merkle: leaf inputs and roots from
    // `testonly/constants.go` (LeafInputs, RootHashes), proofs from `proof/verify_test.go`
    // (inclusionProofs with 1-based leaf numbers, consistencyProofs). The same tree is the
    // RFC 6962 reference tree of google/certificate-transparency.
    const INPUTS: [&str; 8] =
        ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"];
    const ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    // testonly/constants.go NodeHashes, level 0 (the leaf hashes).
    const LEAF_HASHES: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ];

    /// (leaf number, 1-based as in verify_test.go; tree size; path)
    fn inclusion_vectors() -> Vec<(u64, u64, Vec<Hash>)> {
        vec![
            (1, 1, vec![]),
            (
                1,
                8,
                vec![
                    h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                    h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                    h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
                ],
            ),
            (
                6,
                8,
                vec![
                    h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
                    h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
                ],
            ),
            (3, 3, vec![h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
            (
                2,
                5,
                vec![
                    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
                    h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                    h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
                ],
            ),
        ]
    }

    fn consistency_vectors() -> Vec<(u64, u64, Vec<Hash>)> {
        vec![
            (1, 1, vec![]),
            (
                1,
                8,
                vec![
                    h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                    h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                    h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
                ],
            ),
            (
                6,
                8,
                vec![
                    h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                    h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
                ],
            ),
            (
                2,
                5,
                vec![
                    h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                    h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
                ],
            ),
            (
                6,
                7,
                vec![
                    h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                    h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
                    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
                ],
            ),
        ]
    }

    fn leaves() -> Vec<Hash> {
        INPUTS.iter().map(|i| leaf_hash(&hex::decode(i).unwrap())).collect()
    }

    #[test]
    fn leaf_hashes_and_roots_match_the_reference() {
        let leaves = leaves();
        for (l, want) in leaves.iter().zip(LEAF_HASHES) {
            assert_eq!(*l, h(want));
        }
        for (size, want) in ROOTS.iter().enumerate() {
            assert_eq!(root_of_leaves(&leaves[..size]), h(want), "size {size}");
            assert_eq!(tree_root(&mut Leaves(&leaves), size as u64).unwrap(), h(want), "size {size}");
        }
    }

    #[test]
    fn inclusion_proofs_match_the_reference() {
        let leaves = leaves();
        for (leaf, size, want) in inclusion_vectors() {
            let index = leaf - 1;
            let got = inclusion_proof(&mut Leaves(&leaves), index, size).unwrap();
            assert_eq!(got, want, "leaf {index} size {size}");
            let root = h(ROOTS[size as usize]);
            verify_inclusion(index, size, &leaves[index as usize], &want, &root).unwrap();
            // Corruptions from verify_test.go's corruptInclusionProof.
            assert!(verify_inclusion(index + 1, size, &leaves[index as usize], &want, &root).is_err());
            assert!(verify_inclusion(index, size * 2, &leaves[index as usize], &want, &root).is_err());
            let mut longer = want.clone();
            longer.push(root);
            assert!(verify_inclusion(index, size, &leaves[index as usize], &longer, &root).is_err());
            for i in 0..want.len() {
                let mut bad = want.clone();
                bad[i][0] ^= 8;
                assert!(verify_inclusion(index, size, &leaves[index as usize], &bad, &root).is_err());
            }
        }
    }

    #[test]
    fn consistency_proofs_match_the_reference() {
        let leaves = leaves();
        for (from, to, want) in consistency_vectors() {
            let got = consistency_proof(&mut Leaves(&leaves), from, to).unwrap();
            assert_eq!(got, want, "{from} -> {to}");
            let (r1, r2) = (h(ROOTS[from as usize]), h(ROOTS[to as usize]));
            verify_consistency(from, to, &want, &r1, &r2).unwrap();
            if !want.is_empty() {
                assert!(verify_consistency(from, to, &want, &r2, &r1).is_err());
                assert!(verify_consistency(from, to, &[], &r1, &r2).is_err());
                assert!(verify_consistency(from + 1, to, &want, &r1, &r2).is_err());
                assert!(verify_consistency(from - 1, to, &want, &r1, &r2).is_err());
                assert!(verify_consistency(from, to * 2, &want, &r1, &r2).is_err());
                for i in 0..want.len() {
                    let mut bad = want.clone();
                    bad[i][0] ^= 16;
                    assert!(verify_consistency(from, to, &bad, &r1, &r2).is_err());
                }
                let mut longer = want.clone();
                longer.push(r2);
                assert!(verify_consistency(from, to, &longer, &r1, &r2).is_err());
                let mut shorter = want.clone();
                shorter.pop();
                assert!(verify_consistency(from, to, &shorter, &r1, &r2).is_err());
            }
        }
    }

    #[test]
    fn edge_cases_follow_the_reference() {
        let (e, some) = (empty_root(), [7u8; 32]);
        assert_eq!(e, h(ROOTS[0]));
        assert!(verify_consistency(0, 0, &[], &e, &e).is_ok());
        assert!(verify_consistency(0, 1, &[], &e, &some).is_ok());
        assert!(verify_consistency(1, 0, &[], &e, &some).is_err());
        assert!(verify_consistency(1, 2, &[], &e, &some).is_err());
        assert!(verify_consistency(0, 1, &[e], &e, &e).is_err());
        assert!(verify_consistency(1, 1, &[e], &e, &e).is_err());
        assert!(verify_inclusion(0, 0, &some, &[], &some).is_err());
        assert!(verify_inclusion(2, 1, &some, &[], &some).is_err());
        assert!(inclusion_proof(&mut Leaves(&[]), 0, 0).is_err());
    }

    proptest! {
        #[test]
        fn generated_proofs_verify_and_tampering_fails(size in 1u64..300, a in any::<u64>(), b in any::<u64>(), bit in 0usize..256) {
            let leaves: Vec<Hash> = (0..size).map(|i| leaf_hash(&i.to_be_bytes())).collect();
            let mut src = Leaves(&leaves);
            let root = tree_root(&mut src, size).unwrap();
            let index = a % size;
            let proof = inclusion_proof(&mut src, index, size).unwrap();
            prop_assert!(verify_inclusion(index, size, &leaves[index as usize], &proof, &root).is_ok());
            prop_assert!(verify_inclusion(index, size * 2 + 1, &leaves[index as usize], &proof, &root).is_err());
            if !proof.is_empty() {
                let mut bad = proof.clone();
                let i = bit % bad.len();
                bad[i][bit / 8 % 32] ^= 1 << (bit % 8);
                prop_assert!(verify_inclusion(index, size, &leaves[index as usize], &bad, &root).is_err());
            }

            let from = b % (size + 1);
            let from_root = tree_root(&mut src, from).unwrap();
            let proof = consistency_proof(&mut src, from, size).unwrap();
            prop_assert!(verify_consistency(from, size, &proof, &from_root, &root).is_ok());
            if from > 0 && from < size {
                prop_assert!(verify_consistency(from, size * 2 + 1, &proof, &from_root, &root).is_err());
                let mut bad = proof.clone();
                let i = bit % bad.len();
                bad[i][bit / 8 % 32] ^= 1 << (bit % 8);
                prop_assert!(verify_consistency(from, size, &bad, &from_root, &root).is_err());
            }
        }
    }
}
