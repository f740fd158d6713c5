//! Everything that touches the CPU and platform devices, chosen once here by target arch.
//!
//! The rest of the kernel sees only the functions re-exported below.

#[cfg(target_arch = "x86_64")]
#[path = "x86_64/mod.rs"]
mod imp;

pub(crate) use imp::*;
