//! An embedding-cache entry: anything but the sealed original must read as a miss.
#![no_main]

use maskscope::face::embedding_cache::EmbeddingCache;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let root = std::env::temp_dir().join(format!("maskscope-fuzz-{}", std::process::id())).join("cache");
    let cache = EmbeddingCache::open(&root, "model").expect("cache folder");
    let key = "ab".repeat(32);
    cache.put(&key, (&[1.0, 2.0], &[3.0])).expect("entry");
    let entry = root.join("embeddings-v2").join("model").join("ab").join(format!("{key}.emb"));
    let intact = std::fs::read(&entry).expect("entry written");
    std::fs::write(&entry, data).expect("entry overwritten");
    match cache.get(&key) {
        Ok(Some(found)) => assert!(data == intact && found == (vec![1.0, 2.0], vec![3.0])),
        Ok(None) | Err(_) => {}
    }
});
