//! `routerUse` middlewares around the built-in routes, as PocketBase runs them around every
//! request: the chain runs on a hooks executor of its own (`Loaded::around`); its innermost
//! `e.next()` lets the route answer here, on the async side, while the executor waits; the
//! headers the middlewares set go on the route's answer. A middleware that answers or
//! throws instead stops the request there. Requests a hooks route answers are left to it
//! (it runs the same middlewares itself).

use std::pin::pin;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{FromRequest, ResponseError, web};
use futures_util::future::{Either, select};
use serde_json::{Map, Value, json};

use super::hooks::{failed, header_pairs, middleware_steps, request_json, respond};
use super::request_auth::RequestAuth;
use crate::error::Error;
use crate::hooks::Lookup;
use crate::state::AppState;

pub async fn around_routes(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let loaded = state.hooks.current();
    let routed = |req: &ServiceRequest| {
        matches!(
            loaded.registry.find(req.method().as_str(), req.path()),
            Lookup::Found(_)
        )
    };
    let Some(pool) = loaded.around.as_ref().filter(|_| !routed(&req)) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    // No clone of the request may be kept while the route runs (actix needs it alone).
    let auth = RequestAuth::extract(req.request())
        .await
        .unwrap_or(RequestAuth::Guest);
    // The body stays the route's: the middlewares see none.
    let request = match request_json(req.request(), &auth, Default::default(), Ok(&Map::new())) {
        Ok(request) => request,
        Err(e) => return Ok(req.into_response(e.error_response())),
    };
    let (steps, handlers) = middleware_steps(&loaded.registry.global, &[]);
    let steps = Value::Array(steps).to_string();
    let (go, went) = tokio::sync::oneshot::channel::<()>();
    let (done, route_done) = std::sync::mpsc::channel::<()>();
    let mut go = Some(go);
    let job = pool.run(move |executor| {
        let mut next = |_: Map<String, Value>| -> crate::error::Result<Map<String, Value>> {
            let go = go
                .take()
                .ok_or_else(|| Error::bad_request("e.next() already ran for this request."))?;
            let _ = go.send(());
            route_done
                .recv()
                .map_err(|_| Error::internal("the route went away"))?;
            Ok(Map::new())
        };
        executor.call_with_next("__use", &handlers, &[&request, &steps], &mut next)
    });
    let mut job = pin!(job);
    let mut waiting = Some(req);
    let (res, ran) = match select(job.as_mut(), went).await {
        Either::Left((ran, _)) => (None, ran),
        Either::Right((went, job)) => {
            // Err: the chain ended (its `go` dropped) without asking for the route.
            let res = match (went, waiting.is_some()) {
                (Ok(()), true) => match waiting.take() {
                    Some(req) => Some(next.call(req).await?.map_into_boxed_body()),
                    None => None,
                },
                _ => None,
            };
            let _ = done.send(());
            (res, job.await)
        }
    };
    // The request to answer with: still here, or the route's, now that it has answered.
    let http = match (&waiting, &res) {
        (Some(req), _) => req.request().clone(),
        (None, Some(res)) => res.request().clone(),
        (None, None) => return Err(Error::internal("a middleware lost its request").into()),
    };
    let outcome: Value = match ran {
        Ok(Ok(text)) => serde_json::from_str(&text).unwrap_or(Value::Null),
        Ok(Err(failure)) => return Ok(ServiceResponse::new(http.clone(), failed(&http, failure))),
        Err(e) => return Ok(ServiceResponse::new(http, e.error_response())),
    };
    drop(waiting);
    match res {
        Some(mut res) if outcome["answer"].is_null() => {
            drop(http);
            for (name, value) in header_pairs(&outcome["headers"]) {
                res.headers_mut().insert(name, value);
            }
            Ok(res)
        }
        _ => {
            let mut answer = outcome["answer"].clone();
            if answer.is_null() {
                answer = json!({"status": 200, "type": "", "body": null});
            }
            answer["headers"] = outcome["headers"].clone();
            Ok(ServiceResponse::new(
                http.clone(),
                respond(&http, &answer.to_string()),
            ))
        }
    }
}
