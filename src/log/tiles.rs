//! C2SP `tlog-tiles` (<https://c2sp.org/tlog-tiles>) addressing: tiles of height 8 (256
//! hashes wide), the `x001/x234/067` encoding of tile indexes, and entry bundles.

/// Hashes (or entries) in a full tile.
pub const TILE_WIDTH: u64 = 256;
/// Tree levels per tile level.
pub const TILE_HEIGHT: u32 = 8;

/// The path elements of tile index `n`: `1234067` → `x001/x234/067`.
pub fn encode_index(n: u64) -> String {
    let mut groups = Vec::new();
    let mut rest = n;
    loop {
        groups.push(rest % 1000);
        rest /= 1000;
        if rest == 0 {
            break;
        }
    }
    let last = groups.len() - 1;
    groups
        .iter()
        .rev()
        .enumerate()
        .map(|(i, g)| if i == last { format!("{g:03}") } else { format!("x{g:03}") })
        .collect::<Vec<_>>()
        .join("/")
}

/// A tile address taken from a request path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileAddress {
    pub index: u64,
    /// Full tiles have 256; a partial tile names its width (1..=255).
    pub width: u64,
}

/// Parses `x001/x234/067` or `x001/x234/067.p/12` (the part of the path after the level).
pub fn parse_index(path: &str) -> Option<TileAddress> {
    let (index_part, width) = match path.split_once(".p/") {
        Some((i, w)) => {
            let ok = !w.is_empty() && w.len() <= 3 && w.bytes().all(|b| b.is_ascii_digit()) && !w.starts_with('0');
            let w: u64 = w.parse().ok().filter(|w| ok && (1..TILE_WIDTH).contains(w))?;
            (i, w)
        }
        None => (path, TILE_WIDTH),
    };
    let parts: Vec<&str> = index_part.split('/').collect();
    let mut index: u64 = 0;
    for (i, part) in parts.iter().enumerate() {
        let digits = if i + 1 < parts.len() { part.strip_prefix('x')? } else { part };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        index = index.checked_mul(1000)?.checked_add(digits.parse::<u64>().ok()?)?;
    }
    // One encoding per index: no leading `x000` groups.
    if encode_index(index) != index_part {
        return None;
    }
    Some(TileAddress { index, width })
}

/// An entry bundle: each entry as a big-endian 16-bit length and its bytes.
pub fn entry_bundle<'a>(entries: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        out.extend_from_slice(&u16::try_from(e.len()).unwrap_or(u16::MAX).to_be_bytes());
        out.extend_from_slice(e);
    }
    out
}

/// Splits an entry bundle back into entries; `None` if it is malformed.
pub fn split_bundle(mut bundle: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    while !bundle.is_empty() {
        let (len, rest) = bundle.split_first_chunk::<2>()?;
        let len = usize::from(u16::from_be_bytes(*len));
        if rest.len() < len {
            return None;
        }
        out.push(&rest[..len]);
        bundle = &rest[len..];
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_paths_follow_the_specification() {
        assert_eq!(encode_index(1234067), "x001/x234/067");
        assert_eq!(encode_index(0), "000");
        assert_eq!(encode_index(1000), "x001/000");
        assert_eq!(parse_index("x001/x234/067"), Some(TileAddress { index: 1234067, width: 256 }));
        assert_eq!(parse_index("067.p/12"), Some(TileAddress { index: 67, width: 12 }));
        for bad in ["67", "x000/067", "001/067", "067.p/0", "067.p/256", "067.p/012", "x1/000", "067/"] {
            assert_eq!(parse_index(bad), None, "{bad}");
        }
        let bundle = entry_bundle([b"ab".as_slice(), b"".as_slice()]);
        assert_eq!(bundle, [0, 2, b'a', b'b', 0, 0]);
        assert_eq!(split_bundle(&bundle).unwrap(), [b"ab".as_slice(), b"".as_slice()]);
        assert!(split_bundle(&[0, 3, 1]).is_none());
    }
}
