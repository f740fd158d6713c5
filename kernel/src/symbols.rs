//! The kernel's own symbol table, so a fault can name the function it happened in.
//!
//! `boot` extracts function symbols from the first link of an image, encodes them with
//! [`encode`] and links them into the image's `.ksyms` section; the kernel looks them up
//! with [`SymbolTable::lookup`]. Layout (little-endian):
//! `"KSYM" count:u32 base:u64`, then `count` sorted entries
//! `offset:u32 size:u32 name_offset:u32 name_len:u32`, then the names.

use alloc::vec::Vec;

const MAGIC: &[u8; 4] = b"KSYM";
const HEADER: usize = 16;
const ENTRY: usize = 16;

/// A function symbol: its address range and (demangled, hash-free) name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Symbol<'a> {
    pub start: u64,
    pub size: u64,
    pub name: &'a str,
}

/// Why a table could not be encoded or read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymbolError {
    /// Not a table (wrong magic) or cut short.
    Malformed,
    /// A symbol lies too far from the lowest one (more than 4 GiB) or is too big.
    OutOfRange,
}

/// Encodes `symbols` (any order) into the `.ksyms` layout.
pub fn encode(symbols: &[Symbol<'_>]) -> Result<Vec<u8>, SymbolError> {
    let mut sorted: Vec<&Symbol<'_>> = symbols.iter().collect();
    sorted.sort_by_key(|s| s.start);
    let base = sorted.first().map_or(0, |s| s.start);
    let count = u32::try_from(sorted.len()).map_err(|_| SymbolError::OutOfRange)?;
    let mut out = Vec::with_capacity(HEADER + sorted.len() * ENTRY);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&base.to_le_bytes());
    let mut name_offset = 0usize;
    for symbol in &sorted {
        let fields = [
            symbol.start - base,
            symbol.size,
            name_offset as u64,
            symbol.name.len() as u64,
        ];
        for field in fields {
            let field = u32::try_from(field).map_err(|_| SymbolError::OutOfRange)?;
            out.extend_from_slice(&field.to_le_bytes());
        }
        name_offset += symbol.name.len();
    }
    for symbol in &sorted {
        out.extend_from_slice(symbol.name.as_bytes());
    }
    Ok(out)
}

/// A read-only view of an encoded table.
#[derive(Clone, Copy, Debug)]
pub struct SymbolTable<'a> {
    base: u64,
    entries: &'a [u8],
    names: &'a [u8],
}

impl<'a> SymbolTable<'a> {
    /// Checks the header; an empty slice is a valid empty table.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, SymbolError> {
        if bytes.is_empty() {
            return Ok(Self {
                base: 0,
                entries: &[],
                names: &[],
            });
        }
        if bytes.len() < HEADER || &bytes[..4] != MAGIC {
            return Err(SymbolError::Malformed);
        }
        let count = read_u32(bytes, 4) as usize;
        let base = u64::from_le_bytes(
            bytes[8..16]
                .try_into()
                .map_err(|_| SymbolError::Malformed)?,
        );
        let names_start = count
            .checked_mul(ENTRY)
            .and_then(|n| n.checked_add(HEADER))
            .filter(|&end| end <= bytes.len())
            .ok_or(SymbolError::Malformed)?;
        Ok(Self {
            base,
            entries: &bytes[HEADER..names_start],
            names: &bytes[names_start..],
        })
    }

    pub fn len(&self) -> usize {
        self.entries.len() / ENTRY
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The symbol whose range holds `addr`.
    pub fn lookup(&self, addr: u64) -> Option<Symbol<'a>> {
        let offset = addr.checked_sub(self.base)?;
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if u64::from(read_u32(self.entries, mid * ENTRY)) <= offset {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let symbol = self.get(lo.checked_sub(1)?)?;
        (addr < symbol.start + symbol.size.max(1)).then_some(symbol)
    }

    fn get(&self, index: usize) -> Option<Symbol<'a>> {
        let at = index * ENTRY;
        let field = |i: usize| read_u32(self.entries, at + i * 4) as usize;
        let name = self.names.get(field(2)..field(2).checked_add(field(3))?)?;
        Some(Symbol {
            start: self.base + field(0) as u64,
            size: field(1) as u64,
            name: core::str::from_utf8(name).unwrap_or("<non-UTF-8 name>"),
        })
    }
}

/// The table linked into this image (empty if the image was linked without one).
#[cfg(target_os = "none")]
pub(crate) fn in_image() -> SymbolTable<'static> {
    unsafe extern "C" {
        static __ksyms_start: u8;
        static __ksyms_end: u8;
    }
    // SAFETY: the linker script brackets the read-only `.ksyms` section with these symbols;
    // the bytes between them are never written.
    let bytes = unsafe {
        let start = core::ptr::addr_of!(__ksyms_start);
        let end = core::ptr::addr_of!(__ksyms_end);
        core::slice::from_raw_parts(start, end as usize - start as usize)
    };
    SymbolTable::parse(bytes).unwrap_or(SymbolTable {
        base: 0,
        entries: &[],
        names: &[],
    })
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym(start: u64, size: u64, name: &str) -> Symbol<'_> {
        Symbol { start, size, name }
    }

    #[test]
    fn round_trip_and_lookup() {
        let symbols = [
            sym(0x10_2000, 0x40, "b::two"),
            sym(0x10_1000, 0x100, "a::one"),
        ];
        let bytes = encode(&symbols).unwrap();
        let table = SymbolTable::parse(&bytes).unwrap();
        assert_eq!(table.len(), 2);
        assert_eq!(table.lookup(0x10_1000).unwrap().name, "a::one");
        assert_eq!(table.lookup(0x10_10ff).unwrap().name, "a::one");
        assert_eq!(table.lookup(0x10_1100), None);
        assert_eq!(
            table.lookup(0x10_2020).unwrap(),
            sym(0x10_2000, 0x40, "b::two")
        );
        assert_eq!(table.lookup(0xfff), None);
        assert_eq!(table.lookup(u64::MAX), None);
    }

    #[test]
    fn empty_and_malformed_tables() {
        assert!(SymbolTable::parse(&[]).unwrap().lookup(0x1000).is_none());
        assert_eq!(
            SymbolTable::parse(b"KSYX").unwrap_err(),
            SymbolError::Malformed
        );
        let mut bytes = encode(&[sym(1, 1, "x")]).unwrap();
        bytes.truncate(HEADER + 3);
        assert_eq!(
            SymbolTable::parse(&bytes).unwrap_err(),
            SymbolError::Malformed
        );
    }

    #[test]
    fn corrupt_name_ranges_do_not_panic() {
        let mut bytes = encode(&[sym(0x1000, 0x10, "name")]).unwrap();
        bytes[HEADER + 8..HEADER + 12].copy_from_slice(&1000u32.to_le_bytes());
        let table = SymbolTable::parse(&bytes).unwrap();
        assert_eq!(table.lookup(0x1000), None);
    }

    #[test]
    fn far_symbols_are_refused() {
        assert_eq!(
            encode(&[sym(0, 1, "a"), sym(1 << 40, 1, "b")]).unwrap_err(),
            SymbolError::OutOfRange
        );
    }
}
