//! The two threads of an open store: the committer (seal the open group, write it, flush,
//! acknowledge: group commit) and the compactor (compaction passes, and checkpoints of the
//! durable LSN in the superblock; the only writer of superblocks after open).

use super::{
    Compaction, DiskReader, Durability, Error, Result, Shared, flush_error, lock, wait_durable,
    write_error,
};
use crate::time::Instant;
use core::future::poll_fn;
use core::task::Poll;

/// Bytes of log a compaction step reads (and checks and parses without yielding).
const STEP_BYTES: u64 = 128 * 1024;

/// Records a compaction copies into one group at most.
const COPY_BATCH: usize = 256;

/// Waits until the committer sealed everything appended before `lsn` (or stopped).
fn wait_sealed(shared: &Shared, lsn: u64) {
    crate::task::block_on(poll_fn(|cx| {
        let mut st = lock(&shared.state);
        if st.log.sealed_to() >= lsn || st.committer_done || st.log.failure().is_some() {
            return Poll::Ready(());
        }
        st.wakers.push(cx.waker().clone());
        Poll::Pending
    }));
}

/// The committer: seal the open group, write it, flush, acknowledge; repeat. Whatever
/// arrives during one round is committed by the next.
pub(super) fn commit_loop(shared: &Shared) {
    let layout = lock(&shared.state).log.layout();
    loop {
        let started = Instant::now();
        let group = {
            let mut st = lock(&shared.state);
            loop {
                if st.log.failure().is_some() {
                    return;
                }
                if let Some(g) = st.log.seal() {
                    st.changed();
                    break g;
                }
                if st.closing {
                    return;
                }
                st = shared.work.wait(st).unwrap_or_else(|e| match e {});
            }
        };
        let records = u64::from(group.records);
        for (offset, range) in group.extents(&layout) {
            if shared.disk.write_at(&group.bytes[range], offset).is_err() {
                fail(shared, write_error(offset));
                return;
            }
        }
        {
            let mut st = lock(&shared.state);
            st.log.written(group.end);
            st.changed();
        }
        if shared.disk.flush().is_err() {
            fail(shared, flush_error());
            return;
        }
        {
            let mut st = lock(&shared.state);
            st.log.durable_to(group.end);
            st.flushes += 1;
            st.max_group_records = st.max_group_records.max(records);
            st.changed();
            if !st.compacting && (st.auto_compaction_due() || st.log.checkpoint_due()) {
                shared.compact.notify_one();
            }
        }
        // The writers just acknowledged run first and append their next records, so the
        // next group takes them all (group commit) instead of whoever was quickest.
        crate::thread::yield_now();
        if let Durability::Relaxed { interval } = shared.durability
            && !lock(&shared.state).closing
        {
            let next = started + interval;
            if next > Instant::now() {
                crate::time::sleep_until(next);
            }
        }
    }
}

/// A write or flush failed: the store turns read-only and every waiter hears of it.
fn fail(shared: &Shared, error: Error) {
    let mut st = lock(&shared.state);
    st.log.fail(error);
    st.changed();
    drop(st);
    shared.compact.notify_all();
}

/// The compactor: runs a pass when asked, or when the log is three quarters full of which
/// enough is dead.
pub(super) fn compact_loop(shared: &Shared) {
    loop {
        {
            let mut st = lock(&shared.state);
            loop {
                if st.closing || st.log.failure().is_some() {
                    return;
                }
                let wanted =
                    st.compactions_wanted > st.compactions_done || st.auto_compaction_due();
                if wanted && st.readers == 0 {
                    break;
                }
                if st.log.checkpoint_due() {
                    drop(st);
                    if let Err(e) = checkpoint(shared) {
                        fail(shared, e);
                    }
                    st = lock(&shared.state);
                    continue;
                }
                st = shared.compact.wait(st).unwrap_or_else(|e| match e {});
            }
            st.compacting = true;
        }
        let result = compact_pass(shared);
        let mut st = lock(&shared.state);
        st.compacting = false;
        match result {
            Ok(report) => {
                st.last_compaction = Some(report);
                st.auto_after = st.log.tail() + st.log.layout().data_len / 8;
            }
            Err(Error::Closed) => {}
            // Durable data that fails its checks, or a device error: stop writing rather
            // than build on it.
            Err(e @ (Error::Corrupt { .. } | Error::Device { .. })) => st.log.fail(e),
            // Anything else (no room for the copies) ends this pass only.
            Err(_) => st.auto_after = st.log.tail() + st.log.layout().data_len / 8,
        }
        st.last_pass = result;
        st.compactions_done += 1;
        st.changed();
    }
}

/// Records the durable LSN in the superblock (see `Log::checkpoint_due`). Only the
/// compactor thread writes superblocks after open, so they never race.
fn checkpoint(shared: &Shared) -> Result {
    let sb = lock(&shared.state).log.prepare_checkpoint();
    shared
        .disk
        .write_at(&sb.encode(), sb.slot_offset())
        .map_err(|_| write_error(sb.slot_offset()))?;
    shared.disk.flush().map_err(|_| flush_error())?;
    lock(&shared.state).log.head_written(sb);
    Ok(())
}

/// One pass: compaction steps from the head until the tail as it was when the pass began.
fn compact_pass(shared: &Shared) -> Result<Compaction> {
    let started = Instant::now();
    let (until, reader, log_before) = {
        let st = lock(&shared.state);
        let s = st.log.stats();
        (st.log.tail(), st.log.reader(), s.log_bytes)
    };
    let mut copied = 0u64;
    // Everything before `until` must be durable before it can be read back.
    crate::task::block_on(wait_durable(shared, until))?;
    let mut disk = DiskReader(shared.disk);
    loop {
        let window = lock(&shared.state).log.compaction_window(until);
        let Some((start, limit)) = window else { break };
        let step = logstore::read_step(reader, &mut disk, start, limit, until, STEP_BYTES)?;
        let mut next = 0usize;
        let barrier = loop {
            let barrier = {
                let mut st = lock(&shared.state);
                if st.closing {
                    return Err(Error::Closed);
                }
                let appended = st.log.stats().appended;
                let barrier = st.log.copy_live(&step, &mut next, COPY_BATCH);
                copied += st.log.stats().appended - appended;
                barrier?
            };
            shared.work.notify_one();
            if next == step.records.len() {
                break barrier;
            }
            // One batch of copies per group: wait until the committer sealed this one, so
            // writers never wait behind a chunk's worth of copies.
            wait_sealed(shared, barrier);
        };
        // The copies, and the newer records that made the others dead, must be durable
        // before the head moves past the step.
        crate::task::block_on(wait_durable(shared, barrier))?;
        let sb = lock(&shared.state)
            .log
            .prepare_head(step.end, step.end >= until);
        shared
            .disk
            .write_at(&sb.encode(), sb.slot_offset())
            .map_err(|_| write_error(sb.slot_offset()))?;
        shared.disk.flush().map_err(|_| flush_error())?;
        let mut st = lock(&shared.state);
        st.log.head_written(sb);
        st.changed();
    }
    let log_after = lock(&shared.state).log.stats().log_bytes;
    Ok(Compaction {
        finished: Instant::now().since_boot(),
        took: started.elapsed(),
        log_before,
        log_after,
        copied,
    })
}
