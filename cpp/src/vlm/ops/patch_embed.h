// Patch-embedding op: GLM-4.1V's Conv3d with kernel == stride over pre-flattened patches is a GEMM,
// out[n] = W.reshape(D, C*T*P*P) @ x[n] + b. Declared once; ops/cpu/patch_embed_kernel.cpp is the
// always-built ATen implementation (any device; cuBLAS on CUDA tensors).
#pragma once

#include <ATen/ATen.h>

namespace glyph::vlm::ops {

struct PatchEmbedParams {
  at::Tensor patches;  // [N, K] in the weight's dtype
  at::Tensor weight;   // [D, K] (the conv weight flattened)
  at::Tensor bias;     // [D] or undefined
};

// patches [N, K] (any float dtype; cast to the weight's), weight [D, C, T, P, P] with C*T*P*P == K.
at::Tensor patch_embed(const at::Tensor& patches, const at::Tensor& weight, const at::Tensor& bias);

namespace cpu {
at::Tensor patch_embed_kernel(const PatchEmbedParams& p);
}

}  // namespace glyph::vlm::ops
