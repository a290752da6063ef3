
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * The JSON grammar's pieces that its readers share (the tree's and the
 * light documents' parser in ngx_api_led_json_text.c, the streamed
 * rewrite in ngx_api_led_json_stream.c): not for other concerns.
 */


#ifndef _NGX_API_LED_JSON_PARSER_H_INCLUDED_
#define _NGX_API_LED_JSON_PARSER_H_INCLUDED_


#include "ngx_api_led_json.h"


typedef struct {
    u_char                      *start;
    u_char                      *pos;
    u_char                      *end;
    u_char                      *scratch;     /* unescaped strings, number
                                                 texts; NULL when
                                                 validating */
    const char                  *error;
    ngx_api_led_json_hooks_t    *hooks;       /* a template's, or NULL */
    unsigned                     build:1;     /* 0: validate only */
    unsigned                     unique:1;    /* NGX_API_LED_JSON_UNIQUE */
    unsigned                     too_deep:1;
    unsigned                     duplicate:1;
    unsigned                     nomem:1;
    unsigned                     hook_failed:1;
} ngx_api_led_json_parser_t;


extern const u_char  ngx_api_led_json_plain[256];

/*
 * Past a run of plain bytes, sixteen at a time where there is SSE2 (every
 * x86-64): a block stops at the first byte that needs a look, '"', '\\'
 * and, compared as signed bytes, below 0x20 (control characters, and from
 * 0x80 on: negative).  The last few bytes, and all of them elsewhere, are
 * looked at one by one.
 */

#if (defined __SSE2__)
#include <emmintrin.h>
#endif


static ngx_inline u_char *
ngx_api_led_json_plain_skip(u_char *p, u_char *end)
{
#if (defined __SSE2__)
    int      m;
    __m128i  v, quote, backslash, space;

    quote = _mm_set1_epi8('"');
    backslash = _mm_set1_epi8('\\');
    space = _mm_set1_epi8(0x20);

    while (end - p >= 16) {
        v = _mm_loadu_si128((const __m128i *) p);

        m = _mm_movemask_epi8(
                _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
                                          _mm_cmpeq_epi8(v, backslash)),
                             _mm_cmplt_epi8(v, space)));
        if (m) {
            return p + __builtin_ctz(m);
        }

        p += 16;
    }
#endif

    while (p < end && ngx_api_led_json_plain[*p] == 0) {
        p++;
    }

    return p;
}


/* most tokens have no whitespace before them: one compare says so */
#define ngx_api_led_json_skip_ws(jp)                                          \
    while (jp->pos < jp->end && *jp->pos <= ' '                               \
           && (*jp->pos == ' ' || *jp->pos == '\n' || *jp->pos == '\r'        \
               || *jp->pos == '\t'))                                          \
    {                                                                         \
        jp->pos++;                                                            \
    }


/* whitespace, where a test of the byte has not already ruled it out */

#define ngx_api_led_json_light_ws(p, end)                                     \
    while (p < end && *p <= ' '                                               \
           && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))          \
    {                                                                         \
        p++;                                                                  \
    }


/*
 * Past the byte c and any whitespace before it, NULL if another byte
 * comes: most documents have no whitespace, and the byte is tested first.
 */

static ngx_inline u_char *
ngx_api_led_json_light_past(u_char *p, u_char *end, u_char c)
{
    if (p < end && *p == c) {
        return p + 1;
    }

    ngx_api_led_json_light_ws(p, end);

    return (p < end && *p == c) ? p + 1 : NULL;
}


/*
 * Whether a real's text is the one the serializer writes for its double
 * (ngx_api_led_json_real_text()), without writing it: a plain decimal
 * ("12.5", "-0.25"), no exponent, no trailing zero, at most 12
 * significant digits, at least 0.0001.  For such a decimal D / 10^k the
 * serializer's exact path finds D at k (D below 2^40: its product with
 * 10^k rounds to D itself, no other decimal as short reads back as the
 * same double), or its "%.15g" writes the same digits, in positional
 * notation from 0.0001 on.
 */

static ngx_inline ngx_uint_t
ngx_api_led_json_light_plain_real(u_char *p, size_t len)
{
    u_char      *end;
    ngx_uint_t   point, sig, zeros;

    end = p + len;

    if (*p == '-') {
        p++;
    }

    point = 0;
    sig = 0;        /* significant digits */
    zeros = 0;      /* zeros after the point before any other digit */

    for ( /* void */ ; p < end; p++) {

        if (*p == '.') {
            point = 1;

        } else if (*p < '0' || *p > '9') {
            /* an exponent */
            return 0;

        } else if (sig || *p != '0') {
            sig++;

        } else if (point) {
            zeros++;
        }
    }

    /* "0.000x" and smaller: 0 < zeros, the integer part is "0" */

    return point && end[-1] != '0' && sig <= 12 && zeros <= 3;
}


/*
 * A decimal from p, its integer part (no leading zero) up to the point
 * at q: the end of its fraction if the grammar is done with it there (a
 * digit after the point, no exponent) and the serializer writes its
 * double as it is (ngx_api_led_json_light_plain_real()), else NULL.
 */

static ngx_inline u_char *
ngx_api_led_json_light_fraction(u_char *p, u_char *q, u_char *end)
{
    u_char  *r;

    r = q + 1;

    while (r < end && *r >= '0' && *r <= '9') {
        r++;
    }

    if (r - q > 1
        && (r == end || (*r != 'e' && *r != 'E'))
        && ngx_api_led_json_light_plain_real(p, r - p))
    {
        return r;
    }

    return NULL;
}


/*
 * A string at jp->pos (its quote): NGX_OK, its bytes (in the text
 * without an escape, else unescaped into jp->scratch) and jp->pos after
 * it; NGX_ERROR and jp->error.
 */
ngx_int_t ngx_api_led_json_parse_string(ngx_api_led_json_parser_t *jp,
    u_char **s, size_t *len);

ngx_int_t ngx_api_led_json_number_written(u_char *p, u_char *end,
    u_char *scratch, u_char *buf, ngx_str_t *text, u_char **next);


#endif /* _NGX_API_LED_JSON_PARSER_H_INCLUDED_ */
