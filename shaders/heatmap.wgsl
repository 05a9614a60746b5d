// FROM's feature mask as a heatmap over the aligned face, drawn by egui's wgpu paint callback
// (src/app/heatmap_gpu.rs). The mask plane (e.g. 7x7) is uploaded as an R32Float texture and
// upsampled here bilinearly; the colour maps are the polynomials of src/app/colormap.rs, and the
// sampling convention is Plane::sample's, so the CPU fallback draws the same picture.

struct Params {
    // Colour scale: value lo maps to 0, hi to 1.
    lo: f32,
    hi: f32,
    opacity: f32,
    // 0 turbo, 1 viridis, 2 grey.
    colormap: u32,
    // 1 when the render target is an sRGB format (the colour maps are gamma-encoded).
    srgb_target: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
// R32Float is not filterable everywhere, so texels are read with textureLoad and blended here.
@group(0) @binding(1) var plane: texture_2d<f32>;

struct VertexOut {
    @builtin(position) position: vec4<f32>,
    @location(0) uv: vec2<f32>,
};

// Two triangles over the viewport, which egui sets to the callback's rectangle.
@vertex
fn vs_main(@builtin(vertex_index) index: u32) -> VertexOut {
    var corners = array<vec2<f32>, 6>(
        vec2<f32>(0.0, 0.0), vec2<f32>(1.0, 0.0), vec2<f32>(0.0, 1.0),
        vec2<f32>(0.0, 1.0), vec2<f32>(1.0, 0.0), vec2<f32>(1.0, 1.0),
    );
    let c = corners[index];
    var out: VertexOut;
    out.position = vec4<f32>(c.x * 2.0 - 1.0, 1.0 - c.y * 2.0, 0.0, 1.0);
    out.uv = c;
    return out;
}

fn texel(x: i32, y: i32) -> f32 {
    return textureLoad(plane, vec2<i32>(x, y), 0).r;
}

// Bilinear, texel centres at (i + 0.5) / n, edges clamped.
fn sample_plane(uv: vec2<f32>) -> f32 {
    let size = vec2<f32>(textureDimensions(plane));
    let p = clamp(uv * size - vec2<f32>(0.5), vec2<f32>(0.0), size - vec2<f32>(1.0));
    let p0 = floor(p);
    let f = p - p0;
    let i0 = vec2<i32>(p0);
    let i1 = min(i0 + vec2<i32>(1), vec2<i32>(size) - vec2<i32>(1));
    let top = mix(texel(i0.x, i0.y), texel(i1.x, i0.y), f.x);
    let bottom = mix(texel(i0.x, i1.y), texel(i1.x, i1.y), f.x);
    return mix(top, bottom, f.y);
}

fn turbo(x: f32) -> vec3<f32> {
    let r4 = vec4<f32>(0.13572138, 4.61539260, -42.66032258, 132.13108234);
    let g4 = vec4<f32>(0.09140261, 2.19418839, 4.84296658, -14.18503333);
    let b4 = vec4<f32>(0.10667330, 12.64194608, -60.58204836, 110.36276771);
    let r2 = vec2<f32>(-152.94239396, 59.28637943);
    let g2 = vec2<f32>(4.27729857, 2.82956604);
    let b2 = vec2<f32>(-89.90310912, 27.34824973);
    let v4 = vec4<f32>(1.0, x, x * x, x * x * x);
    let v2 = vec2<f32>(v4.z * v4.z, v4.w * v4.z);
    return clamp(vec3<f32>(dot(v4, r4) + dot(v2, r2), dot(v4, g4) + dot(v2, g2), dot(v4, b4) + dot(v2, b2)),
                 vec3<f32>(0.0), vec3<f32>(1.0));
}

fn viridis(t: f32) -> vec3<f32> {
    let c0 = vec3<f32>(0.2777273272234177, 0.005407344544966578, 0.3340998053353061);
    let c1 = vec3<f32>(0.1050930431085774, 1.404613529898575, 1.384590162594685);
    let c2 = vec3<f32>(-0.3308618287255563, 0.214847559468213, 0.09509516302823659);
    let c3 = vec3<f32>(-4.634230498983486, -5.799100973351585, -19.33244095627987);
    let c4 = vec3<f32>(6.228269936347081, 14.17993336680509, 56.69055260068105);
    let c5 = vec3<f32>(4.776384997670288, -13.74514537774601, -65.35303263337234);
    let c6 = vec3<f32>(-5.435455855934631, 4.645852612178535, 26.3124352495832);
    return clamp(c0 + t * (c1 + t * (c2 + t * (c3 + t * (c4 + t * (c5 + t * c6))))), vec3<f32>(0.0), vec3<f32>(1.0));
}

fn colour(t: f32) -> vec3<f32> {
    switch params.colormap {
        case 0u: { return turbo(t); }
        case 1u: { return viridis(t); }
        default: { return vec3<f32>(t); }
    }
}

fn srgb_to_linear(c: vec3<f32>) -> vec3<f32> {
    let low = c / 12.92;
    let high = pow((c + vec3<f32>(0.055)) / 1.055, vec3<f32>(2.4));
    return select(high, low, c <= vec3<f32>(0.04045));
}

@fragment
fn fs_main(in: VertexOut) -> @location(0) vec4<f32> {
    let v = sample_plane(in.uv);
    let t = clamp((v - params.lo) / max(params.hi - params.lo, 1e-12), 0.0, 1.0);
    var rgb = colour(t);
    if params.srgb_target == 1u {
        rgb = srgb_to_linear(rgb);
    }
    // egui blends premultiplied alpha.
    let a = clamp(params.opacity, 0.0, 1.0);
    return vec4<f32>(rgb * a, a);
}
