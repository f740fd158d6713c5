//! Tasks, switching and blocking (see the module docs in `sched/mod.rs`).

use super::queue::{Class, RunQueue, TaskId, TimerQueue};
use super::state::{RunState, State};
use crate::arch::irq;
use crate::mm::stack::StackName;
use crate::mm::{self, TaskStack};
use crate::sync::IrqMutex;
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Stack size of a task spawned without one.
pub const DEFAULT_STACK_SIZE: u64 = 64 * 1024;
/// Smallest stack a task may ask for.
pub const MIN_STACK_SIZE: u64 = 8 * 1024;

/// Why a task could not be spawned or joined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchedError {
    /// No memory for the task's stack.
    OutOfMemory,
    /// The scheduler is not running yet (before the app's `main`).
    NotRunning,
    /// No such task (never existed, or already joined).
    NoSuchTask,
    /// A task tried to join itself.
    JoinSelf,
    /// Another task is already joining this one.
    AlreadyJoined,
}

struct Task {
    name: String,
    class: Class,
    /// Ready, running, blocked or finished, plus the wake-up token (`state.rs`).
    run: RunState,
    /// Saved stack pointer while not running.
    rsp: u64,
    /// `None` for the main task, whose stack the kernel set up at boot.
    stack: Option<TaskStack>,
    entry: Option<Box<dyn FnOnce() + Send>>,
    /// The task waiting in `join` for this one.
    joiner: Option<TaskId>,
    /// The task this one waits for in `join` (for deadlock reports).
    joining: Option<TaskId>,
    /// Matches the pending timer entry, if any; bumped to cancel it.
    ticket: u64,
    /// Nobody will join: remove the task when it finishes.
    detached: bool,
    /// `unpark` came before `park`.
    unpark_token: bool,
}

struct Scheduler {
    tasks: BTreeMap<TaskId, Box<Task>>,
    current: TaskId,
    run: RunQueue,
    timers: TimerQueue,
    next_id: u64,
    /// Stacks of finished tasks, freed by the next task to run (never by their owner).
    zombie_stacks: Vec<TaskStack>,
    /// Finished detached tasks to forget once switched away from.
    zombie_tasks: Vec<TaskId>,
}

/// Interrupt-safe: device handlers wake tasks, so they take this lock too.
static SCHED: IrqMutex<Option<Scheduler>> = IrqMutex::new(None);
/// Set while `zombie_stacks` or `zombie_tasks` hold something, so that most switches skip
/// the clean-up.
static ZOMBIES: AtomicBool = AtomicBool::new(false);

/// The main task's id.
pub const MAIN: TaskId = TaskId(1);

impl Scheduler {
    /// Adds a timer for the current wait of task `id` and, when cancelled timers (left by
    /// waits that ended early, such as the network task's) outnumber the live ones, drops
    /// them, so that the queue stays as small as the number of tasks.
    fn add_timer(&mut self, deadline: u64, id: TaskId, ticket: u64) {
        self.timers.insert(deadline, id, ticket);
        if self.timers.len() > 64 + 2 * self.tasks.len() {
            let tasks = &self.tasks;
            self.timers.retain(|t| {
                tasks.get(&t.task).is_some_and(|task| {
                    task.ticket == t.ticket && matches!(task.run.state(), State::Blocked(_))
                })
            });
        }
    }

    fn task(&mut self, id: TaskId) -> &mut Task {
        self.tasks.get_mut(&id).expect("the scheduler lost a task")
    }

    /// Wakes task `id`: a blocked task becomes ready; any other keeps a token.
    fn wake(&mut self, id: TaskId) -> bool {
        let task = self.task(id);
        let ready = task.run.wake();
        if ready {
            let class = task.class;
            self.run.push(id, class);
            WOKEN.store(true, Ordering::Relaxed);
        }
        ready
    }

    fn fire_timers(&mut self) {
        if self.timers.is_empty() {
            return;
        }
        let now = crate::time::since_boot_ns();
        while let Some(timer) = self.timers.pop_due(now) {
            // The ticket changes with every timed block, so a timer only ends the wait
            // it was set for.
            let live = self.tasks.get(&timer.task).is_some_and(|t| {
                t.ticket == timer.ticket && matches!(t.run.state(), State::Blocked(_))
            });
            if live {
                self.wake(timer.task);
            }
        }
    }
}

/// Starts scheduling with the running code as the main task. Called once, on the main
/// stack, before the app's `main`.
pub(crate) fn init() {
    let main = Task {
        name: String::from("main"),
        class: Class::Normal,
        run: RunState::new(State::Running),
        rsp: 0,
        stack: None,
        entry: None,
        joiner: None,
        joining: None,
        ticket: 0,
        detached: true,
        unpark_token: false,
    };
    let mut tasks = BTreeMap::new();
    tasks.insert(MAIN, Box::new(main));
    *SCHED.lock() = Some(Scheduler {
        tasks,
        current: MAIN,
        run: RunQueue::new(),
        timers: TimerQueue::new(),
        next_id: MAIN.0 + 1,
        zombie_stacks: Vec::new(),
        zombie_tasks: Vec::new(),
    });
}

/// True once [`init`] ran.
pub fn is_running() -> bool {
    SCHED.lock().is_some()
}

/// Creates a task running `entry` on its own stack (`stack_size` bytes, default
/// [`DEFAULT_STACK_SIZE`], at least [`MIN_STACK_SIZE`], plus an unmapped guard page) and
/// queues it. It first runs when the current task yields or blocks.
pub fn spawn(
    name: &str,
    stack_size: Option<u64>,
    class: Class,
    entry: Box<dyn FnOnce() + Send>,
) -> Result<TaskId, SchedError> {
    if !is_running() {
        return Err(SchedError::NotRunning);
    }
    let size = stack_size.unwrap_or(DEFAULT_STACK_SIZE).max(MIN_STACK_SIZE);
    let stack = mm::allocate_stack(name, size).map_err(|_| SchedError::OutOfMemory)?;
    // SAFETY: the stack was just allocated, is mapped below `top` and unused.
    let rsp = unsafe { crate::arch::initial_stack(stack.top, task_start) };
    let mut guard = SCHED.lock();
    let s = guard.as_mut().ok_or(SchedError::NotRunning)?;
    let id = TaskId(s.next_id);
    s.next_id += 1;
    s.tasks.insert(
        id,
        Box::new(Task {
            name: String::from(name),
            class,
            run: RunState::new(State::Ready),
            rsp,
            stack: Some(stack),
            entry: Some(entry),
            joiner: None,
            joining: None,
            ticket: 0,
            detached: false,
            unpark_token: false,
        }),
    );
    s.run.push(id, class);
    drop(guard);
    super::watchdog::start();
    Ok(id)
}

/// Where every task starts, on its own stack.
extern "C" fn task_start() -> ! {
    after_switch();
    resume_interrupts();
    let entry = {
        let mut guard = SCHED.lock();
        let s = guard.as_mut().expect("scheduler running");
        let current = s.current;
        s.task(current).entry.take()
    };
    if let Some(entry) = entry {
        entry();
    }
    exit_current()
}

/// Ends the current task: wakes its joiner and never returns.
pub fn exit_current() -> ! {
    {
        let mut guard = SCHED.lock();
        let s = guard.as_mut().expect("scheduler running");
        let current = s.current;
        let task = s.task(current);
        task.run.finish();
        if let Some(joiner) = task.joiner.take() {
            s.wake(joiner);
        }
    }
    schedule();
    unreachable!("a finished task was scheduled again");
}

/// Tasks run with interrupts enabled once they are live (a device or the watchdog needs
/// them); the scheduler itself runs with them off.
fn resume_interrupts() {
    if irq::live() {
        irq::enable();
    }
}

/// Called, when set, by [`block_current`] after its caller decided to block and before
/// the task is marked blocked: the window a device's wake-up can fall into. Tests set it
/// to inject interrupts there (see `crate::selftest`).
static BLOCK_HOOK: AtomicUsize = AtomicUsize::new(0);

/// Installs (or with `None` removes) the [`BLOCK_HOOK`].
pub(crate) fn set_block_hook(hook: Option<fn()>) {
    BLOCK_HOOK.store(hook.map_or(0, |f| f as usize), Ordering::SeqCst);
}

/// Runs the next ready task (the current one must already be queued, blocked or
/// finished). Halts while only timers or device work are pending; ends the run on a
/// deadlock.
fn schedule() {
    // Checking for work and halting must not race a wake-up: interrupts stay off from
    // here until the next task runs (`wait_for_interrupt` enables them atomically with
    // the halt).
    drop(irq::save_and_disable());
    loop {
        let mut guard = SCHED.lock();
        let s = guard.as_mut().expect("scheduler running");
        s.fire_timers();
        if let Some(next) = s.run.pop() {
            let from = s.current;
            if next == from {
                s.task(from).run.run();
                drop(guard);
                super::watchdog::switched_in(from);
                resume_interrupts();
                return;
            }
            let leaving = s.task(from);
            if leaving.run.state() == State::Finished {
                let stack = leaving.stack.take();
                let detached = leaving.detached;
                s.zombie_stacks.extend(stack);
                if detached {
                    s.zombie_tasks.push(from);
                }
                ZOMBIES.store(true, Ordering::Relaxed);
            }
            // The Box keeps the task's address stable while it is switched out.
            let save = &mut s.task(from).rsp as *mut u64;
            s.current = next;
            let arriving = s.task(next);
            arriving.run.run();
            let to = arriving.rsp;
            drop(guard);
            super::watchdog::switched_in(next);
            // SAFETY: `save` points into a boxed task that stays in the map until it is
            // joined or reaped, which only happens after this switch completed; `to` was
            // saved by `switch_stack` or made by `initial_stack` on a live stack.
            unsafe { crate::arch::switch_stack(save, to) };
            after_switch();
            resume_interrupts();
            return;
        }
        match s.timers.next_deadline() {
            Some(deadline) => {
                drop(guard);
                crate::arch::ensure_timer();
                let deadline = crate::time::deadline_tsc(deadline);
                if super::watchdog::active() {
                    super::watchdog::idle_until(deadline);
                } else {
                    crate::arch::arm_timer(deadline);
                }
                // Halts with interrupts on, returns with them off.
                irq::wait_for_interrupt();
            }
            // A device has work in flight: its interrupt will wake somebody.
            None if super::state::io_outstanding() > 0 => {
                drop(guard);
                if super::watchdog::active() {
                    super::watchdog::idle_until(u64::MAX);
                }
                if !poll_for_wake() {
                    irq::wait_for_interrupt();
                }
            }
            None => report_deadlock(s),
        }
    }
}

/// Set by every wake-up that readies a task, so that the idle poll sees one without the
/// scheduler's lock.
static WOKEN: AtomicBool = AtomicBool::new(false);

/// How long the CPU spins, interrupts on, for a device's completion before it halts.
const IDLE_POLL_NS: u64 = 50_000;

/// With device work in flight and nothing to run, spins briefly with interrupts enabled
/// until a wake-up readies a task: a completion that comes within [`IDLE_POLL_NS`] is
/// taken without the cost of waking a halted CPU (for a hypervisor, rescheduling the vCPU
/// thread). Returns false if none came; the caller then halts. Costs at most the poll time
/// per idle period.
fn poll_for_wake() -> bool {
    WOKEN.store(false, Ordering::Relaxed);
    let until = crate::arch::rdtsc() + crate::time::deadline_tsc(IDLE_POLL_NS)
        - crate::time::deadline_tsc(0);
    irq::enable();
    let mut woken = false;
    while crate::arch::rdtsc() < until {
        if WOKEN.load(Ordering::Relaxed) {
            woken = true;
            break;
        }
        core::hint::spin_loop();
    }
    drop(irq::save_and_disable());
    woken || WOKEN.load(Ordering::Relaxed)
}

/// Housekeeping of the task that just got the CPU: free what finished tasks left.
fn after_switch() {
    if !ZOMBIES.swap(false, Ordering::Relaxed) {
        return;
    }
    let (stacks, tasks) = {
        let mut guard = SCHED.lock();
        let s = guard.as_mut().expect("scheduler running");
        (
            core::mem::take(&mut s.zombie_stacks),
            core::mem::take(&mut s.zombie_tasks),
        )
    };
    for stack in stacks {
        // SAFETY: the stack belonged to a finished task that was switched away from for
        // good; nothing runs on it or points into it.
        unsafe { mm::free_stack(stack) };
    }
    if !tasks.is_empty() {
        let mut guard = SCHED.lock();
        let s = guard.as_mut().expect("scheduler running");
        for id in tasks {
            s.tasks.remove(&id);
        }
    }
}

fn report_deadlock(s: &Scheduler) -> ! {
    let mut out = crate::console::emergency();
    let _ = write!(out, "deadlock: no task can run and no timer is pending;");
    let blocked = s
        .tasks
        .values()
        .filter(|t| matches!(t.run.state(), State::Blocked(_)));
    for (i, task) in blocked.enumerate() {
        let State::Blocked(what) = task.run.state() else {
            continue;
        };
        let sep = if i == 0 { " blocked:" } else { "," };
        let _ = write!(out, "{sep} '{}' ({what}", task.name);
        if let Some(target) = task.joining.and_then(|id| s.tasks.get(&id)) {
            let _ = write!(out, " '{}'", target.name);
        }
        let _ = write!(out, ")");
    }
    let _ = writeln!(out);
    drop(out);
    crate::runtime::exit_now(crate::exit_status::FATAL)
}

/// Lets every other ready task run once before the current one continues.
pub fn yield_now() {
    {
        let mut guard = SCHED.lock();
        let Some(s) = guard.as_mut() else { return };
        let current = s.current;
        s.task(current).run.yield_now();
        // Behind every ready task, whatever its class: yielding means "others first".
        s.run.push(current, Class::Normal);
    }
    schedule();
}

/// Blocks the current task until [`wake`] (or a device) makes it ready; `what` names the
/// wait in deadlock reports. Returns at once if the task was woken since it last blocked
/// (the wake-up token, `state.rs`): callers re-check their condition either way.
pub fn block_current(what: &'static str) {
    let hook = BLOCK_HOOK.load(Ordering::Relaxed);
    if hook != 0 {
        // SAFETY: only `set_block_hook` stores non-zero values here, each a `fn()`.
        let hook: fn() = unsafe { core::mem::transmute::<usize, fn()>(hook) };
        hook();
    }
    {
        let mut guard = SCHED.lock();
        let s = guard.as_mut().expect("scheduler running");
        let current = s.current;
        let task = s.task(current);
        // Any timer left from an earlier timed wait no longer matches.
        task.ticket += 1;
        if !task.run.block(what) {
            return;
        }
    }
    schedule();
}

/// As [`block_current`], and also returns once `deadline` (ns since boot) has passed:
/// a wait for a wake-up or a time, whichever comes first (the network task waits for
/// its NIC, a socket call or the stack's next timer this way).
pub fn block_current_until(what: &'static str, deadline: u64) {
    if crate::time::since_boot_ns() >= deadline {
        return;
    }
    {
        let mut guard = SCHED.lock();
        let s = guard.as_mut().expect("scheduler running");
        let current = s.current;
        let task = s.task(current);
        task.ticket += 1;
        let ticket = task.ticket;
        if !task.run.block(what) {
            return;
        }
        s.add_timer(deadline, current, ticket);
    }
    schedule();
}

/// Wakes task `id`: a blocked task becomes ready; a running or ready one keeps a token
/// so that its next [`block_current`] returns at once. Safe from interrupt handlers.
/// Returns true if the task was blocked and is now ready.
pub fn wake(id: TaskId) -> bool {
    match SCHED.lock().as_mut() {
        Some(s) if s.tasks.contains_key(&id) => s.wake(id),
        _ => false,
    }
}

/// Blocks the current task until `deadline` (ns since boot).
pub fn sleep_until_ns(deadline: u64) {
    while crate::time::since_boot_ns() < deadline {
        {
            let mut guard = SCHED.lock();
            let s = guard.as_mut().expect("scheduler running");
            let current = s.current;
            let task = s.task(current);
            task.ticket += 1;
            let ticket = task.ticket;
            if !task.run.block("sleep") {
                continue; // a wake-up came first: check the time again
            }
            s.add_timer(deadline, current, ticket);
        }
        schedule();
    }
}

/// Waits for task `id` to finish, then forgets it.
pub fn join(id: TaskId) -> Result<(), SchedError> {
    loop {
        {
            let mut guard = SCHED.lock();
            let s = guard.as_mut().ok_or(SchedError::NotRunning)?;
            let current = s.current;
            if id == current {
                return Err(SchedError::JoinSelf);
            }
            let target = s.tasks.get_mut(&id).ok_or(SchedError::NoSuchTask)?;
            if target.run.state() == State::Finished {
                s.tasks.remove(&id);
                s.task(current).joining = None;
                return Ok(());
            }
            if target.joiner.is_some_and(|joiner| joiner != current) {
                return Err(SchedError::AlreadyJoined);
            }
            target.joiner = Some(current);
            let me = s.task(current);
            me.joining = Some(id);
            if !me.run.block("join") {
                continue;
            }
        }
        schedule();
    }
}

/// Nobody will join task `id`: forget it when it finishes (now, if it has).
pub fn detach(id: TaskId) {
    let mut guard = SCHED.lock();
    let Some(s) = guard.as_mut() else { return };
    if let Some(task) = s.tasks.get_mut(&id) {
        if task.run.state() == State::Finished {
            s.tasks.remove(&id);
        } else {
            task.detached = true;
        }
    }
}

/// Blocks until [`unpark`] is called for the current task (returns at once if it was
/// called since the last `park`).
pub fn park() {
    {
        let mut guard = SCHED.lock();
        let s = guard.as_mut().expect("scheduler running");
        let current = s.current;
        let task = s.task(current);
        if core::mem::take(&mut task.unpark_token) {
            return;
        }
        if !task.run.block("park") {
            return; // a wake-up came first: a spurious return, as std's park allows
        }
    }
    schedule();
}

/// Wakes task `id` from [`park`], or makes its next `park` return at once.
pub fn unpark(id: TaskId) {
    let mut guard = SCHED.lock();
    let Some(s) = guard.as_mut() else { return };
    if let Some(task) = s.tasks.get_mut(&id) {
        if task.run.state() == State::Blocked("park") {
            s.wake(id);
        } else {
            task.unpark_token = true;
        }
    }
}

/// The running task's id (the main task before the scheduler starts).
pub fn current() -> TaskId {
    SCHED.lock().as_ref().map_or(MAIN, |s| s.current)
}

/// The name of task `id`.
pub fn name_of(id: TaskId) -> Option<String> {
    SCHED
        .lock()
        .as_ref()?
        .tasks
        .get(&id)
        .map(|t| t.name.clone())
}

/// Task `id`'s name, without blocking or allocating (for interrupt context).
pub(crate) fn name_without_waiting(id: TaskId) -> Option<StackName> {
    let guard = SCHED.try_lock()?;
    Some(StackName::new(&guard.as_ref()?.tasks.get(&id)?.name))
}

/// The running task's name, without blocking or allocating (for fatal reports).
pub fn current_name() -> StackName {
    match SCHED.try_lock() {
        Some(guard) => match guard.as_ref() {
            Some(s) => StackName::new(s.tasks.get(&s.current).map_or("?", |t| t.name.as_str())),
            None => StackName::new("main"),
        },
        None => StackName::new("?"),
    }
}
