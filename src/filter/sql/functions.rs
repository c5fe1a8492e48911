//! The functions of the filter language, compiled to SQL as PocketBase's
//! `search.TokenFunctions` does. Only `geoDistance` so far.

use std::collections::HashMap;

use super::{Compiler, FilterError, Resolved};
use crate::filter::parser::Operand;

impl Compiler<'_, '_> {
    pub(super) fn call(&mut self, name: &str, args: &[Operand]) -> Result<Resolved, FilterError> {
        match name {
            "geoDistance" => self.geo_distance(args),
            _ => Err(FilterError::syntax(format!("unknown function {name:?}"))),
        }
    }

    /// `geoDistance(lonA, latA, lonB, latB)`: kilometres between two points by the haversine
    /// formula, the SQL PocketBase 0.40.6 runs to the letter (the cosine clamped to [-1, 1],
    /// so rounding past 1 gives 0, not NULL). Arguments are field paths, request values or
    /// numbers (NULL where they are none, and then so is the distance);
    /// through a relation to several records it holds when it holds for one of them, as
    /// PocketBase applies no "every record" constraint to it, and the arguments that follow
    /// the same relation read the same record.
    fn geo_distance(&mut self, args: &[Operand]) -> Result<Resolved, FilterError> {
        if args.len() != 4 {
            return Err(FilterError::syntax(format!(
                "[geoDistance] expected 4 arguments, got {}",
                args.len()
            )));
        }
        // PocketBase takes identifiers (`true`, `null` are ones there) and numbers.
        if let Some(i) = args
            .iter()
            .position(|a| matches!(a, Operand::Str(_) | Operand::Call(..)))
        {
            return Err(FilterError::syntax(format!(
                "[geoDistance] argument {i} must be an identifier or number"
            )));
        }
        let outer = self.shared.replace(HashMap::new());
        let resolved: Result<Vec<Resolved>, FilterError> =
            args.iter().map(|a| self.operand(a)).collect();
        self.shared = outer;
        let resolved = resolved?;
        let mut out = Resolved::scalar(String::new());
        let mut values = Vec::with_capacity(4);
        for r in resolved {
            for from in r.froms {
                if !out.froms.contains(&from) {
                    out.froms.push(from);
                }
            }
            for cond in r.conds {
                if !out.conds.contains(&cond) {
                    out.conds.push(cond);
                }
            }
            out.guards.extend(r.guards);
            values.push(r.expr);
        }
        let [lon_a, lat_a, lon_b, lat_b] = values.as_slice() else {
            return Err(FilterError::syntax(
                "[geoDistance] expected 4 arguments".into(),
            ));
        };
        out.expr = format!(
            "(6371 * acos(min(1, max(-1, cos(radians({lat_a})) * cos(radians({lat_b})) * \
             cos(radians({lon_b}) - radians({lon_a})) + \
             sin(radians({lat_a})) * sin(radians({lat_b}))))))"
        );
        Ok(out)
    }
}
