//! A real single-node SLURM cluster for the integration tests: Debian's
//! `munged`, `slurmctld` and `slurmd` (installed by `scripts/bootstrap.sh`),
//! started in a temporary folder with their own ports, state, spool, logs
//! and munge socket and key, and stopped when dropped. Commands that talk to
//! it need `SLURM_CONF` = [`Slurm::conf`] ([`Slurm::command`] sets it).
//!
//! SLURM's daemons need root. Outside CI a machine without root or without
//! SLURM skips these tests with a loud message; in CI (`CI=true`) that is a
//! failure.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DAEMONS: [&str; 4] = [
    "/usr/sbin/munged",
    "/usr/sbin/slurmctld",
    "/usr/sbin/slurmd",
    "/usr/bin/sbatch",
];

pub struct Slurm {
    pub dir: PathBuf,
    children: Vec<Child>,
}

/// Why SLURM cannot run here, if it cannot.
fn unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root (slurmd and slurmctld run as root here)".into());
    }
    let missing: Vec<&str> = DAEMONS
        .iter()
        .copied()
        .filter(|p| !Path::new(p).exists())
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "{} not installed (scripts/bootstrap.sh installs slurmctld slurmd slurm-client munge)",
            missing.join(", ")
        )
    })
}

fn id_of(name: &str, flag: &str) -> u32 {
    let out = Command::new("id").args([flag, name]).output().unwrap();
    assert!(
        out.status.success(),
        "no user '{name}' (the munge package creates it)"
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

impl Slurm {
    /// Start the cluster, or `None` (after saying why, loudly) where it
    /// cannot run and this is not CI.
    pub fn start(dir: &Path) -> Option<Slurm> {
        if let Some(why) = unavailable() {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
            assert!(
                !ci,
                "SLURM is needed for this test in CI, but {why}; run scripts/bootstrap.sh as root"
            );
            eprintln!("\n*** SKIPPED: a real SLURM cluster cannot start here: {why} ***\n");
            return None;
        }
        let dir = std::path::absolute(dir).unwrap();
        let munge = dir.join("munge");
        for d in ["state", "spool", "munge"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        // munged runs as the munge user, with its own key and socket; the
        // socket's folder must be reachable by everyone.
        let (uid, gid) = (id_of("munge", "-u"), id_of("munge", "-g"));
        let key = munge.join("key");
        let mut bytes = vec![];
        use std::io::Read;
        std::fs::File::open("/dev/urandom")
            .unwrap()
            .take(1024)
            .read_to_end(&mut bytes)
            .unwrap();
        std::fs::write(&key, bytes).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::chown(&key, Some(uid), Some(gid)).unwrap();
        std::os::unix::fs::chown(&munge, Some(uid), Some(gid)).unwrap();
        std::fs::set_permissions(&munge, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut s = Slurm {
            dir: dir.clone(),
            children: vec![],
        };
        let socket = munge.join("socket");
        let m = |f: &str| munge.join(f).display().to_string();
        s.spawn(
            Command::new("/usr/sbin/munged")
                .arg("--foreground")
                .arg(format!("--socket={}", socket.display()))
                .arg(format!("--key-file={}", key.display()))
                .arg(format!("--pid-file={}", m("pid")))
                .arg(format!("--log-file={}", m("log")))
                .arg(format!("--seed-file={}", m("seed")))
                .uid(uid)
                .gid(gid),
            "munged",
        );
        wait_for("munged's socket", 20, &dir, || socket.exists());
        let host =
            String::from_utf8_lossy(&Command::new("hostname").arg("-s").output().unwrap().stdout)
                .trim()
                .to_string();
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let d = |f: &str| dir.join(f).display().to_string();
        let conf = format!(
            "ClusterName=neorltest\n\
             SlurmctldHost={host}(127.0.0.1)\n\
             SlurmctldPort={ctld}\n\
             SlurmdPort={slurmd}\n\
             SlurmUser=root\n\
             SlurmdUser=root\n\
             AuthType=auth/munge\n\
             CredType=cred/munge\n\
             AuthInfo=socket={socket}\n\
             StateSaveLocation={state}\n\
             SlurmdSpoolDir={spool}\n\
             SlurmctldPidFile={ctld_pid}\n\
             SlurmdPidFile={slurmd_pid}\n\
             SlurmctldLogFile={ctld_log}\n\
             SlurmdLogFile={slurmd_log}\n\
             ProctrackType=proctrack/linuxproc\n\
             TaskPlugin=task/none\n\
             SelectType=select/cons_tres\n\
             SelectTypeParameters=CR_Core\n\
             SchedulerParameters=sched_interval=1\n\
             ReturnToService=2\n\
             MpiDefault=none\n\
             JobAcctGatherType=jobacct_gather/none\n\
             AccountingStorageType=accounting_storage/none\n\
             KillWait=15\n\
             MailProg=/bin/true\n\
             NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN\n\
             PartitionName=test Nodes={host} Default=YES MaxTime=INFINITE State=UP\n",
            ctld = super::free_port(),
            slurmd = super::free_port(),
            socket = socket.display(),
            state = d("state"),
            spool = d("spool"),
            ctld_pid = d("slurmctld.pid"),
            slurmd_pid = d("slurmd.pid"),
            ctld_log = d("slurmctld.log"),
            slurmd_log = d("slurmd.log"),
        );
        std::fs::write(s.conf(), conf).unwrap();
        let conf_path = s.conf();
        s.spawn(
            Command::new("/usr/sbin/slurmctld")
                .args(["-D", "-i", "-f"])
                .arg(&conf_path),
            "slurmctld",
        );
        s.spawn(
            Command::new("/usr/sbin/slurmd")
                .args(["-D", "-N", &host, "-f"])
                .arg(&conf_path),
            "slurmd",
        );
        let t0 = Instant::now();
        wait_for("sinfo to report the node idle", 60, &dir, || {
            s.command("sinfo")
                .args(["-h", "-o", "%T"])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "idle")
        });
        eprintln!("SLURM up in {:.1} s", t0.elapsed().as_secs_f64());
        Some(s)
    }

    fn spawn(&mut self, cmd: &mut Command, name: &str) {
        let log = std::fs::File::create(self.dir.join(format!("{name}.out"))).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{name} does not start: {e}"));
        self.children.push(child);
    }

    /// The cluster's slurm.conf.
    pub fn conf(&self) -> PathBuf {
        self.dir.join("slurm.conf")
    }

    /// A command (sbatch, squeue, scancel, neorl …) that talks to this cluster.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env("SLURM_CONF", self.conf());
        c
    }

    /// The daemons' logs, for a failing test's message.
    pub fn logs(&self) -> String {
        ["slurmctld.log", "slurmd.log", "munge/log"]
            .iter()
            .map(|f| {
                let text = std::fs::read_to_string(self.dir.join(f)).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(15).collect();
                format!(
                    "--- {f}\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn wait_for(what: &str, secs: u64, dir: &Path, ok: impl Fn() -> bool) {
    let t0 = Instant::now();
    while !ok() {
        if t0.elapsed() > Duration::from_secs(secs) {
            let logs: Vec<String> = [
                "munged.out",
                "slurmctld.out",
                "slurmd.out",
                "slurmctld.log",
                "slurmd.log",
            ]
            .iter()
            .map(|f| {
                format!(
                    "--- {f}\n{}",
                    std::fs::read_to_string(dir.join(f)).unwrap_or_default()
                )
            })
            .collect();
            panic!(
                "timed out after {secs} s waiting for {what}\n{}",
                logs.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Drop for Slurm {
    /// Cancel what still runs, SIGTERM each daemon (slurmd first), then
    /// SIGKILL what is left, and reap them all.
    fn drop(&mut self) {
        // Jobs a failed test left behind first, while slurmd still runs them.
        let _ = self.command("scancel").args(["--user", "root"]).status();
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(15)
            && self
                .command("squeue")
                .args(["-h", "-o", "%i"])
                .output()
                .is_ok_and(|o| !o.stdout.is_empty())
        {
            std::thread::sleep(Duration::from_millis(200));
        }
        for c in self.children.iter().rev() {
            // SAFETY: kill has no memory preconditions; the pid is our child's.
            unsafe {
                libc::kill(c.id() as libc::pid_t, libc::SIGTERM);
            }
        }
        let t0 = Instant::now();
        for c in self.children.iter_mut().rev() {
            while matches!(c.try_wait(), Ok(None)) && t0.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
