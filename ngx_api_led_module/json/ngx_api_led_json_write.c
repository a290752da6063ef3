
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * JSON text out: the compact serializer into pool memory (the parser's
 * values written back as the text meant them: number texts verbatim,
 * lone surrogates as their escapes), JSON media types.
 */


#include "ngx_api_led_json.h"


typedef struct {
    u_char                      *start;
    u_char                      *pos;
    u_char                      *end;
    ngx_pool_t                  *pool;
    size_t                       max;        /* 0: no bound */
    ngx_uint_t                   too_big;
} ngx_api_led_json_out_t;


static ngx_int_t ngx_api_led_json_write(ngx_api_led_json_out_t *out,
    json_t *value);
static ngx_int_t ngx_api_led_json_write_string(ngx_api_led_json_out_t *out,
    const char *s, size_t len);
static ngx_int_t ngx_api_led_json_grow(ngx_api_led_json_out_t *out,
    size_t n);
static ngx_int_t ngx_api_led_json_out_init(ngx_api_led_json_out_t *out,
    ngx_pool_t *pool, size_t size);


/* room for n more bytes; the common case is a compare, inline */
#define ngx_api_led_json_reserve(out, n)                                      \
    ((size_t) ((out)->end - (out)->pos) >= (size_t) (n)                       \
     ? NGX_OK : ngx_api_led_json_grow(out, n))


/*
 * Bytes of a string as the serializer sees them: 0 copied as they are, 1
 * escaped (control characters, '"', '\\'), 2 looked at: 0xed starts a
 * lone surrogate when the parser kept one (ED A0..BF xx, never valid
 * UTF-8), written back as its \u escape.
 */

static const u_char  ngx_api_led_json_out_class[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
};


/*
 * A number the parser kept as its text (more digits than a double holds,
 * an integer beyond 64 bits): a string of the mark and the text.  No
 * other string starts with the mark: strings the parser makes are UTF-8
 * (or generalized UTF-8 for lone surrogates), the others are made by
 * jansson's checking constructors.
 */

ngx_int_t
ngx_api_led_json_number_text(json_t *v, ngx_str_t *text)
{
    const char  *s;

    if (!json_is_string(v) || json_string_length(v) < 2) {
        return 0;
    }

    s = json_string_value(v);

    if ((u_char) s[0] != NGX_API_LED_JSON_NUMBER_TEXT) {
        return 0;
    }

    if (text) {
        text->data = (u_char *) s + 1;
        text->len = json_string_length(v) - 1;
    }

    return 1;
}


/* a string value that is text (not a number text) */

ngx_int_t
ngx_api_led_json_is_text(json_t *v)
{
    return json_is_string(v) && !ngx_api_led_json_number_text(v, NULL);
}


/*
 * The parser's strings are UTF-8 but for lone surrogates (ED A0..BF xx):
 * 0xed is otherwise only the start of U+D000..U+D7FF.
 */

size_t
ngx_api_led_json_utf8_len(u_char *p, size_t len)
{
    u_char  *q, *end;

    end = p + len;

    for (q = p; q + 1 < end; q++) {
        if (q[0] == 0xed && q[1] >= 0xa0 && q[1] <= 0xbf) {
            return q - p;
        }
    }

    return len;
}


ngx_int_t
ngx_api_led_json_dump(ngx_pool_t *pool, json_t *doc, size_t hint,
    ngx_str_t *out)
{
    return ngx_api_led_json_dump_max(pool, doc, hint, 0, out);
}


/*
 * The same, at most "max" bytes (0: no bound): a document that operations
 * made far larger than its text (a long value set in every element of a
 * long array) is not written out.  NGX_API_LED_JSON_TOO_BIG then.
 */

ngx_int_t
ngx_api_led_json_dump_max(ngx_pool_t *pool, json_t *doc, size_t hint,
    size_t max, ngx_str_t *out)
{
    ngx_api_led_json_out_t  o;

    if (max && hint > max) {
        hint = max;
    }

    if (ngx_api_led_json_out_init(&o, pool, hint + 64) != NGX_OK) {
        return NGX_ERROR;
    }

    o.max = max;

    if (ngx_api_led_json_write(&o, doc) != NGX_OK) {
        return o.too_big ? NGX_API_LED_JSON_TOO_BIG : NGX_ERROR;
    }

    out->data = o.start;
    out->len = o.pos - o.start;

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_json_out_init(ngx_api_led_json_out_t *out, ngx_pool_t *pool,
    size_t size)
{
    out->pool = pool;
    out->start = ngx_pnalloc(pool, size);
    if (out->start == NULL) {
        return NGX_ERROR;
    }

    out->pos = out->start;
    out->end = out->start + size;
    out->max = 0;
    out->too_big = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_json_grow(ngx_api_led_json_out_t *out, size_t n)
{
    size_t   size, used;
    u_char  *p;

    used = out->pos - out->start;

    if (out->max && used + n > out->max) {
        out->too_big = 1;
        return NGX_ERROR;
    }

    size = (out->end - out->start) * 2;

    if (size < used + n) {
        size = used + n;
    }

    if (out->max && size > out->max) {
        size = out->max;
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
    int64_t      n;
    ngx_str_t    text;
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
        if (ngx_api_led_json_number_text(value, &text)) {
            if (ngx_api_led_json_reserve(out, text.len) != NGX_OK) {
                return NGX_ERROR;
            }

            out->pos = ngx_cpymem(out->pos, text.data, text.len);
            return NGX_OK;
        }

        return ngx_api_led_json_write_string(out, json_string_value(value),
                                             json_string_length(value));

    case JSON_INTEGER:
        if (ngx_api_led_json_reserve(out, NGX_INT64_LEN) != NGX_OK) {
            return NGX_ERROR;
        }

        /* without ngx_sprintf()'s look at a format: every id, every count */
        n = (int64_t) json_integer_value(value);

        if (n < 0) {
            *out->pos++ = '-';
        }

        out->pos = ngx_api_led_uint_dump(out->pos,
                                         n < 0 ? 0 - (uint64_t) n
                                               : (uint64_t) n);
        return NGX_OK;

    case JSON_REAL:
        if (ngx_api_led_json_reserve(out, NGX_API_LED_JSON_REAL_LEN)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        out->pos = ngx_api_led_json_real_text(out->pos,
                                              json_real_value(value));
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

u_char *
ngx_api_led_json_real_text(u_char *p, double d)
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
    ngx_uint_t     cp;
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

        while (p < end && ngx_api_led_json_out_class[*p] == 0) {
            p++;
        }

        if (p != run) {
            out->pos = ngx_cpymem(out->pos, run, p - run);
        }

        if (p == end) {
            break;
        }

        c = *p++;

        if (ngx_api_led_json_out_class[c] == 2) {

            if (end - p < 2 || p[0] < 0xa0 || p[0] > 0xbf) {
                /* U+D000..U+D7FF, text like any other */
                *out->pos++ = c;
                continue;
            }

            /* a lone surrogate the parser kept: its escape again */

            cp = 0xd000 | ((p[0] & 0x3f) << 6) | (p[1] & 0x3f);
            p += 2;

            if (ngx_api_led_json_reserve(out, (end - p) + 6 + 1) != NGX_OK) {
                return NGX_ERROR;
            }

            *out->pos++ = '\\';
            *out->pos++ = 'u';
            *out->pos++ = hex[(cp >> 12) & 0xf];
            *out->pos++ = hex[(cp >> 8) & 0xf];
            *out->pos++ = hex[(cp >> 4) & 0xf];
            *out->pos++ = hex[cp & 0xf];
            continue;
        }

        /* 6 bytes at most ("\u001f"), the rest, the closing quote */

        if (ngx_api_led_json_reserve(out, (end - p) + 6 + 1) != NGX_OK) {
            return NGX_ERROR;
        }

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

    if (type->len == 0) {
        /* no Content-Type: nginx leaves its data NULL */
        return 0;
    }

    if (type->len == sizeof(NGX_API_LED_JSON_TYPE) - 1
        && ngx_memcmp(type->data, NGX_API_LED_JSON_TYPE,
                      sizeof(NGX_API_LED_JSON_TYPE) - 1)
           == 0)
    {
        /* as most write it */
        return 1;
    }

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


ngx_int_t
ngx_api_led_json_quote(ngx_pool_t *pool, u_char *s, size_t len,
    ngx_str_t *out)
{
    ngx_api_led_json_out_t  o;

    if (ngx_api_led_json_out_init(&o, pool, len + 8) != NGX_OK
        || ngx_api_led_json_write_string(&o, (const char *) s, len) != NGX_OK)
    {
        return NGX_ERROR;
    }

    out->data = o.start;
    out->len = o.pos - o.start;

    return NGX_OK;
}


/* a light document (ngx_api_led_json.h): its texts, punctuated */

static ngx_int_t ngx_api_led_json_light_write(ngx_api_led_json_out_t *out,
    ngx_api_led_json_light_t *node);


ngx_int_t
ngx_api_led_json_light_dump(ngx_pool_t *pool, ngx_api_led_json_light_t *doc,
    size_t hint, ngx_str_t *out)
{
    return ngx_api_led_json_light_dump_max(pool, doc, hint, 0, out);
}


ngx_int_t
ngx_api_led_json_light_dump_max(ngx_pool_t *pool,
    ngx_api_led_json_light_t *doc, size_t hint, size_t max, ngx_str_t *out)
{
    ngx_api_led_json_out_t  o;

    if (max && hint > max) {
        hint = max;
    }

    if (ngx_api_led_json_out_init(&o, pool, hint + 64) != NGX_OK) {
        return NGX_ERROR;
    }

    o.max = max;

    if (doc->type == NGX_API_LED_JSON_LIGHT_TEXT) {
        if (ngx_api_led_json_reserve(&o, doc->text.len) != NGX_OK) {
            return o.too_big ? NGX_API_LED_JSON_TOO_BIG : NGX_ERROR;
        }

        o.pos = ngx_cpymem(o.pos, doc->text.data, doc->text.len);

    } else if (ngx_api_led_json_light_write(&o, doc) != NGX_OK) {
        return o.too_big ? NGX_API_LED_JSON_TOO_BIG : NGX_ERROR;
    }

    out->data = o.start;
    out->len = o.pos - o.start;

    return NGX_OK;
}


/*
 * Short texts (names, most values, most members) are copied by two or
 * four moves that may overlap, not by a call to memcpy().
 */

static ngx_inline u_char *
ngx_api_led_json_copy_short(u_char *dst, u_char *src, size_t len)
{
    uint32_t  w4, e4;
    uint64_t  w8, e8, x8, y8;

    if (len > 16 && len <= 32) {
        ngx_memcpy(&w8, src, 8);
        ngx_memcpy(&x8, src + 8, 8);
        ngx_memcpy(&y8, src + len - 16, 8);
        ngx_memcpy(&e8, src + len - 8, 8);
        ngx_memcpy(dst, &w8, 8);
        ngx_memcpy(dst + 8, &x8, 8);
        ngx_memcpy(dst + len - 16, &y8, 8);
        ngx_memcpy(dst + len - 8, &e8, 8);
        return dst + len;
    }

    if (len >= 8 && len <= 16) {
        ngx_memcpy(&w8, src, 8);
        ngx_memcpy(&e8, src + len - 8, 8);
        ngx_memcpy(dst, &w8, 8);
        ngx_memcpy(dst + len - 8, &e8, 8);
        return dst + len;
    }

    if (len >= 4 && len < 8) {
        ngx_memcpy(&w4, src, 4);
        ngx_memcpy(&e4, src + len - 4, 4);
        ngx_memcpy(dst, &w4, 4);
        ngx_memcpy(dst + len - 4, &e4, 4);
        return dst + len;
    }

    if (len < 4) {
        while (len--) {
            *dst++ = *src++;
        }

        return dst;
    }

    return ngx_cpymem(dst, src, len);
}


static ngx_int_t
ngx_api_led_json_light_write(ngx_api_led_json_out_t *out,
    ngx_api_led_json_light_t *node)
{
    ngx_uint_t                 object;
    ngx_api_led_json_light_t  *m;

    object = (node->type == NGX_API_LED_JSON_LIGHT_OBJECT);

    /* the brackets, a comma, a name's quotes and colon: 4 bytes each */

    if (ngx_api_led_json_reserve(out, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    *out->pos++ = object ? '{' : '[';

    for (m = node->first; m; m = m->next) {

        if (ngx_api_led_json_reserve(out, 4 + m->key.len + m->text.len)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (m != node->first) {
            *out->pos++ = ',';
        }

        if (object) {
            if (m->type == NGX_API_LED_JSON_LIGHT_TEXT
                && m->key.len
                && m->key.data + m->key.len + 1 == m->text.data
                && m->text.data[-1] == ':')
            {
                /*
                 * the member as the document wrote it, name and value:
                 * the byte before the text is the one after the name
                 */
                out->pos = ngx_api_led_json_copy_short(out->pos, m->key.data,
                                                       m->key.len + 1
                                                       + m->text.len);
                continue;
            }

            if (m->key.len) {
                /* the name as the document wrote it, quotes and all */
                out->pos = ngx_api_led_json_copy_short(out->pos, m->key.data,
                                                       m->key.len);

            } else if (ngx_api_led_json_write_string(out,
                           (const char *) m->name.data, m->name.len)
                       != NGX_OK
                       || ngx_api_led_json_reserve(out, 2 + m->text.len)
                          != NGX_OK)
            {
                return NGX_ERROR;
            }

            *out->pos++ = ':';
        }

        if (m->type == NGX_API_LED_JSON_LIGHT_TEXT) {
            out->pos = ngx_api_led_json_copy_short(out->pos, m->text.data,
                                                   m->text.len);

        } else if (ngx_api_led_json_light_write(out, m) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (ngx_api_led_json_reserve(out, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    *out->pos++ = object ? '}' : ']';

    return NGX_OK;
}
