//! Write commands that move elements between keys, store what they compute, remove ranges
//! or add floats, as Redis 7.0 answers them: [`lists`] (`LMOVE`, `RPOPLPUSH`, `LMPOP`),
//! [`sets`] (`SMOVE`, `SINTERSTORE`, `SUNIONSTORE`, `SDIFFSTORE`), [`zsets`] (`ZUNIONSTORE`,
//! `ZINTERSTORE`, `ZREMRANGEBYRANK`/`BYSCORE`/`BYLEX`) and [`values`] (`INCRBYFLOAT`,
//! `HINCRBYFLOAT`, `GETEX`).
//!
//! Every change goes through the keyspace's noting API, so it reaches the disk
//! ([`crate::persist`]): collections change in place through their own methods, results are
//! stored whole with [`Keyspace::set`](crate::keyspace::Keyspace::set), and emptied keys are
//! removed.

mod lists;
mod sets;
mod values;
mod zsets;

use crate::Command;

pub(crate) const COMMANDS: &[Command] = &[
    Command::write("lmove", 5, lists::lmove),
    Command::write("rpoplpush", 3, lists::rpoplpush),
    Command::write("lmpop", -4, lists::lmpop),
    Command::write("smove", 4, sets::smove),
    Command::write("sinterstore", -3, sets::sinterstore),
    Command::write("sunionstore", -3, sets::sunionstore),
    Command::write("sdiffstore", -3, sets::sdiffstore),
    Command::write("zunionstore", -4, zsets::zunionstore),
    Command::write("zinterstore", -4, zsets::zinterstore),
    Command::write("zremrangebyrank", 4, zsets::zremrangebyrank),
    Command::write("zremrangebyscore", 4, zsets::zremrangebyscore),
    Command::write("zremrangebylex", 4, zsets::zremrangebylex),
    Command::write("incrbyfloat", 3, values::incrbyfloat),
    Command::write("hincrbyfloat", 4, values::hincrbyfloat),
    Command::write("getex", -2, values::getex),
];

#[cfg(test)]
#[path = "tests_writes.rs"]
mod tests;
