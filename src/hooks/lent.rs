//! What a model hook's JS reaches back into while it runs: the write it wraps (`e.next()`)
//! and the open transaction (`e.app`, `$app`). Both live on the Rust stack below the JS
//! call, so they are lent to this thread (a scoped thread-local) for the length of the
//! call; a hook inside a hook lends its own frame over the outer one until it returns.
//! A frame is in use while its write runs: JS that runs meanwhile cannot reach it.

use std::cell::Cell;

use scoped_tls_hkt::scoped_thread_local;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::records::Record;
use crate::records::write::Tx;

/// A model hook's view of the write it wraps.
pub trait Frame {
    /// `e.next()`: makes the write with the record as the hooks left it.
    fn next(&mut self, record: Record) -> Result<Record>;
    /// Runs `f` on the open transaction.
    fn tx(&mut self, f: &mut dyn FnMut(&mut Tx<'_>) -> Result<Value>) -> Result<Value>;
}

scoped_thread_local!(static mut FRAME: for<'a> &'a mut (dyn Frame + 'a));

thread_local! {
    /// How many frames are lent on this thread: the innermost one's depth.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Counts a lent frame until the call it was lent for ends.
struct Lend;

impl Drop for Lend {
    fn drop(&mut self) {
        DEPTH.set(DEPTH.get() - 1);
    }
}

/// Lends `frame` to the JS that `f` runs; `f` gets the frame's depth, the number its
/// `e.next()` names it by.
pub fn lend<R>(frame: &mut dyn Frame, f: impl FnOnce(usize) -> R) -> R {
    DEPTH.set(DEPTH.get() + 1);
    let _lend = Lend;
    let depth = DEPTH.get();
    FRAME.set(frame, || f(depth))
}

/// Runs `f` on the innermost frame, when it is `depth` (None: whichever is innermost) and
/// not in use already. None when no frame is lent.
fn with<R>(depth: Option<usize>, f: impl FnOnce(&mut dyn Frame) -> Result<R>) -> Option<Result<R>> {
    let top = DEPTH.get();
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

/// Runs `f` on the innermost lent transaction; None when this thread is in no model hook.
pub fn tx(f: &mut dyn FnMut(&mut Tx<'_>) -> Result<Value>) -> Option<Result<Value>> {
    with(None, |frame| frame.tx(f))
}
