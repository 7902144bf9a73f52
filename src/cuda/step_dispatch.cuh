// Host-side choices the two one-launch steps share (the cluster step, adamas_step.cu, and the grid
// step, grid_step.cu): the shapes they have kernels for, the dispatch from a runtime shape to the
// kernel instantiation, and the span a block scans for a plan's context.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <type_traits>

#include "adamas/dtype.h"
#include "adamas/error.h"
#include "cuda/step_phases.cuh"

namespace adamas::cuda::step {

// Query heads per row the steps are compiled for: at most 8, a warp builds each head's query code
// (stage_row); heads * d <= 1024 bounds the queries staged in shared memory and the grid step's
// partials (grid_step.cuh).
constexpr bool heads_supported(int heads, int head_dim) {
  return (heads == 1 || heads == 2 || heads == 4 || heads == 8) && heads * head_dim <= 1024;
}

// Whether the steps have a kernel for the shape: fp16/bf16 K/V, head_dim 64/128/256, heads_supported.
constexpr bool shape_supported(DType dtype, int head_dim, int heads_per_row) {
  return (dtype == DType::kF16 || dtype == DType::kBF16) && (head_dim == 64 || head_dim == 128 || head_dim == 256) &&
         heads_supported(heads_per_row, head_dim);
}

// The most candidates a block scans for a plan of max_context tokens with `blocks` blocks a row
// (every token but the current one is a candidate).
inline int span_for(int max_context, int blocks) { return step_span(std::max(1, max_context - 1), blocks); }

// Calls visit(std::type_identity<T>, std::integral_constant<D>, std::integral_constant<HEADS>) for
// the kernel instantiation of a shape; throws for shapes there is none for, the message starting
// with `step_name` ("CUDA grid step").
template <typename Visit>
void with_kernel(const char* step_name, DType dtype, int head_dim, int heads_per_row, Visit&& visit) {
  auto with_dim = [&](auto type, auto dim) {
    constexpr int D = decltype(dim)::value;
    auto with_heads = [&](auto heads) {
      constexpr int H = decltype(heads)::value;
      if constexpr (heads_supported(H, D)) visit(type, dim, heads);
      else throw Error(detail::concat(step_name, ": ", H, " heads per row at head_dim ", D, " not supported"));
    };
    switch (heads_per_row) {
      case 1: with_heads(std::integral_constant<int, 1>{}); break;
      case 2: with_heads(std::integral_constant<int, 2>{}); break;
      case 4: with_heads(std::integral_constant<int, 4>{}); break;
      case 8: with_heads(std::integral_constant<int, 8>{}); break;
      default:
        throw Error(detail::concat(step_name, ": ", heads_per_row, " query heads per row not supported (1, 2, 4, 8)"));
    }
  };
  auto with_type = [&](auto type) {
    switch (head_dim) {
      case 64: with_dim(type, std::integral_constant<int, 64>{}); break;
      case 128: with_dim(type, std::integral_constant<int, 128>{}); break;
      case 256: with_dim(type, std::integral_constant<int, 256>{}); break;
      default: throw Error(detail::concat(step_name, ": head_dim ", head_dim, " not supported (64, 128, 256)"));
    }
  };
  switch (dtype) {
    case DType::kF16: with_type(std::type_identity<__half>{}); break;
    case DType::kBF16: with_type(std::type_identity<__nv_bfloat16>{}); break;
    default: throw Error(detail::concat(step_name, ": fp16 or bf16 K/V only"));
  }
}

}  // namespace adamas::cuda::step
