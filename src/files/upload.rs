//! Uploads on their way in: each file is streamed into `storage/.uploads/` with its size
//! limit enforced as the bytes arrive, then fsynced; once its record is written it is moved
//! into the record's folder. A `Staging` cleans up after itself: whatever was not committed
//! (a rejected upload, a failed or rolled-back request, a panic) is removed when it drops.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;

use super::bucket::Bucket;
use super::mime::{self, HEAD_LEN};
use super::names;
use super::store::{self, Placed, Storage};
use crate::error::Result;

/// A file received for a record.
#[derive(Debug)]
pub struct Staged {
    /// The form key it came under: `docs`, `docs+` or `+docs`.
    pub key: String,
    /// The file field it is for.
    pub field: String,
    /// The client's name for it (its last path segment), for error messages.
    pub original_name: String,
    /// The name it is stored under.
    pub name: String,
    /// Bytes received; past the field's limit, counting stopped at limit + 1.
    pub size: u64,
    /// Sniffed from the content.
    pub mime: String,
    /// Where the bytes wait; None once moved, or when they were not kept (too large, or
    /// one of more files than the field may hold).
    temp: Option<PathBuf>,
}

impl Staged {
    /// An upload that is refused whatever happens (too many for its field): it is
    /// counted, so validation reports it, but its bytes are not kept.
    pub fn discarded(key: &str, field: &str, original_name: &str) -> Self {
        Self {
            key: key.to_owned(),
            field: field.to_owned(),
            original_name: names::base_name(original_name).to_owned(),
            name: names::stored_name(original_name, ""),
            size: 0,
            mime: String::new(),
            temp: None,
        }
    }

    /// Applies its field's size limit after the fact (a batch's files arrive before anyone
    /// knows their collection): past it, the bytes go and only the excess is recorded, as
    /// for a file refused while it streamed in.
    pub fn cap(&mut self, limit: u64) {
        if self.size > limit {
            self.size = limit.saturating_add(1);
            self.discard();
        }
    }

    /// Passed on as PocketBase's batch passes a file to the request it is for: re-sent
    /// under its stored name, which the record then takes as the client's name and stores
    /// under a name of its own.
    pub fn pass_on(&mut self) {
        self.original_name = std::mem::take(&mut self.name);
        self.name = names::stored_name(&self.original_name, "");
    }

    /// Lets the bytes go (one file more than its field holds); it stays counted.
    pub fn discard(&mut self) {
        if let Some(temp) = self.temp.take() {
            let _ = fs::remove_file(temp);
        }
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        self.discard();
    }
}

/// The files of one request.
pub struct Staging {
    storage: Storage,
    files: Vec<Staged>,
    placed: Vec<Placed>,
    committed: bool,
    ahead: Option<Ahead>,
}

/// Files sent to the bucket before the write (see `Staging::send_ahead`).
struct Ahead {
    bucket: Arc<Bucket>,
    collection_id: String,
    record_id: String,
    /// Names sent and not placed yet.
    sent: Vec<String>,
}

impl Staging {
    pub fn new(storage: &Storage) -> Self {
        Self {
            storage: storage.clone(),
            files: Vec::new(),
            placed: Vec::new(),
            committed: false,
            ahead: None,
        }
    }

    pub fn files(&self) -> &[Staged] {
        &self.files
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Starts receiving a file for `field` under form key `key`, keeping at most `limit`
    /// bytes of it.
    pub fn begin(
        &self,
        key: &str,
        field: &str,
        original_name: &str,
        limit: u64,
    ) -> Result<Incoming> {
        let path = self
            .storage
            .uploads_dir()
            .join(format!("{}.part", crate::ids::secret(24)));
        let file = File::create_new(&path)?;
        Ok(Incoming {
            key: key.to_owned(),
            field: field.to_owned(),
            original_name: names::base_name(original_name).to_owned(),
            out: Some(BufWriter::with_capacity(64 * 1024, file)),
            path,
            head: Vec::new(),
            size: 0,
            limit,
        })
    }

    pub fn push(&mut self, staged: Staged) {
        self.files.push(staged);
    }

    /// Takes out the uploads `wanted` picks, in the order they came; each removes its bytes
    /// when dropped unplaced, so none is left behind however the caller ends.
    pub fn take(&mut self, mut wanted: impl FnMut(&Staged) -> bool) -> Vec<Staged> {
        let (taken, kept) = std::mem::take(&mut self.files)
            .into_iter()
            .partition(|f| wanted(f));
        self.files = kept;
        taken
    }

    /// Drops the bytes of earlier uploads for `field` (a single-file field keeps only the
    /// last one sent, as PocketBase does), so a flood of them never fills the disk.
    pub fn drop_earlier(&mut self, field: &str) {
        for f in self.files.iter_mut().filter(|f| f.field == field) {
            f.discard();
        }
    }

    /// How many uploads `field` received so far.
    pub fn count(&self, field: &str) -> usize {
        self.files.iter().filter(|f| f.field == field).count()
    }

    /// When files go to a bucket, uploads them now to where record `record_id` of
    /// `collection_id` keeps them, so the write itself need not wait on the bucket (it
    /// holds the only writer). Blocking, on the bucket's time: call it before the write.
    /// What the record does not take, or all of it if the write fails, is removed again.
    pub fn send_ahead(&mut self, collection_id: &str, record_id: &str) -> Result<()> {
        let Some(bucket) = self.storage.bucket() else {
            return Ok(());
        };
        if !names::is_plain(collection_id) || !names::is_plain(record_id) {
            return Ok(());
        }
        let ahead = self.ahead.insert(Ahead {
            bucket: bucket.clone(),
            collection_id: collection_id.to_owned(),
            record_id: record_id.to_owned(),
            sent: Vec::new(),
        });
        for f in &self.files {
            let Some(temp) = &f.temp else { continue };
            if !names::is_plain(&f.name) {
                continue;
            }
            let key = store::key(collection_id, record_id, &f.name);
            // Listed first: a part that went up before a failure is removed with the rest.
            ahead.sent.push(f.name.clone());
            bucket.put_file(&key, temp, &f.mime)?;
        }
        Ok(())
    }

    /// The record id the files were sent ahead for, if they were.
    pub fn ahead_id(&self) -> Option<&str> {
        self.ahead.as_ref().map(|a| a.record_id.as_str())
    }

    /// Moves the uploads named in `names` into the record's folder (files sent ahead for
    /// this record are there already). Until `commit`, they are removed again when the
    /// staging drops.
    pub fn place(&mut self, collection_id: &str, record_id: &str, names: &[String]) -> Result<()> {
        let mut ahead = self
            .ahead
            .as_mut()
            .filter(|a| a.collection_id == collection_id && a.record_id == record_id);
        for f in self.files.iter_mut().filter(|f| names.contains(&f.name)) {
            if let Some(a) = ahead.as_deref_mut()
                && let Some(i) = a.sent.iter().position(|n| *n == f.name)
            {
                a.sent.remove(i);
                let key = store::key(collection_id, record_id, &f.name);
                self.placed.push(Placed::Remote(a.bucket.clone(), key));
                f.discard();
                continue;
            }
            let Some(temp) = f.temp.take() else { continue };
            match self
                .storage
                .place(&temp, collection_id, record_id, &f.name, &f.mime)
            {
                Ok(dest) => self.placed.push(dest),
                Err(e) => {
                    let _ = fs::remove_file(&temp);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// The record is committed: placed files stay. Uploads it did not take are removed.
    pub fn commit(mut self) {
        self.committed = true;
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        // Each upload not placed removes its own bytes (`Staged`'s drop); what was sent
        // ahead and not placed leaves the bucket.
        if let Some(a) = self.ahead.take() {
            for name in a.sent {
                let key = store::key(&a.collection_id, &a.record_id, &name);
                self.storage.unplace(Placed::Remote(a.bucket.clone(), key));
            }
        }
        if !self.committed {
            for placed in self.placed.drain(..) {
                self.storage.unplace(placed);
            }
        }
    }
}

/// One file being received. Dropped unfinished (say, the body was cut off), it removes
/// what it wrote.
pub struct Incoming {
    key: String,
    field: String,
    original_name: String,
    out: Option<BufWriter<File>>,
    path: PathBuf,
    head: Vec<u8>,
    size: u64,
    limit: u64,
}

impl Incoming {
    /// Takes the next chunk. Past the limit the bytes are only counted (up to limit + 1)
    /// and what was written is removed at once.
    pub fn write(&mut self, chunk: &[u8]) -> Result<()> {
        if self.head.len() < HEAD_LEN {
            let take = (HEAD_LEN - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.size = self.size.saturating_add(chunk.len() as u64);
        if self.size > self.limit {
            self.size = self.limit + 1;
            if self.out.take().is_some() {
                let _ = fs::remove_file(&self.path);
            }
            return Ok(());
        }
        if let Some(out) = self.out.as_mut() {
            out.write_all(chunk)?;
        }
        Ok(())
    }

    pub fn too_large(&self) -> bool {
        self.size > self.limit
    }

    /// Flushes and fsyncs the file (blocking), names it and hands it over.
    pub fn finish(mut self) -> Result<Staged> {
        let (mime, ext) = mime::sniff(&self.head);
        let temp = match self.out.take() {
            Some(out) => {
                let file = out.into_inner().map_err(|e| e.into_error())?;
                file.sync_all()?;
                Some(self.path.clone())
            }
            None => None,
        };
        Ok(Staged {
            key: std::mem::take(&mut self.key),
            field: std::mem::take(&mut self.field),
            name: names::stored_name(&self.original_name, ext),
            original_name: std::mem::take(&mut self.original_name),
            size: self.size,
            mime,
            temp,
        })
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn storage() -> (tempfile::TempDir, Storage) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let s = Storage::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        (dir, s)
    }

    fn leftovers(s: &Storage) -> usize {
        fs::read_dir(s.uploads_dir()).map_or(0, |d| d.count())
    }

    #[test]
    fn uncommitted_uploads_leave_nothing() -> Result<()> {
        let (_dir, s) = storage();
        let mut staging = Staging::new(&s);
        let mut a = staging.begin("docs", "docs", "a.txt", 100)?;
        a.write(b"hello")?;
        let a = a.finish()?;
        let name = a.name.clone();
        staging.push(a);
        staging.place("c1", "r1", std::slice::from_ref(&name))?;
        assert!(s.root().join("c1/r1").join(&name).exists());
        drop(staging);
        assert!(!s.root().join("c1/r1").exists());
        assert_eq!(leftovers(&s), 0);
        Ok(())
    }

    #[test]
    fn oversized_and_cut_off_uploads_are_removed_at_once() -> Result<()> {
        let (_dir, s) = storage();
        let staging = Staging::new(&s);
        let mut big = staging.begin("docs", "docs", "big.bin", 4)?;
        big.write(b"12345678")?;
        assert!(big.too_large());
        assert_eq!(leftovers(&s), 0);
        let staged = big.finish()?;
        assert_eq!(staged.size, 5);
        let mut cut = staging.begin("docs", "docs", "cut.bin", 100)?;
        cut.write(b"12")?;
        drop(cut);
        assert_eq!(leftovers(&s), 0);
        Ok(())
    }

    #[test]
    fn committed_uploads_stay() -> Result<()> {
        let (_dir, s) = storage();
        let mut staging = Staging::new(&s);
        for n in ["a.txt", "b.txt"] {
            let mut f = staging.begin("docs", "docs", n, 100)?;
            f.write(b"x")?;
            let f = f.finish()?;
            staging.push(f);
        }
        let keep = vec![staging.files()[0].name.clone()];
        staging.place("c1", "r1", &keep)?;
        staging.commit();
        assert!(s.root().join("c1/r1").join(&keep[0]).exists());
        assert_eq!(leftovers(&s), 0, "the unused upload is gone");
        Ok(())
    }
}
