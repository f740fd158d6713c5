//! The keyspace on `libos::store`: loading it at start, and appending each command's
//! changes (`kvengine::persist` says how keys become records) in the order the commands
//! ran.

use kvengine::Server;
use kvengine::persist::{self, Loaded, Op};
use libos::prelude::*;
use libos::store::{self, Appended, Durability, OpenOptions, Store};
use libos::time::Instant;
use libos::{eprintln, println, process};

/// Exit status when the disk cannot hold kv's data (not a store, another app's store,
/// corrupt, a device error).
pub const EXIT_STORE: i32 = 4;

/// How writes are made durable, as the command line names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A write is acknowledged once it is durable (group commit across clients).
    Durable,
    /// Acknowledged at once; committed at least every second.
    Everysec,
    /// In memory only.
    None,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "durable" => Some(Self::Durable),
            "everysec" => Some(Self::Everysec),
            "none" => Some(Self::None),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Durable => "durable",
            Self::Everysec => "everysec",
            Self::None => "none",
        }
    }
}

pub struct Persistence {
    pub store: Store,
    pub disk: String,
    pub mode: Mode,
    /// The largest batch the store takes, in record bytes.
    max_batch: usize,
}

fn die(disk: &str, what: &str, e: &dyn core::fmt::Display) -> ! {
    eprintln!("kv: {disk}: {what}: {e}");
    process::exit(EXIT_STORE)
}

impl Persistence {
    /// Opens (or, on a blank disk, creates) the store on `disk` and loads the keyspace
    /// into `server`, saying how long that took. Dies with one line on any failure.
    pub fn open(disk: &str, mode: Mode, server: &mut Server, now_ms: u64) -> Self {
        let durability = match mode {
            Mode::Everysec => Durability::Relaxed {
                interval: core::time::Duration::from_secs(1),
            },
            _ => Durability::Durable,
        };
        if libos::block::disks()
            .iter()
            .any(|d| d.name == disk && d.read_only)
        {
            eprintln!(
                "kv: {disk}: the disk is read-only: use --persistence none to serve without one"
            );
            process::exit(EXIT_STORE);
        }
        let options = OpenOptions::new().create(true).durability(durability);
        let store = Store::open(disk, &options).unwrap_or_else(|e| {
            if e == store::Error::NoSuchDisk {
                let names: Vec<String> =
                    libos::block::disks().into_iter().map(|d| d.name).collect();
                eprintln!(
                    "kv: no disk {disk} for --persistence {} (disks: {})",
                    mode.name(),
                    if names.is_empty() {
                        "none".into()
                    } else {
                        names.join(", ")
                    }
                );
                process::exit(2)
            }
            die(disk, "cannot open the store", &e)
        });
        let started = Instant::now();
        let mut records = alloc::collections::BTreeMap::new();
        store
            .for_each_live(|k, v| {
                records.insert(k.to_vec(), v.to_vec());
            })
            .unwrap_or_else(|e| die(disk, "cannot read the store", &e));
        let read = started.elapsed();
        let loaded: Loaded = persist::load(records, now_ms).unwrap_or_else(|e| {
            let what = match e {
                persist::LoadError::Foreign { .. } => {
                    "holds a store that is not kv's (format it, or give kv another disk)"
                }
                persist::LoadError::Malformed { .. } => "holds a malformed kv record",
                persist::LoadError::Format { .. } => "holds kv data of an unknown format",
            };
            die(disk, what, &format_args!("{e:?}"))
        });
        let p = Self {
            max_batch: store.max_batch() / 2,
            store,
            disk: disk.into(),
            mode,
        };
        let mut cleanup: Vec<Op> = loaded
            .stale
            .iter()
            .map(|k| Op::Delete { key: k.clone() })
            .collect();
        if loaded.fresh {
            cleanup.push(Op::Put {
                key: persist::FORMAT_KEY.to_vec(),
                value: persist::FORMAT.to_vec(),
            });
        }
        if !cleanup.is_empty() {
            let appended = p
                .append(cleanup)
                .unwrap_or_else(|e| die(disk, "cannot write", &e));
            p.store
                .wait(appended)
                .unwrap_or_else(|e| die(disk, "cannot write", &e));
        }
        println!(
            "kv: loaded {} keys from {disk} in {} ms (reading {} ms; {} expired, {} stale \
             records removed; persistence {})",
            loaded.keys,
            started.elapsed().as_millis(),
            read.as_millis(),
            loaded.expired,
            loaded.stale.len(),
            mode.name()
        );
        server.keyspace = loaded.keyspace;
        server.persistent = true;
        server.last_save_ms = Some(now_ms);
        p
    }

    /// Appends `ops` in order, purges resolved against the store's index, in batches the
    /// store takes (see `persist::split`); the last batch, to wait for.
    pub fn append(&self, ops: Vec<Op>) -> Result<Appended, store::Error> {
        let mut resolved = Vec::with_capacity(ops.len());
        for op in ops {
            match op {
                Op::Purge { prefix, keep } => self.resolve_purge(&prefix, keep, &mut resolved)?,
                op => resolved.push(op),
            }
        }
        let mut last = self.store.appended();
        for range in persist::split(&resolved, self.max_batch, Store::RECORD_OVERHEAD) {
            let batch: Vec<store::Op<'_>> = resolved[range]
                .iter()
                .map(|op| match op {
                    Op::Put { key, value } => store::Op::Put { key, value },
                    Op::Delete { key } => store::Op::Delete { key },
                    Op::Purge { .. } => unreachable!("resolved above"),
                })
                .collect();
            last = self.store.append(&batch)?;
        }
        Ok(last)
    }

    fn resolve_purge(
        &self,
        prefix: &[u8],
        keep: Option<u32>,
        out: &mut Vec<Op>,
    ) -> Result<(), store::Error> {
        let mut after: Option<Vec<u8>> = None;
        loop {
            let keys = self.store.scan_keys(prefix, after.as_deref(), 1024)?;
            let Some(last) = keys.last() else {
                return Ok(());
            };
            after = Some(last.clone());
            out.extend(
                keys.into_iter()
                    .filter(|k| persist::purges(prefix, keep, k))
                    .map(|key| Op::Delete { key }),
            );
        }
    }
}
