//! Thumbnails, made once per size on first request and kept beside the original
//! (`thumbs_<name>/<size>_<name>`), in PocketBase's sizes: `WxH` (crop from the centre),
//! `WxHt` / `WxHb` (crop from top / bottom), `WxHf` (fit inside), `0xH` and `Wx0` (one side,
//! aspect kept). Decoding is bounded in memory and in how many run at once.

use std::fs;
use std::io::BufWriter;
use std::path::Path;
use std::sync::{Condvar, Mutex};

use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

use crate::error::{Error, Result};

/// The size every file field offers, listed or not.
pub const DEFAULT_SIZE: &str = "100x100";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Center,
    Top,
    Bottom,
    Fit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub width: u32,
    pub height: u32,
    pub mode: Mode,
}

/// Parses `WxH[t|b|f]`; None for anything else, and for `0x0`.
pub fn parse(spec: &str) -> Option<Size> {
    let (w, rest) = spec.split_once('x')?;
    let (h, mode) = match rest.as_bytes().last()? {
        b't' => (&rest[..rest.len() - 1], Mode::Top),
        b'b' => (&rest[..rest.len() - 1], Mode::Bottom),
        b'f' => (&rest[..rest.len() - 1], Mode::Fit),
        _ => (rest, Mode::Center),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(w) || !digits(h) {
        return None;
    }
    let (width, height) = (w.parse().ok()?, h.parse().ok()?);
    (width > 0 || height > 0).then_some(Size {
        width,
        height,
        mode,
    })
}

/// True when `spec` may be asked for on a field listing `thumbs`.
pub fn is_offered(spec: &str, thumbs: &[String]) -> bool {
    spec == DEFAULT_SIZE || thumbs.iter().any(|t| t == spec)
}

/// At most this many thumbnails are made at once; decoding a large image takes memory.
fn max_parallel() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()) + 2
}

static RUNNING: Mutex<usize> = Mutex::new(0);
static FREED: Condvar = Condvar::new();

struct Permit;

impl Permit {
    fn take() -> Self {
        let mut running = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
        while *running >= max_parallel() {
            running = FREED.wait(running).unwrap_or_else(|p| p.into_inner());
        }
        *running += 1;
        Permit
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut running = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
        *running = running.saturating_sub(1);
        FREED.notify_one();
    }
}

/// The image in `original` (its first frame), turned upright, and the format it is in.
fn decode(original: &Path) -> Result<(DynamicImage, Option<ImageFormat>)> {
    let mut limits = Limits::default();
    limits.max_image_width = Some(16_384);
    limits.max_image_height = Some(16_384);
    limits.max_alloc = Some(256 * 1024 * 1024);
    let mut reader = ImageReader::open(original)?.with_guessed_format()?;
    let format = reader.format();
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(image_error)?;
    let orientation = decoder.orientation().ok();
    let mut img = DynamicImage::from_decoder(decoder).map_err(image_error)?;
    if let Some(o) = orientation {
        img.apply_orientation(o);
    }
    Ok((img, format))
}

fn image_error(e: image::ImageError) -> Error {
    Error::internal(format!("image: {e}"))
}

/// Scales `img` to cover `w`x`h`, then cuts the overflow away at the anchor.
fn fill(img: &DynamicImage, w: u32, h: u32, mode: Mode) -> DynamicImage {
    let (iw, ih) = (img.width().max(1) as f64, img.height().max(1) as f64);
    let scale = (w as f64 / iw).max(h as f64 / ih);
    let (sw, sh) = (
        ((iw * scale).round() as u32).max(w),
        ((ih * scale).round() as u32).max(h),
    );
    let scaled = img.resize_exact(sw, sh, FilterType::Triangle);
    let x = (sw - w) / 2;
    let y = match mode {
        Mode::Top => 0,
        Mode::Bottom => sh - h,
        _ => (sh - h) / 2,
    };
    scaled.crop_imm(x, y, w, h)
}

pub fn render(img: &DynamicImage, size: Size) -> DynamicImage {
    let (w, h) = (size.width, size.height);
    if w == 0 || h == 0 {
        let (iw, ih) = (img.width().max(1) as f64, img.height().max(1) as f64);
        let (w, h) = if w == 0 {
            (((iw * h as f64 / ih).round() as u32).max(1), h)
        } else {
            (w, ((ih * w as f64 / iw).round() as u32).max(1))
        };
        return img.resize_exact(w, h, FilterType::Triangle);
    }
    match size.mode {
        // Fitting never enlarges, as PocketBase's does not.
        Mode::Fit if img.width() <= w && img.height() <= h => img.clone(),
        Mode::Fit => img.resize(w, h, FilterType::Triangle),
        mode => fill(img, w, h, mode),
    }
}

/// The format a thumbnail of an image in `original` is written in, as PocketBase picks it:
/// JPEG and GIF stay what they are, everything else (WebP too) becomes PNG.
pub fn format_of(original: Option<ImageFormat>) -> ImageFormat {
    match original {
        Some(ImageFormat::Jpeg) => ImageFormat::Jpeg,
        Some(ImageFormat::Gif) => ImageFormat::Gif,
        _ => ImageFormat::Png,
    }
}

/// PocketBase's (Go's `imaging`) JPEG quality.
const JPEG_QUALITY: u8 = 95;

/// Encodes `img` as PocketBase's encoders do: JPEG at quality 95; PNG at the default zlib
/// level with a filter picked per row, 8-bit RGB when no pixel is see-through (as Go writes
/// an opaque image) and RGBA otherwise; GIF as the `image` crate quantises it.
fn encode(img: &DynamicImage, format: ImageFormat, w: &mut impl std::io::Write) -> Result<()> {
    use image::codecs::{
        jpeg::JpegEncoder, png::CompressionType, png::FilterType, png::PngEncoder,
    };
    match format {
        ImageFormat::Jpeg => img
            .to_rgb8()
            .write_with_encoder(JpegEncoder::new_with_quality(w, JPEG_QUALITY)),
        ImageFormat::Png => {
            let encoder =
                PngEncoder::new_with_quality(w, CompressionType::Level(6), FilterType::Adaptive);
            let rgba = img.to_rgba8();
            if rgba.pixels().all(|p| p.0[3] == u8::MAX) {
                img.to_rgb8().write_with_encoder(encoder)
            } else {
                rgba.write_with_encoder(encoder)
            }
        }
        _ => {
            let mut buf = std::io::Cursor::new(Vec::new());
            img.to_rgba8()
                .write_to(&mut buf, format)
                .map_err(image_error)?;
            w.write_all(buf.get_ref()).map_err(Error::from)?;
            return Ok(());
        }
    }
    .map_err(image_error)
}

/// Makes the thumbnail of `original` at `thumb`, in the format [`format_of`] picks, written
/// whole or not at all.
pub fn create(original: &Path, thumb: &Path, size: Size) -> Result<()> {
    let _permit = Permit::take();
    let (img, format) = decode(original)?;
    let out = render(&img, size);
    let dir = thumb
        .parent()
        .ok_or_else(|| Error::internal("thumbnail has no folder"))?;
    fs::create_dir_all(dir)?;
    let temp = dir.join(format!(".{}.part", crate::ids::secret(16)));
    let written = (|| -> Result<()> {
        let file = fs::File::create_new(&temp)?;
        let mut w = BufWriter::new(file);
        encode(&out, format_of(format), &mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&temp, thumb)?;
        Ok(())
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_as_pocketbase_writes_them() {
        let s = |w, h, mode| {
            Some(Size {
                width: w,
                height: h,
                mode,
            })
        };
        assert_eq!(parse("100x50"), s(100, 50, Mode::Center));
        assert_eq!(parse("100x50t"), s(100, 50, Mode::Top));
        assert_eq!(parse("100x50b"), s(100, 50, Mode::Bottom));
        assert_eq!(parse("100x50f"), s(100, 50, Mode::Fit));
        assert_eq!(parse("0x50"), s(0, 50, Mode::Center));
        for bad in ["0x0", "x50", "100x", "100x50z", "-1x5", "ax5", "100X50", ""] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn every_mode_gives_the_asked_dimensions() {
        let img = DynamicImage::new_rgb8(80, 40);
        let dims = |spec: &str| {
            let out = render(&img, parse(spec).unwrap_or_else(|| panic!("{spec}")));
            (out.width(), out.height())
        };
        assert_eq!(dims("50x50"), (50, 50));
        assert_eq!(dims("50x50t"), (50, 50));
        assert_eq!(dims("50x50b"), (50, 50));
        assert_eq!(dims("50x50f"), (50, 25));
        assert_eq!(dims("20x0"), (20, 10));
        assert_eq!(dims("0x20"), (40, 20));
    }
}
