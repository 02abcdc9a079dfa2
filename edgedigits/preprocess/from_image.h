/* A real picture to the 28x28 image a digit model sees: edgedigits' preprocessing contract
   (edgedigits.from_image/2) in C11. Integer arithmetic only, no malloc, no floating point: a
   camera frame or a canvas in, the 28x28 uint8 image (0 = background) out, the same bytes as
   edgedigits.preprocess.to_model_image (Python) and toModelImage (from_image.mjs). The steps and
   their numbers: edgedigits/contract/preprocessing.py, or a manifest's
   interface.input.from_image. Stack use: about 8 KB (an 86x86 working block where the stroke
   is measured and corrected, a 20x20 block and a 256-byte table); time: two passes over the
   frame (border and peak, then the ink's box), one over the box, and a few over the 80x80
   block. */
#ifndef EDGEDIGITS_FROM_IMAGE_H_
#define EDGEDIGITS_FROM_IMAGE_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EDGEDIGITS_FROM_IMAGE_CONTRACT "edgedigits.from_image/2"
#define EDGEDIGITS_SIDE 28
#define EDGEDIGITS_MAX_DIMENSION 65535

/* Results (edgedigits_from_image's return value). */
#define EDGEDIGITS_INK 0        /* a digit: out holds it */
#define EDGEDIGITS_NO_INK 1     /* an empty picture: out is 784 zeros */
#define EDGEDIGITS_BAD_FRAME (-1) /* width or height outside 1..65535, stride < width, or NULL */

/* gray: height rows of width 8-bit pixels, row k at gray + k * stride, either polarity (light
   ink on dark, or dark ink on light: found from the border). out: 28*28 bytes, row-major.
   inverted (may be NULL): set to 1 when the source was dark on light. */
int edgedigits_from_image(const uint8_t* gray, int width, int height, int stride,
                          uint8_t out[EDGEDIGITS_SIDE * EDGEDIGITS_SIDE], int* inverted);

/* One RGB888 pixel to gray with the contract's weights: (77 R + 150 G + 29 B + 128) >> 8. */
static inline uint8_t edgedigits_gray(uint8_t r, uint8_t g, uint8_t b) {
  return (uint8_t)((77u * r + 150u * g + 29u * b + 128u) >> 8);
}

#ifdef __cplusplus
}
#endif

#endif /* EDGEDIGITS_FROM_IMAGE_H_ */
