// Firmware-style digit classifier on TensorFlow Lite Micro, using only the files
// 'edgedigits export --target mcu' writes: <model>.<recipe>.cc/.h (the int8 model as a C array,
// its arena size, its operators) and, for this host test, golden.json's images.
//
// classify() does its setup once: the op resolver and the interpreter are static and
// AllocateTensors() runs on the first call only. (Re-adding operators to a static resolver on
// every call fails from the third call on: the resolver is full.)
#include <cmath>
#include <cstdint>

#include "classify.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"
#include MODEL_HEADER  // set by the Makefile, e.g. "seed004_cnn.qat.h"

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define M(name) CAT(MODEL_PREFIX, name)  // M(_ARENA_BYTES) -> SEED004_CNN_QAT_ARENA_BYTES

namespace {

alignas(16) uint8_t g_arena[M(_ARENA_BYTES)];
tflite::MicroInterpreter* g_interpreter = nullptr;

bool setup() {
  static tflite::MicroMutableOpResolver<M(_OPERATOR_COUNT)> resolver;
  M(_ADD_OPERATORS)(resolver);
  static tflite::MicroInterpreter interpreter(tflite::GetModel(MODEL_DATA), resolver, g_arena,
                                              sizeof(g_arena));
  if (interpreter.AllocateTensors() != kTfLiteOk) return false;
  g_interpreter = &interpreter;
  return true;
}

}  // namespace

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
