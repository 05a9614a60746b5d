//! The heatmap overlay drawn on the GPU: `shaders/heatmap.wgsl` through egui's wgpu paint
//! callback. The mask plane is tiny (7x7 for MobileFaceNet), so it goes up as a texture and the
//! shader upsamples and colours it per screen pixel: the overlay stays smooth at any zoom without
//! re-rendering an image on the CPU after every inference.

use std::num::NonZeroU64;
use std::sync::Arc;

use eframe::egui;
use eframe::egui_wgpu::{self, wgpu};

use crate::heatmap::Plane;
use crate::heatmap::colormap::Colormap;

const SHADER: &str = include_str!("../../shaders/heatmap.wgsl");
/// Size of the shader's `Params` struct.
const PARAMS_SIZE: u64 = 32;

/// Pipeline and buffers, kept in the renderer's callback resources.
pub struct HeatmapResources {
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    params: wgpu::Buffer,
    texture: Option<(wgpu::Texture, [u32; 2])>,
    bind_group: Option<wgpu::BindGroup>,
    /// Generation of the plane in the texture.
    uploaded: Option<u64>,
    srgb_target: bool,
}

/// Creates the pipeline on egui's device and stores it for the callbacks. Shader errors are
/// reported by wgpu's error scope rather than a panic, so the app can fall back to the CPU path.
pub fn install(render_state: &egui_wgpu::RenderState) -> Result<(), String> {
    let device = &render_state.device;
    let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("maskscope heatmap"),
        source: wgpu::ShaderSource::Wgsl(SHADER.into()),
    });
    let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("maskscope heatmap bind group layout"),
        entries: &[
            wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::FRAGMENT,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: NonZeroU64::new(PARAMS_SIZE),
                },
                count: None,
            },
            wgpu::BindGroupLayoutEntry {
                binding: 1,
                visibility: wgpu::ShaderStages::FRAGMENT,
                ty: wgpu::BindingType::Texture {
                    sample_type: wgpu::TextureSampleType::Float { filterable: false },
                    view_dimension: wgpu::TextureViewDimension::D2,
                    multisampled: false,
                },
                count: None,
            },
        ],
    });
    let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some("maskscope heatmap pipeline layout"),
        bind_group_layouts: &[Some(&layout)],
        immediate_size: 0,
    });
    let format = render_state.target_format;
    let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
        label: Some("maskscope heatmap pipeline"),
        layout: Some(&pipeline_layout),
        vertex: wgpu::VertexState {
            module: &module,
            entry_point: Some("vs_main"),
            compilation_options: wgpu::PipelineCompilationOptions::default(),
            buffers: &[],
        },
        primitive: wgpu::PrimitiveState::default(),
        depth_stencil: None,
        // eframe and kittest both render egui without MSAA (NativeOptions::multisampling = 0).
        multisample: wgpu::MultisampleState::default(),
        fragment: Some(wgpu::FragmentState {
            module: &module,
            entry_point: Some("fs_main"),
            compilation_options: wgpu::PipelineCompilationOptions::default(),
            targets: &[Some(wgpu::ColorTargetState {
                format,
                blend: Some(wgpu::BlendState::PREMULTIPLIED_ALPHA_BLENDING),
                write_mask: wgpu::ColorWrites::ALL,
            })],
        }),
        multiview_mask: None,
        cache: None,
    });
    let params = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("maskscope heatmap params"),
        size: PARAMS_SIZE,
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    if let Some(error) = pollster_block_on(scope.pop()) {
        return Err(format!("the heatmap shader failed to build: {error}"));
    }
    let resources = HeatmapResources {
        pipeline,
        layout,
        params,
        texture: None,
        bind_group: None,
        uploaded: None,
        srgb_target: format.is_srgb(),
    };
    render_state.renderer.write().callback_resources.insert(resources);
    Ok(())
}

/// Error scopes resolve immediately on native backends; a tiny executor avoids a dependency.
fn pollster_block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut cx = Context::from_waker(Waker::noop());
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::yield_now();
    }
}

/// One frame's heatmap: the plane (shared, uploaded only when `generation` changes) and the look.
pub struct HeatmapCallback {
    pub plane: Arc<Plane>,
    pub generation: u64,
    pub colormap: Colormap,
    pub range: (f32, f32),
    pub opacity: f32,
}

impl HeatmapCallback {
    pub fn paint(self, painter: &egui::Painter, rect: egui::Rect) {
        painter.add(egui_wgpu::Callback::new_paint_callback(rect, self));
    }

    fn params_bytes(&self, srgb_target: bool) -> [u8; PARAMS_SIZE as usize] {
        let words: [u32; 8] = [
            self.range.0.to_bits(),
            self.range.1.to_bits(),
            self.opacity.to_bits(),
            self.colormap.shader_index(),
            u32::from(srgb_target),
            0,
            0,
            0,
        ];
        let mut bytes = [0u8; PARAMS_SIZE as usize];
        for (chunk, word) in bytes.chunks_exact_mut(4).zip(words) {
            chunk.copy_from_slice(&word.to_ne_bytes());
        }
        bytes
    }
}

impl egui_wgpu::CallbackTrait for HeatmapCallback {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        _screen: &egui_wgpu::ScreenDescriptor,
        _encoder: &mut wgpu::CommandEncoder,
        resources: &mut egui_wgpu::CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        let Some(res) = resources.get_mut::<HeatmapResources>() else { return Vec::new() };
        queue.write_buffer(&res.params, 0, &self.params_bytes(res.srgb_target));
        let (w, h) = (self.plane.width as u32, self.plane.height as u32);
        if w == 0 || h == 0 || self.plane.values.len() != (w * h) as usize {
            res.bind_group = None;
            return Vec::new();
        }
        if res.uploaded == Some(self.generation) && res.bind_group.is_some() {
            return Vec::new();
        }
        if res.texture.as_ref().is_none_or(|(_, size)| *size != [w, h]) {
            let texture = device.create_texture(&wgpu::TextureDescriptor {
                label: Some("maskscope heatmap plane"),
                size: wgpu::Extent3d { width: w, height: h, depth_or_array_layers: 1 },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: wgpu::TextureFormat::R32Float,
                usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                view_formats: &[],
            });
            let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
            res.bind_group = Some(device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("maskscope heatmap bind group"),
                layout: &res.layout,
                entries: &[
                    wgpu::BindGroupEntry { binding: 0, resource: res.params.as_entire_binding() },
                    wgpu::BindGroupEntry { binding: 1, resource: wgpu::BindingResource::TextureView(&view) },
                ],
            }));
            res.texture = Some((texture, [w, h]));
        }
        if let Some((texture, _)) = &res.texture {
            let bytes: Vec<u8> = self.plane.values.iter().flat_map(|v| v.to_ne_bytes()).collect();
            queue.write_texture(
                wgpu::TexelCopyTextureInfo {
                    texture,
                    mip_level: 0,
                    origin: wgpu::Origin3d::ZERO,
                    aspect: wgpu::TextureAspect::All,
                },
                &bytes,
                wgpu::TexelCopyBufferLayout { offset: 0, bytes_per_row: Some(4 * w), rows_per_image: Some(h) },
                wgpu::Extent3d { width: w, height: h, depth_or_array_layers: 1 },
            );
            res.uploaded = Some(self.generation);
        }
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        pass: &mut wgpu::RenderPass<'static>,
        resources: &egui_wgpu::CallbackResources,
    ) {
        let Some(res) = resources.get::<HeatmapResources>() else { return };
        let Some(bind_group) = &res.bind_group else { return };
        pass.set_pipeline(&res.pipeline);
        pass.set_bind_group(0, bind_group, &[]);
        pass.draw(0..6, 0..1);
    }
}
