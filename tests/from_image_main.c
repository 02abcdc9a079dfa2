/* The C preprocessing contract over a file of pictures (the layout examples/web/
   preprocess_check.mjs reads and writes): tests/test_preprocess.py compiles it with
   edgedigits/preprocess/from_image.c and compares its bytes with Python's and JavaScript's. */
#include <stdio.h>
#include <stdlib.h>

#include "from_image.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s pictures.bin results.bin\n", argv[0]);
    return 2;
  }
  FILE* in = fopen(argv[1], "rb");
  FILE* out = fopen(argv[2], "wb");
  if (!in || !out) return 2;
  unsigned char header[8];
  while (fread(header, 1, 8, in) == 8) {
    const unsigned width = header[0] | header[1] << 8 | header[2] << 16 | (unsigned)header[3] << 24;
    const unsigned height = header[4] | header[5] << 8 | header[6] << 16 | (unsigned)header[7] << 24;
    uint8_t* gray = (uint8_t*)malloc((size_t)width * height);
    if (!gray || fread(gray, 1, (size_t)width * height, in) != (size_t)width * height) return 3;
    uint8_t record[2 + 784];
    int inverted = 0;
    int result = edgedigits_from_image(gray, (int)width, (int)height, (int)width, record + 2,
                                       &inverted);
    if (result < 0) return 4;
    record[0] = (uint8_t)result;
    record[1] = (uint8_t)inverted;
    fwrite(record, 1, sizeof record, out);
    free(gray);
  }
  fclose(in);
  return fclose(out) == 0 ? 0 : 5;
}
