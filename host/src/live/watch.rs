//! `--watch`: the plugin file and the config file are looked at a few
//! times a second; a change that has settled (a build writes in several
//! steps) reloads the plugin. Polling, not file notifications: a rebuilt
//! plugin is often a new file renamed over the old one, which a watch on
//! the old file misses, and a few `stat` calls a second cost nothing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use super::reload::Reloader;
use crate::backoff::pause;
use crate::runtime::PluginSource;

/// How often the files are looked at.
const POLL: Duration = Duration::from_millis(250);

/// How long a change must stay still before it is reloaded.
const SETTLE: Duration = Duration::from_millis(300);

/// What is seen of a file: enough to tell that it changed.
type Seen = Option<(SystemTime, u64)>;

fn seen(path: &Path) -> Seen {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// What is seen of each of `files` now.
fn look(files: &[PathBuf]) -> Vec<Seen> {
    files.iter().map(|file| seen(file)).collect()
}

/// The files that make the serving version: its component, and the config.
fn watched(reloader: &Reloader, config: Option<&Path>) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = config.map(Path::to_path_buf).into_iter().collect();
    if let PluginSource::File(path) = &reloader.spec().source {
        files.push(path.clone());
    }
    files
}

/// Reloads whenever a watched file changes and settles, until `shutdown`.
pub async fn watch(reloader: Arc<Reloader>, config: Option<PathBuf>, shutdown: CancellationToken) {
    let mut files = watched(&reloader, config.as_deref());
    let mut last: Vec<Seen> = look(&files);
    tracing::info!(files = ?files, "watching for changes; a change reloads the plugin");
    loop {
        if !pause(POLL, &shutdown).await {
            return;
        }
        let now: Vec<Seen> = look(&files);
        if now == last {
            continue;
        }
        // Settled: unchanged over a whole settling time.
        let mut settled = now;
        loop {
            if !pause(SETTLE, &shutdown).await {
                return;
            }
            let again: Vec<Seen> = look(&files);
            if again == settled {
                break;
            }
            settled = again;
        }
        let changed: Vec<&PathBuf> = files
            .iter()
            .zip(last.iter().zip(&settled))
            .filter(|(_, (before, after))| before != after)
            .map(|(file, _)| file)
            .collect();
        tracing::info!(changed = ?changed, "a watched file changed; reloading the plugin");
        // A refused reload is logged by the reloader; the next change
        // tries again.
        if reloader.reload("watch").await.is_ok() {
            let browsers = reloader.refresh_browsers().await;
            tracing::info!(browsers, "open browsers sent the new version's members");
        }
        // The plugin's path may have changed with the config.
        files = watched(&reloader, config.as_deref());
        last = look(&files);
    }
}
