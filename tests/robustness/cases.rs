//! The generators: each writes its damaged inputs under a folder and returns the cases that read
//! them. Everything is derived from the committed fixtures and the seed.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use burn::tensor::Device;
use image::RgbImage;
use maskscope::align::FaceTemplate;
use maskscope::checkpoint::tfjs::TfjsGraph;
use maskscope::checkpoint::{self, record};
use maskscope::eval::pairs::read_pairs_any;
use maskscope::face::cache::{AlignedCache, CachedFace};
use maskscope::face::embedding_cache::EmbeddingCache;
use maskscope::face::{Embedder, FaceFinder, FacePick, read_photo};
use maskscope::model::FromNetConfig;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::common;

pub struct Case {
    pub name: String,
    /// What an error must mention: the damaged file's name (or the prefix its files share).
    pub names: String,
    pub run: Box<dyn Fn() -> Result<(), String>>,
}

type Generator = fn(&Path, u64, usize) -> Vec<Case>;

/// Every reader with its generator, in the order they run.
pub const READERS: &[(&str, Generator)] = &[
    ("photo decode + detect", photos),
    ("safetensors", safetensors),
    ("pytorch (zip, pickle)", pytorch),
    ("burnpack record", records),
    ("tf.js graph", tfjs),
    ("pairs file", pairs),
    ("aligned/embedding cache", caches),
];

/// The message a user would see: the error and its causes, as the CLI prints them.
fn message<E: std::error::Error + Send + Sync + 'static>(error: E) -> String {
    maskscope::error_text::error_message(&anyhow::Error::new(error))
}

/// Damaged copies of `bytes`: cuts at random lengths, random bit flips (half of them in the
/// first `header` bytes, where formats keep their sizes and offsets), and runs of bytes
/// overwritten with random values, zeros or 0xFF.
fn mutations(bytes: &[u8], header: usize, count: usize, rng: &mut ChaCha8Rng) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let mut data = bytes.to_vec();
        let name = match i % 3 {
            0 => {
                let cut = rng.random_range(0..bytes.len());
                data.truncate(cut);
                format!("cut at {cut}")
            }
            1 => {
                let flips = rng.random_range(1..=8);
                let limit = if rng.random_bool(0.5) { header.min(bytes.len()) } else { bytes.len() };
                for _ in 0..flips {
                    let at = rng.random_range(0..limit);
                    data[at] ^= 1 << rng.random_range(0..8);
                }
                format!("{flips} bits flipped")
            }
            _ => {
                let at = rng.random_range(0..bytes.len());
                let len = rng.random_range(1..=64).min(bytes.len() - at);
                let fill = rng.random_range(0..3);
                for byte in &mut data[at..at + len] {
                    *byte = match fill {
                        0 => rng.random(),
                        1 => 0,
                        _ => 0xFF,
                    };
                }
                format!("{len} bytes overwritten at {at}")
            }
        };
        out.push((name, data));
    }
    out
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// Paths that are no regular file: a folder, a FIFO (reading it would block), a device that
/// never ends, and a file that is not there.
fn non_files(dir: &Path, stem: &str) -> Vec<PathBuf> {
    let folder = dir.join(format!("{stem}-folder"));
    std::fs::create_dir_all(&folder).unwrap();
    let mut paths = vec![folder, dir.join(format!("{stem}-missing"))];
    #[cfg(unix)]
    {
        let fifo = dir.join(format!("{stem}-fifo"));
        common::make_fifo(&fifo);
        paths.push(fifo);
        paths.push(PathBuf::from("/dev/zero"));
    }
    paths
}

/// A fixture to damage: its files are `<stem>-<i>.<extension>`; `header` bytes at its start
/// hold what the format's sizes and offsets live in.
struct Source<'a> {
    stem: &'a str,
    extension: &'a str,
    bytes: &'a [u8],
    header: usize,
    count: usize,
}

type Reader = Rc<dyn Fn(&Path) -> Result<(), String>>;

/// Cases that run `read` on `count` mutations of the source and on the non-files.
fn file_cases(dir: &Path, source: Source<'_>, rng: &mut ChaCha8Rng, read: Reader) -> Vec<Case> {
    let Source { stem, extension, bytes, header, count } = source;
    let mut cases = Vec::new();
    let mut inputs: Vec<(String, PathBuf)> = mutations(bytes, header, count, rng)
        .into_iter()
        .enumerate()
        .map(|(i, (what, bytes))| (what, write(dir, &format!("{stem}-{i}.{extension}"), &bytes)))
        .collect();
    inputs.extend(non_files(dir, stem).into_iter().map(|p| ("not a regular file".to_string(), p)));
    inputs.push(("empty".into(), write(dir, &format!("{stem}-empty.{extension}"), b"")));
    for (what, path) in inputs {
        let read = Rc::clone(&read);
        let names = file_name(&path);
        cases.push(Case { name: format!("{} ({what})", names), names, run: Box::new(move || read(&path)) });
    }
    cases
}

fn photos(dir: &Path, seed: u64, scale: usize) -> Vec<Case> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let finder =
        Rc::new(FaceFinder::load(&maskscope::assets::mtcnn_dir(), FaceTemplate::Arc112x112, &Device::flex()).unwrap());
    let lfw = common::lfw_fixture_images();
    let jpegs: Vec<Vec<u8>> = ["Aaron_Peirsol/Aaron_Peirsol_0001.jpg", "Abdullah/Abdullah_0001.jpg"]
        .iter()
        .map(|p| std::fs::read(lfw.join(p)).unwrap())
        .collect();
    let face = image::load_from_memory(&jpegs[0]).unwrap();
    let encode = |format| {
        let mut bytes = Vec::new();
        face.write_to(&mut std::io::Cursor::new(&mut bytes), format).unwrap();
        bytes
    };
    let mut sources = vec![
        ("jpg", jpegs[0].clone()),
        ("jpg", jpegs[1].clone()),
        ("png", encode(image::ImageFormat::Png)),
        ("bmp", encode(image::ImageFormat::Bmp)),
        ("gif", encode(image::ImageFormat::Gif)),
        ("webp", encode(image::ImageFormat::WebP)),
    ];
    // Forged sizes: a JPEG frame header and a PNG header claiming 65535 x 65535.
    let mut huge_jpeg = jpegs[0].clone();
    let sof = huge_jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    huge_jpeg[sof + 5..sof + 9].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
    let mut huge_png = encode(image::ImageFormat::Png);
    huge_png[16..24].copy_from_slice(&[0, 0, 0xFF, 0xFF, 0, 0, 0xFF, 0xFF]);
    sources.push(("jpg", huge_jpeg));
    sources.push(("png", huge_png));
    // The faces that decode are also detected and aligned, a few per source (MTCNN is the slow
    // part of the suite).
    let detect_budget = Rc::new(std::cell::Cell::new(48 * scale));
    let mut cases = Vec::new();
    for (i, (extension, bytes)) in sources.iter().enumerate() {
        let finder = Rc::clone(&finder);
        let budget = Rc::clone(&detect_budget);
        let read: Reader = Rc::new(move |path: &Path| {
            let photo = read_photo(path).map_err(message)?;
            if budget.get() > 0 {
                budget.set(budget.get() - 1);
                finder.find(&photo.image, path).map_err(message)?;
            }
            Ok(())
        });
        let count = if i < 6 { 150 } else { 20 } * scale;
        let stem = format!("photo{i}");
        let source = Source { stem: &stem, extension, bytes, header: 1024, count };
        cases.extend(file_cases(dir, source, &mut rng, read));
    }
    cases
}

fn load_from_net(path: &Path) -> Result<(), String> {
    checkpoint::load_from_net(path, &Device::flex()).map(drop).map_err(message)
}

fn safetensors(dir: &Path, seed: u64, scale: usize) -> Vec<Case> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 1);
    let bytes = std::fs::read(common::fixture("from/from_tiny.safetensors")).unwrap();
    let header = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let source = Source { stem: "st", extension: "safetensors", bytes: &bytes, header, count: 200 * scale };
    let mut cases = file_cases(dir, source, &mut rng, Rc::new(load_from_net));
    // Forged headers: shapes that overflow, claim more than the file, or are empty.
    let forged = [
        r#"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}"#,
        r#"{"a":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,4]}}"#,
        r#"{"layer4.0.conv1.weight":{"dtype":"F32","shape":[0,24,3,3],"data_offsets":[0,0]}}"#,
        r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#,
        r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,400000000000]}}"#,
        r#"{"a":{"dtype":"X9","shape":[1],"data_offsets":[0,4]}}"#,
        r#"{"__metadata__":{"k":"v"}}"#,
        r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
    ];
    for (i, json) in forged.iter().enumerate() {
        for claimed in [json.len() as u64, u64::MAX, 1 << 40] {
            let mut file = claimed.to_le_bytes().to_vec();
            file.extend(json.as_bytes());
            file.extend([0u8; 4]);
            let path = write(dir, &format!("st-forged-{i}-{claimed}.safetensors"), &file);
            let names = file_name(&path);
            cases.push(Case {
                name: format!("{names} (forged header)"),
                names,
                run: Box::new(move || load_from_net(&path)),
            });
        }
    }
    cases
}

/// Callables no state dict needs, spelt as GLOBAL and as protocol 4's STACK_GLOBAL.
const HOSTILE: &[(&str, &str)] = &[
    ("os", "system"),
    ("posix", "system"),
    ("subprocess", "Popen"),
    ("builtins", "eval"),
    ("builtins", "exec"),
    ("builtins", "getattr"),
    ("__builtin__", "eval"),
    ("torch", "load"),
    ("shutil", "rmtree"),
    ("lib.models.fpn", "LResNet50E_IR_Occ"),
];

fn pytorch(dir: &Path, seed: u64, scale: usize) -> Vec<Case> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 2);
    let original = common::fixture("from/from_tiny.pth.tar");
    let bytes = std::fs::read(&original).unwrap();
    let source = Source { stem: "pt", extension: "pth.tar", bytes: &bytes, header: 4096, count: 200 * scale };
    let mut cases = file_cases(dir, source, &mut rng, Rc::new(load_from_net));
    type PickleEdit = Box<dyn Fn(&[u8]) -> Vec<u8>>;
    let mut pickles: Vec<(String, PickleEdit)> = Vec::new();
    for &(module, name) in HOSTILE {
        let global = format!("c{module}\n{name}\n(Vecho\ntR").into_bytes();
        let mut stack = vec![0x8c, module.len() as u8];
        stack.extend(module.as_bytes());
        stack.extend([0x94, 0x8c, name.len() as u8]);
        stack.extend(name.as_bytes());
        stack.extend(b"\x94\x93(Vecho\ntR");
        pickles.push((format!("GLOBAL {module}.{name}"), Box::new(move |p| common::with_call(p, &global))));
        pickles.push((format!("STACK_GLOBAL {module}.{name}"), Box::new(move |p| common::with_call(p, &stack))));
    }
    // Random opcodes after PROTO, and a pickle of random bytes.
    for i in 0..20 * scale {
        let junk: Vec<u8> = (0..rng.random_range(1..32)).map(|_| rng.random()).collect();
        if i % 2 == 0 {
            pickles
                .push((format!("{} random opcode bytes", junk.len()), Box::new(move |p| common::with_call(p, &junk))));
        } else {
            pickles.push((format!("{} random bytes as the pickle", junk.len()), Box::new(move |_| junk.clone())));
        }
    }
    for (i, (what, edit)) in pickles.into_iter().enumerate() {
        let path = dir.join(format!("pt-pickle-{i}.pth"));
        common::torch_zip_with_pickle(&original, &path, edit);
        let names = file_name(&path);
        cases.push(Case { name: format!("{names} ({what})"), names, run: Box::new(move || load_from_net(&path)) });
    }
    cases
}

fn records(dir: &Path, seed: u64, scale: usize) -> Vec<Case> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 3);
    let tiny = checkpoint::load_from_net(&common::fixture("from/from_tiny.safetensors"), &Device::flex()).unwrap();
    let path = dir.join("tiny.bpk");
    record::save_from_net(&tiny.net, &tiny.config, &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let source = Source { stem: "bpk", extension: "bpk", bytes: &bytes, header: 2048, count: 200 * scale };
    let mut cases = file_cases(dir, source, &mut rng, Rc::new(load_from_net));
    // The bundled MobileFaceNet, damaged, through the embedder's loader.
    let embedder = std::fs::read(maskscope::assets::mobilefacenet_record()).unwrap();
    let load_embedder: Reader = Rc::new(|path: &Path| Embedder::load(path, &Device::flex()).map(drop).map_err(message));
    let source = Source { stem: "mfn", extension: "bpk", bytes: &embedder, header: 2048, count: 30 * scale };
    cases.extend(file_cases(dir, source, &mut rng, load_embedder));
    // Configurations forged into a record's metadata, in and out of bounds.
    for i in 0..60 * scale {
        let pick = |rng: &mut ChaCha8Rng| match rng.random_range(0..4) {
            0 => 0,
            1 => rng.random_range(1..64),
            2 => rng.random_range(64..4096),
            _ => rng.random_range(4096..1 << 24),
        };
        let config = FromNetConfig::new()
            .with_widths([pick(&mut rng), pick(&mut rng), pick(&mut rng), pick(&mut rng)])
            .with_blocks([pick(&mut rng) % 100, 1, pick(&mut rng) % 40, 1])
            .with_fpn_channels(pick(&mut rng))
            .with_embedding_dim(pick(&mut rng))
            .with_grid(rng.random_range(0..12))
            .with_input_size([16 * rng.random_range(0..64), 16 * rng.random_range(0..64)]);
        let json = serde_json::to_string(&config).unwrap();
        let forged = dir.join(format!("bpk-config-{i}.bpk"));
        record::save_module(&tiny.net, &forged, record::FROM_LRESNET, &[("maskscope.config", json)]).unwrap();
        let names = file_name(&forged);
        cases.push(Case {
            name: format!("{names} (forged configuration {config:?})"),
            names,
            run: Box::new(move || load_from_net(&forged)),
        });
    }
    cases
}

fn tfjs(dir: &Path, seed: u64, scale: usize) -> Vec<Case> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 4);
    let model = r#"{"modelTopology":{"node":[{"name":"w","op":"Const"}]},"weightsManifest":[{"paths":["SHARD"],"weights":[{"name":"w","shape":[2,3],"dtype":"float32"}]}]}"#;
    let shard: Vec<u8> = (0..6).flat_map(|i| (i as f32).to_le_bytes()).collect();
    let mut cases = Vec::new();
    let read = |path: &Path| TfjsGraph::read(path).map(drop).map_err(message);
    let mut add = |i: String, json: String, shard_bytes: Option<&[u8]>, what: String| {
        let stem = format!("tfjs-{i}-");
        let shard_name = format!("{stem}shard.bin");
        if let Some(bytes) = shard_bytes {
            write(dir, &shard_name, bytes);
        }
        let path = write(dir, &format!("{stem}model.json"), json.replace("SHARD", &shard_name).as_bytes());
        cases.push(Case { name: format!("{stem} ({what})"), names: stem, run: Box::new(move || read(&path)) });
    };
    for (i, (what, bytes)) in mutations(model.as_bytes(), model.len(), 60 * scale, &mut rng).into_iter().enumerate() {
        add(format!("json{i}"), String::from_utf8_lossy(&bytes).into_owned(), Some(&shard), what);
    }
    for (i, (what, bytes)) in mutations(&shard, shard.len(), 20 * scale, &mut rng).into_iter().enumerate() {
        add(format!("shard{i}"), model.into(), Some(&bytes), what);
    }
    let shapes = ["[4294967296,4294967296]", "[18446744073709551615,2]", "[0]", "[-1]", "[]", "\"x\""];
    for (i, shape) in shapes.iter().enumerate() {
        add(format!("shape{i}"), model.replace("[2,3]", shape), Some(&shard), format!("shape {shape}"));
    }
    for (i, target) in ["/dev/zero", ".", "no-such-shard.bin", "../../../../../etc/passwd"].iter().enumerate() {
        add(format!("path{i}"), model.replace("SHARD", target), None, format!("shard path {target}"));
    }
    cases
}

fn pairs(dir: &Path, seed: u64, scale: usize) -> Vec<Case> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 5);
    let lfw = "2\nAaron_Peirsol\t1\t2\nAbdullah\t1\t2\nAaron_Peirsol\t1\tAbdullah\t1\nAbdullah\t2\tAaron_Peirsol\t2\n";
    let csv = "path_a,path_b,same\nAaron_Peirsol/Aaron_Peirsol_0001.jpg,Aaron_Peirsol/Aaron_Peirsol_0002.jpg,1\n\
               Abdullah/Abdullah_0001.jpg,Aaron_Peirsol/Aaron_Peirsol_0001.jpg,0\n";
    let root = common::lfw_fixture_images();
    let read: Reader = Rc::new(move |path: &Path| read_pairs_any(path, Some(&root)).map(drop).map_err(message));
    let source =
        Source { stem: "pairs", extension: "txt", bytes: lfw.as_bytes(), header: lfw.len(), count: 200 * scale };
    let mut cases = file_cases(dir, source, &mut rng, Rc::clone(&read));
    let source =
        Source { stem: "pairscsv", extension: "csv", bytes: csv.as_bytes(), header: csv.len(), count: 150 * scale };
    cases.extend(file_cases(dir, source, &mut rng, Rc::clone(&read)));
    let forged = [
        "18446744073709551616 300\n".to_string(),
        "10 18446744073709551615\n".to_string(),
        "1\nA\t-1\t2\nA\t1\tB\t1\n".to_string(),
        "1\nA\t99999999999999999999\t2\nA\t1\tB\t1\n".to_string(),
        format!("1\n{}\t1\t2\n", "A".repeat(1 << 20)),
        "\0\0\0".to_string(),
    ];
    for (i, text) in forged.iter().enumerate() {
        let path = write(dir, &format!("pairs-forged-{i}.txt"), text.as_bytes());
        let names = file_name(&path);
        let read = Rc::clone(&read);
        cases.push(Case { name: format!("{names} (forged)"), names, run: Box::new(move || read(&path)) });
    }
    cases
}

/// Damaged cache entries must read as misses (or as the intact entry), never as other data.
fn caches(dir: &Path, seed: u64, scale: usize) -> Vec<Case> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 6);
    let root = dir.join("cache");
    let template = FaceTemplate::Arc112x112;
    let [h, w] = template.size();
    let face = RgbImage::from_fn(w as u32, h as u32, |x, y| image::Rgb([x as u8, y as u8, (x ^ y) as u8]));
    let embeddings = ((0..4).map(|i| i as f32).collect::<Vec<_>>(), vec![0.5, -0.5]);
    let mut cases = Vec::new();
    for (kind, count) in [("aligned", 150 * scale), ("embedding", 150 * scale)] {
        let (entry, intact) = {
            let scratch = root.join(format!("intact-{kind}"));
            let key = "ab".repeat(32);
            match kind {
                "aligned" => {
                    let cache = AlignedCache::open(&scratch, template, FacePick::Largest.name()).unwrap();
                    cache.put(&key, &CachedFace::Aligned(face.clone())).unwrap();
                    (scratch.clone(), cache_file(&scratch))
                }
                _ => {
                    let cache = EmbeddingCache::open(&scratch, "model").unwrap();
                    cache.put(&key, (&embeddings.0, &embeddings.1)).unwrap();
                    (scratch.clone(), cache_file(&scratch))
                }
            }
        };
        let intact_bytes = std::fs::read(&intact).unwrap();
        for (i, (what, bytes)) in mutations(&intact_bytes, 64, count, &mut rng).into_iter().enumerate() {
            let case_root = root.join(format!("{kind}-{i}"));
            copy_tree(&entry, &case_root);
            let damaged = cache_file(&case_root);
            std::fs::write(&damaged, &bytes).unwrap();
            let (face, embeddings) = (face.clone(), embeddings.clone());
            let key = "ab".repeat(32);
            let names = format!("{kind}-{i}");
            let run: Box<dyn Fn() -> Result<(), String>> = if kind == "aligned" {
                Box::new(move || {
                    let cache = AlignedCache::open(&case_root, template, FacePick::Largest.name()).map_err(message)?;
                    match cache.get(&key).map_err(message)? {
                        None => Ok(()),
                        Some(CachedFace::Aligned(found)) if found == face => Ok(()),
                        Some(_) => panic!("a damaged entry read as another face"),
                    }
                })
            } else {
                Box::new(move || {
                    let cache = EmbeddingCache::open(&case_root, "model").map_err(message)?;
                    match cache.get(&key).map_err(message)? {
                        None => Ok(()),
                        Some(found) if found == embeddings => Ok(()),
                        Some(_) => panic!("a damaged entry read as other embeddings"),
                    }
                })
            };
            cases.push(Case { name: format!("{names} ({what})"), names, run });
        }
    }
    cases
}

/// The one entry file under a cache root.
fn cache_file(root: &Path) -> PathBuf {
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                return path;
            }
        }
    }
    panic!("no entry under {}", root.display())
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&path, &target);
        } else {
            std::fs::create_dir_all(to).unwrap();
            std::fs::copy(&path, &target).unwrap();
        }
    }
}
