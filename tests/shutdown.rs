//! `frontdoor serve` stops on SIGTERM even while Discord is unreachable: the real binary, with
//! Discord pointed at a port nobody listens on, gets SIGTERM once it listens and must exit in
//! good time. (serenity re-queues a shard that cannot connect forever and its `shutdown_all`
//! does nothing while no shard runs, so the Discord task used to keep `serve` alive.)

#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Measured: 50 ms from SIGTERM to exit on the development machine (2 shared cores, debug
/// build); with the old Discord shutdown it was still running when this bound ran out.
/// Generous, because four builds may share those cores.
const EXIT_WITHIN: Duration = Duration::from_secs(15);

#[test]
fn sigterm_stops_serve_while_discord_is_unreachable() {
    // A port that refuses connections: bound, then released.
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("address").port()
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_frontdoor"))
        .args(["serve", "--listen", "127.0.0.1:0", "--content"])
        .arg(env!("CARGO_MANIFEST_DIR"))
        .arg("--data-dir")
        .arg(dir.path())
        // no ./frontdoor.toml of the developer's
        .current_dir(dir.path())
        .env_clear()
        .env(
            "FRONTDOOR_LOG",
            "info,sqlx=warn,tower_http=warn,serenity=warn",
        )
        .env("NO_COLOR", "1")
        .env("FRONTDOOR_RELOAD_INTERVAL_SECS", "0")
        .env("DISCORD_BOT_TOKEN", "fake-discord-token")
        .env(
            "FRONTDOOR_DISCORD_API_URL",
            format!("http://127.0.0.1:{refused}"),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start frontdoor serve");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("listening: http://") {
                let _ = tx.send(());
            }
            eprintln!("server: {line}");
        }
    });
    if rx.recv_timeout(Duration::from_secs(120)).is_err() {
        let _ = child.kill();
        panic!("the server never reported its address");
    }
    // Let the Discord task fail to connect and fall into serenity's retry loop.
    std::thread::sleep(Duration::from_secs(2));
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    let sent = Instant::now();
    loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            eprintln!("exited {exit} {:?} after SIGTERM", sent.elapsed());
            assert!(exit.success(), "a graceful stop exits 0: {exit}");
            return;
        }
        if sent.elapsed() > EXIT_WITHIN {
            let _ = child.kill();
            let _ = child.wait();
            panic!("frontdoor serve ignored SIGTERM for {EXIT_WITHIN:?} with Discord unreachable");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
