// Orthonormal fast Walsh-Hadamard transform (Sylvester order, no random signs): x' = H x with
// H[i][j] = (-1)^popcount(i & j) / sqrt(d). Applied to q and k after RoPE, per head and token.
//
// Bit-exactness contract: every backend computes the butterfly in the same order (stages with
// span 1, 2, 4, ..., d/2; each pair (a, b) -> (a + b, a - b), no FMA), then multiplies every
// coordinate by the fp32 constant 1/sqrt(d). Rounding is therefore identical everywhere, so the
// key codes derived from the result are bit-identical across CPU reference, CPU fast and CUDA.
#pragma once

#include <vector>

namespace adamas {

constexpr int kMaxHeadDim = 256;

// Throws adamas::Error unless head_dim is a power of two in [4, kMaxHeadDim].
void check_head_dim(int head_dim);

// fp32 constant the butterfly result is multiplied by: 1/sqrt(head_dim), rounded once.
float hadamard_scale(int head_dim);

// In-place transform of one vector of head_dim floats. Scalar reference of the contract above.
void hadamard_transform_ref(float* x, int head_dim);
// Same result bit for bit, vectorized (AVX2 when the CPU has it).
void hadamard_transform(float* x, int head_dim);

// The dense matrix H (row-major head_dim x head_dim), for tests of the definition.
std::vector<float> hadamard_matrix(int head_dim);

}  // namespace adamas
