/* edgedigits.from_image/2 in C11: see from_image.h. Each step names the contract's step
   (edgedigits/contract/preprocessing.py) it implements. */
#include "from_image.h"

#include <string.h>

enum {
  DARK_ON_LIGHT_BORDER_MEAN = 128,
  MIN_CONTRAST = 32,
  INK_THRESHOLD = 48,
  FIT = 20,
  WORK = 80,
  STROKE_LEVEL = 128,
  STROKE_LOW = 7,
  STROKE_HIGH = 14,
  MAX_STROKE_STEPS = 3,
  /* the working block: WORK x WORK at most, with MAX_STROKE_STEPS of zeros on every side */
  PADDED = WORK + 2 * MAX_STROKE_STEPS,
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

/* fit: the h x w box at (y0, x0) of src (row stride `stride`, each value through `levels` when
   not NULL), area-averaged so its longer side is `side` (exact integer weights, round half up),
   its peak restretched to 255, written to dst (row stride `dst_stride`); *oh x *ow. */
static void fit(const uint8_t* src, int64_t stride, int64_t y0, int64_t x0, int64_t h, int64_t w,
                const uint8_t* levels, int side, uint8_t* dst, int dst_stride, int* out_h,
                int* out_w) {
  const int64_t longer = max64(h, w);
  const int oh = (int)max64(1, (side * h + longer / 2) / longer);
  const int ow = (int)max64(1, (side * w + longer / 2) / longer);
  const int64_t area = h * w;
  unsigned peak = 0;
  for (int i = 0; i < oh; ++i) {
    const int64_t ya = (i * h) / oh, yb = ((i + 1) * h - 1) / oh;
    for (int j = 0; j < ow; ++j) {
      const int64_t xa = (j * w) / ow, xb = ((j + 1) * w - 1) / ow;
      uint64_t acc = 0;
      for (int64_t y = ya; y <= yb; ++y) {
        const int64_t wy = min64((i + 1) * h, (y + 1) * oh) - max64(i * h, y * oh);
        const uint8_t* row = src + (y0 + y) * stride + x0;
        uint64_t line = 0;
        for (int64_t x = xa; x <= xb; ++x) {
          const int64_t wx = min64((j + 1) * w, (x + 1) * ow) - max64(j * w, x * ow);
          line += (uint64_t)wx * (levels ? levels[row[x]] : row[x]);
        }
        acc += (uint64_t)wy * line;
      }
      const unsigned v = (unsigned)((acc + (uint64_t)area / 2) / (uint64_t)area);
      dst[i * dst_stride + j] = (uint8_t)v;
      if (v > peak) peak = v;
    }
  }
  if (peak) {
    for (int i = 0; i < oh; ++i) {
      for (int j = 0; j < ow; ++j) {
        uint8_t* v = &dst[i * dst_stride + j];
        *v = (uint8_t)((*v * 255u + peak / 2) / peak);
      }
    }
  }
  *out_h = oh;
  *out_w = ow;
}

/* the value at (y, x) of a h x w region with row stride `stride`, 0 outside it */
static unsigned at(const uint8_t* region, int stride, int h, int w, int y, int x) {
  return (y < 0 || y >= h || x < 0 || x >= w) ? 0u : region[y * stride + x];
}

/* stroke width: how many 3x3 steps bring it into [STROKE_LOW, STROKE_HIGH] (2 x ink pixels /
   edge pixels): > 0 grows, < 0 thins */
static int stroke_steps(const uint8_t* region, int stride, int h, int w) {
  int64_t a = 0, b = 0;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      if (at(region, stride, h, w, y, x) < STROKE_LEVEL) continue;
      ++a;
      if (at(region, stride, h, w, y - 1, x) < STROKE_LEVEL ||
          at(region, stride, h, w, y + 1, x) < STROKE_LEVEL ||
          at(region, stride, h, w, y, x - 1) < STROKE_LEVEL ||
          at(region, stride, h, w, y, x + 1) < STROKE_LEVEL) {
        ++b;
      }
    }
  }
  if (b == 0) return 0;
  if (2 * a < STROKE_LOW * b) {
    return (int)min64(MAX_STROKE_STEPS, (STROKE_LOW * b - 2 * a + b) / (2 * b));
  }
  if (2 * a > STROKE_HIGH * b) {
    return -(int)min64(MAX_STROKE_STEPS, (2 * a - STROKE_HIGH * b + b) / (2 * b));
  }
  return 0;
}

/* one 3x3 max (grow) or min (thin) step in place, 0 beyond the region: separably, along each
   row then down each column (the 3x3 square is both), carrying the overwritten neighbour */
static void step(uint8_t* region, int stride, int h, int w, int grow) {
  for (int y = 0; y < h; ++y) {
    uint8_t* row = region + y * stride;
    unsigned before = 0;
    for (int x = 0; x < w; ++x) {
      const unsigned here = row[x], after = x + 1 < w ? row[x + 1] : 0u;
      unsigned v = grow ? (before > here ? before : here) : (before < here ? before : here);
      v = grow ? (v > after ? v : after) : (v < after ? v : after);
      before = here;
      row[x] = (uint8_t)v;
    }
  }
  for (int x = 0; x < w; ++x) {
    unsigned before = 0;
    for (int y = 0; y < h; ++y) {
      const unsigned here = region[y * stride + x];
      const unsigned after = y + 1 < h ? region[(y + 1) * stride + x] : 0u;
      unsigned v = grow ? (before > here ? before : here) : (before < here ? before : here);
      v = grow ? (v > after ? v : after) : (v < after ? v : after);
      before = here;
      region[y * stride + x] = (uint8_t)v;
    }
  }
}

/* whether a thinning step leaves any pixel > 0: one whose 3x3 neighbourhood is all > 0 */
static int thinning_keeps_ink(const uint8_t* region, int stride, int h, int w) {
  for (int y = 1; y + 1 < h; ++y) {
    for (int x = 1; x + 1 < w; ++x) {
      int all = 1;
      for (int dy = -1; dy <= 1 && all; ++dy) {
        for (int dx = -1; dx <= 1 && all; ++dx) all = region[(y + dy) * stride + x + dx] > 0;
      }
      if (all) return 1;
    }
  }
  return 0;
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
  /* fit to WORK px, into the middle of a zeroed block with MAX_STROKE_STEPS of margin */
  uint8_t work[PADDED * PADDED];
  memset(work, 0, sizeof(work));
  uint8_t* fitted = work + MAX_STROKE_STEPS * PADDED + MAX_STROKE_STEPS;
  int wh, ww;
  fit(gray, stride, y0, x0, (int64_t)y1 - y0 + 1, (int64_t)x1 - x0 + 1, levels, WORK, fitted,
      PADDED, &wh, &ww);
  /* specks too sparse to survive the average: no ink at this scale */
  int any = 0;
  for (int y = 0; y < wh && !any; ++y) {
    for (int x = 0; x < ww && !any; ++x) any = fitted[y * PADDED + x] > 0;
  }
  if (!any) return EDGEDIGITS_NO_INK;
  /* the stroke width, grown or thinned into range on the block padded by the steps */
  const int steps = stroke_steps(fitted, PADDED, wh, ww);
  const int k = steps < 0 ? -steps : steps;
  uint8_t* region = fitted - k * PADDED - k;
  const int rh = wh + 2 * k, rw = ww + 2 * k;
  for (int s = 0; s < k; ++s) {
    if (steps < 0 && !thinning_keeps_ink(region, PADDED, rh, rw)) break;
    step(region, PADDED, rh, rw, steps > 0);
  }
  /* crop again, then fit to FIT px */
  int cy0 = rh, cy1 = -1, cx0 = rw, cx1 = -1;
  for (int y = 0; y < rh; ++y) {
    for (int x = 0; x < rw; ++x) {
      if (region[y * PADDED + x]) {
        if (y < cy0) cy0 = y;
        if (y > cy1) cy1 = y;
        if (x < cx0) cx0 = x;
        if (x > cx1) cx1 = x;
      }
    }
  }
  uint8_t block[FIT * FIT];
  int oh, ow;
  fit(region, PADDED, cy0, cx0, (int64_t)cy1 - cy0 + 1, (int64_t)cx1 - cx0 + 1, NULL, FIT, block,
      FIT, &oh, &ow);
  /* the centre of mass */
  int64_t total = 0, sy = 0, sx = 0;
  for (int i = 0; i < oh; ++i) {
    for (int j = 0; j < ow; ++j) {
      const unsigned v = block[i * FIT + j];
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
    for (int j = 0; j < ow; ++j) out[(top + i) * SIDE + left + j] = block[i * FIT + j];
  }
  return EDGEDIGITS_INK;
}
