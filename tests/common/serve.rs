//! The real `frontdoor serve` binary, for tests that kill it with SIGKILL: started on
//! 127.0.0.1:0 with a cleared environment (only what the test gives it), its address read
//! from its log, its errors echoed to the test's output, and killed when dropped.

use std::ffi::OsStr;
use std::process::{Command, Stdio};

use super::KillOnDrop;

/// A running `frontdoor serve`.
pub struct Served {
    pub child: KillOnDrop,
    /// `http://127.0.0.1:<port>`, as its log announced it.
    pub url: String,
}

/// `frontdoor serve --listen 127.0.0.1:0 <args>` with `env` as its whole environment (plus
/// `info` logs without colours). Lines with an error or a panic are echoed, prefixed `label`.
pub fn serve<A: AsRef<OsStr>>(label: &str, args: &[A], env: &[(&str, &str)]) -> Served {
    let mut command = Command::new(env!("CARGO_BIN_EXE_frontdoor"));
    command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .env_clear()
        .env("FRONTDOOR_LOG", "info,sqlx=warn,tower_http=warn")
        .env("NO_COLOR", "1");
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start frontdoor serve");
    let label = label.to_string();
    let url = super::wait::url_from_log(
        child.stderr.take().expect("stderr"),
        "listening: ",
        move |line| {
            if line.contains("ERROR") || line.contains("panicked") {
                eprintln!("{label}: {line}");
            }
        },
    );
    Served {
        child: KillOnDrop(child),
        url,
    }
}

impl Served {
    /// SIGKILL, and reap it: nothing it had in hand is finished or recorded.
    pub fn kill_9(&mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reap the killed server");
    }

    /// SIGTERM, and wait for a clean exit: in-flight requests and deliveries finish first.
    pub fn stop(&mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        assert!(
            self.child.wait().expect("wait for the server").success(),
            "the server exits cleanly on SIGTERM"
        );
    }
}
