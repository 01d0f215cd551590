// llama.cpp's tokenizer speed on a text file, for bench/tokenizer_bench.sh: loads only the
// vocabulary of a GGUF through the prebuilt libllama and times llama_tokenize over the file,
// single thread. Prints one JSON line {"tokens": N, "bytes": B, "seconds": S, "mb_per_s": R}.
// Usage: llama_tokenize_bench MODEL.gguf TEXT_FILE [REPEATS]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "llama.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void quiet(enum ggml_log_level level, const char* text, void* user) { (void)level; (void)text; (void)user; }

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s MODEL.gguf TEXT_FILE [REPEATS]\n", argv[0]);
    return 2;
  }
  int repeats = argc > 3 ? atoi(argv[3]) : 3;
  llama_log_set(quiet, NULL);
  llama_backend_init();
  struct llama_model_params mp = llama_model_default_params();
  mp.vocab_only = true;
  struct llama_model* model = llama_model_load_from_file(argv[1], mp);
  if (!model) { fprintf(stderr, "cannot load %s\n", argv[1]); return 1; }
  const struct llama_vocab* vocab = llama_model_get_vocab(model);

  FILE* f = fopen(argv[2], "rb");
  if (!f) { fprintf(stderr, "cannot open %s\n", argv[2]); return 1; }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char* text = malloc((size_t)n + 1);
  if (fread(text, 1, (size_t)n, f) != (size_t)n) { fprintf(stderr, "short read\n"); return 1; }
  fclose(f);

  int32_t cap = (int32_t)n + 16;
  llama_token* tokens = malloc(sizeof(llama_token) * (size_t)cap);
  double best = 1e30;
  int32_t count = 0;
  for (int r = 0; r < repeats; ++r) {
    double t0 = now();
    count = llama_tokenize(vocab, text, (int32_t)n, tokens, cap, false, true);
    double dt = now() - t0;
    if (count < 0) { fprintf(stderr, "token buffer too small\n"); return 1; }
    if (dt < best) best = dt;
  }
  printf("{\"tokens\": %d, \"bytes\": %ld, \"seconds\": %.6f, \"mb_per_s\": %.3f}\n", count, n, best, n / best / 1e6);
  free(tokens);
  free(text);
  llama_model_free(model);
  return 0;
}
