//! Photos in any format the `image` crate reads come out upright, 8-bit RGB.

use image::{DynamicImage, GrayImage, ImageBuffer, Luma, Rgb, RgbImage, Rgba, RgbaImage};
use maskscope::face::{ImageError, read_photo, read_rgb};

/// A JPEG with an EXIF APP1 segment whose Orientation tag is `orientation`.
fn jpeg_with_orientation(image: &RgbImage, orientation: u16) -> Vec<u8> {
    let mut jpeg = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut jpeg), image::ImageFormat::Jpeg).unwrap();
    // TIFF header (little endian), one IFD entry: tag 0x0112 SHORT count 1 value, no next IFD.
    let mut tiff = b"II*\0\x08\0\0\0".to_vec();
    tiff.extend([1, 0]);
    tiff.extend([0x12, 0x01, 3, 0, 1, 0, 0, 0]);
    tiff.extend(orientation.to_le_bytes());
    tiff.extend([0, 0, 0, 0, 0, 0]);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend(tiff);
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend(((app1.len() + 2) as u16).to_be_bytes());
    out.extend(app1);
    out.extend(&jpeg[2..]);
    out
}

#[test]
fn exif_rotated_jpeg_is_turned_upright() {
    let dir = tempfile::tempdir().unwrap();
    // 40 wide, 20 high, left half red: stored sideways with "rotate 90 clockwise to view".
    let stored = RgbImage::from_fn(40, 20, |x, _| if x < 20 { Rgb([250, 0, 0]) } else { Rgb([0, 0, 250]) });
    let path = dir.path().join("phone.jpg");
    std::fs::write(&path, jpeg_with_orientation(&stored, 6)).unwrap();
    let upright = read_rgb(&path).unwrap();
    assert_eq!(upright.dimensions(), (20, 40));
    // After a clockwise turn the stored left half is on top.
    assert!(upright.get_pixel(10, 5).0[0] > 200, "{:?}", upright.get_pixel(10, 5));
    assert!(upright.get_pixel(10, 35).0[2] > 200, "{:?}", upright.get_pixel(10, 35));
}

#[test]
fn grey_sixteen_bit_rgba_and_other_formats_become_rgb() {
    let dir = tempfile::tempdir().unwrap();
    let grey = DynamicImage::ImageLuma8(GrayImage::from_pixel(8, 6, Luma([90])));
    let deep: ImageBuffer<Rgb<u16>, Vec<u16>> = ImageBuffer::from_pixel(8, 6, Rgb([65535, 0, 32768]));
    let rgba = DynamicImage::ImageRgba8(RgbaImage::from_pixel(8, 6, Rgba([10, 20, 30, 128])));
    let cases: Vec<(&str, DynamicImage, [u8; 3])> = vec![
        ("grey.png", grey.clone(), [90, 90, 90]),
        ("deep.png", DynamicImage::ImageRgb16(deep), [255, 0, 128]),
        ("alpha.png", rgba.clone(), [10, 20, 30]),
        ("grey.bmp", grey, [90, 90, 90]),
        ("alpha.webp", rgba.clone(), [10, 20, 30]),
        ("frame.gif", rgba, [10, 20, 30]),
    ];
    for (name, image, expected) in cases {
        let path = dir.path().join(name);
        image.save(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let rgb = read_rgb(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(rgb.dimensions(), (8, 6), "{name}");
        let got = rgb.get_pixel(3, 3).0;
        for c in 0..3 {
            assert!((got[c] as i32 - expected[c] as i32).abs() <= 2, "{name}: {got:?} vs {expected:?}");
        }
    }
}

#[test]
fn undecodable_and_missing_files_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.jpg");
    std::fs::write(&broken, [0xFF, 0xD8, 0xFF, 0x00, 1, 2, 3]).unwrap();
    let err = read_rgb(&broken).unwrap_err();
    assert!(matches!(err, ImageError::Decode { .. }), "{err}");
    assert!(err.to_string().contains("broken.jpg"), "{err}");
    let err = read_rgb(&dir.path().join("absent.png")).unwrap_err();
    assert!(err.to_string().contains("absent.png"), "{err}");
}

/// A 54-byte BMP header declaring `width` x `height` at 24 bits, with no pixels after it.
fn bmp_header(width: u32, height: u32) -> Vec<u8> {
    let row = (width * 3).div_ceil(4) * 4;
    let size = 54 + row * height;
    let mut b = Vec::new();
    b.extend_from_slice(b"BM");
    b.extend_from_slice(&size.to_le_bytes());
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(&54u32.to_le_bytes());
    b.extend_from_slice(&40u32.to_le_bytes());
    b.extend_from_slice(&width.to_le_bytes());
    b.extend_from_slice(&height.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&24u16.to_le_bytes());
    b.extend_from_slice(&[0; 24]);
    b
}

/// Pipes, devices and folders are refused without reading (a FIFO blocked forever, /dev/zero
/// was read until 8 GB), and so is a header that claims more pixels than a photo has, before
/// any pixel is decoded (13 KB claiming 16384 x 16384 took 3.9 GB).
#[test]
fn non_files_and_huge_declared_sizes_are_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let err = read_rgb(dir.path()).unwrap_err();
    assert!(matches!(err, ImageError::NotAFile { .. }), "{err}");
    #[cfg(unix)]
    {
        let err = read_rgb(std::path::Path::new("/dev/zero")).unwrap_err();
        assert!(matches!(err, ImageError::NotAFile { .. }) && err.to_string().contains("/dev/zero"), "{err}");
        let fifo = dir.path().join("photo.jpg");
        let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        let err = read_rgb(&fifo).unwrap_err();
        assert!(matches!(err, ImageError::NotAFile { .. }) && err.to_string().contains("photo.jpg"), "{err}");
    }
    let huge = dir.path().join("huge.bmp");
    std::fs::write(&huge, bmp_header(12_000, 12_000)).unwrap();
    let err = read_rgb(&huge).unwrap_err();
    assert!(matches!(err, ImageError::TooLarge { width: 12_000, height: 12_000, .. }), "{err}");
    // A small declared size gets as far as decoding the (missing) pixels.
    let small = dir.path().join("small.bmp");
    std::fs::write(&small, bmp_header(40, 30)).unwrap();
    assert!(matches!(read_rgb(&small).unwrap_err(), ImageError::Decode { .. }));
}

/// A credited LFW photo (a camera JPEG, baseline Huffman) from the fixtures.
fn lfw_jpeg() -> (std::path::PathBuf, Vec<u8>) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lfw/images/Aaron_Guiel");
    let path = std::fs::read_dir(dir).unwrap().next().unwrap().unwrap().path();
    let bytes = std::fs::read(&path).unwrap();
    (path, bytes)
}

/// A truncated JPEG decodes (the lost rows come out grey): every cut past the headers is either
/// refused or reported as damaged, naming the file under --strict. The intact photo is clean.
#[test]
fn a_truncated_jpeg_is_reported_as_damaged() {
    let (source, bytes) = lfw_jpeg();
    let intact = read_photo(&source).unwrap();
    assert_eq!(intact.damage, None, "an intact camera JPEG is not damaged");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.jpg");
    let (mut refused, mut damaged) = (0, 0);
    for cut in (64..bytes.len() - 2).step_by(97) {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        match read_photo(&path) {
            Err(_) => refused += 1,
            Ok(photo) => {
                let why =
                    photo.damage.clone().unwrap_or_else(|| panic!("cut at {cut} of {} passed as intact", bytes.len()));
                damaged += 1;
                let text = photo.checked(&path, true).unwrap_err().to_string();
                assert!(text.contains("cut.jpg") && text.contains(&why), "{text}");
            }
        }
    }
    assert!(damaged > 0, "cuts that decode exist ({refused} refused)");
}

/// Bytes of the coded data turned into a marker (what a flipped bit does when it makes a 0xFF
/// byte meet a marker code) are reported. JPEG carries no checksum, so a flip that leaves the
/// Huffman stream valid changes pixels without a trace any decoder could find.
#[test]
fn a_marker_inside_the_coded_data_is_reported() {
    let (_, bytes) = lfw_jpeg();
    let scan = bytes.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap() + 20;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("marker.jpg");
    for (i, marker) in [0xC4u8, 0xDB, 0xDA, 0xC0].into_iter().enumerate() {
        let at = scan + (i + 1) * (bytes.len() - scan) / 6;
        let mut damaged = bytes.clone();
        damaged[at..at + 2].copy_from_slice(&[0xFF, marker]);
        std::fs::write(&path, &damaged).unwrap();
        match read_photo(&path) {
            Err(_) => {}
            Ok(photo) => assert!(photo.damage.is_some(), "marker 0x{marker:02X} at byte {at} passed as intact"),
        }
    }
}
