//! The HTTP ceiling of this machine for `bench/run.py`: a bare actix-web handler answering a
//! small JSON document, with the same worker count hearth uses. No database, no routing
//! beyond one path. Prints its port and serves until killed.
//!
//!     cargo run --release --example http_ceiling

use actix_web::{App, HttpResponse, HttpServer, web};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let server = HttpServer::new(|| {
        App::new().route(
            "/api/collections/posts/records/{id}",
            web::get().to(|path: web::Path<String>| async move {
                HttpResponse::Ok().json(serde_json::json!({
                    "collectionId": "pbc_1125843985", "collectionName": "posts", "id": path.into_inner(),
                    "title": "post 5000 alpha", "views": 0, "published": true,
                    "created": "2026-01-01 00:00:00.000Z", "updated": "2026-01-01 00:00:00.000Z"
                }))
            }),
        )
    })
    .bind(("127.0.0.1", 0))?;
    let port = server.addrs().first().map(|a| a.port()).unwrap_or(0);
    println!("{port}");
    server.run().await
}
