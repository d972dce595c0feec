//! [`run`]: blocking work (SQLite statements, local files) called from
//! async code, placed by the runtime it runs on.
//!
//! - On a **multi-thread** runtime (`helpdesk serve`, tests that ask for
//!   one) the work goes to tokio's blocking pool, so the worker threads
//!   keep serving other requests meanwhile.
//! - On a **current-thread** runtime (the Lambda functions, which handle one
//!   event at a time, and the one-shot `helpdesk` commands) the work runs
//!   right there: nothing else waits for that thread, and handing it to the
//!   pool would only add a thread (made at the first call) and two thread
//!   switches per call to every event.
//!
//! Either way the caller gets the closure's value or, when the pool's task
//! could not finish (it panicked or the runtime is shutting down), a
//! [`TaskFailed`].

use std::fmt;

use tokio::runtime::{Handle, RuntimeFlavor};

/// A blocking task that did not return: it panicked, or the runtime shut
/// down before it ran.
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
        Ok(RuntimeFlavor::MultiThread) => tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| TaskFailed(e.to_string())),
        _ => Ok(work()),
    }
}

#[cfg(test)]
mod tests {
    use std::thread::{self, ThreadId};

    use super::*;

    async fn thread_of_work() -> ThreadId {
        run(|| thread::current().id()).await.unwrap()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_current_thread_runtime_runs_the_work_on_its_own_thread() {
        assert_eq!(thread_of_work().await, thread::current().id());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_multi_thread_runtime_hands_the_work_to_its_blocking_pool() {
        assert_ne!(thread_of_work().await, thread::current().id());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_panic_in_the_pool_is_an_error_not_a_crash() {
        let failed = run(|| -> u8 { panic!("boom") }).await.unwrap_err();
        assert!(failed.to_string().contains("panic"), "{failed}");
    }
}
