//! Compression of answers as the client's `Accept-Encoding` asks (brotli, zstd, gzip), with
//! actix's encoders. Unlike actix's `Compress`, which encodes all but images and video, this
//! leaves alone what is compressed already (archives, fonts, audio, images, video), and the
//! realtime stream (an encoder would hold its events back), and answers under 1 KiB; and a
//! request that accepts no encoding passes untouched.

use std::future::{Ready, ready};

use actix_http::encoding::Encoder;
use actix_web::body::{BodySize, EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{self, AcceptEncoding, ContentEncoding, Encoding, Header};
use futures_util::TryFutureExt;
use futures_util::future::{Either, LocalBoxFuture};

/// Smaller answers go as they are: encoding a few hundred bytes costs several times the
/// rest of the request and saves next to nothing.
const MIN_SIZE: u64 = 1024;

/// Offered in the server's order of preference, where the client weighs them equally.
const SUPPORTED: [Encoding; 3] = [Encoding::brotli(), Encoding::zstd(), Encoding::gzip()];

/// The middleware (a hand-written `Transform` rather than `from_fn`: a request that accepts
/// no encoding passes without an allocation).
pub struct Compress;

impl<S, B> Transform<S, ServiceRequest> for Compress
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B, Encoder<B>>>;
    type Error = actix_web::Error;
    type Transform = CompressService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(CompressService { service }))
    }
}

pub struct CompressService<S> {
    service: S,
}

impl<S, B> Service<ServiceRequest> for CompressService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B, Encoder<B>>>;
    type Error = actix_web::Error;
    type Future = Either<
        futures_util::future::MapOk<S::Future, fn(ServiceResponse<B>) -> Self::Response>,
        LocalBoxFuture<'static, Result<Self::Response, Self::Error>>,
    >;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let encoding = match req.headers().get(header::ACCEPT_ENCODING) {
            None => None,
            Some(_) => AcceptEncoding::parse(&req)
                .ok()
                .and_then(|accepted| accepted.negotiate(SUPPORTED.iter())),
        };
        let encoding = match encoding {
            Some(Encoding::Known(e)) if e != ContentEncoding::Identity => e,
            _ => {
                let plain: fn(ServiceResponse<B>) -> Self::Response =
                    |res| res.map_into_left_body();
                return Either::Left(self.service.call(req).map_ok(plain));
            }
        };
        let answer = self.service.call(req);
        Either::Right(Box::pin(async move {
            let res = answer.await?;
            let small = matches!(res.response().body().size(), BodySize::Sized(n) if n < MIN_SIZE);
            if small || !worth_compressing(&res) {
                return Ok(res.map_into_left_body());
            }
            Ok(res
                .map_body(|head, body| EitherBody::right(Encoder::response(encoding, head, body))))
        }))
    }
}

/// Whether the answer's content type gains from compression.
fn worth_compressing<B>(res: &ServiceResponse<B>) -> bool {
    let Some(kind) = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return true;
    };
    let essence = kind
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let (top, sub) = essence.split_once('/').unwrap_or((&essence, ""));
    match top {
        "text" => sub != "event-stream",
        "image" => {
            sub == "svg+xml" || sub == "bmp" || sub == "x-icon" || sub == "vnd.microsoft.icon"
        }
        "video" | "audio" => false,
        "font" => sub == "ttf" || sub == "otf" || sub == "sfnt",
        "application" => {
            !matches!(
                sub,
                "zip"
                    | "gzip"
                    | "x-gzip"
                    | "zstd"
                    | "x-bzip2"
                    | "x-xz"
                    | "x-7z-compressed"
                    | "x-rar-compressed"
                    | "vnd.rar"
                    | "x-tar+gzip"
                    | "x-compress"
                    | "java-archive"
                    | "epub+zip"
                    | "vnd.android.package-archive"
                    | "font-woff"
                    | "octet-stream"
                    | "pdf"
            ) && !sub.ends_with("+zip")
                && !sub.starts_with("vnd.openxmlformats")
                && !sub.starts_with("vnd.oasis.opendocument")
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use actix_web::HttpResponse;
    use actix_web::http::header::CONTENT_TYPE;
    use actix_web::test::TestRequest;

    use super::worth_compressing;

    fn worth(kind: &str) -> bool {
        let req = TestRequest::default().to_srv_request();
        let res = req.into_response(
            HttpResponse::Ok()
                .insert_header((CONTENT_TYPE, kind))
                .finish(),
        );
        worth_compressing(&res)
    }

    #[test]
    fn text_and_code_are_compressed_archives_and_media_are_not() {
        for yes in [
            "application/json",
            "text/html; charset=utf-8",
            "text/css",
            "text/javascript",
            "application/javascript",
            "image/svg+xml",
            "application/xml",
            "font/ttf",
        ] {
            assert!(worth(yes), "{yes}");
        }
        for no in [
            "text/event-stream",
            "application/zip",
            "application/gzip",
            "image/png",
            "image/webp",
            "video/mp4",
            "audio/ogg",
            "font/woff2",
            "application/pdf",
            "application/octet-stream",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ] {
            assert!(!worth(no), "{no}");
        }
    }
}
