//! The HTTP side of a simulated KLAP or AES device: hyper serves each connection, and every
//! request is answered by the device's [`SimState::http`](super::model::SimState::http).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, COOKIE, HeaderMap, HeaderValue, SET_COOKIE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;

use super::model::{HttpReply, HttpRequest, SESSION_COOKIE};
use super::server::{Phase, Shutdown, SimDevice, stopped, until};

/// Largest request body a device reads. KLAP and AES bodies are a few hundred bytes (an AES
/// handshake is 314); 64 KiB matches the XOR frame cap.
pub const MAX_BODY: usize = 64 * 1024;

/// How long a client may take to send a request's headers, or its body: long enough for any
/// client on loopback, short enough that a stalled one gives its connection back.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Added to a reboot's or reset's delay before the device goes dark. hyper writes the reply
/// after the handler returns, and an acknowledged command's reply must get out first, as it
/// does from real firmware.
pub const REPLY_GRACE: Duration = Duration::from_millis(100);

/// Serves one client connection until it closes, the device goes dark, or the simulator stops.
pub async fn serve_connection(dev: Arc<SimDevice>, stream: TcpStream, mut shutdown: Shutdown) {
    let _ = stream.set_nodelay(true);
    let phase = &dev.phase;
    let service_dev = Arc::clone(&dev);
    let service = service_fn(move |req: Request<Incoming>| {
        let dev = Arc::clone(&service_dev);
        async move { Ok::<_, Infallible>(respond(&dev, req).await) }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(READ_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        served = conn => if let Err(e) = served {
            tracing::debug!(device = %dev.id, "http connection ends: {e}");
        },
        // Dropping the connection closes it, as a device that restarts does.
        _ = until(phase, |p| *p != Phase::Online) => {}
        _ = stopped(&mut shutdown) => {}
    }
}

async fn respond(dev: &Arc<SimDevice>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if req.method() != Method::POST {
        return status(StatusCode::METHOD_NOT_ALLOWED);
    }
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_owned);
    let session = session_cookie(req.headers());
    let body = Limited::new(req.into_body(), MAX_BODY).collect();
    let body = match tokio::time::timeout(READ_TIMEOUT, body).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) => {
            tracing::debug!(device = %dev.id, "request body refused: {e}");
            return status(StatusCode::PAYLOAD_TOO_LARGE);
        }
        Err(_) => return status(StatusCode::REQUEST_TIMEOUT),
    };
    let request = HttpRequest {
        path: &path,
        query: query.as_deref(),
        session: session.as_deref(),
        body: &body,
    };
    let (reply, effect, slow) = {
        let mut state = dev.lock();
        let (reply, effect) = state.http(&request, Instant::now(), &mut rand::thread_rng());
        (reply, effect, state.faults().slow)
    };
    super::power::publish(dev);
    // The firmware acts on a command whatever then happens to its reply.
    if let Some(effect) = effect {
        dev.schedule(effect, REPLY_GRACE + slow.unwrap_or_default());
    }
    if let Some(delay) = slow {
        tokio::time::sleep(delay).await;
    }
    to_response(reply)
}

/// The `TP_SESSIONID` value among the request's cookies.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_string())
}

fn to_response(reply: HttpReply) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    let kind = if reply.json {
        "application/json;charset=UTF-8"
    } else {
        "application/octet-stream"
    };
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    for cookie in reply.cookies {
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            headers.append(SET_COOKIE, v);
        }
    }
    response
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = code;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others_and_across_headers() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("TIMEOUT=86400"));
        h.append(
            COOKIE,
            HeaderValue::from_static("a=b; TP_SESSIONID=ABCDEF0123"),
        );
        assert_eq!(session_cookie(&h).as_deref(), Some("ABCDEF0123"));
        assert_eq!(session_cookie(&HeaderMap::new()), None);
    }

    #[test]
    fn each_cookie_is_its_own_set_cookie_header() {
        let reply = HttpReply {
            status: 200,
            cookies: vec!["TP_SESSIONID=AB".into(), "TIMEOUT=86400".into()],
            json: false,
            body: vec![1, 2],
        };
        let r = to_response(reply);
        let cookies: Vec<_> = r.headers().get_all(SET_COOKIE).iter().collect();
        assert_eq!(cookies, ["TP_SESSIONID=AB", "TIMEOUT=86400"]);
        assert_eq!(r.headers()[CONTENT_TYPE], "application/octet-stream");
    }
}
