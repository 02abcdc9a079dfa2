/* edgedigits.from_image/1 in C11: see from_image.h. Each step names the contract's step
   (edgedigits/contract/preprocessing.py) it implements. */
#include "from_image.h"

#include <string.h>

enum {
  DARK_ON_LIGHT_BORDER_MEAN = 128,
  MIN_CONTRAST = 32,
  INK_THRESHOLD = 48,
  FIT = 20,
  SIDE = EDGEDIGITS_SIDE,
  CENTRE = 14
};

/* floor(a / b) for b > 0 (C's division truncates toward zero). */
static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* polarity and levels: the sum of the border ring (each pixel once) and its size. */
static void border(const uint8_t* gray, int width, int height, int stride, int invert,
                   uint64_t* sum, uint64_t* count) {
  uint64_t s = 0, n = 0;
  for (int y = 0; y < height; ++y) {
    const uint8_t* row = gray + (int64_t)y * stride;
    int edge_row = (y == 0 || y == height - 1 || width <= 2 || height <= 2);
    for (int x = 0; x < width; x += (edge_row || x == width - 1) ? 1 : width - 1) {
      s += (uint64_t)(invert ? 255 - row[x] : row[x]);
      ++n;
    }
  }
  *sum = s;
  *count = n;
}

int edgedigits_from_image(const uint8_t* gray, int width, int height, int stride,
                          uint8_t out[EDGEDIGITS_SIDE * EDGEDIGITS_SIDE], int* inverted) {
  if (!gray || !out || width < 1 || height < 1 || width > EDGEDIGITS_MAX_DIMENSION ||
      height > EDGEDIGITS_MAX_DIMENSION || stride < width) {
    return EDGEDIGITS_BAD_FRAME;
  }
  memset(out, 0, SIDE * SIDE);
  uint64_t sum, count;
  border(gray, width, height, stride, 0, &sum, &count);
  const int invert = sum >= (uint64_t)DARK_ON_LIGHT_BORDER_MEAN * count;
  if (inverted) *inverted = invert;
  border(gray, width, height, stride, invert, &sum, &count);
  const int background = (int)(sum / count);
  int peak = 0;
  for (int y = 0; y < height; ++y) {
    const uint8_t* row = gray + (int64_t)y * stride;
    for (int x = 0; x < width; ++x) {
      int p = invert ? 255 - row[x] : row[x];
      if (p > peak) peak = p;
    }
  }
  if (peak - background < MIN_CONTRAST) return EDGEDIGITS_NO_INK;
  /* levels and the ink threshold, as a table over gray values */
  uint8_t levels[256];
  const int span = peak - background;
  for (int g = 0; g < 256; ++g) {
    int p = invert ? 255 - g : g;
    int v = p <= background ? 0 : (int)min64(255, ((int64_t)(p - background) * 255 + span / 2) / span);
    levels[g] = (uint8_t)(v < INK_THRESHOLD ? 0 : v);
  }
  /* crop: the ink's bounding box */
  int y0 = height, y1 = -1, x0 = width, x1 = -1;
  for (int y = 0; y < height; ++y) {
    const uint8_t* row = gray + (int64_t)y * stride;
    for (int x = 0; x < width; ++x) {
      if (levels[row[x]]) {
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
      }
    }
  }
  if (y1 < 0) return EDGEDIGITS_NO_INK;
  /* fit: exact area average into at most 20x20, round half up */
  const int64_t h = y1 - y0 + 1, w = x1 - x0 + 1, longer = max64(h, w);
  const int oh = (int)max64(1, (FIT * h + longer / 2) / longer);
  const int ow = (int)max64(1, (FIT * w + longer / 2) / longer);
  const int64_t area = h * w;
  uint32_t block[FIT * FIT];
  uint32_t block_peak = 0;
  for (int i = 0; i < oh; ++i) {
    const int64_t ya = (i * h) / oh, yb = ((i + 1) * h - 1) / oh;
    for (int j = 0; j < ow; ++j) {
      const int64_t xa = (j * w) / ow, xb = ((j + 1) * w - 1) / ow;
      uint64_t acc = 0;
      for (int64_t y = ya; y <= yb; ++y) {
        const int64_t wy = min64((i + 1) * h, (y + 1) * oh) - max64(i * h, y * oh);
        const uint8_t* row = gray + (y0 + y) * (int64_t)stride + x0;
        uint64_t line = 0;
        for (int64_t x = xa; x <= xb; ++x) {
          const int64_t wx = min64((j + 1) * w, (x + 1) * ow) - max64(j * w, x * ow);
          line += (uint64_t)wx * levels[row[x]];
        }
        acc += (uint64_t)wy * line;
      }
      const uint32_t v = (uint32_t)((acc + (uint64_t)area / 2) / (uint64_t)area);
      block[i * ow + j] = v;
      if (v > block_peak) block_peak = v;
    }
  }
  /* restretch, then the centre of mass */
  int64_t total = 0, sy = 0, sx = 0;
  for (int i = 0; i < oh; ++i) {
    for (int j = 0; j < ow; ++j) {
      uint32_t v = block[i * ow + j];
      if (block_peak) v = (v * 255u + block_peak / 2) / block_peak;
      block[i * ow + j] = v;
      total += v;
      sy += (int64_t)i * v;
      sx += (int64_t)j * v;
    }
  }
  int64_t top = (SIDE - oh) / 2, left = (SIDE - ow) / 2;
  if (total > 0) {
    top = min64(max64(floor_div((2 * CENTRE + 1) * total - 2 * sy, 2 * total), 0), SIDE - oh);
    left = min64(max64(floor_div((2 * CENTRE + 1) * total - 2 * sx, 2 * total), 0), SIDE - ow);
  }
  /* pad: copy the block into the zeroed field */
  for (int i = 0; i < oh; ++i) {
    for (int j = 0; j < ow; ++j) out[(top + i) * SIDE + left + j] = (uint8_t)block[i * ow + j];
  }
  return EDGEDIGITS_INK;
}
