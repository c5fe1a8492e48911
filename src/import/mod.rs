//! Bringing another backend's data dir into hearth's shape. Reads the source without ever
//! opening its files for writing, and writes only into the folder it is given; it knows
//! nothing of HTTP and never touches a running server's data.

pub mod pocketbase;
