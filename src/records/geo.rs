//! `geoPoint` values: what PocketBase's `GeoPoint.Scan` makes of a body value or a stored
//! one, its checks (`GeoPointField.ValidateValue`) and the JSON text a column holds.
//!
//! PocketBase decodes JSON into its `{lon, lat}` struct member by member and stops at the
//! first problem, keeping what it had set: `{"lat":2,"lon":"5"}` is `{0, 2}`, text after the
//! object is never read, keys match exactly (`LON` is another key) and a repeated key is a
//! problem. An object sent in a JSON body is encoded again first; PocketBase's order of its
//! members is random, and when all are good it makes no difference, so it is taken here in
//! key order (when one is bad, that is one of the answers PocketBase gives too).

use serde_json::{Value, json};

use crate::error::FieldError;
use crate::records::output::number;

/// A point; `{0, 0}` is the empty value.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GeoPoint {
    pub lon: f64,
    pub lat: f64,
}

impl GeoPoint {
    /// PocketBase's `PrepareValue`: null, empty text, and anything that is not an object (or
    /// the JSON text of one) are `{0, 0}`.
    pub fn from_value(value: &Value) -> Self {
        match value {
            Value::String(text) => Self::from_text(text),
            Value::Object(_) => Self::from_text(&value.to_string()),
            _ => Self::default(),
        }
    }

    /// The point in JSON text: an object's members read until the first bad one.
    pub fn from_text(text: &str) -> Self {
        let mut point = Self::default();
        let _stopped = Decoder::new(text).object(&mut point);
        point
    }

    pub fn is_zero(self) -> bool {
        self.lon == 0.0 && self.lat == 0.0
    }

    /// The value as the API answers it.
    pub fn to_json(self) -> Value {
        json!({"lon": number(self.lon), "lat": number(self.lat)})
    }

    /// The text the column stores, with PocketBase's key order.
    pub fn to_text(self) -> String {
        format!(
            r#"{{"lon":{},"lat":{}}}"#,
            number(self.lon),
            number(self.lat)
        )
    }

    /// `ValidateValue`: `{0, 0}` is blank (an error only when required); latitude is
    /// checked before longitude.
    pub fn check(self, required: bool) -> Result<(), FieldError> {
        if self.is_zero() {
            return if required {
                Err(FieldError::required())
            } else {
                Ok(())
            };
        }
        if !(-90.0..=90.0).contains(&self.lat) {
            return Err(FieldError::new(
                "validation_invalid_latitude",
                "Latitude must be between -90 and 90 degrees.",
            ));
        }
        if !(-180.0..=180.0).contains(&self.lon) {
            return Err(FieldError::new(
                "validation_invalid_longitude",
                "Longitude must be between -180 and 180 degrees.",
            ));
        }
        Ok(())
    }
}

/// Why decoding stopped; nothing after it is read.
struct Stop;

/// A strict JSON reader over one text, just enough to walk an object's members.
struct Decoder<'a> {
    text: &'a [u8],
    at: usize,
}

impl<'a> Decoder<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text: text.as_bytes(),
            at: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), Stop> {
        self.space();
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(Stop)
        }
    }

    /// The members of the object the text starts with, into `point`.
    fn object(&mut self, point: &mut GeoPoint) -> Result<(), Stop> {
        self.expect(b'{')?;
        self.space();
        if self.peek() == Some(b'}') {
            return Ok(());
        }
        let mut seen: Vec<String> = Vec::new();
        loop {
            self.space();
            let key = self.string()?;
            if seen.contains(&key) {
                return Err(Stop);
            }
            self.expect(b':')?;
            self.space();
            match key.as_str() {
                "lon" => self.coordinate(&mut point.lon)?,
                "lat" => self.coordinate(&mut point.lat)?,
                _ => self.skip_value(0)?,
            }
            seen.push(key);
            self.space();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => return Ok(()),
                _ => return Err(Stop),
            }
        }
    }

    /// A number (or null, which leaves the coordinate as it was).
    fn coordinate(&mut self, slot: &mut f64) -> Result<(), Stop> {
        if self.literal("null") {
            return Ok(());
        }
        let text = self.number()?;
        let n: f64 = text.parse().map_err(|_| Stop)?;
        if !n.is_finite() {
            return Err(Stop);
        }
        *slot = n;
        Ok(())
    }

    fn literal(&mut self, word: &str) -> bool {
        if self.text[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            true
        } else {
            false
        }
    }

    /// JSON's number grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    fn number(&mut self) -> Result<&'a str, Stop> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(Stop),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
                return Err(Stop);
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
                return Err(Stop);
            }
            self.digits();
        }
        std::str::from_utf8(&self.text[start..self.at]).map_err(|_| Stop)
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
    }

    /// A quoted string, its escapes decoded.
    fn string(&mut self) -> Result<String, Stop> {
        let start = self.at;
        if self.peek() != Some(b'"') {
            return Err(Stop);
        }
        self.at += 1;
        loop {
            match self.peek() {
                None | Some(0..=0x1f) => return Err(Stop),
                Some(b'"') => break,
                Some(b'\\') => self.at += 2,
                Some(_) => self.at += 1,
            }
        }
        self.at += 1;
        let quoted = self.text.get(start..self.at).ok_or(Stop)?;
        serde_json::from_slice(quoted).map_err(|_| Stop)
    }

    /// Any JSON value, read and dropped.
    fn skip_value(&mut self, depth: usize) -> Result<(), Stop> {
        // Deeper than any encoder nests: refuse rather than recurse without end.
        if depth > 512 {
            return Err(Stop);
        }
        self.space();
        match self.peek() {
            Some(b'"') => self.string().map(drop),
            Some(b'{') => {
                self.at += 1;
                self.space();
                if self.peek() == Some(b'}') {
                    self.at += 1;
                    return Ok(());
                }
                let mut seen: Vec<String> = Vec::new();
                loop {
                    self.space();
                    let key = self.string()?;
                    if seen.contains(&key) {
                        return Err(Stop);
                    }
                    seen.push(key);
                    self.expect(b':')?;
                    self.skip_value(depth + 1)?;
                    self.space();
                    match self.peek() {
                        Some(b',') => self.at += 1,
                        Some(b'}') => {
                            self.at += 1;
                            return Ok(());
                        }
                        _ => return Err(Stop),
                    }
                }
            }
            Some(b'[') => {
                self.at += 1;
                self.space();
                if self.peek() == Some(b']') {
                    self.at += 1;
                    return Ok(());
                }
                loop {
                    self.skip_value(depth + 1)?;
                    self.space();
                    match self.peek() {
                        Some(b',') => self.at += 1,
                        Some(b']') => {
                            self.at += 1;
                            return Ok(());
                        }
                        _ => return Err(Stop),
                    }
                }
            }
            _ if self.literal("true") || self.literal("false") || self.literal("null") => Ok(()),
            _ => self.number().map(drop),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> (f64, f64) {
        let g = GeoPoint::from_text(text);
        (g.lon, g.lat)
    }

    #[test]
    fn reads_members_until_the_first_bad_one() {
        // Each answer was PocketBase 0.40.6's for the same text.
        assert_eq!(p(r#"{"lon":1.5,"lat":-2}"#), (1.5, -2.0));
        assert_eq!(p(r#"{"lon":"5","lat":6}"#), (0.0, 0.0));
        assert_eq!(p(r#"{"lat":6,"lon":"5"}"#), (0.0, 6.0));
        assert_eq!(p(r#"{"l\u006fn":3,"lat":2}"#), (3.0, 2.0));
        assert_eq!(p(r#"{"x":01,"lon":3}"#), (0.0, 0.0));
        assert_eq!(p(r#"  {"lon":1 , "lat" : 2 }"#), (1.0, 2.0));
        assert_eq!(p(r#"{"lon":1.5e2,"lat":-1E1}"#), (150.0, -10.0));
        assert_eq!(
            p(r#"{"lat":2,"x":{"a":[1,2,{"b":null}]},"lon":3}"#),
            (3.0, 2.0)
        );
        assert_eq!(p(r#"{"lat":2,"x":1,"x":2,"lon":3}"#), (0.0, 2.0));
        assert_eq!(p(r#"{"lat":2,"lon":null}"#), (0.0, 2.0));
        for bad in [
            "1.",
            ".5",
            "+1",
            "true",
            "[1]",
            r#"{"a":1}"#,
            r#""abc""#,
            "1e400",
        ] {
            assert_eq!(
                p(&format!(r#"{{"lat":2,"lon":{bad}}}"#)),
                (0.0, 2.0),
                "{bad}"
            );
        }
        assert_eq!(p(r#"{"lat":2,"lon":1}x"#), (1.0, 2.0));
        assert_eq!(p(r#"{"lon":1,"lat":2"#), (1.0, 2.0));
        assert_eq!(p(r#"{"lon":1, "lat":2,}"#), (1.0, 2.0));
        assert_eq!(p(r#"{"lat":2 "lon":1}"#), (0.0, 2.0));
        assert_eq!(p(r#"{"lat":2,"x":"\q","lon":1}"#), (0.0, 2.0));
        assert_eq!(p(r#"{"lat":2,"LAT":5,"Lat":6}"#), (0.0, 2.0));
        for zero in ["", " ", "null", "[1,2]", "5", "{'lat':2}", "{}"] {
            assert_eq!(p(zero), (0.0, 0.0), "{zero}");
        }
    }

    #[test]
    fn values_of_other_types_are_zero() {
        for v in [json!(null), json!(5), json!(true), json!([1, 2])] {
            assert!(GeoPoint::from_value(&v).is_zero(), "{v}");
        }
        let g = GeoPoint::from_value(&json!({"lon": 10, "lat": 20, "extra": [1]}));
        assert_eq!((g.lon, g.lat), (10.0, 20.0));
        // Key order for a body object: `lat` before `lon`.
        let g = GeoPoint::from_value(&json!({"lon": "5", "lat": 6}));
        assert_eq!((g.lon, g.lat), (0.0, 6.0));
    }

    #[test]
    fn checks_and_text() {
        let g = |lon, lat| GeoPoint { lon, lat };
        assert!(g(0.0, 0.0).check(false).is_ok());
        assert_eq!(g(0.0, 0.0).check(true), Err(FieldError::required()));
        assert_eq!(
            g(200.0, -95.0).check(false).map_err(|e| e.code),
            Err("validation_invalid_latitude".to_owned())
        );
        assert_eq!(
            g(180.0000001, 0.0).check(false).map_err(|e| e.code),
            Err("validation_invalid_longitude".to_owned())
        );
        assert!(g(-180.0, 90.0).check(true).is_ok());
        assert_eq!(g(10.0, 1e-7).to_text(), r#"{"lon":10,"lat":1e-7}"#);
        assert_eq!(
            GeoPoint::from_text(&g(-3.25, 12.5).to_text()),
            g(-3.25, 12.5)
        );
    }
}
