//! The collections' meta routes side by side with the real PocketBase 0.40.6:
//! `GET /api/collections/meta/scaffolds` and `POST /api/collections/meta/dry-run-view`,
//! answers compared whole (ids and random names normalised).

use reqwest::Method;
use reqwest::multipart::Form;
use serde_json::json;

use crate::compat::assert_same;
use crate::files::Server;
use crate::geo_compat::{Outcomes, PLACES, both, call, create_collection, places, seen};

/// The scaffolds, and dry runs of view queries good and bad.
async fn helper_steps(server: &Server) -> Outcomes {
    let mut out = Outcomes::new();
    let scaffolds = "/api/collections/meta/scaffolds";
    out.push((
        "scaffolds".into(),
        call(server, Method::GET, scaffolds, None, true).await,
    ));
    out.push((
        "scaffolds as a guest".into(),
        call(server, Method::GET, scaffolds, None, false).await,
    ));
    create_collection(server, places()).await;
    for (title, lon) in [("a", 10.0), ("b", -20.5)] {
        server
            .send_json(
                Method::POST,
                PLACES,
                json!({"title": title, "loc": {"lon": lon, "lat": 1}, "must": {"lon": 1, "lat": 1}}),
                true,
            )
            .await;
    }
    let dry = "/api/collections/meta/dry-run-view";
    for body in [
        json!({"query": "SELECT id, title, loc FROM places"}),
        json!({"query": "SELECT p.id, p.loc AS where_, p.title as name, (SELECT count(*) FROM places) AS c FROM places p WHERE p.title != '' ORDER BY p.title DESC"}),
        json!({"query": "SELECT id, count(*) as n, cast(1.5 as real) r, (1+2) x FROM places GROUP BY id"}),
        json!({"query": "SELECT (ROW_NUMBER() OVER()) as id, title FROM places"}),
        json!({"query": "SELECT 1 as id"}),
        json!({"query": "  SELECT id FROM places;;  "}),
        json!({"query": ""}),
        json!({}),
        json!({"query": 5}),
        json!({"query": format!("SELECT id FROM places WHERE title != '{}'", "x".repeat(5000))}),
        json!({"query": "SELECT title FROM places"}),
        json!({"query": "SELECT * FROM places"}),
        json!({"query": "SELECT id, nope FROM places"}),
        json!({"query": "garbage"}),
        json!({"query": "SELECT id, FROM places"}),
        json!({"query": "SELECT id, title FROM places; DELETE FROM places"}),
        json!({"query": "SELECT '' as id"}),
        json!({"query": "SELECT 1 as id UNION ALL SELECT 1"}),
        json!({"query": "SELECT 'same' AS id, title FROM places"}),
    ] {
        let label = format!(
            "dry run {}",
            body.to_string().chars().take(80).collect::<String>()
        );
        out.push((
            label,
            call(server, Method::POST, dry, Some(body), true).await,
        ));
    }
    let form = Form::new().text("query", "SELECT id, loc FROM places");
    let (status, body) = server.send_form(Method::POST, dry, form, true).await;
    out.push(("dry run by multipart".into(), seen(status, &body)));
    out.push((
        "dry run as a guest".into(),
        call(
            server,
            Method::POST,
            dry,
            Some(json!({"query": "SELECT 1 as id"})),
            false,
        )
        .await,
    ));
    let list = call(
        server,
        Method::GET,
        "/api/collections?perPage=100",
        None,
        true,
    )
    .await;
    out.push(("nothing was created".into(), list[1]["totalItems"].clone()));
    out
}

#[tokio::test]
async fn scaffolds_and_view_dry_runs_answer_alike() {
    let Some((_pb, _app, [pb, hearth])) = both().await else {
        return;
    };
    let theirs = helper_steps(&pb).await;
    let ours = helper_steps(&hearth).await;
    assert_same(&ours, &theirs);
}
