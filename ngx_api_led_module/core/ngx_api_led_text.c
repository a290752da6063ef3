
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Text that leaves the module: error messages that always end in a NUL
 * (ngx_snprintf does not terminate a truncated buffer: stack bytes would
 * follow the message into the log), values from a request escaped for a
 * log line, UTF-8 cut at a character boundary.
 */


#include "ngx_api_led.h"


static uintptr_t ngx_api_led_log_escape(u_char *dst, u_char *src,
    size_t size);


static ngx_str_t  ngx_api_led_log_nomem =
    ngx_string("(value not logged: out of memory)");


u_char *
ngx_api_led_errf(u_char *err, size_t size, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    if (size == 0) {
        return err;
    }

    va_start(args, fmt);
    p = ngx_vslprintf(err, err + size - 1, fmt, args);
    va_end(args);

    *p = '\0';

    return p;
}


ngx_str_t *
ngx_api_led_log_value(ngx_pool_t *pool, ngx_str_t *value)
{
    uintptr_t   n;
    ngx_str_t  *s;

    n = ngx_api_led_log_escape(NULL, value->data, value->len);

    if (n == 0) {
        return value;
    }

    s = ngx_palloc(pool, sizeof(ngx_str_t) + value->len + 3 * n);
    if (s == NULL) {
        return &ngx_api_led_log_nomem;
    }

    s->data = (u_char *) (s + 1);
    s->len = (u_char *) ngx_api_led_log_escape(s->data, value->data,
                                               value->len)
             - s->data;

    return s;
}


ngx_str_t *
ngx_api_led_log_cstr(ngx_pool_t *pool, const char *s)
{
    ngx_str_t  *v;

    v = ngx_palloc(pool, sizeof(ngx_str_t));
    if (v == NULL) {
        return &ngx_api_led_log_nomem;
    }

    v->data = (u_char *) s;
    v->len = ngx_strlen(s);

    return ngx_api_led_log_value(pool, v);
}


ngx_str_t *
ngx_api_led_log_value_buf(ngx_str_t *out, u_char *buf, ngx_str_t *value)
{
    out->data = buf;
    out->len = (u_char *) ngx_api_led_log_escape(buf, value->data, value->len)
               - buf;

    return out;
}


/*
 * With dst NULL: the number of bytes to escape.  Else writes the escaped
 * text (3 bytes more for each of them) and returns its end.
 */

static uintptr_t
ngx_api_led_log_escape(u_char *dst, u_char *src, size_t size)
{
    u_char      c;
    uintptr_t   n;

    static u_char  hex[] = "0123456789ABCDEF";

    if (dst == NULL) {
        n = 0;

        while (size--) {
            c = *src++;

            if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
                n++;
            }
        }

        return n;
    }

    while (size--) {
        c = *src++;

        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            *dst++ = '\\';
            *dst++ = 'x';
            *dst++ = hex[c >> 4];
            *dst++ = hex[c & 0xf];
            continue;
        }

        *dst++ = c;
    }

    return (uintptr_t) dst;
}


size_t
ngx_api_led_utf8_cut(u_char *p, size_t len)
{
    u_char  c;
    size_t  i, need;

    /* the last character starts at most 3 bytes before the end */

    for (i = len; i > 0 && len - i < 4; i--) {
        c = p[i - 1];

        if ((c & 0xc0) == 0x80) {
            /* a continuation byte: the character started earlier */
            continue;
        }

        if (c < 0x80) {
            return len;
        }

        need = (c >= 0xf0) ? 4 : (c >= 0xe0) ? 3 : 2;

        return (len - (i - 1) >= need) ? len : i - 1;
    }

    /* no start of a character in reach: not UTF-8 that a cut broke */

    return len;
}


/* each byte's two lowercase digits (ngx_api_led_hex_dump()) */

const u_char  ngx_api_led_hex_pairs[] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
    "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
    "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
    "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
    "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";
