//! The tests' scratch files do not outlive them: a test process removes
//! its folder when it exits, and the folders of killed ones on its start.

use std::path::PathBuf;
use std::process::Command;

use d_back_tests::scratch;

const CHILD: &str = "D_BACK_SCRATCH_CHILD";

#[test]
fn a_test_process_leaves_no_scratch_and_clears_what_dead_ones_left() {
    if std::env::var_os(CHILD).is_some() {
        // The child: writes as a test does, says where, exits.
        std::fs::write(scratch::path("config.toml"), "x = 1\n").unwrap();
        std::fs::write(scratch::dir("starters").join("plugin.wasm"), [0u8; 4096]).unwrap();
        println!("scratch root: {}", scratch::root().display());
        return;
    }

    // What a killed run left: the folder of a process that is gone.
    let mut gone = Command::new("true").spawn().unwrap();
    let gone_pid = gone.id();
    gone.wait().unwrap();
    let parent = std::env::temp_dir().join("d-back-scratch");
    let left = parent.join(gone_pid.to_string());
    std::fs::create_dir_all(left.join("starters")).unwrap();
    std::fs::write(left.join("starters/plugin.wasm"), [0u8; 4096]).unwrap();
    // And one of a process that still runs: this one's parent, kept.
    let alive = parent.join(std::os::unix::process::parent_id().to_string());
    let alive_existed = alive.exists();
    std::fs::create_dir_all(&alive).unwrap();

    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_test_process_leaves_no_scratch_and_clears_what_dead_ones_left",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let root: PathBuf = stdout
        .lines()
        .find_map(|line| line.strip_prefix("scratch root: "))
        .unwrap_or_else(|| panic!("the child named no root: {stdout}"))
        .into();

    assert_eq!(root.parent(), Some(parent.as_path()));
    assert!(!root.exists(), "{} outlived its process", root.display());
    assert!(
        !left.exists(),
        "{} of a dead process stayed",
        left.display()
    );
    assert!(alive.exists(), "a running process's folder was removed");
    if !alive_existed {
        std::fs::remove_dir_all(&alive).unwrap();
    }
}
