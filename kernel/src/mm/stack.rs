//! Stacks with an unmapped guard page below them, and the registry that lets the
//! page-fault handler say "stack overflow in stack X" instead of "page fault".
//!
//! The boot-time stacks (boot, trap stacks, main) go into a small fixed table, since they
//! are registered before the heap exists; task stacks go into a map on the heap.

use alloc::collections::BTreeMap;
use core::fmt;
use spin::Mutex;

/// Boot-time stacks tracked (boot, three trap stacks, main).
const BOOT_GUARDS: usize = 8;
const NAME_BYTES: usize = 32;

/// A stack's name, stored inline so that fatal paths can copy it without the heap.
#[derive(Clone, Copy)]
pub struct StackName {
    bytes: [u8; NAME_BYTES],
    len: u8,
}

impl StackName {
    /// `name`, cut to 32 bytes at a character boundary.
    pub fn new(name: &str) -> Self {
        let mut len = name.len().min(NAME_BYTES);
        while !name.is_char_boundary(len) {
            len -= 1;
        }
        let mut bytes = [0; NAME_BYTES];
        bytes[..len].copy_from_slice(&name.as_bytes()[..len]);
        Self {
            bytes,
            len: len as u8,
        }
    }

    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("?")
    }
}

impl fmt::Display for StackName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for StackName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

/// A registered stack: name, guard page and top.
#[derive(Clone, Copy, Debug)]
pub struct GuardInfo {
    pub name: StackName,
    pub guard_start: u64,
    pub top: u64,
}

static BOOT: Mutex<[Option<GuardInfo>; BOOT_GUARDS]> = Mutex::new([None; BOOT_GUARDS]);
static TASKS: Mutex<BTreeMap<u64, GuardInfo>> = Mutex::new(BTreeMap::new());

/// Records a boot-time stack whose guard page is unmapped. Returns false if the table is
/// full (the stack still works; an overflow is then reported as a plain page fault).
pub(crate) fn register_boot(info: GuardInfo) -> bool {
    let mut guards = BOOT.lock();
    match guards.iter_mut().find(|slot| slot.is_none()) {
        Some(slot) => {
            *slot = Some(info);
            true
        }
        None => false,
    }
}

/// Records a task stack (heap available).
pub(crate) fn register_task(info: GuardInfo) {
    TASKS.lock().insert(info.guard_start, info);
}

/// Forgets the task stack whose guard page starts at `guard_start`.
pub(crate) fn unregister_task(guard_start: u64) {
    TASKS.lock().remove(&guard_start);
}

/// The stack whose guard page holds `addr`. Never blocks (fatal paths call it).
pub fn find_guard(addr: u64) -> Option<GuardInfo> {
    let page = addr & !(super::frame::PAGE_SIZE - 1);
    if let Some(info) = TASKS.try_lock().and_then(|tasks| tasks.get(&page).copied()) {
        return Some(info);
    }
    let guards = BOOT.try_lock()?;
    guards
        .iter()
        .flatten()
        .find(|g| g.guard_start == page)
        .copied()
}
