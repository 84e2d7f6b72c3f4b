//! The references an index run parsed, held from the batch that stored a file until the
//! run's resolution: in memory up to a budget, then appended to an unnamed temporary file
//! and read back one file at a time as resolution reaches it.
//!
//! References are most of what a parsed file leaves behind (sympy's 29 MB hold about
//! 150,000 distinct references with their positions), so without the file an index run's
//! peak memory grows with the project; with it, it is bounded by the budget and the
//! pipeline's queues. The file has no name (`tempfile::tempfile`): a killed run leaves
//! nothing behind, and its stored files stay pending (`ref_pending`) for the next run.
//!
//! Nothing here can lose a reference: a file that cannot be created or written keeps the
//! references in memory, and one that cannot be read back reports the file's id, whose
//! stored source the caller parses again.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::FileExt as _;

use codedb_core::store::{RefKind, SymbolicRef};

/// How many bytes of references an index run holds in memory before it writes the rest to a
/// temporary file.
pub const DEFAULT_REFS_MEMORY_BYTES: usize = 64 << 20;

/// References by file id, in memory or in the temporary file.
#[derive(Debug)]
pub(crate) struct ParsedRefs {
    budget: usize,
    held: usize,
    memory: BTreeMap<i64, Vec<SymbolicRef>>,
    spill: Option<Spill>,
}

/// The temporary file and where each file's references are in it.
#[derive(Debug)]
struct Spill {
    file: std::fs::File,
    end: u64,
    at: BTreeMap<i64, (u64, usize)>,
}

impl Default for ParsedRefs {
    fn default() -> Self {
        ParsedRefs::new(DEFAULT_REFS_MEMORY_BYTES)
    }
}

impl ParsedRefs {
    /// Holding at most about `budget` bytes in memory.
    pub(crate) fn new(budget: usize) -> Self {
        ParsedRefs {
            budget,
            held: 0,
            memory: BTreeMap::new(),
            spill: None,
        }
    }

    /// Keeps `refs` as file `id`'s (replacing any kept before).
    pub(crate) fn insert(&mut self, id: i64, refs: Vec<SymbolicRef>) {
        self.forget(id);
        let size = refs.iter().map(footprint).sum::<usize>();
        if self.held + size > self.budget && self.write(id, &refs) {
            return;
        }
        self.held += size;
        self.memory.insert(id, refs);
    }

    /// Whether references of file `id` are kept.
    pub(crate) fn contains(&self, id: i64) -> bool {
        self.memory.contains_key(&id) || self.spill.as_ref().is_some_and(|s| s.at.contains_key(&id))
    }

    /// The ids of the files whose references are kept, in order.
    pub(crate) fn ids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self.memory.keys().copied().collect();
        if let Some(spill) = &self.spill {
            ids.extend(spill.at.keys().copied());
            ids.sort_unstable();
        }
        ids
    }

    /// How many files' references are kept.
    pub(crate) fn len(&self) -> usize {
        self.memory.len() + self.spilled()
    }

    /// How many files' references went to the temporary file.
    pub(crate) fn spilled(&self) -> usize {
        self.spill.as_ref().map_or(0, |s| s.at.len())
    }

    /// Takes file `id`'s references: `Ok(None)` when none are kept, `Err` when the
    /// temporary file could not give them back (parse the file again).
    pub(crate) fn take(&mut self, id: i64) -> Result<Option<Vec<SymbolicRef>>, std::io::Error> {
        if let Some(refs) = self.memory.remove(&id) {
            self.held -= refs.iter().map(footprint).sum::<usize>();
            return Ok(Some(refs));
        }
        let Some(spill) = &mut self.spill else {
            return Ok(None);
        };
        let Some((offset, len)) = spill.at.remove(&id) else {
            return Ok(None);
        };
        let mut bytes = vec![0; len];
        spill.file.read_exact_at(&mut bytes, offset)?;
        decode(&bytes).map(Some).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the temporary file of parsed references holds something else",
            )
        })
    }

    fn forget(&mut self, id: i64) {
        if let Some(refs) = self.memory.remove(&id) {
            self.held -= refs.iter().map(footprint).sum::<usize>();
        }
        if let Some(spill) = &mut self.spill {
            spill.at.remove(&id);
        }
    }

    /// Appends `refs` to the temporary file; false (nothing written) when it fails.
    fn write(&mut self, id: i64, refs: &[SymbolicRef]) -> bool {
        if self.spill.is_none() {
            match tempfile::tempfile() {
                Ok(file) => {
                    self.spill = Some(Spill {
                        file,
                        end: 0,
                        at: BTreeMap::new(),
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "no temporary file for parsed references: kept in memory");
                    self.budget = usize::MAX;
                    return false;
                }
            }
        }
        let Some(spill) = &mut self.spill else {
            return false;
        };
        let bytes = encode(refs);
        // A failed write may leave part of the bytes: the next ones go after them.
        let offset = spill.end;
        spill.end += bytes.len() as u64;
        match (&spill.file).write_all(&bytes) {
            Ok(()) => {
                spill.at.insert(id, (offset, bytes.len()));
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "the temporary file of parsed references failed: kept in memory");
                spill.end = spill.file.metadata().map_or(u64::MAX, |m| m.len());
                self.budget = usize::MAX;
                false
            }
        }
    }
}

/// About what `r` takes in memory: the struct, its strings and positions, and the
/// allocator's overhead of each of its three allocations.
fn footprint(r: &SymbolicRef) -> usize {
    std::mem::size_of::<SymbolicRef>() + r.spec.len() + r.name.len() + r.positions.len() * 8 + 48
}

fn encode(refs: &[SymbolicRef]) -> Vec<u8> {
    let mut out = Vec::with_capacity(refs.iter().map(footprint).sum());
    put(&mut out, refs.len());
    for r in refs {
        let kind = RefKind::ALL.iter().position(|k| *k == r.kind).unwrap_or(0);
        out.push(kind as u8);
        put(&mut out, r.spec.len());
        out.extend_from_slice(r.spec.as_bytes());
        put(&mut out, r.name.len());
        out.extend_from_slice(r.name.as_bytes());
        put(&mut out, r.positions.len());
        for (line, column) in &r.positions {
            out.extend_from_slice(&line.to_le_bytes());
            out.extend_from_slice(&column.to_le_bytes());
        }
    }
    out
}

fn put(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u64).to_le_bytes());
}

fn decode(mut bytes: &[u8]) -> Option<Vec<SymbolicRef>> {
    fn take<'b>(bytes: &mut &'b [u8], n: usize) -> Option<&'b [u8]> {
        let (head, rest) = bytes.split_at_checked(n)?;
        *bytes = rest;
        Some(head)
    }
    fn number(bytes: &mut &[u8]) -> Option<usize> {
        let n = u64::from_le_bytes(take(bytes, 8)?.try_into().ok()?);
        usize::try_from(n).ok()
    }
    fn text(bytes: &mut &[u8]) -> Option<String> {
        let n = number(bytes)?;
        String::from_utf8(take(bytes, n)?.to_vec()).ok()
    }
    fn u32_of(bytes: &mut &[u8]) -> Option<u32> {
        Some(u32::from_le_bytes(take(bytes, 4)?.try_into().ok()?))
    }
    let count = number(&mut bytes)?;
    let mut refs = Vec::with_capacity(count.min(bytes.len()));
    for _ in 0..count {
        let kind = *RefKind::ALL.get(usize::from(take(&mut bytes, 1)?[0]))?;
        let spec = text(&mut bytes)?;
        let name = text(&mut bytes)?;
        let n = number(&mut bytes)?;
        let mut positions = Vec::with_capacity(n.min(bytes.len() / 8));
        for _ in 0..n {
            positions.push((u32_of(&mut bytes)?, u32_of(&mut bytes)?));
        }
        refs.push(SymbolicRef {
            spec,
            kind,
            name,
            positions,
        });
    }
    bytes.is_empty().then_some(refs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(n: usize, seed: &str) -> Vec<SymbolicRef> {
        (0..n)
            .map(|i| SymbolicRef {
                spec: format!("I:{seed}.é|{i}"),
                kind: RefKind::ALL[i % RefKind::ALL.len()],
                name: format!("n{i}"),
                positions: (0..i as u32 % 4).map(|p| (p + 1, p * 7 + 1)).collect(),
            })
            .collect()
    }

    #[test]
    fn references_come_back_as_kept_from_memory_and_from_the_file() {
        let mut held = ParsedRefs::new(2_000);
        for id in [5, 1, 9, 3] {
            held.insert(id, refs(id as usize * 3, &id.to_string()));
        }
        assert!(held.spilled() > 0, "a small budget writes to the file");
        assert!(!held.memory.is_empty(), "the first files stay in memory");
        assert_eq!(held.ids(), vec![1, 3, 5, 9]);
        // Kept again: the later references replace the earlier.
        held.insert(9, refs(2, "again"));
        for id in [1, 3, 5] {
            assert_eq!(
                held.take(id).unwrap(),
                Some(refs(id as usize * 3, &id.to_string()))
            );
        }
        assert_eq!(held.take(9).unwrap(), Some(refs(2, "again")));
        assert_eq!(held.take(9).unwrap(), None, "taken once");
        assert_eq!(held.take(4).unwrap(), None, "never kept");
        assert_eq!(held.held, 0);
    }

    #[test]
    fn a_damaged_record_is_refused_not_misread() {
        let bytes = encode(&refs(6, "x"));
        assert_eq!(decode(&bytes), Some(refs(6, "x")));
        for cut in [0, 1, 8, bytes.len() / 2, bytes.len() - 1] {
            assert_eq!(decode(&bytes[..cut]), None, "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(&longer), None);
        let mut bad_kind = bytes;
        bad_kind[8] = 200;
        assert_eq!(decode(&bad_kind), None);
    }
}
