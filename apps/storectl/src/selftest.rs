//! `storectl selftest`: the store's API checked from inside the guest, where the real
//! disk, threads and group commit run (the engine's own tests run on the host).

use crate::{Target, die};
use libos::prelude::*;
use libos::store::{Error, Op, OpenOptions, Store};
use libos::{println, process, task, thread};

fn check(ok: bool, what: &str) {
    if !ok {
        println!("selftest: FAILED: {what}");
        process::exit(1);
    }
}

pub fn run(target: &Target) {
    let disk = target.disk.as_str();
    let s = target.open_or_create();
    let or_die = |r: Result<(), Error>| r.unwrap_or_else(|e| die(disk, &e));

    // One open at a time.
    check(
        Store::open(disk, &target.options).err() == Some(Error::AlreadyOpen),
        "a second open of the same disk is refused",
    );

    // Blocking and async forms, from many threads at once.
    or_die(s.put(b"self:a", b"1"));
    or_die(task::block_on(s.put_async(b"self:b", b"2")));
    let handles: Vec<_> = (0..16)
        .map(|t| {
            let s = s.clone();
            thread::spawn(move || {
                for i in 0..20 {
                    let key = format!("self:t{t:02}-{i:02}");
                    s.put(key.as_bytes(), key.as_bytes())
                        .unwrap_or_else(|e| die("vda", &e));
                }
            })
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    check(
        task::block_on(s.get_async(b"self:b")) == Ok(Some(b"2".to_vec())),
        "get_async sees put_async",
    );
    check(
        s.delete(b"self:a") == Ok(true) && s.delete(b"self:a") == Ok(false),
        "delete reports whether the key existed",
    );
    check(s.get(b"self:a") == Ok(None), "a deleted key is gone");

    // A batch is one unit.
    let removed = s
        .batch(&[
            Op::Put {
                key: b"self:x",
                value: b"X",
            },
            Op::Delete { key: b"self:b" },
            Op::Put {
                key: b"self:y",
                value: b"Y",
            },
        ])
        .unwrap_or_else(|e| die(disk, &e));
    check(
        removed == 1,
        "batch counts the deletes that found their key",
    );
    let big = vec![0u8; 8 << 20];
    check(
        matches!(s.put(b"self:big", &big), Err(Error::TooLarge { .. })),
        "a value larger than the store takes is refused",
    );

    // Ordered scans with a cursor.
    let page1 = s.scan(b"self:t", None, 7).unwrap_or_else(|e| die(disk, &e));
    let page2 = s
        .scan(b"self:t", Some(&page1.last().expect("a page").0), 1000)
        .unwrap_or_else(|e| die(disk, &e));
    let keys: Vec<Vec<u8>> = page1.iter().chain(&page2).map(|(k, _)| k.clone()).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    check(
        keys.len() == 320 && keys == sorted,
        "scan pages cover every key, in order",
    );
    check(
        page1.iter().all(|(k, v)| k[5..] == v[..] || k == v),
        "scan returns each key's value",
    );

    // Close, reopen: everything is there; the disk can be opened again.
    let before = s.stats().log.records;
    if let Err(e) = s.close() {
        die(disk, &e);
    }
    let s = target.open();
    check(
        s.stats().log.records == before,
        "a reopened store has every key",
    );
    check(
        s.get(b"self:y") == Ok(Some(b"Y".to_vec())),
        "values survive a reopen",
    );
    if let Err(e) = s.close() {
        die(disk, &e);
    }

    // Read-only opens read and refuse writes.
    let ro = Store::open(disk, &target.options.read_only(true)).unwrap_or_else(|e| die(disk, &e));
    check(
        ro.get(b"self:x") == Ok(Some(b"X".to_vec())),
        "a read-only store reads",
    );
    check(
        ro.put(b"self:z", b"Z") == Err(Error::ReadOnly),
        "a read-only store refuses puts",
    );
    drop(ro);

    // An index too small for the data set is refused at open, with the limit.
    let tiny = OpenOptions::new().index_memory(1000);
    check(
        Store::open(disk, &tiny).err() == Some(Error::IndexFull { limit: 1000 }),
        "an index over its memory limit is refused at open",
    );
    println!("selftest: ok");
}
