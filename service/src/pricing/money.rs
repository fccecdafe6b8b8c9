//! Money and rates. Money is a whole number of fen (1 CNY = 100 fen) in an
//! `i64`, on the wire and in the database. A rate is a `rust_decimal` with
//! at most four places between 0 and 1, written as a four-place string on
//! the wire (`"0.0300"` is 3 %) and kept as an integer of ten-thousandths in
//! the database, so that no backend ever stores it as a float.

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// An amount of money in fen.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Fen(i64);

impl Fen {
    pub const ZERO: Fen = Fen(0);

    /// Any amount, including a negative one (a deduction or a reversal).
    pub const fn new(fen: i64) -> Self {
        Self(fen)
    }

    /// An amount that must not be negative, such as a price.
    pub fn non_negative(fen: i64) -> Result<Self, String> {
        if fen >= 0 {
            Ok(Self(fen))
        } else {
            Err("must not be negative".into())
        }
    }

    pub const fn get(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Fen) -> Option<Fen> {
        self.0.checked_add(other.0).map(Fen)
    }

    pub fn checked_mul(self, quantity: u32) -> Option<Fen> {
        self.0.checked_mul(i64::from(quantity)).map(Fen)
    }

    pub fn checked_neg(self) -> Option<Fen> {
        self.0.checked_neg().map(Fen)
    }
}

/// `¥1,234.50`: how people read an amount.
impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let yuan = (abs / 100).to_string();
        let mut grouped = String::with_capacity(yuan.len() + yuan.len() / 3);
        for (i, digit) in yuan.chars().enumerate() {
            if i > 0 && (yuan.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        write!(f, "{sign}¥{grouped}.{:02}", abs % 100)
    }
}

/// A share of a sale price, from 0 to 1 with at most four decimal places.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rate(Decimal);

/// The number of decimal places a rate may have.
pub const RATE_SCALE: u32 = 4;

impl Rate {
    /// Parses the wire form, such as `"0.0300"`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let value: Decimal = text
            .trim()
            .parse()
            .map_err(|_| "must be a decimal string such as \"0.0300\"".to_owned())?;
        Self::from_decimal(value)
    }

    pub fn from_decimal(value: Decimal) -> Result<Self, String> {
        if value.is_sign_negative() || value > Decimal::ONE {
            return Err("must be between 0 and 1".into());
        }
        if value.normalize().scale() > RATE_SCALE {
            return Err(format!("must have at most {RATE_SCALE} decimal places"));
        }
        let mut value = value;
        value.rescale(RATE_SCALE);
        Ok(Self(value))
    }

    /// Reads the database form: ten-thousandths.
    pub fn from_ten_thousandths(units: i64) -> Result<Self, String> {
        Self::from_decimal(Decimal::new(units, RATE_SCALE))
    }

    /// The database form: ten-thousandths.
    pub fn ten_thousandths(self) -> i64 {
        (self.0 * Decimal::from(10_000)).trunc().mantissa() as i64
    }

    pub fn as_decimal(self) -> Decimal {
        self.0
    }

    /// `3.00%`: how people read a rate.
    pub fn percent(self) -> String {
        let mut percent = self.0 * Decimal::ONE_HUNDRED;
        percent.rescale(2);
        format!("{percent}%")
    }
}

/// The wire form: always four places.
impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for Rate {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Rate::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_yuan_with_grouped_thousands() {
        assert_eq!(Fen::new(24_000).to_string(), "¥240.00");
        assert_eq!(Fen::new(123_456_789).to_string(), "¥1,234,567.89");
        assert_eq!(Fen::new(-5).to_string(), "-¥0.05");
    }

    #[test]
    fn rates_keep_four_places_and_refuse_what_is_out_of_range() {
        assert_eq!(
            Rate::parse("0.03").map(|r| r.to_string()),
            Ok("0.0300".to_owned())
        );
        assert_eq!(Rate::parse("0.0300").map(Rate::ten_thousandths), Ok(300));
        assert_eq!(
            Rate::parse("1").map(|r| r.percent()),
            Ok("100.00%".to_owned())
        );
        for bad in ["-0.01", "1.0001", "0.00001", "abc", ""] {
            assert!(Rate::parse(bad).is_err(), "{bad} should be refused");
        }
        assert_eq!(Rate::from_ten_thousandths(300), Rate::parse("0.03"));
    }
}
