//! Rendering side effects: minijinja templates over the change, and ready
//! bodies for webhooks (plain JSON, Slack, Telegram).
//!
//! Templates see `ticket` (the ticket as this evaluation leaves it, every
//! fired trigger's field changes applied), `old` (the ticket before the
//! incoming change; undefined for a new ticket), `actor` (who made the
//! incoming change: `kind` plus `login`, `email` or `name`), `change`
//! (`events`, `fields`, `depth`, `at`, and `comment`, `email`, `sla` when
//! the change has them) and `trigger` (the firing trigger's name).
//! Undefined values print as nothing, also through attribute chains.

use minijinja::value::Value;
use minijinja::{Environment, UndefinedBehavior};
use serde_json::json;

use super::change::Change;
use super::context::EvalContext;
use super::model::{
    CommentAction, EmailAction, EventAction, EventKind, Recipient, WebhookAction, WebhookFormat,
};
use super::plan::{Effect, WebhookTarget};
use crate::domain::{Ticket, TimelineEvent};

/// The default subject of an email action with an inline body.
pub const DEFAULT_SUBJECT: &str = "[{{ ticket.key }}] {{ ticket.summary }}";

/// Renders the effects of one evaluation.
pub(crate) struct Renderer<'a> {
    env: Environment<'static>,
    base: Value,
    change: &'a Change,
    ticket: &'a Ticket,
    events: &'a [EventKind],
    fields: &'a [String],
    ctx: &'a EvalContext<'a>,
}

impl<'a> Renderer<'a> {
    /// A renderer for `change`, leaving the ticket as `ticket`.
    pub fn new(
        change: &'a Change,
        ticket: &'a Ticket,
        events: &'a [EventKind],
        fields: &'a [String],
        ctx: &'a EvalContext<'a>,
    ) -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        let mut change_value = serde_json::Map::new();
        change_value.insert("events".into(), json!(events));
        change_value.insert("fields".into(), json!(fields));
        change_value.insert("depth".into(), json!(change.depth));
        change_value.insert("at".into(), json!(change.at()));
        if let Some(entry) = &change.entry {
            match &entry.event {
                TimelineEvent::Comment { public, body, .. } => {
                    change_value.insert("comment".into(), json!({"public": public, "body": body}));
                }
                TimelineEvent::EmailIn { from, subject, .. } => {
                    change_value.insert("email".into(), json!({"from": from, "subject": subject}));
                }
                TimelineEvent::EmailOut { to, subject, .. } => {
                    change_value.insert("email".into(), json!({"to": to, "subject": subject}));
                }
                _ => {}
            }
        }
        if let Some(sla) = &change.sla {
            change_value.insert("sla".into(), json!(sla));
        }
        let base = minijinja::context! {
            ticket => Value::from_serialize(ticket),
            old => change.before.as_ref().map_or(Value::UNDEFINED, Value::from_serialize),
            actor => Value::from_serialize(&change.actor),
            change => Value::from_serialize(&change_value),
        };
        Self {
            env,
            base,
            change,
            ticket,
            events,
            fields,
            ctx,
        }
    }

    /// Renders `template` for `trigger`.
    pub fn render(&self, trigger: &str, template: &str) -> Result<String, String> {
        let data = minijinja::context! { trigger => trigger, ..self.base.clone() };
        self.env
            .render_str(template, data)
            .map_err(|e| format!("template does not render: {e}"))
    }

    /// The body of a `template:` key: a named template's body, else the text.
    fn body_of<'t>(&'t self, template: &'t str) -> &'t str {
        self.ctx
            .templates
            .get(template)
            .map_or(template, |t| t.body.as_str())
    }

    /// The comment of a `comment` action.
    pub fn comment(&self, trigger: &str, action: &CommentAction) -> Result<Effect, String> {
        Ok(Effect::Comment {
            public: action.public,
            body: self.render(trigger, self.body_of(&action.template))?,
        })
    }

    /// The mail of an `email` action, to an address resolved now.
    pub fn email(
        &self,
        trigger: &str,
        action: &EmailAction,
        assignment_pending: bool,
    ) -> Result<Effect, String> {
        let to = match &action.to {
            Recipient::Address(address) => address.to_string(),
            Recipient::Requester => self
                .ticket
                .requester
                .email
                .as_ref()
                .map(ToString::to_string)
                .ok_or("the ticket's requester has no email address")?,
            Recipient::Assignee => {
                if assignment_pending {
                    return Err(
                        "the assignee is chosen by a group assignment after planning; mail to the assignee from a later evaluation".into(),
                    );
                }
                let login = self
                    .ticket
                    .assignee
                    .as_deref()
                    .ok_or("the ticket has no assignee")?;
                self.ctx
                    .agent_emails
                    .get(login)
                    .map(ToString::to_string)
                    .ok_or_else(|| format!("agent {login:?} has no configured address"))?
            }
        };
        let (subject, body) = match self.ctx.templates.get(&action.template) {
            Some(named) => (named.subject.as_str(), named.body.as_str()),
            None => (
                action.subject.as_deref().unwrap_or(DEFAULT_SUBJECT),
                action.template.as_str(),
            ),
        };
        Ok(Effect::Email {
            to,
            subject: self.render(trigger, subject)?,
            body: self.render(trigger, body)?,
        })
    }

    /// The call of a `webhook` action with its ready body.
    pub fn webhook(&self, trigger: &str, action: &WebhookAction) -> Result<Effect, String> {
        let target = match (&action.url, &action.url_env) {
            (Some(url), None) => WebhookTarget::Url(url.clone()),
            (None, Some(name)) => WebhookTarget::Env(name.clone()),
            _ => return Err("a webhook needs exactly one of url and url_env".into()),
        };
        let text = match (&action.text, &action.template) {
            (Some(text), _) => Some(self.render(trigger, text)?),
            (None, Some(template)) => Some(self.render(trigger, self.body_of(template))?),
            (None, None) => None,
        };
        let body = match action.format {
            WebhookFormat::Json => {
                let mut body = json!({
                    "trigger": trigger,
                    "ticket": to_json(self.ticket)?,
                    "old": self.change.before.as_ref().map(to_json).transpose()?,
                    "actor": to_json(&self.change.actor)?,
                    "events": self.events,
                    "fields": self.fields,
                    "depth": self.change.depth,
                });
                if let (Some(text), Some(map)) = (text, body.as_object_mut()) {
                    map.insert("text".into(), json!(text));
                }
                body
            }
            WebhookFormat::Slack => json!({ "text": text.ok_or("a Slack webhook needs text")? }),
            WebhookFormat::Telegram => {
                let chat = match (&action.chat_id, &action.chat_id_env) {
                    (Some(id), _) => id.as_str().to_owned(),
                    (None, Some(name)) => self.ctx.env.var(name).ok_or_else(|| {
                        format!("environment variable {name} (chat_id_env) is not set")
                    })?,
                    (None, None) => {
                        return Err("a Telegram webhook needs chat_id or chat_id_env".into());
                    }
                };
                let chat_id = chat
                    .trim()
                    .parse::<i64>()
                    .map_or_else(|_| json!(chat), |n| json!(n));
                let mut body = json!({
                    "chat_id": chat_id,
                    "text": text.ok_or("a Telegram webhook needs text")?,
                });
                if let (Some(mode), Some(map)) = (&action.parse_mode, body.as_object_mut()) {
                    map.insert("parse_mode".into(), json!(mode));
                }
                body
            }
        };
        Ok(Effect::Webhook {
            target,
            format: action.format,
            body,
        })
    }

    /// The event of an `event` action.
    pub fn event(&self, trigger: &str, action: &EventAction) -> Result<Effect, String> {
        Ok(Effect::Event {
            detail_type: action.detail_type.clone(),
            detail: json!({
                "ticket": self.ticket.key.to_string(),
                "queue": self.ticket.queue.to_string(),
                "status": self.ticket.status,
                "priority": self.ticket.priority,
                "assignee": self.ticket.assignee,
                "trigger": trigger,
                "events": self.events,
                "fields": self.fields,
                "depth": self.change.depth,
                "actor": to_json(&self.change.actor)?,
            }),
        })
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, String> {
    serde_json::to_value(value).map_err(|e| format!("cannot serialize: {e}"))
}
