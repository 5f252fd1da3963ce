//! Static files from `--static-dir`, or the built-in page when none is set.
//!
//! A request path is decoded once, split into segments, and refused when a
//! segment could climb (`..`), hide a separator (`\`) or a NUL; what is left
//! is joined to the root, and the real path (symlinks resolved) must still
//! lie inside the root. Refusals look like a missing file.

use std::path::{Component, Path, PathBuf};

use hyper::StatusCode;

use super::response::{self, Body};

/// The page served at `/` when no static directory is configured.
pub const DEFAULT_PAGE: &str = include_str!("default_page.html");

/// Where static files come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaticRoot {
    /// Only the built-in page.
    BuiltIn,
    /// A directory, canonicalised at start-up.
    Dir(PathBuf),
}

impl StaticRoot {
    /// A directory root; fails when it does not exist or is not a directory.
    pub fn dir(path: &Path) -> std::io::Result<Self> {
        let canonical = path.canonicalize()?;
        if !canonical.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                format!("{} is not a directory", path.display()),
            ));
        }
        Ok(Self::Dir(canonical))
    }
}

/// Serves `path` (the URL path, still percent-encoded) from `root`.
pub async fn serve(root: &StaticRoot, path: &str, head: bool) -> hyper::Response<Body> {
    match root {
        StaticRoot::BuiltIn => match path {
            "/" | "/index.html" => response::bytes(
                StatusCode::OK,
                "text/html; charset=utf-8",
                if head { "" } else { DEFAULT_PAGE },
            ),
            _ => response::not_found(),
        },
        StaticRoot::Dir(dir) => {
            let Some(relative) = safe_relative_path(path) else {
                tracing::debug!(path, "refused static path");
                return response::not_found();
            };
            match read_inside(dir, &relative).await {
                Some((file, bytes)) => response::bytes(
                    StatusCode::OK,
                    content_type(&file),
                    if head { Vec::new() } else { bytes },
                ),
                None => response::not_found(),
            }
        }
    }
}

/// The relative file path a URL path names, or `None` when it must not be
/// served. `/` and paths ending in `/` name `index.html`.
pub fn safe_relative_path(url_path: &str) -> Option<PathBuf> {
    let decoded = percent_decode(url_path)?;
    if decoded.contains('\0') || decoded.contains('\\') {
        return None;
    }
    let mut relative = PathBuf::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => return None,
            _ => {
                // Anything that is not a plain name (a drive prefix, a root)
                // has no business in a URL segment.
                let mut parts = Path::new(segment).components();
                match (parts.next(), parts.next()) {
                    (Some(Component::Normal(_)), None) => relative.push(segment),
                    _ => return None,
                }
            }
        }
    }
    if decoded.ends_with('/') || relative.as_os_str().is_empty() {
        relative.push("index.html");
    }
    Some(relative)
}

/// Reads `relative` under `root` when its real location is inside `root`.
/// A directory serves its `index.html`.
async fn read_inside(root: &Path, relative: &Path) -> Option<(PathBuf, Vec<u8>)> {
    let mut real = tokio::fs::canonicalize(root.join(relative)).await.ok()?;
    if tokio::fs::metadata(&real).await.ok()?.is_dir() {
        real = tokio::fs::canonicalize(real.join("index.html"))
            .await
            .ok()?;
    }
    if !real.starts_with(root) {
        tracing::debug!(path = %relative.display(), "static path resolves outside the root");
        return None;
    }
    let bytes = tokio::fs::read(&real).await.ok()?;
    Some((real, bytes))
}

/// Decodes `%XX` escapes once. `None` for a bad escape or invalid UTF-8.
fn percent_decode(input: &str) -> Option<String> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let text = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(text, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn content_type(path: &Path) -> &'static str {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("ico") => "image/x-icon",
        Some("wasm") => "application/wasm",
        Some("woff") => "font/woff",
        Some("woff2") => "font/woff2",
        Some("ttf") => "font/ttf",
        Some("mp3") => "audio/mpeg",
        Some("ogg") => "audio/ogg",
        Some("wav") => "audio/wav",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_map_to_files() {
        assert_eq!(safe_relative_path("/"), Some("index.html".into()));
        assert_eq!(safe_relative_path("/a/b.js"), Some("a/b.js".into()));
        assert_eq!(safe_relative_path("/a/"), Some("a/index.html".into()));
        assert_eq!(safe_relative_path("/a%20b.txt"), Some("a b.txt".into()));
        assert_eq!(safe_relative_path("/./a"), Some("a".into()));
    }

    #[test]
    fn climbing_paths_are_refused() {
        for path in [
            "/../etc/passwd",
            "/a/../../etc/passwd",
            "/%2e%2e/etc/passwd",
            "/%2E%2E%2Fetc%2Fpasswd",
            "/..%5cetc",
            "/a\\..\\b",
            "/a%00.html",
            "/%zz",
        ] {
            assert_eq!(safe_relative_path(path), None, "{path}");
        }
        // Decoded only once: a doubly encoded dot stays a literal name.
        assert_eq!(safe_relative_path("/%252e%252e/x"), Some("%2e%2e/x".into()));
    }
}
