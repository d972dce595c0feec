//! Customer satisfaction: a queue's survey (`csat` in its configuration)
//! asks the requester to rate the help once their ticket is resolved
//! ([`ask`]), with signed links ([`link`]) to the desk's rating page
//! ([`page`]), which records the rating on the ticket (a `rated` timeline
//! entry, `rating_received` for triggers, read by reports). Agents rate
//! the help line 2 gave on an escalated ticket ([`escalation`]).

pub mod ask;
pub mod escalation;
pub mod link;
pub mod page;
