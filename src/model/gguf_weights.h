// The GGUF side of the model layer: llama.cpp tensor names mapped to Hugging Face names, the
// q/k row permutation undone, config and tokenizer read from metadata. gguf.cpp builds the public
// entry points from these; tests and the fuzz harness call them on in-memory files.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "adamas/model/bpe_tokenizer.h"
#include "adamas/model/checkpoint.h"
#include "model/gguf_reader.h"

namespace adamas {

// "blk.3.attn_q.weight" -> "model.layers.3.self_attn.q_proj.weight", "token_embd.weight" ->
// "model.embed_tokens.weight", ...; an empty string for names without a Hugging Face equivalent.
std::string gguf_to_hf_tensor_name(const std::string& gguf_name);

// llama.cpp's converter stores q_proj/k_proj rows per head as (head_dim/2, 2) instead of
// (2, head_dim/2) so that its RoPE rotates adjacent pairs. Row h*head_dim + 2*i + j of the GGUF
// tensor is row h*head_dim + j*head_dim/2 + i of the Hugging Face one. `rows` is [n_rows, row_len]
// row-major with n_rows = n_heads * head_dim.
std::vector<float> unpermute_qk_rows(const std::vector<float>& rows, int64_t n_heads, int64_t row_len);
// The converter's direction (used by tests to build GGUF-ordered data).
std::vector<float> permute_qk_rows(const std::vector<float>& rows, int64_t n_heads, int64_t row_len);

// Config from the {arch}.* keys. Throws adamas::Error naming the file and the key.
ModelConfig gguf_model_config(const GgufFile& file);
// Byte-level BPE tokenizer from tokenizer.ggml.*. Throws adamas::Error.
std::unique_ptr<BpeTokenizer> gguf_tokenizer(const GgufFile& file);
// Weights renamed to Hugging Face names; `config` supplies head counts for the q/k fix.
std::unique_ptr<WeightSource> gguf_weight_source(std::shared_ptr<const GgufFile> file, const ModelConfig& config);
// All three, as open_gguf_checkpoint returns them.
Checkpoint gguf_checkpoint(std::shared_ptr<const GgufFile> file);

}  // namespace adamas
