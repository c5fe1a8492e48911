//! Compression of answers as the client's `Accept-Encoding` asks (brotli, zstd, gzip), with
//! actix's encoders. Unlike actix's `Compress`, which encodes all but images and video, this
//! leaves alone what is compressed already (archives, fonts, audio, images, video), and the
//! realtime stream (an encoder would hold its events back); and a request that accepts no
//! encoding passes untouched.

use actix_http::encoding::Encoder;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, AcceptEncoding, ContentEncoding, Encoding, Header};
use actix_web::middleware::Next;

/// Offered in the server's order of preference, where the client weighs them equally.
const SUPPORTED: [Encoding; 3] = [Encoding::brotli(), Encoding::zstd(), Encoding::gzip()];

pub async fn compress<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B, Encoder<B>>>, actix_web::Error> {
    let encoding = match req.headers().get(header::ACCEPT_ENCODING) {
        None => None,
        Some(_) => AcceptEncoding::parse(&req)
            .ok()
            .and_then(|accepted| accepted.negotiate(SUPPORTED.iter())),
    };
    let res = next.call(req).await?;
    match encoding {
        Some(Encoding::Known(encoding))
            if encoding != ContentEncoding::Identity && worth_compressing(&res) =>
        {
            Ok(res
                .map_body(|head, body| EitherBody::right(Encoder::response(encoding, head, body))))
        }
        _ => Ok(res.map_into_left_body()),
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
