
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * JSON text: the parser (straight into jansson values), the compact
 * serializer into pool memory, JSON media types.  The arena jansson
 * allocates from is in ngx_api_led_json_arena.c, forms <-> JSON in
 * ngx_api_led_json_form.c.
 */


#include "ngx_api_led_json.h"


typedef struct {
    u_char                      *start;
    u_char                      *pos;
    u_char                      *end;
    ngx_pool_t                  *pool;
} ngx_api_led_json_out_t;


static ngx_int_t ngx_api_led_json_write(ngx_api_led_json_out_t *out,
    json_t *value);
static ngx_int_t ngx_api_led_json_write_string(ngx_api_led_json_out_t *out,
    const char *s, size_t len);
static u_char *ngx_api_led_json_real(u_char *p, double d);
static ngx_int_t ngx_api_led_json_grow(ngx_api_led_json_out_t *out,
    size_t n);


/* room for n more bytes; the common case is a compare, inline */
#define ngx_api_led_json_reserve(out, n)                                      \
    ((size_t) ((out)->end - (out)->pos) >= (size_t) (n)                       \
     ? NGX_OK : ngx_api_led_json_grow(out, n))


/*
 * Bytes of a string: 0 plain ASCII, 1 needs an escape in output (control
 * characters, '"', '\\'), 2 the start of a UTF-8 sequence.
 */

static const u_char  ngx_api_led_json_class[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2
};


/*
 * The parser: the module's one JSON grammar (RFC 8259; strings are UTF-8
 * without \u0000, integers must fit 64 bits).  jansson's own json_loadb()
 * reads through a character stream abstraction and is several times
 * slower than the network path it sits in; this one scans the buffer
 * directly and builds the same jansson values (strings are checked for
 * UTF-8 here, so the unchecked jansson constructors are used).  Depth is
 * bounded while descending.  Without a document to build (validation),
 * the same code only scans: no value, no allocation, any integer.
 */

typedef struct {
    u_char                      *start;
    u_char                      *pos;
    u_char                      *end;
    u_char                      *scratch;     /* unescaped strings, NULL
                                                 when validating */
    size_t                       scratch_size;
    const char                  *error;
    unsigned                     build:1;     /* 0: validate only */
    unsigned                     unique:1;    /* NGX_API_LED_JSON_UNIQUE */
    unsigned                     too_deep:1;
    unsigned                     duplicate:1;
} ngx_api_led_json_parser_t;


static ngx_int_t ngx_api_led_json_parse_text(ngx_pool_t *pool, u_char *data,
    size_t len, ngx_uint_t flags, json_t **doc, u_char *err, size_t errlen);


static json_t *ngx_api_led_json_parse_value(ngx_api_led_json_parser_t *jp,
    ngx_uint_t depth);
static ngx_int_t ngx_api_led_json_parse_string(ngx_api_led_json_parser_t *jp,
    u_char **s, size_t *len);
static json_t *ngx_api_led_json_parse_number(ngx_api_led_json_parser_t *jp);
static u_char *ngx_api_led_json_utf8(u_char *p, u_char *end);


#define ngx_api_led_json_skip_ws(jp)                                          \
    while (jp->pos < jp->end                                                  \
           && (*jp->pos == ' ' || *jp->pos == '\n' || *jp->pos == '\r'        \
               || *jp->pos == '\t'))                                          \
    {                                                                         \
        jp->pos++;                                                            \
    }


/*
 * Parses a document of any type.  NGX_API_LED_JSON_INVALID: not JSON;
 * NGX_API_LED_JSON_TOO_DEEP: nested deeper than NGX_API_LED_JSON_MAX_DEPTH;
 * NGX_API_LED_JSON_DUPLICATE: a member name repeated in an object (with
 * NGX_API_LED_JSON_UNIQUE).  "err" (at least 160 bytes) receives the
 * reason.
 */

ngx_int_t
ngx_api_led_json_parse(u_char *data, size_t len, ngx_uint_t flags,
    json_t **doc, u_char *err, size_t errlen)
{
    return ngx_api_led_json_parse_text(NULL, data, len, flags, doc, err,
                                       errlen);
}


ngx_int_t
ngx_api_led_json_parse_pool(ngx_pool_t *pool, u_char *data, size_t len,
    json_t **doc, u_char *err, size_t errlen)
{
    return ngx_api_led_json_parse_text(pool, data, len, 0, doc, err, errlen);
}


/* the same grammar, nothing built: NGX_OK, or why not as the parser says */

ngx_int_t
ngx_api_led_json_validate(u_char *data, size_t len)
{
    u_char  err[NGX_API_LED_JSON_ERRLEN];

    return ngx_api_led_json_parse_text(NULL, data, len, 0, NULL, err,
                                       sizeof(err));
}


ngx_int_t
ngx_api_led_json_read_file(ngx_conf_t *cf, ngx_str_t *name, ngx_uint_t flags,
    json_t **doc, u_char *err, size_t errlen)
{
    u_char           *data;
    size_t            size;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_err_t         e;
    ngx_int_t         rc;
    ngx_file_info_t   fi;

    fd = ngx_open_file(name->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        e = ngx_errno;
        ngx_api_led_errf(err, errlen, "unable to open (%d: %s)", e,
                         strerror(e));
        return NGX_ERROR;
    }

    rc = NGX_ERROR;
    data = NULL;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        e = ngx_errno;
        ngx_api_led_errf(err, errlen, "unable to stat (%d: %s)", e,
                         strerror(e));
        goto done;
    }

    size = (size_t) ngx_file_size(&fi);

    data = ngx_alloc(size ? size : 1, cf->log);
    if (data == NULL) {
        ngx_api_led_errf(err, errlen, "out of memory");
        goto done;
    }

    n = ngx_read_fd(fd, data, size);

    if (n == -1 || (size_t) n != size) {
        e = ngx_errno;
        ngx_api_led_errf(err, errlen, "unable to read (%d: %s)", e,
                         strerror(e));
        goto done;
    }

    rc = ngx_api_led_json_parse_text(NULL, data, size, flags, doc, err,
                                     errlen);

done:

    if (data) {
        ngx_free(data);
    }

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", name);
    }

    return rc;
}


static ngx_int_t
ngx_api_led_json_parse_text(ngx_pool_t *pool, u_char *data, size_t len,
    ngx_uint_t flags, json_t **doc, u_char *err, size_t errlen)
{
    u_char                     buf[512], *p;
    json_t                    *json;
    ngx_uint_t                 line;
    ngx_api_led_json_parser_t  jp;

    jp.start = data;
    jp.pos = data;
    jp.end = data + len;
    jp.error = NULL;
    jp.build = (doc != NULL);
    jp.unique = (flags & NGX_API_LED_JSON_UNIQUE) ? 1 : 0;
    jp.too_deep = 0;
    jp.duplicate = 0;

    /* an unescaped string is never longer than its text */

    if (!jp.build) {
        jp.scratch = NULL;

    } else if (len <= sizeof(buf)) {
        jp.scratch = buf;

    } else {
        jp.scratch = pool ? ngx_pnalloc(pool, len)
                          : ngx_alloc(len, ngx_cycle->log);
        if (jp.scratch == NULL) {
            ngx_api_led_errf(err, errlen, "out of memory");
            return NGX_ERROR;
        }
    }

    jp.scratch_size = len;

    json = ngx_api_led_json_parse_value(&jp, 0);

    if (json) {
        ngx_api_led_json_skip_ws((&jp));

        if (jp.pos != jp.end) {
            json_decref(json);
            json = NULL;
            jp.error = "data after the document";
        }
    }

    if (jp.scratch && jp.scratch != buf) {
        if (pool) {
            ngx_pfree(pool, jp.scratch);

        } else {
            ngx_free(jp.scratch);
        }
    }

    if (json) {
        if (doc) {
            *doc = json;
        }

        return NGX_OK;
    }

    if (jp.too_deep) {
        ngx_api_led_errf(err, errlen, "JSON nested deeper than %d levels",
                         NGX_API_LED_JSON_MAX_DEPTH);
        return NGX_API_LED_JSON_TOO_DEEP;
    }

    if (flags & NGX_API_LED_JSON_LINES) {
        /* a file a person wrote: where, as an editor shows it */

        line = 1;
        data = jp.start;

        for (p = jp.start; p < jp.pos && p < jp.end; p++) {
            if (*p == '\n') {
                line++;
                data = p + 1;
            }
        }

        ngx_api_led_errf(err, errlen, "line %ui, column %uz: %s",
                         line, (size_t) (p - data) + 1,
                         jp.error ? jp.error
                         : (jp.pos >= jp.end) ? "unexpected end of the text"
                                              : "unexpected character");

    } else if (jp.pos >= jp.end) {
        ngx_api_led_errf(err, errlen, "%s",
                         jp.error ? jp.error : "unexpected end of the text");

    } else {
        ngx_api_led_errf(err, errlen, "%s at byte %uz",
                         jp.error ? jp.error : "unexpected character",
                         (size_t) (jp.pos - jp.start));
    }

    return jp.duplicate ? NGX_API_LED_JSON_DUPLICATE : NGX_API_LED_JSON_INVALID;
}


static json_t *
ngx_api_led_json_parse_value(ngx_api_led_json_parser_t *jp, ngx_uint_t depth)
{
    u_char  *s;
    json_t  *json, *v;
    size_t   len;

    ngx_api_led_json_skip_ws(jp);

    if (jp->pos >= jp->end) {
        return NULL;
    }

    switch (*jp->pos) {

    case '{':
        if (depth >= NGX_API_LED_JSON_MAX_DEPTH) {
            jp->too_deep = 1;
            return NULL;
        }

        jp->pos++;

        if (jp->build) {
            json = json_object();
            if (json == NULL) {
                jp->error = "out of memory";
                return NULL;
            }

        } else {
            json = json_null();
        }

        ngx_api_led_json_skip_ws(jp);

        if (jp->pos < jp->end && *jp->pos == '}') {
            jp->pos++;
            return json;
        }

        for ( ;; ) {
            ngx_api_led_json_skip_ws(jp);

            if (jp->pos >= jp->end || *jp->pos != '"') {
                jp->error = "a member name expected";
                goto failed;
            }

            if (ngx_api_led_json_parse_string(jp, &s, &len) != NGX_OK) {
                goto failed;
            }

            if (!jp->build) {
                ngx_api_led_json_skip_ws(jp);

                if (jp->pos >= jp->end || *jp->pos != ':') {
                    jp->error = "\":\" expected";
                    return NULL;
                }

                jp->pos++;

                if (ngx_api_led_json_parse_value(jp, depth + 1) == NULL) {
                    return NULL;
                }

                goto member_done;
            }

            if (jp->unique && json_object_getn(json, (char *) s, len)) {
                /* as jansson's JSON_REJECT_DUPLICATES */
                jp->error = "duplicate object key";
                jp->duplicate = 1;
                goto failed;
            }

            if (s == jp->scratch) {
                /* the value reuses the scratch buffer: keep the key */
                s = ngx_alloc(len + 1, ngx_cycle->log);
                if (s == NULL) {
                    jp->error = "out of memory";
                    goto failed;
                }

                ngx_memcpy(s, jp->scratch, len);
                s[len] = '\0';

                v = NULL;

            } else {
                v = json;   /* s points into the text */
            }

            ngx_api_led_json_skip_ws(jp);

            if (jp->pos >= jp->end || *jp->pos != ':') {
                jp->error = "\":\" expected";

                if (v == NULL) {
                    ngx_free(s);
                }

                goto failed;
            }

            jp->pos++;

            if (v == NULL) {
                v = ngx_api_led_json_parse_value(jp, depth + 1);

                if (v == NULL
                    || json_object_setn_new_nocheck(json, (char *) s, len, v)
                       != 0)
                {
                    ngx_free(s);
                    goto failed;
                }

                ngx_free(s);

            } else {
                v = ngx_api_led_json_parse_value(jp, depth + 1);

                if (v == NULL
                    || json_object_setn_new_nocheck(json, (char *) s, len, v)
                       != 0)
                {
                    goto failed;
                }
            }

        member_done:

            ngx_api_led_json_skip_ws(jp);

            if (jp->pos < jp->end && *jp->pos == ',') {
                jp->pos++;
                continue;
            }

            if (jp->pos < jp->end && *jp->pos == '}') {
                jp->pos++;
                return json;
            }

            jp->error = "\",\" or \"}\" expected";
            goto failed;
        }

    case '[':
        if (depth >= NGX_API_LED_JSON_MAX_DEPTH) {
            jp->too_deep = 1;
            return NULL;
        }

        jp->pos++;

        if (jp->build) {
            json = json_array();
            if (json == NULL) {
                jp->error = "out of memory";
                return NULL;
            }

        } else {
            json = json_null();
        }

        ngx_api_led_json_skip_ws(jp);

        if (jp->pos < jp->end && *jp->pos == ']') {
            jp->pos++;
            return json;
        }

        for ( ;; ) {
            v = ngx_api_led_json_parse_value(jp, depth + 1);

            if (v == NULL) {
                goto failed;
            }

            if (jp->build && json_array_append_new(json, v) != 0) {
                goto failed;
            }

            ngx_api_led_json_skip_ws(jp);

            if (jp->pos < jp->end && *jp->pos == ',') {
                jp->pos++;
                continue;
            }

            if (jp->pos < jp->end && *jp->pos == ']') {
                jp->pos++;
                return json;
            }

            jp->error = "\",\" or \"]\" expected";
            goto failed;
        }

    case '"':
        if (ngx_api_led_json_parse_string(jp, &s, &len) != NGX_OK) {
            return NULL;
        }

        if (!jp->build) {
            return json_null();
        }

        json = json_stringn_nocheck((char *) s, len);
        if (json == NULL) {
            jp->error = "out of memory";
        }

        return json;

    case 't':
        if (jp->end - jp->pos >= 4 && ngx_strncmp(jp->pos, "true", 4) == 0) {
            jp->pos += 4;
            return json_true();
        }

        return NULL;

    case 'f':
        if (jp->end - jp->pos >= 5 && ngx_strncmp(jp->pos, "false", 5) == 0)
        {
            jp->pos += 5;
            return json_false();
        }

        return NULL;

    case 'n':
        if (jp->end - jp->pos >= 4 && ngx_strncmp(jp->pos, "null", 4) == 0) {
            jp->pos += 4;
            return json_null();
        }

        return NULL;

    default:
        return ngx_api_led_json_parse_number(jp);
    }

failed:

    json_decref(json);
    return NULL;
}


/*
 * A string: *s points into the text when it holds no escape, else into
 * the scratch buffer (valid until the next string); when validating
 * there is no scratch buffer and nothing is written.
 */

#define ngx_api_led_json_put(d, c)                                            \
    if (d) {                                                                  \
        *d++ = (u_char) (c);                                                  \
    }


static ngx_int_t
ngx_api_led_json_parse_string(ngx_api_led_json_parser_t *jp, u_char **s,
    size_t *len)
{
    u_char      *p, *start, *d, c;
    ngx_int_t    n;
    ngx_uint_t   cp, lo, i;

    p = ++jp->pos;

    /* the common case: no escape */

    for ( ;; ) {

        while (p < jp->end && ngx_api_led_json_class[*p] == 0) {
            p++;
        }

        if (p >= jp->end) {
            jp->pos = p;
            jp->error = "unterminated string";
            return NGX_ERROR;
        }

        c = *p;

        if (c == '"') {
            *s = jp->pos;
            *len = p - jp->pos;
            jp->pos = p + 1;
            return NGX_OK;
        }

        if (c == '\\') {
            break;
        }

        if (c < 0x20) {
            jp->pos = p;
            jp->error = "control character in a string";
            return NGX_ERROR;
        }

        if (c < 0x80) {
            p++;
            continue;
        }

        p = ngx_api_led_json_utf8(p, jp->end);
        if (p == NULL) {
            jp->error = "invalid UTF-8 in a string";
            return NGX_ERROR;
        }
    }

    /* with escapes: unescape into the scratch buffer */

    start = jp->pos;
    d = jp->scratch ? ngx_cpymem(jp->scratch, start, p - start) : NULL;

    while (p < jp->end) {
        c = *p;

        if (c == '"') {
            *s = jp->scratch;
            *len = d ? (size_t) (d - jp->scratch) : 0;
            jp->pos = p + 1;
            return NGX_OK;
        }

        if (c < 0x20) {
            jp->pos = p;
            jp->error = "control character in a string";
            return NGX_ERROR;
        }

        if (c >= 0x80) {
            start = p;
            p = ngx_api_led_json_utf8(p, jp->end);
            if (p == NULL) {
                jp->pos = start;
                jp->error = "invalid UTF-8 in a string";
                return NGX_ERROR;
            }

            if (d) {
                d = ngx_cpymem(d, start, p - start);
            }

            continue;
        }

        if (c != '\\') {
            ngx_api_led_json_put(d, c);
            p++;
            continue;
        }

        if (jp->end - p < 2) {
            break;
        }

        p++;

        switch (*p++) {
        case '"':  ngx_api_led_json_put(d, '"');  continue;
        case '\\': ngx_api_led_json_put(d, '\\'); continue;
        case '/':  ngx_api_led_json_put(d, '/');  continue;
        case 'b':  ngx_api_led_json_put(d, '\b'); continue;
        case 'f':  ngx_api_led_json_put(d, '\f'); continue;
        case 'n':  ngx_api_led_json_put(d, '\n'); continue;
        case 'r':  ngx_api_led_json_put(d, '\r'); continue;
        case 't':  ngx_api_led_json_put(d, '\t'); continue;
        case 'u':  break;
        default:
            jp->pos = p - 2;
            jp->error = "invalid escape";
            return NGX_ERROR;
        }

        cp = 0;

        for (i = 0; i < 2; i++) {
            if (jp->end - p < 4 || (n = ngx_hextoi(p, 4)) == NGX_ERROR) {
                jp->pos = p;
                jp->error = "invalid \\u escape";
                return NGX_ERROR;
            }

            p += 4;

            if (i == 0) {
                cp = n;

                if (cp < 0xd800 || cp > 0xdbff) {
                    break;
                }

                /* a high surrogate: its low half must follow */

                if (jp->end - p < 2 || p[0] != '\\' || p[1] != 'u') {
                    jp->pos = p;
                    jp->error = "lone surrogate in a \\u escape";
                    return NGX_ERROR;
                }

                p += 2;
                continue;
            }

            lo = n;

            if (lo < 0xdc00 || lo > 0xdfff) {
                jp->pos = p;
                jp->error = "lone surrogate in a \\u escape";
                return NGX_ERROR;
            }

            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }

        if (cp == 0 || (cp >= 0xdc00 && cp <= 0xdfff)) {
            jp->pos = p;
            jp->error = cp ? "lone surrogate in a \\u escape"
                           : "\\u0000 in a string";
            return NGX_ERROR;
        }

        if (d == NULL) {
            continue;
        }

        if (cp < 0x80) {
            *d++ = (u_char) cp;

        } else if (cp < 0x800) {
            *d++ = (u_char) (0xc0 | (cp >> 6));
            *d++ = (u_char) (0x80 | (cp & 0x3f));

        } else if (cp < 0x10000) {
            *d++ = (u_char) (0xe0 | (cp >> 12));
            *d++ = (u_char) (0x80 | ((cp >> 6) & 0x3f));
            *d++ = (u_char) (0x80 | (cp & 0x3f));

        } else {
            *d++ = (u_char) (0xf0 | (cp >> 18));
            *d++ = (u_char) (0x80 | ((cp >> 12) & 0x3f));
            *d++ = (u_char) (0x80 | ((cp >> 6) & 0x3f));
            *d++ = (u_char) (0x80 | (cp & 0x3f));
        }
    }

    jp->pos = jp->end;
    jp->error = "unterminated string";

    return NGX_ERROR;
}


/*
 * Whether text escaped into a JSON string reads back with this grammar:
 * valid UTF-8 without NUL (ngx_escape_json() keeps other bytes as they
 * are, and writes NUL as \u0000, which the parser refuses).
 */

ngx_int_t
ngx_api_led_json_string_ok(u_char *p, size_t len)
{
    u_char  *end;

    if (len == 0) {
        /* an empty value's data may be NULL */
        return 1;
    }

    end = p + len;

    while (p < end) {
        if (*p == '\0') {
            return 0;
        }

        if (*p < 0x80) {
            p++;
            continue;
        }

        p = ngx_api_led_json_utf8(p, end);
        if (p == NULL) {
            return 0;
        }
    }

    return 1;
}


/* the end of one valid UTF-8 sequence starting at p (>= 0x80), or NULL */

static u_char *
ngx_api_led_json_utf8(u_char *p, u_char *end)
{
    u_char  c, min, max;
    size_t  n;

    c = *p;

    if (c >= 0xc2 && c <= 0xdf) {
        n = 1;
        min = 0x80;
        max = 0xbf;

    } else if (c >= 0xe0 && c <= 0xef) {
        n = 2;
        min = (c == 0xe0) ? 0xa0 : 0x80;    /* no overlong form */
        max = (c == 0xed) ? 0x9f : 0xbf;    /* no surrogate */

    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 3;
        min = (c == 0xf0) ? 0x90 : 0x80;
        max = (c == 0xf4) ? 0x8f : 0xbf;    /* not above U+10FFFF */

    } else {
        return NULL;
    }

    if ((size_t) (end - p) <= n) {
        return NULL;
    }

    p++;

    if (*p < min || *p > max) {
        return NULL;
    }

    while (--n) {
        p++;

        if (*p < 0x80 || *p > 0xbf) {
            return NULL;
        }
    }

    return p + 1;
}


static json_t *
ngx_api_led_json_parse_number(ngx_api_led_json_parser_t *jp)
{
    u_char      *p, *start, buf[64];
    double       d;
    uint64_t     n;
    ngx_int_t    exp, e, eneg;
    ngx_uint_t   real, neg, overflow, digits;

    static const double  p10[] = {
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
    };

    p = jp->pos;
    start = p;
    real = 0;
    neg = 0;
    overflow = 0;
    digits = 0;
    n = 0;
    exp = 0;

    if (p < jp->end && *p == '-') {
        neg = 1;
        p++;
    }

    if (p >= jp->end) {
        jp->pos = p;
        return NULL;
    }

    if (*p == '0') {
        p++;

    } else if (*p >= '1' && *p <= '9') {
        while (p < jp->end && *p >= '0' && *p <= '9') {
            if (n > (UINT64_MAX - 9) / 10) {
                overflow = 1;
            }

            n = n * 10 + (*p - '0');
            digits++;
            p++;
        }

    } else {
        jp->pos = p;
        return NULL;
    }

    if (p < jp->end && *p == '.') {
        real = 1;
        p++;

        if (p >= jp->end || *p < '0' || *p > '9') {
            jp->pos = p;
            jp->error = "invalid number";
            return NULL;
        }

        while (p < jp->end && *p >= '0' && *p <= '9') {
            if (n > (UINT64_MAX - 9) / 10) {
                overflow = 1;
            }

            n = n * 10 + (*p - '0');
            digits++;
            exp--;
            p++;
        }
    }

    if (p < jp->end && (*p == 'e' || *p == 'E')) {
        real = 1;
        p++;
        eneg = 0;
        e = 0;

        if (p < jp->end && (*p == '+' || *p == '-')) {
            eneg = (*p == '-');
            p++;
        }

        if (p >= jp->end || *p < '0' || *p > '9') {
            jp->pos = p;
            jp->error = "invalid number";
            return NULL;
        }

        while (p < jp->end && *p >= '0' && *p <= '9') {
            if (e < 100000) {
                e = e * 10 + (*p - '0');
            }

            p++;
        }

        exp += eneg ? -e : e;
    }

    jp->pos = p;

    if (!jp->build) {
        /* validated, copied as written: any integer */
        return json_null();
    }

    if (!real) {
        if (!overflow
            && (neg ? n <= (uint64_t) INT64_MAX + 1 : n <= INT64_MAX))
        {
            return json_integer(neg ? (json_int_t) (0 - n) : (json_int_t) n);
        }

        /* as jansson does: no silent loss of an integer's digits */
        jp->pos = start;
        jp->error = "integer too big";
        return NULL;
    }

    /*
     * Exact and fast (Clinger): the digits as an integer below 2^53 and a
     * power of ten up to 10^22 are both exact doubles, so one
     * multiplication or division rounds correctly, as strtod() would.
     */

    if (!overflow && digits <= 19 && n <= ((uint64_t) 1 << 53)
        && exp >= -22 && exp <= 22)
    {
        d = (double) n;
        d = (exp < 0) ? d / p10[-exp] : d * p10[exp];

        return json_real(neg ? -d : d);
    }

    if ((size_t) (p - start) >= sizeof(buf)) {
        jp->pos = start;
        jp->error = "number too long";
        return NULL;
    }

    ngx_memcpy(buf, start, p - start);
    buf[p - start] = '\0';

    errno = 0;
    d = strtod((char *) buf, NULL);

    if (errno == ERANGE && (d > 1.0 || d < -1.0)) {
        jp->pos = start;
        jp->error = "number too big";
        return NULL;
    }

    return json_real(d);
}


ngx_int_t
ngx_api_led_json_dump(ngx_pool_t *pool, json_t *doc, size_t hint,
    ngx_str_t *out)
{
    ngx_api_led_json_out_t  o;

    o.pool = pool;
    o.start = ngx_palloc(pool, hint + 64);
    if (o.start == NULL) {
        return NGX_ERROR;
    }

    o.pos = o.start;
    o.end = o.start + hint + 64;

    if (ngx_api_led_json_write(&o, doc) != NGX_OK) {
        return NGX_ERROR;
    }

    out->data = o.start;
    out->len = o.pos - o.start;

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_json_grow(ngx_api_led_json_out_t *out, size_t n)
{
    size_t   size, used;
    u_char  *p;

    used = out->pos - out->start;
    size = (out->end - out->start) * 2;

    if (size < used + n) {
        size = used + n;
    }

    p = ngx_palloc(out->pool, size);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, out->start, used);

    /* a large allocation goes back to the system at once */
    ngx_pfree(out->pool, out->start);

    out->start = p;
    out->pos = p + used;
    out->end = p + size;

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_json_write(ngx_api_led_json_out_t *out, json_t *value)
{
    void        *iter;
    size_t       i, size;
    ngx_uint_t   first;

    switch (json_typeof(value)) {

    case JSON_OBJECT:
        if (ngx_api_led_json_reserve(out, 1) != NGX_OK) {
            return NGX_ERROR;
        }

        *out->pos++ = '{';
        first = 1;

        for (iter = json_object_iter(value);
             iter;
             iter = json_object_iter_next(value, iter))
        {
            if (!first) {
                if (ngx_api_led_json_reserve(out, 1) != NGX_OK) {
                    return NGX_ERROR;
                }

                *out->pos++ = ',';
            }

            first = 0;

            if (ngx_api_led_json_write_string(out, json_object_iter_key(iter),
                                              json_object_iter_key_len(iter))
                != NGX_OK
                || ngx_api_led_json_reserve(out, 1) != NGX_OK)
            {
                return NGX_ERROR;
            }

            *out->pos++ = ':';

            if (ngx_api_led_json_write(out, json_object_iter_value(iter))
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        if (ngx_api_led_json_reserve(out, 1) != NGX_OK) {
            return NGX_ERROR;
        }

        *out->pos++ = '}';
        return NGX_OK;

    case JSON_ARRAY:
        if (ngx_api_led_json_reserve(out, 1) != NGX_OK) {
            return NGX_ERROR;
        }

        *out->pos++ = '[';
        size = json_array_size(value);

        for (i = 0; i < size; i++) {
            if (i) {
                if (ngx_api_led_json_reserve(out, 1) != NGX_OK) {
                    return NGX_ERROR;
                }

                *out->pos++ = ',';
            }

            if (ngx_api_led_json_write(out, json_array_get(value, i))
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        if (ngx_api_led_json_reserve(out, 1) != NGX_OK) {
            return NGX_ERROR;
        }

        *out->pos++ = ']';
        return NGX_OK;

    case JSON_STRING:
        return ngx_api_led_json_write_string(out, json_string_value(value),
                                             json_string_length(value));

    case JSON_INTEGER:
        if (ngx_api_led_json_reserve(out, NGX_INT64_LEN) != NGX_OK) {
            return NGX_ERROR;
        }

        out->pos = ngx_sprintf(out->pos, "%L",
                               (int64_t) json_integer_value(value));
        return NGX_OK;

    case JSON_REAL:
        if (ngx_api_led_json_reserve(out, 32) != NGX_OK) {
            return NGX_ERROR;
        }

        out->pos = ngx_api_led_json_real(out->pos, json_real_value(value));
        return NGX_OK;

    case JSON_TRUE:
        if (ngx_api_led_json_reserve(out, 4) != NGX_OK) {
            return NGX_ERROR;
        }

        out->pos = ngx_cpymem(out->pos, "true", 4);
        return NGX_OK;

    case JSON_FALSE:
        if (ngx_api_led_json_reserve(out, 5) != NGX_OK) {
            return NGX_ERROR;
        }

        out->pos = ngx_cpymem(out->pos, "false", 5);
        return NGX_OK;

    default: /* JSON_NULL */
        if (ngx_api_led_json_reserve(out, 4) != NGX_OK) {
            return NGX_ERROR;
        }

        out->pos = ngx_cpymem(out->pos, "null", 4);
        return NGX_OK;
    }
}


/*
 * The shortest text that reads back as the same double.  Most numbers in
 * documents are decimals with a few digits: m / 10^k with m < 2^53 is
 * then exact in IEEE arithmetic (both operands exact, one rounding), so
 * the test below proves the round trip without printf.  Others go through
 * "%.15g" .. "%.17g".
 */

static u_char *
ngx_api_led_json_real(u_char *p, double d)
{
    int          prec, n;
    char         num[32];
    double       m, a;
    u_char      *q, digits[24];
    uint64_t     u;
    ngx_uint_t   k, i, nd;

    static const double  p10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6 };

    a = (d < 0) ? -d : d;

    if (a < 1e15 && a >= 1e-6) {
        for (k = 0; k <= 6; k++) {
            m = a * p10[k];

            if (m >= 9007199254740992.0) {
                break;
            }

            u = (uint64_t) m;

            if ((double) u != m || (double) u / p10[k] != a) {
                continue;
            }

            /* 19.99 may only prove itself as 19990 / 10^3 */

            while (k > 0 && u % 10 == 0) {
                u /= 10;
                k--;
            }

            /* u with a decimal point k digits from the right */

            nd = 0;
            do {
                digits[nd++] = (u_char) ('0' + u % 10);
                u /= 10;
            } while (u);

            while (nd <= k) {
                digits[nd++] = '0';
            }

            if (d < 0) {
                *p++ = '-';
            }

            for (i = nd; i > k; i--) {
                *p++ = digits[i - 1];
            }

            *p++ = '.';

            if (k == 0) {
                *p++ = '0';
                return p;
            }

            for (i = k; i > 0; i--) {
                *p++ = digits[i - 1];
            }

            return p;
        }
    }

    n = 0;

    for (prec = 15; prec <= 17; prec++) {
        n = snprintf(num, sizeof(num) - 2, "%.*g", prec, d);
        if (strtod(num, NULL) == d) {
            break;
        }
    }

    if (n <= 0 || n >= (int) sizeof(num) - 2) {
        return ngx_cpymem(p, "0.0", 3);
    }

    if (strpbrk(num, ".eEn") == NULL) {
        num[n++] = '.';
        num[n++] = '0';
    }

    q = ngx_cpymem(p, num, n);

    return q;
}


static ngx_int_t
ngx_api_led_json_write_string(ngx_api_led_json_out_t *out, const char *s,
    size_t len)
{
    u_char        *p, *end, *run, c;
    static u_char  hex[] = "0123456789abcdef";

    /* the string and its quotes; more for each escape, when one comes */

    if (ngx_api_led_json_reserve(out, len + 2) != NGX_OK) {
        return NGX_ERROR;
    }

    p = (u_char *) s;
    end = p + len;

    *out->pos++ = '"';

    while (p < end) {

        /* a run of bytes that need no escape, copied at once */

        run = p;

        while (p < end && ngx_api_led_json_class[*p] != 1) {
            p++;
        }

        if (p != run) {
            out->pos = ngx_cpymem(out->pos, run, p - run);
        }

        if (p == end) {
            break;
        }

        /* 6 bytes at most ("\u001f"), the rest, the closing quote */

        if (ngx_api_led_json_reserve(out, (end - p) + 6 + 1) != NGX_OK) {
            return NGX_ERROR;
        }

        c = *p++;

        *out->pos++ = '\\';

        switch (c) {
        case '"':
            *out->pos++ = '"';
            break;
        case '\\':
            *out->pos++ = '\\';
            break;
        case '\n':
            *out->pos++ = 'n';
            break;
        case '\r':
            *out->pos++ = 'r';
            break;
        case '\t':
            *out->pos++ = 't';
            break;
        case '\b':
            *out->pos++ = 'b';
            break;
        case '\f':
            *out->pos++ = 'f';
            break;
        default:
            *out->pos++ = 'u';
            *out->pos++ = '0';
            *out->pos++ = '0';
            *out->pos++ = hex[c >> 4];
            *out->pos++ = hex[c & 0xf];
        }
    }

    *out->pos++ = '"';

    return NGX_OK;
}


/* application/json and application/(anything)+json, parameters ignored */

ngx_int_t
ngx_api_led_json_media_type(ngx_str_t *type)
{
    u_char  *p, *end, *semi;
    size_t   len;

    p = type->data;
    end = p + type->len;

    semi = ngx_strlchr(p, end, ';');
    if (semi) {
        end = semi;
    }

    while (end > p && (end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }

    len = end - p;

    if (len < sizeof(NGX_API_LED_JSON_TYPE) - 1
        || ngx_strncasecmp(p, (u_char *) "application/",
                           sizeof("application/") - 1)
           != 0)
    {
        return 0;
    }

    p += sizeof("application/") - 1;
    len = end - p;

    if (len == 4 && ngx_strncasecmp(p, (u_char *) "json", 4) == 0) {
        return 1;
    }

    return len > 5 && ngx_strncasecmp(end - 5, (u_char *) "+json", 5) == 0;
}
