//! The code forges: GitHub, Gitea/Forgejo, Gitee, GitLab and Bitbucket. All but GitLab
//! ask a second endpoint for the verified primary email; each judges that answer's
//! failures in its own way, as PocketBase does (a missing scope yields no email, not an
//! error).

use serde_json::Value;

use super::exchange::{Answer, Http, Token};
use super::fields::{Cause, Obj, array_of_objects};
use super::{AuthUser, Provider};

/// Gitee's emails endpoint (not derived from the user info URL, as in PocketBase).
const GITEE_EMAILS_URL: &str = "https://gitee.com/api/v5/emails";

pub(super) fn fetch(http: &Http, provider: &Provider, token: &Token) -> Result<AuthUser, Cause> {
    let url = provider.user_info_url.as_str();
    let raw = http.user_call(token, "GET", url, &[], None)?;
    let emails = |emails_url: &str| http.authorized(token, "GET", emails_url, &[], None);
    let emails_url = format!("{url}/emails");
    match provider.name.as_str() {
        "github" => {
            let user = github(token, raw)?;
            Ok(AuthUser {
                email: verified_primary(&emails(&emails_url)?)?,
                ..user
            })
        }
        "gitea" => {
            let user = gitea(token, raw)?;
            let email = verified_primary(&emails(&emails_url)?)
                .map_err(|e| format!("failed to fetch primary email: {e}"))?;
            Ok(AuthUser { email, ..user })
        }
        "gitee" => {
            let user = gitee(token, raw)?;
            if !user.email.is_empty() {
                return Ok(user);
            }
            Ok(AuthUser {
                email: gitee_primary(&emails(GITEE_EMAILS_URL)?),
                ..user
            })
        }
        "bitbucket" => {
            let user = bitbucket(token, raw)?;
            Ok(AuthUser {
                email: bitbucket_primary(&emails(&emails_url)?)?,
                ..user
            })
        }
        _ => gitlab(token, raw),
    }
}

/// The user part of GitHub's `/user` (the email comes from `/user/emails` only: enterprise
/// setups may expose unverified ones here).
fn github(token: &Token, raw: Value) -> Result<AuthUser, Cause> {
    let o = Obj::root(&raw)?;
    Ok(AuthUser {
        id: o.int("id")?.to_string(),
        name: o.str("name")?,
        username: o.str("login")?,
        avatar_url: o.str("avatar_url")?,
        ..AuthUser::from_token(token, raw.clone())
    })
}

fn gitea(token: &Token, raw: Value) -> Result<AuthUser, Cause> {
    let o = Obj::root(&raw)?;
    let user = AuthUser {
        id: o.int("id")?.to_string(),
        name: o.str("full_name")?,
        username: o.str("login")?,
        avatar_url: o.str("avatar_url")?,
        ..AuthUser::from_token(token, raw.clone())
    };
    if !o.bool("active")? {
        return Err("user account is not active".into());
    }
    Ok(user)
}

/// Gitee's user, with its public email when that is a valid address (else the caller
/// asks the emails endpoint).
fn gitee(token: &Token, raw: Value) -> Result<AuthUser, Cause> {
    let o = Obj::root(&raw)?;
    let email = o.str("email")?;
    Ok(AuthUser {
        id: o.int("id")?.to_string(),
        name: o.str("name")?,
        username: o.str("login")?,
        avatar_url: o.str("avatar_url")?,
        email: if is_email(&email) {
            email
        } else {
            String::new()
        },
        ..AuthUser::from_token(token, raw.clone())
    })
}

/// GitLab: the email counts once `confirmed_at` holds a real RFC 3339 time.
fn gitlab(token: &Token, raw: Value) -> Result<AuthUser, Cause> {
    let o = Obj::root(&raw)?;
    let confirmed = time::OffsetDateTime::parse(
        &o.str("confirmed_at")?,
        &time::format_description::well_known::Rfc3339,
    )
    .is_ok_and(|t| t.unix_timestamp() != ZERO_TIME);
    Ok(AuthUser {
        id: o.int("id")?.to_string(),
        name: o.str("name")?,
        username: o.str("username")?,
        avatar_url: o.str("avatar_url")?,
        email: if confirmed {
            o.str("email")?
        } else {
            String::new()
        },
        ..AuthUser::from_token(token, raw.clone())
    })
}

/// Go's zero `time.Time` (0001-01-01T00:00:00Z) in Unix seconds.
const ZERO_TIME: i64 = -62_135_596_800;

fn bitbucket(token: &Token, raw: Value) -> Result<AuthUser, Cause> {
    let o = Obj::root(&raw)?;
    let avatar = o.obj("links")?.obj("avatar")?.str("href")?;
    let user = AuthUser {
        id: o.str("uuid")?,
        name: o.str("display_name")?,
        username: o.str("username")?,
        avatar_url: avatar,
        ..AuthUser::from_token(token, raw.clone())
    };
    if o.str("account_status")? != "active" {
        return Err("the Bitbucket user is not active".into());
    }
    Ok(user)
}

/// GitHub's and Gitea's `/emails`: the first verified primary address. A refusal for a
/// missing scope (401, 403, 404) is no email; other answers must be the list.
fn verified_primary(answer: &Answer) -> Result<String, Cause> {
    if matches!(answer.status, 401 | 403 | 404) {
        return Ok(String::new());
    }
    let list = answer.json()?;
    for e in array_of_objects(&list)? {
        let (email, verified, primary) = (e.str("email")?, e.bool("verified")?, e.bool("primary")?);
        if verified && primary {
            return Ok(email);
        }
    }
    Ok(String::new())
}

/// Gitee's emails: the first confirmed address scoped `primary`. Any failure is no email
/// (a private address answers an object instead of the list).
fn gitee_primary(answer: &Answer) -> String {
    if matches!(answer.status, 401 | 403 | 404) {
        return String::new();
    }
    let read = || -> Result<String, Cause> {
        let list = answer.json()?;
        for e in array_of_objects(&list)? {
            let (email, state, scopes) = (e.str("email")?, e.str("state")?, e.strings("scope")?);
            if state == "confirmed" && scopes.iter().any(|s| s == "primary") && is_email(&email) {
                return Ok(email);
            }
        }
        Ok(String::new())
    };
    read().unwrap_or_default()
}

/// Bitbucket's `/emails` (`{values: [...]}`): the first confirmed primary address; any
/// 4xx or 5xx is no email.
fn bitbucket_primary(answer: &Answer) -> Result<String, Cause> {
    if answer.status >= 400 {
        return Ok(String::new());
    }
    let page = answer.json()?;
    for v in Obj::root(&page)?.objects("values")? {
        let (email, primary, confirmed) = (
            v.str("email")?,
            v.bool("is_primary")?,
            v.bool("is_confirmed")?,
        );
        if primary && confirmed {
            return Ok(email);
        }
    }
    Ok(String::new())
}

fn is_email(value: &str) -> bool {
    !value.is_empty() && crate::validate::email(value).is_none()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testing::token_with;
    use super::*;

    fn answer(status: u16, body: Value) -> Answer {
        Answer {
            status,
            content_type: "application/json".into(),
            body: body.to_string().into_bytes(),
        }
    }

    fn token() -> Token {
        token_with(json!({}))
    }

    #[test]
    fn github_user_and_its_verified_primary_email() {
        // https://docs.github.com/en/rest/users/users#get-the-authenticated-user
        let raw = json!({"login": "octocat", "id": 1, "avatar_url": "https://github.com/images/error/octocat_happy.gif",
            "name": "monalisa octocat", "email": "octocat@github.com", "type": "User"});
        let u = github(&token(), raw.clone()).unwrap();
        assert_eq!(
            [u.id.as_str(), &u.name, &u.username, &u.email, &u.avatar_url],
            [
                "1",
                "monalisa octocat",
                "octocat",
                "",
                "https://github.com/images/error/octocat_happy.gif"
            ]
        );
        assert_eq!(u.raw_user, raw);

        // https://docs.github.com/en/rest/users/emails#list-email-addresses-for-the-authenticated-user
        let emails = json!([
            {"email": "unverified@github.com", "verified": false, "primary": true, "visibility": "public"},
            {"email": "secondary@github.com", "verified": true, "primary": false, "visibility": null},
            {"email": "octocat@github.com", "verified": true, "primary": true, "visibility": "public"}
        ]);
        assert_eq!(
            verified_primary(&answer(200, emails)).unwrap(),
            "octocat@github.com"
        );
        let none = json!([{"email": "x@y.z", "verified": false, "primary": true}]);
        assert_eq!(verified_primary(&answer(200, none)).unwrap(), "");
        assert_eq!(
            verified_primary(&answer(403, json!({"message": "no scope"}))).unwrap(),
            ""
        );
        assert!(verified_primary(&answer(500, json!({"message": "boom"}))).is_err());
    }

    #[test]
    fn gitea_refuses_inactive_users() {
        let raw = json!({"id": 8, "login": "forge", "full_name": "Forge Joe", "email": "f@codeberg.org",
            "avatar_url": "https://codeberg.org/avatars/8", "active": true});
        let u = gitea(&token(), raw.clone()).unwrap();
        assert_eq!(
            [u.id.as_str(), &u.name, &u.username, &u.email, &u.avatar_url],
            [
                "8",
                "Forge Joe",
                "forge",
                "",
                "https://codeberg.org/avatars/8"
            ]
        );
        let mut inactive = raw;
        inactive["active"] = json!(false);
        assert!(gitea(&token(), inactive).is_err());
    }

    #[test]
    fn gitee_public_email_or_the_confirmed_primary_one() {
        let raw = json!({"id": 12285415, "login": "gitee-user", "name": "Gitee User",
            "avatar_url": "https://gitee.com/assets/no_portrait.png", "email": "public@gitee.com"});
        let u = gitee(&token(), raw.clone()).unwrap();
        assert_eq!(
            [u.id.as_str(), &u.name, &u.username, &u.email, &u.avatar_url],
            [
                "12285415",
                "Gitee User",
                "gitee-user",
                "public@gitee.com",
                "https://gitee.com/assets/no_portrait.png"
            ]
        );
        let mut private = raw;
        private["email"] = json!("not an email");
        assert_eq!(gitee(&token(), private).unwrap().email, "");

        let emails = json!([
            {"email": "a@gitee.com", "state": "unconfirmed", "scope": ["primary"]},
            {"email": "b@gitee.com", "state": "confirmed", "scope": ["committed", "primary"]}
        ]);
        assert_eq!(gitee_primary(&answer(200, emails)), "b@gitee.com");
        // "Keep my email address private" answers an object: no email, no error.
        let hidden = json!({"email": "12285415+test@user.noreply.gitee.com"});
        assert_eq!(gitee_primary(&answer(200, hidden)), "");
        assert_eq!(gitee_primary(&answer(404, json!({}))), "");
    }

    #[test]
    fn gitlab_needs_a_confirmation_time() {
        // https://docs.gitlab.com/api/users/#retrieve-the-current-user
        let raw = json!({"id": 1, "username": "john_smith", "email": "john@example.com", "name": "John Smith",
            "avatar_url": "http://localhost:3000/uploads/user/avatar/1/index.jpg",
            "confirmed_at": "2012-05-23T09:05:22Z", "state": "active"});
        let u = gitlab(&token(), raw.clone()).unwrap();
        assert_eq!(
            [u.id.as_str(), &u.name, &u.username, &u.email, &u.avatar_url],
            [
                "1",
                "John Smith",
                "john_smith",
                "john@example.com",
                "http://localhost:3000/uploads/user/avatar/1/index.jpg"
            ]
        );
        for unconfirmed in [
            json!(null),
            json!(""),
            json!("0001-01-01T00:00:00Z"),
            json!("yesterday"),
        ] {
            let mut r = raw.clone();
            r["confirmed_at"] = unconfirmed;
            assert_eq!(gitlab(&token(), r).unwrap().email, "");
        }
    }

    #[test]
    fn bitbucket_user_and_emails() {
        // https://developer.atlassian.com/cloud/bitbucket/rest/api-group-users/#api-user-get
        let raw = json!({"type": "user", "uuid": "{d301aafa-d676-4ee0-88be-962be7417567}", "username": "tutorials",
            "display_name": "Atlassian Tutorials", "account_status": "active",
            "links": {"avatar": {"href": "https://bitbucket.org/account/tutorials/avatar/"}}});
        let u = bitbucket(&token(), raw.clone()).unwrap();
        assert_eq!(
            [u.id.as_str(), &u.name, &u.username, &u.email, &u.avatar_url],
            [
                "{d301aafa-d676-4ee0-88be-962be7417567}",
                "Atlassian Tutorials",
                "tutorials",
                "",
                "https://bitbucket.org/account/tutorials/avatar/"
            ]
        );
        let mut closed = raw;
        closed["account_status"] = json!("closed");
        assert!(bitbucket(&token(), closed).is_err());

        let emails = json!({"pagelen": 10, "values": [
            {"is_primary": false, "is_confirmed": true, "email": "other@b.org"},
            {"is_primary": true, "is_confirmed": true, "email": "tutorials@b.org"}]});
        assert_eq!(
            bitbucket_primary(&answer(200, emails)).unwrap(),
            "tutorials@b.org"
        );
        assert_eq!(bitbucket_primary(&answer(500, json!({}))).unwrap(), "");
    }
}
