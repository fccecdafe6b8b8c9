//! The region code (GB/T 2260) as a newtype, and the level of the hierarchy it names.
//!
//! Codes are kept in their short forms: a province is `44`, a city `4403` and a district
//! or county `440305`. The six-digit padded forms (`440000`, `440300`) are not accepted,
//! so each region has exactly one spelling.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What [`RegionCode::parse`] answers for text that is not a code.
const NOT_A_CODE: &str = "must be a GB/T 2260 code of 2, 4 or 6 digits";

/// A GB/T 2260 code of 2 (province), 4 (city) or 6 (district/county) digits.
///
/// A well-formed code need not exist: [`super::Regions::get`] tells whether it does.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RegionCode(String);

/// How deep in the hierarchy a region sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionLevel {
    /// A province, autonomous region or municipality (2 digits).
    Province,
    /// A prefecture-level city, prefecture, league or autonomous prefecture (4 digits).
    City,
    /// A district, county, county-level city or banner (6 digits).
    District,
}

impl RegionCode {
    /// Parses a code of 2, 4 or 6 ASCII digits.
    pub fn parse(text: &str) -> Result<Self, String> {
        let all_digits = text.bytes().all(|byte| byte.is_ascii_digit());
        if all_digits && matches!(text.len(), 2 | 4 | 6) {
            Ok(Self(text.to_owned()))
        } else {
            Err(NOT_A_CODE.to_owned())
        }
    }

    /// The code as written, such as `"440305"`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The level the code's length stands for.
    pub fn level(&self) -> RegionLevel {
        match self.0.len() {
            2 => RegionLevel::Province,
            4 => RegionLevel::City,
            _ => RegionLevel::District,
        }
    }

    /// The code of the region that directly contains this one, if any: `440305` → `4403`.
    pub fn parent(&self) -> Option<RegionCode> {
        let length = self.0.len().checked_sub(2).filter(|&length| length > 0)?;
        Some(Self(self.0[..length].to_owned()))
    }

    /// This code and the codes that contain it, most specific first: 440305 → [440305, 4403, 44].
    pub fn lineage(&self) -> Vec<RegionCode> {
        std::iter::successors(Some(self.clone()), RegionCode::parent).collect()
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for RegionCode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl TryFrom<String> for RegionCode {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<RegionCode> for String {
    fn from(code: RegionCode) -> Self {
        code.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> RegionCode {
        RegionCode::parse(text).expect("the test code is well-formed")
    }

    #[test]
    fn codes_of_two_four_and_six_digits_parse_to_their_levels() {
        assert_eq!(code("44").level(), RegionLevel::Province);
        assert_eq!(code("4403").level(), RegionLevel::City);
        assert_eq!(code("440305").level(), RegionLevel::District);
        assert_eq!(code("440305").as_str(), "440305");
    }

    #[test]
    fn text_that_is_not_a_code_of_two_four_or_six_digits_is_refused() {
        for text in [
            "", "4", "440", "44030", "4403051", "44a3", " 4403", "４４", "-44",
        ] {
            let error = RegionCode::parse(text).expect_err(text);
            assert_eq!(error, NOT_A_CODE, "{text:?}");
        }
    }

    #[test]
    fn a_lineage_runs_from_the_code_itself_up_to_its_province() {
        let lineage: Vec<String> = code("440305")
            .lineage()
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(lineage, ["440305", "4403", "44"]);
        assert_eq!(code("4403").lineage(), [code("4403"), code("44")]);
        assert_eq!(code("44").lineage(), [code("44")]);
    }

    #[test]
    fn a_province_has_no_parent() {
        assert_eq!(code("44").parent(), None);
        assert_eq!(code("110105").parent(), Some(code("1101")));
    }

    #[test]
    fn codes_travel_as_json_strings_and_are_checked_on_the_way_in() {
        let json = serde_json::to_string(&code("110105")).expect("a code serialises");
        assert_eq!(json, "\"110105\"");
        let back: RegionCode = serde_json::from_str(&json).expect("a code deserialises");
        assert_eq!(back, code("110105"));
        assert!(serde_json::from_str::<RegionCode>("\"11010\"").is_err());
    }
}
