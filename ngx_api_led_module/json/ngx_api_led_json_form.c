
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Forms (application/x-www-form-urlencoded) <-> JSON: a form as an object
 * of strings for api_led_request_body_convert form_to_json, an object as a
 * form for json_to_form, and the form escaping the argument editing uses.
 */


#include "ngx_api_led_json.h"


static size_t ngx_api_led_form_unescape(u_char *dst, u_char *src,
    size_t len);
static ngx_int_t ngx_api_led_form_value(ngx_pool_t *pool, json_t *v,
    ngx_str_t *text);


/* application/x-www-form-urlencoded */

json_t *
ngx_api_led_form_to_json(ngx_str_t *text)
{
    u_char    *seg, *eq, *next, *end, *name, *val;
    json_t    *obj, *v, *old, *arr;
    size_t     nlen, vlen;
    ngx_buf_t  scratch;

    obj = json_object();
    if (obj == NULL) {
        return NULL;
    }

    /* decoding only shrinks: one scratch copy of the text holds it all */

    scratch.start = ngx_alloc(text->len + 1, ngx_cycle->log);
    if (scratch.start == NULL) {
        json_decref(obj);
        return NULL;
    }

    end = text->data + text->len;

    for (seg = text->data; seg < end; seg = next + 1) {
        next = ngx_strlchr(seg, end, '&');
        if (next == NULL) {
            next = end;
        }

        eq = ngx_strlchr(seg, next, '=');
        if (eq == NULL) {
            eq = next;
        }

        if (eq == seg) {
            continue;
        }

        name = scratch.start;
        nlen = ngx_api_led_form_unescape(name, seg, eq - seg);

        val = name + nlen;
        vlen = (eq < next) ? ngx_api_led_form_unescape(val, eq + 1,
                                                       next - eq - 1)
                           : 0;

        v = json_stringn((char *) val, vlen);
        if (v == NULL) {
            goto failed;
        }

        old = json_object_getn(obj, (char *) name, nlen);

        if (old == NULL) {
            if (json_object_setn_new(obj, (char *) name, nlen, v) != 0) {
                goto failed;
            }

            continue;
        }

        /* a repeated name gathers its values in an array */

        if (json_is_array(old)) {
            if (json_array_append_new(old, v) != 0) {
                goto failed;
            }

            continue;
        }

        arr = json_array();
        if (arr == NULL
            || json_array_append(arr, old) != 0
            || json_array_append_new(arr, v) != 0
            || json_object_setn_new(obj, (char *) name, nlen, arr) != 0)
        {
            goto failed;
        }
    }

    ngx_free(scratch.start);

    return obj;

failed:

    ngx_free(scratch.start);
    json_decref(obj);

    return NULL;
}


static size_t
ngx_api_led_form_unescape(u_char *dst, u_char *src, size_t len)
{
    u_char      *d, *end, c;
    ngx_int_t    hi, lo;

    d = dst;
    end = src + len;

    while (src < end) {
        c = *src++;

        if (c == '+') {
            *d++ = ' ';
            continue;
        }

        if (c == '%' && end - src >= 2) {
            hi = ngx_hextoi(src, 1);
            lo = ngx_hextoi(src + 1, 1);

            if (hi != NGX_ERROR && lo != NGX_ERROR) {
                *d++ = (u_char) (hi * 16 + lo);
                src += 2;
                continue;
            }
        }

        *d++ = c;
    }

    return d - dst;
}


/*
 * The members of an object as a form: strings as they are, numbers and
 * booleans as their JSON text, null as an empty value, an array as the name
 * repeated for each element, a nested object as its JSON text.
 * NGX_DECLINED when a name or a string holds a lone surrogate the parser
 * kept: no UTF-8 text carries it (a nested object's JSON text does, as
 * its escape).  NGX_API_LED_JSON_TOO_BIG when the form would be longer
 * than "max" (0: no bound).
 */

ngx_int_t
ngx_api_led_json_to_form(ngx_pool_t *pool, json_t *doc, size_t max,
    ngx_str_t *out)
{
    void        *iter;
    u_char      *p;
    size_t       size, klen, i, n;
    json_t      *v, *e;
    ngx_str_t    text;
    ngx_array_t  parts;
    ngx_str_t   *part;
    const char  *key;

    /* name/value texts first, then one buffer of the exact size */

    if (ngx_array_init(&parts, pool, 16, sizeof(ngx_str_t)) != NGX_OK) {
        return NGX_ERROR;
    }

    size = 0;

    for (iter = json_object_iter(doc);
         iter;
         iter = json_object_iter_next(doc, iter))
    {
        key = json_object_iter_key(iter);
        klen = json_object_iter_key_len(iter);
        v = json_object_iter_value(iter);

        n = json_is_array(v) ? json_array_size(v) : 1;

        for (i = 0; i < n; i++) {
            e = json_is_array(v) ? json_array_get(v, i) : v;

            if (ngx_api_led_form_value(pool, e, &text) != NGX_OK) {
                return NGX_ERROR;
            }

            if (ngx_api_led_json_utf8_len((u_char *) key, klen) != klen
                || (ngx_api_led_json_is_text(e)
                    && ngx_api_led_json_utf8_len(text.data, text.len)
                       != text.len))
            {
                return NGX_DECLINED;
            }

            part = ngx_array_push_n(&parts, 2);
            if (part == NULL) {
                return NGX_ERROR;
            }

            part[0].data = (u_char *) key;
            part[0].len = klen;
            part[1] = text;

            size += ngx_api_led_form_escape_len(part[0].data, part[0].len)
                    + ngx_api_led_form_escape_len(text.data, text.len) + 2;

            if (max && size > max) {
                /* operations made it far larger than the body */
                return NGX_API_LED_JSON_TOO_BIG;
            }
        }
    }

    p = ngx_pnalloc(pool, size + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;
    part = parts.elts;

    for (i = 0; i < parts.nelts; i += 2) {
        if (i) {
            *p++ = '&';
        }

        p = ngx_api_led_form_escape(p, part[i].data, part[i].len);
        *p++ = '=';
        p = ngx_api_led_form_escape(p, part[i + 1].data, part[i + 1].len);
    }

    out->len = p - out->data;

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_form_value(ngx_pool_t *pool, json_t *v, ngx_str_t *text)
{
    if (ngx_api_led_json_number_text(v, text)) {
        return NGX_OK;
    }

    switch (json_typeof(v)) {

    case JSON_STRING:
        text->data = (u_char *) json_string_value(v);
        text->len = json_string_length(v);
        return NGX_OK;

    case JSON_NULL:
        ngx_str_null(text);
        return NGX_OK;

    default:
        return ngx_api_led_json_dump(pool, v, 32, text);
    }
}
