/* The firmware's API: C, so C and C++ code can call it. */
#ifndef EDGEDIGITS_CLASSIFY_H_
#define EDGEDIGITS_CLASSIFY_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* pixels: 28x28 grayscale, row by row, 0-255 (0 = background). Writes the 10 int8 scores and
   returns the digit, or -1 when TensorFlow Lite Micro could not set up or run. */
int classify(const uint8_t pixels[784], int8_t scores[10]);

/* Use this arena (16-byte aligned) from now on, and set TFLM up in it: 0, or -1 when the model
   does not fit (then classify() returns -1 until a call here succeeds). For a firmware that
   finds the built-in arena too small, or that takes its arena from a pool at run time. */
int classify_use_arena(uint8_t* arena, size_t bytes);

/* Bytes of the arena the model took (after the first classify()). */
size_t arena_used_bytes(void);

#ifdef __cplusplus
}
#endif

#endif /* EDGEDIGITS_CLASSIFY_H_ */
