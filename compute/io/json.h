/* A strict, bounded JSON parser for safetensors headers and the model config (internal).
 *
 * Why not json-glib: it keeps only the last of two equal keys, wraps integers that do not fit
 * in 64 bits, and recurses without limit (a header of 100,000 '[' overflows the stack). Headers
 * come from untrusted files, so this parser bounds nesting depth and value count, keeps every
 * object member in file order (duplicates are for the caller to refuse, with a message that says
 * what the key is), remembers whether a number was written as an integer, and is locale
 * independent. Input must be UTF-8 without NUL bytes (RFC 8259). */
#ifndef DAE_JSON_H
#define DAE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#define DAE_JSON_MAX_DEPTH 32
#define DAE_JSON_MAX_VALUES (1u << 20)

typedef enum {
  DAE_JSON_NULL,
  DAE_JSON_BOOL,
  DAE_JSON_NUMBER,
  DAE_JSON_STRING,
  DAE_JSON_ARRAY,
  DAE_JSON_OBJECT,
} DaeJsonType;

typedef struct DaeJson DaeJson;

struct DaeJson {
  DaeJsonType type;
  union {
    bool boolean;
    struct {
      double value;
      bool is_int;              /* written without fraction or exponent */
      bool int_fits;            /* is_int and within int64 */
      int64_t int_value;
    } num;
    struct {
      char *s;                  /* NUL-terminated; "\u0000" is refused */
      size_t len;
    } str;
    struct {
      size_t n;
      DaeJson *items;
      char **keys;              /* objects only: keys[i] names items[i] */
    } kids;
  };
};

/* Parses text[0..len). Returns NULL on error with "at byte N: what" in msg. */
DaeJson *dae_json_parse (const char *text, size_t len, char *msg, size_t msg_len);
void dae_json_free (DaeJson * v);

/* The first member named key of an object, or NULL. */
const DaeJson *dae_json_member (const DaeJson * obj, const char *key);

const char *dae_json_type_name (DaeJsonType t);

/* Appends s as a JSON string literal (quotes and escapes) to buf. */
void dae_json_append_string (GString * buf, const char *s);

/* Appends the shortest decimal text that reads back as v (Python's repr style: 0.1, 1.0, 1e-05);
 * v must be finite. */
void dae_json_append_double (GString * buf, double v);

#endif
