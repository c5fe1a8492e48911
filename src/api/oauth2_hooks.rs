//! `auth-with-oauth2` inside its `onRecordAuthWithOAuth2Request` hooks, as PocketBase runs
//! it: the hooks see `e.providerName`, `e.oAuth2User`, `e.createData`, `e.isNewRecord` and
//! the record the identity found (`e.record`, null for a new user), may refuse, answer, or
//! change them (another record, other create data, another name for the user); `e.next()`
//! links or creates the record with what they left and signs in, through the MFA check
//! and `onRecordAuthRequest`, with `meta` in the answer.

use std::sync::{Arc, Mutex};

use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Map, Value, json};

use super::auth::auth_response;
use super::auth_hooks::{self, Admit, Find, SignIn};
use super::oauth2_submit::{Creating, Submit, find, meta, signed, submit, text};
use super::request_auth::RequestAuth;
use crate::auth::external;
use crate::error::Result;
use crate::hooks::Loaded;
use crate::http::blocking;
use crate::state::AppState;

/// Signs `s` in through the hooks `hooked`; `body` is the request body they see and
/// `mfa_id` the MFA it continues.
pub async fn sign_in(
    req: &HttpRequest,
    state: Arc<AppState>,
    auth: &RequestAuth,
    hooked: (Arc<Loaded>, Vec<usize>),
    (s, creating, body, mfa_id): (Arc<Submit>, Creating, Value, String),
) -> Result<HttpResponse> {
    let (shared, look) = (state.clone(), s.clone());
    let found = blocking(move || find(&shared, &look)).await?;
    let record = found.map(|(record, _)| record);
    let extra = Map::from_iter([
        ("providerName".to_owned(), json!(s.provider)),
        ("oAuth2User".to_owned(), json!(s.user)),
        // Null when the body had none, as PocketBase's.
        ("createData".to_owned(), body["createData"].clone()),
        ("isNewRecord".to_owned(), json!(record.is_none())),
    ]);
    let sign_in = SignIn {
        extra,
        method: "oauth2",
        body,
        mfa_id,
    };
    let find: Find = Box::new(move |_| Ok(record));
    let creating = Mutex::new(Some(creating));
    let c = s.c.clone();
    let admit: Admit = Box::new(move |state, hooks, record, extra| {
        let given = Submit {
            c: s.c.clone(),
            provider: s.provider.clone(),
            user: s.user.changed_by(&extra["oAuth2User"]),
            create_data: extra
                .get("createData")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            signed_in: s.signed_in.clone(),
        };
        let found = match record {
            Some(record) => {
                let link = state.db.data.read(|conn| {
                    external::linked(conn, &given.c, &given.provider, &given.user.id)
                })?;
                let linked = link.is_some_and(|l| text(&l, "id") == text(&record, "id"));
                Some((record, linked))
            }
            None => None,
        };
        let mut creating = creating.lock().unwrap_or_else(|p| p.into_inner());
        let (id, is_new) = submit(state, hooks, &given, found, &mut creating)?;
        let (record, token) = signed(state, &given.c, &id)?;
        Ok((record, token, meta(&given.user, is_new)))
    });
    let hooks = (find, admit);
    auth_hooks::around_sign_in(req, &state, auth, hooked, c, sign_in, hooks, auth_response).await
}
