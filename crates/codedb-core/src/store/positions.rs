//! The positions codec of `usages`: one row per (name, file) holds every place the name is
//! used in the file, packed as LEB128 varints (line deltas and columns), so that a file with
//! many references costs a few rows, not one per reference.

/// Packs sorted (line, column) positions as LEB128 varints: line deltas and columns.
pub fn pack_positions(positions: &[(u32, u32)]) -> Vec<u8> {
    fn varint(out: &mut Vec<u8>, mut v: u32) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let mut out = Vec::with_capacity(positions.len() * 2);
    let mut last = 0;
    for &(line, column) in positions {
        varint(&mut out, line.saturating_sub(last));
        varint(&mut out, column);
        last = line;
    }
    out
}

/// The inverse of [`pack_positions`]; stops at a truncated tail.
pub fn unpack_positions(bytes: &[u8]) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let mut it = bytes.iter();
    let mut next = || -> Option<u32> {
        let mut v: u32 = 0;
        for shift in (0..35).step_by(7) {
            let b = *it.next()?;
            v |= u32::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    };
    let mut line = 0;
    while let (Some(delta), Some(column)) = (next(), next()) {
        line += delta;
        out.push((line, column));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip() {
        let positions = vec![(1, 5), (1, 9), (3, 1), (300, 200), (70_000, 1)];
        assert_eq!(unpack_positions(&pack_positions(&positions)), positions);
        assert!(
            unpack_positions(&[0x80]).is_empty(),
            "a truncated tail is dropped"
        );
    }
}
