//! The record side of an OAuth2 sign-in once the provider has said who the user is
//! (PocketBase's `oauth2Submit`): the record found is linked and takes what the sign-in
//! gives it, or a record is created for the identity; then the collection's `authRule`
//! admits it and a token is issued. Both the plain handler and `e.next()` of the
//! `onRecordAuthWithOAuth2Request` hooks run it, the hooks with what they changed.

use std::sync::Arc;

use actix_web::web;
use serde_json::{Map, Value, json};

use crate::auth::oauth2::AuthUser;
use crate::auth::token::KIND_AUTH;
use crate::auth::{avatar, external, records, signin};
use crate::error::{Error, Result};
use crate::files::upload::Staging;
use crate::http::{blocking, outbound};
use crate::records::changes::Event;
use crate::records::write::RecordHooks;
use crate::records::{Ctx, Secrets};
use crate::schema::Collection;
use crate::state::AppState;

/// A sign-in of `user` through `provider` to `c`.
pub struct Submit {
    pub c: Arc<Collection>,
    pub provider: String,
    pub user: AuthUser,
    pub create_data: Map<String, Value>,
    /// The caller's own record of `c`, when signed in already (linking a provider).
    pub signed_in: Option<Map<String, Value>>,
}

/// What only a creation uses: the request's context and the downloaded avatar.
pub struct Creating {
    pub ctx: Ctx,
    pub avatar: Option<Staging>,
}

/// The record `s` signs in as, if any, and whether its link exists already.
pub fn find(state: &AppState, s: &Submit) -> Result<Option<(Map<String, Value>, bool)>> {
    state
        .db
        .data
        .read(|conn| external::find(conn, &s.c, &s.provider, &s.user, s.signed_in.as_ref()))
}

/// Signs `s` in as `found` (linked, or linked now, taking the email and verification the
/// sign-in gives), or as a new record, which takes `creating` (once): the record's id and
/// whether it is new.
pub fn submit(
    state: &AppState,
    hooks: &dyn RecordHooks,
    s: &Submit,
    found: Option<(Map<String, Value>, bool)>,
    creating: &mut Option<Creating>,
) -> Result<(String, bool)> {
    let Some((record, linked)) = found else {
        let creating = creating
            .take()
            .ok_or_else(|| Error::bad_request("The sign-in has created its record already."))?;
        return create(state, hooks, s, creating);
    };
    let (c, user) = (&s.c, &s.user);
    let id = text(&record, "id");
    let own = s.signed_in.as_ref().is_some_and(|r| text(r, "id") == id);
    let changes = external::changes(&record, user, own);
    let hash = match changes.reset_password {
        true => Some(crate::password::hash(&crate::ids::secret(30))?),
        false => None,
    };
    let schema = state.schema.snapshot();
    state.records_with(hooks).run(|tx| {
        external::apply(tx.conn(), c, &id, &changes, hash.as_deref())?;
        if !changes.is_empty() {
            tx.noted(&schema, c, Event::Update, &id)?;
        }
        // An unverified record loses its links, the one it was found by too: that one is
        // made again, as PocketBase does.
        if !linked || changes.unlink_all {
            external::link(tx.conn(), c, &id, &s.provider, &user.id)?;
        }
        Ok((id.clone(), false))
    })
}

/// A record created for the identity: `createData` with what the provider told, under the
/// collection's `createRule` (the request's context is `oauth2`), a random password unless
/// one is given; verified when its email is the provider's; linked.
fn create(
    state: &AppState,
    hooks: &dyn RecordHooks,
    s: &Submit,
    Creating { ctx, avatar }: Creating,
) -> Result<(String, bool)> {
    let (c, user) = (&s.c, &s.user);
    if c.name == crate::auth::superusers::COLLECTION_NAME {
        return Err(Error::bad_request(
            "Superusers are not allowed to sign-up with OAuth2.",
        ));
    }
    let mut body = external::payload(c, &s.create_data, user);
    // The downloaded avatar, named in the body by its stored name as an upload is.
    if let Some(file) = avatar.as_ref().and_then(|s| s.files().first()) {
        body.insert(file.field.clone(), json!(file.name));
    }
    if !body.contains_key("password") {
        let password = crate::ids::secret(30);
        body.insert("password".into(), json!(password));
        body.insert("passwordConfirm".into(), json!(password));
    }
    let secrets = Secrets::prepare(&state.db.data, c, &ctx, None, &body)?;
    state.records_with(hooks).run(|tx| {
        let record = tx.create(c, &ctx, &body, &secrets, avatar)?;
        let id = text(&record, "id");
        external::verify_new(tx.conn(), c, &id, user)?;
        external::link(tx.conn(), c, &id, &s.provider, &user.id)?;
        Ok((id, true))
    })
}

/// Record `id` of `c` signed in: admitted by the collection's `authRule`, with a token.
pub fn signed(
    state: &AppState,
    c: &Arc<Collection>,
    id: &str,
) -> Result<(Map<String, Value>, String)> {
    let store = &state.db.data;
    let record = store
        .read(|conn| records::find_by_id(conn, c, id))?
        .ok_or_else(Error::not_found)?;
    if !signin::auth_rule_admits(store, state.schema.snapshot(), c, &record)? {
        return Err(Error::Forbidden(
            "The request doesn't satisfy the collection requirements to authenticate.".into(),
        ));
    }
    let token = records::issue_token(c, &record, KIND_AUTH)?;
    Ok((record, token))
}

/// The avatar of a user who will get a new record, downloaded into the file field
/// `mappedFields.avatarURL` names (see `auth::avatar`), unless `createData` sets that
/// field. Only when no record is theirs yet: checked again when the record is written.
pub async fn new_avatar(state: &web::Data<AppState>, s: Arc<Submit>) -> Result<Option<Staging>> {
    let Some(field) = avatar::file_field(&s.c) else {
        return Ok(None);
    };
    if s.user.avatar_url.is_empty() || s.create_data.contains_key(&field.0) {
        return Ok(None);
    }
    let shared = state.clone();
    let look = s.clone();
    if blocking(move || find(&shared, &look)).await?.is_some() {
        return Ok(None);
    }
    let (storage, allow_private) = (
        state.files.clone(),
        state.config.oauth2_avatar_allow_private,
    );
    outbound(move || {
        let (name, limit) = (field.0.as_str(), field.1);
        match avatar::download(&storage, &s.user.avatar_url, (name, limit), allow_private) {
            Ok(staging) => Ok(Some(staging)),
            Err(why) => {
                log::warn!(
                    "OAuth2 avatar of a new {} record not downloaded: {why}",
                    s.c.name
                );
                Ok(None)
            }
        }
    })
    .await
}

pub fn text(record: &Map<String, Value>, key: &str) -> String {
    record
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// PocketBase's `meta`: the provider's user (tokens included: the client asked for them)
/// and whether the record is new.
pub fn meta(user: &AuthUser, is_new: bool) -> Value {
    let mut meta = json!(user);
    meta["isNew"] = json!(is_new);
    meta
}
