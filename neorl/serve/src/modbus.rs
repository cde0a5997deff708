//! The Modbus TCP interface: the decision path as holding registers, so a
//! PLC or SCADA system can use the server with the function codes every
//! one of them has (3: read holding registers, 16: write multiple
//! registers), through the `tokio-modbus` crate.
//!
//! ## Register map (holding registers, 0-based addresses)
//!
//! Numbers are IEEE-754 `f32` in two registers, **high word first** (big-endian
//! word and byte order, "ABCD"); integers are `u16`.
//!
//! | address | what | access |
//! |---|---|---|
//! | 0 | map version (1) | read |
//! | 1 | observation count `n` | read |
//! | 2 | action count `m` | read |
//! | 3 | result of the last request: 0 ok, 1 bad request (length, NaN/Inf), 2 refused now (e.g. a new run while the e-stop is tripped), 3 server fault | read |
//! | 4 | sequence number of the last request decided | read |
//! | 5 | shield decision: 0 none, 1 rate limited, 2 projected, 3 expert, 4 hold, 5 safe action, 6 emergency (`InterventionKind::ALL` index + 1) | read |
//! | 6 | alarm level: 0 normal, 1 warning, 2 alarm, 3 emergency stop | read |
//! | 7 | flags: bit 0 e-stop tripped, bit 1 tripped by this decision, bit 2 **fire the emergency shutdown**, bit 3 hard limit crossed in the reported state, bit 4 operator in control, bit 5 action from the e-stop | read |
//! | 8, 9 | run and step of the last decision (low 16 bits) | read |
//! | 100 | request: command (1 act, 2 start a new run, then act) | write |
//! | 101 | request: sequence number (any `u16`, echoed in register 4) | write |
//! | 102 … 102 + 2n − 1 | request: observation, `n` `f32` | write |
//! | 200 … 200 + 2m − 1 | applied action, `m` `f32` | read |
//! | 300 … 300 + 2m − 1 | proposed action, `m` `f32` | read |
//!
//! **One request is one write**: function 16 over registers 100 … 102 + 2n − 1
//! exactly. The server decides before it answers the write, so when the
//! write's answer arrives, registers 3 – 9 and 200 on hold this decision: the
//! PLC then reads them (one read of 0 … 9, one of 200 …). A refused request
//! is answered with a Modbus exception (illegal data value for 1, server
//! device failure for 2 and 3) and register 3 says which. Any other write,
//! or a read outside the map, is an illegal data address.
//!
//! **Security.** Modbus TCP has no authentication: a Modbus client has the
//! `client` role (it may act), never the operator's; override, hand-back
//! and e-stop reset are HTTP-only, behind tokens. Serve Modbus only on the
//! control network's interface (`--modbus 10.x.y.z:502` on a plant, loopback
//! in tests), as IEC 62443 zoning expects.

use crate::engine::{Decided, Refusal};
use crate::http::{Shared, log_line};
use neorl_plant::safety::ActionSource;
use serde_json::json;
use std::future;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio_modbus::server::Service;
use tokio_modbus::{ExceptionCode, Request, Response};

/// Map version in register 0.
pub const MAP_VERSION: u16 = 1;
/// First register of the request block.
pub const REQUEST: u16 = 100;
/// First register of the applied action.
pub const APPLIED: u16 = 200;
/// First register of the proposed action.
pub const PROPOSED: u16 = 300;
/// Registers in the map (0 … 399).
const SIZE: usize = 400;

/// Commands in register 100.
pub const CMD_ACT: u16 = 1;
pub const CMD_NEW_RUN: u16 = 2;

/// `x` as two registers, high word first.
pub fn f32_to_words(x: f32) -> [u16; 2] {
    let b = x.to_bits();
    [(b >> 16) as u16, b as u16]
}

/// Two registers, high word first, as `f32`.
pub fn words_to_f32(hi: u16, lo: u16) -> f32 {
    f32::from_bits(((hi as u32) << 16) | lo as u32)
}

/// The register image and the engine behind it.
#[derive(Debug, Clone)]
pub struct ModbusService {
    shared: Arc<Shared>,
    image: Arc<Mutex<Vec<u16>>>,
    obs_dim: usize,
    act_dim: usize,
}

impl ModbusService {
    pub fn new(shared: Arc<Shared>) -> Self {
        let (od, ad) = {
            let e = shared.engine();
            (e.spec().obs_dim(), e.spec().act_dim())
        };
        let mut image = vec![0u16; SIZE];
        image[0] = MAP_VERSION;
        image[1] = od as u16;
        image[2] = ad as u16;
        ModbusService {
            shared,
            image: Arc::new(Mutex::new(image)),
            obs_dim: od,
            act_dim: ad,
        }
    }

    /// Whether a map of this process fits (at most 48 observations and 50
    /// actions; every neorl process does).
    pub fn fits(obs_dim: usize, act_dim: usize) -> bool {
        102 + 2 * obs_dim <= APPLIED as usize && 2 * act_dim <= 100
    }

    fn read(&self, addr: u16, n: u16) -> Result<Response, ExceptionCode> {
        let image = self.image.lock().unwrap_or_else(|p| p.into_inner());
        let (a, n) = (addr as usize, n as usize);
        if n == 0 || n > 125 || a + n > SIZE {
            return Err(ExceptionCode::IllegalDataAddress);
        }
        Ok(Response::ReadHoldingRegisters(image[a..a + n].to_vec()))
    }

    fn write(&self, addr: u16, words: &[u16]) -> Result<Response, ExceptionCode> {
        let start = Instant::now();
        if addr != REQUEST || words.len() != 2 + 2 * self.obs_dim {
            return Err(ExceptionCode::IllegalDataAddress);
        }
        let (command, seq) = (words[0], words[1]);
        let obs: Vec<f32> = words[2..]
            .chunks_exact(2)
            .map(|w| words_to_f32(w[0], w[1]))
            .collect();
        let result = {
            let mut e = self.shared.engine();
            e.set_correlation_id(Some(&format!("modbus-{seq}")));
            let r = match command {
                CMD_ACT => e.act(&obs),
                CMD_NEW_RUN => e.begin(&obs, None).and_then(|()| e.act(&obs)),
                _ => Err(Refusal::Bad(format!(
                    "command {command} in register {REQUEST}: use {CMD_ACT} (act) or {CMD_NEW_RUN} (new run)"
                ))),
            };
            e.set_correlation_id(None);
            if let Ok(d) = &r {
                self.shared.metrics.decided(d, &mut e);
            }
            r
        };
        let mut image = self.image.lock().unwrap_or_else(|p| p.into_inner());
        image[4] = seq;
        let (status, code, answer) = match result {
            Ok(d) => {
                self.publish(&mut image, &d);
                (
                    0,
                    200,
                    Ok(Response::WriteMultipleRegisters(addr, words.len() as u16)),
                )
            }
            Err(r) => {
                let (status, code, exc, msg) = match r {
                    Refusal::Bad(m) => (1, 400, ExceptionCode::IllegalDataValue, m),
                    Refusal::Conflict(m) => (2, 409, ExceptionCode::ServerDeviceFailure, m),
                    Refusal::Internal(m) => (3, 500, ExceptionCode::ServerDeviceFailure, m),
                };
                log_line(
                    json!({"level": "warn", "interface": "modbus", "endpoint": "act", "status": code, "sequence": seq, "error": msg}),
                );
                (status, code, Err(exc))
            }
        };
        image[3] = status;
        self.shared
            .metrics
            .request("modbus", "act", code, start.elapsed());
        answer
    }

    fn publish(&self, image: &mut [u16], d: &Decided) {
        // `InterventionKind` and `AlarmLevel` are declared in the order of
        // `InterventionKind::ALL` and of the alarm codes.
        image[5] = d.intervention.map_or(0, |k| 1 + k as u16);
        image[6] = d.alarm_level as u16;
        image[7] = (d.estop as u16)
            | (d.tripped as u16) << 1
            | (d.shutdown as u16) << 2
            | (d.hard_violation as u16) << 3
            | ((d.source == ActionSource::Operator) as u16) << 4
            | ((d.source == ActionSource::EmergencyStop) as u16) << 5;
        image[8] = d.run as u16;
        image[9] = d.step as u16;
        for (base, values) in [(APPLIED, &d.action), (PROPOSED, &d.proposed)] {
            for (i, &x) in values.iter().take(self.act_dim).enumerate() {
                let [hi, lo] = f32_to_words(x);
                image[base as usize + 2 * i] = hi;
                image[base as usize + 2 * i + 1] = lo;
            }
        }
    }
}

impl Service for ModbusService {
    type Request = Request<'static>;
    type Response = Response;
    type Exception = ExceptionCode;
    type Future = future::Ready<Result<Response, ExceptionCode>>;

    fn call(&self, req: Self::Request) -> Self::Future {
        future::ready(match req {
            Request::ReadHoldingRegisters(a, n) => self.read(a, n),
            Request::WriteMultipleRegisters(a, words) => self.write(a, &words),
            Request::WriteSingleRegister(..) => Err(ExceptionCode::IllegalDataAddress),
            _ => Err(ExceptionCode::IllegalFunction),
        })
    }
}

/// Serve Modbus TCP on `listener` until `stop` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    stop: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) -> std::io::Result<()> {
    use tokio_modbus::server::tcp::{Server, accept_tcp_connection};
    let service = Arc::new(ModbusService::new(shared));
    let new_service = move |_addr| Ok(Some(Arc::clone(&service)));
    let on_connected = move |stream, addr| {
        let new_service = new_service.clone();
        async move { accept_tcp_connection(stream, addr, new_service) }
    };
    let on_error = |e: std::io::Error| {
        log_line(json!({"level": "warn", "interface": "modbus", "error": e.to_string()}));
    };
    Server::new(listener)
        .serve_until(&on_connected, on_error, stop)
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use neorl_plant::safety::{AlarmLevel, InterventionKind};

    /// Registers 5 and 6 are the enums' discriminants: their declaration
    /// order must stay the documented codes.
    #[test]
    fn decision_and_alarm_codes_are_the_documented_ones() {
        for (i, k) in InterventionKind::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i, "{k:?}");
        }
        let levels = [
            AlarmLevel::Normal,
            AlarmLevel::Warning,
            AlarmLevel::Alarm,
            AlarmLevel::EmergencyStop,
        ];
        for (code, l) in levels.into_iter().enumerate() {
            assert_eq!(l as usize, code, "{l:?}");
        }
        assert_eq!(
            words_to_f32(f32_to_words(-1.5)[0], f32_to_words(-1.5)[1]),
            -1.5
        );
    }
}
