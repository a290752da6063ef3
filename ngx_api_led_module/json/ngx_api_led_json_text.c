
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * JSON text: the parser, straight into jansson values (or only
 * checking).  The serializer is in
 * ngx_api_led_json_write.c, the arena jansson allocates from in
 * ngx_api_led_json_arena.c, forms <-> JSON in ngx_api_led_json_form.c.
 */


#include "ngx_api_led_json.h"
#include "ngx_api_led_json_parser.h"

#include <math.h>


/*
 * Bytes of a string: 0 plain ASCII, anything else needs a look (a
 * control character, '"', '\\', the start of a UTF-8 sequence).
 */

const u_char  ngx_api_led_json_plain[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
};


/*
 * The parser: the module's one JSON grammar, RFC 8259 whole.  jansson's
 * own json_loadb() reads through a character stream abstraction and is
 * several times slower than the network path it sits in, and refuses
 * valid JSON (\u0000 in names, lone surrogates, big integers); this one
 * scans the buffer directly and builds jansson values that keep what the
 * text says:
 *
 *   - strings are UTF-8 (checked here, so the unchecked jansson
 *     constructors are used); \u0000 is a NUL byte in the string (jansson
 *     strings have a length); a lone surrogate escape (\ud800 without its
 *     pair) is kept as the three bytes of its generalized UTF-8 form
 *     (WTF-8, ED A0 80), which no valid UTF-8 text holds, and the
 *     serializer writes it back as the same escape;
 *   - a number is a jansson integer when it is one that fits 64 bits, a
 *     real when the double writes back as the same number, and otherwise
 *     (more digits than a double holds, beyond its range) its text, kept
 *     as a "number text" (ngx_api_led_json_number_text()) that the
 *     serializer writes back character for character;
 *   - nesting is bounded (NGX_API_LED_JSON_MAX_DEPTH) while descending,
 *     and so is the memory jansson asks for (NGX_API_LED_JSON_MEMORY_*).
 *
 * Without a document to build (validation) the same code only scans: no
 * value, no allocation.
 */



static ngx_int_t ngx_api_led_json_parse_text(ngx_pool_t *pool, u_char *data,
    size_t len, ngx_uint_t flags, ngx_api_led_json_hooks_t *hooks,
    json_t **doc, u_char *err, size_t errlen);
static ngx_int_t ngx_api_led_json_hook_value(ngx_api_led_json_parser_t *jp);
static ngx_int_t ngx_api_led_json_hook_string(ngx_api_led_json_parser_t *jp,
    u_char *start, ngx_uint_t name);
static json_t *ngx_api_led_json_parse_value(ngx_api_led_json_parser_t *jp,
    ngx_uint_t depth);
static json_t *ngx_api_led_json_open(ngx_api_led_json_parser_t *jp,
    ngx_uint_t depth, json_t *(*create)(void), u_char close, ngx_uint_t *empty);
static ngx_int_t ngx_api_led_json_next(ngx_api_led_json_parser_t *jp,
    u_char close);
static json_t *ngx_api_led_json_parse_object(ngx_api_led_json_parser_t *jp,
    ngx_uint_t depth);
static json_t *ngx_api_led_json_parse_array(ngx_api_led_json_parser_t *jp,
    ngx_uint_t depth);
static ngx_int_t ngx_api_led_json_parse_escape(ngx_api_led_json_parser_t *jp,
    u_char **pp, u_char **dp);
static json_t *ngx_api_led_json_parse_number(ngx_api_led_json_parser_t *jp);
static void ngx_api_led_json_read_real(u_char *start, size_t len,
    u_char *scratch, ngx_api_led_json_number_t *num);
static ngx_int_t ngx_api_led_json_same_number(u_char *a, size_t alen,
    u_char *b, size_t blen);
static ngx_int_t ngx_api_led_json_decimal(u_char *p, u_char *end,
    u_char *digits, size_t *ndigits, int64_t *exp, ngx_uint_t *neg);
static void *ngx_api_led_json_budget_alloc(size_t size);
static void ngx_api_led_json_budget_free(void *p);


/*
 * The memory budget of a parse.  While a document is built, jansson's
 * allocator (malloc, the request-pool arena, or another module's) is
 * wrapped by one that counts: each allocation as malloc() would take it
 * (16-byte chunks with a header), whatever jansson frees meanwhile is
 * not given back to the count.  Past the budget an allocation fails, the
 * parse stops and says why.  The window is synchronous (no event loop
 * inside), like the arena's.
 */

static json_malloc_t  ngx_api_led_json_budget_outer_malloc;
static json_free_t    ngx_api_led_json_budget_outer_free;
static size_t         ngx_api_led_json_budget_left;
static ngx_uint_t     ngx_api_led_json_budget_over;


static void *
ngx_api_led_json_budget_alloc(size_t size)
{
    size_t  cost;

    cost = ngx_align(size + sizeof(size_t), 16);

    if (cost > ngx_api_led_json_budget_left) {
        ngx_api_led_json_budget_over = 1;
        return NULL;
    }

    ngx_api_led_json_budget_left -= cost;

    return ngx_api_led_json_budget_outer_malloc(size);
}


static void
ngx_api_led_json_budget_free(void *p)
{
    ngx_api_led_json_budget_outer_free(p);
}


/*
 * Parses a document of any type.  NGX_API_LED_JSON_INVALID: not JSON;
 * NGX_API_LED_JSON_TOO_DEEP: nested deeper than NGX_API_LED_JSON_MAX_DEPTH;
 * NGX_API_LED_JSON_TOO_BIG: its values need more memory than the budget;
 * NGX_API_LED_JSON_DUPLICATE: a member name repeated in an object (with
 * NGX_API_LED_JSON_UNIQUE).  "err" (at least 160 bytes) receives the
 * reason.
 */

ngx_int_t
ngx_api_led_json_parse(u_char *data, size_t len, ngx_uint_t flags,
    json_t **doc, u_char *err, size_t errlen)
{
    return ngx_api_led_json_parse_text(NULL, data, len, flags, NULL, doc,
                                       err, errlen);
}


ngx_int_t
ngx_api_led_json_parse_pool(ngx_pool_t *pool, u_char *data, size_t len,
    json_t **doc, u_char *err, size_t errlen)
{
    return ngx_api_led_json_parse_text(pool, data, len, 0, NULL, doc, err,
                                       errlen);
}


/* the same grammar, nothing built: NGX_OK, or why not as the parser says */

ngx_int_t
ngx_api_led_json_validate(u_char *data, size_t len)
{
    u_char  err[NGX_API_LED_JSON_ERRLEN];

    return ngx_api_led_json_parse_text(NULL, data, len, 0, NULL, NULL, err,
                                       sizeof(err));
}


/*
 * The same grammar with a template's hooks (ngx_api_led_json.h): what
 * stands where a value does, and the strings, are shown to the template
 * as the parser meets them.  On failure hooks->pos is where, "err" the
 * reason alone; NGX_ERROR when a hook failed (it said why) or no memory.
 */

ngx_int_t
ngx_api_led_json_scan(u_char *data, size_t len,
    ngx_api_led_json_hooks_t *hooks, u_char *err, size_t errlen)
{
    return ngx_api_led_json_parse_text(NULL, data, len, 0, hooks, NULL, err,
                                       errlen);
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

    rc = ngx_api_led_json_parse_text(NULL, data, size, flags, NULL, doc, err,
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
    ngx_uint_t flags, ngx_api_led_json_hooks_t *hooks, json_t **doc,
    u_char *err, size_t errlen)
{
    u_char                     buf[512], *p;
    json_t                    *json;
    ngx_uint_t                 line, over;
    const char                *why;
    json_malloc_t              outer_malloc;
    json_free_t                outer_free;
    ngx_api_led_json_parser_t  jp;

    ngx_memzero(&jp, sizeof(ngx_api_led_json_parser_t));

    jp.start = data;
    jp.pos = data;
    jp.end = data + len;
    jp.hooks = hooks;
    jp.build = (doc != NULL);
    jp.unique = (flags & NGX_API_LED_JSON_UNIQUE) ? 1 : 0;

    /*
     * An unescaped string is never longer than its text, a number text
     * is its text and a mark, a number's copy for strtod() its text and
     * a NUL.
     */

    if (!jp.build) {
        jp.scratch = NULL;

    } else if (len + 2 <= sizeof(buf)) {
        jp.scratch = buf;

    } else {
        jp.scratch = pool ? ngx_pnalloc(pool, len + 2)
                          : ngx_alloc(len + 2, ngx_cycle->log);
        if (jp.scratch == NULL) {
            ngx_api_led_errf(err, errlen, "out of memory");
            return NGX_ERROR;
        }
    }

    over = 0;
    outer_malloc = NULL;
    outer_free = NULL;

    if (jp.build) {
        json_get_alloc_funcs(&outer_malloc, &outer_free);

        ngx_api_led_json_budget_outer_malloc = outer_malloc;
        ngx_api_led_json_budget_outer_free = outer_free;
        ngx_api_led_json_budget_over = 0;
        ngx_api_led_json_budget_left =
            (len > (SIZE_MAX - NGX_API_LED_JSON_MEMORY_EXTRA)
                   / NGX_API_LED_JSON_MEMORY_FACTOR)
            ? SIZE_MAX
            : len * NGX_API_LED_JSON_MEMORY_FACTOR
              + NGX_API_LED_JSON_MEMORY_EXTRA;

        json_set_alloc_funcs(ngx_api_led_json_budget_alloc,
                             ngx_api_led_json_budget_free);
    }

    json = ngx_api_led_json_parse_value(&jp, 0);

    if (json) {
        ngx_api_led_json_skip_ws((&jp));

        if (jp.pos != jp.end) {
            json_decref(json);
            json = NULL;
            jp.error = "data after the document";
        }
    }

    if (jp.build) {
        over = ngx_api_led_json_budget_over;
        json_set_alloc_funcs(outer_malloc, outer_free);
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

    if (over) {
        ngx_api_led_errf(err, errlen, "the JSON document needs more memory "
                         "than %d times its size",
                         NGX_API_LED_JSON_MEMORY_FACTOR);
        return NGX_API_LED_JSON_TOO_BIG;
    }

    if (jp.nomem) {
        ngx_api_led_errf(err, errlen, "out of memory");
        return NGX_ERROR;
    }

    if (jp.hook_failed) {
        ngx_api_led_errf(err, errlen, "the template refused it");
        return NGX_ERROR;
    }

    if (hooks) {
        /* the template says where, with the text there */
        hooks->pos = jp.pos;
    }

    if (jp.too_deep) {
        ngx_api_led_errf(err, errlen, "JSON nested deeper than %d levels",
                         NGX_API_LED_JSON_MAX_DEPTH);
        return NGX_API_LED_JSON_TOO_DEEP;
    }

    why = jp.error ? jp.error
          : (jp.pos >= jp.end) ? "unexpected end of the text"
                               : "unexpected character";

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
                         line, (size_t) (p - data) + 1, why);

    } else if (jp.pos >= jp.end || hooks) {
        ngx_api_led_errf(err, errlen, "%s", why);

    } else {
        ngx_api_led_errf(err, errlen, "%s at byte %uz", why,
                         (size_t) (jp.pos - jp.start));
    }

    return jp.duplicate ? NGX_API_LED_JSON_DUPLICATE : NGX_API_LED_JSON_INVALID;
}


static json_t *
ngx_api_led_json_parse_value(ngx_api_led_json_parser_t *jp, ngx_uint_t depth)
{
    u_char  *s, *start;
    json_t  *json;
    size_t   len;

    ngx_api_led_json_skip_ws(jp);

    if (jp->pos >= jp->end) {
        return NULL;
    }

    if (jp->hooks) {
        switch (ngx_api_led_json_hook_value(jp)) {
        case NGX_OK:
            return json_null();
        case NGX_ERROR:
            return NULL;
        default: /* NGX_DECLINED: JSON's own */
            break;
        }
    }

    start = jp->pos;

    switch (*jp->pos) {

    case '{':
        return ngx_api_led_json_parse_object(jp, depth);

    case '[':
        return ngx_api_led_json_parse_array(jp, depth);

    case '"':
        if (ngx_api_led_json_parse_string(jp, &s, &len) != NGX_OK) {
            return NULL;
        }

        if (jp->hooks
            && ngx_api_led_json_hook_string(jp, start, 0) != NGX_OK)
        {
            return NULL;
        }

        if (!jp->build) {
            return json_null();
        }

        json = json_stringn_nocheck((char *) s, len);
        if (json == NULL) {
            jp->nomem = 1;
        }

        return json;

    case 't':
        if (jp->end - jp->pos >= 4 && ngx_strncmp(jp->pos, "true", 4) == 0) {
            jp->pos += 4;
            return json_true();
        }

        jp->error = "invalid literal";
        return NULL;

    case 'f':
        if (jp->end - jp->pos >= 5 && ngx_strncmp(jp->pos, "false", 5) == 0)
        {
            jp->pos += 5;
            return json_false();
        }

        jp->error = "invalid literal";
        return NULL;

    case 'n':
        if (jp->end - jp->pos >= 4 && ngx_strncmp(jp->pos, "null", 4) == 0) {
            jp->pos += 4;
            return json_null();
        }

        jp->error = "invalid literal";
        return NULL;

    default:
        return ngx_api_led_json_parse_number(jp);
    }
}


/*
 * A template's hooks.  At a value: what stands there if the template
 * takes it (the parser goes on after it as after a value).  A string,
 * from its opening quote, once the grammar passed it: its text as written
 * between the quotes, for what the template reads inside.
 */

static ngx_int_t
ngx_api_led_json_hook_value(ngx_api_led_json_parser_t *jp)
{
    u_char     *next;
    ngx_int_t   rc;

    rc = jp->hooks->value(jp->hooks->data, jp->pos, jp->end, &next);

    if (rc == NGX_OK) {
        jp->pos = next;

    } else if (rc == NGX_ERROR) {
        jp->hook_failed = 1;
    }

    return rc;
}


static ngx_int_t
ngx_api_led_json_hook_string(ngx_api_led_json_parser_t *jp, u_char *start,
    ngx_uint_t name)
{
    if (jp->hooks->string(jp->hooks->data, start + 1, jp->pos - 1, name)
        != NGX_OK)
    {
        jp->hook_failed = 1;
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * An object or an array opens the same way: the depth cap, the container
 * built (or json_null() when only checking), and an empty one closed at
 * once (*empty set).  NULL: too deep or no memory, as flagged in jp.
 */

static json_t *
ngx_api_led_json_open(ngx_api_led_json_parser_t *jp, ngx_uint_t depth,
    json_t *(*create)(void), u_char close, ngx_uint_t *empty)
{
    json_t  *json;

    *empty = 0;

    if (depth >= NGX_API_LED_JSON_MAX_DEPTH) {
        jp->too_deep = 1;
        return NULL;
    }

    jp->pos++;

    if (jp->build) {
        json = create();
        if (json == NULL) {
            jp->nomem = 1;
            return NULL;
        }

    } else {
        json = json_null();
    }

    ngx_api_led_json_skip_ws(jp);

    if (jp->pos < jp->end && *jp->pos == close) {
        jp->pos++;
        *empty = 1;
    }

    return json;
}


/*
 * After a member or an element: NGX_AGAIN at a "," (another follows),
 * NGX_OK at the closing character, else NGX_ERROR with jp->error set.
 */

static ngx_int_t
ngx_api_led_json_next(ngx_api_led_json_parser_t *jp, u_char close)
{
    ngx_api_led_json_skip_ws(jp);

    if (jp->pos < jp->end && *jp->pos == ',') {
        jp->pos++;
        return NGX_AGAIN;
    }

    if (jp->pos < jp->end && *jp->pos == close) {
        jp->pos++;
        return NGX_OK;
    }

    jp->error = (close == '}') ? "\",\" or \"}\" expected"
                               : "\",\" or \"]\" expected";

    return NGX_ERROR;
}


static json_t *
ngx_api_led_json_parse_object(ngx_api_led_json_parser_t *jp,
    ngx_uint_t depth)
{
    u_char      *s, *key, *start;
    json_t      *json, *v;
    size_t       len;
    ngx_int_t    rc;
    ngx_uint_t   empty;

    json = ngx_api_led_json_open(jp, depth, json_object, '}', &empty);

    if (json == NULL || empty) {
        return json;
    }

    for ( ;; ) {
        ngx_api_led_json_skip_ws(jp);

        if (jp->pos >= jp->end || *jp->pos != '"') {
            jp->error = "a member name expected";
            goto failed;
        }

        start = jp->pos;

        if (ngx_api_led_json_parse_string(jp, &s, &len) != NGX_OK) {
            goto failed;
        }

        if (jp->hooks
            && ngx_api_led_json_hook_string(jp, start, 1) != NGX_OK)
        {
            goto failed;
        }

        key = NULL;

        if (jp->build) {
            if (jp->unique && json_object_getn(json, (char *) s, len)) {
                /* as jansson's JSON_REJECT_DUPLICATES */
                jp->error = "duplicate object key";
                jp->duplicate = 1;
                goto failed;
            }

            if (s == jp->scratch) {
                /* the value reuses the scratch buffer: keep the name */
                key = ngx_alloc(len + 1, ngx_cycle->log);
                if (key == NULL) {
                    jp->nomem = 1;
                    goto failed;
                }

                ngx_memcpy(key, s, len);
                key[len] = '\0';
                s = key;
            }
        }

        ngx_api_led_json_skip_ws(jp);

        if (jp->pos >= jp->end || *jp->pos != ':') {
            jp->error = "\":\" expected";
            goto failed_key;
        }

        jp->pos++;

        v = ngx_api_led_json_parse_value(jp, depth + 1);

        if (v == NULL) {
            goto failed_key;
        }

        if (jp->build
            && json_object_setn_new_nocheck(json, (char *) s, len, v) != 0)
        {
            jp->nomem = 1;
            goto failed_key;
        }

        if (key) {
            ngx_free(key);
        }

        rc = ngx_api_led_json_next(jp, '}');

        if (rc == NGX_AGAIN) {
            continue;
        }

        if (rc == NGX_OK) {
            return json;
        }

        goto failed;
    }

failed_key:

    if (key) {
        ngx_free(key);
    }

failed:

    json_decref(json);
    return NULL;
}


static json_t *
ngx_api_led_json_parse_array(ngx_api_led_json_parser_t *jp, ngx_uint_t depth)
{
    json_t      *json, *v;
    ngx_int_t    rc;
    ngx_uint_t   empty;

    json = ngx_api_led_json_open(jp, depth, json_array, ']', &empty);

    if (json == NULL || empty) {
        return json;
    }

    for ( ;; ) {
        v = ngx_api_led_json_parse_value(jp, depth + 1);

        if (v == NULL) {
            goto failed;
        }

        if (jp->build && json_array_append_new(json, v) != 0) {
            jp->nomem = 1;
            goto failed;
        }

        rc = ngx_api_led_json_next(jp, ']');

        if (rc == NGX_AGAIN) {
            continue;
        }

        if (rc == NGX_OK) {
            return json;
        }

        goto failed;
    }

failed:

    json_decref(json);
    return NULL;
}


/*
 * A string: *s points into the text when it holds no escape, else into
 * the scratch buffer (valid until the next string or number); when
 * validating there is no scratch buffer and nothing is written.
 */

ngx_int_t
ngx_api_led_json_parse_string(ngx_api_led_json_parser_t *jp, u_char **s,
    size_t *len)
{
    u_char  *p, *start, *d, c;

    p = ++jp->pos;

    /* the common case: no escape */

    for ( ;; ) {

        p = ngx_api_led_json_plain_skip(p, jp->end);

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

        start = p;
        p = ngx_api_led_json_utf8(p, jp->end);
        if (p == NULL) {
            jp->pos = start;
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

        if (c == '\\') {
            if (ngx_api_led_json_parse_escape(jp, &p, &d) != NGX_OK) {
                return NGX_ERROR;
            }

            continue;
        }

        if (d) {
            *d++ = c;
        }

        p++;
    }

    jp->pos = jp->end;
    jp->error = "unterminated string";

    return NGX_ERROR;
}


/*
 * Whether text escaped into a JSON string reads back with this grammar:
 * valid UTF-8 (ngx_escape_json() keeps the bytes of other text as they
 * are, which the parser refuses).
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


/*
 * The escape at *pp ('\\'), unescaped to *dp when there is one.  \u0000
 * is a NUL byte; a surrogate pair one code point; a lone surrogate the
 * three bytes its code point would have in UTF-8 (generalized UTF-8:
 * never valid UTF-8 text, so nothing else can look like it).
 */

static ngx_int_t
ngx_api_led_json_parse_escape(ngx_api_led_json_parser_t *jp, u_char **pp,
    u_char **dp)
{
    u_char      *p, *d;
    ngx_int_t    n;
    ngx_uint_t   cp;

    p = *pp;
    d = *dp;

    if (jp->end - p < 2) {
        jp->pos = jp->end;
        jp->error = "unterminated string";
        return NGX_ERROR;
    }

    p++;

    switch (*p++) {
    case '"':  cp = '"';  break;
    case '\\': cp = '\\'; break;
    case '/':  cp = '/';  break;
    case 'b':  cp = '\b'; break;
    case 'f':  cp = '\f'; break;
    case 'n':  cp = '\n'; break;
    case 'r':  cp = '\r'; break;
    case 't':  cp = '\t'; break;

    case 'u':
        if (jp->end - p < 4 || (n = ngx_hextoi(p, 4)) == NGX_ERROR) {
            jp->pos = p;
            jp->error = "invalid \\u escape";
            return NGX_ERROR;
        }

        p += 4;
        cp = n;

        /* a high surrogate and its low half make one code point */

        if (cp >= 0xd800 && cp <= 0xdbff
            && jp->end - p >= 6 && p[0] == '\\' && p[1] == 'u'
            && (n = ngx_hextoi(p + 2, 4)) != NGX_ERROR
            && n >= 0xdc00 && n <= 0xdfff)
        {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (n - 0xdc00);
            p += 6;
        }

        break;

    default:
        jp->pos = p - 2;
        jp->error = "invalid escape";
        return NGX_ERROR;
    }

    *pp = p;

    if (d == NULL) {
        return NGX_OK;
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

    *dp = d;

    return NGX_OK;
}


/* the end of one valid UTF-8 sequence starting at p (>= 0x80), or NULL */

u_char *
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


/*
 * A number, for the tree: what ngx_api_led_json_read_number() found, as a
 * jansson value.
 */

static json_t *
ngx_api_led_json_parse_number(ngx_api_led_json_parser_t *jp)
{
    u_char                     *start;
    json_t                     *json;
    ngx_api_led_json_number_t   num;

    start = jp->pos;

    if (ngx_api_led_json_read_number(jp->pos, jp->end, jp->scratch, &num)
        != NGX_OK)
    {
        jp->pos = num.end;
        jp->error = num.error;
        return NULL;
    }

    jp->pos = num.end;

    if (!jp->build) {
        return json_null();
    }

    json = ngx_api_led_json_number_value(&num, start, jp->scratch);
    if (json == NULL) {
        jp->nomem = 1;
    }

    return json;
}


/*
 * The value of a number read from "start": an integer, a real, or a
 * number text (ngx_api_led_json.h), made in "scratch" (its length + 1).
 */

json_t *
ngx_api_led_json_number_value(ngx_api_led_json_number_t *num, u_char *start,
    u_char *scratch)
{
    switch (num->kind) {

    case NGX_API_LED_JSON_INTEGER:
        return json_integer(num->integer);

    case NGX_API_LED_JSON_REAL:
        return json_real(num->real);

    default: /* NGX_API_LED_JSON_NUMBER_KEPT */
        scratch[0] = NGX_API_LED_JSON_NUMBER_TEXT;
        ngx_memcpy(scratch + 1, start, num->end - start);

        return json_stringn_nocheck((char *) scratch, num->end - start + 1);
    }
}


/*
 * A number at p, its grammar checked, and what it is: a 64-bit integer, a
 * real when the double writes back as the same number, else its text
 * (more digits than a double holds, beyond its range), kept.  The common
 * ones take the fast exact path, the rest go to strtod().  "scratch"
 * takes a copy of the text and a NUL; NULL: only the grammar.
 */

ngx_int_t
ngx_api_led_json_read_number(u_char *p, u_char *end, u_char *scratch,
    ngx_api_led_json_number_t *num)
{
    u_char      *start;
    double       d;
    uint64_t     n;
    ngx_int_t    exp, e, eneg;
    ngx_uint_t   real, neg, overflow, digits, sig;

    static const double  p10[] = {
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
    };

    start = p;
    real = 0;
    neg = 0;
    overflow = 0;
    digits = 0;
    sig = 0;
    n = 0;
    exp = 0;
    num->error = NULL;

    if (p < end && *p == '-') {
        neg = 1;
        p++;
    }

    if (p >= end) {
        num->end = p;
        return NGX_ERROR;
    }

    if (*p == '0') {
        p++;

    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9') {
            if (n > (UINT64_MAX - 9) / 10) {
                overflow = 1;
            }

            n = n * 10 + (*p - '0');
            digits++;
            sig++;
            p++;
        }

    } else {
        num->end = p;
        num->error = "invalid value";
        return NGX_ERROR;
    }

    if (p < end && *p == '.') {
        real = 1;
        p++;

        if (p >= end || *p < '0' || *p > '9') {
            num->end = p;
            num->error = "invalid number";
            return NGX_ERROR;
        }

        while (p < end && *p >= '0' && *p <= '9') {
            if (n > (UINT64_MAX - 9) / 10) {
                overflow = 1;
            }

            n = n * 10 + (*p - '0');
            digits++;

            /* leading zeros of a fraction are no significant digits */
            if (sig || *p != '0') {
                sig++;
            }

            exp--;
            p++;
        }
    }

    if (p < end && (*p == 'e' || *p == 'E')) {
        real = 1;
        p++;
        eneg = 0;
        e = 0;

        if (p < end && (*p == '+' || *p == '-')) {
            eneg = (*p == '-');
            p++;
        }

        if (p >= end || *p < '0' || *p > '9') {
            num->end = p;
            num->error = "invalid number";
            return NGX_ERROR;
        }

        while (p < end && *p >= '0' && *p <= '9') {
            if (e < 100000) {
                e = e * 10 + (*p - '0');
            }

            p++;
        }

        exp += eneg ? -e : e;
    }

    num->end = p;

    if (scratch == NULL) {
        return NGX_OK;
    }

    if (!real) {
        if (!overflow
            && (neg ? n <= (uint64_t) INT64_MAX + 1 : n <= INT64_MAX))
        {
            num->kind = NGX_API_LED_JSON_INTEGER;
            num->integer = neg ? (int64_t) (0 - n) : (int64_t) n;
            return NGX_OK;
        }

        /* beyond 64 bits: its digits, all of them */
        num->kind = NGX_API_LED_JSON_NUMBER_KEPT;
        return NGX_OK;
    }

    /*
     * Exact and fast (Clinger): the digits as an integer below 2^53 and a
     * power of ten up to 10^22 are both exact doubles, so one
     * multiplication or division rounds correctly, as strtod() would; and
     * a decimal of at most 15 significant digits (DBL_DIG) is the only one
     * of its length that rounds to its double, so the serializer, which
     * writes the shortest text that reads back as the double, writes it
     * back.
     */

    if (!overflow && sig <= 15 && digits <= 19 && n <= ((uint64_t) 1 << 53)
        && exp >= -22 && exp <= 22)
    {
        d = (double) n;
        d = (exp < 0) ? d / p10[-exp] : d * p10[exp];

        num->kind = NGX_API_LED_JSON_REAL;
        num->real = neg ? -d : d;
        return NGX_OK;
    }

    ngx_api_led_json_read_real(start, p - start, scratch, num);

    return NGX_OK;
}


static void
ngx_api_led_json_read_real(u_char *start, size_t len, u_char *scratch,
    ngx_api_led_json_number_t *num)
{
    u_char  *p, text[NGX_API_LED_JSON_REAL_LEN];
    double   d;

    /* strtod() wants a NUL */

    ngx_memcpy(scratch, start, len);
    scratch[len] = '\0';

    d = strtod((char *) scratch, NULL);

    if (isfinite(d)) {
        p = ngx_api_led_json_real_text(text, d);

        if (ngx_api_led_json_same_number(start, len, text, p - text)) {
            num->kind = NGX_API_LED_JSON_REAL;
            num->real = d;
            return;
        }
    }

    /* more digits than a double holds, or out of its range */
    num->kind = NGX_API_LED_JSON_NUMBER_KEPT;
}


/*
 * Whether two JSON number texts (the grammar checked) have the same
 * value: the same sign, significant digits and decimal exponent.  Texts
 * of more than 40 significant digits are never the same here (the
 * serializer's have at most 17).
 */

#define NGX_API_LED_JSON_DIGITS  40

static ngx_int_t
ngx_api_led_json_same_number(u_char *a, size_t alen, u_char *b, size_t blen)
{
    u_char      da[NGX_API_LED_JSON_DIGITS], db[NGX_API_LED_JSON_DIGITS];
    size_t      na, nb;
    int64_t     ea, eb;
    ngx_uint_t  nega, negb;

    if (ngx_api_led_json_decimal(a, a + alen, da, &na, &ea, &nega) != NGX_OK
        || ngx_api_led_json_decimal(b, b + blen, db, &nb, &eb, &negb)
           != NGX_OK)
    {
        return 0;
    }

    if (na == 0 || nb == 0) {
        /* zeros: the sign counts (-0.0 is a double of its own) */
        return na == nb && nega == negb;
    }

    return nega == negb && na == nb && ea == eb
           && ngx_memcmp(da, db, na) == 0;
}


/*
 * A number text as 0.DIGITS x 10^exp: no leading or trailing zero in
 * DIGITS (none at all for a zero).  NGX_DECLINED when there are more
 * digits than the buffer holds.  An exponent beyond 10^9 is cut there,
 * far outside any double.
 */

static ngx_int_t
ngx_api_led_json_decimal(u_char *p, u_char *end, u_char *digits,
    size_t *ndigits, int64_t *exp, ngx_uint_t *neg)
{
    size_t      nd, zeros;
    int64_t     point, e;
    ngx_uint_t  eneg, frac;

    *neg = 0;

    if (p < end && *p == '-') {
        *neg = 1;
        p++;
    }

    nd = 0;
    zeros = 0;          /* zeros seen after the last nonzero digit */
    point = 0;          /* digits before the point, leading zeros not */
    frac = 0;

    for ( ; p < end; p++) {

        if (*p == '.') {
            frac = 1;
            continue;
        }

        if (*p < '0' || *p > '9') {
            break;
        }

        if (*p == '0') {
            if (nd == 0) {
                /* a leading zero: after the point it moves the exponent */
                if (frac) {
                    point--;
                }

                continue;
            }

            zeros++;

        } else {
            while (zeros) {
                if (nd == NGX_API_LED_JSON_DIGITS) {
                    return NGX_DECLINED;
                }

                digits[nd++] = '0';
                zeros--;
            }

            if (nd == NGX_API_LED_JSON_DIGITS) {
                return NGX_DECLINED;
            }

            digits[nd++] = *p;
        }

        if (!frac) {
            point++;
        }
    }

    e = 0;

    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        eneg = 0;

        if (p < end && (*p == '+' || *p == '-')) {
            eneg = (*p == '-');
            p++;
        }

        for ( ; p < end && *p >= '0' && *p <= '9'; p++) {
            if (e < 1000000000) {
                e = e * 10 + (*p - '0');
            }
        }

        if (eneg) {
            e = -e;
        }
    }

    *ndigits = nd;
    *exp = point + e;

    return NGX_OK;
}


/*
 * Light documents (ngx_api_led_json.h): the same grammar, into nodes that
 * point at the text.  Whatever the light path cannot take the same way
 * as the tree (see the header) makes it decline, and the tree parses the
 * text again: its errors are the ones the client sees.
 */

typedef struct {
    ngx_api_led_json_parser_t    jp;
    ngx_pool_t                  *pool;
    ngx_api_led_json_light_t    *free;        /* nodes, a block at a time */
    ngx_api_led_json_light_t    *free_end;
    ngx_uint_t                   block;       /* nodes in a block */
} ngx_api_led_json_light_parser_t;


/*
 * Nodes come in blocks of the pool's own memory, each as large as a
 * small allocation gets (a whole page of a request's pool: 45 nodes), and
 * no larger than the text can fill (a node takes at least two bytes of
 * it, but the first).  A block sized by the text (one allocation for a
 * document) would be a large allocation, malloc() and free() for every
 * request, and glibc then gives the memory back to the system and asks
 * for it again (measured: 5 us more a request in bench/05); 32 nodes a
 * block left a third of each page unused (measured: 700 instructions
 * more a request).
 */


static ngx_api_led_json_light_t *ngx_api_led_json_light_value(
    ngx_api_led_json_light_parser_t *lp, ngx_uint_t depth);
static ngx_int_t ngx_api_led_json_light_container(
    ngx_api_led_json_light_parser_t *lp, ngx_api_led_json_light_t *node,
    ngx_uint_t depth);
static ngx_int_t ngx_api_led_json_light_member(
    ngx_api_led_json_light_t *m, ngx_str_t *name);
static ngx_int_t ngx_api_led_json_light_scratch(
    ngx_api_led_json_light_parser_t *lp);
static ngx_int_t ngx_api_led_json_light_scalar(
    ngx_api_led_json_light_parser_t *lp, ngx_str_t *text);
static ngx_int_t ngx_api_led_json_light_string_checked(
    ngx_api_led_json_light_parser_t *lp, ngx_str_t *value, ngx_str_t *text);
static ngx_int_t ngx_api_led_json_light_number(
    ngx_api_led_json_light_parser_t *lp, ngx_str_t *text);
static ngx_inline ngx_api_led_json_light_t *ngx_api_led_json_light_node(
    ngx_api_led_json_light_parser_t *lp);


ngx_int_t
ngx_api_led_json_light_parse(ngx_pool_t *pool, u_char *data, size_t len,
    ngx_api_led_json_light_t **doc)
{
    ngx_api_led_json_light_t        *node;
    ngx_api_led_json_light_parser_t  lp;

    if (len > NGX_API_LED_JSON_LIGHT_MAX) {
        return NGX_DECLINED;
    }

    ngx_memzero(&lp, sizeof(ngx_api_led_json_light_parser_t));

    lp.pool = pool;
    lp.jp.start = data;
    lp.jp.pos = data;
    lp.jp.end = data + len;
    lp.jp.build = 1;

    lp.block = ngx_max(pool->max / sizeof(ngx_api_led_json_light_t), 8);
    lp.block = ngx_min(lp.block, len / 2 + 1);

    /* lp.jp.scratch: made when an escape or a real number needs it */

    node = ngx_api_led_json_light_value(&lp, 0);

    if (node) {
        ngx_api_led_json_skip_ws((&lp.jp));

        if (lp.jp.pos != lp.jp.end) {
            node = NULL;
        }
    }

    if (lp.jp.scratch) {
        ngx_pfree(pool, lp.jp.scratch);
    }

    /* a parse that did not end in a document: out of memory, or declined */

    if (node == NULL) {
        return lp.jp.nomem ? NGX_ERROR : NGX_DECLINED;
    }

    *doc = node;

    return NGX_OK;
}


/*
 * The scratch buffer of the tree's string and number readers (unescaped
 * strings, a number's copy for strtod()), as large as the text: most
 * documents have no escape and no real that needs it, and do without.
 */

static ngx_int_t
ngx_api_led_json_light_scratch(ngx_api_led_json_light_parser_t *lp)
{
    if (lp->jp.scratch) {
        return NGX_OK;
    }

    lp->jp.scratch = ngx_pnalloc(lp->pool, lp->jp.end - lp->jp.start + 2);
    if (lp->jp.scratch == NULL) {
        lp->jp.nomem = 1;
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the document: a container, or a scalar alone */

static ngx_api_led_json_light_t *
ngx_api_led_json_light_value(ngx_api_led_json_light_parser_t *lp,
    ngx_uint_t depth)
{
    ngx_int_t                  rc;
    ngx_str_t                  value;
    ngx_api_led_json_light_t  *node;

    ngx_api_led_json_skip_ws((&lp->jp));

    if (lp->jp.pos >= lp->jp.end) {
        return NULL;
    }

    node = ngx_api_led_json_light_node(lp);
    if (node == NULL) {
        return NULL;
    }

    ngx_str_null(&node->name);
    ngx_str_null(&node->key);

    if (*lp->jp.pos == '{' || *lp->jp.pos == '[') {
        rc = ngx_api_led_json_light_container(lp, node, depth);

    } else {
        rc = (*lp->jp.pos == '"')
             ? ngx_api_led_json_light_string_checked(lp, &value, &node->text)
             : ngx_api_led_json_light_scalar(lp, &node->text);
    }

    return (rc == NGX_OK) ? node : NULL;
}


/* true, false, null, a number */

static ngx_int_t
ngx_api_led_json_light_scalar(ngx_api_led_json_light_parser_t *lp,
    ngx_str_t *text)
{
    u_char  *p;

    p = lp->jp.pos;

    switch (*p) {

    case 't':
    case 'n':
        if (lp->jp.end - p >= 4
            && ngx_memcmp(p, ((*p == 't') ? "true" : "null"), 4) == 0)
        {
            text->data = p;
            text->len = 4;
            lp->jp.pos += 4;
            return NGX_OK;
        }

        break;

    case 'f':
        if (lp->jp.end - p >= 5 && ngx_memcmp(p, "false", 5) == 0) {
            text->data = p;
            text->len = 5;
            lp->jp.pos += 5;
            return NGX_OK;
        }

        break;

    default:
        return ngx_api_led_json_light_number(lp, text);
    }

    return NGX_ERROR;
}


/*
 * A container into "node" (a text node it makes the bracket's container),
 * from its bracket at lp->jp.pos to past its end: NGX_OK, or NGX_DECLINED
 * for a text the light path does not take (and when memory ran out:
 * lp->jp.nomem says which).  Its members are linked in locals, and the
 * node gets them at the end.  The
 * position too is kept in a local while the grammar goes on, and given
 * to lp->jp.pos where another function takes over (a nested container,
 * an escaped string, a number that is no plain integer).
 */

static ngx_int_t
ngx_api_led_json_light_container(ngx_api_led_json_light_parser_t *lp,
    ngx_api_led_json_light_t *node, ngx_uint_t depth)
{
    u_char                     close, *p, *q, *r, *end;
    uint64_t                   names, bit;
    ngx_str_t                  value;
    ngx_uint_t                 n;
    ngx_api_led_json_light_t  *first, *last, *v;

    if (depth >= NGX_API_LED_JSON_MAX_DEPTH) {
        return NGX_DECLINED;
    }

    p = lp->jp.pos;
    end = lp->jp.end;

    if (*p++ == '{') {
        node->type = NGX_API_LED_JSON_LIGHT_OBJECT;
        close = '}';

    } else {
        node->type = NGX_API_LED_JSON_LIGHT_ARRAY;
        close = ']';
    }

    node->text.len = 0;
    names = 0;
    first = NULL;
    last = NULL;
    n = 0;

    ngx_api_led_json_light_ws(p, end);

    if (p < end && *p == close) {
        p++;
        goto done;
    }

    for ( ;; ) {

        v = ngx_api_led_json_light_node(lp);
        if (v == NULL) {
            return NGX_DECLINED;
        }

        if (close == ']') {
            ngx_str_null(&v->name);
            ngx_str_null(&v->key);

        } else {

            /* the name */

            q = ngx_api_led_json_light_past(p, end, '"');
            if (q == NULL) {
                return NGX_DECLINED;
            }

            p = q - 1;
            q = ngx_api_led_json_plain_skip(q, end);

            if (q < end && *q == '"') {
                v->name.data = p + 1;
                v->name.len = q - (p + 1);
                v->key.data = p;
                v->key.len = q + 1 - p;
                p = q + 1;

            } else {
                lp->jp.pos = p;

                if (ngx_api_led_json_light_string_checked(lp, &v->name,
                                                          &v->key)
                    != NGX_OK)
                {
                    return NGX_DECLINED;
                }

                p = lp->jp.pos;
            }

            p = ngx_api_led_json_light_past(p, end, ':');
            if (p == NULL) {
                return NGX_DECLINED;
            }

            /*
             * Names unique: a name is compared with the others only when
             * one of them has the same of 64 bits, by its first byte and
             * length.  An empty name is never escaped: its first byte is
             * the closing quote, in the text.
             */

            if (n == NGX_API_LED_JSON_LIGHT_MEMBERS) {
                return NGX_DECLINED;
            }

            bit = (uint64_t) 1 << ((v->name.data[0] ^ v->name.len) & 63);

            if ((names & bit)
                && ngx_api_led_json_light_member(first, &v->name) != NGX_OK)
            {
                return NGX_DECLINED;
            }

            names |= bit;
        }

        /* the value */

        if (p < end && *p <= ' ') {
            ngx_api_led_json_light_ws(p, end);
        }

        if (p >= end) {
            return NGX_DECLINED;
        }

        switch (*p) {

        case '"':
            q = ngx_api_led_json_plain_skip(p + 1, end);

            if (q < end && *q == '"') {
                v->text.data = p;
                v->text.len = q + 1 - p;
                p = q + 1;
                break;
            }

            goto checked;

        case '1': case '2': case '3': case '4': case '5':
        case '6': case '7': case '8': case '9':

            /* ids and counts: 1 to 18 digits, as the serializer has them */

            q = p + 1;
            r = (end - p > 18) ? p + 18 : end;

            while (q < r && (u_char) (*q - '0') < 10) {
                q++;
            }

            if (q == end
                || (*q != '.' && *q != 'e' && *q != 'E'
                    && (*q < '0' || *q > '9')))
            {
                v->text.data = p;
                v->text.len = q - p;
                p = q;
                break;
            }

            /* a price: as the serializer writes its double */

            if (*q == '.' && (q = ngx_api_led_json_light_fraction(p, q, end))) {
                v->text.data = p;
                v->text.len = q - p;
                p = q;
                break;
            }

            goto checked;

        case '{':
        case '[':
            lp->jp.pos = p;

            if (ngx_api_led_json_light_container(lp, v, depth + 1) != NGX_OK) {
                return NGX_DECLINED;
            }

            p = lp->jp.pos;
            break;

        default:
        checked:

            /* escapes, other numbers, true, false, null: the tree's way */

            lp->jp.pos = p;

            if (((*p == '"')
                 ? ngx_api_led_json_light_string_checked(lp, &value, &v->text)
                 : ngx_api_led_json_light_scalar(lp, &v->text))
                != NGX_OK)
            {
                return NGX_DECLINED;
            }

            p = lp->jp.pos;
        }

        if (last) {
            last->next = v;

        } else {
            first = v;
        }

        last = v;
        n++;

        /* after the value: "," or the end of the container */

        if (p < end && *p == ',') {
            p++;
            continue;
        }

        ngx_api_led_json_light_ws(p, end);

        if (p < end && *p == ',') {
            p++;
            continue;
        }

        if (p < end && *p == close) {
            p++;
            break;
        }

        /* the tree parses the text again, from its start */

        return NGX_DECLINED;
    }

done:

    lp->jp.pos = p;

    node->first = first;
    node->last = last;
    node->n = n;

    return NGX_OK;
}


/* NGX_OK if no member from "m" on has the name */

static ngx_int_t
ngx_api_led_json_light_member(ngx_api_led_json_light_t *m,
    ngx_str_t *name)
{
    for ( /* void */ ; m; m = m->next) {
        if (ngx_api_led_json_light_named(m, name)) {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/*
 * A string at the quote that is more than plain bytes (the containers
 * take those): "value" its bytes, unescaped; "text" as the serializer
 * writes it.  Without an escape both are in the document's text (the
 * serializer escapes nothing valid UTF-8 holds but what JSON must
 * escape); with one, both are made in the pool.
 */

static ngx_int_t
ngx_api_led_json_light_string_checked(ngx_api_led_json_light_parser_t *lp,
    ngx_str_t *value, ngx_str_t *text)
{
    u_char  *start, *s;
    size_t   len;

    start = lp->jp.pos;

    if (ngx_api_led_json_light_scratch(lp) != NGX_OK
        || ngx_api_led_json_parse_string(&lp->jp, &s, &len) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (s != lp->jp.scratch) {
        value->data = s;
        value->len = len;
        text->data = start;
        text->len = lp->jp.pos - start;
        return NGX_OK;
    }

    value->data = ngx_pnalloc(lp->pool, len);
    if (value->data == NULL) {
        lp->jp.nomem = 1;
        return NGX_ERROR;
    }

    ngx_memcpy(value->data, s, len);
    value->len = len;

    if (ngx_api_led_json_quote(lp->pool, value->data, len, text) != NGX_OK) {
        lp->jp.nomem = 1;
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* a number as the serializer writes it: most as written, reals shortest */

static ngx_int_t
ngx_api_led_json_light_number(ngx_api_led_json_light_parser_t *lp,
    ngx_str_t *text)
{
    u_char  buf[NGX_API_LED_JSON_REAL_LEN];

    if (ngx_api_led_json_light_scratch(lp) != NGX_OK
        || ngx_api_led_json_number_written(lp->jp.pos, lp->jp.end,
                                           lp->jp.scratch, buf, text,
                                           &lp->jp.pos)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (text->data != buf) {
        return NGX_OK;
    }

    text->data = ngx_pnalloc(lp->pool, text->len);
    if (text->data == NULL) {
        lp->jp.nomem = 1;
        return NGX_ERROR;
    }

    ngx_memcpy(text->data, buf, text->len);

    return NGX_OK;
}


/*
 * A number at p as the serializer writes it: "text" in the text (most
 * are written as they are, "-0" as "0"), or in "buf" (a real written
 * otherwise: its shortest form, NGX_API_LED_JSON_REAL_LEN bytes at
 * most); "next" after it.  NGX_ERROR for no number.
 */

ngx_int_t
ngx_api_led_json_number_written(u_char *p, u_char *end, u_char *scratch,
    u_char *buf, ngx_str_t *text, u_char **next)
{
    u_char                     *q;
    size_t                      len;
    ngx_api_led_json_number_t   num;

    if (ngx_api_led_json_read_number(p, end, scratch, &num) != NGX_OK) {
        return NGX_ERROR;
    }

    *next = num.end;
    len = num.end - p;

    text->data = p;
    text->len = len;

    switch (num.kind) {

    case NGX_API_LED_JSON_INTEGER:
        if (num.integer == 0 && len == 2) {
            /* "-0" */
            text->data++;
            text->len = 1;
        }

        return NGX_OK;

    case NGX_API_LED_JSON_REAL:
        if (ngx_api_led_json_light_plain_real(p, len)) {
            return NGX_OK;
        }

        q = ngx_api_led_json_real_text(buf, num.real);

        if ((size_t) (q - buf) == len && ngx_memcmp(buf, p, len) == 0) {
            return NGX_OK;
        }

        text->data = buf;
        text->len = q - buf;
        return NGX_OK;

    default: /* NGX_API_LED_JSON_NUMBER_KEPT */
        return NGX_OK;
    }
}


/* a node from the parse's block (one allocation for many) */

static ngx_inline ngx_api_led_json_light_t *
ngx_api_led_json_light_node(ngx_api_led_json_light_parser_t *lp)
{
    ngx_api_led_json_light_t  *node;

    if (lp->free == lp->free_end) {
        lp->free = ngx_palloc(lp->pool,
                              lp->block * sizeof(ngx_api_led_json_light_t));
        if (lp->free == NULL) {
            lp->jp.nomem = 1;
            return NULL;
        }

        lp->free_end = lp->free + lp->block;
    }

    node = lp->free++;

    /*
     * A text node: its callers set a member's name and key, the text, or
     * make it a container (an empty text).
     */

    node->next = NULL;
    node->first = NULL;
    node->last = NULL;
    node->n = 0;
    node->type = NGX_API_LED_JSON_LIGHT_TEXT;

    return node;
}
