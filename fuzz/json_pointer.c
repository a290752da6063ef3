
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * JSON Pointer operations (json/ngx_api_led_json.c), as the
 * api_led_*_json directives compile and run them.  The input is lines:
 *
 *   {"a":[1,2]}            the document (any JSON text)
 *   =text                  what $variables evaluate to
 *   set /a/- json:{"b":1}  operations, words separated by spaces:
 *   remove /a/0            set, remove, rename, keep, wrap
 *   rename /a /b/c
 *   keep /a /b            ("*" as a token: every element of an array)
 *   wrap /data
 *
 * Each operation is compiled (ngx_api_led_json_op_compile(), as nginx -t
 * does) and run on the document, in a pool arena window for inputs of odd
 * length.  Properties, after every operation:
 *
 *   - the document still serializes and parses back to itself;
 *   - set P V (P without "*" or "-"): get(P) is V;
 *   - remove P from an object: get(P) is gone;
 *   - rename P NAME: the value is under NAME in the same object;
 *   - rename P /Q (move): get(Q) is the value; when it does not fit, the
 *     document is as it was;
 *   - wrap P: get(P) of the new document is the old one;
 *   - keep (paths without indexes): pruning twice changes nothing;
 *   - no operation fails (NGX_ERROR means out of memory to the caller).
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
failed(const char *what, ngx_str_t *line, json_t *before, json_t *after)
{
    char  *s;

    /* jansson back on malloc(): json_dumps()'s text is free()d */
    (void) ngx_api_led_json_arena_enter(NULL);

    fz_dump("input", input, input_size);
    fz_dump("operation", line->data, line->len);

    s = before ? json_dumps(before, JSON_ENCODE_ANY|JSON_COMPACT) : NULL;
    fprintf(stderr, "before: %s\n", s ? s : "(null)");
    free(s);

    s = after ? json_dumps(after, JSON_ENCODE_ANY|JSON_COMPACT) : NULL;
    fprintf(stderr, "after: %s\n", s ? s : "(null)");
    free(s);

    fz_fail("%s", what);
}


static ngx_uint_t
plain(ngx_api_led_json_path_t *path)
{
    ngx_uint_t  i;

    for (i = 0; i < path->ntokens; i++) {
        if (path->tokens[i].any || path->tokens[i].append) {
            return 0;
        }
    }

    return 1;
}


/* a token of digits in the line: an array index */

static ngx_uint_t
indexed(ngx_str_t *line)
{
    u_char  *p, *end;

    end = line->data + line->len;

    for (p = line->data; p < end; p++) {
        if (*p == '/' && p + 1 < end && p[1] >= '0' && p[1] <= '9') {
            return 1;
        }
    }

    return 0;
}


/*
 * The document still reads back as itself.  NGX_DECLINED: it grew past
 * 64k (a "set" through "*" fans out), the rest of the input is skipped to
 * keep the runs fast.
 */

static ngx_int_t
check_text(fz_t *fz, json_t *doc, ngx_str_t *line)
{
    u_char     err[160];
    json_t    *again;
    ngx_int_t  rc;
    ngx_str_t  text;

    if (ngx_api_led_json_dump(fz->pool, doc, 64, &text) != NGX_OK) {
        abort();
    }

    if (text.len > 65536) {
        return NGX_DECLINED;
    }

    again = NULL;
    rc = ngx_api_led_json_parse(text.data, text.len, 0, &again, err,
                                sizeof(err));

    if (rc == NGX_ABORT
        && !ngx_api_led_json_depth_ok(doc, NGX_API_LED_JSON_MAX_DEPTH))
    {
        /* a set may build deeper documents than the parser reads */
        return NGX_OK;
    }

    if (rc != NGX_OK || !fz_json_equal(doc, again)) {
        fz_dump("serialized", text.data, text.len);
        failed("the document does not read back", line, doc, again);
    }

    json_decref(again);

    return NGX_OK;
}


static ngx_int_t
run(fz_t *fz, ngx_api_led_json_op_t *op, json_t **doc, ngx_str_t *line)
{
    json_t                   *before, *v, *value, *p;
    ngx_int_t                 rc;
    ngx_api_led_json_path_t   parent;

    before = json_deep_copy(*doc);
    if (before == NULL) {
        abort();
    }

    parent = op->path;
    parent.ntokens = op->path.ntokens ? op->path.ntokens - 1 : 0;

    switch (op->op) {

    case NGX_API_LED_JSON_OP_SET:
        value = ngx_api_led_json_value_get(fz->r, &op->value);
        if (value == NULL) {
            abort();
        }

        rc = ngx_api_led_json_set(doc, &op->path, json_incref(value));

        if (rc == NGX_OK && plain(&op->path)
            && !fz_json_equal(ngx_api_led_json_get(*doc, &op->path), value))
        {
            failed("set P V, but get(P) is not V", line, before, *doc);
        }

        json_decref(value);
        break;

    case NGX_API_LED_JSON_OP_REMOVE:
        p = ngx_api_led_json_get(*doc, &parent);
        rc = ngx_api_led_json_remove(*doc, &op->path);

        if (rc == NGX_OK && plain(&op->path) && json_is_object(p)
            && ngx_api_led_json_get(*doc, &op->path) != NULL)
        {
            failed("remove P, but get(P) is still there", line, before,
                   *doc);
        }

        break;

    case NGX_API_LED_JSON_OP_RENAME:
        v = ngx_api_led_json_get(*doc, &op->path);
        v = v ? json_deep_copy(v) : NULL;

        if (op->name.len) {
            p = ngx_api_led_json_get(*doc, &parent);
            rc = ngx_api_led_json_rename(*doc, &op->path, &op->name);

            if (rc == NGX_OK && plain(&op->path)
                && !fz_json_equal(json_object_getn(p, (char *) op->name.data,
                                                   op->name.len),
                                  v))
            {
                failed("rename P N, but N is not P's value", line, before,
                       *doc);
            }

        } else {
            p = ngx_api_led_json_get(before, &parent);
            rc = ngx_api_led_json_move(doc, &op->path, &op->to);

            if (rc == NGX_OK && plain(&op->to)
                && !fz_json_equal(ngx_api_led_json_get(*doc, &op->to), v))
            {
                failed("move P Q, but get(Q) is not P's value", line, before,
                       *doc);
            }

            /* crashes/json_pointer/move-rollback-array, fixed */
            if (rc == NGX_DECLINED && !fz_json_equal(*doc, before)) {
                failed("move P Q does not fit, but the document changed",
                       line, before, *doc);
            }
        }

        json_decref(v);
        break;

    case NGX_API_LED_JSON_OP_WRAP:
        rc = ngx_api_led_json_wrap(doc, &op->path);

        if (rc == NGX_OK && plain(&op->path)
            && !fz_json_equal(ngx_api_led_json_get(*doc, &op->path), before))
        {
            failed("wrap P, but get(P) is not the document", line, before,
                   *doc);
        }

        break;

    default: /* NGX_API_LED_JSON_OP_KEEP */
        rc = ngx_api_led_json_op_apply(fz->r, op, doc, NULL);

        /* kept elements are renumbered: only paths without indexes */
        if (rc == NGX_OK && !indexed(line)) {
            v = json_deep_copy(*doc);

            if (ngx_api_led_json_op_apply(fz->r, op, doc, NULL) != NGX_OK
                || !fz_json_equal(v, *doc))
            {
                failed("keep twice is not keep once", line, v, *doc);
            }

            json_decref(v);
        }

        break;
    }

    /* crashes/json_pointer/pointer-not-utf8-500, fixed: refused at -t */
    if (rc == NGX_ERROR) {
        failed("the operation failed (NGX_ERROR: a 500 for the request)",
               line, before, *doc);
    }

    json_decref(before);

    return check_text(fz, *doc, line);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                    *p, *end, err[160];
    json_t                    *doc;
    fz_t                       fz;
    ngx_str_t                  line;
    ngx_uint_t                 i;
    ngx_array_t                ops, lines;
    ngx_str_t                 *ln;
    ngx_api_led_json_op_t     *op;
    ngx_api_led_json_arena_t  *arena, *prev;

    input = data;
    input_size = size;

    fz_begin(&fz);

    p = (u_char *) data;
    end = p + size;

    if (!fz_next(&p, end, '\n', &line)) {
        fz_end(&fz);
        return 0;
    }

    doc = NULL;
    if (ngx_api_led_json_parse(line.data, line.len, 0, &doc, err,
                               sizeof(err))
        != NGX_OK)
    {
        fz_end(&fz);
        return 0;
    }

    /* compile the operations first, as nginx -t does */

    fz_json_ops(&fz, &p, end, 1, &ops, &lines);

    fz_request(&fz);

    /* a document of the request's own, as the transformations parse it */

    arena = NULL;
    prev = NULL;

    if (size & 1) {
        arena = ngx_api_led_json_arena_create(fz.pool);
        if (arena == NULL) {
            abort();
        }

        prev = ngx_api_led_json_arena_enter(arena);

        json_decref(doc);
        doc = NULL;

        p = (u_char *) data;
        (void) fz_next(&p, end, '\n', &line);

        if (ngx_api_led_json_parse_pool(fz.pool, line.data, line.len, &doc,
                                        err, sizeof(err))
            != NGX_OK)
        {
            abort();
        }
    }

    op = ops.elts;
    ln = lines.elts;

    for (i = 0; i < ops.nelts; i++) {
        if (run(&fz, &op[i], &doc, &ln[i]) != NGX_OK) {
            break;
        }
    }

    json_decref(doc);

    if (arena) {
        ngx_api_led_json_arena_leave(prev);
    }

    ngx_str_set(&fz_variable_value, "value");

    fz_end(&fz);

    return 0;
}
