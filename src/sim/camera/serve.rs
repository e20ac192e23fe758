//! The HTTPS side of a simulated camera: TLS accept with the camera's [`Offer`], then hyper
//! serves the connection, each request answered by the camera's state.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use openssl::ssl::Ssl;
use tokio::net::TcpStream;
use tokio_openssl::SslStream;

use super::super::http::{MAX_BODY, READ_TIMEOUT, REPLY_GRACE};
use super::super::model::{HttpReply, Transport};
use super::super::server::{Phase, Shutdown, SimDevice, stopped, until};
use super::CamHttpRequest;
use super::tls::{self, Offer};

/// The suites a camera of this transport offers.
pub fn offer(transport: Transport) -> Offer {
    match transport {
        Transport::Linkie2 => Offer::StaticRsaOnly,
        _ => Offer::Modern,
    }
}

/// Serves one client connection until it closes, the camera goes dark, or the simulator stops.
pub async fn serve_connection(dev: Arc<SimDevice>, stream: TcpStream, mut shutdown: Shutdown) {
    let _ = stream.set_nodelay(true);
    let acceptor = tls::acceptor(offer(dev.transport));
    let Ok(ssl) = Ssl::new(acceptor.context()) else {
        return;
    };
    let Ok(mut tls) = SslStream::new(ssl, stream) else {
        return;
    };
    match tokio::time::timeout(READ_TIMEOUT, Pin::new(&mut tls).accept()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::debug!(device = %dev.id, "tls handshake refused: {e}");
            return;
        }
        Err(_) => return,
    }
    let phase = &dev.phase;
    let service_dev = Arc::clone(&dev);
    let service = service_fn(move |req: Request<Incoming>| {
        let dev = Arc::clone(&service_dev);
        async move { Ok::<_, Infallible>(respond(&dev, req).await) }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(READ_TIMEOUT)
        .serve_connection(TokioIo::new(tls), service);
    tokio::select! {
        served = conn => if let Err(e) = served {
            tracing::debug!(device = %dev.id, "https connection ends: {e}");
        },
        _ = until(phase, |p| *p != Phase::Online) => {}
        _ = stopped(&mut shutdown) => {}
    }
}

async fn respond(dev: &Arc<SimDevice>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if req.method() != Method::POST {
        return to_response(super::tapo::status(405));
    }
    let path = req.uri().path().to_string();
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (seq, tag, auth) = (
        header("seq"),
        header("tapo_tag"),
        header(AUTHORIZATION.as_str()),
    );
    let body = Limited::new(req.into_body(), MAX_BODY).collect();
    let body = match tokio::time::timeout(READ_TIMEOUT, body).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(_)) => return to_response(super::tapo::status(413)),
        Err(_) => return to_response(super::tapo::status(408)),
    };
    let request = CamHttpRequest {
        path: &path,
        seq: seq.as_deref(),
        tag: tag.as_deref(),
        authorization: auth.as_deref(),
        body: &body,
    };
    let (reply, effect, slow) = {
        let mut state = dev.lock();
        let (reply, effect) = state.camera_http(&request, Instant::now(), &mut rand::thread_rng());
        (reply, effect, state.faults().slow)
    };
    if let Some(effect) = effect {
        dev.schedule(effect, REPLY_GRACE + slow.unwrap_or_default());
    }
    if let Some(delay) = slow {
        tokio::time::sleep(delay).await;
    }
    to_response(reply)
}

fn to_response(reply: HttpReply) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let kind = if reply.json {
        "application/json;charset=UTF-8"
    } else {
        "text/plain"
    };
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    response
}
