//! From token to [`AuthUser`]: which call each provider's user takes (PocketBase's
//! `FetchRawUserInfo`), and the mapping of the answer for the providers with one plain
//! user endpoint (`FetchAuthUser`). The forges (with their extra email calls), Apple and
//! the OIDC slots have files of their own.

use serde_json::Value;

use super::exchange::{Http, Token};
use super::fields::{Cause, Obj, go_string};
use super::{AuthUser, Provider, apple, forges, oidc};

/// The provider's user for `token`, as PocketBase's `FetchAuthUser` builds it.
pub(super) fn fetch(http: &Http, provider: &Provider, token: &Token) -> Result<AuthUser, Cause> {
    match provider.name.as_str() {
        "apple" => apple::fetch(http, provider, token),
        "oidc" | "oidc2" | "oidc3" => oidc::fetch(http, provider, token),
        "github" | "gitea" | "gitee" | "gitlab" | "bitbucket" => {
            forges::fetch(http, provider, token)
        }
        _ => {
            let raw = user_call(http, provider, token)?;
            map(provider, token, raw)
        }
    }
}

/// The user call: a GET of the user info URL, with the headers or GraphQL query some
/// providers need.
fn user_call(http: &Http, provider: &Provider, token: &Token) -> Result<Value, Cause> {
    let url = provider.user_info_url.as_str();
    // The body byte for byte as PocketBase sends it (the queries hold no quotes).
    let graphql = |query: &str| {
        let body = format!(r#"{{"query": "{query}"}}"#).into_bytes();
        http.user_call(
            token,
            "POST",
            url,
            &[("Content-Type", "application/json")],
            Some(body),
        )
    };
    match provider.name.as_str() {
        "linear" => graphql("query Me { viewer { id displayName name email avatarUrl active } }"),
        "monday" => graphql("query { me { id enabled name email is_verified photo_small }}"),
        "notion" => http.user_call(token, "GET", url, &[("Notion-Version", "2022-06-28")], None),
        "trakt" => http.user_call(
            token,
            "GET",
            url,
            &[
                ("Content-Type", "application/json"),
                ("trakt-api-key", &provider.client_id),
                ("trakt-api-version", "2"),
            ],
            None,
        ),
        "twitch" => http.user_call(
            token,
            "GET",
            url,
            &[("Client-Id", &provider.client_id)],
            None,
        ),
        _ => http.user_call(token, "GET", url, &[], None),
    }
}

/// Maps a plain provider's user answer `raw` (already fetched) to the user.
pub(super) fn map(provider: &Provider, token: &Token, raw: Value) -> Result<AuthUser, Cause> {
    let mut raw = raw;
    if provider.name == "instagram2" {
        // The granted permissions come with the token; PocketBase keeps them in rawUser.
        if let (Value::Object(map), Some(permissions)) = (&mut raw, token.extra("permissions"))
            && !map.contains_key("permissions")
        {
            map.insert("permissions".into(), permissions.clone());
        }
    }
    let o = Obj::root(&raw)?;
    let mut user = AuthUser::from_token(token, raw.clone());
    match provider.name.as_str() {
        "box" => {
            let status = o.str("status")?;
            if status != "active" {
                return Err(format!(
                    "Box user account is not active (status: {status:?})"
                ));
            }
            user.id = o.str("id")?;
            user.name = o.str("name")?;
            user.avatar_url = o.str("avatar_url")?;
            // Box signs in only users with a verified address.
            user.email = o.str("login")?;
        }
        "discord" => {
            user.id = o.str("id")?;
            user.username = o.str("username")?;
            let avatar = o.str("avatar")?;
            if !avatar.is_empty() {
                user.avatar_url = format!(
                    "https://cdn.discordapp.com/avatars/{}/{avatar}.png",
                    user.id
                );
            }
            user.name = o.str("global_name")?;
            if user.name.is_empty() {
                // Legacy accounts keep a non-zero discriminator (`name#1234`).
                let discriminator = o.str("discriminator")?;
                user.name = user.username.clone();
                if !discriminator.is_empty() && discriminator != "0" {
                    user.name = format!("{}#{discriminator}", user.name);
                }
            }
            if o.bool("verified")? {
                user.email = o.str("email")?;
            }
        }
        "facebook" => {
            user.id = o.str("id")?;
            user.name = o.str("name")?;
            user.email = o.str("email")?;
            user.avatar_url = o.obj("picture")?.obj("data")?.str("url")?;
        }
        "google" => {
            user.id = o.str("sub")?;
            user.name = o.str("name")?;
            user.avatar_url = o.str("picture")?;
            if o.bool("email_verified")? {
                user.email = o.str("email")?;
            }
        }
        "instagram2" => {
            user.id = o.str("user_id")?;
            user.name = o.str("name")?;
            user.username = o.str("username")?;
            user.avatar_url = o.str("profile_picture_url")?;
        }
        "kakao" => {
            user.id = o.int("id")?.to_string();
            let profile = o.obj("properties")?;
            user.username = profile.str("nickname")?;
            user.avatar_url = profile.str("profile_image")?;
            let account = o.obj("kakao_account")?;
            if account.bool("is_email_valid")? && account.bool("is_email_verified")? {
                user.email = account.str("email")?;
            }
        }
        "lark" => {
            let data = o.obj("data")?;
            user.id = data.str("union_id")?;
            user.name = data.str("name")?;
            user.avatar_url = data.str("avatar_url")?;
        }
        "linear" => {
            let viewer = o.obj("data")?.obj("viewer")?;
            if !viewer.bool("active")? {
                return Err("the Linear user account is not active".into());
            }
            user.id = viewer.str("id")?;
            user.name = viewer.str("name")?;
            user.username = viewer.str("displayName")?;
            user.email = viewer.str("email")?;
            user.avatar_url = viewer.str("avatarUrl")?;
        }
        "livechat" => {
            user.id = o.str("account_id")?;
            user.name = o.str("name")?;
            user.avatar_url = o.str("avatar_url")?;
            if o.bool("email_verified")? {
                user.email = o.str("email")?;
            }
        }
        "mailcow" => {
            if o.int("active")? != 1 {
                return Err("the mailcow user is not active".into());
            }
            user.id = o.str("id")?;
            user.name = o.str("full_name")?;
            user.email = o.str("email")?;
            // mailcow usernames are addresses; the part before the `@` is the username.
            let username = o.str("username")?;
            user.username = match username.split_once('@') {
                Some((local, _)) => local.to_owned(),
                None => username,
            };
        }
        "microsoft" => {
            user.id = o.str("id")?;
            user.name = o.str("displayName")?;
            let mail = o.str("mail")?;
            user.email = oidc::microsoft_email(provider, token, mail);
        }
        "monday" => {
            let me = o.obj("data")?.obj("me")?;
            if !me.bool("enabled")? {
                return Err("the monday.com user account is not enabled".into());
            }
            user.id = me.str("id")?;
            user.name = me.str("name")?;
            user.avatar_url = me.str("photo_small")?;
            if me.bool("is_verified")? {
                user.email = me.str("email")?;
            }
        }
        "notion" => {
            let owner = o.obj("bot")?.obj("owner")?.obj("user")?;
            user.id = owner.str("id")?;
            user.name = owner.str("name")?;
            user.email = owner.obj("person")?.str("email")?;
            user.avatar_url = owner.str("avatar_url")?;
        }
        "patreon" => {
            let data = o.obj("data")?;
            let attributes = data.obj("attributes")?;
            user.id = data.str("id")?;
            user.name = attributes.str("full_name")?;
            user.username = attributes.str("vanity")?;
            user.avatar_url = attributes.str("image_url")?;
            if attributes.bool("is_email_verified")? {
                user.email = attributes.str("email")?;
            }
        }
        "planningcenter" => {
            let data = o.obj("data")?;
            let attributes = data.obj("attributes")?;
            if attributes.str("status")? != "active" {
                return Err("the user is not active".into());
            }
            user.id = data.str("id")?;
            user.name = attributes.str("name")?;
            user.avatar_url = attributes.str("avatar")?;
            // No email: a person may have several, with no word on which are verified.
        }
        "spotify" => {
            user.id = o.str("id")?;
            user.name = o.str("display_name")?;
            if let Some(first) = o.objects("images")?.first() {
                user.avatar_url = first.str("url")?;
            }
            // No email: Spotify's is unverified.
        }
        "strava" => {
            let id = o.int("id")?;
            if id != 0 {
                user.id = id.to_string();
            }
            user.name = format!("{} {}", o.str("firstname")?, o.str("lastname")?);
            user.username = o.str("username")?;
            user.avatar_url = o.str("profile")?;
        }
        "trakt" => {
            let u = o.obj("user")?;
            user.id = u.obj("ids")?.str("uuid")?;
            user.username = u.str("username")?;
            user.name = u.str("name")?;
            user.avatar_url = u.obj("images")?.obj("avatar")?.str("full")?;
        }
        "twitch" => {
            let data = o.objects("data")?;
            let Some(first) = data.first() else {
                return Err("failed to fetch AuthUser data".into());
            };
            user.id = first.str("id")?;
            user.name = first.str("display_name")?;
            user.username = first.str("login")?;
            user.email = first.str("email")?;
            user.avatar_url = first.str("profile_image_url")?;
        }
        "twitter" => {
            let data = o.obj("data")?;
            user.id = data.str("id")?;
            user.name = data.str("name")?;
            user.username = data.str("username")?;
            user.email = data.str("confirmed_email")?;
            user.avatar_url = data.str("profile_image_url")?;
        }
        "vk" => {
            let response = o.objects("response")?;
            let Some(first) = response.first() else {
                return Err("missing response entry".into());
            };
            user.id = first.int("id")?.to_string();
            let full = format!("{} {}", first.str("first_name")?, first.str("last_name")?);
            user.name = full.trim().to_owned();
            user.username = first.str("screen_name")?;
            user.avatar_url = first.str("photo_max")?;
            // VK hands the (verified) address over with the token, not the user.
            if let Some(email) = token.extra("email") {
                user.email = go_string(Some(email));
            }
        }
        "wakatime" => {
            let data = o.obj("data")?;
            user.id = data.str("id")?;
            user.name = data.str("display_name")?;
            user.username = data.str("username")?;
            if data.bool("is_email_confirmed")? {
                user.email = data.str("email")?;
            }
            if data.bool("photo_public")? {
                user.avatar_url = data.str("photo")?;
            }
        }
        "yandex" => {
            user.id = o.str("id")?;
            user.name = o.str("real_name")?;
            user.username = o.str("login")?;
            user.email = o.str("default_email")?;
            if !o.bool("is_avatar_empty")? {
                user.avatar_url = format!(
                    "https://avatars.yandex.net/get-yapic/{}/islands-200",
                    o.str("default_avatar_id")?
                );
            }
        }
        other => return Err(format!("no user mapping for provider {other:?}")),
    }
    Ok(user)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testing::{provider, token_with};
    use super::*;

    fn mapped(name: &str, raw: Value) -> AuthUser {
        map(&provider(name), &token_with(json!({})), raw).unwrap()
    }

    /// (id, name, username, email, avatar) of a user.
    fn short(u: &AuthUser) -> [&str; 5] {
        [&u.id, &u.name, &u.username, &u.email, &u.avatar_url]
    }

    #[test]
    fn the_token_part_and_the_raw_answer_come_along() {
        let raw = json!({"sub": "1", "email": "a@b.c", "email_verified": true});
        let u = mapped("google", raw.clone());
        assert_eq!(u.access_token, "at");
        assert_eq!(u.refresh_token, "rt");
        assert_eq!(u.expiry, "1970-01-01 01:00:00.000Z");
        assert_eq!(u.raw_user, raw);
        let no_expiry = Token {
            expiry: None,
            ..token_with(json!({}))
        };
        assert_eq!(
            map(&provider("google"), &no_expiry, raw).unwrap().expiry,
            ""
        );
    }

    #[test]
    fn google() {
        // https://developers.google.com/identity/openid-connect/openid-connect#obtainuserinfo
        let raw = json!({
            "sub": "110169484474386276334", "name": "Jane Doe", "given_name": "Jane",
            "picture": "https://lh3.googleusercontent.com/a/x", "email": "jane@gmail.com",
            "email_verified": true, "locale": "en"
        });
        let u = mapped("google", raw.clone());
        assert_eq!(
            short(&u),
            [
                "110169484474386276334",
                "Jane Doe",
                "",
                "jane@gmail.com",
                "https://lh3.googleusercontent.com/a/x"
            ]
        );
        let mut unverified = raw;
        unverified["email_verified"] = json!(false);
        assert_eq!(mapped("google", unverified).email, "");
    }

    #[test]
    fn discord() {
        // https://discord.com/developers/docs/resources/user#user-object-example-user
        let raw = json!({
            "id": "80351110224678912", "username": "nelly", "discriminator": "1337",
            "global_name": null, "avatar": "8342729096ea3675442027381ff50dfe",
            "verified": true, "email": "nelly@discord.com", "flags": 64
        });
        assert_eq!(
            short(&mapped("discord", raw.clone())),
            [
                "80351110224678912",
                "nelly#1337",
                "nelly",
                "nelly@discord.com",
                "https://cdn.discordapp.com/avatars/80351110224678912/8342729096ea3675442027381ff50dfe.png"
            ]
        );
        let mut modern = raw;
        modern["global_name"] = json!("Nelly");
        modern["discriminator"] = json!("0");
        modern["verified"] = json!(false);
        modern["avatar"] = json!(null);
        let u = mapped("discord", modern.clone());
        assert_eq!(short(&u), ["80351110224678912", "Nelly", "nelly", "", ""]);
        modern["global_name"] = json!("");
        assert_eq!(mapped("discord", modern).name, "nelly");
    }

    #[test]
    fn facebook() {
        let raw = json!({
            "id": "10224", "name": "Mark Z", "email": "mark@fb.com",
            "picture": {"data": {"height": 200, "is_silhouette": false, "url": "https://fb/p.jpg", "width": 200}}
        });
        assert_eq!(
            short(&mapped("facebook", raw)),
            ["10224", "Mark Z", "", "mark@fb.com", "https://fb/p.jpg"]
        );
    }

    #[test]
    fn instagram_keeps_the_granted_permissions() {
        let raw = json!({
            "id": "7590", "user_id": "1784", "username": "jayposiris", "name": "Jay",
            "account_type": "BUSINESS", "profile_picture_url": "https://ig/p.jpg"
        });
        let token = token_with(json!({"permissions": "instagram_business_basic"}));
        let u = map(&provider("instagram2"), &token, raw).unwrap();
        assert_eq!(
            short(&u),
            ["1784", "Jay", "jayposiris", "", "https://ig/p.jpg"]
        );
        assert_eq!(u.raw_user["permissions"], "instagram_business_basic");
    }

    #[test]
    fn kakao() {
        // https://developers.kakao.com/docs/latest/en/kakaologin/rest-api#req-user-info
        let raw = json!({
            "id": 123456789, "connected_at": "2022-04-11T01:45:28Z",
            "properties": {"nickname": "홍길동", "profile_image": "http://k.kakaocdn.net/p.jpg"},
            "kakao_account": {"email": "sample@sample.com", "is_email_valid": true, "is_email_verified": true}
        });
        assert_eq!(
            short(&mapped("kakao", raw.clone())),
            [
                "123456789",
                "",
                "홍길동",
                "sample@sample.com",
                "http://k.kakaocdn.net/p.jpg"
            ]
        );
        let mut invalid = raw;
        invalid["kakao_account"]["is_email_valid"] = json!(false);
        assert_eq!(mapped("kakao", invalid).email, "");
    }

    #[test]
    fn lark_linear_livechat() {
        let lark = json!({"code": 0, "data": {"union_id": "on_d8", "name": "zhangsan", "avatar_url": "https://l/a.png", "email": "z@x.cn"}});
        assert_eq!(
            short(&mapped("lark", lark)),
            ["on_d8", "zhangsan", "", "", "https://l/a.png"]
        );

        let linear = json!({"data": {"viewer": {"id": "u1", "displayName": "jd", "name": "John Doe", "email": "j@l.app", "avatarUrl": "https://l/j.png", "active": true}}});
        assert_eq!(
            short(&mapped("linear", linear.clone())),
            ["u1", "John Doe", "jd", "j@l.app", "https://l/j.png"]
        );
        let mut inactive = linear;
        inactive["data"]["viewer"]["active"] = json!(false);
        assert!(map(&provider("linear"), &token_with(json!({})), inactive).is_err());

        let livechat = json!({"account_id": "a-1", "name": "Li", "email": "li@lc.com", "email_verified": false, "avatar_url": "https://lc/a"});
        assert_eq!(
            short(&mapped("livechat", livechat)),
            ["a-1", "Li", "", "", "https://lc/a"]
        );
    }

    #[test]
    fn mailcow_takes_the_local_part_as_username_and_refuses_inactive_users() {
        let raw = json!({"id": "7", "username": "box@mail.example", "email": "box@mail.example", "full_name": "Box Owner", "active": 1, "created": "x"});
        assert_eq!(
            short(&mapped("mailcow", raw.clone())),
            ["7", "Box Owner", "box", "box@mail.example", ""]
        );
        let mut inactive = raw;
        inactive["active"] = json!(0);
        assert!(map(&provider("mailcow"), &token_with(json!({})), inactive).is_err());
    }

    #[test]
    fn monday_notion_patreon() {
        let monday = json!({"data": {"me": {"id": "51", "enabled": true, "name": "Mo", "email": "mo@m.com", "is_verified": false, "photo_small": "https://m/s.png"}}});
        assert_eq!(
            short(&mapped("monday", monday.clone())),
            ["51", "Mo", "", "", "https://m/s.png"]
        );
        let mut disabled = monday;
        disabled["data"]["me"]["enabled"] = json!(false);
        assert!(map(&provider("monday"), &token_with(json!({})), disabled).is_err());

        // https://developers.notion.com/reference/get-self
        let notion = json!({
            "object": "user", "id": "16d84021", "name": "pied piper", "avatar_url": null, "type": "bot",
            "bot": {"owner": {"type": "user", "user": {"object": "user", "id": "5389a034", "name": "Leslie",
                "avatar_url": "https://n/l.png", "type": "person", "person": {"email": "leslie@notion.so"}}},
                "workspace_name": "WS"}
        });
        assert_eq!(
            short(&mapped("notion", notion)),
            [
                "5389a034",
                "Leslie",
                "",
                "leslie@notion.so",
                "https://n/l.png"
            ]
        );

        let patreon = json!({"data": {"id": "123", "type": "user", "attributes": {
            "email": "p@p.com", "full_name": "Pat Ron", "vanity": "patron", "image_url": "https://p/i.png", "is_email_verified": true}}});
        assert_eq!(
            short(&mapped("patreon", patreon)),
            ["123", "Pat Ron", "patron", "p@p.com", "https://p/i.png"]
        );
    }

    #[test]
    fn planningcenter_spotify_strava() {
        let pc = json!({"data": {"type": "Person", "id": "25253", "attributes": {"avatar": "https://pc/a.png", "name": "Pat Doe", "status": "active"}}});
        assert_eq!(
            short(&mapped("planningcenter", pc.clone())),
            ["25253", "Pat Doe", "", "", "https://pc/a.png"]
        );
        let mut inactive = pc;
        inactive["data"]["attributes"]["status"] = json!("inactive");
        assert!(
            map(
                &provider("planningcenter"),
                &token_with(json!({})),
                inactive
            )
            .is_err()
        );

        // https://developer.spotify.com/documentation/web-api/reference/get-current-users-profile
        let spotify = json!({"id": "wizzler", "display_name": "JM Wizzler", "email": "email@example.com",
            "images": [{"url": "https://i.scdn.co/image/ab67", "height": 300, "width": 300}]});
        assert_eq!(
            short(&mapped("spotify", spotify)),
            [
                "wizzler",
                "JM Wizzler",
                "",
                "",
                "https://i.scdn.co/image/ab67"
            ]
        );

        // https://developers.strava.com/docs/reference/#api-Athletes-getLoggedInAthlete
        let strava = json!({"id": 1234567890987654321_i64, "username": "marianne_t", "firstname": "Marianne", "lastname": "Teutenberg", "profile": "https://s/large.jpg"});
        assert_eq!(
            short(&mapped("strava", strava)),
            [
                "1234567890987654321",
                "Marianne Teutenberg",
                "marianne_t",
                "",
                "https://s/large.jpg"
            ]
        );
        assert_eq!(mapped("strava", json!({})).name, " ");
    }

    #[test]
    fn trakt_twitch_twitter() {
        let trakt = json!({"user": {"username": "justin", "name": "Justin N.", "ids": {"slug": "justin", "uuid": "b6589fc6"},
            "images": {"avatar": {"full": "https://t/a.jpg"}}}, "account": {"timezone": "America/Los_Angeles"}});
        assert_eq!(
            short(&mapped("trakt", trakt)),
            ["b6589fc6", "Justin N.", "justin", "", "https://t/a.jpg"]
        );

        // https://dev.twitch.tv/docs/api/reference/#get-users
        let twitch = json!({"data": [{"id": "141981764", "login": "twitchdev", "display_name": "TwitchDev",
            "email": "not-real@email.com", "profile_image_url": "https://t/p.png"}]});
        assert_eq!(
            short(&mapped("twitch", twitch)),
            [
                "141981764",
                "TwitchDev",
                "twitchdev",
                "not-real@email.com",
                "https://t/p.png"
            ]
        );
        assert!(
            map(
                &provider("twitch"),
                &token_with(json!({})),
                json!({"data": []})
            )
            .is_err()
        );

        let twitter = json!({"data": {"id": "2244994945", "name": "X Dev", "username": "XDevelopers",
            "confirmed_email": "dev@x.com", "profile_image_url": "https://x/p.jpg"}});
        assert_eq!(
            short(&mapped("twitter", twitter)),
            [
                "2244994945",
                "X Dev",
                "XDevelopers",
                "dev@x.com",
                "https://x/p.jpg"
            ]
        );
    }

    #[test]
    fn vk_takes_the_email_from_the_token_answer() {
        let raw = json!({"response": [{"id": 210700286, "first_name": "Lindsey", "last_name": "Stirling",
            "screen_name": "lindseystirling", "photo_max": "https://vk/p.jpg"}]});
        let token = token_with(json!({"email": "lindsey@vk.com", "user_id": 210700286}));
        let u = map(&provider("vk"), &token, raw).unwrap();
        assert_eq!(
            short(&u),
            [
                "210700286",
                "Lindsey Stirling",
                "lindseystirling",
                "lindsey@vk.com",
                "https://vk/p.jpg"
            ]
        );
        let lone = json!({"response": [{"id": 1, "first_name": "", "last_name": "Solo"}]});
        assert_eq!(mapped("vk", lone).name, "Solo");
        assert!(
            map(
                &provider("vk"),
                &token_with(json!({})),
                json!({"response": []})
            )
            .is_err()
        );
    }

    #[test]
    fn wakatime_yandex_box_microsoft() {
        let waka = json!({"data": {"id": "w1", "display_name": "Wa Ka", "username": "waka", "email": "w@k.com",
            "photo": "https://w/p.png", "photo_public": false, "is_email_confirmed": true}});
        assert_eq!(
            short(&mapped("wakatime", waka)),
            ["w1", "Wa Ka", "waka", "w@k.com", ""]
        );

        // https://yandex.ru/dev/id/doc/en/user-information#response-format
        let yandex = json!({"login": "ivan", "id": "1000034426", "real_name": "Ivan Ivanov",
            "default_email": "test@yandex.ru", "is_avatar_empty": false, "default_avatar_id": "131652443"});
        assert_eq!(
            short(&mapped("yandex", yandex)),
            [
                "1000034426",
                "Ivan Ivanov",
                "ivan",
                "test@yandex.ru",
                "https://avatars.yandex.net/get-yapic/131652443/islands-200"
            ]
        );

        // https://developer.box.com/reference/get-users-me/
        let boxed = json!({"id": "11446498", "type": "user", "name": "Aaron Levie", "login": "ceo@example.com",
            "status": "active", "avatar_url": "https://www.box.com/api/avatar/large/181216415"});
        assert_eq!(
            short(&mapped("box", boxed.clone())),
            [
                "11446498",
                "Aaron Levie",
                "",
                "ceo@example.com",
                "https://www.box.com/api/avatar/large/181216415"
            ]
        );
        let mut inactive = boxed;
        inactive["status"] = json!("inactive");
        assert!(map(&provider("box"), &token_with(json!({})), inactive).is_err());

        // https://learn.microsoft.com/en-us/graph/api/user-get#response-1
        let ms = json!({"id": "87d349ed", "displayName": "Megan Bowen", "mail": "MeganB@M365x.OnMicrosoft.com",
            "userPrincipalName": "MeganB@M365x.OnMicrosoft.com"});
        assert_eq!(
            short(&mapped("microsoft", ms)),
            [
                "87d349ed",
                "Megan Bowen",
                "",
                "MeganB@M365x.OnMicrosoft.com",
                ""
            ]
        );
    }

    #[test]
    fn wrong_types_fail_the_mapping_as_gos_decoder_does() {
        let p = provider("google");
        assert!(map(&p, &token_with(json!({})), json!({"sub": 5})).is_err());
        assert!(map(&p, &token_with(json!({})), json!([])).is_err());
    }
}
