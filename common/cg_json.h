/* cg_json: writing JSON by hand safely: a string literal, quoted and escaped, so that any
 * path or name gives valid JSON. The numbers around it are the caller's printf.
 * Not here: reading JSON (cgrpo reads none). Threading: none of its own. */
#ifndef CG_JSON_H
#define CG_JSON_H

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Writes s as a JSON string: "..." with ", \ and control characters escaped. */
void cg_json_string(FILE *f, const char *s);

#ifdef __cplusplus
}
#endif

#endif
