//! The callables a PyTorch checkpoint's pickles name, checked against the few that rebuild
//! tensors and plain containers before burn-store's reader reads the file.
//!
//! Nothing in a pickle is ever executed: the reader interprets the tensor calls and keeps any
//! other call as an opaque value, which then goes missing from the tensors without a word. A
//! weights file has no reason to name `os.system` or a model class, so such a file is refused,
//! naming what it asked for, instead of loading with the call silently dropped.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use super::CheckpointError;

/// `(module, name)` pairs a state-dict checkpoint may name: the tensor and parameter rebuilders,
/// ordered dicts and sets, and the data-only constructors a training checkpoint's metadata holds
/// (the FROM code stores its accuracy, a numpy scalar, beside the weights).
const ALLOWED: &[(&str, &str)] = &[
    ("collections", "OrderedDict"),
    ("torch._utils", "_rebuild_tensor"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_tensor_v3"),
    ("torch._utils", "_rebuild_parameter"),
    ("torch._utils", "_rebuild_parameter_with_state"),
    ("torch._tensor", "_rebuild_from_type_v2"),
    ("torch", "Tensor"),
    ("torch", "Size"),
    ("torch", "device"),
    ("torch.nn.parameter", "Parameter"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("__builtin__", "set"),
    ("__builtin__", "frozenset"),
    ("_codecs", "encode"),
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
];

/// Element types torch names as `torch.<dtype>` (v3 tensors) and `torch.<Type>Storage`.
const TORCH_DTYPES: &[&str] =
    &["float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool"];
const TORCH_STORAGES: &[&str] = &[
    "DoubleStorage",
    "FloatStorage",
    "HalfStorage",
    "BFloat16Storage",
    "LongStorage",
    "IntStorage",
    "ShortStorage",
    "CharStorage",
    "ByteStorage",
    "BoolStorage",
    "UntypedStorage",
];

/// Largest pickle entry scanned in a zip archive (the official LResNet50E-IR-FROM's is ~60 KB).
const MAX_PICKLE_BYTES: u64 = 256 << 20;
/// Longest module or class name kept for a check; a longer string is not a name.
const MAX_NAME_BYTES: usize = 512;
/// Memoised strings tracked, far beyond what a state dict needs.
const MAX_MEMO_STRINGS: usize = 1 << 20;
/// Pickles at the start of a legacy (pre-zip) `torch.save` file: magic number, protocol,
/// system info, the object, the storage keys.
const LEGACY_PICKLES: usize = 5;
/// Offset of the `ustar` magic in a tar header (the oldest torch.save container).
const TAR_MAGIC_OFFSET: usize = 257;

fn allowed(module: &str, name: &str) -> bool {
    ALLOWED.contains(&(module, name))
        || (module == "torch" && (TORCH_DTYPES.contains(&name) || TORCH_STORAGES.contains(&name)))
}

/// Refuses a PyTorch file whose pickles name a callable outside the allow-list, or that this
/// check cannot follow; `Ok` for a file of plain state-dict pickles.
pub fn check_torch_file(path: &Path) -> Result<(), CheckpointError> {
    let refuse = |message: String| CheckpointError::read(path, message);
    let mut file = File::open(path).map_err(|e| CheckpointError::io(path, e))?;
    let mut head = Vec::new();
    (&mut file).take(TAR_MAGIC_OFFSET as u64 + 5).read_to_end(&mut head).map_err(|e| CheckpointError::io(path, e))?;
    file.seek(SeekFrom::Start(0)).map_err(|e| CheckpointError::io(path, e))?;
    if head.starts_with(b"PK") {
        let mut archive =
            zip::ZipArchive::new(BufReader::new(file)).map_err(|e| refuse(format!("zip archive: {e}")))?;
        for index in 0..archive.len() {
            let entry = archive.by_index(index).map_err(|e| refuse(format!("zip entry {index}: {e}")))?;
            let name = entry.name().map_err(|e| refuse(format!("zip entry {index}: {e}")))?.to_string();
            if !name.ends_with(".pkl") {
                continue;
            }
            if entry.size() > MAX_PICKLE_BYTES {
                return Err(refuse(format!(
                    "{name}: {} bytes of pickle is more than {MAX_PICKLE_BYTES}",
                    entry.size()
                )));
            }
            scan_pickle(&mut BufReader::new(entry.take(MAX_PICKLE_BYTES)))
                .map_err(|e| refuse(format!("{name}: {e}")))?;
        }
        Ok(())
    } else if head.get(TAR_MAGIC_OFFSET..TAR_MAGIC_OFFSET + 5) == Some(b"ustar") {
        let mut archive = tar::Archive::new(BufReader::new(file));
        for entry in archive.entries().map_err(|e| refuse(format!("tar archive: {e}")))? {
            let entry = entry.map_err(|e| refuse(format!("tar archive: {e}")))?;
            let name =
                entry.path().map(|p| p.to_string_lossy().trim_start_matches("./").to_string()).unwrap_or_default();
            if name == "pickle" || name == "sys_info" {
                scan_pickle(&mut BufReader::new(entry.take(MAX_PICKLE_BYTES)))
                    .map_err(|e| refuse(format!("{name}: {e}")))?;
            }
        }
        Ok(())
    } else {
        // A legacy file opens with its pickles, one after another, then the raw storages; a
        // plain pickle file is one pickle.
        let count = if is_legacy(&head) { LEGACY_PICKLES } else { 1 };
        let mut reader = BufReader::new(file);
        for index in 0..count {
            scan_pickle(&mut reader).map_err(|e| refuse(format!("pickle {}: {e}", index + 1)))?;
        }
        Ok(())
    }
}

/// Whether a file opens with torch's legacy magic number 0x1950a86a20f9469cfc6c, as a `LONG1`
/// (protocol 2 and up) or as protocol 0's decimal text.
fn is_legacy(head: &[u8]) -> bool {
    const BINARY: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
    const TEXT: &[u8] = b"119547037146038801333356";
    let window = &head[..head.len().min(64)];
    window.windows(BINARY.len()).any(|w| w == BINARY) || window.windows(TEXT.len()).any(|w| w == TEXT)
}

/// What the scan knows of a value on the pickle stack: a string it can name, or anything else.
type Known = Option<String>;

/// Walks one pickle up to its STOP, checking every GLOBAL, INST and STACK_GLOBAL. Arguments are
/// skipped without being stored, so a forged length costs no memory. STACK_GLOBAL takes its
/// module and name from the stack: they must be the two values pushed just before it (literal
/// strings or memo reads of them), as every pickler writes it; anything else is refused rather
/// than guessed.
pub fn scan_pickle<R: BufRead>(r: &mut R) -> Result<(), String> {
    let mut r = Counting { inner: r, consumed: 0 };
    let mut memo: HashMap<u64, String> = HashMap::new();
    let mut memo_len: u64 = 0;
    // Values pushed since the last opcode that could have popped or replaced one, newest last.
    let mut recent: Vec<Known> = Vec::new();
    let push = |value: Known, recent: &mut Vec<Known>| {
        recent.push(value);
        if recent.len() > 2 {
            recent.remove(0);
        }
    };
    loop {
        let at = r.consumed;
        let op = read_u8(&mut r).map_err(|e| format!("at byte {at}: {e}"))?;
        let context = |e: io::Error| format!("opcode 0x{op:02x} at byte {at}: {e}");
        match op {
            b'.' => return Ok(()),
            // String pushes: the names STACK_GLOBAL reads.
            b'X' | 0x8d | 0x8c | b'T' | b'U' | b'B' | b'C' | 0x8e | 0x96 => {
                let width = match op {
                    0x8c | b'U' | b'C' => 1,
                    b'X' | b'T' | b'B' => 4,
                    _ => 8,
                };
                let len = read_len(&mut r, width).map_err(context)?;
                let text = read_text(&mut r, len).map_err(context)?;
                push(text, &mut recent);
            }
            b'V' | b'S' => {
                let line = read_line(&mut r).map_err(context)?;
                let text = String::from_utf8(line).ok().map(|s| s.trim_matches(['\'', '"']).to_string());
                push(text.filter(|s| s.len() <= MAX_NAME_BYTES), &mut recent);
            }
            // Memo reads and writes leave the rest of the stack as it was.
            b'h' | b'j' | b'g' => {
                let index = match op {
                    b'h' => read_len(&mut r, 1),
                    b'j' => read_len(&mut r, 4),
                    _ => read_index_line(&mut r),
                }
                .map_err(context)?;
                push(memo.get(&index).cloned(), &mut recent);
            }
            b'q' | b'r' | b'p' | 0x94 => {
                let index = match op {
                    b'q' => read_len(&mut r, 1),
                    b'r' => read_len(&mut r, 4),
                    b'p' => read_index_line(&mut r),
                    _ => Ok(memo_len),
                }
                .map_err(context)?;
                memo_len = memo_len.max(index.saturating_add(1));
                match recent.last().cloned().flatten() {
                    Some(_) if memo.len() >= MAX_MEMO_STRINGS => {
                        return Err(format!("more than {MAX_MEMO_STRINGS} memoised strings"));
                    }
                    Some(text) => {
                        memo.insert(index, text);
                    }
                    None => {
                        memo.remove(&index);
                    }
                }
            }
            0x80 => {
                let protocol = read_u8(&mut r).map_err(context)?;
                if protocol > 5 {
                    return Err(format!("pickle protocol {protocol} is not one of 0-5"));
                }
            }
            0x95 => skip(&mut r, 8).map_err(context)?,
            b'c' | b'i' => {
                let module = read_line(&mut r).map_err(context)?;
                let name = read_line(&mut r).map_err(context)?;
                check_global(&String::from_utf8_lossy(&module), &String::from_utf8_lossy(&name))?;
                recent.clear();
                push(None, &mut recent);
            }
            0x93 => match recent.as_slice() {
                [Some(module), Some(name)] => {
                    check_global(module, name)?;
                    recent.clear();
                    push(None, &mut recent);
                }
                _ => return Err(format!("STACK_GLOBAL at byte {at} does not name its callable with two strings")),
            },
            0x82..=0x84 => return Err(format!("opcode 0x{op:02x} at byte {at} uses the copyreg extension registry")),
            _ => {
                skip_argument(&mut r, op).map_err(context)?;
                recent.clear();
            }
        }
    }
}

/// A reader that counts the bytes taken from it, so errors can say where in the pickle they are.
struct Counting<R> {
    inner: R,
    consumed: u64,
}

impl<R: BufRead> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.consumed += n as u64;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.consumed += amount as u64;
        self.inner.consume(amount);
    }
}

fn check_global(module: &str, name: &str) -> Result<(), String> {
    if allowed(module, name) {
        Ok(())
    } else {
        Err(format!(
            "names the Python callable {module}.{name}, which a state dict never needs; refused without running \
             anything (save the weights with torch.save(model.state_dict(), path))"
        ))
    }
}

/// Skips the argument of an opcode that neither names a callable nor pushes a name; errors on a
/// byte that is no pickle opcode.
fn skip_argument<R: BufRead>(r: &mut R, op: u8) -> io::Result<()> {
    match op {
        // No argument: stack and container opcodes.
        b'(' | b'0' | b'1' | b'2' | b'N' | b'Q' | b'R' | b'a' | b'b' | b'd' | b'}' | b'e' | b'l' | b']' | b'o'
        | b's' | b't' | b')' | b'u' | 0x81 | 0x85 | 0x86 | 0x87 | 0x88 | 0x89 | 0x8f | 0x90 | 0x91 | 0x92 | 0x97
        | 0x98 => Ok(()),
        b'K' => skip(r, 1),
        b'M' => skip(r, 2),
        b'J' => skip(r, 4),
        b'G' => skip(r, 8),
        0x8a | 0x8b => {
            let len = read_len(r, if op == 0x8a { 1 } else { 4 })?;
            skip(r, len)
        }
        b'I' | b'L' | b'F' | b'P' => read_line(r).map(drop),
        _ => Err(io::Error::new(io::ErrorKind::InvalidData, "not a pickle opcode")),
    }
}

fn read_u8<R: Read>(r: &mut R) -> io::Result<u8> {
    let mut byte = [0u8];
    r.read_exact(&mut byte).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => io::Error::new(e.kind(), "the pickle ends before its STOP"),
        _ => e,
    })?;
    Ok(byte[0])
}

fn read_len<R: Read>(r: &mut R, width: usize) -> io::Result<u64> {
    let mut bytes = [0u8; 8];
    r.read_exact(&mut bytes[..width])?;
    Ok(u64::from_le_bytes(bytes))
}

/// A string argument of `len` bytes: kept when it could be a name, skipped otherwise.
fn read_text<R: Read>(r: &mut R, len: u64) -> io::Result<Known> {
    if len as usize > MAX_NAME_BYTES {
        skip(r, len)?;
        return Ok(None);
    }
    let mut bytes = vec![0; len as usize];
    r.read_exact(&mut bytes)?;
    Ok(String::from_utf8(bytes).ok())
}

fn skip<R: Read>(r: &mut R, len: u64) -> io::Result<()> {
    let copied = io::copy(&mut r.take(len), &mut io::sink())?;
    if copied < len {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the pickle ends inside an argument"));
    }
    Ok(())
}

/// A newline-terminated argument (protocol 0), at most a name's length plus slack.
fn read_line<R: BufRead>(r: &mut R) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    r.take(MAX_NAME_BYTES as u64 * 8).read_until(b'\n', &mut line)?;
    if line.pop() != Some(b'\n') {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "a text argument has no end of line"));
    }
    Ok(line)
}

fn read_index_line<R: BufRead>(r: &mut R) -> io::Result<u64> {
    let line = read_line(r)?;
    std::str::from_utf8(&line)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "a memo index is not a number"))
}
