//! Customer satisfaction: the scale a queue asks on, a requester's score,
//! and what a ticket keeps of its survey (when it is due, when it was
//! asked, the rating as it stands: a second answer replaces the first).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The answers a survey offers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// Good or bad.
    #[default]
    GoodBad,
    /// 1 (worst) to 5 (best).
    Five,
}

impl Scale {
    /// Every score of the scale, best first.
    pub fn scores(self) -> Vec<Score> {
        match self {
            Self::GoodBad => vec![Score::Good, Score::Bad],
            Self::Five => (1..=5).rev().map(Score::Stars).collect(),
        }
    }
}

/// A requester's answer: `good`, `bad`, or `1` to `5`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Score {
    /// Good.
    Good,
    /// Bad.
    Bad,
    /// 1 to 5.
    Stars(u8),
}

impl Score {
    /// The score written `text`, whatever the scale.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "good" => Some(Self::Good),
            "bad" => Some(Self::Bad),
            other => match other.parse::<u8>() {
                Ok(n @ 1..=5) => Some(Self::Stars(n)),
                _ => None,
            },
        }
    }

    /// The score written `text`, when `scale` offers it.
    pub fn on(scale: Scale, text: &str) -> Option<Self> {
        Self::parse(text).filter(|s| scale.scores().contains(s))
    }

    /// Whether it counts as satisfied: good, 4 or 5.
    pub fn satisfied(self) -> bool {
        match self {
            Self::Good => true,
            Self::Bad => false,
            Self::Stars(n) => n >= 4,
        }
    }

    /// How a page or a mail names it.
    pub fn label(self) -> String {
        match self {
            Self::Good => "Good, I'm satisfied".to_owned(),
            Self::Bad => "Bad, I'm not satisfied".to_owned(),
            Self::Stars(n) => format!("{n} of 5"),
        }
    }
}

impl fmt::Display for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Good => f.write_str("good"),
            Self::Bad => f.write_str("bad"),
            Self::Stars(n) => write!(f, "{n}"),
        }
    }
}

impl TryFrom<String> for Score {
    type Error = String;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text).ok_or_else(|| format!("{text:?} is not a score (good, bad, 1 to 5)"))
    }
}

impl From<Score> for String {
    fn from(score: Score) -> Self {
        score.to_string()
    }
}

/// A rating as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rating {
    /// The score.
    pub score: Score,
    /// What the requester added, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// When it was given (or last changed).
    pub at: DateTime<Utc>,
}

/// What a ticket keeps of its satisfaction survey.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Satisfaction {
    /// When the survey mail is due (the ticket entered a status that asks,
    /// with a delay); cleared when it goes out or the ticket moves on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ask_at: Option<DateTime<Utc>>,
    /// When the survey mail went out (a ticket is asked once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asked_at: Option<DateTime<Utc>>,
    /// The requester's rating, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<Rating>,
}

impl Satisfaction {
    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.ask_at.is_none() && self.asked_at.is_none() && self.rating.is_none()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn a_score_reads_back_from_its_text_and_only_its_scale_offers_it() {
        for score in Scale::GoodBad
            .scores()
            .into_iter()
            .chain(Scale::Five.scores())
        {
            assert_eq!(Score::parse(&score.to_string()), Some(score));
        }
        assert_eq!(Score::on(Scale::GoodBad, "4"), None);
        assert_eq!(Score::on(Scale::Five, "good"), None);
        assert_eq!(Score::on(Scale::Five, "6"), None);
        assert_eq!(Score::on(Scale::Five, "0"), None);
        assert!(Score::Stars(4).satisfied() && !Score::Stars(3).satisfied());
        let json = serde_json::to_string(&Score::Stars(2)).unwrap();
        assert_eq!(json, "\"2\"");
        assert!(serde_json::from_str::<Score>("\"great\"").is_err());
    }
}
