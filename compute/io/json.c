#include "io/json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

typedef struct {
  const char *text, *p, *end;
  int depth;
  size_t values;
  char *msg;
  size_t msg_len;
  bool failed;
} Parser;

static bool parse_value (Parser * ps, DaeJson * out);

static bool
fail (Parser * ps, const char *fmt, ...)
    __attribute__((format (printf, 2, 3)));

static bool
fail (Parser * ps, const char *fmt, ...)
{
  if (ps->failed)
    return false;
  ps->failed = true;
  char what[256];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (what, sizeof what, fmt, ap);
  va_end (ap);
  snprintf (ps->msg, ps->msg_len, "at byte %zu: %s", (size_t) (ps->p - ps->text), what);
  return false;
}

static void
skip_space (Parser * ps)
{
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n'
          || *ps->p == '\r'))
    ps->p++;
}

/* A byte for a message: 'c' when printable, else its code. */
static const char *
show_byte (char c, char buf[8])
{
  unsigned char u = (unsigned char) c;
  snprintf (buf, 8, u >= 0x20 && u < 0x7f ? "'%c'" : "0x%02x", u);
  return buf;
}

static bool
expect_word (Parser * ps, const char *word)
{
  size_t n = strlen (word);
  char b[8];
  if ((size_t) (ps->end - ps->p) < n || memcmp (ps->p, word, n) != 0)
    return fail (ps, "unexpected %s", show_byte (*ps->p, b));
  ps->p += n;
  return true;
}

static int
hex_digit (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Reads the 4 hex digits after "\u". */
static bool
read_hex4 (Parser * ps, uint32_t * out)
{
  if (ps->end - ps->p < 4)
    return fail (ps, "truncated \\u escape");
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    int d = hex_digit (ps->p[i]);
    if (d < 0)
      return fail (ps, "bad \\u escape");
    v = v * 16 + (uint32_t) d;
  }
  ps->p += 4;
  *out = v;
  return true;
}

/* A \u escape (ps->p just after "\u"), surrogate pairs joined. */
static bool
read_unicode_escape (Parser * ps, GString * buf)
{
  uint32_t cp;
  if (!read_hex4 (ps, &cp))
    return false;
  if (cp >= 0xDC00 && cp <= 0xDFFF)
    return fail (ps, "lone low surrogate \\u%04X", cp);
  if (cp >= 0xD800 && cp <= 0xDBFF) {
    uint32_t lo;
    if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')
      return fail (ps, "high surrogate \\u%04X without its low half", cp);
    ps->p += 2;
    if (!read_hex4 (ps, &lo))
      return false;
    if (lo < 0xDC00 || lo > 0xDFFF)
      return fail (ps, "high surrogate \\u%04X without its low half", cp);
    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
  }
  if (cp == 0)
    return fail (ps, "\\u0000 in a string");
  char utf8[8];
  g_string_append_len (buf, utf8, g_unichar_to_utf8 (cp, utf8));
  return true;
}

static bool
read_escape (Parser * ps, GString * buf)
{
  if (ps->p >= ps->end)
    return fail (ps, "unterminated string");
  char c = *ps->p++;
  switch (c) {
    case '"': case '\\': case '/':
      g_string_append_c (buf, c);
      return true;
    case 'b': g_string_append_c (buf, '\b'); return true;
    case 'f': g_string_append_c (buf, '\f'); return true;
    case 'n': g_string_append_c (buf, '\n'); return true;
    case 'r': g_string_append_c (buf, '\r'); return true;
    case 't': g_string_append_c (buf, '\t'); return true;
    case 'u': return read_unicode_escape (ps, buf);
  }
  ps->p--;
  return fail (ps, "bad escape '\\%c'", c);
}

/* A string; ps->p is on the opening quote. The text was checked to be UTF-8 already. */
static bool
parse_string (Parser * ps, char **out, size_t *out_len)
{
  GString *buf = g_string_new (NULL);
  ps->p++;
  for (;;) {
    if (ps->p >= ps->end) {
      fail (ps, "unterminated string");
      break;
    }
    unsigned char c = (unsigned char) *ps->p;
    if (c == '"') {
      ps->p++;
      *out_len = buf->len;
      *out = g_string_free (buf, FALSE);
      return true;
    }
    if (c < 0x20) {
      fail (ps, "control character 0x%02x in a string", c);
      break;
    }
    ps->p++;
    if (c == '\\') {
      if (!read_escape (ps, buf))
        break;
    } else {
      g_string_append_c (buf, (char) c);
    }
  }
  g_string_free (buf, TRUE);
  return false;
}

static size_t
skip_digits (Parser * ps)
{
  const char *start = ps->p;
  while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
    ps->p++;
  return (size_t) (ps->p - start);
}

/* Exact int64 value of an integer literal, or false when it does not fit. */
static bool
integer_value (const char *s, size_t len, int64_t * out)
{
  bool neg = s[0] == '-';
  uint64_t limit = neg ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX, v = 0;
  for (size_t i = neg; i < len; i++) {
    uint64_t d = (uint64_t) (s[i] - '0');
    if (v > (limit - d) / 10)
      return false;
    v = v * 10 + d;
  }
  *out = neg ? (int64_t) (0 - v) : (int64_t) v;
  return true;
}

/* The RFC 8259 number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool
parse_number (Parser * ps, DaeJson * out)
{
  const char *start = ps->p;
  if (*ps->p == '-')
    ps->p++;
  if (ps->p < ps->end && *ps->p == '0') {
    ps->p++;
  } else if (skip_digits (ps) == 0) {
    return fail (ps, "bad number");
  }
  bool is_int = true;
  if (ps->p < ps->end && *ps->p == '.') {
    ps->p++;
    is_int = false;
    if (skip_digits (ps) == 0)
      return fail (ps, "bad number (no digits after '.')");
  }
  if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
    ps->p++;
    is_int = false;
    if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
      ps->p++;
    if (skip_digits (ps) == 0)
      return fail (ps, "bad number (no digits in the exponent)");
  }
  size_t len = (size_t) (ps->p - start);
  char *copy = g_strndup (start, len);
  out->type = DAE_JSON_NUMBER;
  out->num.value = g_ascii_strtod (copy, NULL);
  out->num.is_int = is_int;
  out->num.int_fits = is_int && integer_value (start, len, &out->num.int_value);
  g_free (copy);
  if (!isfinite (out->num.value))
    return fail (ps, "number out of range");
  return true;
}

/* Grows a kids array by one slot; returns the new slot (zeroed). */
static DaeJson *
add_kid (DaeJson * v, size_t *cap)
{
  if (v->kids.n == *cap) {
    *cap = *cap ? *cap * 2 : 4;
    v->kids.items = g_renew (DaeJson, v->kids.items, *cap);
    if (v->type == DAE_JSON_OBJECT)
      v->kids.keys = g_renew (char *, v->kids.keys, *cap);
  }
  DaeJson *slot = &v->kids.items[v->kids.n];
  memset (slot, 0, sizeof *slot);
  return slot;
}

/* Array or object; ps->p is on '[' or '{'. Members are counted in v->kids.n only once parsed,
 * so a failure leaves v freeable. */
static bool
parse_container (Parser * ps, DaeJson * v, bool object)
{
  char close = object ? '}' : ']';
  size_t cap = 0;
  v->type = object ? DAE_JSON_OBJECT : DAE_JSON_ARRAY;
  if (++ps->depth > DAE_JSON_MAX_DEPTH)
    return fail (ps, "nested deeper than %d levels", DAE_JSON_MAX_DEPTH);
  ps->p++;
  skip_space (ps);
  if (ps->p < ps->end && *ps->p == close) {
    ps->p++;
    ps->depth--;
    return true;
  }
  for (;;) {
    char *key = NULL;
    size_t key_len;
    skip_space (ps);
    if (object) {
      if (ps->p >= ps->end || *ps->p != '"')
        return fail (ps, "expected a key string");
      if (!parse_string (ps, &key, &key_len))
        return false;
      skip_space (ps);
      if (ps->p >= ps->end || *ps->p != ':') {
        g_free (key);
        return fail (ps, "expected ':'");
      }
      ps->p++;
    }
    DaeJson *slot = add_kid (v, &cap);
    if (object)
      v->kids.keys[v->kids.n] = key;
    bool ok = parse_value (ps, slot);
    v->kids.n++;
    if (!ok)
      return false;
    skip_space (ps);
    if (ps->p < ps->end && *ps->p == ',') {
      ps->p++;
      continue;
    }
    if (ps->p < ps->end && *ps->p == close) {
      ps->p++;
      ps->depth--;
      return true;
    }
    return fail (ps, "expected ',' or '%c'", close);
  }
}

static bool
parse_value (Parser * ps, DaeJson * out)
{
  skip_space (ps);
  if (ps->p >= ps->end)
    return fail (ps, "unexpected end of text");
  if (++ps->values > DAE_JSON_MAX_VALUES)
    return fail (ps, "more than %u values", DAE_JSON_MAX_VALUES);
  switch (*ps->p) {
    case '{': return parse_container (ps, out, true);
    case '[': return parse_container (ps, out, false);
    case '"':
      out->type = DAE_JSON_STRING;
      return parse_string (ps, &out->str.s, &out->str.len);
    case 't':
      out->type = DAE_JSON_BOOL;
      out->boolean = true;
      return expect_word (ps, "true");
    case 'f':
      out->type = DAE_JSON_BOOL;
      return expect_word (ps, "false");
    case 'n':
      out->type = DAE_JSON_NULL;
      return expect_word (ps, "null");
  }
  if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
    return parse_number (ps, out);
  char b[8];
  return fail (ps, "unexpected %s", show_byte (*ps->p, b));
}

static void
clear_value (DaeJson * v)
{
  if (v->type == DAE_JSON_STRING) {
    g_free (v->str.s);
  } else if (v->type == DAE_JSON_ARRAY || v->type == DAE_JSON_OBJECT) {
    for (size_t i = 0; i < v->kids.n; i++) {
      clear_value (&v->kids.items[i]);
      if (v->kids.keys)
        g_free (v->kids.keys[i]);
    }
    g_free (v->kids.items);
    g_free (v->kids.keys);
  }
}

DaeJson *
dae_json_parse (const char *text, size_t len, char *msg, size_t msg_len)
{
  Parser ps = { text, text, text + len, 0, 0, msg, msg_len, false };
  const char *bad;
  if (!g_utf8_validate_len (text, len, &bad)) {
    ps.p = bad;
    fail (&ps, "not UTF-8 text (byte 0x%02x)", (unsigned char) *bad);
    return NULL;
  }
  DaeJson *v = g_new0 (DaeJson, 1);
  bool ok = parse_value (&ps, v);
  if (ok) {
    skip_space (&ps);
    if (ps.p != ps.end)
      ok = fail (&ps, "text after the end of the JSON value");
  }
  if (!ok) {
    dae_json_free (v);
    return NULL;
  }
  return v;
}

void
dae_json_free (DaeJson * v)
{
  if (!v)
    return;
  clear_value (v);
  g_free (v);
}

const DaeJson *
dae_json_member (const DaeJson * obj, const char *key)
{
  if (!obj || obj->type != DAE_JSON_OBJECT)
    return NULL;
  for (size_t i = 0; i < obj->kids.n; i++)
    if (strcmp (obj->kids.keys[i], key) == 0)
      return &obj->kids.items[i];
  return NULL;
}

const char *
dae_json_type_name (DaeJsonType t)
{
  switch (t) {
    case DAE_JSON_NULL: return "null";
    case DAE_JSON_BOOL: return "a boolean";
    case DAE_JSON_NUMBER: return "a number";
    case DAE_JSON_STRING: return "a string";
    case DAE_JSON_ARRAY: return "an array";
    case DAE_JSON_OBJECT: return "an object";
  }
  return "?";
}

void
dae_json_append_string (GString * buf, const char *s)
{
  g_string_append_c (buf, '"');
  for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
    if (*p == '"' || *p == '\\')
      g_string_append_printf (buf, "\\%c", *p);
    else if (*p == '\n')
      g_string_append (buf, "\\n");
    else if (*p < 0x20 || *p == 0x7f)
      g_string_append_printf (buf, "\\u%04x", *p);
    else
      g_string_append_c (buf, (char) *p);
  }
  g_string_append_c (buf, '"');
}

/* Shortest "%.*e" digits that read back exactly: mantissa digits (no point) and exponent. */
static void
shortest_digits (double v, char *digits, size_t len, int *exp10)
{
  char text[64];
  for (int prec = 0; prec < 17; prec++) {
    char fmt[16];
    snprintf (fmt, sizeof fmt, "%%.%de", prec);
    g_ascii_formatd (text, sizeof text, fmt, v);
    if (g_ascii_strtod (text, NULL) == v)
      break;
  }
  char *e = strchr (text, 'e');
  *exp10 = atoi (e + 1);
  size_t n = 0;
  for (const char *p = text; p < e && n + 1 < len; p++)
    if (*p >= '0' && *p <= '9')
      digits[n++] = *p;
  digits[n] = '\0';
}

void
dae_json_append_double (GString * buf, double v)
{
  char digits[32];
  int e;
  if (v == 0) {
    g_string_append (buf, signbit (v) ? "-0.0" : "0.0");
    return;
  }
  if (v < 0)
    g_string_append_c (buf, '-');
  shortest_digits (fabs (v), digits, sizeof digits, &e);
  int nd = (int) strlen (digits);
  if (e < -4 || e >= 16) {
    /* Python: 1e-05, 1.5e+20 */
    g_string_append_c (buf, digits[0]);
    if (nd > 1)
      g_string_append_printf (buf, ".%s", digits + 1);
    g_string_append_printf (buf, "e%c%02d", e < 0 ? '-' : '+', abs (e));
  } else if (e < 0) {
    g_string_append (buf, "0.");
    for (int i = 0; i < -e - 1; i++)
      g_string_append_c (buf, '0');
    g_string_append (buf, digits);
  } else {
    for (int i = 0; i <= e; i++)
      g_string_append_c (buf, i < nd ? digits[i] : '0');
    g_string_append_c (buf, '.');
    g_string_append (buf, nd > e + 1 ? digits + e + 1 : "0");
  }
}
