//! Stacks with an unmapped guard page below them, and the registry that lets the
//! page-fault handler say "stack overflow in stack X" instead of "page fault".

use spin::Mutex;

/// Most guarded stacks tracked at once.
const MAX_GUARDS: usize = 32;

/// A registered stack: name, guard page and top.
#[derive(Clone, Copy, Debug)]
pub struct GuardInfo {
    pub name: &'static str,
    pub guard_start: u64,
    pub top: u64,
}

static GUARDS: Mutex<[Option<GuardInfo>; MAX_GUARDS]> = Mutex::new([None; MAX_GUARDS]);

/// Records a stack whose guard page is already unmapped. Returns false if the table is
/// full (the stack still works; an overflow is then reported as a plain page fault).
pub(crate) fn register(info: GuardInfo) -> bool {
    let mut guards = GUARDS.lock();
    match guards.iter_mut().find(|slot| slot.is_none()) {
        Some(slot) => {
            *slot = Some(info);
            true
        }
        None => false,
    }
}

/// The stack whose guard page holds `addr`. Never blocks (fatal paths call it).
pub fn find_guard(addr: u64) -> Option<GuardInfo> {
    let guards = GUARDS.try_lock()?;
    guards
        .iter()
        .flatten()
        .find(|g| (g.guard_start..g.guard_start + super::frame::PAGE_SIZE).contains(&addr))
        .copied()
}
