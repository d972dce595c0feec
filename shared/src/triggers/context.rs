//! What an evaluation may consult besides the change: the queue's component
//! owners, agents' addresses, named templates, the depth limit, and two
//! ports the caller plugs in: business calendars and environment variables.
//! Both default to "know nothing", which keeps evaluation pure in tests.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::config::{Config, MailTemplate};
use crate::domain::{EmailAddress, QueueKey};

/// The default depth limit: a change written by the fifth evaluation in a
/// chain fires nothing.
pub const DEFAULT_DEPTH_LIMIT: u8 = 5;

/// Business calendars, as the calendar module provides them.
pub trait BusinessHours {
    /// Whether `calendar` is inside working hours at `at`; `None` when the
    /// calendar is unknown.
    fn is_open(&self, calendar: &str, at: DateTime<Utc>) -> Option<bool>;
}

impl<F> BusinessHours for F
where
    F: Fn(&str, DateTime<Utc>) -> Option<bool>,
{
    fn is_open(&self, calendar: &str, at: DateTime<Utc>) -> Option<bool> {
        self(calendar, at)
    }
}

/// No calendars at all: every `business_hours` condition is false.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCalendars;

impl BusinessHours for NoCalendars {
    fn is_open(&self, _: &str, _: DateTime<Utc>) -> Option<bool> {
        None
    }
}

/// Environment variables (the Telegram `chat_id_env`).
pub trait Environment {
    /// The variable's value, if set.
    fn var(&self, name: &str) -> Option<String>;
}

impl<F> Environment for F
where
    F: Fn(&str) -> Option<String>,
{
    fn var(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// An empty environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEnvironment;

impl Environment for NoEnvironment {
    fn var(&self, _: &str) -> Option<String> {
        None
    }
}

/// Everything an evaluation consults besides the change. Build it once per
/// queue and process; it is read-only during evaluation.
pub struct EvalContext<'a> {
    /// A change at this depth or deeper fires nothing (default 5).
    pub depth_limit: u8,
    /// Component name -> its default assignee's login.
    pub component_owners: BTreeMap<String, String>,
    /// Agent login -> address, for `email: {to: assignee}`.
    pub agent_emails: BTreeMap<String, EmailAddress>,
    /// Named templates for `template:` keys; a `template` that names none of
    /// them is the text itself.
    pub templates: BTreeMap<String, MailTemplate>,
    /// Business calendars.
    pub calendars: &'a dyn BusinessHours,
    /// Environment variables.
    pub env: &'a dyn Environment,
}

impl std::fmt::Debug for EvalContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvalContext")
            .field("depth_limit", &self.depth_limit)
            .field("component_owners", &self.component_owners)
            .field("agent_emails", &self.agent_emails)
            .field("templates", &self.templates.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Default for EvalContext<'static> {
    fn default() -> Self {
        Self {
            depth_limit: DEFAULT_DEPTH_LIMIT,
            component_owners: BTreeMap::new(),
            agent_emails: BTreeMap::new(),
            templates: BTreeMap::new(),
            calendars: &NoCalendars,
            env: &NoEnvironment,
        }
    }
}

impl EvalContext<'static> {
    /// The context for `queue` of `config`: its components' default
    /// assignees, every agent's address and the named templates; no
    /// calendars, no environment.
    pub fn for_queue(config: &Config, queue: &QueueKey) -> Self {
        let component_owners = config
            .queues
            .get(queue)
            .map(|q| {
                q.components
                    .iter()
                    .filter_map(|(name, c)| {
                        c.assignee.as_ref().map(|a| (name.clone(), a.value.clone()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let agent_emails = config
            .agents
            .iter()
            .map(|(login, agent)| (login.clone(), agent.email.clone()))
            .collect();
        Self {
            component_owners,
            agent_emails,
            templates: config.templates.clone(),
            ..Self::default()
        }
    }
}

impl<'a> EvalContext<'a> {
    /// The same context with `calendars` plugged in.
    pub fn with_calendars<'b>(self, calendars: &'b dyn BusinessHours) -> EvalContext<'b>
    where
        'a: 'b,
    {
        EvalContext { calendars, ..self }
    }

    /// The same context with `env` plugged in.
    pub fn with_env<'b>(self, env: &'b dyn Environment) -> EvalContext<'b>
    where
        'a: 'b,
    {
        EvalContext { env, ..self }
    }

    /// The login owning `component`, if it has a default assignee.
    pub fn component_owner(&self, component: &str) -> Option<&str> {
        self.component_owners.get(component).map(String::as_str)
    }
}
