/*
 * fuzz.h: what the libFuzzer harnesses of fuzz/ share (fuzz_util.c): a private
 * temporary directory, files written there, a silent errfn that still formats
 * every report, splitting an input into fields, a JSON validator, and abort
 * with a message for a broken invariant (libFuzzer saves the input).
 */
#ifndef DH_FUZZ_H
#define DH_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "deephealth.h"

/* This process's scratch directory (created on first use, removed at exit). */
const char *fz_dir(void);
/* fz_dir()/name into out (size >= 4200); returns out. */
char *fz_path(const char *name, char *out, size_t len);
/* Replace the file at path with len bytes of data; aborts when it cannot. */
void fz_write(const char *path, const void *data, size_t len);

/*
 * An errfn_t: formats the report (so a bad argument list is caught by the
 * sanitizers) and counts it in *(int *)arg when arg is not NULL; prints
 * nothing unless FUZZ_VERBOSE is set in the environment.
 */
void fz_errfn(void *arg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A broken invariant: print the message and abort (libFuzzer keeps the input). */
void fz_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
#define FZ_CHECK(cond, ...)                     \
	do {                                    \
		if (!(cond))                    \
			fz_die(__VA_ARGS__);    \
	} while (0)

/*
 * Split data at NUL or any byte of seps into at most max fields, each a malloc'd
 * NUL-terminated copy (the last takes the rest, separators and all).  Returns
 * the count; free with fz_fields_free.
 */
size_t fz_split(const uint8_t *data, size_t size, const char *seps, char **fields, size_t max);
void fz_fields_free(char **fields, size_t n);

/*
 * JSON (RFC 8259), strictly: fz_json_ok says whether s (len bytes) is exactly
 * one JSON value with optional white space around it.  fz_json_string_body
 * checks that s is what goes between the quotes of a JSON string and decodes
 * it into out (UTF-8, malloc'd, *outlen bytes); 0 when it is not one.
 */
int fz_json_ok(const char *s, size_t len);
int fz_json_string_body(const char *s, size_t len, char **out, size_t *outlen);

/*
 * Length of the well-formed UTF-8 sequence at p (1 to 4 bytes: no overlong
 * form, no surrogate, nothing above U+10FFFF), or 0.  Written from RFC 3629's
 * table, independently of util.c.
 */
size_t fz_utf8_seq(const unsigned char *p, size_t left);

#endif /* DH_FUZZ_H */
