//! `sluice`: a Kafka-wire-compatible broker in one binary.
//!
//! `sluice [--config FILE] [--override key=value]...`; keys are Kafka's property names. The
//! environment follows the apache/kafka docker image (KAFKA_LISTENERS, KAFKA_LOG_DIRS, ...;
//! CLUSTER_ID sets the cluster id of a new data dir). Precedence: defaults < file < environment <
//! --override. Logging: RUST_LOG, else the `sluice.log.level` config (default info).

use clap::Parser;
use sluice_server::config::{BrokerConfig, RawConfig, Source};
use sluice_server::server::RunningServer;
use std::path::PathBuf;
use std::process::ExitCode;

/// glibc's malloc with fixed thresholds instead of its adaptive ones. Fetch responses are read
/// into buffers of up to 1 MiB per partition; with the adaptive thresholds glibc sometimes
/// served them with mmap/munmap or trimmed the freed heap back to the kernel, so every fetch
/// faulted its buffers in again, zeroed: whole runs of the 8-partition consume benchmark then
/// took twice the broker CPU (about 1.0 instead of 0.45 CPU-s per GB; 2 of 4 runs, 0 of 3 with
/// these settings; compat-tests/bench). Freed memory is kept for reuse up to `TRIM`; peak RSS
/// (what the broker touches at once) is unchanged. glibc's own environment variables
/// (`MALLOC_MMAP_THRESHOLD_`, `MALLOC_TRIM_THRESHOLD_`) take precedence: when either is set,
/// nothing is changed here.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_malloc() {
    const MMAP_THRESHOLD: libc::c_int = 64 << 20;
    const TRIM: libc::c_int = 256 << 20;
    if ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"]
        .iter()
        .any(|k| std::env::var_os(k).is_some())
    {
        return;
    }
    // SAFETY: mallopt only sets allocator parameters; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM);
    }
}
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_malloc() {}

#[derive(Parser, Debug)]
#[command(
    name = "sluice",
    version,
    about = "A Kafka-wire-compatible message broker"
)]
struct Args {
    /// Config file: TOML with Kafka property names as keys, or a Java .properties file.
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
    /// Set a config key, overriding file and environment (repeatable).
    #[arg(long = "override", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// A server.properties path given positionally, as `kafka-server-start.sh` takes it.
    #[arg(value_name = "PROPERTIES_FILE")]
    positional_config: Option<PathBuf>,
}

fn load_config(args: &Args) -> Result<BrokerConfig, String> {
    let mut raw = RawConfig::default();
    for path in args.config.iter().chain(args.positional_config.iter()) {
        raw.load_file(path).map_err(|e| e.to_string())?;
    }
    raw.load_env(std::env::vars());
    if let Ok(cluster_id) = std::env::var("CLUSTER_ID") {
        raw.set("cluster.id", cluster_id, Source::Environment);
    }
    for o in &args.overrides {
        raw.apply_override(o).map_err(|e| e.to_string())?;
    }
    BrokerConfig::from_raw(raw).map_err(|e| e.to_string())
}

fn init_logging(config: Option<&BrokerConfig>) {
    let default_level = config
        .and_then(|c| c.raw.get("sluice.log.level"))
        .unwrap_or("info")
        .to_string();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
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

fn main() -> ExitCode {
    // What "started in" counts from: the process start, as near as main gets to it.
    let process_start = std::time::Instant::now();
    tune_malloc();
    let args = Args::parse();
    let config = match load_config(&args) {
        Ok(c) => c,
        Err(e) => {
            init_logging(None);
            tracing::error!("invalid configuration: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(Some(&config));
    for key in config.unknown_keys() {
        tracing::warn!(key, "unknown config key ignored");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("sluice")
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let server = match RunningServer::start(config).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("cannot start: {e}");
                return ExitCode::FAILURE;
            }
        };
        let startup_ms = process_start.elapsed().as_millis();
        let listeners: Vec<String> = server
            .addrs
            .iter()
            .map(|(name, addr)| format!("{name}://{addr}"))
            .collect();
        tracing::info!(
            node_id = server.broker.node_id(),
            cluster_id = %server.broker.cluster_id,
            listeners = %listeners.join(","),
            startup_ms,
            "Sluice started in {startup_ms} ms (since the process started); serving"
        );
        wait_for_signal().await;
        tracing::info!("shutting down");
        server.shutdown().await;
        ExitCode::SUCCESS
    })
}
