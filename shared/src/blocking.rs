//! [`run`]: blocking work (SQLite statements, local files) called from
//! async code, placed by the runtime it runs on.
//!
//! - On a **multi-thread** runtime (`helpdesk serve`, tests that ask for
//!   one) the work runs on the calling worker thread, which first hands
//!   its other tasks to another thread ([`tokio::task::block_in_place`]),
//!   so the runtime keeps serving other requests meanwhile. Unlike sending
//!   the work to the blocking pool and waiting for its answer, the caller
//!   waits for no thread switch (a message takes about twenty store
//!   calls, and two switches each cost more than most of them).
//! - On a **current-thread** runtime (the Lambda functions, which handle one
//!   event at a time, and the one-shot `helpdesk` commands) the work runs
//!   right there: nothing else waits for that thread, and handing it to the
//!   pool would only add a thread (made at the first call) and two thread
//!   switches per call to every event.
//!
//! Either way the caller gets the closure's value or, when the work
//! panicked on a multi-thread runtime, a [`TaskFailed`].
//!
//! [`run_sized`] is for work on a number of bytes (a mail to parse, a file
//! to write): at most [`IN_PLACE_BYTES`] of them, it runs in place on any
//! runtime, since handing the worker's tasks on would cost as much as the
//! work.

use std::fmt;

use tokio::runtime::{Handle, RuntimeFlavor};

/// Blocking work that did not return: it panicked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFailed(String);

impl fmt::Display for TaskFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TaskFailed {}

/// Runs `work`, which may block, where the current runtime wants blocking
/// work done (see the module documentation). Outside any runtime it runs
/// right away.
pub async fn run<T, F>(work: F) -> Result<T, TaskFailed>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    match Handle::try_current().map(|handle| handle.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(|| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).map_err(|panic| {
                TaskFailed(format!(
                    "the blocking work panicked: {}",
                    panic_text(panic.as_ref())
                ))
            })
        }),
        _ => Ok(work()),
    }
}

/// How many bytes blocking work may handle and still run in place on any
/// runtime: a small mail parsed, a small file written, take about as long
/// as handing a multi-thread runtime's worker over to another thread (about
/// ten microseconds) and far less than a worker may keep the thread.
pub const IN_PLACE_BYTES: usize = 16 * 1024;

/// [`run`] for work on `bytes` bytes: in place when they are at most
/// [`IN_PLACE_BYTES`], as [`run`] places it otherwise.
pub async fn run_sized<T, F>(bytes: usize, work: F) -> Result<T, TaskFailed>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    if bytes > IN_PLACE_BYTES {
        return run(work).await;
    }
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).map_err(|panic| {
        TaskFailed(format!(
            "the blocking work panicked: {}",
            panic_text(panic.as_ref())
        ))
    })
}

/// What a panic said, when it said it with a string.
pub(crate) fn panic_text(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message")
}

#[cfg(test)]
mod tests {
    use std::thread::{self, ThreadId};

    use super::*;

    async fn thread_of_work() -> ThreadId {
        run(|| thread::current().id()).await.unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn small_work_runs_in_place_and_its_panic_is_an_error() {
        assert_eq!(
            run_sized(10, || thread::current().id()).await.unwrap(),
            thread::current().id()
        );
        let panicked = run_sized(10, || -> u8 { panic!("small work failed") }).await;
        assert!(
            panicked
                .unwrap_err()
                .to_string()
                .contains("small work failed")
        );
        let large = run_sized(IN_PLACE_BYTES + 1, || 7).await;
        assert_eq!(large.unwrap(), 7);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_current_thread_runtime_runs_the_work_on_its_own_thread() {
        assert_eq!(thread_of_work().await, thread::current().id());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_multi_thread_runtime_keeps_serving_other_tasks_during_the_work() {
        let (started, ready) = std::sync::mpsc::channel::<()>();
        // The work waits for another task of the runtime: with the one
        // worker blocked and its tasks not handed on, it would wait forever.
        let other = tokio::spawn(async move { started.send(()).unwrap() });
        let waited = run(move || {
            ready
                .recv_timeout(std::time::Duration::from_secs(5))
                .is_ok()
        });
        assert!(waited.await.unwrap(), "the other task never ran");
        other.await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_panic_in_the_work_is_an_error_not_a_crash() {
        let failed = run(|| -> u8 { panic!("boom") }).await.unwrap_err();
        assert!(failed.to_string().contains("panic"), "{failed}");
    }
}
