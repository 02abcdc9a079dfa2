/* A host stand-in for the firmware's main loop, in C: reads golden.json's images (the file
   'edgedigits export' writes beside the C array), classifies each one ROUNDS times through
   classify(), and prints one line per image: index, label, digit, the 10 int8 scores; then the
   calls made, the arena TFLM used and the time per call (host CPU, reference kernels). */
#define _POSIX_C_SOURCE 199309L /* clock_gettime */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "classify.h"

#define ROUNDS 100

static char* read_file(const char* path) {
  FILE* f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char* text = malloc((size_t)n + 1);
  if (text && fread(text, 1, (size_t)n, f) != (size_t)n) { free(text); text = NULL; }
  if (text) text[n] = '\0';
  fclose(f);
  return text;
}

/* The next image after *cursor: its "label" and 784 "pixels" (golden.json's layout). */
static int next_image(char** cursor, int* label, unsigned char pixels[784]) {
  char* at = strstr(*cursor, "\"label\":");
  if (!at) return 0;
  *label = (int)strtol(at + 8, &at, 10);
  at = strstr(at, "\"pixels\":");
  if (!at) return 0;
  at = strchr(at, '[') + 1;
  for (int i = 0; i < 784; ++i) {
    pixels[i] = (unsigned char)strtol(at, &at, 10);
    at += strspn(at, ", \n\r\t");
  }
  *cursor = at;
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s golden.json\n", argv[0]);
    return 2;
  }
  char* text = read_file(argv[1]);
  if (!text) {
    fprintf(stderr, "%s: cannot read\n", argv[1]);
    return 2;
  }
  char* images = strstr(text, "\"images\"");
  char* end = images ? strstr(images, "\"keras_reference\"") : NULL;
  if (end) *end = '\0';
  char* cursor = images ? images : text;
  int label, index = 0, calls = 0;
  double seconds = 0.0;
  struct timespec t0, t1;
  unsigned char pixels[784];
  signed char scores[10];
  while (next_image(&cursor, &label, pixels)) {
    int digit = -1;
    for (int r = 0; r < ROUNDS; ++r, ++calls) {
      clock_gettime(CLOCK_MONOTONIC, &t0);
      int again = classify(pixels, scores);
      clock_gettime(CLOCK_MONOTONIC, &t1);
      if (r > 0) seconds += (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
      if (again < 0 || (r > 0 && again != digit)) {
        fprintf(stderr, "image %d: classify() returned %d on call %d\n", index, again, calls + 1);
        return 1;
      }
      digit = again;
    }
    printf("%d %d %d", index, label, digit);
    for (int k = 0; k < 10; ++k) printf(" %d", scores[k]);
    printf("\n");
    ++index;
  }
  /* The first call of each image is left out of the time (the very first sets TFLM up). */
  printf("calls %d arena_used %zu us_per_call %.2f\n", calls, arena_used_bytes(),
         index ? 1e6 * seconds / (double)(calls - index) : 0.0);
  free(text);
  return index > 0 ? 0 : 1;
}
