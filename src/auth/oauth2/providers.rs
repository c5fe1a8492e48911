//! The table of named providers PocketBase 0.40 ships, with its defaults (display name,
//! endpoints, scopes, PKCE, list order), and the providers list PocketBase answers at
//! `GET /api/collections/meta/oauth2-providers`. Data only: no HTTP, no mapping.

use serde::Serialize;

use super::logos;

/// One named provider's built-in defaults, as PocketBase's `New<Name>Provider` sets them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Defaults {
    /// PocketBase's name for it (`google`, `oidc2`, ...), as the collection config names it.
    pub name: &'static str,
    pub display_name: &'static str,
    /// Where PocketBase sorts it in its lists (then by name).
    pub order: u32,
    pub pkce: bool,
    pub scopes: &'static [&'static str],
    /// Empty where PocketBase has no default (`oidc*`, `mailcow`): the config must set it.
    pub auth_url: &'static str,
    pub token_url: &'static str,
    pub user_info_url: &'static str,
    pub logo: &'static str,
}

/// Every provider, in the order PocketBase lists them: by `order`, then by name.
pub static PROVIDERS: &[Defaults] = &[
    Defaults {
        name: "apple",
        display_name: "Apple",
        order: 1,
        pkce: true,
        scopes: &["name", "email"],
        auth_url: "https://appleid.apple.com/auth/authorize",
        token_url: "https://appleid.apple.com/auth/token",
        // Apple has no user info endpoint: the id_token's claims are the user.
        user_info_url: "",
        logo: logos::APPLE,
    },
    Defaults {
        name: "google",
        display_name: "Google",
        order: 2,
        pkce: true,
        scopes: &[
            "https://www.googleapis.com/auth/userinfo.profile",
            "https://www.googleapis.com/auth/userinfo.email",
        ],
        auth_url: "https://accounts.google.com/o/oauth2/v2/auth",
        token_url: "https://oauth2.googleapis.com/token",
        user_info_url: "https://www.googleapis.com/oauth2/v3/userinfo",
        logo: logos::GOOGLE,
    },
    Defaults {
        name: "microsoft",
        display_name: "Microsoft",
        order: 3,
        pkce: true,
        // `openid` is added when `extra.idTokenEmailClaim` is set (see `Provider`).
        scopes: &["User.Read"],
        auth_url: "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
        token_url: "https://login.microsoftonline.com/common/oauth2/v2.0/token",
        user_info_url: "https://graph.microsoft.com/v1.0/me",
        logo: logos::MICROSOFT,
    },
    Defaults {
        name: "yandex",
        display_name: "Yandex",
        order: 4,
        pkce: true,
        scopes: &["login:email", "login:avatar", "login:info"],
        auth_url: "https://oauth.yandex.com/authorize",
        token_url: "https://oauth.yandex.com/token",
        user_info_url: "https://login.yandex.ru/info",
        logo: logos::YANDEX,
    },
    Defaults {
        name: "facebook",
        display_name: "Facebook",
        order: 5,
        pkce: true,
        scopes: &["email"],
        auth_url: "https://www.facebook.com/v3.2/dialog/oauth",
        token_url: "https://graph.facebook.com/v3.2/oauth/access_token",
        user_info_url: "https://graph.facebook.com/me?fields=name,email,picture.type(large)",
        logo: logos::FACEBOOK,
    },
    Defaults {
        name: "instagram2",
        display_name: "Instagram",
        order: 6,
        pkce: true,
        scopes: &["instagram_business_basic"],
        auth_url: "https://www.instagram.com/oauth/authorize",
        token_url: "https://api.instagram.com/oauth/access_token",
        user_info_url: "https://graph.instagram.com/me?fields=id,username,account_type,user_id,name,profile_picture_url,followers_count,follows_count,media_count",
        logo: logos::INSTAGRAM,
    },
    Defaults {
        name: "github",
        display_name: "GitHub",
        order: 7,
        // GitHub ignores the PKCE parameters, so sending them is harmless.
        pkce: true,
        scopes: &["read:user", "user:email"],
        auth_url: "https://github.com/login/oauth/authorize",
        token_url: "https://github.com/login/oauth/access_token",
        user_info_url: "https://api.github.com/user",
        logo: logos::GITHUB,
    },
    Defaults {
        name: "gitlab",
        display_name: "GitLab",
        order: 8,
        pkce: true,
        scopes: &["read_user"],
        auth_url: "https://gitlab.com/oauth/authorize",
        token_url: "https://gitlab.com/oauth/token",
        user_info_url: "https://gitlab.com/api/v4/user",
        logo: logos::GITLAB,
    },
    Defaults {
        name: "bitbucket",
        display_name: "Bitbucket",
        order: 9,
        pkce: false,
        scopes: &["account"],
        auth_url: "https://bitbucket.org/site/oauth2/authorize",
        token_url: "https://bitbucket.org/site/oauth2/access_token",
        user_info_url: "https://api.bitbucket.org/2.0/user",
        logo: logos::BITBUCKET,
    },
    Defaults {
        name: "gitee",
        display_name: "Gitee",
        order: 10,
        pkce: true,
        scopes: &["user_info", "emails"],
        auth_url: "https://gitee.com/oauth/authorize",
        token_url: "https://gitee.com/oauth/token",
        user_info_url: "https://gitee.com/api/v5/user",
        logo: logos::GITEE,
    },
    Defaults {
        name: "gitea",
        display_name: "Gitea/Forgejo",
        order: 11,
        pkce: true,
        scopes: &["read:user", "user:email"],
        auth_url: "https://gitea.com/login/oauth/authorize",
        token_url: "https://gitea.com/login/oauth/access_token",
        user_info_url: "https://gitea.com/api/v1/user",
        logo: logos::GITEA,
    },
    Defaults {
        name: "discord",
        display_name: "Discord",
        order: 12,
        pkce: true,
        scopes: &["identify", "email"],
        auth_url: "https://discord.com/api/oauth2/authorize",
        token_url: "https://discord.com/api/oauth2/token",
        user_info_url: "https://discord.com/api/users/@me",
        logo: logos::DISCORD,
    },
    Defaults {
        name: "twitter",
        display_name: "X/Twitter",
        order: 13,
        pkce: true,
        // `tweet.read` is unused, but X answers `/2/users/me` with 403 without it.
        scopes: &["users.read", "users.email", "tweet.read"],
        auth_url: "https://x.com/i/oauth2/authorize",
        token_url: "https://api.x.com/2/oauth2/token",
        user_info_url: "https://api.x.com/2/users/me?user.fields=id,name,username,profile_image_url,confirmed_email",
        logo: logos::TWITTER,
    },
    Defaults {
        name: "kakao",
        display_name: "Kakao",
        order: 14,
        pkce: true,
        scopes: &["account_email", "profile_nickname", "profile_image"],
        auth_url: "https://kauth.kakao.com/oauth/authorize",
        token_url: "https://kauth.kakao.com/oauth/token",
        user_info_url: "https://kapi.kakao.com/v2/user/me",
        logo: logos::KAKAO,
    },
    Defaults {
        name: "vk",
        display_name: "ВКонтакте",
        order: 15,
        // VK answers an error when PKCE parameters are sent.
        pkce: false,
        scopes: &["email"],
        auth_url: "https://oauth.vk.com/authorize",
        token_url: "https://oauth.vk.com/access_token",
        user_info_url: "https://api.vk.com/method/users.get?fields=photo_max,screen_name&v=5.131",
        logo: logos::VK,
    },
    Defaults {
        name: "linear",
        display_name: "Linear",
        order: 16,
        // Linear answers an error when PKCE parameters are sent.
        pkce: false,
        scopes: &["read"],
        auth_url: "https://linear.app/oauth/authorize",
        token_url: "https://api.linear.app/oauth/token",
        user_info_url: "https://api.linear.app/graphql",
        logo: logos::LINEAR,
    },
    Defaults {
        name: "notion",
        display_name: "Notion",
        order: 17,
        pkce: true,
        scopes: &[],
        auth_url: "https://api.notion.com/v1/oauth/authorize",
        token_url: "https://api.notion.com/v1/oauth/token",
        user_info_url: "https://api.notion.com/v1/users/me",
        logo: logos::NOTION,
    },
    Defaults {
        name: "monday",
        display_name: "monday.com",
        order: 18,
        pkce: true,
        scopes: &["me:read"],
        auth_url: "https://auth.monday.com/oauth2/authorize",
        token_url: "https://auth.monday.com/oauth2/token",
        user_info_url: "https://api.monday.com/v2",
        logo: logos::MONDAY,
    },
    Defaults {
        name: "lark",
        display_name: "Lark",
        order: 19,
        pkce: true,
        scopes: &[],
        // feishu.cn (China) as Lark's own SDK defaults to; larksuite.com serves the same API
        // elsewhere, reached by overriding the URLs in the config.
        auth_url: "https://accounts.feishu.cn/open-apis/authen/v1/authorize",
        token_url: "https://open.feishu.cn/open-apis/authen/v2/oauth/token",
        user_info_url: "https://open.feishu.cn/open-apis/authen/v1/user_info",
        logo: logos::LARK,
    },
    Defaults {
        name: "box",
        display_name: "Box",
        order: 20,
        pkce: true,
        scopes: &["root_readonly"],
        auth_url: "https://account.box.com/api/oauth2/authorize",
        token_url: "https://api.box.com/oauth2/token",
        user_info_url: "https://api.box.com/2.0/users/me",
        logo: logos::BOX,
    },
    Defaults {
        name: "spotify",
        display_name: "Spotify",
        order: 21,
        pkce: true,
        // No `user-read-email`: Spotify does not say whether the address is verified.
        scopes: &["user-read-private"],
        auth_url: "https://accounts.spotify.com/authorize",
        token_url: "https://accounts.spotify.com/api/token",
        user_info_url: "https://api.spotify.com/v1/me",
        logo: logos::SPOTIFY,
    },
    Defaults {
        name: "trakt",
        display_name: "Trakt",
        order: 22,
        pkce: true,
        scopes: &[],
        auth_url: "https://trakt.tv/oauth/authorize",
        token_url: "https://api.trakt.tv/oauth/token",
        user_info_url: "https://api.trakt.tv/users/settings",
        logo: logos::TRAKT,
    },
    Defaults {
        name: "twitch",
        display_name: "Twitch",
        order: 23,
        pkce: true,
        scopes: &["user:read:email"],
        auth_url: "https://id.twitch.tv/oauth2/authorize",
        token_url: "https://id.twitch.tv/oauth2/token",
        user_info_url: "https://api.twitch.tv/helix/users",
        logo: logos::TWITCH,
    },
    Defaults {
        name: "patreon",
        display_name: "Patreon",
        order: 24,
        pkce: true,
        scopes: &["identity", "identity[email]"],
        auth_url: "https://www.patreon.com/oauth2/authorize",
        token_url: "https://www.patreon.com/api/oauth2/token",
        user_info_url: "https://www.patreon.com/api/oauth2/v2/identity?fields%5Buser%5D=full_name,email,vanity,image_url,is_email_verified",
        logo: logos::PATREON,
    },
    Defaults {
        name: "strava",
        display_name: "Strava",
        order: 25,
        pkce: true,
        scopes: &["profile:read_all"],
        auth_url: "https://www.strava.com/oauth/authorize",
        token_url: "https://www.strava.com/api/v3/oauth/token",
        user_info_url: "https://www.strava.com/api/v3/athlete",
        logo: logos::STRAVA,
    },
    Defaults {
        name: "wakatime",
        display_name: "WakaTime",
        order: 26,
        pkce: true,
        scopes: &["email"],
        auth_url: "https://wakatime.com/oauth/authorize",
        token_url: "https://wakatime.com/oauth/token",
        user_info_url: "https://wakatime.com/api/v1/users/current",
        logo: logos::WAKATIME,
    },
    Defaults {
        name: "livechat",
        display_name: "LiveChat",
        order: 27,
        pkce: true,
        // LiveChat takes its scopes from the app's settings in its console.
        scopes: &[],
        auth_url: "https://accounts.livechat.com/",
        token_url: "https://accounts.livechat.com/token",
        user_info_url: "https://accounts.livechat.com/v2/accounts/me",
        logo: logos::LIVECHAT,
    },
    Defaults {
        name: "mailcow",
        display_name: "mailcow",
        order: 28,
        pkce: true,
        scopes: &["profile"],
        // Self-hosted: the config names the server.
        auth_url: "",
        token_url: "",
        user_info_url: "",
        logo: logos::MAILCOW,
    },
    Defaults {
        name: "planningcenter",
        display_name: "Planning Center",
        order: 29,
        pkce: true,
        scopes: &["people"],
        auth_url: "https://api.planningcenteronline.com/oauth/authorize",
        token_url: "https://api.planningcenteronline.com/oauth/token",
        user_info_url: "https://api.planningcenteronline.com/people/v2/me",
        logo: logos::PLANNINGCENTER,
    },
    oidc("oidc"),
    oidc("oidc2"),
    oidc("oidc3"),
];

/// The three generic OpenID Connect slots: everything but the scopes comes from the config.
const fn oidc(name: &'static str) -> Defaults {
    Defaults {
        name,
        display_name: "OIDC",
        order: 99,
        pkce: true,
        // `openid` is the least that returns an id.
        scopes: &["openid", "email", "profile"],
        auth_url: "",
        token_url: "",
        user_info_url: "",
        logo: logos::OIDC,
    }
}

/// The named provider's defaults; None for a name PocketBase does not know.
pub fn find(name: &str) -> Option<&'static Defaults> {
    PROVIDERS.iter().find(|p| p.name == name)
}

/// One entry of the providers list, its keys in PocketBase's order.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListItem {
    pub name: &'static str,
    pub display_name: &'static str,
    pub logo: &'static str,
}

/// `GET /api/collections/meta/oauth2-providers`: `[{name, displayName, logo}]` of every
/// provider, sorted as PocketBase sorts them.
pub fn list() -> Vec<ListItem> {
    PROVIDERS
        .iter()
        .map(|p| ListItem {
            name: p.name,
            display_name: p.display_name,
            logo: p.logo,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_holds_pocketbases_32_providers_in_its_list_order() {
        assert_eq!(PROVIDERS.len(), 32);
        for pair in PROVIDERS.windows(2) {
            assert!(
                (pair[0].order, pair[0].name) < (pair[1].order, pair[1].name),
                "{} sorts before {}",
                pair[1].name,
                pair[0].name
            );
        }
        assert!(PROVIDERS.iter().all(|p| p.logo.starts_with("<svg")));
    }

    #[test]
    fn the_list_answers_name_display_name_and_logo_only() {
        let text = serde_json::to_string(&list()).unwrap_or_default();
        let items: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(items.len(), 32);
        assert_eq!(items[0]["name"], "apple");
        assert_eq!(items[1]["name"], "google");
        assert_eq!(items[31]["name"], "oidc3");
        // PocketBase's own test looks for this, keys in this order.
        assert!(text.contains(r#"{"name":"oidc3","displayName":"OIDC","logo":"<svg"#));
        for key in [
            "order",
            "pkce",
            "scopes",
            "authURL",
            "tokenURL",
            "userInfoURL",
        ] {
            assert!(
                !text.contains(&format!("\"{key}\":")),
                "{key} is not listed"
            );
        }
    }

    #[test]
    fn finds_by_pocketbase_name() {
        assert_eq!(find("github").map(|p| p.display_name), Some("GitHub"));
        assert_eq!(find("oidc2").map(|p| p.order), Some(99));
        assert!(find("linkedin").is_none());
    }
}
