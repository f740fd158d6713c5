//! Just enough ELF64 for the image builder: read function symbols and the PVH note, write
//! a stripped copy, and write a one-section relocatable object holding the `.ksyms` table.

use std::fmt;

/// What is wrong with an ELF file.
#[derive(Debug)]
pub struct ElfError(pub String);

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ElfError {}

fn err<T>(msg: impl Into<String>) -> Result<T, ElfError> {
    Err(ElfError(msg.into()))
}

const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
const SHT_SYMTAB: u32 = 2;
const STT_FUNC: u8 = 2;
const XEN_ELFNOTE_PHYS32_ENTRY: u32 = 18;

/// A parsed 64-bit little-endian x86_64 ELF file.
pub struct Elf<'a> {
    data: &'a [u8],
}

/// A program header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub kind: u32,
    pub offset: u64,
    pub vaddr: u64,
    pub file_size: u64,
    pub mem_size: u64,
}

/// A function symbol with its raw (mangled) name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionSymbol {
    pub name: String,
    pub addr: u64,
    pub size: u64,
}

impl<'a> Elf<'a> {
    pub fn parse(data: &'a [u8]) -> Result<Self, ElfError> {
        if data.len() < 64 || &data[..4] != b"\x7fELF" {
            return err("not an ELF file");
        }
        if data[4] != 2 || data[5] != 1 {
            return err("not a 64-bit little-endian ELF file");
        }
        if u16le(data, 18)? != 62 {
            return err("not an x86_64 ELF file");
        }
        Ok(Self { data })
    }

    pub fn entry(&self) -> Result<u64, ElfError> {
        u64le(self.data, 24)
    }

    pub fn segments(&self) -> Result<Vec<Segment>, ElfError> {
        let phoff = u64le(self.data, 32)? as usize;
        let phentsize = u16le(self.data, 54)? as usize;
        let phnum = u16le(self.data, 56)? as usize;
        (0..phnum)
            .map(|i| {
                let at = phoff + i * phentsize;
                Ok(Segment {
                    kind: u32le(self.data, at)?,
                    offset: u64le(self.data, at + 8)?,
                    vaddr: u64le(self.data, at + 16)?,
                    file_size: u64le(self.data, at + 32)?,
                    mem_size: u64le(self.data, at + 40)?,
                })
            })
            .collect()
    }

    /// The 32-bit entry address from the `XEN_ELFNOTE_PHYS32_ENTRY` note, if present.
    pub fn pvh_entry(&self) -> Result<Option<u64>, ElfError> {
        for seg in self.segments()?.iter().filter(|s| s.kind == PT_NOTE) {
            let notes = self.slice(seg.offset, seg.file_size)?;
            let mut at = 0;
            while at + 12 <= notes.len() {
                let namesz = u32le(notes, at)? as usize;
                let descsz = u32le(notes, at + 4)? as usize;
                let kind = u32le(notes, at + 8)?;
                let name_at = at + 12;
                let desc_at = name_at + namesz.next_multiple_of(4);
                let name = notes.get(name_at..name_at + namesz).unwrap_or(&[]);
                if name == b"Xen\0" && kind == XEN_ELFNOTE_PHYS32_ENTRY {
                    return Ok(Some(match descsz {
                        4 => u32le(notes, desc_at)?.into(),
                        _ => u64le(notes, desc_at)?,
                    }));
                }
                at = desc_at + descsz.next_multiple_of(4);
            }
        }
        Ok(None)
    }

    /// Function symbols with a size, from `.symtab`.
    pub fn function_symbols(&self) -> Result<Vec<FunctionSymbol>, ElfError> {
        let shoff = u64le(self.data, 40)? as usize;
        let shentsize = u16le(self.data, 58)? as usize;
        let shnum = u16le(self.data, 60)? as usize;
        let section = |i: usize| -> Result<(u32, u64, u64, u32, u64), ElfError> {
            let at = shoff + i * shentsize;
            Ok((
                u32le(self.data, at + 4)?,  // type
                u64le(self.data, at + 24)?, // offset
                u64le(self.data, at + 32)?, // size
                u32le(self.data, at + 40)?, // link
                u64le(self.data, at + 56)?, // entsize
            ))
        };
        let mut out = Vec::new();
        for i in 0..shnum {
            let (kind, offset, size, link, entsize) = section(i)?;
            if kind != SHT_SYMTAB || entsize < 24 {
                continue;
            }
            let (_, str_offset, str_size, _, _) = section(link as usize)?;
            let strings = self.slice(str_offset, str_size)?;
            let table = self.slice(offset, size)?;
            for sym in table.chunks_exact(entsize as usize) {
                let (name, info, value, size) =
                    (u32le(sym, 0)?, sym[4], u64le(sym, 8)?, u64le(sym, 16)?);
                if info & 0xf != STT_FUNC || size == 0 || value == 0 {
                    continue;
                }
                let name = strings.get(name as usize..).unwrap_or(&[]);
                let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
                out.push(FunctionSymbol {
                    name: String::from_utf8_lossy(&name[..end]).into_owned(),
                    addr: value,
                    size,
                });
            }
        }
        Ok(out)
    }

    /// The file's bytes within `[offset, offset + size)`.
    pub fn slice(&self, offset: u64, size: u64) -> Result<&'a [u8], ElfError> {
        let start = usize::try_from(offset).map_err(|_| ElfError("offset too large".into()))?;
        let end = start
            .checked_add(size as usize)
            .ok_or(ElfError("size too large".into()))?;
        self.data
            .get(start..end)
            .ok_or_else(|| ElfError("section or segment outside the file".into()))
    }

    /// The section named `name`: (address, file offset, size).
    pub fn section(&self, name: &str) -> Result<Option<(u64, u64, u64)>, ElfError> {
        let shoff = u64le(self.data, 40)? as usize;
        let shentsize = u16le(self.data, 58)? as usize;
        let shnum = u16le(self.data, 60)? as usize;
        let shstrndx = u16le(self.data, 62)? as usize;
        if shoff == 0 || shnum == 0 {
            return Ok(None);
        }
        let names_at = shoff + shstrndx * shentsize;
        let names = self.slice(
            u64le(self.data, names_at + 24)?,
            u64le(self.data, names_at + 32)?,
        )?;
        for i in 0..shnum {
            let at = shoff + i * shentsize;
            let name_offset = u32le(self.data, at)? as usize;
            let this = names.get(name_offset..).unwrap_or(&[]);
            let end = this.iter().position(|&b| b == 0).unwrap_or(this.len());
            if &this[..end] == name.as_bytes() {
                return Ok(Some((
                    u64le(self.data, at + 16)?,
                    u64le(self.data, at + 24)?,
                    u64le(self.data, at + 32)?,
                )));
            }
        }
        Ok(None)
    }

    /// The stripped copy plus a section table naming only `sections` (which must lie in
    /// loaded segments): for loaders that look sections up by name, like the `bootloader`
    /// crate's `.bootloader-config`.
    pub fn stripped_with_sections(&self, sections: &[&str]) -> Result<Vec<u8>, ElfError> {
        let mut out = self.stripped()?;
        let mut shstrtab = vec![0u8];
        let mut headers = vec![[0u8; 64]];
        for &name in sections {
            let (addr, offset, size) = self
                .section(name)?
                .ok_or_else(|| ElfError(format!("no section {name}")))?;
            if offset + size > out.len() as u64 {
                return err(format!("section {name} is not in a loaded segment"));
            }
            let mut header = [0u8; 64];
            header[0..4].copy_from_slice(&(shstrtab.len() as u32).to_le_bytes());
            header[4..8].copy_from_slice(&1u32.to_le_bytes()); // SHT_PROGBITS
            header[8..16].copy_from_slice(&2u64.to_le_bytes()); // SHF_ALLOC
            header[16..24].copy_from_slice(&addr.to_le_bytes());
            header[24..32].copy_from_slice(&offset.to_le_bytes());
            header[32..40].copy_from_slice(&size.to_le_bytes());
            header[48..56].copy_from_slice(&1u64.to_le_bytes()); // alignment
            headers.push(header);
            shstrtab.extend_from_slice(name.as_bytes());
            shstrtab.push(0);
        }
        let mut strtab_header = [0u8; 64];
        strtab_header[0..4].copy_from_slice(&(shstrtab.len() as u32).to_le_bytes());
        shstrtab.extend_from_slice(b".shstrtab\0");
        strtab_header[4..8].copy_from_slice(&3u32.to_le_bytes()); // SHT_STRTAB
        strtab_header[24..32].copy_from_slice(&(out.len() as u64).to_le_bytes());
        strtab_header[32..40].copy_from_slice(&(shstrtab.len() as u64).to_le_bytes());
        strtab_header[48..56].copy_from_slice(&1u64.to_le_bytes());
        headers.push(strtab_header);
        out.extend_from_slice(&shstrtab);
        out.resize(out.len().next_multiple_of(8), 0);
        let shoff = out.len() as u64;
        for header in &headers {
            out.extend_from_slice(header);
        }
        out[40..48].copy_from_slice(&shoff.to_le_bytes());
        out[58..60].copy_from_slice(&64u16.to_le_bytes());
        out[60..62].copy_from_slice(&(headers.len() as u16).to_le_bytes());
        out[62..64].copy_from_slice(&(headers.len() as u16 - 1).to_le_bytes());
        Ok(out)
    }

    /// A copy with only what a loader needs: headers and segment contents, no sections.
    pub fn stripped(&self) -> Result<Vec<u8>, ElfError> {
        let segments = self.segments()?;
        let phoff = u64le(self.data, 32)?;
        let phend = phoff + segments.len() as u64 * u64::from(u16le(self.data, 54)?);
        let end = segments
            .iter()
            .map(|s| s.offset + s.file_size)
            .fold(phend, u64::max);
        let mut out = self.slice(0, end)?.to_vec();
        out[40..48].fill(0); // e_shoff
        out[58..64].fill(0); // e_shentsize, e_shnum, e_shstrndx
        Ok(out)
    }
}

/// A relocatable object with one allocated, read-only section `.ksyms` holding `data`.
pub fn ksyms_object(data: &[u8]) -> Vec<u8> {
    let shstrtab = b"\0.ksyms\0.shstrtab\0";
    let data_off = 64u64;
    let strtab_off = data_off + data.len() as u64;
    let shoff = (strtab_off + shstrtab.len() as u64).next_multiple_of(8);
    let mut out = Vec::new();
    out.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    out.extend_from_slice(&1u16.to_le_bytes()); // ET_REL
    out.extend_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    out.extend_from_slice(&1u32.to_le_bytes()); // EV_CURRENT
    out.extend_from_slice(&0u64.to_le_bytes()); // entry
    out.extend_from_slice(&0u64.to_le_bytes()); // phoff
    out.extend_from_slice(&shoff.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes()); // flags
    for half in [64u16, 0, 0, 64, 3, 2] {
        // ehsize, phentsize, phnum, shentsize, shnum, shstrndx
        out.extend_from_slice(&half.to_le_bytes());
    }
    out.extend_from_slice(data);
    out.extend_from_slice(shstrtab);
    out.resize(shoff as usize, 0);
    let mut section = |name: u32, kind: u32, flags: u64, offset: u64, size: u64, align: u64| {
        out.extend_from_slice(&name.to_le_bytes());
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes()); // addr
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes()); // link
        out.extend_from_slice(&0u32.to_le_bytes()); // info
        out.extend_from_slice(&align.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes()); // entsize
    };
    section(0, 0, 0, 0, 0, 0);
    section(1, 1, 2, data_off, data.len() as u64, 8); // .ksyms: PROGBITS, SHF_ALLOC
    section(8, 3, 0, strtab_off, shstrtab.len() as u64, 1); // .shstrtab: STRTAB
    out
}

/// The smallest PVH kernel: its first instruction reports status 0 through
/// `isa-debug-exit`. Booting it measures QEMU's own floor.
pub fn floor_kernel() -> Vec<u8> {
    const BASE: u64 = 0x10_0000;
    const HEADERS: u64 = 64 + 2 * 56;
    let note: Vec<u8> = [
        &4u32.to_le_bytes()[..],
        &8u32.to_le_bytes(),
        &XEN_ELFNOTE_PHYS32_ENTRY.to_le_bytes(),
        b"Xen\0",
        &(BASE + HEADERS + 24).to_le_bytes(),
    ]
    .concat();
    // mov $1, %eax; out %eax, $0xf4; 1: hlt; jmp 1b
    let code = [0xb8, 0x01, 0x00, 0x00, 0x00, 0xe7, 0xf4, 0xf4, 0xeb, 0xfd];
    let size = HEADERS + note.len() as u64 + code.len() as u64;
    let mut out = Vec::new();
    out.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    out.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    out.extend_from_slice(&62u16.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&(BASE + HEADERS + note.len() as u64).to_le_bytes()); // entry
    out.extend_from_slice(&64u64.to_le_bytes()); // phoff
    out.extend_from_slice(&0u64.to_le_bytes()); // shoff
    out.extend_from_slice(&0u32.to_le_bytes());
    for half in [64u16, 56, 2, 64, 0, 0] {
        out.extend_from_slice(&half.to_le_bytes());
    }
    let mut phdr = |kind: u32, flags: u32, offset: u64, size: u64, align: u64| {
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&(BASE + offset).to_le_bytes()); // vaddr
        out.extend_from_slice(&(BASE + offset).to_le_bytes()); // paddr
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&align.to_le_bytes());
    };
    phdr(PT_LOAD, 5, 0, size, 0x1000);
    phdr(PT_NOTE, 4, HEADERS, note.len() as u64, 4);
    out.extend_from_slice(&note);
    out.extend_from_slice(&code);
    out
}

fn u16le(data: &[u8], at: usize) -> Result<u16, ElfError> {
    data.get(at..at + 2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .ok_or_else(|| ElfError("ELF file is truncated".into()))
}

fn u32le(data: &[u8], at: usize) -> Result<u32, ElfError> {
    data.get(at..at + 4)
        .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
        .ok_or_else(|| ElfError("ELF file is truncated".into()))
}

fn u64le(data: &[u8], at: usize) -> Result<u64, ElfError> {
    data.get(at..at + 8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
        .ok_or_else(|| ElfError("ELF file is truncated".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_kernel_has_a_pvh_entry_at_its_code() {
        let image = floor_kernel();
        let elf = Elf::parse(&image).unwrap();
        let entry = elf.pvh_entry().unwrap().unwrap();
        assert_eq!(entry, elf.entry().unwrap());
        let offset = entry - 0x10_0000;
        assert_eq!(image[offset as usize], 0xb8);
    }

    #[test]
    fn rejects_non_elf() {
        assert!(Elf::parse(b"hello").is_err());
        assert!(Elf::parse(&[0u8; 64]).is_err());
    }

    #[test]
    fn ksyms_object_is_a_valid_relocatable() {
        let obj = ksyms_object(b"KSYMabcd");
        let elf = Elf::parse(&obj).unwrap();
        assert_eq!(u16le(&obj, 16).unwrap(), 1);
        assert!(elf.segments().unwrap().is_empty());
        assert_eq!(&obj[64..72], b"KSYMabcd");
        assert!(elf.function_symbols().unwrap().is_empty());
    }

    #[test]
    fn truncated_headers_are_errors_not_panics() {
        let mut obj = ksyms_object(b"x");
        obj[32..40].copy_from_slice(&1000u64.to_le_bytes()); // phoff past the end
        obj[56..58].copy_from_slice(&1u16.to_le_bytes()); // one program header
        let elf = Elf::parse(&obj).unwrap();
        assert!(elf.segments().is_err());
    }
}
