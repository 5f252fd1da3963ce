//! Static files from `--static-dir`, or the built-in page when none is set.
//!
//! [`safe_relative_path`] turns the URL path into a relative file path or
//! refuses it; the real path (symlinks resolved) must then still lie inside
//! the root. Refusals look like a missing file.

use std::path::{Path, PathBuf};

use hyper::StatusCode;

use super::response::{self, Body};
pub use super::static_path::safe_relative_path;

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
