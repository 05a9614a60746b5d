//! The work the UI thread must never wait for, on two worker threads that own the model:
//!
//! - the *live* thread loads models, detects faces, embeds references and runs the live
//!   inference. Inference requests are coalesced: a new edit replaces the one still waiting, so
//!   only the newest edit is computed however fast the user paints;
//! - the *batch* thread runs the long jobs (sensitivity map, region sweep) with progress and
//!   cancel, on a shared handle of the same weights, so that painting stays live meanwhile.
//!
//! Results come back as [`Event`]s on a channel; each one wakes the UI with `request_repaint`.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::engine::{self, LoadedModel, ModelChoice, ModelInfo};
use super::ids::FaceId;
use super::messages::{BatchJob, Event, InferRequest, Notify, Progress, Task};
use super::sensitivity;
use crate::device::ComputeDevice;
use crate::error_text::error_message;
use crate::eval::conditions::Condition;
use crate::eval::pairs::read_pairs_any;
use crate::eval::plots::write_atomic;
use crate::eval::results::ConditionResult;
use crate::eval::sweep::{SweepModel, SweepObserver, SweepSpec, SweepStage, run_sweep};
use crate::face::Embedder;
use crate::face::from_model::FaceModel;
use crate::face::{damage_warning, detect_faces, read_photo};
use crate::mtcnn::Mtcnn;
use crate::occlusion::{OccluderLibrary, Region};

#[derive(Default)]
struct LiveQueue {
    tasks: VecDeque<Task>,
    infer: Option<InferRequest>,
    shutdown: bool,
}

enum BatchMsg {
    SetModel(Box<FaceModel>, Box<ModelInfo>),
    SetLibrary(Arc<OccluderLibrary>),
    Run(BatchJob),
}

pub struct Jobs {
    live: Arc<(Mutex<LiveQueue>, Condvar)>,
    batch: Sender<BatchMsg>,
    events: Receiver<Event>,
    events_tx: Sender<Event>,
    notify: Notify,
    /// Live tasks and inferences submitted and not yet answered.
    pending: Arc<AtomicUsize>,
    batch_running: Arc<AtomicBool>,
    /// Saves and exports being encoded and written.
    writing: Arc<AtomicUsize>,
    cancel: Arc<AtomicBool>,
}

impl Jobs {
    /// Starts both threads; the live thread first loads the occluder library and `model`.
    pub fn start(device: ComputeDevice, model: ModelChoice, notify: Notify) -> Self {
        let (events_tx, events) = channel();
        let (batch, batch_rx) = channel();
        let live = Arc::new((Mutex::new(LiveQueue::default()), Condvar::new()));
        let pending = Arc::new(AtomicUsize::new(0));
        let batch_running = Arc::new(AtomicBool::new(false));
        let cancel = Arc::new(AtomicBool::new(false));
        {
            let (live, events, notify, pending, batch) =
                (live.clone(), events_tx.clone(), notify.clone(), pending.clone(), batch.clone());
            let device = device.clone();
            std::thread::Builder::new()
                .name("maskscope-live".into())
                .spawn(move || {
                    LiveWorker {
                        device,
                        events,
                        notify,
                        pending,
                        batch,
                        model: None,
                        baseline: None,
                        generation: 0,
                        detector: None,
                    }
                    .run(&live)
                })
                .expect("spawning a thread only fails when the OS is out of resources");
        }
        {
            let (events, notify, running, cancel) =
                (events_tx.clone(), notify.clone(), batch_running.clone(), cancel.clone());
            std::thread::Builder::new()
                .name("maskscope-batch".into())
                .spawn(move || batch_loop(batch_rx, device, events, notify, running, cancel))
                .expect("spawning a thread only fails when the OS is out of resources");
        }
        let writing = Arc::new(AtomicUsize::new(0));
        let jobs = Self { live, batch, events, events_tx, notify, pending, batch_running, writing, cancel };
        jobs.submit(Task::LoadModel(model));
        jobs
    }

    fn with_queue(&self, f: impl FnOnce(&mut LiveQueue)) {
        let (lock, cv) = &*self.live;
        // A poisoned lock means the worker panicked; the queue itself is still consistent.
        let mut queue = lock.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut queue);
        cv.notify_all();
    }

    pub fn submit(&self, task: Task) {
        self.pending.fetch_add(1, Ordering::SeqCst);
        self.with_queue(|q| q.tasks.push_back(task));
    }

    /// Replaces any inference still waiting: only the newest edit is computed.
    pub fn infer(&self, request: InferRequest) {
        let pending = &self.pending;
        self.with_queue(|q| {
            if q.infer.replace(request).is_none() {
                pending.fetch_add(1, Ordering::SeqCst);
            }
        });
    }

    pub fn run_batch(&self, job: BatchJob) {
        self.cancel.store(false, Ordering::SeqCst);
        self.batch_running.store(true, Ordering::SeqCst);
        if self.batch.send(BatchMsg::Run(job)).is_err() {
            self.batch_running.store(false, Ordering::SeqCst);
            let _ = self.events_tx.send(Event::BatchFailed("the batch worker has stopped".into()));
        }
    }

    pub fn cancel_batch(&self) {
        self.cancel.store(true, Ordering::SeqCst);
    }

    /// Events that arrived since the last call.
    pub fn poll(&self) -> Vec<Event> {
        self.events.try_iter().collect()
    }

    /// Live work outstanding, a long job running or a file being written.
    pub fn is_busy(&self) -> bool {
        self.pending.load(Ordering::SeqCst) > 0
            || self.batch_running.load(Ordering::SeqCst)
            || self.writing.load(Ordering::SeqCst) > 0
    }

    /// Encodes (`bytes`) and writes `path` on a thread of its own, so that a large PNG or a plot
    /// never holds up a frame; the outcome comes back as [`Event::Saved`].
    pub fn write(
        &self,
        path: PathBuf,
        bytes: impl FnOnce() -> anyhow::Result<Vec<u8>> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (events, notify, writing) = (self.events_tx.clone(), self.notify.clone(), self.writing.clone());
        let name = path.display().to_string();
        writing.fetch_add(1, Ordering::SeqCst);
        let spawned = std::thread::Builder::new().name("maskscope-save".into()).spawn({
            let writing = writing.clone();
            move || {
                let written = bytes().and_then(|bytes| Ok(write_atomic(&path, &bytes)?)).map(|()| path.clone());
                let outcome = written.map_err(|e| format!("{} was not saved: {}", path.display(), error_message(&e)));
                let _ = events.send(Event::Saved(outcome));
                writing.fetch_sub(1, Ordering::SeqCst);
                notify();
            }
        });
        spawned.map(drop).map_err(|e| {
            writing.fetch_sub(1, Ordering::SeqCst);
            anyhow::anyhow!("no thread to save {name}: {e}")
        })
    }

    pub fn live_busy(&self) -> bool {
        self.pending.load(Ordering::SeqCst) > 0
    }

    pub fn batch_running(&self) -> bool {
        self.batch_running.load(Ordering::SeqCst)
    }

    /// A sender for helpers that report back (file dialogs).
    pub fn sender(&self) -> (Sender<Event>, Notify) {
        (self.events_tx.clone(), self.notify.clone())
    }
}

impl Drop for Jobs {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::SeqCst);
        self.with_queue(|q| q.shutdown = true);
    }
}

struct LiveWorker {
    device: ComputeDevice,
    events: Sender<Event>,
    notify: Notify,
    pending: Arc<AtomicUsize>,
    batch: Sender<BatchMsg>,
    model: Option<LoadedModel>,
    /// The clean-trained network the similarity panel compares FROM with.
    baseline: Option<Embedder>,
    generation: u64,
    detector: Option<Mtcnn>,
}

enum Work {
    Task(Task),
    Infer(InferRequest),
}

impl LiveWorker {
    fn run(mut self, live: &(Mutex<LiveQueue>, Condvar)) {
        self.start_up();
        loop {
            let work = {
                let (lock, cv) = live;
                let mut queue = lock.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    if queue.shutdown {
                        return;
                    }
                    // Ordered tasks first: a model switch must happen before the next inference.
                    if let Some(task) = queue.tasks.pop_front() {
                        break Work::Task(task);
                    }
                    if let Some(request) = queue.infer.take() {
                        break Work::Infer(request);
                    }
                    queue = cv.wait(queue).unwrap_or_else(|e| e.into_inner());
                }
            };
            let event = match work {
                Work::Task(task) => self.task(task),
                Work::Infer(request) => self.infer(request),
            };
            self.send(event);
            self.pending.fetch_sub(1, Ordering::SeqCst);
            (self.notify)();
        }
    }

    fn send(&self, event: Option<Event>) {
        if let Some(event) = event {
            // The UI is gone when this fails; the thread ends at the next shutdown check.
            let _ = self.events.send(event);
        }
    }

    fn start_up(&mut self) {
        let library = OccluderLibrary::bundled().map(Arc::new).map_err(|e| format!("occluder library: {e}"));
        if let Ok(library) = &library {
            let _ = self.batch.send(BatchMsg::SetLibrary(library.clone()));
        }
        self.send(Some(Event::Library(library)));
        match engine::load_baseline(&self.device) {
            Ok(baseline) => self.baseline = Some(baseline),
            Err(e) => self.send(Some(Event::Notice(format!("no baseline similarity: {}", error_message(&e))))),
        }
        match Mtcnn::load(&crate::assets::mtcnn_dir(), &self.device.device) {
            Ok(detector) => self.detector = Some(detector),
            Err(e) => self
                .send(Some(Event::Notice(format!("face detection is unavailable ({e}); place the landmarks by hand")))),
        }
        (self.notify)();
    }

    fn task(&mut self, task: Task) -> Option<Event> {
        match task {
            Task::LoadModel(choice) => Some(match engine::load(&choice, &self.device) {
                Ok(loaded) => {
                    self.generation += 1;
                    let info = loaded.info.clone();
                    let _ = self.batch.send(BatchMsg::SetModel(Box::new(loaded.model.share()), Box::new(info.clone())));
                    self.model = Some(loaded);
                    Event::ModelLoaded { generation: self.generation, info }
                }
                Err(e) => {
                    Event::ModelFailed { error: format!("{}: {}", choice_name(&choice), error_message(&e)), choice }
                }
            }),
            Task::Detect { face, path } => Some(self.detect(face, path)),
            Task::Embed { face, align_revision, image } => {
                let model = self.model.as_ref()?;
                Some(match engine::embed(&model.model, self.baseline.as_ref(), &image) {
                    Ok(embedding) => Event::Embedded { face, align_revision, generation: self.generation, embedding },
                    Err(e) => Event::EmbedFailed { face, error: error_message(&e) },
                })
            }
        }
    }

    fn detect(&self, face: FaceId, path: PathBuf) -> Event {
        let (photo, damage) = match read_photo(&path) {
            Ok(photo) => (Arc::new(photo.image), photo.damage.map(|why| damage_warning(&path, &why))),
            Err(e) => return Event::DetectFailed { face, error: e.to_string() },
        };
        let detections = match &self.detector {
            Some(detector) => match detect_faces(detector, &photo) {
                Ok(found) => found,
                Err(e) => return Event::DetectFailed { face, error: format!("{}: {e}", path.display()) },
            },
            None => Vec::new(),
        };
        Event::Detected { face, photo, detections, damage }
    }

    fn infer(&mut self, mut request: InferRequest) -> Option<Event> {
        let Some(model) = &self.model else {
            return Some(Event::InferFailed { key: request.key, error: "no model is loaded".into() });
        };
        request.key.model_generation = self.generation;
        let start = Instant::now();
        let analysed = engine::analyze(&model.model, &request.image).and_then(|(outputs, _)| {
            Ok((outputs, engine::baseline_embedding(self.baseline.as_ref(), &request.image)?))
        });
        Some(match analysed {
            Ok((outputs, baseline)) => Event::Inferred { request, outputs, baseline, elapsed: start.elapsed() },
            Err(e) => Event::InferFailed { key: request.key, error: error_message(&e) },
        })
    }
}

/// What the region sweep reads: the pairs file, its images, how many pairs, and the caches.
struct SweepFiles {
    pairs: PathBuf,
    images: PathBuf,
    limit: usize,
    cache: PathBuf,
}

/// Labels of the region sweep's two networks (the sweep panel reads them back).
pub const SWEEP_BASELINE: &str = "baseline";
pub const SWEEP_FROM: &str = "FROM";

/// How a model choice reads in a message.
fn choice_name(choice: &ModelChoice) -> String {
    match choice {
        ModelChoice::Bundled => "the bundled model".into(),
        ModelChoice::File(path) => path.display().to_string(),
        ModelChoice::UntrainedHeads => "untrained FROM heads".into(),
        ModelChoice::RandomHeads => "random FROM heads".into(),
    }
}

fn batch_loop(
    rx: Receiver<BatchMsg>,
    device: ComputeDevice,
    events: Sender<Event>,
    notify: Notify,
    running: Arc<AtomicBool>,
    cancel: Arc<AtomicBool>,
) {
    let mut model: Option<(FaceModel, ModelInfo)> = None;
    let mut library: Option<Arc<OccluderLibrary>> = None;
    let send = |event: Event| {
        let _ = events.send(event);
        notify();
    };
    for msg in rx {
        match msg {
            BatchMsg::SetModel(m, info) => model = Some((*m, *info)),
            BatchMsg::SetLibrary(l) => library = Some(l),
            BatchMsg::Run(job) => {
                let outcome = match (&model, job) {
                    (None, _) => Err(anyhow::anyhow!("no model is loaded yet")),
                    (Some((m, _)), BatchJob::Sensitivity { face, reference, spec }) => {
                        let progress =
                            |done, total| send(Event::Progress(Progress { stage: "occluding".into(), done, total }));
                        sensitivity::compute(m, &face, &reference, spec, &cancel, progress)
                            .map(|map| send(Event::Sensitivity(map)))
                    }
                    (Some((m, info)), BatchJob::Sweep { pairs, images, limit, cache }) => {
                        let files = SweepFiles { pairs, images, limit, cache };
                        run_region_sweep(m, info, library.as_deref(), &device, &files, &cancel, &send)
                    }
                };
                running.store(false, Ordering::SeqCst);
                if let Err(e) = outcome {
                    send(Event::BatchFailed(error_message(&e)));
                } else {
                    notify();
                }
            }
        }
    }
}

/// Forwards the sweep's progress and each finished condition to the UI.
struct Forward<'a> {
    send: &'a dyn Fn(Event),
    stage: &'static str,
    done: usize,
    total: usize,
    last: Instant,
}

impl Forward<'_> {
    fn report(&mut self, force: bool) {
        // Every photo would be hundreds of repaints a second; five a second is plenty.
        if force || self.last.elapsed() > Duration::from_millis(200) {
            self.last = Instant::now();
            (self.send)(Event::Progress(Progress { stage: self.stage.into(), done: self.done, total: self.total }));
        }
    }
}

impl SweepObserver for Forward<'_> {
    fn stage(&mut self, stage: SweepStage, total: usize) {
        self.stage = match stage {
            SweepStage::Align => "detecting and aligning",
            SweepStage::Embed => "embedding",
        };
        (self.done, self.total) = (0, total);
        self.report(true);
    }

    fn advance(&mut self, units: usize) {
        self.done += units;
        self.report(false);
    }

    fn condition_finished(&mut self, result: &ConditionResult) {
        (self.send)(Event::SweepCondition(result.clone()));
    }
}

/// The evaluation issue's sweep (`eval::sweep`) on a pairs file: clean and the nine Figure-1
/// regions, for the clean-trained baseline network (the bundled pretrained MobileFaceNet,
/// "baseline") and this model ("FROM", and "FROM, mask off" when it has a mask).
fn run_region_sweep(
    model: &FaceModel,
    info: &ModelInfo,
    library: Option<&OccluderLibrary>,
    device: &ComputeDevice,
    files: &SweepFiles,
    cancel: &AtomicBool,
    send: &dyn Fn(Event),
) -> anyhow::Result<()> {
    let SweepFiles { pairs, images, limit, .. } = files;
    let (pairs, images, limit) = (pairs.as_path(), images.as_path(), *limit);
    let library = library.ok_or_else(|| anyhow::anyhow!("the occluder library did not load"))?;
    anyhow::ensure!(images.is_dir(), "{}: not a folder of images", images.display());
    let mut file = read_pairs_any(pairs, Some(images))?;
    if limit > 0 && file.pairs.len() > limit {
        // Evenly spaced pairs keep both classes (LFW files list all same-person pairs first)
        // and the file order the folds are cut from.
        let n = file.pairs.len();
        file.pairs = (0..limit).map(|i| file.pairs[i * n / limit].clone()).collect();
        file.layout = None;
    }
    let conditions = std::iter::once(Condition::Clean).chain(Region::ALL.map(Condition::Region)).collect();
    let mut spec = SweepSpec::new(pairs.to_path_buf(), file, Some(images.to_path_buf()), conditions);
    // Aligned faces and the baseline's embeddings come from `maskscope eval`'s cache, so a second
    // sweep (or one after an eval) skips them; the workbench's model is held in memory and is not
    // identified by a file, so its embeddings are computed each time.
    spec.setup.cache_root = Some(files.cache.clone());
    let baseline_path = crate::assets::mobilefacenet_record();
    let baseline = FaceModel::load(&baseline_path, &device.device)?;
    let baseline_sha = crate::face::cache::file_sha256(&baseline_path).ok();
    let models = [
        SweepModel { model: baseline, label: SWEEP_BASELINE.into(), sha256: baseline_sha },
        SweepModel { model: model.share(), label: SWEEP_FROM.into(), sha256: None },
    ];
    let mut finder = engine::face_finder(info.template, device)?;
    let mut observer = Forward { send, stage: "starting", done: 0, total: 0, last: Instant::now() };
    let start = Instant::now();
    let outcome = run_sweep(&spec, &models, &mut finder, library, &mut observer, cancel)?;
    let thumbnails = outcome.thumbnails.clone();
    let results = outcome.into_results(&spec, &models, device.info.short(), start.elapsed().as_secs_f64());
    send(Event::SweepDone { results: Box::new(results), thumbnails });
    Ok(())
}
