/* A camera frame to a digit, in C11: what a firmware's capture loop does. Reads an 8-bit gray
   frame (a binary PGM, "P5", as a camera driver's buffer would hold it: any size, either
   polarity), turns it into the 28x28 image the model sees with edgedigits_from_image() (the
   preprocessing contract, integers only, no malloc), then calls classify(). Prints the digit,
   or "no ink", and the 28x28 as text so you can see what the model saw.
     make ... camera FRAME=frame.pgm */
#include <stdio.h>
#include <stdlib.h>

#include "classify.h"
#include "from_image.h"

/* A binary PGM's header: "P5", width, height, maxval 255, one whitespace; then the pixels. */
static uint8_t* read_pgm(const char* path, int* width, int* height) {
  FILE* f = fopen(path, "rb");
  if (!f) return NULL;
  int maxval = 0;
  uint8_t* pixels = NULL;
  if (fscanf(f, "P5 %d %d %d", width, height, &maxval) == 3 && maxval == 255 && *width > 0 &&
      *height > 0 && *width <= EDGEDIGITS_MAX_DIMENSION && *height <= EDGEDIGITS_MAX_DIMENSION &&
      fgetc(f) != EOF) {
    size_t n = (size_t)*width * (size_t)*height;
    pixels = (uint8_t*)malloc(n); /* the host's stand-in for the camera's own frame buffer */
    if (pixels && fread(pixels, 1, n, f) != n) {
      free(pixels);
      pixels = NULL;
    }
  }
  fclose(f);
  return pixels;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s frame.pgm\n", argv[0]);
    return 2;
  }
  int width = 0, height = 0;
  uint8_t* frame = read_pgm(argv[1], &width, &height);
  if (!frame) {
    fprintf(stderr, "%s: not a binary 8-bit PGM (P5, maxval 255)\n", argv[1]);
    return 2;
  }
  uint8_t pixels[EDGEDIGITS_SIDE * EDGEDIGITS_SIDE];
  int inverted = 0;
  int found = edgedigits_from_image(frame, width, height, width, pixels, &inverted);
  free(frame);
  if (found == EDGEDIGITS_NO_INK) {
    printf("no ink\n");
    return 0;
  }
  if (found != EDGEDIGITS_INK) return 2;
  int8_t scores[10];
  int digit = classify(pixels, scores);
  if (digit < 0) return 1;
  printf("digit %d (%dx%d frame, %s)\n", digit, width, height,
         inverted ? "dark ink on light" : "light ink on dark");
  for (int y = 0; y < EDGEDIGITS_SIDE; ++y) {
    for (int x = 0; x < EDGEDIGITS_SIDE; ++x) {
      uint8_t v = pixels[y * EDGEDIGITS_SIDE + x];
      putchar(v > 127 ? '#' : v ? '+' : '.');
    }
    putchar('\n');
  }
  return 0;
}
