//! Commands that read collections without changing them: `LPOS`, `SMISMEMBER`,
//! `SRANDMEMBER`, set algebra, the `ZRANGE` family, `ZCOUNT`, `ZRANK`, `ZMSCORE`,
//! `HRANDFIELD`, `LCS`.

use crate::Command;

pub(crate) const COMMANDS: &[Command] = &[];
