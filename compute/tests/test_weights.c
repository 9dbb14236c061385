/* Weights files: the strict JSON parser, half precision, the safetensors container (round trip
 * and every refusal), the model config (presets, strictness, validation), the parameter list
 * (counts of DESIGN.md) and model files (round trip F32/F16, every refusal, extras).
 *
 * Usage: test_weights                       the unit tests above
 *        test_weights python PY SCRIPT      names, shapes, config JSON and counts of the presets
 *                                           equal those of the PyTorch reference (SCRIPT dump)
 *        test_weights convert PY SCRIPT     a file written by tools/convert_checkpoint.py loads
 *                                           to the checkpoint's EMA weights (SCRIPT convert),
 *                                           and the C writer's copy reads back in Python
 *                                           (SCRIPT verify)
 * The Python modes exit 77 (skipped) when PY has no torch. */
#include "test_util.h"
#include "weights_util.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/json.h"

static char *tmp_dir;

/* A path in the test's folder (g_free). */
static char *
tmp_path (const char *name)
{
  return g_build_filename (tmp_dir, name, NULL);
}

/* status must be code, and the message must hold every needle (NULL-terminated). */
#define EXPECT_ERROR(status, err, code, ...) \
  expect_error (__LINE__, (status), (err), (code), (const char *[]) { __VA_ARGS__, NULL })

static void
expect_error (int line, DaeStatus status, const DaeError * err, DaeStatus code,
    const char *const *needles)
{
  if (status != code) {
    dae_test_failures++;
    fprintf (stderr, "FAIL line %d: expected %s, got %s: %s\n", line, dae_status_name (code),
        dae_status_name (status), err->message);
    return;
  }
  for (int i = 0; needles[i]; i++) {
    if (!strstr (err->message, needles[i])) {
      dae_test_failures++;
      fprintf (stderr, "FAIL line %d: message lacks \"%s\": %s\n", line, needles[i],
          err->message);
    }
  }
  if (g_getenv ("VERBOSE"))
    fprintf (stderr, "  ok: %s\n", err->message);
}

/* ---- JSON ------------------------------------------------------------------------------------ */

static DaeJson *
parse (const char *text)
{
  char msg[256];
  return dae_json_parse (text, strlen (text), msg, sizeof msg);
}

static void
check_json_fails (const char *text, const char *needle)
{
  char msg[256];
  DaeJson *v = dae_json_parse (text, strlen (text), msg, sizeof msg);
  CHECK (!v, "JSON %s parsed", text);
  CHECK (v || strstr (msg, needle), "JSON %s: message \"%s\" lacks \"%s\"", text, msg, needle);
  dae_json_free (v);
}

static void
check_double_text (double v, const char *want)
{
  GString *s = g_string_new (NULL);
  dae_json_append_double (s, v);
  CHECK (strcmp (s->str, want) == 0, "%.17g printed as %s, Python writes %s", v, s->str, want);
  g_string_free (s, TRUE);
}

static void
test_json (void)
{
  DaeJson *v = parse (" {\"a\": 1, \"a\": [true, null, -0, 1.5e2, \"x\\u00e9\\ud83d\\ude00\"]} ");
  CHECK (v && v->type == DAE_JSON_OBJECT && v->kids.n == 2, "object with a repeated key");
  if (v && v->kids.n == 2) {
    const DaeJson *a = &v->kids.items[1];
    CHECK (a->kids.n == 5 && a->kids.items[2].num.is_int && !a->kids.items[3].num.is_int
        && a->kids.items[3].num.value == 150.0, "array values");
    CHECK (strcmp (a->kids.items[4].str.s, "x\xc3\xa9\xf0\x9f\x98\x80") == 0, "escapes");
  }
  dae_json_free (v);
  v = parse ("[9223372036854775807, 9223372036854775808, -9223372036854775808]");
  CHECK (v && v->kids.items[0].num.int_fits && !v->kids.items[1].num.int_fits
      && v->kids.items[2].num.int_fits && v->kids.items[2].num.int_value == INT64_MIN,
      "int64 limits");
  dae_json_free (v);
  char deep[2 * DAE_JSON_MAX_DEPTH + 3];
  memset (deep, '[', DAE_JSON_MAX_DEPTH);
  memset (deep + DAE_JSON_MAX_DEPTH, ']', DAE_JSON_MAX_DEPTH);
  deep[2 * DAE_JSON_MAX_DEPTH] = '\0';
  v = parse (deep);
  CHECK (v != NULL, "%d levels must parse", DAE_JSON_MAX_DEPTH);
  dae_json_free (v);
  memmove (deep + 1, deep, 2 * DAE_JSON_MAX_DEPTH + 1);
  deep[0] = '[';
  strcat (deep, "]");
  check_json_fails (deep, "nested deeper");
  check_json_fails ("{\"a\":1} x", "after the end");
  check_json_fails ("[01]", "expected ','");
  check_json_fails ("[1e999]", "out of range");
  check_json_fails ("[\"\\u0000\"]", "\\u0000");
  check_json_fails ("[\"\\ud800\"]", "surrogate");
  check_json_fails ("[\"a\tb\"]", "control character");
  check_json_fails ("[\"\xff\"]", "not UTF-8");
  check_json_fails ("{\"a\" 1}", "expected ':'");
  check_json_fails ("[1,]", "unexpected");
  check_json_fails ("", "end of text");
  check_double_text (0.1, "0.1");
  check_double_text (0.0, "0.0");
  check_double_text (1.0, "1.0");
  check_double_text (100.0, "100.0");
  check_double_text (1e-05, "1e-05");
  check_double_text (0.0001, "0.0001");
  check_double_text (0.30000000000000004, "0.30000000000000004");
  check_double_text (1e16, "1e+16");
  check_double_text (-2.5, "-2.5");
  check_double_text (123456789012345680.0, "1.2345678901234568e+17");
}

/* ---- half precision -------------------------------------------------------------------------- */

static double
half_value (uint16_t h)
{
  int e = (h >> 10) & 0x1f, m = h & 0x3ff;
  double v = e == 0 ? ldexp (m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp (1024 + m, e - 25);
  return (h & 0x8000) ? -v : v;
}

static void
test_half (void)
{
  int bad = 0, bad_back = 0;
  for (uint32_t h = 0; h < 65536; h++) {
    float f = dae_f16_to_f32 ((uint16_t) h);
    double want = half_value ((uint16_t) h);
    if (isnan (want)) {
      bad += !isnan (f);
      bad_back += !isnan (dae_f16_to_f32 (dae_f32_to_f16 (f)));
      continue;
    }
    bad += (double) f != want || !signbit (f) != !signbit (want);
    bad_back += dae_f32_to_f16 (f) != h;
  }
  CHECK (bad == 0, "%d halves converted wrongly to f32", bad);
  CHECK (bad_back == 0, "%d halves do not survive f32 and back", bad_back);
  /* Midpoints between neighbours round to the even one; a hair off them, to the nearer. */
  int bad_round = 0;
  for (uint16_t h = 0; h < 0x7bff; h++) {
    float mid = (float) ((half_value (h) + half_value (h + 1)) / 2);
    uint16_t even = (h & 1) ? h + 1 : h;
    bad_round += dae_f32_to_f16 (mid) != even;
    bad_round += dae_f32_to_f16 (-mid) != (even | 0x8000);
    bad_round += dae_f32_to_f16 (nextafterf (mid, 0)) != h;
    bad_round += dae_f32_to_f16 (nextafterf (mid, INFINITY)) != h + 1;
  }
  CHECK (bad_round == 0, "%d roundings to half are wrong", bad_round);
  CHECK (dae_f32_to_f16 (65519.99f) == 0x7bff, "65519.99 rounds to 65504");
  CHECK (dae_f32_to_f16 (65520.0f) == 0x7c00, "65520 rounds to infinity");
  CHECK (dae_f32_to_f16 (1e-9f) == 0 && dae_f32_to_f16 (-1e-9f) == 0x8000, "underflow");
  CHECK (dae_f32_to_f16 (INFINITY) == 0x7c00 && dae_f32_to_f16 (-INFINITY) == 0xfc00, "inf");
}

/* ---- safetensors container ------------------------------------------------------------------- */

/* A file of header (exactly as given) and data_len bytes of data (value 0x3f). */
static char *
write_raw (const char *name, const char *header, size_t data_len)
{
  char *path = tmp_path (name);
  size_t n = strlen (header);
  uint8_t *buf = g_malloc (8 + n + data_len);
  for (int i = 0; i < 8; i++)
    buf[i] = (uint8_t) ((uint64_t) n >> (8 * i));
  memcpy (buf + 8, header, n);
  memset (buf + 8 + n, 0x3f, data_len);
  CHECK (wt_write_file (path, buf, 8 + n + data_len), "writing %s", path);
  g_free (buf);
  return path;
}

static DaeStatus
open_close (const char *path, DaeError * err)
{
  DaeSafetensors *st;
  dae_error_clear (err);
  DaeStatus s = dae_safetensors_open (path, &st, err);
  CHECK ((s == DAE_OK) == (st != NULL), "open returns a handle exactly on success");
  dae_safetensors_close (st);
  return s;
}

#define T(x) "{\"t.w\":{" x "}}"
#define ENTRY(dtype, shape, offsets) "\"dtype\":\"" dtype "\",\"shape\":" shape \
  ",\"data_offsets\":" offsets

static const struct {
  const char *header;
  size_t data;
  const char *needle;
  bool names_tensor;
} container_cases[] = {
  { "{\"a\":", 0, "not valid JSON", false },
  { "[1, 2]", 0, "not a JSON object", false },
  { "", 0, "not valid JSON", false },
  { "{\"__metadata__\":[1]}", 0, "__metadata__ is an array", false },
  { "{\"__metadata__\":{\"k\":1}}", 0, "value of \"k\" is a number", false },
  { "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, "key \"k\" appears twice", false },
  { "{\"__metadata__\":{},\"__metadata__\":{}}", 0, "__metadata__ appears twice", false },
  { T (ENTRY ("BF16", "[2]", "[0,4]")), 4, "dtype \"BF16\" is not supported", true },
  { T (ENTRY ("F64", "[1]", "[0,8]")), 8, "dtype \"F64\" is not supported", true },
  { T ("\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]"), 4, "dtype is a number", true },
  { T (ENTRY ("F32", "[1]", "[4,0]")), 4, "data_offsets [4, 0] are reversed", true },
  { T (ENTRY ("F32", "[2]", "[0,8]")), 4, "run past the end of the data (4 bytes)", true },
  { T (ENTRY ("F32", "[3]", "[0,8]")), 8, "hold 8 bytes, but shape [3] of F32 needs 12", true },
  { T (ENTRY ("F16", "[3]", "[0,12]")), 12, "shape [3] of F16 needs 6", true },
  { T (ENTRY ("F32", "[-1]", "[0,4]")), 4, "dimension 0 is not a non-negative integer", true },
  { T (ENTRY ("F32", "[1.0]", "[0,4]")), 4, "not a non-negative integer", true },
  { T (ENTRY ("F32", "4", "[0,4]")), 4, "shape is a number", true },
  { T (ENTRY ("F32", "[4294967296,4294967296]", "[0,4]")), 4, "too many elements", true },
  { T (ENTRY ("F32", "[1,1,1,1,1,1,1,1,1]", "[0,4]")), 4, "9 dimensions", true },
  { T (ENTRY ("F32", "[1]", "[0]")), 4, "data_offsets must be [begin, end]", true },
  { T (ENTRY ("F32", "[1]", "[0,4,8]")), 4, "data_offsets must be [begin, end]", true },
  { T (ENTRY ("F32", "[1]", "[0,99999999999999999999]")), 4, "data_offsets must be", true },
  { T (ENTRY ("F32", "[1]", "[0,4]") ",\"extra\":1"), 4, "unknown field \"extra\"", true },
  { T (ENTRY ("F32", "[1]", "[0,4]") ",\"dtype\":\"F32\""), 4, "field dtype appears twice",
      true },
  { T ("\"dtype\":\"F32\",\"data_offsets\":[0,4]"), 4, "entry has no shape", true },
  { "{\"t.w\":[1]}", 0, "entry is an array", true },
  { "{\"t.w\":{" ENTRY ("F32", "[1]", "[0,4]") "},\"t.w\":{" ENTRY ("F32", "[1]", "[4,8]")
      "}}", 8, "the name appears twice", true },
  { "{\"x\":{" ENTRY ("F32", "[2]", "[0,8]") "},\"t.w\":{" ENTRY ("F32", "[1]", "[4,8]")
      "}}", 8, "overlaps tensor x", true },
  { "{\"x\":{" ENTRY ("F32", "[1]", "[0,4]") "},\"t.w\":{" ENTRY ("F32", "[1]", "[8,12]")
      "}}", 12, "data bytes [4, 8) before this tensor belong to no tensor", true },
  { T (ENTRY ("F32", "[1]", "[0,4]")), 8, "the last 4 bytes of the data belong to no tensor",
      false },
  { "{\"\":{" ENTRY ("F32", "[1]", "[0,4]") "}}", 4, "empty name", false },
  { "{\"t.w\":{" ENTRY ("F32", "[1]", "[0,4]") "}}\x01", 4, "not valid JSON", false },
};

static void
test_container_errors (void)
{
  DaeError err = { 0 };
  for (size_t i = 0; i < G_N_ELEMENTS (container_cases); i++) {
    char name[32];
    snprintf (name, sizeof name, "bad%zu.safetensors", i);
    char *path = write_raw (name, container_cases[i].header, container_cases[i].data);
    DaeStatus s = open_close (path, &err);
    EXPECT_ERROR (s, &err, DAE_ERR_FORMAT, path, container_cases[i].needle,
        container_cases[i].names_tensor ? "tensor t.w: " : path);
    g_free (path);
  }
  /* Too short, a header length past the end, a header past the limit (a sparse file). */
  char *path = tmp_path ("short.safetensors");
  wt_write_file (path, "\x10\0\0\0", 4);
  EXPECT_ERROR (open_close (path, &err), &err, DAE_ERR_FORMAT, path, "4 bytes, too short");
  wt_write_file (path, "", 0);
  EXPECT_ERROR (open_close (path, &err), &err, DAE_ERR_FORMAT, path, "0 bytes, too short");
  wt_write_file (path, "\x10\0\0\0\0\0\0\0{}", 10);
  EXPECT_ERROR (open_close (path, &err), &err, DAE_ERR_FORMAT, path,
      "header length 16 runs past the end of the file (10 bytes)");
  wt_write_file (path, "\x01\xe1\xf5\x05\0\0\0\0{}", 10);  /* 100000001 */
  CHECK (truncate (path, 8 + 100000001 + 16) == 0, "making a sparse file");
  EXPECT_ERROR (open_close (path, &err), &err, DAE_ERR_FORMAT, path,
      "header length 100000001 is over the limit");
  g_free (path);
  /* A header with a NUL byte. */
  path = write_raw ("nul.safetensors", "{}      ", 0);
  FILE *f = fopen (path, "r+b");
  fseek (f, 11, SEEK_SET);
  fputc (0, f);
  fclose (f);
  EXPECT_ERROR (open_close (path, &err), &err, DAE_ERR_FORMAT, path, "not UTF-8");
  g_free (path);
  /* Nothing to read. */
  path = tmp_path ("no-such-file.safetensors");
  EXPECT_ERROR (open_close (path, &err), &err, DAE_ERR_IO, path, "No such file");
  g_free (path);
  EXPECT_ERROR (open_close (tmp_dir, &err), &err, DAE_ERR_IO, tmp_dir, "not a regular file");
}

static void
test_container_round_trip (void)
{
  static const float a[6] = { 1.5f, -2.0f, 3.25f, 0.0f, -0.0f, 1e-30f };
  static const float b[5] = { 65504.0f, 6.1e-5f, 5.96e-8f, -0.333333f, 1.0f / 3.0f };
  static const int64_t da[2] = { 2, 3 }, db[1] = { 5 }, de[2] = { 0, 4 };
  DaeError err = { 0 };
  DaeSafetensorsWriter *w = dae_safetensors_writer_new ();
  CHECK_OK (dae_safetensors_writer_add (w, "a", DAE_DTYPE_F32, 2, da, a, &err), &err);
  CHECK_OK (dae_safetensors_writer_add (w, "b.half", DAE_DTYPE_F16, 1, db, b, &err), &err);
  CHECK_OK (dae_safetensors_writer_add (w, "scalar", DAE_DTYPE_F32, 0, NULL, a + 2, &err), &err);
  CHECK_OK (dae_safetensors_writer_add (w, "empty", DAE_DTYPE_F16, 2, de, NULL, &err), &err);
  EXPECT_ERROR (dae_safetensors_writer_add (w, "a", DAE_DTYPE_F32, 2, da, a, &err), &err,
      DAE_ERR_INVALID, "tensor a added twice");
  dae_error_clear (&err);
  EXPECT_ERROR (dae_safetensors_writer_add (w, "__metadata__", DAE_DTYPE_F32, 2, da, a, &err),
      &err, DAE_ERR_INVALID, "bad tensor name");
  dae_error_clear (&err);
  dae_safetensors_writer_set_metadata (w, "k", "old");
  dae_safetensors_writer_set_metadata (w, "k", "v \"quoted\"\n\\ \x01 \xc3\xa9");
  dae_safetensors_writer_set_metadata (w, "second", "");
  char *path = tmp_path ("round.safetensors");
  wt_write_file (path, "previous contents", 17);
  CHECK_OK (dae_safetensors_writer_write (w, path, &err), &err);
  dae_safetensors_writer_free (w);

  DaeSafetensors *st = NULL;
  if (!CHECK_OK (dae_safetensors_open (path, &st, &err), &err)) {
    g_free (path);
    return;
  }
  CHECK (dae_safetensors_count (st) == 4, "4 tensors");
  CHECK (strcmp (dae_safetensors_get (st, 1)->name, "b.half") == 0, "header order");
  const DaeSafetensorsTensor *ta = dae_safetensors_find (st, "a"), *tb =
      dae_safetensors_find (st, "b.half"), *ts = dae_safetensors_find (st, "scalar"), *te =
      dae_safetensors_find (st, "empty");
  CHECK (ta && ta->dtype == DAE_DTYPE_F32 && ta->ndim == 2 && ta->dims[1] == 3, "a's entry");
  CHECK (tb && tb->dtype == DAE_DTYPE_F16 && tb->nbytes == 10, "b's entry");
  CHECK (ts && ts->ndim == 0 && ts->numel == 1, "scalar entry");
  CHECK (te && te->numel == 0 && te->dims[0] == 0, "empty entry");
  float got[6];
  CHECK_OK (dae_safetensors_read_f32 (st, "a", got, 6, &err), &err);
  CHECK (memcmp (got, a, sizeof a) == 0, "F32 values exact");
  CHECK_OK (dae_safetensors_read_f32 (st, "b.half", got, 5, &err), &err);
  for (int i = 0; i < 5; i++)
    CHECK (got[i] == dae_f16_to_f32 (dae_f32_to_f16 (b[i])), "F16 value %d: %g for %g", i,
        got[i], b[i]);
  CHECK (fabsf (got[3] + 0.333333f) < 2e-4f, "F16 within half precision");
  EXPECT_ERROR (dae_safetensors_read_f32 (st, "a", got, 5, &err), &err, DAE_ERR_INVALID,
      "tensor a: has 6 elements");
  dae_error_clear (&err);
  EXPECT_ERROR (dae_safetensors_read_f32 (st, "nope", got, 5, &err), &err, DAE_ERR_FORMAT,
      "no tensor nope");
  const char *k = dae_safetensors_metadata (st, "k");
  CHECK (k && strcmp (k, "v \"quoted\"\n\\ \x01 \xc3\xa9") == 0, "metadata value: %s", k);
  CHECK (dae_safetensors_metadata_count (st) == 2 && dae_safetensors_metadata (st, "second")
      && !dae_safetensors_metadata (st, "third"), "metadata keys");
  dae_safetensors_close (st);

  /* Header padded to 8 bytes; nothing but the target left in the folder. */
  uint8_t *bytes;
  size_t size;
  if (wt_read_file (path, &bytes, &size)) {
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
      n = n << 8 | bytes[i];
    CHECK (n % 8 == 0, "header length %llu is a multiple of 8", (unsigned long long) n);
    CHECK (bytes[8 + n - 1] == ' ' || bytes[8 + n - 1] == '}', "header padded with spaces");
    g_free (bytes);
  }
  /* The same bytes from memory. */
  dae_error_clear (&err);
  if (wt_read_file (path, &bytes, &size)) {
    CHECK_OK (dae_safetensors_open_buffer (bytes, size, "in memory", &st, &err), &err);
    CHECK (st && dae_safetensors_count (st) == 4 && strcmp (dae_safetensors_path (st),
            "in memory") == 0, "buffer reader");
    dae_safetensors_close (st);
    EXPECT_ERROR (dae_safetensors_open_buffer (bytes, size - 1, "cut", &st, &err), &err,
        DAE_ERR_FORMAT, "cut: ", "the data");
    dae_error_clear (&err);
    g_free (bytes);
  }
  GDir *d = g_dir_open (tmp_dir, 0, NULL);
  const char *name;
  while ((name = g_dir_read_name (d)))
    CHECK (!strstr (name, ".tmp-"), "temporary file %s left behind", name);
  g_dir_close (d);
  g_free (path);

  /* A folder that does not exist. */
  path = tmp_path ("missing/x.safetensors");
  w = dae_safetensors_writer_new ();
  dae_error_clear (&err);
  EXPECT_ERROR (dae_safetensors_writer_write (w, path, &err), &err, DAE_ERR_IO, path);
  dae_safetensors_writer_free (w);
  g_free (path);
}

/* ---- config ---------------------------------------------------------------------------------- */

static const char ffhq64_json[] = "{\"name\": \"ffhq64\", \"image_size\": 64, \"in_channels\": 3, "
    "\"base_channels\": 64, \"channel_mult\": [1, 2, 4, 8], \"enc_channel_mult\": [1, 2, 4, 8, 8], "
    "\"num_res_blocks\": 2, \"attn_resolutions\": [16], \"embed_channels\": 512, "
    "\"z_channels\": 512, \"dropout\": 0.1, \"latent_net\": null}";

/* ffhq64_json with the first `from` replaced by `to`. */
static char *
edited (const char *from, const char *to)
{
  const char *at = strstr (ffhq64_json, from);
  g_assert (at);
  return g_strdup_printf ("%.*s%s%s", (int) (at - ffhq64_json), ffhq64_json, to,
      at + strlen (from));
}

static const struct {
  const char *from, *to, *needle;
} config_cases[] = {
  { "\"image_size\"", "\"imagesize\"", "unknown key \"imagesize\"" },
  { "\"num_res_blocks\": 2, ", "", "has no key \"num_res_blocks\"" },
  { "\"latent_net\": null", "\"latent_net\": null, \"z_channels\": 3", "\"z_channels\" appears twice" },
  { "\"image_size\": 64", "\"image_size\": \"64\"", "image_size must be an integer, it is a string" },
  { "\"image_size\": 64", "\"image_size\": 64.0", "image_size must be an integer, it is a number with a fraction" },
  { "\"image_size\": 64", "\"image_size\": 1e2", "image_size must be an integer" },
  { "\"image_size\": 64", "\"image_size\": 99999999999", "image_size must be an integer, it is an integer out of range" },
  { "\"image_size\": 64", "\"image_size\": true", "image_size must be an integer, it is a boolean" },
  { "[1, 2, 4, 8]", "[1, 2.5, 4, 8]", "channel_mult[1] must be an integer" },
  { "[1, 2, 4, 8]", "4", "channel_mult must be an array" },
  { "[1, 2, 4, 8]", "[1, 1, 1, 1, 1, 1, 1, 1, 1]", "channel_mult has 9 entries" },
  { "\"dropout\": 0.1", "\"dropout\": \"0.1\"", "dropout must be a number" },
  { "\"name\": \"ffhq64\"", "\"name\": 64", "name must be a string" },
  { "\"latent_net\": null", "\"latent_net\": 5", "latent_net must be null or an object" },
  { "\"latent_net\": null", "\"latent_net\": {\"num_layers\": 10}", "latent_net has no key \"hidden_channels\"" },
  { "\"latent_net\": null", "\"latent_net\": {\"num_layers\": 10, \"hidden_channels\": 8, \"time_channels\": 8, \"dropout\": 0, \"depth\": 1}", "unknown key \"depth\" in latent_net" },
  { "\"latent_net\": null", "\"latent_net\": {\"num_layers\": 0, \"hidden_channels\": 8, \"time_channels\": 8, \"dropout\": 0}", "latent_net.num_layers is 0" },
  { "\"latent_net\": null", "\"latent_net\": {\"num_layers\": 2, \"hidden_channels\": 8, \"time_channels\": 7, \"dropout\": 0}", "time_channels is 7, must be even" },
  { "\"image_size\": 64", "\"image_size\": 60", "image_size 60 is not divisible by 8" },
  { "\"image_size\": 64", "\"image_size\": 72", "image_size 72 is not divisible by 16, which the 5 levels of enc_channel_mult need" },
  { "\"in_channels\": 3", "\"in_channels\": 2", "in_channels is 2" },
  { "\"in_channels\": 3", "\"in_channels\": 4", "in_channels is 4" },
  { "\"base_channels\": 64", "\"base_channels\": 63", "base_channels is 63, must be even" },
  { "\"base_channels\": 64", "\"base_channels\": 0", "base_channels is 0" },
  { "[1, 2, 4, 8]", "[]", "channel_mult has 0 entries" },
  { "[1, 2, 4, 8]", "[1, 0, 4, 8]", "channel_mult[1] is 0" },
  { "\"attn_resolutions\": [16]", "\"attn_resolutions\": [0]", "attn_resolutions[0] is 0" },
  { "\"attn_resolutions\": [16]", "\"attn_resolutions\": [16, 16]", "lists 16 twice" },
  { "\"dropout\": 0.1", "\"dropout\": 1.0", "dropout is 1, must be in [0, 1)" },
  { "\"dropout\": 0.1", "\"dropout\": -0.5", "dropout is -0.5" },
  { "\"z_channels\": 512", "\"z_channels\": 0", "z_channels is 0" },
  { "\"num_res_blocks\": 2", "\"num_res_blocks\": 0", "num_res_blocks is 0" },
  { "\"name\": \"ffhq64\"", "\"name\": \"\"", "name must be 1..63 bytes" },
  { "\"name\": \"ffhq64\"", "\"name\": \"a\\u00e9\"", "name must be printable ASCII" },
  { "\"name\": \"ffhq64\"", "\"name\": \"0123456789012345678901234567890123456789012345678901234567890123\"", "name is 64 bytes" },
  { "{\"name\"", "[{\"name\"", "not valid JSON" },
};

static void
test_config (void)
{
  DaeError err = { 0 };
  DaeModelConfig c, back;
  for (const char *const *p = dae_model_config_preset_names (); *p; p++) {
    CHECK_OK (dae_model_config_preset (*p, &c, &err), &err);
    CHECK_OK (dae_model_config_validate (&c, &err), &err);
    CHECK (strcmp (c.name, *p) == 0, "preset %s is named %s", *p, c.name);
    char *json = dae_model_config_to_json (&c);
    CHECK_OK (dae_model_config_from_json (json, &back, &err), &err);
    CHECK (dae_model_config_equal (&c, &back), "%s: JSON round trip", *p);
    g_free (json);
  }
  EXPECT_ERROR (dae_model_config_preset ("ffhq32", &c, &err), &err, DAE_ERR_INVALID, "ffhq32",
      "ffhq64, ffhq128");
  dae_model_config_preset ("ffhq64", &c, &err);
  char *json = dae_model_config_to_json (&c);
  CHECK (strcmp (json, ffhq64_json) == 0, "ffhq64 JSON: %s", json);
  g_free (json);
  CHECK_OK (dae_model_config_from_json (ffhq64_json, &back, &err), &err);
  for (size_t i = 0; i < G_N_ELEMENTS (config_cases); i++) {
    char *text = edited (config_cases[i].from, config_cases[i].to);
    dae_error_clear (&err);
    EXPECT_ERROR (dae_model_config_from_json (text, &back, &err), &err, DAE_ERR_FORMAT,
        config_cases[i].needle);
    g_free (text);
  }
  /* Whitespace and a 0 for a float are fine. */
  char *text = edited ("\"dropout\": 0.1", "\n\t\"dropout\" :0");
  CHECK_OK (dae_model_config_from_json (text, &back, &err), &err);
  g_free (text);
  c.image_size = 60;
  dae_error_clear (&err);
  EXPECT_ERROR (dae_model_config_validate (&c, &err), &err, DAE_ERR_INVALID, "image_size 60");
}

static void
test_groups (void)
{
  for (int c = 1; c <= 4096; c++) {
    int g = 1;
    for (int k = 1; k <= 32 && k <= c; k++)
      if (c % k == 0)
        g = k;
    CHECK (dae_groupnorm_groups (c) == g, "groups(%d) = %d, expected %d", c, dae_groupnorm_groups
        (c), g);
  }
  CHECK (dae_groupnorm_groups (48) == 24 && dae_groupnorm_groups (8) == 8
      && dae_groupnorm_groups (384) == 32, "examples");
}

/* ---- parameter list -------------------------------------------------------------------------- */

static void
check_count (const DaeParamList * l, DaeParamNet net, double millions, double tol)
{
  double got = (double) dae_param_list_numel (l, net) / 1e6;
  CHECK (fabs (got - millions) <= tol, "%s %s: %.3f M parameters, DESIGN.md says %.1f M",
      dae_param_list_config (l)->name, dae_param_net_name (net), got, millions);
}

static void
check_list_consistent (const DaeParamList * l)
{
  size_t offset = 0, n = dae_param_list_count (l);
  DaeParamNet net = DAE_PARAM_NET_DECODER;
  for (size_t i = 0; i < n; i++) {
    const DaeParamSpec *s = dae_param_list_get (l, i);
    size_t numel = 1;
    for (int d = 0; d < s->ndim; d++)
      numel *= (size_t) s->dims[d];
    CHECK (s->offset == offset && s->numel == numel && s->ndim >= 1 && s->ndim <= 4,
        "spec %s", s->name);
    CHECK (dae_param_list_find (l, s->name) == (int) i, "find %s", s->name);
    CHECK (s->net >= net, "%s: networks are contiguous", s->name);
    net = s->net;
    offset += numel;
  }
  size_t first, end, total = 0;
  for (int k = 0; k < DAE_PARAM_NET_ALL; k++) {
    dae_param_list_range (l, (DaeParamNet) k, &first, &end);
    for (size_t i = first; i < end; i++)
      CHECK (dae_param_list_get (l, i)->net == (DaeParamNet) k, "range of net %d", k);
    total += dae_param_list_numel (l, (DaeParamNet) k);
  }
  CHECK (total == offset && total == dae_param_list_numel (l, DAE_PARAM_NET_ALL), "totals");
  CHECK (dae_param_list_find (l, "nope") == -1 && !dae_param_list_get (l, n), "absent");
}

static void
test_params (void)
{
  DaeError err = { 0 };
  DaeModelConfig c;
  DaeParamList *l;
  dae_model_config_preset ("ffhq64", &c, &err);
  if (CHECK_OK (dae_param_list_new (&c, &l, &err), &err)) {
    check_count (l, DAE_PARAM_NET_DECODER, 71.5, 0.05);
    check_count (l, DAE_PARAM_NET_ENCODER, 19.3, 0.05);
    check_count (l, DAE_PARAM_NET_LATENT, 0, 0);
    check_list_consistent (l);
    CHECK (dae_param_list_count (l) == 506, "ffhq64 has %zu tensors, the published 506",
        dae_param_list_count (l));
    int i = dae_param_list_findf (l, "input_blocks.%d.0.in_layers.2.weight", 1);
    const DaeParamSpec *s = dae_param_list_get (l, (size_t) i);
    CHECK (i > 0 && s->ndim == 4 && s->dims[0] == 64 && s->dims[1] == 64 && s->dims[2] == 3,
        "conv layout");
    s = dae_param_list_get (l, (size_t) dae_param_list_find (l, "middle_block.1.qkv.weight"));
    CHECK (s && s->ndim == 3 && s->dims[0] == 1536 && s->dims[1] == 512 && s->dims[2] == 1,
        "Conv1d layout");
    dae_param_list_free (l);
  }
  dae_model_config_preset ("ffhq128", &c, &err);
  if (CHECK_OK (dae_param_list_new (&c, &l, &err), &err)) {
    check_count (l, DAE_PARAM_NET_DECODER, 103.9, 0.05);
    check_count (l, DAE_PARAM_NET_ENCODER, 24.7, 0.05);
    check_count (l, DAE_PARAM_NET_LATENT, 54, 0.5);
    check_list_consistent (l);
    /* The published list has 686 names, 18 of them cond_layers.1 copies. */
    CHECK (dae_param_list_count (l) == 686 - 18, "ffhq128 has %zu tensors",
        dae_param_list_count (l));
    dae_param_list_free (l);
  }
  for (const char *const *p = dae_model_config_preset_names (); *p; p++) {
    dae_model_config_preset (*p, &c, &err);
    if (CHECK_OK (dae_param_list_new (&c, &l, &err), &err)) {
      check_list_consistent (l);
      dae_param_list_free (l);
    }
  }
  c.in_channels = 2;
  EXPECT_ERROR (dae_param_list_new (&c, &l, &err), &err, DAE_ERR_INVALID, "in_channels");
}

/* ---- model files ----------------------------------------------------------------------------- */

typedef struct {
  const char *name;
  int ndim;
  int64_t dims[2];
  const float *data;
  DaeDtype dtype;
} ExtraTensor;

/* How a test file differs from a good one. */
typedef struct {
  const char *drop;             /* tensor left out */
  const char *flatten;          /* tensor written as [numel] */
  const char *poison;           /* tensor with poison_value at poison_index */
  size_t poison_index;
  float poison_value;
  ExtraTensor add[2];           /* more tensors */
  const char *format;           /* diffae.format; NULL: "1", "": none */
  const char *config;           /* diffae.config; NULL: the model's, "": none */
  bool no_extras;               /* leave out latent stats and directions */
} Variant;

static void
add_model_tensors (DaeSafetensorsWriter * w, const DaeModelFile * mf, const Variant * v,
    GPtrArray * keep)
{
  DaeError err = { 0 };
  for (size_t i = 0; i < dae_param_list_count (mf->params); i++) {
    const DaeParamSpec *s = dae_param_list_get (mf->params, i);
    int64_t dims[4] = { s->dims[0], s->dims[1], s->dims[2], s->dims[3] };
    const float *data = dae_model_file_param (mf, i);
    if (v->drop && strcmp (v->drop, s->name) == 0)
      continue;
    if (v->poison && strcmp (v->poison, s->name) == 0) {
      float *copy = g_memdup2 (data, s->numel * sizeof (float));
      copy[v->poison_index] = v->poison_value;
      g_ptr_array_add (keep, copy);
      data = copy;
    }
    bool flat = v->flatten && strcmp (v->flatten, s->name) == 0;
    if (flat)
      dims[0] = (int64_t) s->numel;
    CHECK_OK (dae_safetensors_writer_add (w, s->name, DAE_DTYPE_F32, flat ? 1 : s->ndim, dims,
            data, &err), &err);
  }
}

static void
add_extras (DaeSafetensorsWriter * w, const DaeModelFile * mf, const Variant * v)
{
  DaeError err = { 0 };
  int64_t z = mf->config.z_channels, one = 1;
  if (!v->no_extras && mf->latent_mean) {
    dae_safetensors_writer_add (w, "latent.mean", DAE_DTYPE_F32, 1, &z, mf->latent_mean, &err);
    dae_safetensors_writer_add (w, "latent.std", DAE_DTYPE_F32, 1, &z, mf->latent_std, &err);
  }
  for (size_t i = 0; !v->no_extras && i < mf->n_directions; i++) {
    char *name = g_strconcat ("direction.", mf->directions[i].name, NULL);
    char *bias = g_strconcat (name, ".bias", NULL);
    dae_safetensors_writer_add (w, name, DAE_DTYPE_F32, 1, &z, mf->directions[i].weight, &err);
    if (mf->directions[i].has_bias)
      dae_safetensors_writer_add (w, bias, DAE_DTYPE_F32, 1, &one, &mf->directions[i].bias,
          &err);
    g_free (name);
    g_free (bias);
  }
  for (int i = 0; i < 2; i++)
    if (v->add[i].name)
      CHECK_OK (dae_safetensors_writer_add (w, v->add[i].name, v->add[i].dtype, v->add[i].ndim,
              v->add[i].dims, v->add[i].data, &err), &err);
  CHECK (err.code == DAE_OK, "writing extras: %s", err.message);
}

static char *
write_variant (const char *file, const DaeModelFile * mf, const Variant * v)
{
  DaeError err = { 0 };
  char *path = tmp_path (file), *json = dae_model_config_to_json (&mf->config);
  GPtrArray *keep = g_ptr_array_new_with_free_func (g_free);
  DaeSafetensorsWriter *w = dae_safetensors_writer_new ();
  if (!v->format || *v->format)
    dae_safetensors_writer_set_metadata (w, "diffae.format", v->format ? v->format : "1");
  if (!v->config || *v->config)
    dae_safetensors_writer_set_metadata (w, "diffae.config", v->config ? v->config : json);
  dae_safetensors_writer_set_metadata (w, "note", "written by test_weights");
  add_model_tensors (w, mf, v, keep);
  add_extras (w, mf, v);
  CHECK_OK (dae_safetensors_writer_write (w, path, &err), &err);
  dae_safetensors_writer_free (w);
  g_ptr_array_free (keep, TRUE);
  g_free (json);
  return path;
}

static DaeStatus
load_variant (const DaeModelFile * mf, const Variant * v, DaeError * err, char **path_out)
{
  DaeModelFile *got = NULL;
  *path_out = write_variant ("variant.safetensors", mf, v);
  dae_error_clear (err);
  DaeStatus s = dae_model_file_load (*path_out, &got, err);
  CHECK ((s == DAE_OK) == (got != NULL), "load returns a model exactly on success");
  dae_model_file_free (got);
  return s;
}

#define EXPECT_VARIANT(mf, code, ...) \
  do { \
    DaeError err_ = { 0 }; \
    char *path_; \
    DaeStatus s_ = load_variant ((mf), &v, &err_, &path_); \
    EXPECT_ERROR (s_, &err_, (code), path_, __VA_ARGS__); \
    g_free (path_); \
  } while (0)

static void
test_model_round_trip (void)
{
  DaeError err = { 0 };
  DaeModelFile *mf = wt_random_model ("tiny_grey", 7, true), *back = NULL;
  char *path = tmp_path ("model.safetensors");
  CHECK_OK (dae_model_file_save (mf, path, DAE_DTYPE_F32, &err), &err);
  if (CHECK_OK (dae_model_file_load (path, &back, &err), &err)) {
    CHECK (wt_models_equal (mf, back), "F32 round trip is exact");
    CHECK (back->dtype == DAE_DTYPE_F32, "stored as F32");
    const DaeDirection *d = dae_model_file_direction (back, "smile");
    CHECK (d && d->has_bias && d->bias == 0.25f, "direction with a bias");
    d = dae_model_file_direction (back, "age");
    CHECK (d && !d->has_bias, "direction without a bias");
    CHECK (dae_model_file_param_by_name (back, "out.2.bias") == back->values
        + dae_param_list_get (back->params, (size_t) dae_param_list_find (back->params,
                "out.2.bias"))->offset, "param_by_name");
    CHECK (!dae_model_file_param_by_name (back, "nope"), "no such param");
    CHECK_OK (dae_model_file_set_direction (back, "smile", d->weight, false, 0, &err), &err);
    d = dae_model_file_direction (back, "smile");
    CHECK (back->n_directions == 2 && d && !d->has_bias, "a direction replaced");
    dae_model_file_free (back);
  }
  CHECK_OK (dae_model_file_save (mf, path, DAE_DTYPE_F16, &err), &err);
  if (CHECK_OK (dae_model_file_load (path, &back, &err), &err)) {
    size_t n = dae_param_list_numel (mf->params, DAE_PARAM_NET_ALL), bad = 0;
    double maxerr = 0;
    for (size_t i = 0; i < n; i++) {
      bad += back->values[i] != dae_f16_to_f32 (dae_f32_to_f16 (mf->values[i]));
      maxerr = fmax (maxerr, fabs (back->values[i] - mf->values[i]));
    }
    CHECK (bad == 0 && maxerr <= 1.0 / 2048, "F16: %zu values not the rounded ones, max error "
        "%g", bad, maxerr);
    CHECK (back->dtype == DAE_DTYPE_F16, "stored as F16");
    CHECK (memcmp (back->latent_std, mf->latent_std, 8 * sizeof (float)) == 0,
        "extras stay F32");
    dae_model_file_free (back);
  }
  /* A model without a latent net and without extras. */
  DaeModelConfig cfg = mf->config;
  cfg.latent.present = false;
  DaeModelFile *plain;
  CHECK_OK (dae_model_file_new (&cfg, &plain, &err), &err);
  CHECK_OK (dae_model_file_save (plain, path, DAE_DTYPE_F32, &err), &err);
  if (CHECK_OK (dae_model_file_load (path, &back, &err), &err)) {
    CHECK (wt_models_equal (plain, back) && !back->latent_mean && back->n_directions == 0,
        "plain round trip");
    dae_model_file_free (back);
  }
  dae_model_file_free (plain);
  dae_model_file_free (mf);
  g_free (path);
}

static void
test_model_tensor_errors (const DaeModelFile * mf)
{
  static const float zeros[64], ones[64] = { 1, 1, 1, 1, 1, 1, 1, 1 };
  Variant v = { .drop = "input_blocks.1.0.in_layers.2.weight" };
  EXPECT_VARIANT (mf, DAE_ERR_FORMAT, "missing tensor input_blocks.1.0.in_layers.2.weight "
      "(shape [8, 8, 3, 3])");
  v = (Variant) { .flatten = "encoder.out.3.weight" };
  EXPECT_VARIANT (mf, DAE_ERR_FORMAT, "tensor encoder.out.3.weight has shape [128] in the file, "
      "config tiny_grey expects [8, 16, 1, 1]");
  v = (Variant) { .add = { { "input_blocks.9.0.weight", 1, { 8 }, ones, DAE_DTYPE_F32 } } };
  EXPECT_VARIANT (mf, DAE_ERR_FORMAT, "unexpected tensor input_blocks.9.0.weight (shape [8])");
  v = (Variant) { .drop = "out.0.bias", .flatten = "out.2.weight" };
  EXPECT_VARIANT (mf, DAE_ERR_FORMAT, "missing tensor out.0.bias", "(and 1 more problems)");
  v = (Variant) { .poison = "middle_block.1.qkv.weight", .poison_index = 17,
    .poison_value = NAN };
  EXPECT_VARIANT (mf, DAE_ERR_FORMAT, "tensor middle_block.1.qkv.weight: element 17 is NaN");
  v = (Variant) { .poison = "time_embed.time_embed.0.bias", .poison_index = 3,
    .poison_value = -INFINITY };
  EXPECT_VARIANT (mf, DAE_ERR_FORMAT, "tensor time_embed.time_embed.0.bias: element 3 is "
      "-infinity");
  /* The cond_layers.1 copies: accepted when equal to linear_emb, refused otherwise. */
  const float *emb_w = dae_model_file_param_by_name (mf, "latent_net.layers.0.linear_emb.weight");
  const float *emb_b = dae_model_file_param_by_name (mf, "latent_net.layers.0.linear_emb.bias");
  v = (Variant) { .add = { { "latent_net.layers.0.cond_layers.1.weight", 2, { 16, 8 }, emb_w,
          DAE_DTYPE_F32 }, { "latent_net.layers.0.cond_layers.1.bias", 1, { 16 }, emb_b,
          DAE_DTYPE_F32 } } };
  DaeError err = { 0 };
  char *path;
  CHECK_OK (load_variant (mf, &v, &err, &path), &err);
  g_free (path);
  v.add[1].data = zeros;
  EXPECT_VARIANT (mf, DAE_ERR_FORMAT, "tensor latent_net.layers.0.cond_layers.1.bias differs "
      "from latent_net.layers.0.linear_emb.bias");
  v.add[1].data = emb_b;
  v.add[0].dtype = DAE_DTYPE_F16;
  EXPECT_VARIANT (mf, DAE_ERR_FORMAT, "cond_layers.1.weight differs");
  /* The last layer has no linear_emb, so no copy either. */
  v = (Variant) { .add = { { "latent_net.layers.1.cond_layers.1.bias", 1, { 8 }, ones,
          DAE_DTYPE_F32 } } };
  EXPECT_VARIANT (mf, DAE_ERR_FORMAT, "unexpected tensor latent_net.layers.1.cond_layers.1.bias");
}

static void
test_model_metadata_errors (const DaeModelFile * mf)
{
  Variant v = { .format = "" };
  EXPECT_VARIANT (mf, DAE_ERR_FORMAT, "not a diffae model file");
  v = (Variant) { .format = "2" };
  EXPECT_VARIANT (mf, DAE_ERR_FORMAT, "diffae.format is \"2\"");
  v = (Variant) { .config = "" };
  EXPECT_VARIANT (mf, DAE_ERR_FORMAT, "no diffae.config");
  char *json = dae_model_config_to_json (&mf->config);
  char *bad = g_strdup_printf ("%.*s, \"colour\": 1}", (int) strlen (json) - 1, json);
  v = (Variant) { .config = bad };
  EXPECT_VARIANT (mf, DAE_ERR_FORMAT, "diffae.config: unknown key \"colour\"");
  g_free (bad);
  /* A valid config of other shapes: every tensor mismatches. */
  DaeModelConfig other = mf->config;
  other.base_channels = 16;
  bad = dae_model_config_to_json (&other);
  v = (Variant) { .config = bad };
  EXPECT_VARIANT (mf, DAE_ERR_FORMAT, "tensor time_embed.time_embed.0.weight has shape [16, 8]",
      "expects [16, 16]", "more problems");
  g_free (bad);
  g_free (json);
}

static void
test_model_extra_errors (const DaeModelFile * mf)
{
  static const float zeros[8], ones[8] = { 1, 1, 1, 1, 1, 1, 1, 1 }, neg[8] = { 1, 1, -1 };
  Variant v = { .no_extras = true, .add = { { "latent.mean", 1, { 8 }, ones, DAE_DTYPE_F32 } } };
  EXPECT_VARIANT (mf, DAE_ERR_FORMAT, "tensor latent.mean without latent.std");
  v.add[1] = (ExtraTensor) { "latent.std", 1, { 8 }, neg, DAE_DTYPE_F32 };
  EXPECT_VARIANT (mf, DAE_ERR_FORMAT, "tensor latent.std: element 2 is -1, must be > 0");
  v.add[1] = (ExtraTensor) { "latent.std", 2, { 1, 8 }, ones, DAE_DTYPE_F32 };
  EXPECT_VARIANT (mf, DAE_ERR_FORMAT, "tensor latent.std has shape [1, 8], must be [8]");
  v.add[1] = (ExtraTensor) { "latent.std", 1, { 8 }, ones, DAE_DTYPE_F16 };
  DaeError err = { 0 };
  char *path;
  CHECK_OK (load_variant (mf, &v, &err, &path), &err);      /* F16 extras are accepted */
  g_free (path);
  v = (Variant) { .add = { { "direction.a b", 1, { 8 }, ones, DAE_DTYPE_F32 } } };
  EXPECT_VARIANT (mf, DAE_ERR_FORMAT, "unexpected tensor direction.a b");
  v = (Variant) { .add = { { "direction.", 1, { 8 }, ones, DAE_DTYPE_F32 } } };
  EXPECT_VARIANT (mf, DAE_ERR_FORMAT, "unexpected tensor direction.");
  v = (Variant) { .add = { { "direction.flat", 1, { 8 }, zeros, DAE_DTYPE_F32 } } };
  EXPECT_VARIANT (mf, DAE_ERR_FORMAT, "tensor direction.flat is all zero");
  v = (Variant) { .add = { { "direction.short", 1, { 7 }, ones, DAE_DTYPE_F32 } } };
  EXPECT_VARIANT (mf, DAE_ERR_FORMAT, "tensor direction.short has shape [7], must be [8]");
  v = (Variant) { .add = { { "direction.lonely.bias", 1, { 1 }, ones, DAE_DTYPE_F32 } } };
  EXPECT_VARIANT (mf, DAE_ERR_FORMAT, "tensor direction.lonely.bias: there is no "
      "direction.lonely");
  v = (Variant) { .add = { { "direction.smile-2", 1, { 8 }, ones, DAE_DTYPE_F32 },
      { "direction.smile-2.bias", 1, { 2 }, ones, DAE_DTYPE_F32 } } };
  EXPECT_VARIANT (mf, DAE_ERR_FORMAT, "tensor direction.smile-2.bias has shape [2], must be [1]");
  v = (Variant) { .poison = NULL, .add = { { "direction.inf", 1, { 8 }, (const float[8]) { 1,
          INFINITY }, DAE_DTYPE_F32 } } };
  EXPECT_VARIANT (mf, DAE_ERR_FORMAT, "tensor direction.inf: element 1 is +infinity");
}

static void
test_model_writer_refusals (void)
{
  DaeError err = { 0 };
  DaeModelFile *mf = wt_random_model ("tiny_grey", 8, false);
  char *path = tmp_path ("refused.safetensors");
  mf->values[5] = NAN;
  EXPECT_ERROR (dae_model_file_save (mf, path, DAE_DTYPE_F32, &err), &err, DAE_ERR_INVALID,
      path, "tensor time_embed.time_embed.0.weight: element 5 is nan");
  dae_error_clear (&err);
  mf->values[5] = 70000.0f;
  CHECK_OK (dae_model_file_save (mf, path, DAE_DTYPE_F32, &err), &err);
  EXPECT_ERROR (dae_model_file_save (mf, path, DAE_DTYPE_F16, &err), &err, DAE_ERR_INVALID,
      "out of the F16 range");
  dae_error_clear (&err);
  float w[8] = { 1 }, std[8] = { 1, 1, 1, 0, 1, 1, 1, 1 };
  EXPECT_ERROR (dae_model_file_set_direction (mf, "no.dots", w, false, 0, &err), &err,
      DAE_ERR_INVALID, "direction name \"no.dots\"");
  dae_error_clear (&err);
  EXPECT_ERROR (dae_model_file_set_latent_stats (mf, w, std, &err), &err, DAE_ERR_INVALID,
      "latent.std: element 3 is 0");
  dae_error_clear (&err);
  DaeDirection bad = { "ok", (float[8]) { 0 }, false, 0 };
  DaeModelExtras x = { NULL, NULL, 1, &bad };
  const float **params = g_new (const float *, dae_param_list_count (mf->params));
  for (size_t i = 0; i < dae_param_list_count (mf->params); i++)
    params[i] = dae_model_file_param (mf, i);
  EXPECT_ERROR (dae_model_file_write (path, &mf->config, params, &x, DAE_DTYPE_F32, &err), &err,
      DAE_ERR_INVALID, "direction ok is all zero");
  g_free (params);
  dae_model_file_free (mf);
  g_free (path);
}

static int
run_unit_tests (void)
{
  test_json ();
  test_half ();
  test_container_errors ();
  test_container_round_trip ();
  test_config ();
  test_groups ();
  test_params ();
  test_model_round_trip ();
  DaeModelFile *mf = wt_random_model ("tiny_grey", 3, true);
  test_model_tensor_errors (mf);
  test_model_metadata_errors (mf);
  test_model_extra_errors (mf);
  dae_model_file_free (mf);
  test_model_writer_refusals ();
  return dae_test_finish ("test_weights");
}

/* ---- against the PyTorch reference ----------------------------------------------------------- */

/* Runs PY SCRIPT ARG...; returns stdout, or NULL after setting *skip when torch is missing. */
static char *
run_python (const char *py, const char *script, const char *arg1, const char *arg2, bool *skip)
{
  const char *argv[] = { py, script, arg1, arg2, NULL };
  char *out = NULL, *errs = NULL;
  int status = 0;
  GError *e = NULL;
  *skip = false;
  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &errs,
          &status, &e)) {
    CHECK (false, "running %s: %s", py, e->message);
    g_error_free (e);
    return NULL;
  }
  if (!g_spawn_check_wait_status (status, NULL)) {
    *skip = errs && strstr (errs, "No module named 'torch'");
    CHECK (*skip, "%s %s failed:\n%s", script, arg1, errs);
    g_free (out);
    out = NULL;
  }
  g_free (errs);
  return out;
}

static void
compare_preset (const char *preset, char **lines)
{
  DaeError err = { 0 };
  DaeModelConfig c;
  DaeParamList *l;
  if (!CHECK_OK (dae_model_config_preset (preset, &c, &err), &err)
      || !CHECK_OK (dae_param_list_new (&c, &l, &err), &err))
    return;
  size_t k = 0, bad = 0;
  char *json = dae_model_config_to_json (&c);
  for (char **p = lines; *p; p++) {
    char **f = g_strsplit (*p, "\t", -1);
    if (!f[0] || !f[1] || strcmp (f[1], preset) != 0) {
      g_strfreev (f);
      continue;
    }
    if (strcmp (f[0], "C") == 0) {
      CHECK (strcmp (f[2], json) == 0, "%s: config JSON differs:\n  C:      %s\n  Python: %s",
          preset, json, f[2]);
    } else if (strcmp (f[0], "N") == 0) {
      for (int net = 0; net < 3; net++)
        CHECK (dae_param_list_numel (l, (DaeParamNet) net) == (size_t) g_ascii_strtoull (f[2 +
                    net], NULL, 10), "%s: %s count %zu, Python %s", preset,
            dae_param_net_name ((DaeParamNet) net), dae_param_list_numel (l, (DaeParamNet) net),
            f[2 + net]);
    } else if (strcmp (f[0], "P") == 0) {
      const DaeParamSpec *s = dae_param_list_get (l, k++);
      char shape[64] = "";
      for (int d = 0; s && d < s->ndim; d++)
        g_snprintf (shape + strlen (shape), sizeof shape - strlen (shape), "%s%d", d ? "x" : "",
            s->dims[d]);
      if (!s || strcmp (s->name, f[2]) != 0 || strcmp (shape, f[3]) != 0) {
        if (bad++ < 5)
          CHECK (false, "%s: tensor %zu is %s %s in C, %s %s in Python", preset, k - 1,
              s ? s->name : "(none)", shape, f[2], f[3]);
      }
    }
    g_strfreev (f);
  }
  CHECK (bad == 0 && k == dae_param_list_count (l), "%s: %zu of %zu names/shapes differ, C has "
      "%zu tensors", preset, bad, k, dae_param_list_count (l));
  fprintf (stderr, "%s: %zu tensors, %zu parameters: same as the reference\n", preset, k,
      dae_param_list_numel (l, DAE_PARAM_NET_ALL));
  g_free (json);
  dae_param_list_free (l);
}

static int
run_python_check (const char *py, const char *script)
{
  bool skip;
  char *out = run_python (py, script, "dump", NULL, &skip);
  if (skip)
    return 77;
  if (out) {
    char **lines = g_strsplit (out, "\n", -1);
    const char *presets[] = { "small", "tiny_grey", "ffhq64", "ffhq128" };
    for (size_t i = 0; i < G_N_ELEMENTS (presets); i++)
      compare_preset (presets[i], lines);
    g_strfreev (lines);
    g_free (out);
  }
  return dae_test_finish ("test_weights python");
}

/* expected.txt/bin of the converter run against the loaded file; f16: values rounded. */
static void
compare_converted (const DaeModelFile * mf, const char *txt, const float *values, bool f16)
{
  char **lines = g_strsplit (txt, "\n", -1);
  size_t at = 0, bad = 0, seen = 0;
  for (char **p = lines; *p && **p; p++) {
    char **f = g_strsplit (*p, "\t", 2);
    size_t n = (size_t) g_ascii_strtoull (f[1], NULL, 10);
    const float *got = strcmp (f[0], "latent.mean") == 0 ? mf->latent_mean
        : strcmp (f[0], "latent.std") == 0 ? mf->latent_std
        : dae_model_file_param_by_name (mf, f[0]);
    bool extra = g_str_has_prefix (f[0], "latent.");
    CHECK (got != NULL, "%s not in the loaded model", f[0]);
    for (size_t i = 0; got && i < n; i++) {
      float want = f16 && !extra ? dae_f16_to_f32 (dae_f32_to_f16 (values[at + i])) :
          values[at + i];
      bad += memcmp (&got[i], &want, 4) != 0;
    }
    at += n;
    seen += !extra;
    g_strfreev (f);
  }
  CHECK (bad == 0, "%zu values differ from the checkpoint's EMA weights", bad);
  CHECK (seen == dae_param_list_count (mf->params), "%zu of %zu tensors compared", seen,
      dae_param_list_count (mf->params));
  g_strfreev (lines);
}

static int
run_convert_check (const char *py, const char *script)
{
  bool skip;
  char *out = run_python (py, script, "convert", tmp_dir, &skip);
  if (skip)
    return 77;
  g_free (out);
  char *txt_path = tmp_path ("expected.txt"), *bin_path = tmp_path ("expected.bin"), *txt;
  uint8_t *bin = NULL;
  size_t size;
  bool have = g_file_get_contents (txt_path, &txt, NULL, NULL);
  have = have && wt_read_file (bin_path, &bin, &size);
  CHECK (have, "the converter run left no %s / %s", txt_path, bin_path);
  if (!have)
    return dae_test_finish ("test_weights convert");
  const char *files[] = { "small.safetensors", "small_f16.safetensors" };
  for (int k = 0; k < 2; k++) {
    DaeError err = { 0 };
    DaeModelFile *mf;
    char *path = tmp_path (files[k]);
    if (CHECK_OK (dae_model_file_load (path, &mf, &err), &err)) {
      CHECK (mf->dtype == (k ? DAE_DTYPE_F16 : DAE_DTYPE_F32), "%s dtype", files[k]);
      CHECK (strcmp (mf->config.name, "small") == 0 && mf->config.latent.present, "config");
      compare_converted (mf, txt, (const float *) bin, k == 1);
      fprintf (stderr, "%s: loaded, equal to the checkpoint's EMA weights\n", files[k]);
      if (k == 0) {
        /* And back: the Python reader and the reference model take the C writer's file. */
        char *copy = tmp_path ("c_written.safetensors");
        CHECK_OK (dae_model_file_save (mf, copy, DAE_DTYPE_F32, &err), &err);
        char *said = run_python (py, script, "verify", tmp_dir, &skip);
        fputs (said ? said : "", stderr);
        g_free (said);
        g_free (copy);
      }
      dae_model_file_free (mf);
    }
    g_free (path);
  }
  g_free (txt);
  g_free (bin);
  g_free (txt_path);
  g_free (bin_path);
  return dae_test_finish ("test_weights convert");
}

int
main (int argc, char **argv)
{
  int rc;
  tmp_dir = wt_tmpdir ("diffae-test-weights");
  if (argc == 4 && strcmp (argv[1], "python") == 0)
    rc = run_python_check (argv[2], argv[3]);
  else if (argc == 4 && strcmp (argv[1], "convert") == 0)
    rc = run_convert_check (argv[2], argv[3]);
  else if (argc == 1)
    rc = run_unit_tests ();
  else {
    fprintf (stderr, "usage: test_weights [python|convert PYTHON SCRIPT]\n");
    rc = 2;
  }
  wt_rmtree (tmp_dir);
  g_free (tmp_dir);
  return rc;
}
