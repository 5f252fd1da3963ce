//! Any URL path: the resolved file path is relative and made only of plain
//! names, so joining it to the static root cannot leave the root.

#![no_main]

use std::path::Component;

use d_back_fuzz::static_path::safe_relative_path;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(url) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(path) = safe_relative_path(url) {
        assert!(path.is_relative(), "{url:?} -> {path:?}");
        assert!(
            path.components().all(|c| matches!(c, Component::Normal(_))),
            "{url:?} -> {path:?}"
        );
        let text = path.to_string_lossy();
        assert!(
            !text.contains('\0') && !text.contains('\\'),
            "{url:?} -> {path:?}"
        );
    }
});
