//! The readers' bad inputs given to the GUI (dropped, opened, loaded as a model, used as a sweep's
//! pairs): each shows a toast that names the file, and the workbench keeps its face and model.

use std::path::{Path, PathBuf};

use maskscope::app::command::Command;
use maskscope::app::samples;

use super::{drop_files, harness, has_toast, options, settle};

fn toasts(h: &egui_kittest::Harness<'_, maskscope::app::Workbench>) -> Vec<String> {
    h.state().state.toasts.iter().map(|t| t.text.clone()).collect()
}

fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(relative)
}

#[test]
fn every_reader_category_toasts_naming_the_file_and_the_workbench_carries_on() {
    let dir = tempfile::tempdir().unwrap();
    let photo = samples::samples_dir().join(samples::FIRST_SAMPLE);
    let mut h = harness(options(vec![photo.clone()], false));
    settle(&mut h);
    let generation = h.state().state.model.generation;
    let keeps_running = |h: &egui_kittest::Harness<'_, maskscope::app::Workbench>| {
        let state = &h.state().state;
        assert_eq!(state.model.generation, generation, "the model in use stays");
        assert!(state.probe().is_some_and(|p| p.is_ready()), "the face stays ready");
    };

    // Photos: a truncated JPEG opens with a warning; a FIFO is refused without blocking.
    let bytes = std::fs::read(&photo).unwrap();
    let cut = dir.path().join("cut.jpg");
    std::fs::write(&cut, &bytes[..bytes.len() * 9 / 10]).unwrap();
    drop_files(&mut h, std::slice::from_ref(&cut));
    settle(&mut h);
    assert!(has_toast(&h, "cut.jpg: damaged image data"), "{:?}", toasts(&h));
    assert!(h.state().state.probe().is_some_and(|p| p.path == cut && p.is_ready()));
    drop_files(&mut h, std::slice::from_ref(&photo));
    settle(&mut h);
    #[cfg(unix)]
    {
        let fifo = dir.path().join("pipe.jpg");
        crate::common::make_fifo(&fifo);
        drop_files(&mut h, &[fifo]);
        settle(&mut h);
        assert!(has_toast(&h, "pipe.jpg: not a regular file"), "{:?}", toasts(&h));
    }

    // Checkpoints: a pickle that names os.system, a stage without channels, a forged record.
    let hostile = dir.path().join("hostile.pth");
    crate::common::torch_zip_with_pickle(&fixture("from/from_tiny.pth.tar"), &hostile, |p| {
        crate::common::with_call(p, b"cos\nsystem\n(Vecho\ntR")
    });
    let tiny =
        maskscope::checkpoint::load_from_net(&fixture("from/from_tiny.safetensors"), &burn::tensor::Device::flex())
            .unwrap();
    let forged = dir.path().join("forged.bpk");
    let config = maskscope::model::FromNetConfig::new().with_widths([2048; 4]).with_blocks([32; 4]);
    let json = serde_json::to_string(&config).unwrap();
    maskscope::checkpoint::record::save_module(&tiny.net, &forged, "from-lresnet-e-ir", &[("maskscope.config", json)])
        .unwrap();
    for (model, needle) in [(&hostile, "os.system"), (&forged, "asks for")] {
        drop_files(&mut h, std::slice::from_ref(model));
        settle(&mut h);
        let name = model.file_name().unwrap().to_string_lossy().into_owned();
        assert!(toasts(&h).iter().any(|t| t.contains(&name) && t.contains(needle)), "{name}: {:?}", toasts(&h));
        keeps_running(&h);
    }

    // A pairs file that is not one, as the region sweep's input.
    let pairs = dir.path().join("pairs.txt");
    std::fs::write(&pairs, "10\tthree hundred\n").unwrap();
    h.state_mut().state.settings.sweep_pairs = pairs.display().to_string();
    h.state_mut().state.settings.sweep_images = samples::samples_dir().display().to_string();
    h.state_mut().run_commands(vec![Command::RunSweep]);
    settle(&mut h);
    assert!(has_toast(&h, "pairs.txt"), "{:?}", toasts(&h));
    assert!(h.state().state.sweep.running.is_none());

    // A session file that is not one.
    let session = dir.path().join("broken.maskscope.json");
    std::fs::write(&session, b"{\"faces\": [").unwrap();
    h.state_mut().run_commands(vec![Command::OpenSession(session)]);
    settle(&mut h);
    assert!(has_toast(&h, "broken.maskscope.json"), "{:?}", toasts(&h));
    keeps_running(&h);
}
