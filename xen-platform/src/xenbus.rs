//! xenbus: the xenstore conventions PV frontends share (`io/xenbus.h`,
//! docs/misc/xenstore-paths): enumerating `device/<class>/<id>`, finding a
//! device's backend, the `XenbusState` handshake through `state` nodes, and
//! the `control/shutdown` lifecycle requests of the toolstack.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};

use crate::services::DomId;
use crate::xenstore::wire::{check_path, parse_decimal};
use crate::xenstore::{Tx, XenstoreOps, XsError};
use xen_abi as abi;

/// The state of one end of a PV device (`enum xenbus_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum XenbusState {
    /// `XenbusStateUnknown` (also: no `state` node yet).
    Unknown,
    /// `XenbusStateInitialising`.
    Initialising,
    /// `XenbusStateInitWait`: waiting for the other end's details.
    InitWait,
    /// `XenbusStateInitialised`: details written, ready to connect.
    Initialised,
    /// `XenbusStateConnected`.
    Connected,
    /// `XenbusStateClosing`: the end is shutting the device down.
    Closing,
    /// `XenbusStateClosed`.
    Closed,
    /// `XenbusStateReconfiguring`.
    Reconfiguring,
    /// `XenbusStateReconfigured`.
    Reconfigured,
}

impl XenbusState {
    const ALL: [XenbusState; 9] = [
        XenbusState::Unknown,
        XenbusState::Initialising,
        XenbusState::InitWait,
        XenbusState::Initialised,
        XenbusState::Connected,
        XenbusState::Closing,
        XenbusState::Closed,
        XenbusState::Reconfiguring,
        XenbusState::Reconfigured,
    ];

    /// The value of `enum xenbus_state`.
    pub fn raw(self) -> u32 {
        match self {
            XenbusState::Unknown => abi::XenbusStateUnknown,
            XenbusState::Initialising => abi::XenbusStateInitialising,
            XenbusState::InitWait => abi::XenbusStateInitWait,
            XenbusState::Initialised => abi::XenbusStateInitialised,
            XenbusState::Connected => abi::XenbusStateConnected,
            XenbusState::Closing => abi::XenbusStateClosing,
            XenbusState::Closed => abi::XenbusStateClosed,
            XenbusState::Reconfiguring => abi::XenbusStateReconfiguring,
            XenbusState::Reconfigured => abi::XenbusStateReconfigured,
        }
    }

    /// The state with value `raw`, if there is one.
    pub fn from_raw(raw: u32) -> Option<XenbusState> {
        Self::ALL.into_iter().find(|s| s.raw() == raw)
    }

    /// Parses a `state` node strictly: a decimal number (no sign, spaces or
    /// leading `+`) naming a known state. Anything else is the peer's fault.
    pub fn parse(s: &str) -> Result<XenbusState, XsError> {
        parse_decimal(s)
            .and_then(XenbusState::from_raw)
            .ok_or(XsError::Malformed("state node is not a XenbusState number"))
    }

    /// Whether the end is closing or closed (gave up on the device).
    pub fn is_closing(self) -> bool {
        matches!(self, XenbusState::Closing | XenbusState::Closed)
    }
}

/// A frontend device of this domain, `device/<class>/<id>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Device {
    /// The device class, e.g. `vif`, `vbd`.
    pub class: String,
    /// The id under the class, e.g. `0`, `51712`.
    pub id: String,
}

impl Device {
    /// The device's xenstore directory, relative to the domain's home.
    pub fn path(&self) -> String {
        format!("device/{}/{}", self.class, self.id)
    }
}

/// Where a device's backend is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    /// The backend's xenstore directory (absolute), from `backend`.
    pub path: String,
    /// The backend's domain, from `backend-id`.
    pub domid: DomId,
}

/// The devices of `class` this domain has (`device/<class>/*`); none if the
/// class directory does not exist.
pub fn enumerate<S: XenstoreOps + ?Sized>(xs: &S, class: &str) -> Result<Vec<Device>, XsError> {
    let dir = format!("device/{class}");
    check_path(&dir)?;
    match xs.directory(Tx::NONE, &dir) {
        Ok(ids) => Ok(ids
            .into_iter()
            .map(|id| Device {
                class: String::from(class),
                id,
            })
            .collect()),
        Err(XsError::NoEnt) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Reads a device's `backend` (an absolute path) and `backend-id` (a
/// domain id), checking both.
pub fn backend<S: XenstoreOps + ?Sized>(xs: &S, dev: &Device) -> Result<Backend, XsError> {
    let base = dev.path();
    let path = xs.read(Tx::NONE, &format!("{base}/backend"))?;
    if !path.starts_with('/') || check_path(&path).is_err() {
        return Err(XsError::Malformed("backend is not an absolute path"));
    }
    let id = xs.read(Tx::NONE, &format!("{base}/backend-id"))?;
    let domid = parse_decimal(&id)
        .and_then(|d| u16::try_from(d).ok())
        .ok_or(XsError::Malformed("backend-id is not a domain id"))?;
    Ok(Backend {
        path,
        domid: DomId(domid),
    })
}

/// Reads `<dir>/state`; a missing node is [`XenbusState::Unknown`].
pub fn read_state<S: XenstoreOps + ?Sized>(xs: &S, dir: &str) -> Result<XenbusState, XsError> {
    match xs.read(Tx::NONE, &format!("{dir}/state")) {
        Ok(s) => XenbusState::parse(&s),
        Err(XsError::NoEnt) => Ok(XenbusState::Unknown),
        Err(e) => Err(e),
    }
}

/// Writes `<dir>/state` (the device directory must exist, so a device the
/// toolstack removed is not recreated).
pub fn write_state<S: XenstoreOps + ?Sized>(
    xs: &S,
    dir: &str,
    state: XenbusState,
) -> Result<(), XsError> {
    crate::xenstore::transaction(xs, |tx| {
        xs.read(tx, dir)?;
        xs.write(tx, &format!("{dir}/state"), &format!("{}", state.raw()))
    })
}

/// Moves a frontend device to `new` (writes its `state`).
pub fn switch_state<S: XenstoreOps + ?Sized>(
    xs: &S,
    dev: &Device,
    new: XenbusState,
) -> Result<(), XsError> {
    write_state(xs, &dev.path(), new)
}

/// Unique watch tokens for concurrent waiters.
static NEXT_TOKEN: AtomicU32 = AtomicU32::new(0);

/// Waits (with a watch on `<dir>/state`) until the state satisfies `until`
/// and returns it; [`XsError::Timeout`] if `deadline_ns` passes first.
pub fn wait_for_state<S: XenstoreOps + ?Sized>(
    xs: &S,
    dir: &str,
    until: impl Fn(XenbusState) -> bool,
    deadline_ns: Option<u64>,
) -> Result<XenbusState, XsError> {
    let node = format!("{dir}/state");
    let token = format!("xenbus-{}", NEXT_TOKEN.fetch_add(1, Ordering::Relaxed));
    xs.watch(&node, &token)?;
    let result = (|| loop {
        // The watch fires once at registration, so the first read is never
        // missed; every later change fires it again.
        match xs.next_watch_event(&token, deadline_ns)? {
            None => return Err(XsError::Timeout),
            Some(_) => {
                let state = read_state(xs, dir)?;
                if until(state) {
                    return Ok(state);
                }
            }
        }
    })();
    // Best effort: the result matters more than a failed unwatch.
    let _ = xs.unwatch(&node, &token);
    result
}

/// Waits until the backend at `backend` reaches `wanted`, or gives up
/// (`Closing`/`Closed` when that is not what was wanted). Returns the state
/// reached, so the caller sees a backend that gave up.
pub fn wait_for_backend_state<S: XenstoreOps + ?Sized>(
    xs: &S,
    backend: &Backend,
    wanted: XenbusState,
    deadline_ns: Option<u64>,
) -> Result<XenbusState, XsError> {
    wait_for_state(
        xs,
        &backend.path,
        |s| s == wanted || (s.is_closing() && !wanted.is_closing()),
        deadline_ns,
    )
}

/// What the toolstack asks through `control/shutdown`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShutdownRequest {
    /// `poweroff` or `halt` (`xl shutdown`).
    Poweroff,
    /// `reboot` (`xl reboot`).
    Reboot,
    /// `suspend` (save/migrate); not acknowledged automatically.
    Suspend,
    /// Anything else, verbatim; not acknowledged automatically.
    Other(String),
}

impl ShutdownRequest {
    /// Parses a `control/shutdown` value (`None` for the empty value).
    pub fn parse(value: &str) -> Option<ShutdownRequest> {
        Some(match value {
            "" => return None,
            "poweroff" | "halt" => ShutdownRequest::Poweroff,
            "reboot" => ShutdownRequest::Reboot,
            "suspend" => ShutdownRequest::Suspend,
            other => ShutdownRequest::Other(String::from(other)),
        })
    }
}

/// The node the toolstack writes shutdown requests to.
pub const CONTROL_SHUTDOWN: &str = "control/shutdown";
/// The watch token of [`Lifecycle`].
const LIFECYCLE_TOKEN: &str = "xenbus-lifecycle";

/// Watches `control/shutdown` and hands out the toolstack's requests; meant
/// for a lifecycle thread that loops on [`Lifecycle::next_request`].
pub struct Lifecycle<'a, S: XenstoreOps + ?Sized> {
    xs: &'a S,
}

impl<'a, S: XenstoreOps + ?Sized> Lifecycle<'a, S> {
    /// Advertises `control/feature-poweroff` and `feature-reboot` (best
    /// effort: the toolstack may not let us write there) and watches
    /// `control/shutdown`.
    pub fn new(xs: &'a S) -> Result<Self, XsError> {
        for feature in ["control/feature-poweroff", "control/feature-reboot"] {
            let _ = xs.write(Tx::NONE, feature, "1");
        }
        xs.watch(CONTROL_SHUTDOWN, LIFECYCLE_TOKEN)?;
        Ok(Lifecycle { xs })
    }

    /// Waits for the next request. `Poweroff` and `Reboot` are acknowledged
    /// (the node is cleared, as the toolstack expects) before they are
    /// returned; others are left for the caller ([`Lifecycle::acknowledge`]).
    /// `Ok(None)` when the deadline passed.
    pub fn next_request(
        &self,
        deadline_ns: Option<u64>,
    ) -> Result<Option<ShutdownRequest>, XsError> {
        loop {
            if self
                .xs
                .next_watch_event(LIFECYCLE_TOKEN, deadline_ns)?
                .is_none()
            {
                return Ok(None);
            }
            let value = match self.xs.read(Tx::NONE, CONTROL_SHUTDOWN) {
                Ok(v) => v,
                Err(XsError::NoEnt) => continue,
                Err(e) => return Err(e),
            };
            let Some(request) = ShutdownRequest::parse(&value) else {
                // Our own acknowledgement, or a cleared request.
                continue;
            };
            if matches!(request, ShutdownRequest::Poweroff | ShutdownRequest::Reboot) {
                self.acknowledge()?;
            }
            return Ok(Some(request));
        }
    }

    /// Acknowledges a request by writing "" to `control/shutdown`.
    pub fn acknowledge(&self) -> Result<(), XsError> {
        self.xs.write(Tx::NONE, CONTROL_SHUTDOWN, "")
    }
}

impl<S: XenstoreOps + ?Sized> Drop for Lifecycle<'_, S> {
    fn drop(&mut self) {
        let _ = self.xs.unwatch(CONTROL_SHUTDOWN, LIFECYCLE_TOKEN);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::xenstore::{SimXenstore, SimXs};

    fn setup() -> (SimXs, SimXs) {
        let d = SimXenstore::new();
        (d.connect(DomId(3)), d.connect(DomId(0)))
    }

    #[test]
    fn states_parse_strictly() {
        assert_eq!(abi::XenbusStateInitialising, 1);
        for s in XenbusState::ALL {
            assert_eq!(XenbusState::parse(&format!("{}", s.raw())), Ok(s));
        }
        assert_eq!(XenbusState::parse("4"), Ok(XenbusState::Connected));
        for bad in [
            "",
            "9",
            "-1",
            "+4",
            " 4",
            "4 ",
            "4\n",
            "04x",
            "Connected",
            "99999999999",
        ] {
            assert!(
                matches!(XenbusState::parse(bad), Err(XsError::Malformed(_))),
                "{bad:?}"
            );
        }
        // Leading zeros are still the number.
        assert_eq!(XenbusState::parse("06"), Ok(XenbusState::Closed));
    }

    #[test]
    fn devices_and_backends() {
        let (g, dom0) = setup();
        assert_eq!(enumerate(&g, "vif").unwrap(), []);
        for id in ["0", "1"] {
            let d = format!("/local/domain/3/device/vif/{id}");
            dom0.write(
                Tx::NONE,
                &format!("{d}/backend"),
                &format!("/local/domain/0/backend/vif/3/{id}"),
            )
            .unwrap();
            dom0.write(Tx::NONE, &format!("{d}/backend-id"), "0")
                .unwrap();
        }
        let devs = enumerate(&g, "vif").unwrap();
        assert_eq!(devs.len(), 2);
        assert_eq!(devs[1].path(), "device/vif/1");
        let b = backend(&g, &devs[1]).unwrap();
        assert_eq!(b.path, "/local/domain/0/backend/vif/3/1");
        assert_eq!(b.domid, DomId(0));
        // Bad backend entries are the peer's fault.
        dom0.write(Tx::NONE, "/local/domain/3/device/vif/1/backend-id", "x")
            .unwrap();
        assert!(matches!(backend(&g, &devs[1]), Err(XsError::Malformed(_))));
        dom0.write(
            Tx::NONE,
            "/local/domain/3/device/vif/0/backend",
            "relative/path",
        )
        .unwrap();
        assert!(matches!(backend(&g, &devs[0]), Err(XsError::Malformed(_))));
        assert!(matches!(enumerate(&g, "a b"), Err(XsError::BadRequest(_))));
    }

    #[test]
    fn state_handshake() {
        let (g, dom0) = setup();
        let dev = Device {
            class: String::from("vif"),
            id: String::from("0"),
        };
        // No device directory: switching does not create one.
        assert_eq!(
            switch_state(&g, &dev, XenbusState::Initialising),
            Err(XsError::NoEnt)
        );
        let be = Backend {
            path: String::from("/local/domain/0/backend/vif/3/0"),
            domid: DomId(0),
        };
        dom0.write(Tx::NONE, "/local/domain/3/device/vif/0/backend", &be.path)
            .unwrap();
        switch_state(&g, &dev, XenbusState::Initialising).unwrap();
        assert_eq!(
            read_state(&g, &dev.path()).unwrap(),
            XenbusState::Initialising
        );
        assert_eq!(read_state(&g, &be.path).unwrap(), XenbusState::Unknown);
        // The backend moves on in another thread.
        let backend_side = dom0.clone();
        let path = be.path.clone();
        let t = std::thread::spawn(move || {
            for s in [
                XenbusState::Initialising,
                XenbusState::InitWait,
                XenbusState::Connected,
            ] {
                std::thread::sleep(std::time::Duration::from_millis(5));
                backend_side
                    .write(Tx::NONE, &format!("{path}/state"), &format!("{}", s.raw()))
                    .unwrap();
            }
        });
        assert_eq!(
            wait_for_backend_state(&g, &be, XenbusState::Connected, None).unwrap(),
            XenbusState::Connected
        );
        t.join().unwrap();
        // Already there: returns at once (the watch's first firing).
        assert_eq!(
            wait_for_backend_state(&g, &be, XenbusState::Connected, Some(0)).unwrap(),
            XenbusState::Connected
        );
        // A backend that closes ends the wait with Closed.
        dom0.write(Tx::NONE, &format!("{}/state", be.path), "6")
            .unwrap();
        assert_eq!(
            wait_for_backend_state(&g, &be, XenbusState::Connected, None).unwrap(),
            XenbusState::Closed
        );
        // Timeout.
        dom0.write(Tx::NONE, &format!("{}/state", be.path), "4")
            .unwrap();
        let d = g.daemon().now_ns() + 5_000_000;
        assert_eq!(
            wait_for_backend_state(&g, &be, XenbusState::Initialised, Some(d)),
            Err(XsError::Timeout)
        );
        // Garbage in the backend's state node.
        dom0.write(Tx::NONE, &format!("{}/state", be.path), "four")
            .unwrap();
        assert!(matches!(
            wait_for_backend_state(&g, &be, XenbusState::Connected, Some(d)),
            Err(XsError::Malformed(_))
        ));
    }

    #[test]
    fn lifecycle_reads_and_acknowledges_requests() {
        let (g, dom0) = setup();
        let life = Lifecycle::new(&g).unwrap();
        assert_eq!(g.read(Tx::NONE, "control/feature-poweroff").unwrap(), "1");
        // Nothing requested yet (the initial firing finds no node).
        let d = g.daemon().now_ns() + 2_000_000;
        assert_eq!(life.next_request(Some(d)).unwrap(), None);
        for (value, want) in [
            ("poweroff", ShutdownRequest::Poweroff),
            ("halt", ShutdownRequest::Poweroff),
            ("reboot", ShutdownRequest::Reboot),
        ] {
            dom0.write(Tx::NONE, "/local/domain/3/control/shutdown", value)
                .unwrap();
            assert_eq!(life.next_request(None).unwrap(), Some(want));
            // Acknowledged as the toolstack expects.
            assert_eq!(
                dom0.read(Tx::NONE, "/local/domain/3/control/shutdown")
                    .unwrap(),
                ""
            );
        }
        dom0.write(Tx::NONE, "/local/domain/3/control/shutdown", "suspend")
            .unwrap();
        assert_eq!(
            life.next_request(None).unwrap(),
            Some(ShutdownRequest::Suspend)
        );
        assert_eq!(g.read(Tx::NONE, "control/shutdown").unwrap(), "suspend");
        life.acknowledge().unwrap();
        dom0.write(Tx::NONE, "/local/domain/3/control/shutdown", "s3")
            .unwrap();
        assert_eq!(
            life.next_request(None).unwrap(),
            Some(ShutdownRequest::Other(String::from("s3")))
        );
        drop(life);
        assert!(g.next_watch_event(LIFECYCLE_TOKEN, Some(0)).is_err());
    }
}
