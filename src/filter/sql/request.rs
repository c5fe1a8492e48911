//! `@request.*` values and the date macros (`@now`, ...): what a rule or filter knows of
//! the request, each bound as a parameter or resolved from the signed-in record's row.

use rusqlite::types::Value as Sql;
use serde_json::{Map, Value};

use super::{Compiler, FilterError, Resolved, json_to_sql};
use crate::schema::FieldKind;

impl Compiler<'_, '_> {
    pub(super) fn request_value(
        &mut self,
        full: &str,
        rest: &str,
    ) -> Result<Resolved, FilterError> {
        let unknown = || FilterError::Unknown(full.to_owned());
        let (section, key) = match rest.split_once('.') {
            Some((s, k)) => (s, Some(k)),
            None => (rest, None),
        };
        let lookup = |map: &Map<String, Value>, key: &str| -> (bool, Value) {
            match map.get(key) {
                Some(v) => (true, v.clone()),
                None => (false, Value::Null),
            }
        };
        match (section, key) {
            ("method", None) => Ok(Resolved::scalar(
                self.param(Sql::Text(self.request.method.clone())),
            )),
            ("context", None) => {
                let context = match self.request.context {
                    "" => "default",
                    other => other,
                };
                Ok(Resolved::scalar(self.param(Sql::Text(context.into()))))
            }
            ("query" | "headers" | "body", Some(key)) => {
                let (name, modifier) = match key.split_once(':') {
                    Some((n, m)) => (n, Some(m)),
                    None => (key, None),
                };
                let map = match section {
                    "query" => &self.request.query,
                    "headers" => &self.request.headers,
                    _ => &self.request.body,
                };
                if let Some((first, path)) = name.split_once('.') {
                    return self.nested_request_value(section, map, first, path, modifier, full);
                }
                let (present, value) = lookup(map, name);
                match modifier {
                    None => Ok(self.json_operand(&value)),
                    Some("isset") => Ok(Resolved::scalar(
                        self.param(Sql::Integer(i64::from(present))),
                    )),
                    Some("length") => {
                        let n = value.as_array().map_or(0, Vec::len);
                        Ok(Resolved::scalar(self.param(Sql::Integer(n as i64))))
                    }
                    Some("lower") => {
                        let s = value.as_str().unwrap_or_default().to_lowercase();
                        Ok(Resolved::scalar(self.param(Sql::Text(s))))
                    }
                    Some("changed") if section == "body" => {
                        let field = self.collection.field(name).ok_or_else(unknown)?;
                        let column = format!("{}.\"{}\"", self.row, field.name);
                        let set = self.param(Sql::Integer(i64::from(present)));
                        let new = self.param(json_to_sql(&value));
                        Ok(Resolved::scalar(format!(
                            "(CASE WHEN {set} THEN ({new} IS NOT {column}) ELSE 0 END)"
                        )))
                    }
                    _ => Err(unknown()),
                }
            }
            ("auth", Some(key)) => self.auth_value(key, full),
            _ => Err(unknown()),
        }
    }

    /// A request value: scalars bind directly; arrays become a set to compare against.
    /// `@request.body.place.lon`: a value inside a sent object or list, as PocketBase reads
    /// it (NULL when there is none: a form sends `place` as text, which has no `lon`).
    /// A relation's records are not joined this way here.
    fn nested_request_value(
        &mut self,
        section: &str,
        map: &Map<String, Value>,
        first: &str,
        path: &str,
        modifier: Option<&str>,
        full: &str,
    ) -> Result<Resolved, FilterError> {
        let relation = self
            .collection
            .field(first)
            .is_some_and(|f| matches!(f.kind, FieldKind::Relation(_)));
        if section == "body" && relation {
            return Err(FilterError::Unknown(full.to_owned()));
        }
        let found = path.split('.').try_fold(map.get(first), |v, key| match v? {
            Value::Object(m) => Some(m.get(key)),
            Value::Array(items) => Some(key.parse::<usize>().ok().and_then(|i| items.get(i))),
            _ => None,
        });
        let value = found.flatten().cloned();
        match modifier {
            None => Ok(self.json_operand(&value.unwrap_or(Value::Null))),
            Some("isset") => Ok(Resolved::scalar(
                self.param(Sql::Integer(i64::from(value.is_some()))),
            )),
            Some("lower") => {
                let s = value
                    .as_ref()
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_lowercase();
                Ok(Resolved::scalar(self.param(Sql::Text(s))))
            }
            _ => Err(FilterError::Unknown(full.to_owned())),
        }
    }

    pub(super) fn json_operand(&mut self, value: &Value) -> Resolved {
        if let Value::Array(_) = value {
            let p = self.param(Sql::Text(value.to_string()));
            let alias = self.alias();
            return Resolved {
                froms: vec![format!("json_each({p}) {alias}")],
                conds: Vec::new(),
                expr: format!("{alias}.value"),
                multi: true,
                blank: false,
                like_literal: None,
                guards: Vec::new(),
            };
        }
        match value {
            Value::String(s) => self.text_literal(s),
            Value::Null => {
                let mut r = Resolved::scalar("NULL".into());
                r.blank = true;
                r
            }
            other => Resolved::scalar(self.param(json_to_sql(other))),
        }
    }

    pub(super) fn auth_value(&mut self, key: &str, full: &str) -> Result<Resolved, FilterError> {
        let Some((auth_collection, record)) = self.request.auth.clone() else {
            // A guest: every @request.auth.* value is blank.
            return Ok(self.text_literal(""));
        };
        match key {
            "collectionId" => {
                return Ok(Resolved::scalar(
                    self.param(Sql::Text(auth_collection.id.clone())),
                ));
            }
            "collectionName" => {
                return Ok(Resolved::scalar(
                    self.param(Sql::Text(auth_collection.name.clone())),
                ));
            }
            _ => {}
        }
        if !key.contains('.') && !key.contains(':') {
            if auth_collection.field(key).is_none() {
                return Err(FilterError::Unknown(full.to_owned()));
            }
            let value = record.get(key).cloned().unwrap_or(Value::Null);
            return Ok(self.json_operand(&value));
        }
        // A path through the auth record's relations: resolve from its row.
        let (alias, visible) = self.join_at("@request.auth".into(), &auth_collection)?;
        let id = record
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        self.depth = 0;
        let mut r = self.path(&auth_collection, &alias, key, full)?;
        let p = self.param(Sql::Text(id));
        r.froms
            .insert(0, format!("\"{}\" {alias}", auth_collection.name));
        r.conds.splice(
            0..0,
            std::iter::once(format!("{alias}.id = {p}")).chain(visible),
        );
        Ok(r)
    }

    pub(super) fn macro_value(&mut self, id: &str) -> Option<Resolved> {
        use time::{Duration, OffsetDateTime, Time};
        let now = OffsetDateTime::now_utc();
        let day_start = now.replace_time(Time::MIDNIGHT);
        let text = |t: OffsetDateTime| Sql::Text(crate::datetime::format(t));
        let month_start = day_start.replace_day(1).ok()?;
        let next_month = if now.month() == time::Month::December {
            month_start
                .replace_year(now.year() + 1)
                .ok()?
                .replace_month(time::Month::January)
                .ok()?
        } else {
            month_start.replace_month(now.month().next()).ok()?
        };
        let year_start = month_start.replace_month(time::Month::January).ok()?;
        let end = |t: OffsetDateTime| t - Duration::milliseconds(1);
        let v = match id {
            "@now" => text(now),
            "@yesterday" => text(now - Duration::days(1)),
            "@tomorrow" => text(now + Duration::days(1)),
            "@todayStart" => text(day_start),
            "@todayEnd" => text(end(day_start + Duration::days(1))),
            "@monthStart" => text(month_start),
            "@monthEnd" => text(end(next_month)),
            "@yearStart" => text(year_start),
            "@yearEnd" => text(end(year_start.replace_year(now.year() + 1).ok()?)),
            "@second" => Sql::Integer(i64::from(now.second())),
            "@minute" => Sql::Integer(i64::from(now.minute())),
            "@hour" => Sql::Integer(i64::from(now.hour())),
            "@weekday" => Sql::Integer(i64::from(now.weekday().number_days_from_sunday())),
            "@day" => Sql::Integer(i64::from(now.day())),
            "@month" => Sql::Integer(i64::from(u8::from(now.month()))),
            "@year" => Sql::Integer(i64::from(now.year())),
            _ => return None,
        };
        Some(Resolved::scalar(self.param(v)))
    }
}
