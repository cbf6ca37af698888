//! Writing JSON text by hand where it is on every request's path (answers,
//! log lines): one pass, no intermediate values.

/// Word-at-a-time byte search (SWAR): eight bytes per step.
mod swar {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;

    /// High bit set in each byte of `x` that is below `n` (n ≤ 128). The
    /// lowest set bit is exact; bits above it may be spurious (borrows),
    /// which is all a "first match" search needs.
    #[inline]
    pub(super) fn below(x: u64, n: u8) -> u64 {
        x.wrapping_sub(ONES * u64::from(n)) & !x & HIGHS
    }

    /// High bit set in each byte of `x` equal to `b` (lowest bit exact).
    #[inline]
    pub(super) fn equal(x: u64, b: u8) -> u64 {
        below(x ^ (ONES * u64::from(b)), 1)
    }

    /// Index of the first byte at or after `from` for which `mask` marks a
    /// match, checking the tail byte by byte with `one`.
    #[inline]
    pub(super) fn find(
        bytes: &[u8],
        from: usize,
        mask: impl Fn(u64) -> u64,
        one: impl Fn(u8) -> bool,
    ) -> Option<usize> {
        let mut i = from;
        while let Some(chunk) = bytes.get(i..i + 8) {
            let m = mask(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
            if m != 0 {
                return Some(i + (m.trailing_zeros() / 8) as usize);
            }
            i += 8;
        }
        bytes.get(i..)?.iter().position(|&b| one(b)).map(|p| i + p)
    }
}

/// The first byte that a JSON string must escape: `"`, `\` or a control character.
fn find_escapable(bytes: &[u8], from: usize) -> Option<usize> {
    swar::find(
        bytes,
        from,
        |x| swar::below(x, 0x20) | swar::equal(x, b'"') | swar::equal(x, b'\\'),
        |b| b < 0x20 || b == b'"' || b == b'\\',
    )
}

/// Appends `value` as a JSON string literal: `"`, `\` and control characters
/// are escaped, everything else (including non-ASCII) is copied as it is,
/// exactly as `serde_json` and `JSON.stringify` do.
pub(crate) fn push_string(out: &mut String, value: &str) {
    out.push('"');
    let bytes = value.as_bytes();
    let mut start = 0;
    while let Some(i) = find_escapable(bytes, start) {
        let b = bytes[i];
        // Only ASCII bytes are replaced, so `start..i` is on char boundaries.
        out.push_str(&value[start..i]);
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0C => out.push_str("\\f"),
            other => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[usize::from(other >> 4)] as char);
                out.push(HEX[usize::from(other & 0xF)] as char);
            }
        }
        start = i + 1;
    }
    out.push_str(&value[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_serde_json_on_every_kind_of_character() {
        let mut all = String::new();
        for c in (0u32..0x300).chain([0x2028, 0x2029, 0xFFFD, 0x1F389]).filter_map(char::from_u32) {
            all.push(c);
        }
        for s in [all.as_str(), "", "plain", "O'Brien \"quoted\" \\ </script>", "\u{7f}\u{1}\u{1f}"] {
            let mut ours = String::new();
            push_string(&mut ours, s);
            assert_eq!(ours, serde_json::to_string(s).unwrap());
        }
    }

    #[test]
    fn word_searches_agree_with_byte_searches() {
        let sample: Vec<u8> = (0..=255u8).chain(b"abc\"def\\{x}[y]\x01\x7f\xe2\x80\xa8".iter().copied()).collect();
        for from in 0..sample.len() {
            for start in [0, 1, 3, 7] {
                let hay = &sample[start..];
                let from = from.min(hay.len());
                let n = |f: &dyn Fn(u8) -> bool| hay[from..].iter().position(|&b| f(b)).map(|p| p + from);
                assert_eq!(find_escapable(hay, from), n(&|b| b < 0x20 || b == b'"' || b == b'\\'));
            }
        }
    }
}
