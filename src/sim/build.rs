//! One inventory row's [`DeviceSpec`] turned into the device its server runs: its state in
//! its dialect, its account, its life-cycle channels. No sockets.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{Semaphore, watch};

use super::account::Account;
use super::camera::CameraState;
use super::model::{Model, SimState, Transport};
use super::phase::PhaseCell;
use super::server::{self, Phase, SimDevice};
use super::smart::SmartState;
use super::state::DeviceState;
use super::{DeviceSpec, Dialect, Journal, JournalHandle};

/// Builds the device for `spec`, starting the outputs in `powering` (from 0) on: the
/// outlets the inventory says power another row.
pub fn device(
    spec: DeviceSpec,
    time_scale: f64,
    now: Instant,
    journal: Option<&Arc<Journal>>,
    powering: &[usize],
) -> SimDevice {
    let phase = if spec.faults.offline {
        Phase::Dark
    } else {
        Phase::Online
    };
    let journal = JournalHandle::new(&spec.id, journal.cloned());
    let account = Account::new(spec.account, &spec.faults).with_journal(journal.clone());
    let model = match spec.dialect {
        Dialect::Iot { profile, family } => Model::Iot(
            DeviceState::new(profile, family, spec.identity, spec.faults, time_scale, now)
                .with_journal(journal.clone())
                // An XOR device has no login to tell bound from unbound; it stays bound.
                .with_binding(!spec.transport.is_http() || account.has_owner()),
        ),
        Dialect::Smart(profile) => Model::Smart(Box::new(
            SmartState::new(
                profile,
                spec.identity,
                spec.addr.ip(),
                spec.faults,
                time_scale,
                now,
                account.has_owner(),
            )
            .with_journal(journal.clone())
            .on_tpap_firmware(spec.transport == Transport::Tpap),
        )),
        Dialect::Camera(profile) => Model::Camera(Box::new(
            CameraState::new(
                profile,
                spec.identity,
                spec.faults,
                account.has_owner(),
                time_scale,
                now,
            )
            .with_journal(journal.clone()),
        )),
    };
    let mut state = SimState::new(model, spec.transport, account, time_scale, spec.addr);
    for &index in powering {
        state.start_powering(index, now);
    }
    let outputs = state.outputs();
    let feed = (!powering.is_empty()).then(|| watch::channel(outputs.clone()).0);
    SimDevice {
        id: spec.id,
        model: spec.model,
        addr: spec.addr,
        scale: time_scale,
        boot_time: spec.boot_time,
        transport: spec.transport,
        state: Mutex::new(state),
        phase: PhaseCell::new(phase),
        connections: Arc::new(Semaphore::new(server::MAX_CONNECTIONS_PER_DEVICE)),
        journal,
        outputs: Mutex::new(outputs),
        feed,
    }
}
