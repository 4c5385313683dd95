//! Servers of the real binary started by hand (`objseal kms serve`, `objseal serve` with flags
//! [`super::served::Served`] does not take): spawned, their address read from standard output,
//! killed on drop.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A child process killed and reaped on drop.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns `cmd` (standard error as the caller set it) and reads standard output until a line
/// containing `marker`; returns the process and the first `http://127.0.0.1:…` word of that
/// line. Standard output is drained from then on, so the child never blocks on a full pipe.
pub fn start(mut cmd: Command, marker: &str) -> (Running, String) {
    for var in [
        "OBJSEAL_ACCESS_KEY",
        "OBJSEAL_SECRET_KEY",
        "OBJSEAL_KMS_ACCESS_KEY",
    ] {
        // Only what the caller set: nothing of the test's own environment.
        if cmd.get_envs().all(|(k, _)| k != var) {
            cmd.env_remove(var);
        }
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let running = Running(child);
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.contains(marker) {
            let endpoint = line
                .split_whitespace()
                .find(|w| w.starts_with("http://127.0.0.1:"))
                .unwrap_or_else(|| panic!("no address in {line:?}"))
                .trim_end_matches(',')
                .to_owned();
            std::thread::spawn(move || lines.for_each(drop));
            return (running, endpoint);
        }
    }
    panic!("{marker:?} never printed");
}
