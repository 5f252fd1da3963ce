//! From a URL path to a file path that cannot leave its directory. Pure, so
//! it is fuzzed and property-tested on its own.
//!
//! The path is decoded once, split into segments, and refused when a segment
//! could climb (`..`), hide a separator (`\`) or a NUL, or is not a plain
//! name.

use std::path::{Component, Path, PathBuf};

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

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Path pieces an attacker would combine.
    fn piece() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("..".to_string()),
            Just(".".to_string()),
            Just("%2e%2e".to_string()),
            Just("%2E.".to_string()),
            Just("%252e".to_string()),
            Just("%2f".to_string()),
            Just("%5c".to_string()),
            Just("\\".to_string()),
            Just("%00".to_string()),
            Just("/".to_string()),
            Just("//".to_string()),
            Just("C:".to_string()),
            "[a-z0-9._~-]{1,8}",
            any::<String>(),
        ]
    }

    proptest! {
        #[test]
        fn never_escapes_the_root(pieces in prop::collection::vec(piece(), 0..12)) {
            let url = format!("/{}", pieces.concat());
            if let Some(path) = safe_relative_path(&url) {
                prop_assert!(path.is_relative());
                for component in path.components() {
                    prop_assert!(matches!(component, Component::Normal(_)), "{url} -> {path:?}");
                }
                let text = path.to_string_lossy();
                prop_assert!(!text.contains('\0') && !text.contains('\\'), "{url} -> {path:?}");
            }
        }
    }
}
