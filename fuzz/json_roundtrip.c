
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * The JSON grammar (json/ngx_api_led_json_text.c): the input is a JSON
 * text.  Properties:
 *
 *   - round trip: x = parse(input); parse(serialize(x)) == x (reals
 *     compared bit for bit), and serialize is stable:
 *     serialize(parse(serialize(x))) == serialize(x);
 *   - the parser and jansson's json_loadb() (with NULs) agree on what is
 *     JSON and on its value, except where the module reads more (numbers
 *     kept as text, lone surrogates) or less on purpose (64 levels of
 *     nesting);
 *   - a parsed document passes ngx_api_led_json_depth_ok(64);
 *   - parsing inside a pool arena window (as the transformations do) gives
 *     the same result and the same text as parsing with malloc();
 *   - the validator (ngx_api_led_json_validate(), which compositions and
 *     events use on what they pass through unparsed) accepts what the parser
 *     accepts, and refuses what it refuses but numbers out of range.
 */


#include "harness.h"
#include "ngx_api_led_compose.h"


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fz_init();
    return 0;
}


/*
 * What the module reads beyond jansson (RFC 8259 whole): numbers kept as
 * their text (out of a double's range, or long), lone surrogates.
 */

static int
extended(json_t *v)
{
    size_t       i, len;
    json_t      *e;
    const char  *key, *p;

    if (json_is_string(v)) {
        if (ngx_api_led_json_number_text(v, NULL)) {
            return 1;
        }

        p = json_string_value(v);
        len = json_string_length(v);

        for (i = 0; i + 1 < len; i++) {
            if ((u_char) p[i] == 0xed && (u_char) p[i + 1] >= 0xa0) {
                return 1;
            }
        }

        return 0;
    }

    if (json_is_array(v)) {
        json_array_foreach(v, i, e) {
            if (extended(e)) {
                return 1;
            }
        }
    }

    if (json_is_object(v)) {
        json_object_keylen_foreach(v, key, len, e) {
            if (extended(e)) {
                return 1;
            }

            for (i = 0; i + 1 < len; i++) {
                if ((u_char) key[i] == 0xed && (u_char) key[i + 1] >= 0xa0) {
                    return 1;
                }
            }
        }
    }

    return 0;
}


static void
check_jansson(u_char *data, size_t size, ngx_int_t rc, json_t *doc,
    u_char *err)
{
    json_t        *j;
    json_error_t   jerr;

    j = json_loadb((char *) data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL,
                   &jerr);

    /*
     * The module reads more than jansson on purpose (numbers kept as text,
     * even where a later duplicate replaced them; lone surrogates; NUL in
     * member names): what it accepts and jansson refuses is not compared
     */
    if (rc == NGX_OK && (j == NULL || extended(doc))) {
        json_decref(j);
        return;
    }

    if (rc == NGX_OK) {
        if (j == NULL) {
            fz_dump("input", data, size);
            fz_fail("accepted by the module, rejected by jansson: %s",
                    jerr.text);
        }

        if (!fz_json_equal(doc, j)) {
            fz_dump("input", data, size);
            fz_fail("the module and jansson read different values");
        }

        json_decref(j);
        return;
    }

    if (j == NULL || rc == NGX_ABORT) {
        json_decref(j);
        return;
    }

    json_decref(j);

    /* jansson's quirk: a NUL byte ends its input */
    if (ngx_strlchr(data, data + size, '\0')) {
        return;
    }

    fz_dump("input", data, size);
    fz_fail("rejected by the module (%s), accepted by jansson", err);
}


static void
check_validator(u_char *data, size_t size, ngx_int_t rc, u_char *err)
{
    ngx_int_t  valid;

    valid = ngx_api_led_json_validate(data, size);

    if (rc == NGX_OK && valid != NGX_OK) {
        fz_dump("input", data, size);
        fz_fail("parsed, but the validator refuses it");
    }

    if (rc != NGX_OK && valid == NGX_OK) {
        fz_dump("input", data, size);
        fz_fail("the validator accepts what the parser "
                "refuses: %s", err);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                     err[160], err2[160];
    json_t                    *doc, *again, *adoc;
    fz_t                       fz;
    ngx_int_t                  rc, arc;
    ngx_str_t                  text, text2, atext, type;
    ngx_api_led_json_arena_t  *arena, *prev;

    fz_begin(&fz);

    /* the same bytes as a Content-Type: no crash is all there is to it */
    type.data = (u_char *) data;
    type.len = size;
    (void) ngx_api_led_json_media_type(&type);

    doc = NULL;
    rc = ngx_api_led_json_parse((u_char *) data, size, 0, &doc, err,
                                sizeof(err));

    check_jansson((u_char *) data, size, rc, doc, err);
    check_validator((u_char *) data, size, rc, err);

    /* the same in an arena window, with scratch memory from the pool */

    arena = ngx_api_led_json_arena_create(fz.pool);
    if (arena == NULL) {
        abort();
    }

    prev = ngx_api_led_json_arena_enter(arena);

    adoc = NULL;
    arc = ngx_api_led_json_parse_pool(fz.pool, (u_char *) data, size, &adoc,
                                      err2, sizeof(err2));

    if (arc != rc) {
        fz_dump("input", data, size);
        fz_fail("parse: %i, in an arena: %i", rc, arc);
    }

    ngx_str_null(&atext);

    if (arc == NGX_OK) {
        if (ngx_api_led_json_dump(fz.pool, adoc, size, &atext) != NGX_OK) {
            abort();
        }

        json_decref(adoc);
    }

    ngx_api_led_json_arena_leave(prev);

    if (rc != NGX_OK) {
        fz_end(&fz);
        return 0;
    }

    if (!ngx_api_led_json_depth_ok(doc, NGX_API_LED_JSON_MAX_DEPTH)) {
        fz_dump("input", data, size);
        fz_fail("a parsed document is deeper than the limit");
    }

    /* the round trip */

    if (ngx_api_led_json_dump(fz.pool, doc, 16, &text) != NGX_OK) {
        abort();
    }

    again = NULL;
    if (ngx_api_led_json_parse(text.data, text.len, 0, &again, err,
                               sizeof(err))
        != NGX_OK)
    {
        fz_dump("input", data, size);
        fz_dump("serialized", text.data, text.len);
        fz_fail("the serialized text does not parse: %s", err);
    }

    if (!fz_json_equal(doc, again)) {
        fz_dump("input", data, size);
        fz_dump("serialized", text.data, text.len);
        fz_fail("parse(serialize(x)) != x");
    }

    if (ngx_api_led_json_dump(fz.pool, again, text.len, &text2) != NGX_OK) {
        abort();
    }

    if (text2.len != text.len
        || ngx_memcmp(text2.data, text.data, text.len) != 0)
    {
        fz_dump("serialized", text.data, text.len);
        fz_dump("serialized again", text2.data, text2.len);
        fz_fail("serializing is not stable");
    }

    if (atext.len != text.len
        || ngx_memcmp(atext.data, text.data, text.len) != 0)
    {
        fz_dump("serialized", text.data, text.len);
        fz_dump("serialized in an arena", atext.data, atext.len);
        fz_fail("the arena changes the document");
    }

    json_decref(again);
    json_decref(doc);

    fz_end(&fz);

    return 0;
}
