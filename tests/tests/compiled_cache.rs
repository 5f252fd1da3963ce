//! Compiled components kept on disk: the second load comes from the cache,
//! and a damaged entry is ignored and rebuilt.

use d_back::runtime::{PluginRuntime, PluginSource, PluginSpec};
use d_back_tests::{logs, plugins};

fn entries(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir(dir)
        .map(|list| list.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    found.retain(|p| p.extension().is_some_and(|e| e == "cwasm"));
    found
}

#[tokio::test]
async fn second_start_loads_from_the_cache_and_damage_is_rebuilt() {
    logs::install();
    let dir = std::env::temp_dir().join(format!("d-back-compiled-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let spec = PluginSpec::new("cached-hostile", PluginSource::File(plugins::hostile()));
    let from_cache = || {
        logs::lines_with(&[
            "plugin=\"cached-hostile\"",
            "loaded compiled component from the cache",
        ])
        .len()
    };
    let ignored = || {
        logs::lines_with(&[
            "plugin=\"cached-hostile\"",
            "ignoring an unusable compiled-code cache entry",
        ])
        .len()
    };

    let runtime = PluginRuntime::with_compiled_cache(Some(dir.clone())).unwrap();
    let first = runtime.load(&spec).unwrap();
    assert_eq!(first.get_server_data().await.unwrap().len(), 3);
    let stored = entries(&dir);
    assert_eq!(stored.len(), 1, "one entry per component and engine");
    assert_eq!(from_cache(), 0);

    // A new runtime, as after a restart.
    let again = PluginRuntime::with_compiled_cache(Some(dir.clone())).unwrap();
    let second = again.load(&spec).unwrap();
    assert_eq!(second.get_server_data().await.unwrap().len(), 3);
    assert_eq!(from_cache(), 1);

    // One flipped byte: the checksum catches it, the entry is rebuilt.
    let mut bytes = std::fs::read(&stored[0]).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&stored[0], &bytes).unwrap();
    let third = again.load(&spec).unwrap();
    assert_eq!(third.get_server_data().await.unwrap().len(), 3);
    assert_eq!(ignored(), 1);
    assert_eq!(again.load(&spec).map(|_| ()).ok(), Some(()));
    assert_eq!(from_cache(), 2, "the rebuilt entry is good again");

    // Truncated to nothing useful.
    std::fs::write(&stored[0], b"short").unwrap();
    assert_eq!(
        again
            .load(&spec)
            .unwrap()
            .get_server_data()
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(ignored(), 2);
    let _ = std::fs::remove_dir_all(dir);
}
