//! What a model hook's JS reaches back into while it runs: the write it wraps (`e.next()`)
//! and the open transaction (`e.app`, `$app`). Both live on the Rust stack below the JS
//! call, so they are lent to this thread (a scoped thread-local) for the length of the
//! call; a hook inside a hook lends its own frame over the outer one until it returns.
//! A frame is in use while its write runs: JS that runs meanwhile cannot reach it.

use std::cell::RefCell;

use scoped_tls_hkt::scoped_thread_local;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::records::Record;
use crate::records::write::Tx;

/// A hook's view of what it wraps: a write inside a transaction (model hooks) or a
/// request's whole handling (request hooks, outside any transaction).
pub trait Frame {
    /// `e.next()`: goes on with the record as the hooks left it; answers what the hook
    /// sees afterwards (the record as written, or the request's answer).
    fn next(&mut self, record: Record) -> Result<Record>;
    /// Runs `f` on the open transaction; None when the frame has none.
    fn tx(&mut self, f: &mut dyn FnMut(&mut Tx<'_>) -> Result<Value>) -> Option<Result<Value>>;
    /// Whether `tx` has a transaction to give (asked before the frame is lent).
    fn has_tx(&self) -> bool;
}

scoped_thread_local!(static mut FRAME: for<'a> &'a mut (dyn Frame + 'a));

thread_local! {
    /// The frames lent on this thread, innermost last: whether each holds a transaction.
    /// Their number is the innermost one's depth.
    static FRAMES: RefCell<Vec<bool>> = const { RefCell::new(Vec::new()) };
}

/// Counts a lent frame until the call it was lent for ends.
struct Lend;

impl Drop for Lend {
    fn drop(&mut self) {
        FRAMES.with_borrow_mut(|frames| frames.pop());
    }
}

fn innermost() -> usize {
    FRAMES.with_borrow(Vec::len)
}

/// Lends `frame` to the JS that `f` runs; `f` gets the frame's depth, the number its
/// `e.next()` names it by.
pub fn lend<R>(frame: &mut dyn Frame, f: impl FnOnce(usize) -> R) -> R {
    let depth = FRAMES.with_borrow_mut(|frames| {
        frames.push(frame.has_tx());
        frames.len()
    });
    let _lend = Lend;
    FRAME.set(frame, || f(depth))
}

/// Runs `f` on the innermost frame, when it is `depth` (None: whichever is innermost) and
/// not in use already. None when no frame is lent.
fn with<R>(depth: Option<usize>, f: impl FnOnce(&mut dyn Frame) -> Result<R>) -> Option<Result<R>> {
    let top = innermost();
    if top == 0 {
        return None;
    }
    if depth.is_some_and(|d| d != top) {
        return Some(Err(Error::bad_request(
            "e.next() of an outer hook cannot be called from an inner one.",
        )));
    }
    // Taken out while in use: set again only once its use ends.
    if !FRAME.is_set() {
        return Some(Err(Error::bad_request(
            "This cannot be done while the hook's own write is running.",
        )));
    }
    Some(FRAME.with(|frame| f(frame)))
}

/// `e.next()` of the frame at `depth`.
pub fn next(depth: usize, record: Record) -> Result<Record> {
    with(Some(depth), |frame| frame.next(record)).unwrap_or_else(|| {
        Err(Error::bad_request(
            "e.next() was called after its hook ended.",
        ))
    })
}

/// Whether the innermost hook on this thread holds a transaction.
pub fn in_tx() -> bool {
    FRAMES.with_borrow(|frames| frames.last().copied().unwrap_or(false))
}

/// Runs `f` on the innermost lent transaction; None when the innermost hook holds none
/// (a request hook) or this thread is in no hook.
pub fn tx(f: &mut dyn FnMut(&mut Tx<'_>) -> Result<Value>) -> Option<Result<Value>> {
    if !in_tx() {
        return None;
    }
    match with(None, |frame| Ok(frame.tx(f)))? {
        Ok(answered) => answered,
        Err(e) => Some(Err(e)),
    }
}
