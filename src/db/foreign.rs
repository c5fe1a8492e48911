//! Recognises a data dir another program wrote, before hearth opens (and so changes) any of
//! its files: today PocketBase's `pb_data`, which `hearth import pocketbase` converts.
//! Opens nothing for writing.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

/// True when `dir/data.db` is PocketBase's: its `_migrations` table records PocketBase's
/// own Go migrations (`1640988000_init.go`, ...), which hearth never writes.
pub fn is_pocketbase(dir: &Path) -> bool {
    let path = dir.join("data.db");
    if !path.is_file() {
        return false;
    }
    let Ok(conn) = open_read_only(&path) else {
        return false;
    };
    conn.query_row(
        "SELECT count(*) FROM _migrations WHERE file LIKE '%.go'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .is_ok_and(|n| n > 0)
}

/// Opens another program's SQLite file without writing anything beside it. A read-only
/// connection to a WAL database with no `-wal` file would still create `-wal` and `-shm`
/// files (and could not remove them): without a `-wal` everything committed is in the main
/// file, so it is opened `immutable` instead, which creates nothing. With a `-wal` (its
/// owner is running, or was stopped uncleanly) it is opened read-only as usual, to read
/// the WAL too.
pub fn open_read_only(path: &Path) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    if Path::new(&wal).exists() {
        return Connection::open_with_flags(path, flags);
    }
    let escaped: String = path
        .to_string_lossy()
        .chars()
        .map(|c| match c {
            '%' => "%25".to_owned(),
            '?' => "%3f".to_owned(),
            '#' => "%23".to_owned(),
            c => c.to_string(),
        })
        .collect();
    Connection::open_with_flags(
        format!("file:{escaped}?immutable=1"),
        flags | OpenFlags::SQLITE_OPEN_URI,
    )
}

/// The one-line refusal for a PocketBase data dir, naming the command that converts it.
pub fn pocketbase_refusal(dir: &Path) -> crate::error::Error {
    crate::error::Error::internal(format!(
        "{} is PocketBase data, which hearth does not open in place: convert it with \
         `hearth import pocketbase {} --dir NEW_DIR`, then serve NEW_DIR",
        dir.display(),
        dir.display()
    ))
}
