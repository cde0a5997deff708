//! A real `mlflow server` for the integration tests: 127.0.0.1, a free
//! port, its own SQLite store and artifact folder, stopped when dropped.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A real `mlflow server` on 127.0.0.1 with its own store, in its own
/// process group (killed as a whole when dropped).
pub struct Server {
    pub child: Option<Child>,
    pub port: u16,
    pub dir: PathBuf,
}

impl Server {
    /// Start it (again), and wait until it answers.
    pub fn restart(&mut self) {
        use std::os::unix::process::CommandExt;
        let log = std::fs::File::create(self.dir.join("server.log")).unwrap();
        let child = Command::new("python3")
            .args(["-m", "mlflow", "server", "--host", "127.0.0.1", "--port"])
            .arg(self.port.to_string())
            .arg("--backend-store-uri")
            .arg(format!(
                "sqlite:///{}",
                self.dir.join("mlflow.db").display()
            ))
            .arg("--artifacts-destination")
            .arg(self.dir.join("artifacts"))
            .args(["--workers", "1"])
            .env("PYTHONWARNINGS", "ignore")
            // No background job workers (GenAI judges): 8 fewer processes.
            .env("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("python3 -m mlflow server starts");
        self.child = Some(child);
        let t0 = Instant::now();
        let client = neorl::track::RestClient::new(&format!("http://127.0.0.1:{}", self.port));
        while client.health().is_err() {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!(
                    "mlflow server exited ({status}): {}",
                    std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
                );
            }
            assert!(
                t0.elapsed() < Duration::from_secs(240),
                "mlflow server did not answer within 240 s: {}",
                std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// SIGKILL the server and its workers.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-s", "KILL", "--", &format!("-{}", c.id())])
                .status();
            let _ = c.kill();
            let _ = c.wait();
            // Until the port is free again.
            let t0 = Instant::now();
            while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                assert!(
                    t0.elapsed() < Duration::from_secs(30),
                    "the mlflow server still answers after SIGKILL"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Server {
    /// A server on a free port with its store in `dir`, started.
    #[allow(dead_code)]
    pub fn start(dir: PathBuf) -> Server {
        let port = super::free_port();
        let mut s = Server {
            child: None,
            port,
            dir,
        };
        s.restart();
        s
    }

    #[allow(dead_code)]
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}
