#include "adamas/model/model_config.h"

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "adamas/error.h"

namespace adamas {
namespace {

using Json = nlohmann::json;

// The Adamas kernels apply a Hadamard transform over head_dim, which needs a power of two, and
// size their per-head tiles for at most 256 coordinates.
constexpr int64_t kMaxHeadDim = 256;

bool is_power_of_two(int64_t value) { return value > 0 && (value & (value - 1)) == 0; }

// A present, non-null field; nullptr when absent or null (HF writes null for "use the default").
const Json* field(const Json& object, const char* key) {
  const auto found = object.find(key);
  if (found == object.end() || found->is_null()) return nullptr;
  return &*found;
}

// Integers may be written as 4096 or 4096.0; anything else (strings, fractions) is an error.
int64_t integer_value(const Json& value, const std::string& what, const std::string& source_name) {
  if (value.is_number_unsigned()) {
    const uint64_t number = value.get<uint64_t>();
    ADAMAS_CHECK(number <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), source_name, ": ", what,
                 " is ", number, ", too large");
    return static_cast<int64_t>(number);
  }
  if (value.is_number_integer()) return value.get<int64_t>();
  if (value.is_number_float()) {
    const double number = value.get<double>();
    ADAMAS_CHECK(std::isfinite(number) && number == std::floor(number) && std::fabs(number) < 9.0e18, source_name,
                 ": ", what, " is ", value.dump(), ", expected an integer");
    return static_cast<int64_t>(number);
  }
  throw Error(source_name + ": " + what + " is " + value.dump() + ", expected an integer");
}

double number_value(const Json& value, const std::string& what, const std::string& source_name) {
  ADAMAS_CHECK(value.is_number(), source_name, ": ", what, " is ", value.dump(), ", expected a number");
  return value.get<double>();
}

int64_t required_integer(const Json& object, const char* key, const std::string& source_name) {
  const Json* value = field(object, key);
  ADAMAS_CHECK(value != nullptr, source_name, ": missing required field '", key, "'");
  return integer_value(*value, key, source_name);
}

int64_t optional_integer(const Json& object, const char* key, int64_t fallback, const std::string& source_name) {
  const Json* value = field(object, key);
  return value ? integer_value(*value, key, source_name) : fallback;
}

double optional_number(const Json& object, const char* key, double fallback, const std::string& source_name) {
  const Json* value = field(object, key);
  return value ? number_value(*value, key, source_name) : fallback;
}

bool optional_bool(const Json& object, const char* key, bool fallback, const std::string& source_name) {
  const Json* value = field(object, key);
  if (!value) return fallback;
  ADAMAS_CHECK(value->is_boolean(), source_name, ": ", key, " is ", value->dump(), ", expected true or false");
  return value->get<bool>();
}

// eos_token_id may be one id or a list (Llama 3.1: [128001, 128008, 128009]); we keep the first.
int64_t token_id(const Json& object, const char* key, const std::string& source_name) {
  const Json* value = field(object, key);
  if (!value) return -1;
  if (value->is_array()) {
    if (value->empty()) return -1;
    return integer_value((*value)[0], std::string(key) + "[0]", source_name);
  }
  return integer_value(*value, key, source_name);
}

std::string architecture_of(const Json& config, const std::string& source_name) {
  if (const Json* architectures = field(config, "architectures")) {
    ADAMAS_CHECK(architectures->is_array() && !architectures->empty() && (*architectures)[0].is_string(),
                 source_name, ": architectures is ", architectures->dump(), ", expected a list of names");
    const std::string name = (*architectures)[0].get<std::string>();
    ADAMAS_CHECK(name == "LlamaForCausalLM" || name == "MistralForCausalLM", source_name,
                 ": unsupported architecture '", name, "', expected LlamaForCausalLM or MistralForCausalLM");
    return name;
  }
  // Some older exports carry only model_type.
  const Json* model_type = field(config, "model_type");
  ADAMAS_CHECK(model_type != nullptr, source_name, ": neither architectures nor model_type is set");
  const std::string type = model_type->is_string() ? model_type->get<std::string>() : model_type->dump();
  if (type == "llama") return "LlamaForCausalLM";
  if (type == "mistral") return "MistralForCausalLM";
  throw Error(source_name + ": unsupported model_type '" + type + "', expected llama or mistral");
}

RopeScaling parse_rope_scaling(const Json& config, const std::string& source_name) {
  RopeScaling scaling;
  const Json* value = field(config, "rope_scaling");
  if (!value) return scaling;
  ADAMAS_CHECK(value->is_object(), source_name, ": rope_scaling is ", value->dump(), ", expected null or an object");
  // Newer configs say rope_type, older ones type; some write both.
  const Json* type_value = field(*value, "rope_type");
  if (!type_value) type_value = field(*value, "type");
  ADAMAS_CHECK(type_value != nullptr && type_value->is_string(), source_name, ": rope_scaling ", value->dump(),
               " has no rope_type or type string");
  const std::string type = type_value->get<std::string>();
  if (type == "default") return scaling;

  auto required_number = [&](const char* key) {
    const Json* number = field(*value, key);
    ADAMAS_CHECK(number != nullptr, source_name, ": rope_scaling of type ", type, " has no ", key);
    return number_value(*number, std::string("rope_scaling.") + key, source_name);
  };
  if (type == "linear") {
    scaling.type = RopeScaling::Type::kLinear;
    scaling.factor = required_number("factor");
  } else if (type == "llama3") {
    scaling.type = RopeScaling::Type::kLlama3;
    scaling.factor = required_number("factor");
    scaling.low_freq_factor = required_number("low_freq_factor");
    scaling.high_freq_factor = required_number("high_freq_factor");
    const Json* original = field(*value, "original_max_position_embeddings");
    ADAMAS_CHECK(original != nullptr, source_name, ": rope_scaling of type llama3 has no original_max_position_embeddings");
    scaling.original_max_position_embeddings =
        integer_value(*original, "rope_scaling.original_max_position_embeddings", source_name);
  } else {
    throw Error(source_name + ": unsupported rope_scaling type '" + type + "', expected linear or llama3");
  }
  return scaling;
}

}  // namespace

void ModelConfig::validate(const std::string& source_name) const {
  ADAMAS_CHECK(!architecture.empty(), source_name, ": architecture is not set");
  auto positive = [&](const char* name, int64_t value) {
    ADAMAS_CHECK(value > 0, source_name, ": ", name, " is ", value, ", expected a positive integer");
  };
  positive("vocab_size", vocab_size);
  positive("hidden_size", hidden_size);
  positive("intermediate_size", intermediate_size);
  positive("num_hidden_layers", num_layers);
  positive("num_attention_heads", num_heads);
  positive("num_key_value_heads", num_kv_heads);
  positive("head_dim", head_dim);
  positive("max_position_embeddings", max_position_embeddings);
  ADAMAS_CHECK(num_heads % num_kv_heads == 0, source_name, ": num_attention_heads ", num_heads,
               " is not a multiple of num_key_value_heads ", num_kv_heads);
  ADAMAS_CHECK(is_power_of_two(head_dim) && head_dim <= kMaxHeadDim, source_name, ": head_dim is ", head_dim,
               ", expected a power of two no larger than ", kMaxHeadDim,
               " (the Adamas kernels apply a Hadamard transform over head_dim)");
  ADAMAS_CHECK(std::isfinite(rms_norm_eps) && rms_norm_eps > 0, source_name, ": rms_norm_eps is ", rms_norm_eps,
               ", expected a positive number");
  ADAMAS_CHECK(std::isfinite(rope_theta) && rope_theta > 0, source_name, ": rope_theta is ", rope_theta,
               ", expected a positive number");
  if (rope_scaling.type != RopeScaling::Type::kNone) {
    ADAMAS_CHECK(std::isfinite(rope_scaling.factor) && rope_scaling.factor >= 1.0, source_name,
                 ": rope_scaling.factor is ", rope_scaling.factor, ", expected a number >= 1");
  }
  if (rope_scaling.type == RopeScaling::Type::kLlama3) {
    ADAMAS_CHECK(std::isfinite(rope_scaling.low_freq_factor) && rope_scaling.low_freq_factor > 0, source_name,
                 ": rope_scaling.low_freq_factor is ", rope_scaling.low_freq_factor, ", expected a positive number");
    // The llama3 ramp divides by high_freq_factor - low_freq_factor.
    ADAMAS_CHECK(std::isfinite(rope_scaling.high_freq_factor) &&
                     rope_scaling.high_freq_factor > rope_scaling.low_freq_factor,
                 source_name, ": rope_scaling.high_freq_factor is ", rope_scaling.high_freq_factor,
                 ", expected a number larger than low_freq_factor ", rope_scaling.low_freq_factor);
    positive("rope_scaling.original_max_position_embeddings", rope_scaling.original_max_position_embeddings);
  }
  ADAMAS_CHECK(bos_token_id >= -1 && bos_token_id < vocab_size, source_name, ": bos_token_id is ", bos_token_id,
               ", expected -1 (none) or an id below vocab_size ", vocab_size);
  ADAMAS_CHECK(eos_token_id >= -1 && eos_token_id < vocab_size, source_name, ": eos_token_id is ", eos_token_id,
               ", expected -1 (none) or an id below vocab_size ", vocab_size);
}

ModelConfig parse_hf_config(const std::string& json_text, const std::string& source_name) {
  Json config;
  try {
    config = Json::parse(json_text);
  } catch (const Json::exception& error) {
    throw Error(source_name + ": malformed JSON: " + error.what());
  }
  ADAMAS_CHECK(config.is_object(), source_name, ": top level is a JSON ", config.type_name(), ", expected an object");

  ModelConfig result;
  result.architecture = architecture_of(config, source_name);
  result.vocab_size = required_integer(config, "vocab_size", source_name);
  result.hidden_size = required_integer(config, "hidden_size", source_name);
  result.intermediate_size = required_integer(config, "intermediate_size", source_name);
  result.num_layers = required_integer(config, "num_hidden_layers", source_name);
  result.num_heads = required_integer(config, "num_attention_heads", source_name);
  result.num_kv_heads = optional_integer(config, "num_key_value_heads", result.num_heads, source_name);
  if (const Json* head_dim = field(config, "head_dim")) {
    result.head_dim = integer_value(*head_dim, "head_dim", source_name);
  } else {
    ADAMAS_CHECK(result.num_heads > 0 && result.hidden_size % result.num_heads == 0, source_name,
                 ": hidden_size ", result.hidden_size, " is not a multiple of num_attention_heads ", result.num_heads,
                 " and head_dim is not given");
    result.head_dim = result.hidden_size / result.num_heads;
  }
  result.rms_norm_eps = optional_number(config, "rms_norm_eps", result.rms_norm_eps, source_name);
  result.rope_theta = optional_number(config, "rope_theta", result.rope_theta, source_name);
  result.rope_scaling = parse_rope_scaling(config, source_name);
  result.max_position_embeddings =
      optional_integer(config, "max_position_embeddings", result.max_position_embeddings, source_name);
  result.tie_word_embeddings = optional_bool(config, "tie_word_embeddings", false, source_name);
  result.bos_token_id = token_id(config, "bos_token_id", source_name);
  result.eos_token_id = token_id(config, "eos_token_id", source_name);

  // The forward pass is bias-free SwiGLU; refuse configs that need something else rather than
  // silently computing a different model.
  ADAMAS_CHECK(!optional_bool(config, "attention_bias", false, source_name), source_name,
               ": attention_bias is true, but attention projections with bias are not supported");
  ADAMAS_CHECK(!optional_bool(config, "mlp_bias", false, source_name), source_name,
               ": mlp_bias is true, but MLP projections with bias are not supported");
  if (const Json* activation = field(config, "hidden_act")) {
    ADAMAS_CHECK(activation->is_string() && activation->get<std::string>() == "silu", source_name,
                 ": hidden_act is ", activation->dump(), ", expected \"silu\"");
  }
  // Mistral's sliding window is not implemented. Within the window, full attention is the same
  // computation, so the usable context is capped at the window instead of refusing the model.
  if (const Json* window = field(config, "sliding_window")) {
    const int64_t sliding_window = integer_value(*window, "sliding_window", source_name);
    ADAMAS_CHECK(sliding_window > 0, source_name, ": sliding_window is ", sliding_window,
                 ", expected a positive integer or null");
    if (sliding_window < result.max_position_embeddings) result.max_position_embeddings = sliding_window;
  }

  result.validate(source_name);
  return result;
}

}  // namespace adamas
