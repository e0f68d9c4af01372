use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
fn p50(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}
fn start() -> (std::process::Child, tokio::net::UnixStream) {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let fd = theirs.as_raw_fd();
    let mut command = std::process::Command::new("node");
    command.args(["-e", "const s = new (require('net').Socket)({ fd: 3, readable: true, writable: true }); s.on('data', (d) => s.write(d));"]);
    unsafe {
        command.pre_exec(move || {
            libc::dup2(fd, 3);
            Ok(())
        });
    }
    let child = command.spawn().unwrap();
    drop(theirs);
    ours.set_nonblocking(true).unwrap();
    (child, tokio::net::UnixStream::from_std(ours).unwrap())
}
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let line = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{}}\n";
    let (_c1, s1) = start();
    let (r1, mut w1) = s1.into_split();
    let mut r1 = tokio::io::BufReader::new(r1);
    let (_c2, s2) = start();
    let (r2, w2) = s2.into_split();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        let mut r2 = tokio::io::BufReader::new(r2);
        loop {
            let mut b = String::new();
            if r2.read_line(&mut b).await.unwrap() == 0 {
                return;
            }
            let _ = tx.send(b);
        }
    });
    let mut buf = String::new();
    for _ in 0..2000 {
        w1.write_all(line).await.unwrap();
        buf.clear();
        r1.read_line(&mut buf).await.unwrap();
        w2.try_write(line).unwrap();
        rx.recv().await.unwrap();
    }
    for round in 0..5 {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..2000 {
            let t = Instant::now();
            w1.write_all(line).await.unwrap();
            buf.clear();
            r1.read_line(&mut buf).await.unwrap();
            a.push(t.elapsed());
        }
        for _ in 0..2000 {
            let t = Instant::now();
            w2.try_write(line).unwrap();
            rx.recv().await.unwrap();
            b.push(t.elapsed());
        }
        println!(
            "round {round}: one task {:?}  reader task + channel {:?}",
            p50(a),
            p50(b)
        );
    }
}
