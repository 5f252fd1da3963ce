//! Whether a built component is newer than everything it was built from, so
//! builds whose tools take tens of seconds (componentize-js,
//! componentize-py) run only when something changed.

use std::fs;
use std::path::Path;
use std::time::SystemTime;

/// Folders that hold installed tools or build output, never sources.
const NOT_SOURCES: [&str; 6] = [
    "node_modules",
    ".venv",
    "dist",
    "__pycache__",
    "target",
    ".git",
];

/// True when `output` exists and was written after the last change to any
/// file under `inputs` (files or folders). Anything unreadable counts as
/// changed: a needless rebuild is cheap next to a stale component.
pub fn is_up_to_date(output: &Path, inputs: &[&Path]) -> bool {
    let Some(built) = modified(output) else {
        return false;
    };
    inputs
        .iter()
        .all(|input| newest(input).is_some_and(|changed| changed < built))
}

fn modified(path: &Path) -> Option<SystemTime> {
    path.metadata().and_then(|m| m.modified()).ok()
}

/// The latest modification time of `path` or anything below it; a folder's
/// own time counts too, so a deleted file is a change.
fn newest(path: &Path) -> Option<SystemTime> {
    let own = modified(path)?;
    if !path.is_dir() {
        return Some(own);
    }
    let mut latest = own;
    for entry in fs::read_dir(path).ok()? {
        let entry = entry.ok()?;
        let skipped = entry
            .file_name()
            .to_str()
            .is_some_and(|name| NOT_SOURCES.contains(&name));
        if !skipped {
            latest = latest.max(newest(&entry.path())?);
        }
    }
    Some(latest)
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;

    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!(
                "d-back-plugin-build-fresh-{name}-{}",
                std::process::id()
            ));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(dir.join("src")).unwrap();
            fs::create_dir_all(dir.join("node_modules")).unwrap();
            fs::create_dir_all(dir.join("dist")).unwrap();
            Scratch(dir)
        }

        /// Writes `path` and dates it `age` seconds before now.
        fn file(&self, path: &str, age: u64) -> PathBuf {
            let path = self.0.join(path);
            fs::write(&path, path.to_string_lossy().as_bytes()).unwrap();
            let when = SystemTime::now() - Duration::from_secs(age);
            File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(when)
                .unwrap();
            path
        }

        /// Dates every folder far back, so only files decide.
        fn age_folders(&self) {
            for dir in ["", "src", "node_modules", "dist"] {
                let when = SystemTime::now() - Duration::from_secs(10_000);
                File::open(self.0.join(dir))
                    .unwrap()
                    .set_modified(when)
                    .unwrap();
            }
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_component_newer_than_its_sources_is_up_to_date() {
        let s = Scratch::new("newer");
        s.file("src/provider.js", 300);
        s.file("package.json", 300);
        let out = s.file("dist/out.wasm", 100);
        s.age_folders();
        assert!(is_up_to_date(&out, &[&s.0]));
    }

    #[test]
    fn a_changed_source_makes_it_stale() {
        let s = Scratch::new("changed");
        s.file("package.json", 300);
        let out = s.file("dist/out.wasm", 100);
        s.file("src/provider.js", 10);
        s.age_folders();
        assert!(!is_up_to_date(&out, &[&s.0]));
    }

    #[test]
    fn installed_tools_and_outputs_do_not_count_as_sources() {
        let s = Scratch::new("skipped");
        s.file("src/provider.js", 300);
        let out = s.file("dist/out.wasm", 100);
        s.file("node_modules/tool.js", 10);
        s.file("dist/other.wasm", 10);
        s.age_folders();
        assert!(is_up_to_date(&out, &[&s.0]));
    }

    #[test]
    fn a_missing_output_or_input_means_build() {
        let s = Scratch::new("missing");
        s.file("src/provider.js", 300);
        s.age_folders();
        assert!(!is_up_to_date(&s.0.join("dist/none.wasm"), &[&s.0]));
        let out = s.file("dist/out.wasm", 100);
        assert!(!is_up_to_date(&out, &[&s.0.join("gone")]));
    }

    #[test]
    fn every_input_is_checked() {
        let s = Scratch::new("inputs");
        s.file("src/provider.js", 300);
        let out = s.file("dist/out.wasm", 100);
        let wit = s.file("world.wit", 10);
        s.age_folders();
        assert!(is_up_to_date(&out, &[&s.0.join("src")]));
        assert!(!is_up_to_date(&out, &[&s.0.join("src"), &wit]));
    }
}
