
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Forms (json/ngx_api_led_json_form.c): the input is an
 * application/x-www-form-urlencoded body, and, when it is a JSON object,
 * a document to write as a form.  Properties:
 *
 *   - form_to_json() gives an object of strings (a repeated name: an
 *     array of its values) or NULL, and NULL only when the input has
 *     something that can decode to bytes that are not UTF-8 or to a NUL
 *     ("%", a byte above 0x7f, a NUL);
 *   - round trip: x = form_to_json(input); form_to_json(json_to_form(x))
 *     == x;
 *   - x written as JSON (as form_to_json conversion sends it) reads back
 *     with the module's own parser;
 *   - json_to_form() writes only unreserved characters, "%XX", "=" and
 *     "&", one "name=value" per member (per element of an array); it
 *     declines a document, and only one, whose member names or strings
 *     hold a lone surrogate;
 *   - a JSON object of strings (and arrays of two or more strings) is
 *     read back from its form unchanged.
 */


#include "harness.h"
#include "ngx_api_led_json.h"


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static const uint8_t  *input;
static size_t          input_size;


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fz_init();
    return 0;
}


static void
failed(const char *what, ngx_str_t *form)
{
    fz_dump("input", input, input_size);

    if (form) {
        fz_dump("form", form->data, form->len);
    }

    fz_fail("%s", what);
}


/* what form_to_json() may return: strings, arrays of 2+ strings */

/*
 * A member's name or string (an array's too) that a form would hold
 * holds a lone surrogate (the name of an empty array is not written)
 */

static ngx_uint_t
lone_surrogate(json_t *obj)
{
    size_t       i, n, len;
    json_t      *v, *e;
    const char  *key;

    json_object_foreach(obj, key, v) {
        len = json_object_iter_key_len(json_object_key_to_iter(key));
        n = json_is_array(v) ? json_array_size(v) : 1;

        if (n && ngx_api_led_json_utf8_len((u_char *) key, len) != len) {
            return 1;
        }

        for (i = 0; i < n; i++) {
            e = json_is_array(v) ? json_array_get(v, i) : v;

            if (ngx_api_led_json_is_text(e)
                && ngx_api_led_json_utf8_len((u_char *) json_string_value(e),
                                             json_string_length(e))
                   != json_string_length(e))
            {
                return 1;
            }
        }
    }

    return 0;
}


static ngx_uint_t
form_shaped(json_t *obj)
{
    size_t       i, len;
    json_t      *v, *e;
    const char  *key;

    if (!json_is_object(obj)) {
        return 0;
    }

    json_object_keylen_foreach(obj, key, len, v) {
        if (len == 0) {
            return 0;
        }

        /* a number kept as text (the parser's) is a number here */
        if (ngx_api_led_json_is_text(v)) {
            continue;
        }

        if (!json_is_array(v) || json_array_size(v) < 2) {
            return 0;
        }

        json_array_foreach(v, i, e) {
            if (!ngx_api_led_json_is_text(e)) {
                return 0;
            }
        }
    }

    return 1;
}


static void
check_form_text(ngx_str_t *form, json_t *doc)
{
    u_char      c;
    size_t      i, pairs, n, len;
    json_t     *v;
    const char  *key;

    pairs = 0;

    json_object_keylen_foreach(doc, key, len, v) {
        pairs += json_is_array(v) ? json_array_size(v) : 1;
    }

    n = 0;

    for (i = 0; i < form->len; i++) {
        c = form->data[i];

        if (c == '%') {
            if (i + 2 >= form->len
                || !isxdigit(form->data[i + 1])
                || !isxdigit(form->data[i + 2]))
            {
                failed("json_to_form: a \"%\" without two digits", form);
            }

            i += 2;
            continue;
        }

        if (c == '=') {
            n++;
            continue;
        }

        if (!(isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~'
              || c == '&'))
        {
            failed("json_to_form: an unescaped character", form);
        }
    }

    if (n != pairs) {
        failed("json_to_form: not one name=value per value", form);
    }
}


/*
 * known (crashes/form/nul-in-field-no-round-trip): a field with
 * %00 is a string with NUL, written \u0000, which the parser refuses
 */

static void
check_json_text(fz_t *fz, json_t *x)
{
    u_char     err[160];
    json_t    *y;
    ngx_str_t  text;

    if (ngx_api_led_json_dump(fz->pool, x, 64, &text) != NGX_OK) {
        abort();
    }

    y = NULL;

    if (ngx_api_led_json_parse(text.data, text.len, 0, &y, err,
                               sizeof(err))
        != NGX_OK
        || !fz_json_equal(x, y))
    {
        failed("the form as JSON does not read back", &text);
    }

    json_decref(y);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char     err[160];
    size_t     i;
    json_t    *x, *y, *doc;
    fz_t       fz;
    ngx_int_t  rc;
    ngx_str_t  text, form;

    input = data;
    input_size = size;

    fz_begin(&fz);

    text.data = (u_char *) data;
    text.len = size;

    x = ngx_api_led_form_to_json(&text);

    if (x == NULL) {
        for (i = 0; i < text.len; i++) {
            if (text.data[i] == '%' || text.data[i] >= 0x80
                || text.data[i] == '\0')
            {
                break;
            }
        }

        if (i == text.len) {
            failed("form_to_json: NULL for an ASCII form", NULL);
        }

    } else {
        if (!form_shaped(x)) {
            failed("form_to_json: not an object of strings", NULL);
        }

        if (ngx_api_led_json_to_form(fz.pool, x, 0, &form) != NGX_OK) {
            abort();
        }

        check_form_text(&form, x);

        check_json_text(&fz, x);

        y = ngx_api_led_form_to_json(&form);

        if (y == NULL || !fz_json_equal(x, y)) {
            failed("form_to_json(json_to_form(x)) != x", &form);
        }

        json_decref(y);
        json_decref(x);
    }

    /* the input as a document to write as a form */

    doc = NULL;

    if (ngx_api_led_json_parse(text.data, text.len, 0, &doc, err,
                               sizeof(err))
        == NGX_OK
        && json_is_object(doc))
    {
        rc = ngx_api_led_json_to_form(fz.pool, doc, 0, &form);

        if (rc == NGX_DECLINED) {
            if (!lone_surrogate(doc)) {
                failed("json_to_form declined a document without a lone "
                       "surrogate", NULL);
            }

        } else if (rc != NGX_OK) {
            abort();

        } else if (lone_surrogate(doc)) {
            failed("json_to_form wrote a lone surrogate", &form);

        } else {
            check_form_text(&form, doc);
        }

        if (rc == NGX_OK && form_shaped(doc)) {
            y = ngx_api_led_form_to_json(&form);

            if (y == NULL || !fz_json_equal(doc, y)) {
                failed("a form-shaped document does not read back", &form);
            }

            json_decref(y);
        }
    }

    json_decref(doc);

    fz_end(&fz);

    return 0;
}
