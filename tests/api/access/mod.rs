//! Access control through every path a caller's expression reaches data: what a filter
//! can tell a caller must never exceed what that caller could read directly. Run on hearth
//! and, side by side on the same world, on PocketBase 0.40.6.

mod matrix;
mod oracle;
mod reads;
pub mod world;
mod writes;
