//! [`CalendarError`]: everything that can be wrong with a calendar's
//! definition. Messages say what is wrong and how to fix it; the config
//! loader adds the file and line.

use std::path::PathBuf;

/// A calendar definition that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    /// A time of day such as `09:00` that does not parse.
    #[error("time of day {value:?} is not valid: {reason}")]
    TimeOfDay {
        /// The offending text.
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// An interval such as `09:00-13:00` that does not parse or is empty.
    #[error("interval {value:?} is not valid: {reason}")]
    Interval {
        /// The offending text.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// Two intervals of one day share time.
    #[error("intervals {first} and {second} overlap; a day's intervals must not share time")]
    Overlap {
        /// The earlier interval.
        first: String,
        /// The interval that starts before `first` ends.
        second: String,
    },
    /// A time zone name that is not in the IANA database.
    #[error(
        "unknown time zone {0:?}: use an IANA name such as Europe/Berlin, America/New_York or UTC"
    )]
    TimeZone(String),
    /// A holiday entry that is neither a date nor a date range.
    #[error("holiday {value:?} is not valid: {reason}")]
    Holiday {
        /// The offending text.
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The calendar's keys do not describe when it is open.
    #[error("{0}")]
    Shape(&'static str),
    /// The holiday file could not be read.
    #[error("cannot read holiday file {path}: {source}")]
    IcsRead {
        /// The file, as resolved against the configuration's directory.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The holiday file was read but holds something we cannot use.
    #[error("holiday file {source_name}: {message}")]
    Ics {
        /// The file (or `<text>`).
        source_name: String,
        /// What is wrong, naming the event where there is one.
        message: String,
    },
}
