//! A simulated xenstored (docs/misc/xenstore.txt semantics, `io/xs_wire.h`
//! on the wire) for host tests: an in-memory tree (permissions ignored),
//! watches that fire once on registration and then on every change of the
//! path or below, and transactions that fail with `EAGAIN` on commit when
//! anything they read or wrote changed meanwhile.
//!
//! [`SimXenstore`] is the daemon; [`SimXenstore::connect`] gives a
//! connection for one domain that implements [`XenstoreOps`] directly.
//! [`SimRingServer`] serves the byte protocol over [`ByteRing`]s so the
//! real [`Client`] can be tested end to end, with switches to misbehave.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::string::{String, ToString};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use std::vec::Vec;
use std::{format, vec};

use crate::error::XenError;
use crate::services::DomId;
use crate::xenstore::client::{Client, Waiter};
use crate::xenstore::ring::{ByteRing, MessageReader, MessageWriter};
use crate::xenstore::wire::{self, Header, Request, PAYLOAD_MAX};
use crate::xenstore::{Tx, XenstoreOps, XsError};
use xen_abi as abi;

/// A node of the tree.
#[derive(Debug, Clone)]
struct Node {
    value: Vec<u8>,
    /// Generation of the last change of this node (its value, or its list
    /// of children).
    gen: u64,
}

/// A tree of nodes by absolute path (the root `/` always exists).
#[derive(Debug, Clone)]
struct Tree {
    nodes: BTreeMap<String, Node>,
}

/// Parent of an absolute path other than `/`.
fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// Whether `path` is `ancestor` or lies below it.
fn is_at_or_below(path: &str, ancestor: &str) -> bool {
    ancestor == "/"
        || path == ancestor
        || (path.starts_with(ancestor) && path.as_bytes().get(ancestor.len()) == Some(&b'/'))
}

impl Tree {
    fn new() -> Tree {
        let mut nodes = BTreeMap::new();
        nodes.insert(
            String::from("/"),
            Node {
                value: Vec::new(),
                gen: 0,
            },
        );
        Tree { nodes }
    }

    fn gen_of(&self, path: &str) -> Option<u64> {
        self.nodes.get(path).map(|n| n.gen)
    }

    fn children(&self, path: &str) -> Vec<String> {
        let prefix = if path == "/" {
            String::from("/")
        } else {
            format!("{path}/")
        };
        self.nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter_map(|(k, _)| {
                let rest = &k[prefix.len()..];
                (!rest.is_empty() && !rest.contains('/')).then(|| String::from(rest))
            })
            .collect()
    }

    /// Creates `path` and missing ancestors; returns the paths touched
    /// (created nodes and the parents whose child lists changed).
    fn create(&mut self, path: &str, value: Vec<u8>, gen: u64, touched: &mut Vec<String>) {
        if path != "/" && !self.nodes.contains_key(path) {
            let p = parent(path);
            self.create(p, Vec::new(), gen, touched);
            if let Some(parent) = self.nodes.get_mut(p) {
                parent.gen = gen;
            }
            touched.push(String::from(p));
        }
        touched.push(String::from(path));
        self.nodes.insert(String::from(path), Node { value, gen });
    }

    /// Removes `path` and everything below; returns the removed paths.
    fn remove(&mut self, path: &str, gen: u64) -> Vec<String> {
        let removed: Vec<String> = self
            .nodes
            .keys()
            .filter(|k| is_at_or_below(k, path))
            .cloned()
            .collect();
        for k in &removed {
            self.nodes.remove(k);
        }
        if let Some(p) = self.nodes.get_mut(parent(path)) {
            p.gen = gen;
        }
        removed
    }
}

/// A change to replay at commit, and what watches see.
#[derive(Debug, Clone)]
enum Op {
    Write(String, Vec<u8>),
    Mkdir(String),
    Rm(String),
}

/// An open transaction: the tree as it was at its start, a private copy it
/// changes, every path it read or wrote, and its changes.
#[derive(Debug)]
struct Transaction {
    conn: u32,
    base: Tree,
    tree: Tree,
    observed: BTreeSet<String>,
    ops: Vec<Op>,
}

/// A watch of one connection.
#[derive(Debug, Clone)]
struct Watch {
    /// As registered (relative watches report relative paths).
    path: String,
    /// Absolute form (or the special `@name`).
    abs: String,
    token: String,
}

/// Per-connection state.
#[derive(Debug, Default)]
struct Conn {
    domid: u16,
    watches: Vec<Watch>,
    events: VecDeque<wire::WatchEvent>,
}

/// The daemon's state.
#[derive(Debug)]
struct Store {
    tree: Tree,
    gen: u64,
    txs: BTreeMap<u32, Transaction>,
    next_tx: u32,
    conns: BTreeMap<u32, Conn>,
    next_conn: u32,
}

/// The simulated xenstored, shared by all its connections.
#[derive(Clone)]
pub struct SimXenstore {
    shared: Arc<(Mutex<Store>, Condvar)>,
    epoch: Instant,
}

impl Default for SimXenstore {
    fn default() -> Self {
        Self::new()
    }
}

impl SimXenstore {
    /// An empty store (just `/`).
    pub fn new() -> SimXenstore {
        SimXenstore {
            shared: Arc::new((
                Mutex::new(Store {
                    tree: Tree::new(),
                    gen: 0,
                    txs: BTreeMap::new(),
                    next_tx: 1,
                    conns: BTreeMap::new(),
                    next_conn: 1,
                }),
                Condvar::new(),
            )),
            epoch: Instant::now(),
        }
    }

    /// Monotonic time of the simulation in ns (the clock of deadlines given
    /// to [`SimXs::next_watch_event`]).
    pub fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        self.shared.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens a connection for domain `domid`, with `/local/domain/<domid>`
    /// created and its `domid` key written, as the toolstack does.
    pub fn connect(&self, domid: DomId) -> SimXs {
        let id = {
            let mut st = self.lock();
            let id = st.next_conn;
            st.next_conn += 1;
            st.conns.insert(
                id,
                Conn {
                    domid: domid.0,
                    ..Conn::default()
                },
            );
            id
        };
        let conn = SimXs {
            store: self.clone(),
            id,
            domid,
        };
        let home = conn.home();
        conn.write(Tx::NONE, &format!("{home}/domid"), &domid.0.to_string())
            .expect("creating a domain's home in the sim");
        conn
    }

    /// Number of open transactions (tests check they all ended).
    pub fn open_transactions(&self) -> usize {
        self.lock().txs.len()
    }
}

/// A connection of one domain to the simulated xenstored.
#[derive(Clone)]
pub struct SimXs {
    store: SimXenstore,
    id: u32,
    domid: DomId,
}

impl SimXs {
    /// The domain of this connection.
    pub fn domid(&self) -> DomId {
        self.domid
    }

    /// The daemon.
    pub fn daemon(&self) -> &SimXenstore {
        &self.store
    }

    fn home(&self) -> String {
        format!("/local/domain/{}", self.domid.0)
    }

    fn abs(&self, path: &str) -> Result<String, XsError> {
        wire::check_path(path).map_err(|_| XsError::Inval)?;
        Ok(if path.starts_with('/') {
            String::from(path)
        } else {
            format!("{}/{path}", self.home())
        })
    }

    /// Runs a tree operation in a transaction's copy or in the live tree
    /// (firing watches for live changes).
    fn with_tree<T>(
        &self,
        tx: Tx,
        f: impl FnOnce(&mut Tree, u64, &mut Vec<String>, &mut Vec<Op>) -> Result<T, XsError>,
    ) -> Result<T, XsError> {
        let mut st = self.store.lock();
        st.gen += 1;
        let gen = st.gen;
        let mut touched = Vec::new();
        let mut ops = Vec::new();
        if tx == Tx::NONE {
            let result = f(&mut st.tree, gen, &mut touched, &mut ops);
            for op in &ops {
                fire(&mut st, op);
            }
            drop(st);
            self.store.shared.1.notify_all();
            result
        } else {
            let conn = self.id;
            let t = st
                .txs
                .get_mut(&tx.0)
                .filter(|t| t.conn == conn)
                .ok_or(XsError::NoEnt)?;
            let result = f(&mut t.tree, gen, &mut touched, &mut ops);
            t.observed.extend(touched);
            t.ops.extend(ops);
            result
        }
    }
}

/// Applies an op's watch firing to every connection.
fn fire(st: &mut Store, op: &Op) {
    let (path, removal) = match op {
        Op::Write(p, _) | Op::Mkdir(p) => (p.as_str(), false),
        Op::Rm(p) => (p.as_str(), true),
    };
    for conn in st.conns.values_mut() {
        let home = format!("/local/domain/{}/", conn.domid);
        for w in &conn.watches {
            let hit = if is_at_or_below(path, &w.abs) {
                Some(path)
            } else if removal && is_at_or_below(&w.abs, path) {
                Some(w.abs.as_str())
            } else {
                None
            };
            if let Some(p) = hit {
                // Relative watches see relative paths.
                let shown = if w.path.starts_with('/') {
                    String::from(p)
                } else {
                    String::from(p.strip_prefix(home.as_str()).unwrap_or(p))
                };
                conn.events.push_back(wire::WatchEvent {
                    path: shown,
                    token: w.token.clone(),
                });
            }
        }
    }
}

/// Applies one op to a tree, recording touched paths and the op.
fn apply(
    tree: &mut Tree,
    gen: u64,
    touched: &mut Vec<String>,
    ops: &mut Vec<Op>,
    op: Op,
) -> Result<(), XsError> {
    match &op {
        Op::Write(p, v) => {
            touched.push(p.clone());
            match tree.nodes.get_mut(p) {
                Some(node) => {
                    node.value.clone_from(v);
                    node.gen = gen;
                }
                None => tree.create(p, v.clone(), gen, touched),
            }
        }
        Op::Mkdir(p) => {
            touched.push(p.clone());
            if tree.nodes.contains_key(p) {
                return Ok(());
            }
            tree.create(p, Vec::new(), gen, touched);
        }
        Op::Rm(p) => {
            if p == "/" {
                return Err(XsError::Inval);
            }
            touched.push(p.clone());
            touched.push(String::from(parent(p)));
            if !tree.nodes.contains_key(p) {
                // Removing a missing node is fine if its parent exists.
                return if tree.nodes.contains_key(parent(p)) {
                    Ok(())
                } else {
                    Err(XsError::NoEnt)
                };
            }
            touched.extend(tree.remove(p, gen));
        }
    }
    ops.push(op);
    Ok(())
}

impl XenstoreOps for SimXs {
    fn read(&self, tx: Tx, path: &str) -> Result<String, XsError> {
        let p = self.abs(path)?;
        let value = self.with_tree(tx, |tree, _, touched, _| {
            touched.push(p.clone());
            tree.nodes
                .get(&p)
                .map(|n| n.value.clone())
                .ok_or(XsError::NoEnt)
        })?;
        String::from_utf8(value).map_err(|_| XsError::Malformed("value is not UTF-8"))
    }

    fn write(&self, tx: Tx, path: &str, value: &str) -> Result<(), XsError> {
        let p = self.abs(path)?;
        if value.len() > PAYLOAD_MAX {
            return Err(XsError::TooBig);
        }
        self.with_tree(tx, |tree, gen, touched, ops| {
            apply(
                tree,
                gen,
                touched,
                ops,
                Op::Write(p, value.as_bytes().to_vec()),
            )
        })
    }

    fn mkdir(&self, tx: Tx, path: &str) -> Result<(), XsError> {
        let p = self.abs(path)?;
        self.with_tree(tx, |tree, gen, touched, ops| {
            apply(tree, gen, touched, ops, Op::Mkdir(p))
        })
    }

    fn rm(&self, tx: Tx, path: &str) -> Result<(), XsError> {
        let p = self.abs(path)?;
        self.with_tree(tx, |tree, gen, touched, ops| {
            apply(tree, gen, touched, ops, Op::Rm(p))
        })
    }

    fn directory(&self, tx: Tx, path: &str) -> Result<Vec<String>, XsError> {
        let p = self.abs(path)?;
        self.with_tree(tx, |tree, _, touched, _| {
            touched.push(p.clone());
            if !tree.nodes.contains_key(&p) {
                return Err(XsError::NoEnt);
            }
            Ok(tree.children(&p))
        })
    }

    fn watch(&self, path: &str, token: &str) -> Result<(), XsError> {
        wire::check_watch_path(path).map_err(|_| XsError::Inval)?;
        if token.is_empty() {
            return Err(XsError::Inval);
        }
        let abs = if path.starts_with('@') {
            String::from(path)
        } else {
            self.abs(path)?
        };
        let mut st = self.store.lock();
        let conn = st.conns.get_mut(&self.id).ok_or(XsError::Inval)?;
        if conn
            .watches
            .iter()
            .any(|w| w.path == path && w.token == token)
        {
            return Err(XsError::Exist);
        }
        conn.watches.push(Watch {
            path: String::from(path),
            abs,
            token: String::from(token),
        });
        // xenstored fires every new watch once.
        conn.events.push_back(wire::WatchEvent {
            path: String::from(path),
            token: String::from(token),
        });
        drop(st);
        self.store.shared.1.notify_all();
        Ok(())
    }

    fn unwatch(&self, path: &str, token: &str) -> Result<(), XsError> {
        let mut st = self.store.lock();
        let conn = st.conns.get_mut(&self.id).ok_or(XsError::Inval)?;
        let before = conn.watches.len();
        conn.watches
            .retain(|w| !(w.path == path && w.token == token));
        if conn.watches.len() == before {
            return Err(XsError::NoEnt);
        }
        if !conn.watches.iter().any(|w| w.token == token) {
            conn.events.retain(|e| e.token != token);
        }
        Ok(())
    }

    fn next_watch_event(
        &self,
        token: &str,
        deadline_ns: Option<u64>,
    ) -> Result<Option<String>, XsError> {
        let mut st = self.store.lock();
        loop {
            let conn = st.conns.get_mut(&self.id).ok_or(XsError::Inval)?;
            if !conn.watches.iter().any(|w| w.token == token) {
                return Err(XsError::BadRequest("no watch with this token"));
            }
            if let Some(i) = conn.events.iter().position(|e| e.token == token) {
                return Ok(conn.events.remove(i).map(|e| e.path));
            }
            let cv = &self.store.shared.1;
            st = match deadline_ns {
                None => cv.wait(st).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = self.store.now_ns();
                    if now >= d {
                        return Ok(None);
                    }
                    cv.wait_timeout(st, Duration::from_nanos(d - now))
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
    }

    fn transaction_start(&self) -> Result<Tx, XsError> {
        let mut st = self.store.lock();
        let id = st.next_tx;
        st.next_tx = st.next_tx.wrapping_add(1).max(1);
        let base = st.tree.clone();
        st.txs.insert(
            id,
            Transaction {
                conn: self.id,
                tree: base.clone(),
                base,
                observed: BTreeSet::new(),
                ops: Vec::new(),
            },
        );
        Ok(Tx(id))
    }

    fn transaction_end(&self, tx: Tx, commit: bool) -> Result<(), XsError> {
        let mut st = self.store.lock();
        let t = match st.txs.get(&tx.0) {
            Some(t) if t.conn == self.id => st.txs.remove(&tx.0).ok_or(XsError::NoEnt)?,
            _ => return Err(XsError::NoEnt),
        };
        if !commit {
            return Ok(());
        }
        if t.observed
            .iter()
            .any(|p| st.tree.gen_of(p) != t.base.gen_of(p))
        {
            return Err(XsError::Again);
        }
        st.gen += 1;
        let gen = st.gen;
        let mut touched = Vec::new();
        let mut done = Vec::new();
        for op in t.ops {
            // Cannot fail: the copy accepted the same ops on the same tree.
            let _ = apply(&mut st.tree, gen, &mut touched, &mut done, op);
        }
        for op in &done {
            fire(&mut st, op);
        }
        drop(st);
        self.store.shared.1.notify_all();
        Ok(())
    }

    fn domain_path(&self) -> Result<String, XsError> {
        Ok(self.home())
    }
}

/// Ways [`SimRingServer`] can misbehave on the next reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Reply with an unknown message type.
    Garbage,
    /// Reply with another request's id.
    WrongReqId,
    /// Reply with a length above `XENSTORE_PAYLOAD_MAX`.
    OversizedLen,
    /// Do not reply at all.
    DropReply,
    /// Reply to `XS_READ` with bytes that are not UTF-8.
    BadUtf8,
    /// Publish a response producer index beyond the ring size.
    BadIndices,
}

/// Serves the xenstore byte protocol for one [`SimXs`] connection over a
/// request and a response [`ByteRing`] (the daemon's side of a
/// `xenstore_domain_interface`).
pub struct SimRingServer {
    conn: SimXs,
    req: Arc<ByteRing>,
    rsp: Arc<ByteRing>,
    reader: MessageReader,
    writer: MessageWriter,
    fault: Option<Fault>,
    /// Set after a request the server could not parse; it stops serving.
    dead: bool,
}

impl SimRingServer {
    /// A server for `conn` on the given rings.
    pub fn new(conn: SimXs, req: Arc<ByteRing>, rsp: Arc<ByteRing>) -> SimRingServer {
        SimRingServer {
            conn,
            req,
            rsp,
            reader: MessageReader::new(),
            writer: MessageWriter::new(),
            fault: None,
            dead: false,
        }
    }

    /// Misbehave on the next reply.
    pub fn inject(&mut self, fault: Fault) {
        self.fault = Some(fault);
    }

    /// Handles every complete request and forwards queued watch events.
    pub fn step(&mut self) {
        if self.dead {
            return;
        }
        loop {
            let next = self.reader.poll(&*self.req, |h: &Header| {
                if h.len as usize > PAYLOAD_MAX {
                    Err(XsError::Malformed("request too long"))
                } else {
                    Ok(())
                }
            });
            match next {
                Ok(Some((h, payload))) => self.handle(h, &payload),
                Ok(None) => break,
                Err(_) => {
                    self.dead = true;
                    return;
                }
            }
        }
        let events: Vec<wire::WatchEvent> = {
            let mut st = self.conn.store.lock();
            st.conns
                .get_mut(&self.conn.id)
                .map(|c| c.events.drain(..).collect())
                .unwrap_or_default()
        };
        for ev in events {
            let mut payload = Vec::new();
            payload.extend_from_slice(ev.path.as_bytes());
            payload.push(0);
            payload.extend_from_slice(ev.token.as_bytes());
            payload.push(0);
            self.writer
                .push(&wire::encode_message(abi::XS_WATCH_EVENT, 0, 0, &payload));
        }
        let _ = self.writer.poll(&*self.rsp);
    }

    fn handle(&mut self, h: Header, payload: &[u8]) {
        let tx = Tx(h.tx_id);
        let ok = || b"OK\0".to_vec();
        let result: Result<(u32, Vec<u8>), XsError> = match wire::decode_request(&h, payload) {
            Err(_) => Err(XsError::Inval),
            Ok(req) => {
                let c = &self.conn;
                let t = req.type_();
                match req {
                    Request::Read(p) => c.read(tx, p).map(|v| v.into_bytes()),
                    Request::Write(p, v) => match core::str::from_utf8(v) {
                        Ok(v) => c.write(tx, p, v).map(|()| ok()),
                        Err(_) => Err(XsError::Inval),
                    },
                    Request::Mkdir(p) => c.mkdir(tx, p).map(|()| ok()),
                    Request::Rm(p) => c.rm(tx, p).map(|()| ok()),
                    Request::Directory(p) => c.directory(tx, p).map(|names| {
                        let mut out = Vec::new();
                        for n in names {
                            out.extend_from_slice(n.as_bytes());
                            out.push(0);
                        }
                        out
                    }),
                    Request::Watch(p, token) => c.watch(p, token).map(|()| ok()),
                    Request::Unwatch(p, token) => c.unwatch(p, token).map(|()| ok()),
                    Request::TransactionStart => c
                        .transaction_start()
                        .map(|tx| format!("{}\0", tx.0).into_bytes()),
                    Request::TransactionEnd(commit) => c.transaction_end(tx, commit).map(|()| ok()),
                    Request::GetDomainPath(d) => {
                        Ok(format!("/local/domain/{}\0", d.0).into_bytes())
                    }
                }
                .map(|p| (t, p))
            }
        };
        let (mut type_, mut body) = match result {
            Ok(r) => r,
            Err(e) => (
                abi::XS_ERROR,
                format!("{}\0", e.errno_name().unwrap_or("EINVAL")).into_bytes(),
            ),
        };
        let mut req_id = h.req_id;
        let mut len_override = None;
        match self.fault.take() {
            None => {}
            Some(Fault::Garbage) => type_ = 999,
            Some(Fault::WrongReqId) => req_id = req_id.wrapping_add(1000),
            Some(Fault::OversizedLen) => len_override = Some(PAYLOAD_MAX as u32 + 1),
            Some(Fault::DropReply) => return,
            Some(Fault::BadUtf8) => body = vec![0xff, 0xfe],
            Some(Fault::BadIndices) => {
                let cons = crate::xenstore::ring::RingHalf::cons(&*self.rsp);
                self.rsp.force_indices(cons, cons.wrapping_add(5000));
                return;
            }
        }
        let mut msg = wire::encode_message(type_, req_id, h.tx_id, &body);
        if let Some(len) = len_override {
            msg[12..16].copy_from_slice(&len.to_ne_bytes());
        }
        self.writer.push(&msg);
    }
}

/// A [`Waiter`] for a [`Client`] talking to a [`SimRingServer`]: every wait
/// and every notification runs the server, and each wait advances a
/// virtual clock by 1 ms (deadlines are in that clock, see
/// [`SimRingWaiter::now_ns`]).
pub struct SimRingWaiter {
    server: Mutex<SimRingServer>,
    now_ns: Mutex<u64>,
}

impl SimRingWaiter {
    /// Virtual time: 1 ms per wait.
    pub fn now_ns(&self) -> u64 {
        *self.now_ns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The server, e.g. to inject a fault.
    pub fn server(&self) -> MutexGuard<'_, SimRingServer> {
        self.server.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Waiter for SimRingWaiter {
    fn wait(&self, _ready: &mut dyn FnMut() -> bool, deadline_ns: Option<u64>) -> bool {
        let mut now = self.now_ns.lock().unwrap_or_else(|e| e.into_inner());
        *now += 1_000_000;
        let in_time = deadline_ns.is_none_or(|d| *now < d);
        drop(now);
        self.server().step();
        in_time
    }

    fn notify_peer(&self) -> Result<(), XenError> {
        self.server().step();
        Ok(())
    }
}

/// The real client over simulated rings, served by `conn`.
pub type SimRingClient = Client<Arc<ByteRing>, SimRingWaiter>;

/// Connects a real [`Client`] to `conn` through a pair of [`ByteRing`]s
/// (indices starting at `start`, to exercise their wrap).
pub fn ring_client(conn: SimXs, start: u32) -> SimRingClient {
    let req = Arc::new(ByteRing::new(start));
    let rsp = Arc::new(ByteRing::new(start));
    let server = SimRingServer::new(conn, req.clone(), rsp.clone());
    Client::new(
        req,
        rsp,
        SimRingWaiter {
            server: Mutex::new(server),
            now_ns: Mutex::new(0),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xenstore::transaction;

    fn guest() -> (SimXs, SimXs) {
        let d = SimXenstore::new();
        (d.connect(DomId(5)), d.connect(DomId(0)))
    }

    fn drain(c: &SimXs, token: &str) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(p) = c.next_watch_event(token, Some(0)).unwrap() {
            out.push(p);
        }
        out
    }

    #[test]
    fn tree_operations() {
        let (g, _) = guest();
        assert_eq!(g.read(Tx::NONE, "domid").unwrap(), "5");
        assert_eq!(g.domain_path().unwrap(), "/local/domain/5");
        assert_eq!(g.read(Tx::NONE, "nope"), Err(XsError::NoEnt));
        g.write(Tx::NONE, "device/vif/0/state", "1").unwrap();
        // Parents are created with empty values.
        assert_eq!(g.read(Tx::NONE, "device/vif").unwrap(), "");
        g.mkdir(Tx::NONE, "device/vbd").unwrap();
        g.mkdir(Tx::NONE, "device/vbd").unwrap();
        assert_eq!(g.directory(Tx::NONE, "device").unwrap(), ["vbd", "vif"]);
        assert_eq!(
            g.directory(Tx::NONE, "/local/domain/5").unwrap(),
            ["device", "domid"]
        );
        assert_eq!(g.directory(Tx::NONE, "device/x"), Err(XsError::NoEnt));
        g.rm(Tx::NONE, "device/vif").unwrap();
        assert_eq!(g.read(Tx::NONE, "device/vif/0/state"), Err(XsError::NoEnt));
        // Missing node under an existing parent: fine; missing parent: not.
        g.rm(Tx::NONE, "device/vif").unwrap();
        assert_eq!(g.rm(Tx::NONE, "device/vif/0"), Err(XsError::NoEnt));
        assert_eq!(g.rm(Tx::NONE, "/"), Err(XsError::Inval));
        assert_eq!(g.read(Tx::NONE, "a//b"), Err(XsError::Inval));
    }

    #[test]
    fn watches_fire_on_registration_and_on_changes_at_or_below() {
        let (g, dom0) = guest();
        g.watch("control/shutdown", "sd").unwrap();
        g.watch("/local/domain/5/device", "dev").unwrap();
        assert_eq!(drain(&g, "sd"), ["control/shutdown"]);
        assert_eq!(drain(&g, "dev"), ["/local/domain/5/device"]);
        // Changes by another domain, on the path and below it.
        dom0.write(Tx::NONE, "/local/domain/5/control/shutdown", "poweroff")
            .unwrap();
        dom0.write(Tx::NONE, "/local/domain/5/control/shutdown/x", "1")
            .unwrap();
        dom0.write(Tx::NONE, "/local/domain/5/control", "").unwrap();
        assert_eq!(drain(&g, "sd"), ["control/shutdown", "control/shutdown/x"]);
        g.write(Tx::NONE, "device/vif/0/state", "4").unwrap();
        assert_eq!(drain(&g, "dev"), ["/local/domain/5/device/vif/0/state"]);
        // Removing an ancestor fires watches below it.
        dom0.rm(Tx::NONE, "/local/domain/5/control").unwrap();
        assert_eq!(drain(&g, "sd"), ["control/shutdown"]);
        // Duplicate registration is refused; unwatch stops events.
        assert_eq!(g.watch("control/shutdown", "sd"), Err(XsError::Exist));
        g.unwatch("control/shutdown", "sd").unwrap();
        assert_eq!(g.unwatch("control/shutdown", "sd"), Err(XsError::NoEnt));
        dom0.write(Tx::NONE, "/local/domain/5/control/shutdown", "reboot")
            .unwrap();
        assert!(g.next_watch_event("sd", Some(0)).is_err());
        // Other domains' watches are their own.
        assert!(dom0.next_watch_event("dev", Some(0)).is_err());
    }

    #[test]
    fn a_waiting_thread_wakes_on_a_watch_event() {
        let (g, dom0) = guest();
        g.watch("data", "t").unwrap();
        assert_eq!(drain(&g, "t"), ["data"]);
        let waiter = std::thread::spawn(move || {
            let mut seen = Vec::new();
            while seen.len() < 100 {
                let p = g.next_watch_event("t", None).unwrap().unwrap();
                assert_eq!(p, "data");
                seen.push(g.read(Tx::NONE, "data").unwrap());
            }
            seen
        });
        for i in 0..100 {
            dom0.write(Tx::NONE, "/local/domain/5/data", &i.to_string())
                .unwrap();
        }
        let seen = waiter.join().unwrap();
        assert_eq!(seen.len(), 100);
        assert_eq!(seen.last().unwrap(), "99");
        // A deadline in the past returns at once.
        let (g, _) = guest();
        g.watch("x", "t").unwrap();
        drain(&g, "t");
        let d = g.daemon().now_ns() + 5_000_000;
        assert_eq!(g.next_watch_event("t", Some(d)).unwrap(), None);
    }

    #[test]
    fn transactions_see_their_own_changes_and_fail_on_conflict() {
        let (g, dom0) = guest();
        g.write(Tx::NONE, "counter", "0").unwrap();
        let tx = g.transaction_start().unwrap();
        assert_eq!(g.read(tx, "counter").unwrap(), "0");
        g.write(tx, "counter", "1").unwrap();
        assert_eq!(g.read(tx, "counter").unwrap(), "1");
        assert_eq!(g.read(Tx::NONE, "counter").unwrap(), "0");
        // Someone else changes what the transaction read.
        dom0.write(Tx::NONE, "/local/domain/5/counter", "7")
            .unwrap();
        assert_eq!(g.transaction_end(tx, true), Err(XsError::Again));
        assert_eq!(g.read(Tx::NONE, "counter").unwrap(), "7");
        // Unrelated changes do not conflict; abort discards.
        let tx = g.transaction_start().unwrap();
        g.write(tx, "counter", "8").unwrap();
        dom0.write(Tx::NONE, "/local/domain/0/other", "x").unwrap();
        g.transaction_end(tx, true).unwrap();
        assert_eq!(g.read(Tx::NONE, "counter").unwrap(), "8");
        let tx = g.transaction_start().unwrap();
        g.rm(tx, "counter").unwrap();
        g.transaction_end(tx, false).unwrap();
        assert_eq!(g.read(Tx::NONE, "counter").unwrap(), "8");
        // Ended transactions and other connections' ids are unknown.
        assert_eq!(g.read(tx, "counter"), Err(XsError::NoEnt));
        let tx = g.transaction_start().unwrap();
        assert_eq!(
            dom0.read(tx, "/local/domain/5/counter"),
            Err(XsError::NoEnt)
        );
        g.transaction_end(tx, false).unwrap();
        // A child added under a directory the transaction listed conflicts.
        let tx = g.transaction_start().unwrap();
        g.directory(tx, "/local/domain/5").unwrap();
        dom0.write(Tx::NONE, "/local/domain/5/new", "").unwrap();
        assert_eq!(g.transaction_end(tx, true), Err(XsError::Again));
        assert_eq!(g.daemon().open_transactions(), 0);
    }

    #[test]
    fn committed_transactions_fire_watches_once_committed() {
        let (g, dom0) = guest();
        dom0.watch("/local/domain/5/device", "d").unwrap();
        drain(&dom0, "d");
        let tx = g.transaction_start().unwrap();
        g.write(tx, "device/vif/0/state", "3").unwrap();
        assert!(drain(&dom0, "d").is_empty());
        g.transaction_end(tx, true).unwrap();
        assert_eq!(drain(&dom0, "d"), ["/local/domain/5/device/vif/0/state"]);
    }

    #[test]
    fn transaction_helper_retries_on_eagain() {
        let (g, dom0) = guest();
        g.write(Tx::NONE, "n", "0").unwrap();
        let mut attempts = 0;
        let result = transaction(&g, |tx| {
            attempts += 1;
            let n: u32 = g.read(tx, "n")?.parse().unwrap();
            if attempts <= 3 {
                // Interfere: the commit will conflict.
                dom0.write(Tx::NONE, "/local/domain/5/n", &(n + 100).to_string())
                    .unwrap();
            }
            g.write(tx, "n", &(n + 1).to_string())?;
            Ok(n)
        })
        .unwrap();
        assert_eq!(attempts, 4);
        assert_eq!(result, 300);
        assert_eq!(g.read(Tx::NONE, "n").unwrap(), "301");
        // Always conflicting: gives up with EAGAIN after the bound.
        let mut attempts = 0;
        let r: Result<(), XsError> = transaction(&g, |tx| {
            attempts += 1;
            g.read(tx, "n")?;
            dom0.write(Tx::NONE, "/local/domain/5/n", "x").unwrap();
            Ok(())
        });
        assert_eq!(r, Err(XsError::Again));
        assert_eq!(attempts, crate::xenstore::TRANSACTION_RETRIES + 1);
        // The body's own error aborts without retry.
        let r: Result<(), XsError> = transaction(&g, |tx| g.read(tx, "missing").map(|_| ()));
        assert_eq!(r, Err(XsError::NoEnt));
        assert_eq!(g.daemon().open_transactions(), 0);
    }
}
