/* examples/mcu's classify() after a failed setup: built with an arena too small for the model
   (make ARENA_BYTES=1024 MAIN=.../mcu_retry_main.c run), every call must fail cleanly with -1,
   and the same program, handed a large enough arena by classify_use_arena(), must then classify
   golden.json's first image as recorded; a second too-small arena fails again, and a retry with
   the large one recovers again. Prints "retry ok" and exits 0, or says which step broke. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"

static _Alignas(16) uint8_t g_large[1 << 18];
static _Alignas(16) uint8_t g_small[256];

static int first_image(const char* path, int* predicted, unsigned char pixels[784]) {
  FILE* f = fopen(path, "rb");
  if (!f) return 0;
  static char text[1 << 22];
  size_t n = fread(text, 1, sizeof(text) - 1, f);
  fclose(f);
  text[n] = '\0';
  char* at = strstr(text, "\"pixels\":");
  if (!at) return 0;
  at = strchr(at, '[') + 1;
  for (int i = 0; i < 784; ++i) {
    pixels[i] = (unsigned char)strtol(at, &at, 10);
    at += strspn(at, ", \n\r\t");
  }
  /* The C array's golden entry: its "predicted" list, first value. */
  char* entry = strstr(text, ".cc\":");
  at = entry ? strstr(entry, "\"predicted\":") : NULL;
  if (!at) return 0;
  *predicted = (int)strtol(strchr(at, '[') + 1, NULL, 10);
  return 1;
}

#define CHECK(cond, what)                 \
  do {                                    \
    if (!(cond)) {                        \
      fprintf(stderr, "step: %s\n", what); \
      return 1;                           \
    }                                     \
  } while (0)

int main(int argc, char** argv) {
  unsigned char pixels[784];
  signed char scores[10];
  int predicted = -1;
  CHECK(argc == 2 && first_image(argv[1], &predicted, pixels), "read golden.json");
  for (int k = 0; k < 3; ++k) CHECK(classify(pixels, scores) == -1, "too small: -1 each call");
  CHECK(classify_use_arena(g_large, sizeof(g_large)) == 0, "a large arena sets up");
  for (int k = 0; k < 3; ++k) CHECK(classify(pixels, scores) == predicted, "then classifies");
  CHECK(classify_use_arena(g_small, sizeof(g_small)) == -1, "a small arena fails");
  CHECK(classify(pixels, scores) == -1, "and classify() says so");
  CHECK(classify_use_arena(g_large, sizeof(g_large)) == 0, "the large one again");
  CHECK(classify(pixels, scores) == predicted, "classifies again");
  CHECK(arena_used_bytes() > 1024, "arena used");
  printf("retry ok: digit %d, arena %zu bytes\n", predicted, arena_used_bytes());
  return 0;
}
