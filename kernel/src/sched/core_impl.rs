//! Tasks, switching and blocking (see the module docs in `sched/mod.rs`).

use super::queue::{Class, RunQueue, TaskId, TimerQueue};
use crate::mm::stack::StackName;
use crate::mm::{self, TaskStack};
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use spin::Mutex;

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

/// What a task is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Ready,
    Running,
    /// Waiting; the text says for what (shown in deadlock reports).
    Blocked(&'static str),
    Finished,
}

struct Task {
    name: String,
    class: Class,
    state: State,
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

static SCHED: Mutex<Option<Scheduler>> = Mutex::new(None);
/// Set while `zombie_stacks` or `zombie_tasks` hold something, so that most switches skip
/// the clean-up.
static ZOMBIES: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// The main task's id.
pub const MAIN: TaskId = TaskId(1);

impl Scheduler {
    fn task(&mut self, id: TaskId) -> &mut Task {
        self.tasks.get_mut(&id).expect("the scheduler lost a task")
    }

    fn make_ready(&mut self, id: TaskId) {
        let task = self.task(id);
        if matches!(task.state, State::Blocked(_)) {
            task.state = State::Ready;
            let class = task.class;
            self.run.push(id, class);
        }
    }

    fn fire_timers(&mut self) {
        if self.timers.is_empty() {
            return;
        }
        let now = crate::time::since_boot_ns();
        while let Some(timer) = self.timers.pop_due(now) {
            let live = self
                .tasks
                .get(&timer.task)
                .is_some_and(|t| t.ticket == timer.ticket && t.state == State::Blocked("sleep"));
            if live {
                self.make_ready(timer.task);
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
        state: State::Running,
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
            state: State::Ready,
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
    if super::watchdog::active() {
        // `schedule` switched here with interrupts off; tasks run with them on.
        crate::arch::enable_interrupts();
    }
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
        task.state = State::Finished;
        if let Some(joiner) = task.joiner.take() {
            s.make_ready(joiner);
        }
    }
    schedule();
    unreachable!("a finished task was scheduled again");
}

/// Runs the next ready task (the current one must already be queued, blocked or
/// finished). Halts while only timers are pending; ends the run on a deadlock.
fn schedule() {
    // With the watchdog on, tasks run with interrupts enabled; the scheduler itself runs
    // with them off (so that checking for work and halting cannot race a wake-up).
    let interrupts = super::watchdog::active();
    if interrupts {
        crate::arch::disable_interrupts();
    }
    let resume = || {
        if interrupts {
            crate::arch::enable_interrupts();
        }
    };
    loop {
        let mut guard = SCHED.lock();
        let s = guard.as_mut().expect("scheduler running");
        s.fire_timers();
        if let Some(next) = s.run.pop() {
            let from = s.current;
            if next == from {
                s.task(from).state = State::Running;
                drop(guard);
                super::watchdog::switched_in(from);
                resume();
                return;
            }
            let leaving = s.task(from);
            if leaving.state == State::Finished {
                let stack = leaving.stack.take();
                let detached = leaving.detached;
                s.zombie_stacks.extend(stack);
                if detached {
                    s.zombie_tasks.push(from);
                }
                ZOMBIES.store(true, core::sync::atomic::Ordering::Relaxed);
            }
            // The Box keeps the task's address stable while it is switched out.
            let save = &mut s.task(from).rsp as *mut u64;
            s.current = next;
            let arriving = s.task(next);
            arriving.state = State::Running;
            let to = arriving.rsp;
            drop(guard);
            super::watchdog::switched_in(next);
            // SAFETY: `save` points into a boxed task that stays in the map until it is
            // joined or reaped, which only happens after this switch completed; `to` was
            // saved by `switch_stack` or made by `initial_stack` on a live stack.
            unsafe { crate::arch::switch_stack(save, to) };
            after_switch();
            resume();
            return;
        }
        match s.timers.next_deadline() {
            Some(deadline) => {
                drop(guard);
                crate::arch::ensure_timer();
                let deadline = crate::time::deadline_tsc(deadline);
                if interrupts {
                    super::watchdog::idle_until(deadline);
                } else {
                    crate::arch::arm_timer(deadline);
                }
                // Halts with interrupts on, returns with them off.
                crate::arch::wait_for_interrupt();
            }
            None => report_deadlock(s),
        }
    }
}

/// Housekeeping of the task that just got the CPU: free what finished tasks left.
fn after_switch() {
    if !ZOMBIES.swap(false, core::sync::atomic::Ordering::Relaxed) {
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
        .filter(|t| matches!(t.state, State::Blocked(_)));
    for (i, task) in blocked.enumerate() {
        let State::Blocked(what) = task.state else {
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
        s.task(current).state = State::Ready;
        // Behind every ready task, whatever its class: yielding means "others first".
        s.run.push(current, Class::Normal);
    }
    schedule();
}

/// Blocks the current task until [`wake`] (or a device) makes it ready; `what` names the
/// wait in deadlock reports.
pub fn block_current(what: &'static str) {
    {
        let mut guard = SCHED.lock();
        let s = guard.as_mut().expect("scheduler running");
        let current = s.current;
        s.task(current).state = State::Blocked(what);
    }
    schedule();
}

/// Makes a blocked task ready (no effect on a task that is not blocked).
pub fn wake(id: TaskId) {
    if let Some(s) = SCHED.lock().as_mut()
        && s.tasks.contains_key(&id)
    {
        s.make_ready(id);
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
            task.state = State::Blocked("sleep");
            let ticket = task.ticket;
            s.timers.insert(deadline, current, ticket);
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
            if target.state == State::Finished {
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
            me.state = State::Blocked("join");
        }
        schedule();
    }
}

/// Nobody will join task `id`: forget it when it finishes (now, if it has).
pub fn detach(id: TaskId) {
    let mut guard = SCHED.lock();
    let Some(s) = guard.as_mut() else { return };
    if let Some(task) = s.tasks.get_mut(&id) {
        if task.state == State::Finished {
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
        task.state = State::Blocked("park");
    }
    schedule();
}

/// Wakes task `id` from [`park`], or makes its next `park` return at once.
pub fn unpark(id: TaskId) {
    let mut guard = SCHED.lock();
    let Some(s) = guard.as_mut() else { return };
    if let Some(task) = s.tasks.get_mut(&id) {
        if task.state == State::Blocked("park") {
            s.make_ready(id);
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
