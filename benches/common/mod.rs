//! Helpers shared by the benchmarks (each uses some of them).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Copies the directory tree `from` to `to`.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).unwrap();
        }
    }
}

/// Starts `BINARY serve` on a free loopback port: the process and its base URL.
pub fn serve(binary: &Path, db: &str, data: &Path) -> (Child, String) {
    let mut server = Command::new(binary)
        .args(["serve", "--db", db, "--data"])
        .arg(data)
        .args(["--bind", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for line in BufReader::new(server.stdout.take().unwrap()).lines().map_while(Result::ok) {
        if let Some(rest) = line.strip_prefix("prequal registry listening on ") {
            return (server, rest.split_whitespace().next().unwrap().to_owned());
        }
    }
    let status = server.wait().unwrap();
    panic!("the server exited before listening: {status}");
}
