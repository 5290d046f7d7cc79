//! Reading the requests the emulators receive: the whole body, and its parts when it is a
//! `multipart/form-data` upload (the way file-import endpoints such as Calabrio's take files).
//!
//! The body is read once, up to a limit, and kept as bytes (the HTTP sink records it as it came);
//! the parts are then parsed from those bytes by axum's multipart reader (multer), an
//! implementation independent of the one the `http` target writes with, so the two check each
//! other.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

/// One part of a `multipart/form-data` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormPart {
    /// The form field name (`file`).
    pub name: Option<String>,
    /// The file name the client gave, if any.
    pub filename: Option<String>,
    /// The part's own content type, if given.
    pub content_type: Option<String>,
    /// The part's bytes.
    pub data: Bytes,
}

/// A received request, read whole.
#[derive(Debug)]
pub struct ReadRequest {
    /// Method.
    pub method: Method,
    /// URI.
    pub uri: Uri,
    /// Headers.
    pub headers: HeaderMap,
    /// The whole body as it came.
    pub body: Bytes,
    /// For a `multipart/form-data` body, its parts, or why they cannot be read.
    pub form: Option<Result<Vec<FormPart>, String>>,
}

/// Whether the request says its body is `multipart/form-data`.
pub fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        })
}

/// Reads the whole body (at most `limit` bytes: 413 beyond) and, for a multipart body, its
/// parts.
pub async fn read_request(request: Request, limit: usize) -> Result<ReadRequest, Response> {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, limit).await.map_err(|_| {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {limit} bytes or could not be read\n"),
        )
            .into_response()
    })?;
    let method = parts.method.clone();
    let uri = parts.uri.clone();
    let headers = parts.headers.clone();
    let form = if is_multipart(&headers) {
        // The same request again over the bytes read: its extensions carry the router's body
        // limit, which the multipart reader honours.
        let again = Request::from_parts(parts, Body::from(body.clone()));
        Some(read_parts(again).await)
    } else {
        None
    };
    Ok(ReadRequest {
        method,
        uri,
        headers,
        body,
        form,
    })
}

/// The parts of a multipart request, or why they cannot be read.
async fn read_parts(request: Request) -> Result<Vec<FormPart>, String> {
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|e| format!("cannot read the multipart body: {}", e.body_text()))?;
    let mut parts = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => return Ok(parts),
            Err(e) => return Err(format!("cannot read the multipart body: {}", e.body_text())),
        };
        let name = field.name().map(str::to_string);
        let filename = field.file_name().map(str::to_string);
        let content_type = field.content_type().map(str::to_string);
        let data = field
            .bytes()
            .await
            .map_err(|e| format!("cannot read the multipart body: {}", e.body_text()))?;
        parts.push(FormPart {
            name,
            filename,
            content_type,
            data,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(content_type: &str, body: &'static str) -> Request {
        Request::builder()
            .method("POST")
            .uri("/in")
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap()
    }

    #[tokio::test]
    async fn multipart_bodies_are_split_into_parts() {
        let body = "--XyZ\r\n\
                    Content-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\
                    Content-Type: text/csv\r\n\
                    \r\n\
                    x;y\n\r\n\
                    --XyZ\r\n\
                    Content-Disposition: form-data; name=\"note\"\r\n\
                    \r\n\
                    hello\r\n\
                    --XyZ--\r\n";
        let read = read_request(request("multipart/form-data; boundary=XyZ", body), 1 << 20)
            .await
            .unwrap();
        assert_eq!(read.body, body.as_bytes());
        let parts = read.form.unwrap().unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name.as_deref(), Some("file"));
        assert_eq!(parts[0].filename.as_deref(), Some("a.csv"));
        assert_eq!(parts[0].content_type.as_deref(), Some("text/csv"));
        assert_eq!(parts[0].data, "x;y\n".as_bytes());
        assert_eq!(parts[1].name.as_deref(), Some("note"));
        assert_eq!(parts[1].filename, None);
    }

    #[tokio::test]
    async fn other_bodies_have_no_parts_and_broken_ones_say_so() {
        let read = read_request(request("text/csv", "a;b\n"), 1 << 20)
            .await
            .unwrap();
        assert!(read.form.is_none());
        let read = read_request(request("multipart/form-data; boundary=Q", "junk"), 1 << 20)
            .await
            .unwrap();
        assert!(read.form.unwrap().is_err());
        assert!(
            read_request(request("text/csv", "0123456789"), 4)
                .await
                .is_err()
        );
    }
}
