//! Running the server: listeners, TLS, signals, draining.
//!
//! HTTP connections are served by hyper (HTTP/1.1) with the axum router,
//! through rustls when `[tls]` is configured. On SIGTERM or Ctrl-C the
//! server stops accepting, `/readyz` turns 503, every request in flight is
//! answered (up to 10 s), then the audit log gets its `summary` and `seal`
//! records — after the last decision, never before.

use crate::config::ServeConfig;
use crate::engine::Engine;
use crate::http::{Shared, log_line, router};
use anyhow::{Context, Result, bail};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Everything `neorl serve` needs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub checkpoint: PathBuf,
    pub config: ServeConfig,
    /// Overrides `server.http`.
    pub http: Option<String>,
    /// Overrides `server.modbus`.
    pub modbus: Option<String>,
    /// Overrides `server.state_dir`.
    pub state_dir: Option<PathBuf>,
}

fn tls_acceptor(cert: &Path, key: &Path) -> Result<tokio_rustls::TlsAcceptor> {
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
    let certs = rustls_pemfile::certs(&mut read(cert)?.as_slice())
        .collect::<std::result::Result<Vec<_>, _>>()
        .with_context(|| format!("{} is not a PEM certificate chain", cert.display()))?;
    if certs.is_empty() {
        bail!("{} holds no certificate", cert.display());
    }
    let key = rustls_pemfile::private_key(&mut read(key)?.as_slice())
        .with_context(|| format!("{} is not a PEM private key", key.display()))?
        .with_context(|| format!("{} holds no private key", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the TLS certificate and key do not match")?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Run the server until SIGTERM or Ctrl-C.
pub fn run(opts: ServeOptions) -> Result<()> {
    let cfg = &opts.config.server;
    let state_dir = opts
        .state_dir
        .clone()
        .unwrap_or_else(|| cfg.state_dir.clone());
    let http =
        opts.http.clone().or_else(|| cfg.http.clone()).context(
            "no HTTP address: pass --http 127.0.0.1:8080 or set server.http in the config",
        )?;
    let modbus = opts.modbus.clone().or_else(|| cfg.modbus.clone());
    let engine = Engine::open(&opts.checkpoint, &state_dir, cfg.shield, cfg.audit_fsync)
        .with_context(|| format!("loading the policy of {}", opts.checkpoint.display()))?;
    if opts.config.tokens.is_empty() {
        eprintln!(
            "warning: the config has no tokens: every request but /healthz and /readyz is refused; add one with `neorl serve token add NAME --role client --config FILE`"
        );
    }
    let tls = match &opts.config.tls {
        Some(t) => Some(tls_acceptor(&t.cert, &t.key)?),
        None => None,
    };
    let (od, ad) = (engine.spec().obs_dim(), engine.spec().act_dim());
    if modbus.is_some() && !crate::modbus::ModbusService::fits(od, ad) {
        bail!(
            "{} has too many observations or actions for the Modbus register map",
            engine.spec().id
        );
    }
    let shared = Arc::new(Shared::new(engine, opts.config.tokens.clone()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let limits = Limits {
        max_body_bytes: cfg.max_body_bytes,
        max_in_flight: cfg.max_in_flight,
    };
    rt.block_on(async {
        let listeners = Listeners::bind(&http, modbus.as_deref()).await?;
        serve(shared.clone(), listeners, tls, limits, shutdown_signal()).await
    })?;
    drop(rt);
    let shared = Arc::try_unwrap(shared)
        .map_err(|_| anyhow::anyhow!("a request still holds the engine after draining"))?;
    let engine = shared
        .engine
        .into_inner()
        .unwrap_or_else(|p| p.into_inner());
    let sealed = engine.close().context("sealing the audit log")?;
    log_line(
        json!({"level": "info", "msg": "stopped", "audit": sealed.map(|(n, h)| json!({"records": n, "head": h}))}),
    );
    Ok(())
}

/// The request limits of [`serve`].
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_in_flight: usize,
}

/// The sockets the server listens on.
#[derive(Debug)]
pub struct Listeners {
    pub http: TcpListener,
    pub modbus: Option<TcpListener>,
}

impl Listeners {
    /// Bind `http` and, if given, `modbus`.
    pub async fn bind(http: &str, modbus: Option<&str>) -> Result<Self> {
        let h = TcpListener::bind(http).await.with_context(|| {
            format!("listening on {http} (in use, or not an address of this machine?)")
        })?;
        let m = match modbus {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("listening for Modbus on {addr}"))?,
            ),
            None => None,
        };
        Ok(Listeners { http: h, modbus: m })
    }
}

/// Serve until `stop` resolves, then drain (module doc).
pub async fn serve(
    shared: Arc<Shared>,
    listeners: Listeners,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: Limits,
    stop: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let Listeners {
        http: listener,
        modbus,
    } = listeners;
    let http_addr = listener.local_addr()?;
    let quiet = !shared.log_requests.load(Ordering::Relaxed);
    let say = |v: serde_json::Value| {
        if !quiet {
            log_line(v)
        }
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let modbus_task = match modbus {
        Some(l) => {
            let mb_addr = l.local_addr()?;
            say(json!({"level": "info", "msg": "modbus listening", "addr": mb_addr.to_string()}));
            let mut rx = stop_rx.clone();
            let stop = async move {
                let _ = rx.wait_for(|s| *s).await;
            };
            Some(tokio::spawn(crate::modbus::serve(l, shared.clone(), stop)))
        }
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    say(
        json!({"level": "info", "msg": "listening", "addr": http_addr.to_string(), "scheme": scheme, "env": shared.engine().spec().id}),
    );
    let app = router(shared.clone(), limits.max_body_bytes, limits.max_in_flight);
    let graceful = GracefulShutdown::new();
    let signal = stop;
    tokio::pin!(signal);
    loop {
        tokio::select! {
            conn = listener.accept() => {
                let Ok((stream, _peer)) = conn else { continue };
                let service = TowerToHyperService::new(app.clone());
                let builder = http1::Builder::new();
                match &tls {
                    Some(acceptor) => {
                        let acceptor = acceptor.clone();
                        let watcher = graceful.watcher();
                        tokio::spawn(async move {
                            let Ok(tls_stream) = acceptor.accept(stream).await else { return };
                            let conn = builder.serve_connection(TokioIo::new(tls_stream), service);
                            let _ = watcher.watch(conn).await;
                        });
                    }
                    None => {
                        let conn = builder.serve_connection(TokioIo::new(stream), service);
                        let fut = graceful.watch(conn);
                        tokio::spawn(async move { let _ = fut.await; });
                    }
                }
            }
            _ = &mut signal => break,
        }
    }
    shared.draining.store(true, Ordering::SeqCst);
    say(json!({"level": "info", "msg": "draining"}));
    drop(listener);
    let _ = stop_tx.send(true);
    if tokio::time::timeout(Duration::from_secs(10), graceful.shutdown())
        .await
        .is_err()
    {
        say(json!({"level": "warn", "msg": "requests still open after 10 s; closing"}));
    }
    if let Some(t) = modbus_task {
        let _ = t.await;
    }
    Ok(())
}

/// A server running on its own thread and runtime, until [`Background::stop`]
/// (benchmarks, tests, a notebook): the same [`serve`], without signals.
#[derive(Debug)]
pub struct Background {
    addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<()>>>,
}

impl Background {
    /// Serve `shared` over plain HTTP on `http` (`127.0.0.1:0`: any free port).
    pub fn start(shared: Arc<Shared>, http: &str, limits: Limits) -> Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        let listeners = rt.block_on(Listeners::bind(http, None))?;
        let addr = listeners.http.local_addr()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            rt.block_on(serve(shared, listeners, None, limits, async {
                let _ = rx.await;
            }))
        });
        Ok(Background {
            addr,
            stop: Some(tx),
            thread: Some(thread),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// Stop accepting, drain, and wait for the server's thread.
    pub fn stop(mut self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => bail!("the server's thread panicked"),
            None => Ok(()),
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}
