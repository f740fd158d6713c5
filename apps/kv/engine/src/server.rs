//! Server and connection commands beyond the basics: `HELLO`, `CLIENT`, `COMMAND`, `INFO`,
//! `CONFIG`, `TIME`, `OBJECT`, the `SCAN` family and `RANDOMKEY`.

use crate::Command;

pub(crate) const COMMANDS: &[Command] = &[];
