//! A response body read from a blocking source (a file on disk, an S3 object's body)
//! with one read always ahead: while the socket takes one chunk, the blocking pool reads
//! the next, so a download costs the slower of the two rather than their sum. It holds at
//! most two chunks, whatever the size of what it sends.

use std::io::{self, Read};

use actix_web::rt::task::{JoinHandle, spawn_blocking};
use actix_web::web::Bytes;
use futures_util::Stream;

/// What one read hands back: the source, to read on from, and the bytes it read.
type Read1<R> = JoinHandle<io::Result<(R, Vec<u8>)>>;

/// Streams `len` bytes of `source`, `chunk` bytes per blocking read. A source that ends
/// before `len` ends the body with an error (the client sees it short).
pub fn stream<R: Read + Send + 'static>(
    source: R,
    len: u64,
    chunk: usize,
) -> impl Stream<Item = Result<Bytes, actix_web::Error>> {
    let first = (len > 0).then(|| read(source, want(chunk, len)));
    futures_util::stream::unfold((first, len), move |(pending, left)| async move {
        let ended = |e: io::Error| Some((Err(e.into()), (None, 0)));
        let (source, buf) = match pending?.await {
            Ok(Ok(read)) => read,
            Ok(Err(e)) => return ended(e),
            Err(_) => return ended(io::Error::other("a read of the body stopped")),
        };
        if buf.is_empty() {
            return ended(io::ErrorKind::UnexpectedEof.into());
        }
        let left = left.saturating_sub(buf.len() as u64);
        let next = (left > 0).then(|| read(source, want(chunk, left)));
        Some((Ok(Bytes::from(buf)), (next, left)))
    })
}

fn want(chunk: usize, left: u64) -> usize {
    usize::try_from(left).map_or(chunk, |left| left.min(chunk))
}

/// Starts reading up to `want` bytes of `source` on the blocking pool.
fn read<R: Read + Send + 'static>(mut source: R, want: usize) -> Read1<R> {
    spawn_blocking(move || {
        let mut buf = Vec::with_capacity(want);
        (&mut source).take(want as u64).read_to_end(&mut buf)?;
        Ok((source, buf))
    })
}

/// A file read from `offset`, opened on the first read (on the blocking pool, not on the
/// async worker that builds the response).
pub struct FileFrom {
    path: std::path::PathBuf,
    offset: u64,
    file: Option<std::fs::File>,
}

impl FileFrom {
    pub fn new(path: std::path::PathBuf, offset: u64) -> Self {
        FileFrom {
            path,
            offset,
            file: None,
        }
    }
}

impl Read for FileFrom {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use std::io::{Seek, SeekFrom};
        let file = match &mut self.file {
            Some(file) => file,
            None => {
                let mut file = std::fs::File::open(&self.path)?;
                file.seek(SeekFrom::Start(self.offset))?;
                self.file.insert(file)
            }
        };
        file.read(buf)
    }
}
