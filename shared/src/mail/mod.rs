//! Email: parsing inbound mail, telling automatic mail from people,
//! extracting the reply text, threading, and building and sending outbound
//! mail with loop protection.

pub mod auto;
pub mod body;
pub mod html;
pub mod ingest;
pub mod nesting;
pub mod outbound;
pub mod parse;
pub mod repair;
pub mod reply;
pub mod send;
pub mod smtp;
pub mod threading;
pub mod token;
pub mod transport;
