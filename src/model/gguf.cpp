#include "adamas/model/gguf.h"

#include "adamas/error.h"

namespace adamas {

Checkpoint open_gguf_checkpoint(const std::string& path) {
  throw Error(path + ": GGUF support is not built yet");
}

}  // namespace adamas
