//! How this node takes part in a KRaft cluster (Kafka's `process.roles` and the quorum, broker
//! lifecycle and replica.* settings a broker reads).
//!
//! - `process.roles` unset, or `broker,controller`: the single-node broker with its own
//!   controller (Sluice's default; a copied combined-mode server.properties keeps working).
//! - `process.roles=broker`: a broker of a cluster whose controllers are Apache Kafka's; the
//!   quorum is found through `controller.quorum.bootstrap.servers` (host:port, ...) or
//!   `controller.quorum.voters` (id@host:port, ...).
//! - `process.roles=controller`: refused — Sluice is not a KRaft controller.

use std::time::Duration;

use crate::broker::StartError;
use crate::config::BrokerConfig;
use crate::replica::fetcher::FetcherConfig;

/// The roles this process plays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessRoles {
    /// The single-node broker with its own controller.
    Combined,
    /// A broker of a cluster led by a controller quorum.
    Broker(ClusterConfig),
}

/// A cluster broker's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// `host:port` of the controllers to ask first.
    pub bootstrap: Vec<String>,
    /// broker.rack
    pub rack: Option<String>,
    /// broker.heartbeat.interval.ms
    pub heartbeat_interval: Duration,
    /// controller.quorum.request.timeout.ms (requests to the controllers)
    pub controller_request_timeout: Duration,
    /// replica.lag.time.max.ms
    pub replica_lag_time_max_ms: i64,
    /// replica.fetch.wait.max.ms
    pub replica_fetch_wait_max_ms: i32,
    /// replica.fetch.min.bytes
    pub replica_fetch_min_bytes: i32,
    /// replica.fetch.max.bytes
    pub replica_fetch_max_bytes: i32,
    /// replica.fetch.response.max.bytes
    pub replica_fetch_response_max_bytes: i32,
    /// replica.fetch.backoff.ms
    pub replica_fetch_backoff: Duration,
    /// replica.socket.timeout.ms
    pub replica_socket_timeout: Duration,
}

impl ClusterConfig {
    pub fn fetcher_config(&self, node_id: i32) -> FetcherConfig {
        FetcherConfig {
            node_id,
            max_wait_ms: self.replica_fetch_wait_max_ms,
            min_bytes: self.replica_fetch_min_bytes,
            response_max_bytes: self.replica_fetch_response_max_bytes,
            partition_max_bytes: self.replica_fetch_max_bytes,
            backoff: self.replica_fetch_backoff,
            request_timeout: self.replica_socket_timeout,
        }
    }
}

fn invalid(key: &str, message: impl Into<String>) -> StartError {
    StartError::Config {
        key: key.to_string(),
        message: message.into(),
    }
}

/// Read the roles (and a cluster broker's settings) from `config`.
pub fn roles(config: &BrokerConfig) -> Result<ProcessRoles, StartError> {
    let raw = &config.raw;
    let roles: Vec<String> = raw
        .get("process.roles")
        .map(|v| {
            v.split(',')
                .map(|r| r.trim().to_ascii_lowercase())
                .filter(|r| !r.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let broker = roles.iter().any(|r| r == "broker");
    let controller = roles.iter().any(|r| r == "controller");
    if roles.is_empty() || (broker && controller) {
        return Ok(ProcessRoles::Combined);
    }
    if controller {
        return Err(invalid(
            "process.roles",
            "Sluice does not run as a KRaft controller: run Apache Kafka controllers (process.roles=controller) and Sluice brokers with process.roles=broker",
        ));
    }
    let list = |key: &str| -> Vec<String> {
        raw.get(key)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut bootstrap = list("controller.quorum.bootstrap.servers");
    if bootstrap.is_empty() {
        for voter in list("controller.quorum.voters") {
            // id@host:port
            let Some((_, addr)) = voter.split_once('@') else {
                return Err(invalid(
                    "controller.quorum.voters",
                    format!("{voter:?} is not of the form id@host:port"),
                ));
            };
            bootstrap.push(addr.to_string());
        }
    }
    if bootstrap.is_empty() {
        return Err(invalid(
            "controller.quorum.bootstrap.servers",
            "a broker (process.roles=broker) needs the controller quorum: set controller.quorum.bootstrap.servers (host:port,...) or controller.quorum.voters (id@host:port,...)",
        ));
    }
    for addr in &bootstrap {
        let port_ok = addr
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !port_ok {
            return Err(invalid(
                "controller.quorum.bootstrap.servers",
                format!("{addr:?} is not host:port"),
            ));
        }
    }
    let num = |key: &str, default: i64| -> Result<i64, StartError> {
        match raw.get(key) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| invalid(key, format!("{v:?} is not a non-negative number"))),
        }
    };
    let int = |key: &str, default: i32| -> Result<i32, StartError> {
        let n = num(key, i64::from(default))?;
        i32::try_from(n).map_err(|_| invalid(key, format!("{n} is too large")))
    };
    let ms = |key: &str, default: u64| -> Result<Duration, StartError> {
        Ok(Duration::from_millis(num(key, default as i64)? as u64))
    };
    Ok(ProcessRoles::Broker(ClusterConfig {
        bootstrap,
        rack: raw
            .get("broker.rack")
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty()),
        heartbeat_interval: ms("broker.heartbeat.interval.ms", 2_000)?,
        controller_request_timeout: ms("controller.quorum.request.timeout.ms", 2_000)?,
        replica_lag_time_max_ms: num("replica.lag.time.max.ms", 30_000)?,
        replica_fetch_wait_max_ms: int("replica.fetch.wait.max.ms", 500)?,
        replica_fetch_min_bytes: int("replica.fetch.min.bytes", 1)?,
        replica_fetch_max_bytes: int("replica.fetch.max.bytes", 1024 * 1024)?,
        replica_fetch_response_max_bytes: int(
            "replica.fetch.response.max.bytes",
            10 * 1024 * 1024,
        )?,
        replica_fetch_backoff: ms("replica.fetch.backoff.ms", 1_000)?,
        replica_socket_timeout: ms("replica.socket.timeout.ms", 30_000)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RawConfig;

    fn config(lines: &str) -> BrokerConfig {
        let mut raw = RawConfig::default();
        raw.load_properties(lines);
        BrokerConfig::from_raw(raw).expect("config")
    }

    #[test]
    fn no_roles_or_both_is_the_single_node_broker() {
        assert_eq!(
            roles(&config("node.id=1\n")).unwrap(),
            ProcessRoles::Combined
        );
        assert_eq!(
            roles(&config("process.roles=broker,controller\nnode.id=1\n")).unwrap(),
            ProcessRoles::Combined
        );
    }

    #[test]
    fn a_broker_finds_the_quorum_from_bootstrap_servers_or_voters() {
        let c = roles(&config(
            "process.roles=broker\nnode.id=2\ncontroller.quorum.bootstrap.servers=c1:9093, c2:9093\nbroker.rack=r1\n",
        ))
        .unwrap();
        let ProcessRoles::Broker(c) = c else {
            panic!("a broker")
        };
        assert_eq!(c.bootstrap, vec!["c1:9093", "c2:9093"]);
        assert_eq!(c.rack.as_deref(), Some("r1"));
        assert_eq!(c.replica_lag_time_max_ms, 30_000);
        let ProcessRoles::Broker(c) = roles(&config(
            "process.roles=broker\nnode.id=2\ncontroller.quorum.voters=3000@c1:9093,3001@c2:9094\n",
        ))
        .unwrap() else {
            panic!("a broker")
        };
        assert_eq!(c.bootstrap, vec!["c1:9093", "c2:9094"]);
    }

    #[test]
    fn refusals_name_the_key() {
        let e = roles(&config("process.roles=controller\nnode.id=1\n")).unwrap_err();
        assert!(e.to_string().contains("process.roles"), "{e}");
        let e = roles(&config("process.roles=broker\nnode.id=1\n")).unwrap_err();
        assert!(
            e.to_string()
                .contains("controller.quorum.bootstrap.servers"),
            "{e}"
        );
        let e = roles(&config(
            "process.roles=broker\nnode.id=1\ncontroller.quorum.voters=c1:9093\n",
        ))
        .unwrap_err();
        assert!(e.to_string().contains("controller.quorum.voters"), "{e}");
        let e = roles(&config(
            "process.roles=broker\nnode.id=1\ncontroller.quorum.bootstrap.servers=c1:9093\nreplica.lag.time.max.ms=x\n",
        ))
        .unwrap_err();
        assert!(e.to_string().contains("replica.lag.time.max.ms"), "{e}");
    }
}
