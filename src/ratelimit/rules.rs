//! PocketBase's `rateLimits` settings: read from the settings document, matched as its
//! `RateLimitsConfig.FindRateLimitRule` matches, validated as its settings model validates
//! them (same codes, messages and order), and bound as its JSON decoder binds a PATCH.

use std::net::IpAddr;
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::error::{ErrorTree, FieldError, FieldErrors};

pub const AUDIENCE_ALL: &str = "";
pub const AUDIENCE_GUEST: &str = "@guest";
pub const AUDIENCE_AUTH: &str = "@auth";

/// One rule, in the order of PocketBase's JSON (its log names a refusing rule with it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub label: String,
    pub audience: String,
    /// Seconds per window.
    pub duration: i64,
    #[serde(rename = "maxRequests")]
    pub max_requests: i64,
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match serde_json::to_string(self) {
            Ok(text) => f.write_str(&text),
            Err(_) => f.write_str(&self.label),
        }
    }
}

/// The `rateLimits` settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimits {
    pub enabled: bool,
    pub rules: Vec<Rule>,
    pub excluded_ips: Vec<String>,
}

fn text(v: Option<&Value>) -> String {
    v.and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn int(v: Option<&Value>) -> i64 {
    v.and_then(Value::as_i64).unwrap_or(0)
}

impl Rule {
    fn from_json(v: &Value) -> Self {
        Self {
            label: text(v.get("label")),
            audience: text(v.get("audience")),
            duration: int(v.get("duration")),
            max_requests: int(v.get("maxRequests")),
        }
    }
}

impl RateLimits {
    pub fn from_settings(settings: &Map<String, Value>) -> Self {
        let Some(limits) = settings.get("rateLimits") else {
            return Self::default();
        };
        let list = |key: &str| {
            limits
                .get(key)
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default()
        };
        Self {
            enabled: limits
                .get("enabled")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            rules: list("rules").iter().map(Rule::from_json).collect(),
            excluded_ips: list("excludedIPs").iter().map(|v| text(Some(v))).collect(),
        }
    }

    /// The first rule for the first label that has one, as PocketBase finds it: an exact
    /// label first, then (for every label) a rule ending in `/` that prefixes `label/`;
    /// only rules whose audience is one of `audiences` count.
    pub fn find(&self, labels: &[String], audiences: &[&str]) -> Option<&Rule> {
        let fits = |r: &Rule| audiences.contains(&r.audience.as_str());
        // PocketBase gathers the prefix rules while looking at the first label only.
        let prefixes: Vec<&Rule> = self
            .rules
            .iter()
            .filter(|r| r.label.ends_with('/'))
            .collect();
        for label in labels {
            if let Some(rule) = self.rules.iter().find(|r| r.label == *label && fits(r)) {
                return Some(rule);
            }
            let slashed = format!("{label}/");
            if let Some(rule) = prefixes
                .iter()
                .find(|r| slashed.starts_with(&r.label) && fits(r))
            {
                return Some(rule);
            }
        }
        None
    }

    /// True when `ip` is one of the excluded addresses or inside an excluded subnet.
    pub fn excludes(&self, ip: IpAddr) -> bool {
        self.excluded_ips
            .iter()
            .any(|item| match parse_subnet(item) {
                Some((net, bits)) => contains(net, bits, ip),
                None => item.parse::<IpAddr>().is_ok_and(|a| a == ip),
            })
    }
}

/// `addr/bits` (Go's `netip.ParsePrefix`).
fn parse_subnet(text: &str) -> Option<(IpAddr, u8)> {
    let (addr, bits) = text.split_once('/')?;
    let addr: IpAddr = addr.parse().ok()?;
    if bits.is_empty() || !bits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let bits: u8 = bits.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some((addr, bits))
}

fn contains(net: IpAddr, bits: u8, ip: IpAddr) -> bool {
    let (net, ip, width) = match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => (u128::from(u32::from(n)), u128::from(u32::from(a)), 32),
        (IpAddr::V6(n), IpAddr::V6(a)) => (u128::from(n), u128::from(a), 128),
        _ => return false,
    };
    // The leading `bits` bits decide; none at all (`/0`) takes every address.
    let shift = width - u32::from(bits);
    shift >= 128 || net >> shift == ip >> shift
}

/// An IP or a CIDR subnet, as PocketBase's `validators.IPOrSubnet` accepts.
pub fn is_ip_or_subnet(text: &str) -> bool {
    parse_subnet(text).is_some() || text.parse::<IpAddr>().is_ok()
}

/// PocketBase's `rateLimitRuleLabelRegex` (Go's `\w` is ASCII).
static LABEL: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"^([0-9A-Za-z_]+ /[0-9A-Za-z_/-]*|/[0-9A-Za-z_/-]*|[0-9A-Za-z_]+:[0-9A-Za-z_]+|\*:[0-9A-Za-z_]+|[0-9A-Za-z_]+)$",
    )
    .ok()
});

fn at_least_one() -> FieldError {
    FieldError::new(
        "validation_min_greater_equal_than_required",
        "Must be no less than 1.",
    )
    .with_params(json!({"threshold": 1}))
}

/// One rule's errors, as `RateLimitRule.Validate` reports them.
fn rule_errors(rule: &Rule) -> FieldErrors {
    let mut errors = FieldErrors::new();
    if rule.label.is_empty() {
        errors.insert("label".into(), FieldError::required().into());
    } else if !LABEL.as_ref().is_some_and(|re| re.is_match(&rule.label)) {
        errors.insert(
            "label".into(),
            FieldError::new("validation_match_invalid", "Must be in a valid format.").into(),
        );
    }
    for (key, value) in [
        ("maxRequests", rule.max_requests),
        ("duration", rule.duration),
    ] {
        if value == 0 {
            errors.insert(key.into(), FieldError::required().into());
        } else if value < 1 {
            errors.insert(key.into(), at_least_one().into());
        }
    }
    if ![AUDIENCE_ALL, AUDIENCE_GUEST, AUDIENCE_AUTH].contains(&rule.audience.as_str()) {
        errors.insert(
            "audience".into(),
            FieldError::new("validation_in_invalid", "Must be a valid value.").into(),
        );
    }
    errors
}

/// The first rule whose label and audience repeat (or prefix) an earlier one's, as
/// PocketBase's `checkUniqueRuleLabel` compares `label@@audience` keys.
fn conflict(rules: &[Rule]) -> Option<(usize, &Rule)> {
    let mut seen: Vec<String> = Vec::with_capacity(rules.len());
    for (i, rule) in rules.iter().enumerate() {
        let key = format!("{}@@{}", rule.label, rule.audience);
        if seen
            .iter()
            .any(|k| k.starts_with(&key) || key.starts_with(k.as_str()))
        {
            return Some((i, rule));
        }
        seen.push(key);
    }
    None
}

/// The errors of the `rateLimits` settings (empty when valid), under their keys. As in
/// PocketBase, each rule is checked first, and only valid rules for conflicts.
pub fn validate(limits: &RateLimits) -> FieldErrors {
    let mut errors = FieldErrors::new();
    let by_index: FieldErrors = limits
        .rules
        .iter()
        .enumerate()
        .map(|(i, r)| (i.to_string(), rule_errors(r)))
        .filter(|(_, e)| !e.is_empty())
        .map(|(i, e)| (i, ErrorTree::from(e)))
        .collect();
    if limits.enabled && limits.rules.is_empty() {
        errors.insert("rules".into(), FieldError::required().into());
    } else if !by_index.is_empty() {
        errors.insert("rules".into(), by_index.into());
    } else if let Some((i, rule)) = conflict(&limits.rules) {
        let error = FieldError::new(
            "validation_conflicting_rate_limit_rule",
            &format!(
                "Rate limit rule configuration with label {} already exists or conflicts with another rule.",
                rule.label
            ),
        )
        .with_params(json!({"label": rule.label}));
        let mut at = FieldErrors::new();
        at.insert("label".into(), error.into());
        let mut by_index = FieldErrors::new();
        by_index.insert(i.to_string(), at.into());
        errors.insert("rules".into(), by_index.into());
    }
    let ips = ip_list_errors(&limits.excluded_ips);
    if !ips.is_empty() {
        errors.insert("excludedIPs".into(), ips.into());
    }
    errors
}

/// Each item required and an IP or CIDR subnet (PocketBase's `excludedIPs` and
/// `superuserIPs` checks).
pub fn ip_list_errors(items: &[String]) -> FieldErrors {
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| {
            let error = if item.is_empty() {
                FieldError::required()
            } else if !is_ip_or_subnet(item) {
                // PocketBase's code, misspelling included.
                FieldError::new(
                    "validation_invlaid_ip_or_subnet",
                    "Invalid IP or CIDR subnet.",
                )
            } else {
                return None;
            };
            Some((i.to_string(), ErrorTree::from(error)))
        })
        .collect()
}

/// The part of a settings PATCH that does not bind, as Go's JSON decoder refuses it.
#[derive(Debug)]
pub struct Unbindable;

/// Binds the `rateLimits` and `trustedProxy` parts of a settings PATCH as PocketBase's
/// decoder (Go's `encoding/json/v2`) binds them into its structs: a list replaces the
/// stored one whole, each rule starts from zero values and keeps only the rule's own keys,
/// and `null` anywhere is the zero value (an empty list, `false`, a default object). A
/// value of the wrong type (a number as text, a fraction for a count) is `Unbindable`.
pub fn bind(patch: &mut Map<String, Value>) -> Result<(), Unbindable> {
    let zero_limits = || json!({"rules": [], "excludedIPs": [], "enabled": false});
    if let Some(limits) = object_part(patch, "rateLimits", zero_limits)? {
        null_as(limits, "enabled", Value::Bool(false));
        if let Some(rules) = list_part(limits, "rules")? {
            for rule in rules.iter_mut() {
                *rule = bind_rule(rule)?;
            }
        }
        if let Some(ips) = list_part(limits, "excludedIPs")? {
            bind_texts(ips)?;
        }
    }
    let zero_proxy = || json!({"headers": [], "useLeftmostIP": false});
    if let Some(proxy) = object_part(patch, "trustedProxy", zero_proxy)? {
        null_as(proxy, "useLeftmostIP", Value::Bool(false));
        if let Some(headers) = list_part(proxy, "headers")? {
            bind_texts(headers)?;
        }
    }
    Ok(())
}

/// The object under `key`; a `null` there is the zero object.
fn object_part<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
    zero: impl Fn() -> Value,
) -> Result<Option<&'a mut Map<String, Value>>, Unbindable> {
    if let Some(slot) = map.get_mut(key)
        && slot.is_null()
    {
        *slot = zero();
    }
    match map.get_mut(key) {
        None => Ok(None),
        Some(Value::Object(inner)) => Ok(Some(inner)),
        Some(_) => Err(Unbindable),
    }
}

/// The list under `key`; `null` binds as an empty list.
fn list_part<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
) -> Result<Option<&'a mut Vec<Value>>, Unbindable> {
    null_as(map, key, Value::Array(Vec::new()));
    match map.get_mut(key) {
        None => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(_) => Err(Unbindable),
    }
}

fn null_as(map: &mut Map<String, Value>, key: &str, zero: Value) {
    if let Some(slot) = map.get_mut(key)
        && slot.is_null()
    {
        *slot = zero;
    }
}

fn bind_texts(items: &mut [Value]) -> Result<(), Unbindable> {
    for item in items {
        match item {
            Value::Null => *item = Value::String(String::new()),
            Value::String(_) => {}
            _ => return Err(Unbindable),
        }
    }
    Ok(())
}

fn bind_rule(value: &Value) -> Result<Value, Unbindable> {
    let empty = Map::new();
    let fields = match value {
        Value::Null => &empty,
        Value::Object(fields) => fields,
        _ => return Err(Unbindable),
    };
    let text = |key: &str| match fields.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(Unbindable),
    };
    // Go decodes only integer literals into an int (`1.0` and `1e3` are refused).
    let count = |key: &str| match fields.get(key) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => n.as_i64().ok_or(Unbindable),
        Some(_) => Err(Unbindable),
    };
    Ok(json!({
        "label": text("label")?,
        "audience": text("audience")?,
        "duration": count("duration")?,
        "maxRequests": count("maxRequests")?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(label: &str, audience: &str) -> Rule {
        Rule {
            label: label.into(),
            audience: audience.into(),
            duration: 1,
            max_requests: 1,
        }
    }

    fn labels(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn exact_labels_win_over_prefixes_label_by_label() {
        let limits = RateLimits {
            enabled: true,
            rules: vec![
                rule("/api/", ""),
                rule("POST /api/batch", ""),
                rule("users:create", "@auth"),
                rule("*:create", ""),
            ],
            excluded_ips: vec![],
        };
        let all = [AUDIENCE_ALL, AUDIENCE_GUEST];
        let found = |l: &[&str]| limits.find(&labels(l), &all).map(|r| r.label.clone());
        assert_eq!(
            found(&["users:create", "*:create", "POST /api/x", "/api/x"]).as_deref(),
            Some("*:create"),
            "users:create is for signed-in callers only"
        );
        assert_eq!(
            found(&["POST /api/batch", "/api/batch"]).as_deref(),
            Some("POST /api/batch")
        );
        assert_eq!(
            found(&["GET /api/batch", "/api/batch"]).as_deref(),
            Some("/api/")
        );
        assert_eq!(found(&["GET /api", "/api"]).as_deref(), Some("/api/"));
        assert_eq!(found(&["GET /apix", "/apix"]), None);
    }

    #[test]
    fn subnets_and_single_addresses_are_excluded() {
        let limits = RateLimits {
            excluded_ips: labels(&["10.0.0.0/8", "192.168.1.7", "fd00::/8", "0.0.0.0/0"]),
            ..RateLimits::default()
        };
        for ip in ["10.1.2.3", "192.168.1.7", "fd12::1", "8.8.8.8"] {
            assert!(
                limits.excludes(ip.parse().unwrap_or(IpAddr::from([0; 4]))),
                "{ip}"
            );
        }
        let narrow = RateLimits {
            excluded_ips: labels(&["10.0.0.0/8", "192.168.1.7", "fd00::/8", "::1/128"]),
            ..RateLimits::default()
        };
        for ip in ["11.0.0.1", "192.168.1.8", "fe80::1", "::2"] {
            assert!(
                !narrow.excludes(ip.parse().unwrap_or(IpAddr::from([0; 4]))),
                "{ip}"
            );
        }
        assert!(!is_ip_or_subnet("10.0.0.0/33"));
        assert!(!is_ip_or_subnet("nope"));
        assert!(is_ip_or_subnet("2001:db8::/32"));
    }

    #[test]
    fn a_rule_for_everyone_conflicts_with_the_same_label_for_guests() {
        assert_eq!(
            conflict(&[rule("a", ""), rule("a", "@guest")]).map(|(i, _)| i),
            Some(1)
        );
        assert_eq!(conflict(&[rule("/a/", ""), rule("/a/b", "")]), None);
    }
}
