//! Compiled components kept on disk: the second load comes from the cache,
//! and a damaged entry is ignored and rebuilt.

use d_back::runtime::{CompiledCacheConfig, InstancePool, PluginRuntime, PluginSource, PluginSpec};
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
    let dir = d_back_tests::scratch::path("compiled");
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

fn bounded(dir: &std::path::Path, max_bytes: u64) -> PluginRuntime {
    PluginRuntime::with_options(
        Some(CompiledCacheConfig {
            dir: dir.to_path_buf(),
            max_bytes,
        }),
        InstancePool::default(),
    )
    .unwrap()
}

fn size(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

#[tokio::test]
async fn the_cache_keeps_to_its_bound_evicting_the_least_recently_used() {
    let specs = [
        PluginSpec::mock(),
        PluginSpec::new("evict-hostile", PluginSource::File(plugins::hostile())),
        PluginSpec::new(
            "evict-config",
            PluginSource::File(plugins::config_provider(
                d_back_plugin_build::Language::Rust,
            )),
        ),
    ];
    // Each entry's size, from an unbounded cache.
    let sizing = d_back_tests::scratch::path("cache-sizes");
    let runtime = bounded(&sizing, u64::MAX);
    let mut sizes = Vec::new();
    for spec in &specs {
        runtime.load(spec).unwrap();
        let found = entries(&sizing);
        let newest = found.iter().map(|p| size(p)).sum::<u64>() - sizes.iter().sum::<u64>();
        sizes.push(newest);
    }
    assert!(sizes.iter().all(|s| *s > 0), "{sizes:?}");

    // Room for all three but one byte: storing the third evicts one.
    let dir = d_back_tests::scratch::path("cache-bound");
    let bound = sizes.iter().sum::<u64>() - 1;
    let runtime = bounded(&dir, bound);
    runtime.load(&specs[0]).unwrap();
    // Entries' times are their last use; a pause keeps them apart.
    std::thread::sleep(std::time::Duration::from_millis(20));
    runtime.load(&specs[1]).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    runtime.load(&specs[0]).unwrap(); // a hit: the mock is now the most recent
    std::thread::sleep(std::time::Duration::from_millis(20));
    runtime.load(&specs[2]).unwrap();
    let kept: Vec<u64> = entries(&dir).iter().map(|p| size(p)).collect();
    let total: u64 = kept.iter().sum();
    assert!(total <= bound, "{total} bytes kept, bound {bound}");
    assert_eq!(kept.len(), 2, "{kept:?} of {sizes:?}");
    assert!(
        kept.contains(&sizes[0]) && kept.contains(&sizes[2]),
        "the hostile plugin's entry, used least recently, went: kept {kept:?} of {sizes:?}"
    );
    let _ = std::fs::remove_dir_all(&sizing);
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(unix)]
#[tokio::test]
async fn a_folder_others_can_write_to_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    logs::install();
    let dir = d_back_tests::scratch::path("cache-open");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let runtime = bounded(&dir, u64::MAX);
    let spec = PluginSpec::new("refused-cache", PluginSource::File(plugins::hostile()));
    let plugin = runtime.load(&spec).unwrap();
    assert_eq!(
        plugin.get_server_data().await.unwrap().len(),
        3,
        "it still serves"
    );
    assert!(entries(&dir).is_empty(), "nothing stored in an open folder");
    assert_eq!(
        logs::lines_with(&[
            "not using the compiled-code cache",
            "can be written by other users"
        ])
        .len(),
        1
    );
    // Made private again, it is used.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    bounded(&dir, u64::MAX).load(&spec).unwrap();
    assert_eq!(entries(&dir).len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn compiling_says_so_and_how_long_it_took() {
    logs::install();
    let spec = PluginSpec::new("announced", PluginSource::File(plugins::hostile()));
    PluginRuntime::new().unwrap().load(&spec).unwrap();
    assert_eq!(
        logs::lines_with(&[
            "INFO",
            "plugin=\"announced\"",
            "compiling the plugin",
            "size_mib"
        ])
        .len(),
        1
    );
    assert_eq!(
        logs::lines_with(&[
            "INFO",
            "plugin=\"announced\"",
            "compiled the plugin",
            "elapsed_ms"
        ])
        .len(),
        1
    );
}
