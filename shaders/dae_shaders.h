/* The SPIR-V of every shader in shaders/, compiled by glslang at build time. */
#ifndef DAE_SHADERS_H
#define DAE_SHADERS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  const char *name;             /* variant name, e.g. "basic_fill" */
  const uint32_t *code;
  size_t size;                  /* bytes */
} DaeShaderCode;

extern const DaeShaderCode dae_shader_table[];
extern const size_t dae_shader_count;

#endif
