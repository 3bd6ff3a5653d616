//! The xenbus half of a PV frontend device's life, shared by every
//! frontend driver (netfront, blkfront): the watch on the backend's
//! `state`, the frontend `state` written, and the states the device goes
//! through as the backend comes, connects, closes, goes away and comes
//! back. A driver owns one [`FrontendLink`] and keeps only its own part:
//! what "set up" and "connected" mean for its rings, and tearing its data
//! path down.
//!
//! Life of a device: `WaitingForBackend` (frontend `Initialising`) → the
//! backend reaches `InitWait` (or `Initialised`): [`BackendEvent::Setup`],
//! the driver sets up and writes its keys → `Connecting` → the backend
//! reaches `Connected`: [`BackendEvent::Connected`] → `Connected`. When the
//! backend goes `Closing`, `Closed` or away while connecting or connected:
//! [`BackendEvent::Gone`], the driver tears down and calls
//! [`FrontendLink::detached`] → `Detached`, frontend `Closed`; once the
//! backend is `Closed` the link re-announces the frontend (`Initialising`)
//! and the cycle restarts when the backend comes back. After an error the
//! driver calls [`FrontendLink::failed`] → `Failed` (frontend `Closing`,
//! then `Closed`) until [`FrontendLink::restart`]; [`FrontendLink::shut`]
//! ends the device for good.

use alloc::format;
use alloc::string::String;
use core::fmt;

use crate::xenbus::{self, Backend, Device, XenbusState};
use crate::xenstore::{XenstoreOps, XsError};

/// A logging hook: receives one line (without newline) per device event.
pub type LogFn = fn(fmt::Arguments<'_>);

/// Discards log lines (the default hook).
pub fn no_log(_: fmt::Arguments<'_>) {}

/// Where a frontend device is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrontendState {
    /// Frontend `Initialising`; waiting for the backend's `InitWait`.
    WaitingForBackend,
    /// Keys written; waiting for the backend's `Connected`.
    Connecting,
    /// The data path is up.
    Connected,
    /// The backend closed or went away; nothing is set up. The device
    /// reconnects by itself when the backend comes back.
    Detached,
    /// Disconnected after an error (the driver keeps it); stays so until
    /// [`FrontendLink::restart`].
    Failed,
    /// Shut down by the driver for good; final.
    Shut,
}

/// What a backend state change asks of the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendEvent {
    /// The backend waits for the frontend's keys: set up the data path,
    /// write the keys, then [`FrontendLink::connecting`].
    Setup,
    /// The backend reached `Connected` while the device was connecting.
    Connected,
    /// The backend closed or went away (the state it is in) while the
    /// device was connecting or connected: tear the data path down, then
    /// [`FrontendLink::detached`].
    Gone(XenbusState),
    /// The backend's `state` node holds no state: a misbehaving peer.
    Malformed(&'static str),
}

/// A frontend device's xenbus side: its device and backend, the watch on
/// the backend's state and the device's state.
pub struct FrontendLink {
    /// The driver's name, at the start of each log line.
    driver: &'static str,
    log: LogFn,
    device: Device,
    backend: Backend,
    /// Token of the watch on the backend's `state`.
    token: String,
    watching: bool,
    state: FrontendState,
    /// The frontend state last written.
    front: XenbusState,
    /// The backend's state is to be read at the next poll.
    check_backend: bool,
}

impl FrontendLink {
    /// Finds `device`'s backend, watches the backend's state and announces
    /// the frontend (`Initialising`). Does not wait.
    pub fn open<X: XenstoreOps + ?Sized>(
        xs: &X,
        driver: &'static str,
        device: Device,
        log: LogFn,
    ) -> Result<Self, XsError> {
        let backend = xenbus::backend(xs, &device)?;
        let token = format!("{driver}:{}", device.path());
        xs.watch(&state_node(&backend), &token)?;
        let mut link = FrontendLink {
            driver,
            log,
            device,
            backend,
            token,
            watching: true,
            state: FrontendState::WaitingForBackend,
            front: XenbusState::Unknown,
            check_backend: true,
        };
        if let Err(e) = link.set_front(xs, XenbusState::Initialising) {
            link.release(xs);
            return Err(e);
        }
        Ok(link)
    }

    /// Where the device is in its life.
    pub fn state(&self) -> FrontendState {
        self.state
    }

    /// The frontend state last written.
    pub fn front(&self) -> XenbusState {
        self.front
    }

    /// The device (`device/<class>/<id>`).
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The backend's location.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// The token of the watch on the backend's state (its events are
    /// consumed by [`FrontendLink::poll`]).
    pub fn watch_token(&self) -> &str {
        &self.token
    }

    /// Logs one line, prefixed with the driver and the device.
    pub fn log(&self, args: fmt::Arguments<'_>) {
        (self.log)(format_args!(
            "{} {}: {}",
            self.driver,
            self.device.path(),
            args
        ));
    }

    /// Writes the frontend's state.
    pub fn set_front<X: XenstoreOps + ?Sized>(
        &mut self,
        xs: &X,
        state: XenbusState,
    ) -> Result<(), XsError> {
        xenbus::switch_state(xs, &self.device, state)?;
        self.front = state;
        Ok(())
    }

    /// Writes the frontend's state unless it is so already; failures (the
    /// device was removed, xenstore trouble) are logged, not fatal: the
    /// next backend change tries again.
    pub fn set_front_quiet<X: XenstoreOps + ?Sized>(&mut self, xs: &X, state: XenbusState) {
        if self.front == state {
            return;
        }
        if let Err(e) = self.set_front(xs, state) {
            self.log(format_args!("could not write state {state:?}: {e}"));
        }
    }

    /// Takes the watch events that came (without waiting) and, when the
    /// backend changed, reacts to its state: what the link does by itself
    /// (closing the frontend after a detach or failure, re-announcing it
    /// once the backend is closed) is done, and what the driver must do is
    /// returned.
    pub fn poll<X: XenstoreOps + ?Sized>(
        &mut self,
        xs: &X,
    ) -> Result<Option<BackendEvent>, XsError> {
        while xs.next_watch_event(&self.token, Some(0))?.is_some() {
            self.check_backend = true;
        }
        if !self.check_backend {
            return Ok(None);
        }
        self.check_backend = false;
        self.backend_changed(xs)
    }

    /// Waits (in xenstore, so the scheduler can run others) until the
    /// backend's state changes or `deadline_ns` passes; false when the
    /// deadline passed. Returns at once when a change is already pending.
    pub fn wait<X: XenstoreOps + ?Sized>(
        &mut self,
        xs: &X,
        deadline_ns: Option<u64>,
    ) -> Result<bool, XsError> {
        if !self.check_backend {
            match xs.next_watch_event(&self.token, deadline_ns)? {
                Some(_) => self.check_backend = true,
                None => return Ok(false),
            }
        }
        Ok(true)
    }

    fn backend_changed<X: XenstoreOps + ?Sized>(
        &mut self,
        xs: &X,
    ) -> Result<Option<BackendEvent>, XsError> {
        use FrontendState as F;
        use XenbusState as X;
        let bstate = match xenbus::read_state(xs, &self.backend.path) {
            Ok(s) => s,
            Err(XsError::Malformed(why)) => return Ok(Some(BackendEvent::Malformed(why))),
            Err(e) => return Err(e),
        };
        let gone = matches!(bstate, X::Closing | X::Closed | X::Unknown);
        let ready = matches!(bstate, X::InitWait | X::Initialised);
        let event = match self.state {
            F::WaitingForBackend if ready => Some(BackendEvent::Setup),
            F::WaitingForBackend => None,
            F::Connecting if bstate == X::Connected => Some(BackendEvent::Connected),
            F::Connecting | F::Connected if gone => Some(BackendEvent::Gone(bstate)),
            F::Connecting | F::Connected => None,
            F::Detached => match bstate {
                X::Closing => {
                    self.set_front_quiet(xs, X::Closed);
                    None
                }
                X::Closed => {
                    // Re-announce: a backend that stays online answers
                    // with InitWait ("prepare for reconnect").
                    self.set_front_quiet(xs, X::Closed);
                    self.reannounce(xs);
                    None
                }
                X::InitWait | X::Initialised => {
                    self.reannounce(xs);
                    (self.state == F::WaitingForBackend).then_some(BackendEvent::Setup)
                }
                _ => None,
            },
            F::Failed | F::Shut => {
                if gone {
                    self.set_front_quiet(xs, X::Closed);
                }
                None
            }
        };
        Ok(event)
    }

    /// Detached → WaitingForBackend, if the device still exists.
    fn reannounce<X: XenstoreOps + ?Sized>(&mut self, xs: &X) {
        match self.set_front(xs, XenbusState::Initialising) {
            Ok(()) => {
                self.state = FrontendState::WaitingForBackend;
                self.log(format_args!("backend closed; waiting for it to come back"));
            }
            Err(XsError::NoEnt) => {} // the toolstack removed the device
            Err(e) => self.log(format_args!("could not re-announce: {e}")),
        }
    }

    /// Before a setup: the backend may have moved across a detach and
    /// attach, so it is read again and the watch follows it.
    pub fn follow_backend<X: XenstoreOps + ?Sized>(&mut self, xs: &X) -> Result<(), XsError> {
        let backend = xenbus::backend(xs, &self.device)?;
        if backend != self.backend {
            let _ = xs.unwatch(&state_node(&self.backend), &self.token);
            self.watching = false;
            xs.watch(&state_node(&backend), &self.token)?;
            self.watching = true;
            self.backend = backend;
        }
        Ok(())
    }

    /// The driver set up and wrote its keys and the frontend state it
    /// announces them with (`front`): the device is connecting.
    pub fn connecting<X: XenstoreOps + ?Sized>(
        &mut self,
        xs: &X,
        front: XenbusState,
    ) -> Result<(), XsError> {
        self.set_front(xs, front)?;
        self.state = FrontendState::Connecting;
        Ok(())
    }

    /// The driver's data path is up.
    pub fn connected(&mut self) {
        self.state = FrontendState::Connected;
    }

    /// The driver tore its data path down after [`BackendEvent::Gone`].
    pub fn detached<X: XenstoreOps + ?Sized>(&mut self, xs: &X) {
        self.state = FrontendState::Detached;
        self.set_front_quiet(xs, XenbusState::Closed);
    }

    /// The driver tore its data path down after an error: the backend is
    /// asked to let go of what it still maps (frontend `Closing`).
    pub fn failed<X: XenstoreOps + ?Sized>(&mut self, xs: &X) {
        self.state = FrontendState::Failed;
        self.set_front_quiet(xs, XenbusState::Closing);
    }

    /// Tries again after [`FrontendState::Failed`]: the device
    /// re-announces itself once the backend is closed, and connects when
    /// the backend comes back.
    pub fn restart(&mut self) {
        if self.state == FrontendState::Failed {
            self.state = FrontendState::Detached;
            self.check_backend = true;
        }
    }

    /// The driver tore its data path down for good: frontend `Closing`,
    /// then `Closed` once the backend closed (keep polling).
    pub fn shut<X: XenstoreOps + ?Sized>(&mut self, xs: &X) {
        self.state = FrontendState::Shut;
        self.set_front_quiet(xs, XenbusState::Closing);
        self.check_backend = true;
    }

    /// Whether the device is shut and its frontend `Closed`.
    pub fn is_shut_and_closed(&self) -> bool {
        self.state == FrontendState::Shut && self.front == XenbusState::Closed
    }

    /// Removes the watch (when the driver is dropped); best effort.
    pub fn release<X: XenstoreOps + ?Sized>(&mut self, xs: &X) {
        if self.watching {
            let _ = xs.unwatch(&state_node(&self.backend), &self.token);
            self.watching = false;
        }
    }
}

/// The backend's `state` node.
fn state_node(backend: &Backend) -> String {
    format!("{}/state", backend.path)
}
