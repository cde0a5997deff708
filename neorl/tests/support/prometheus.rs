//! A real Prometheus (Debian's `prometheus` package) scraping a server on
//! loopback, with its own configuration and storage in a test folder.

use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The installed `prometheus` binary.
pub struct Prometheus {
    bin: String,
}

/// A running Prometheus; stopped on drop.
pub struct Running {
    child: Child,
    port: u16,
}

impl Prometheus {
    /// The binary, or `None` (said loudly) where it is not installed and
    /// this is not CI.
    pub fn available() -> Option<Prometheus> {
        let bin = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .map(String::from);
        if bin.is_none() {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
            assert!(
                !ci,
                "Prometheus is needed for this test in CI; run scripts/bootstrap.sh as root (apt-get install prometheus)"
            );
            eprintln!(
                "\n*** SKIPPED: prometheus is not installed (apt-get install prometheus) ***\n"
            );
        }
        bin.map(|bin| Prometheus { bin })
    }

    /// Start it scraping `http://127.0.0.1:target/metrics` every second with
    /// `token`.
    pub fn start(&self, dir: &Path, target: u16, token: &str) -> Running {
        let port = super::free_port();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: neorl\n    authorization:\n      credentials: {token}\n    static_configs:\n      - targets: ['127.0.0.1:{target}']\n"
            ),
        )
        .unwrap();
        let child = Command::new(&self.bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
            .spawn()
            .unwrap();
        let r = Running { child, port };
        super::wait_until(
            "Prometheus is ready",
            60,
            Duration::from_millis(200),
            || {
                ureq::get(&format!("http://127.0.0.1:{port}/-/ready"))
                    .call()
                    .is_ok()
            },
        );
        r
    }
}

impl Running {
    /// An instant query through Prometheus's HTTP API.
    pub fn query(&self, q: &str) -> Value {
        let url = format!("http://127.0.0.1:{}/api/v1/query", self.port);
        match ureq::get(&url).query("query", q).call() {
            Ok(mut r) => r
                .body_mut()
                .read_to_string()
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or(Value::Null),
            Err(_) => Value::Null,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
