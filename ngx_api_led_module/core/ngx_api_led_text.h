
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Text that leaves the module: error messages in fixed-size buffers, values
 * from a request (or another peer) in log lines, and UTF-8 text cut to a
 * size (core/ngx_api_led_text.c).
 */


#ifndef _NGX_API_LED_TEXT_H_INCLUDED_
#define _NGX_API_LED_TEXT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * printf-style (ngx_vslprintf) into err[size]: at most size - 1 bytes and
 * always a terminating NUL, however long the message grows.  Returns the
 * end (the NUL).  Every fixed-size error buffer is written through it.
 */
u_char *ngx_api_led_errf(u_char *err, size_t size, const char *fmt, ...);

/*
 * A value from a request (or a peer: an upstream, Redis, a fetched key set)
 * for a log line: control characters, DEL, '"', '\' and bytes above 0x7f
 * become \xNN, so that a value can neither end the line nor pass for another
 * field.  Returns the value itself when nothing needs escaping, else an
 * escaped copy from the pool (or a fixed text if the pool has no memory):
 * use it with %V.
 */
ngx_str_t *ngx_api_led_log_value(ngx_pool_t *pool, ngx_str_t *value);

/* the same for a NUL-terminated string */
ngx_str_t *ngx_api_led_log_cstr(ngx_pool_t *pool, const char *s);

/* the same into buf, which holds 4 bytes for each byte of the value */
ngx_str_t *ngx_api_led_log_value_buf(ngx_str_t *out, u_char *buf,
    ngx_str_t *value);

/*
 * The length of the longest prefix of p[0..len) that does not end inside a
 * UTF-8 character: valid UTF-8 cut to a size (a problem's detail, say)
 * stays valid UTF-8.
 */
size_t ngx_api_led_utf8_cut(u_char *p, size_t len);

/*
 * ngx_hex_dump() for the ids of every API request (correlation id, trace
 * context): two digits a byte copied from a table, inline, so that a
 * constant length unrolls (a third of ngx_hex_dump()'s instructions)
 */
extern const u_char  ngx_api_led_hex_pairs[];

/*
 * Two byte strings of one length compared in constant time (API keys'
 * digests, cached tokens): the differences gathered 32 bytes at a time,
 * four independent words the CPU overlaps, never looked at before the
 * end (CRYPTO_memcmp() goes a byte at a time, through a call).
 */
static ngx_inline ngx_uint_t
ngx_api_led_same(u_char *a, u_char *b, size_t len)
{
    size_t     i;
    uint64_t   x0, x1, x2, x3, y0, y1, y2, y3, diff;

    diff = 0;

    for (i = 0; i + 4 * sizeof(uint64_t) <= len; i += 4 * sizeof(uint64_t)) {
        ngx_memcpy(&x0, a + i, sizeof(uint64_t));
        ngx_memcpy(&x1, a + i + 8, sizeof(uint64_t));
        ngx_memcpy(&x2, a + i + 16, sizeof(uint64_t));
        ngx_memcpy(&x3, a + i + 24, sizeof(uint64_t));
        ngx_memcpy(&y0, b + i, sizeof(uint64_t));
        ngx_memcpy(&y1, b + i + 8, sizeof(uint64_t));
        ngx_memcpy(&y2, b + i + 16, sizeof(uint64_t));
        ngx_memcpy(&y3, b + i + 24, sizeof(uint64_t));

        diff |= (x0 ^ y0) | (x1 ^ y1) | (x2 ^ y2) | (x3 ^ y3);
    }

    for ( /* void */ ; i < len; i++) {
        diff |= a[i] ^ b[i];
    }

    return diff == 0;
}

/*
 * The module's 64-bit mixing step, a word folded into a hash (the
 * metrics' look-up cache, the JWT cache's keys): spreads keys, keeps no
 * secret
 */
#define NGX_API_LED_MIX  0x9e3779b97f4a7c15ULL

static ngx_inline uint64_t
ngx_api_led_mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * NGX_API_LED_MIX;

    return h ^ h >> 29;
}

/*
 * A number in decimal, for what every request writes (RateLimit-* headers,
 * the lengths of a Redis command): ngx_sprintf("%uL") parses its format
 * first, ten times the instructions
 */
static ngx_inline u_char *
ngx_api_led_uint_dump(u_char *p, uint64_t n)
{
    u_char  buf[NGX_INT64_LEN], *q;

    q = buf + sizeof(buf);

    do {
        *--q = (u_char) ('0' + n % 10);
        n /= 10;
    } while (n);

    return ngx_cpymem(p, q, buf + sizeof(buf) - q);
}

static ngx_inline u_char *
ngx_api_led_hex_dump(u_char *dst, u_char *src, size_t len)
{
    while (len--) {
        ngx_memcpy(dst, &ngx_api_led_hex_pairs[2 * *src++], 2);
        dst += 2;
    }

    return dst;
}


#endif /* _NGX_API_LED_TEXT_H_INCLUDED_ */
