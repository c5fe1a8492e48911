//! What the hooks files registered when they were loaded: handler sources (each runs in an
//! executor from its own source text, as PocketBase runs them, so a handler sees globals
//! and `require()`d modules, never the file's top-level variables), routes with their
//! middlewares, and the global middlewares of `routerUse`.

use std::collections::HashMap;

/// A handler function: its source text and where it was written.
#[derive(Debug, Clone)]
pub struct Handler {
    pub source: String,
    pub file: String,
    /// 1-based line of the file where the source starts (so stack traces point there).
    pub line: usize,
}

/// A middleware: a JS handler, or one of `$apis`' built-ins.
#[derive(Debug, Clone, PartialEq)]
pub enum Middleware {
    Js {
        handler: usize,
        priority: i64,
    },
    /// `$apis.requireAuth(...collections)`: any auth record when empty.
    RequireAuth(Vec<String>),
    RequireSuperuserAuth,
    RequireGuestOnly,
    /// `$apis.requireSuperuserOrOwnerAuth(ownerIdParam)`.
    RequireSuperuserOrOwnerAuth(String),
    /// `$apis.bodyLimit(bytes)`.
    BodyLimit(u64),
}

#[derive(Debug, Clone)]
pub struct Route {
    /// Upper-case method, or None for any.
    pub method: Option<String>,
    pub pattern: Pattern,
    pub handler: usize,
    pub middlewares: Vec<Middleware>,
}

/// An event hook (`onRecordCreate(handler, ...collections)` and the like).
#[derive(Debug, Clone)]
pub struct Hook {
    pub name: String,
    /// Collection names or ids it is bound to; empty for every collection.
    pub collections: Vec<String>,
    pub handler: usize,
}

impl Hook {
    /// Whether it is bound to `c`: to every collection, or to `c` by name or id.
    fn binds(&self, c: &crate::schema::Collection) -> bool {
        self.collections.is_empty() || self.collections.iter().any(|x| *x == c.name || *x == c.id)
    }

    /// Whether it runs around or after record writes (a model or after hook).
    fn wraps_writes(&self) -> bool {
        self.name.starts_with("onRecord")
            && self.name != "onRecordEnrich"
            && !self.name.ends_with("Request")
    }
}

/// The event hooks hearth runs; a file binding any other is loaded with a warning.
pub const RECORD_HOOKS: [&str; 33] = [
    "onRecordsListRequest",
    "onRecordAuthRequest",
    "onRecordAuthWithPasswordRequest",
    "onRecordAuthWithOAuth2Request",
    "onRecordAuthWithOTPRequest",
    "onRecordRequestOTPRequest",
    "onRecordAuthRefreshRequest",
    "onRecordRequestVerificationRequest",
    "onRecordConfirmVerificationRequest",
    "onRecordRequestPasswordResetRequest",
    "onRecordConfirmPasswordResetRequest",
    "onRecordRequestEmailChangeRequest",
    "onRecordConfirmEmailChangeRequest",
    "onBootstrap",
    "onTerminate",
    "onRecordCreateRequest",
    "onRecordUpdateRequest",
    "onRecordDeleteRequest",
    "onRecordViewRequest",
    "onRecordValidate",
    "onRecordCreate",
    "onRecordCreateExecute",
    "onRecordAfterCreateSuccess",
    "onRecordAfterCreateError",
    "onRecordUpdate",
    "onRecordUpdateExecute",
    "onRecordAfterUpdateSuccess",
    "onRecordAfterUpdateError",
    "onRecordDelete",
    "onRecordDeleteExecute",
    "onRecordAfterDeleteSuccess",
    "onRecordAfterDeleteError",
    "onRecordEnrich",
];

#[derive(Debug, Default, Clone)]
pub struct Registry {
    pub handlers: Vec<Handler>,
    pub routes: Vec<Route>,
    /// `routerUse`, in registration order.
    pub global: Vec<Middleware>,
    /// Event hooks, in registration order.
    pub hooks: Vec<Hook>,
    /// `cronAdd` jobs: (id, cron expression, handler).
    pub crons: Vec<(String, String, usize)>,
}

/// A route that matched a request, with its path values.
#[derive(Debug)]
pub struct Matched<'a> {
    pub route: &'a Route,
    pub params: HashMap<String, String>,
}

/// How a request's method and path meet the routes.
#[derive(Debug)]
pub enum Lookup<'a> {
    Found(Matched<'a>),
    /// The path is routed, but not for this method (405, as Go's router answers).
    WrongMethod,
    None,
}

impl Registry {
    /// The handlers of the hooks named `names` bound to `c`: by name in that order, then
    /// in registration order.
    pub fn bound(&self, names: &[&str], c: &crate::schema::Collection) -> Vec<usize> {
        let mut out = Vec::new();
        for name in names {
            out.extend(
                self.hooks
                    .iter()
                    .filter(|h| h.name == *name && h.binds(c))
                    .map(|h| h.handler),
            );
        }
        out
    }

    /// Whether writes to `c` (None: to any collection) need a JS runtime at hand: model or
    /// after hooks bound to it.
    pub fn has_record_hooks(&self, c: Option<&crate::schema::Collection>) -> bool {
        self.hooks
            .iter()
            .any(|h| h.wraps_writes() && c.is_none_or(|c| h.binds(c)))
    }

    /// The route for `method` and `path`; the most specific pattern wins (literal segments
    /// over `{name}` over `{name...}`), as in Go's `ServeMux` that PocketBase routes with.
    pub fn find(&self, method: &str, path: &str) -> Lookup<'_> {
        let mut best: Option<(Vec<u8>, Matched<'_>)> = None;
        let mut path_matched = false;
        for route in &self.routes {
            let Some((params, rank)) = route.pattern.matches(path) else {
                continue;
            };
            path_matched = true;
            let method_ok = match &route.method {
                None => true,
                Some(m) => m == method || (m == "GET" && method == "HEAD"),
            };
            if !method_ok {
                continue;
            }
            if best.as_ref().is_none_or(|(r, _)| rank > *r) {
                best = Some((rank, Matched { route, params }));
            }
        }
        match best {
            Some((_, m)) => Lookup::Found(m),
            None if path_matched => Lookup::WrongMethod,
            None => Lookup::None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Literal(String),
    Param(String),
    /// `{name...}`: the rest of the path.
    Rest(String),
}

/// A Go 1.22 `ServeMux` path pattern: `/api/hello/{name}`, `/files/{path...}`, a trailing
/// `/` matching everything below it, `{$}` matching only the exact path.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    /// As written, for the metrics' route label.
    pub text: String,
    segments: Vec<Segment>,
    /// Ends with `/` (or `/{$}`).
    trailing: bool,
    /// Ends with `/` (not `{$}`): also matches any path below.
    prefix: bool,
}

impl Pattern {
    pub fn parse(text: &str) -> Result<Self, String> {
        let Some(rest) = text.strip_prefix('/') else {
            return Err(format!("route path {text:?} must start with /"));
        };
        let (rest, exact) = match rest.strip_suffix("{$}") {
            Some(r) => (r, true),
            None => (rest, false),
        };
        let trailing = rest.is_empty() || rest.ends_with('/');
        let prefix = !exact && trailing;
        let mut segments = Vec::new();
        let parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
        for (i, part) in parts.iter().enumerate() {
            if part.is_empty() {
                if parts.len() == 1 {
                    break;
                }
                return Err(format!("route path {text:?} has an empty segment"));
            }
            let segment = match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) => match name.strip_suffix("...") {
                    Some(name) if i + 1 == parts.len() => Segment::Rest(name.to_owned()),
                    Some(_) => return Err(format!("{{name...}} must end the path in {text:?}")),
                    None if !name.is_empty() => Segment::Param(name.to_owned()),
                    None => return Err(format!("route path {text:?} has an empty {{}}")),
                },
                None => Segment::Literal((*part).to_owned()),
            };
            segments.push(segment);
        }
        let prefix = prefix && !matches!(segments.last(), Some(Segment::Rest(_)));
        Ok(Self {
            text: text.to_owned(),
            segments,
            trailing,
            prefix,
        })
    }

    /// The path values and a rank (higher is more specific), when `path` matches.
    fn matches(&self, path: &str) -> Option<(HashMap<String, String>, Vec<u8>)> {
        let parts: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
        let mut params = HashMap::new();
        let mut rank = Vec::with_capacity(self.segments.len() + 1);
        for (i, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Literal(l) => {
                    if parts.get(i) != Some(&l.as_str()) {
                        return None;
                    }
                    rank.push(3);
                }
                Segment::Param(name) => {
                    let value = parts.get(i).filter(|p| !p.is_empty())?;
                    params.insert(name.clone(), decode(value));
                    rank.push(2);
                }
                Segment::Rest(name) => {
                    let rest = parts.get(i..).unwrap_or_default().join("/");
                    params.insert(name.clone(), decode(&rest));
                    rank.push(1);
                    return Some((params, rank));
                }
            }
        }
        let n = self.segments.len();
        let exact = if self.trailing {
            parts.len() == n + 1 && parts[n].is_empty()
        } else {
            parts.len() == n
        };
        if exact {
            rank.push(1);
            return Some((params, rank));
        }
        (self.prefix && parts.len() > n).then_some((params, rank))
    }
}

fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(routes: &[(&str, &str)]) -> Registry {
        Registry {
            routes: routes
                .iter()
                .enumerate()
                .map(|(i, (method, path))| Route {
                    method: (!method.is_empty()).then(|| method.to_string()),
                    pattern: Pattern::parse(path).unwrap(),
                    handler: i,
                    middlewares: Vec::new(),
                })
                .collect(),
            ..Registry::default()
        }
    }

    fn found(r: &Registry, method: &str, path: &str) -> Option<(usize, Vec<(String, String)>)> {
        match r.find(method, path) {
            Lookup::Found(m) => {
                let mut params: Vec<_> = m.params.into_iter().collect();
                params.sort();
                Some((m.route.handler, params))
            }
            _ => None,
        }
    }

    #[test]
    fn patterns_match_as_go_serve_mux() {
        let r = registry(&[
            ("GET", "/api/hello/{name}"),
            ("GET", "/api/hello/world"),
            ("POST", "/api/items"),
            ("GET", "/files/{path...}"),
            ("", "/any/"),
            ("GET", "/exact/{$}"),
        ]);
        assert_eq!(
            found(&r, "GET", "/api/hello/ann"),
            Some((0, vec![("name".into(), "ann".into())]))
        );
        assert_eq!(found(&r, "GET", "/api/hello/world"), Some((1, vec![])));
        assert_eq!(
            found(&r, "GET", "/api/hello/a%20b"),
            Some((0, vec![("name".into(), "a b".into())]))
        );
        assert!(found(&r, "GET", "/api/hello/").is_none());
        assert!(matches!(r.find("GET", "/api/items"), Lookup::WrongMethod));
        assert_eq!(found(&r, "POST", "/api/items"), Some((2, vec![])));
        assert_eq!(
            found(&r, "GET", "/files/a/b.txt"),
            Some((3, vec![("path".into(), "a/b.txt".into())]))
        );
        assert_eq!(found(&r, "DELETE", "/any/x/y"), Some((4, vec![])));
        assert_eq!(found(&r, "GET", "/exact/"), Some((5, vec![])));
        assert!(found(&r, "GET", "/exact/more").is_none());
        assert!(found(&r, "POST", "/api/items/").is_none());
        assert_eq!(found(&r, "GET", "/any/"), Some((4, vec![])));
        assert_eq!(found(&r, "HEAD", "/api/hello/world"), Some((1, vec![])));
        assert!(matches!(r.find("GET", "/nothing"), Lookup::None));
        assert!(Pattern::parse("api").is_err());
        assert!(Pattern::parse("/a/{rest...}/b").is_err());
    }
}
