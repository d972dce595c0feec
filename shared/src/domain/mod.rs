//! The domain model: tickets, contacts and the timeline of every change.
//!
//! Values are parsed once at the boundary into newtypes ([`ids`]), so the rest
//! of the code never re-validates a queue key or an email address.

pub mod authentication;
pub mod bounds;
pub mod contact;
pub mod credentials;
pub mod ids;
pub mod mail_log;
pub mod satisfaction;
pub mod sla;
pub mod ticket;
pub mod timeline;

pub use authentication::{Authentication, Verdict};
pub use bounds::BlobRef;
pub use contact::{Contact, ContactId};
pub use credentials::{ApiToken, TokenHash};
pub use ids::{EmailAddress, ParseError, QueueKey, TicketKey};
pub use mail_log::{MailLogEntry, MailLogQuery, Refusal};
pub use satisfaction::{Rating, Satisfaction, Scale, Score};
pub use sla::{SlaEventKind, SlaFields, SlaState, SlaTimer, TimerState};
pub use ticket::{Channel, Requester, Ticket};
pub use timeline::{Actor, TimelineEntry, TimelineEvent, TriggerNoteKind};
