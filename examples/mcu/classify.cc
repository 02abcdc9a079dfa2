// Firmware-style digit classifier on TensorFlow Lite Micro, using only the files
// 'edgedigits export --target mcu' writes: <model>.<recipe>.cc/.h (the int8 model as a C array,
// its arena size, its operators) and, for this host test, golden.json's images.
//
// classify() does its setup once: the op resolver is filled once for the program's life (a
// second <PREFIX>_ADD_OPERATORS on a full resolver fails), and the interpreter is built and its
// tensors allocated on the first call. When AllocateTensors() fails (an arena too small for the
// model), the half-allocated interpreter is torn down, so the next call, or classify_use_arena()
// with a larger arena, starts from a fresh one instead of re-running setup on a broken one.
#include <cmath>
#include <cstdint>
#include <new>

#include "classify.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"
#include MODEL_HEADER  // set by the Makefile, e.g. "seed004_cnn.qat.h"

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define M(name) CAT(MODEL_PREFIX, name)  // M(_ARENA_BYTES) -> SEED004_CNN_QAT_ARENA_BYTES

// The arena the header recommends, unless the build says otherwise (the tests build one too
// small on purpose: make ARENA_BYTES=1024).
#ifndef CLASSIFY_ARENA_BYTES
#define CLASSIFY_ARENA_BYTES M(_ARENA_BYTES)
#endif

namespace {

using Resolver = tflite::MicroMutableOpResolver<M(_OPERATOR_COUNT)>;

alignas(16) uint8_t g_static_arena[CLASSIFY_ARENA_BYTES];
uint8_t* g_arena = g_static_arena;
size_t g_arena_bytes = sizeof(g_static_arena);

// The interpreter is built in place here (no heap), and destroyed when its setup fails.
alignas(tflite::MicroInterpreter) unsigned char g_storage[sizeof(tflite::MicroInterpreter)];
tflite::MicroInterpreter* g_interpreter = nullptr;

const Resolver& resolver() {
  static Resolver filled_once;
  static bool filled = false;
  if (!filled) {
    M(_ADD_OPERATORS)(filled_once);
    filled = true;
  }
  return filled_once;
}

void teardown() {
  if (g_interpreter != nullptr) g_interpreter->~MicroInterpreter();
  g_interpreter = nullptr;
}

bool setup() {
  auto* interpreter = new (g_storage)
      tflite::MicroInterpreter(tflite::GetModel(MODEL_DATA), resolver(), g_arena, g_arena_bytes);
  if (interpreter->AllocateTensors() != kTfLiteOk) {
    interpreter->~MicroInterpreter();  // never reused half-allocated
    return false;
  }
  g_interpreter = interpreter;
  return true;
}

}  // namespace

extern "C" int classify_use_arena(uint8_t* arena, size_t bytes) {
  teardown();
  g_arena = arena;
  g_arena_bytes = bytes;
  return setup() ? 0 : -1;
}

extern "C" int classify(const uint8_t pixels[784], int8_t scores[10]) {
  if (g_interpreter == nullptr && !setup()) return -1;
  TfLiteTensor* input = g_interpreter->input(0);
  TfLiteTensor* output = g_interpreter->output(0);
  if (input->type != kTfLiteInt8 || output->type != kTfLiteInt8) return -1;  // --io int8 files
  // x = pixel * scale + offset, then q = clamp(round_half_away_from_zero(x / s) + zp): the
  // manifest's interface.input, with s and zp from the tensor itself.
  const float s = input->params.scale;
  const int32_t zp = input->params.zero_point;
  for (int i = 0; i < 784; ++i) {
    const float x = pixels[i] * M(_INPUT_SCALE) + M(_INPUT_OFFSET);
    long q = lroundf(x / s) + zp;
    input->data.int8[i] = static_cast<int8_t>(q < -128 ? -128 : q > 127 ? 127 : q);
  }
  if (g_interpreter->Invoke() != kTfLiteOk) return -1;
  int best = 0;
  for (int k = 0; k < 10; ++k) {
    scores[k] = output->data.int8[k];
    if (scores[k] > scores[best]) best = k;
  }
  return best;
}

extern "C" size_t arena_used_bytes(void) {
  return g_interpreter == nullptr ? 0 : g_interpreter->arena_used_bytes();
}
