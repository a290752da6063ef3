
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Light documents (ngx_api_led_json.h, "Light documents"): the
 * transformations' fast path against the tree it stands in for, one input
 * through both.  The input is json_pointer's:
 *
 *   {"a":[1,2]}            the document
 *   =text                  what $variables evaluate to
 *   set /a/- json:{"b":1}  operations, words separated by spaces: set,
 *   remove /a/0            remove, rename (a name or a pointer: move),
 *   rename /a /b/c         wrap; "keep", which the light path leaves to
 *   wrap /data             the tree (ngx_api_led_json_light_ops()), is
 *                          dropped
 *
 * The document is read by ngx_api_led_json_light_parse() and by the
 * tree's ngx_api_led_json_parse_pool() (in a pool arena window for inputs
 * of odd length, as the transformations do); each operation, compiled
 * once (ngx_api_led_json_op_compile() and _light_op_compile(), as the
 * transformations' directive does at nginx -t), runs on both:
 * ngx_api_led_json_light_op_value() (_light_op_apply() for a constant's
 * set) and what ngx_api_led_json_op_apply() calls (_set, _remove,
 * _rename, _move, _wrap).  A set's value is
 * evaluated once, outside the window, for the tree; a constant's light
 * value is the one compiled for it (op->light), set by
 * ngx_api_led_json_light_op_apply() as the transformations do; a
 * variable's goes to the light side as a deep copy of its own (released
 * by it: ASan sees a node that kept a pointer into it; made here:
 * json_deep_copy() cuts member names at a NUL byte).  The document line
 * is copied into an allocation of its own size (light nodes point into
 * the text: ASan sees a read past it).  Properties:
 *
 *   - light parse NGX_OK => the tree parses the text too;
 *   - the light parse declines a document the tree takes only for a reason
 *     the header gives: a member name repeated, an object of more than
 *     NGX_API_LED_JSON_LIGHT_MEMBERS members, a text over
 *     NGX_API_LED_JSON_LIGHT_MAX bytes (a fast path not taken, no wrong
 *     text, but the contract says what goes to the tree);
 *   - parse and dump, no operation: the same bytes from both serializers;
 *   - after every operation: the same bytes from both serializers, and
 *     the same outcome (NGX_OK, or NGX_DECLINED: the path does not fit;
 *     ngx_api_led_json_light_op_apply() says NGX_OK for both), never
 *     NGX_ERROR (a 500 for the request);
 *   - no ASan or UBSan report;
 *   - the streamed rewrite (ngx_api_led_json_stream_run(), where the list
 *     compiles to a plan, max as the transformations give it): NGX_OK
 *     only where the light parse took the text, and then the light
 *     document's text after all the operations, byte for byte; never
 *     NGX_ERROR.
 *
 * Found: crashes/json_light/set-any-nul-name, set-constant-nul-name (a
 * member name with a NUL byte cut by the tree's copies, kept by the
 * light path), fixed in daec041.
 */


#include "harness.h"
#include "ngx_api_led_json.h"


#define MAX_TEXT  65536


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
failed(const char *what, ngx_str_t *line, ngx_int_t rc_tree,
    ngx_str_t *tree, ngx_int_t rc_light, ngx_str_t *light)
{
    fz_dump("input", input, input_size);

    if (line) {
        fz_dump("operation", line->data, line->len);
        fprintf(stderr, "tree: %d, light: %d (0 NGX_OK, -5 NGX_DECLINED, "
                "-1 NGX_ERROR)\n", (int) rc_tree, (int) rc_light);
    }

    if (tree) {
        fz_dump("tree text", tree->data, tree->len);
    }

    if (light) {
        fz_dump("light text", light->data, light->len);
    }

    fz_fail("%s", what);
}


/*
 * A deep copy that keeps member names whole (json_deep_copy() of jansson
 * 2.14 sets them with json_object_set_new_nocheck(): up to a NUL byte).
 */

static json_t *
copy_value(json_t *v)
{
    size_t       i, len;
    json_t      *copy, *m, *c;
    const char  *key;

    if (json_is_object(v)) {
        copy = json_object();
        if (copy == NULL) {
            return NULL;
        }

        json_object_keylen_foreach(v, key, len, m) {
            c = copy_value(m);
            if (c == NULL
                || json_object_setn_new_nocheck(copy, key, len, c) != 0)
            {
                json_decref(copy);
                return NULL;
            }
        }

        return copy;
    }

    if (json_is_array(v)) {
        copy = json_array();
        if (copy == NULL) {
            return NULL;
        }

        for (i = 0; i < json_array_size(v); i++) {
            c = copy_value(json_array_get(v, i));
            if (c == NULL || json_array_append_new(copy, c) != 0) {
                json_decref(copy);
                return NULL;
            }
        }

        return copy;
    }

    /* a string's copy keeps its length (and a number text's mark) */
    return json_copy(v);
}


/* the most members an object of the document has */

static size_t
widest(json_t *json)
{
    void    *iter;
    size_t   i, n, m;

    n = 0;

    if (json_is_object(json)) {
        n = json_object_size(json);

        for (iter = json_object_iter(json);
             iter;
             iter = json_object_iter_next(json, iter))
        {
            m = widest(json_object_iter_value(iter));
            n = ngx_max(n, m);
        }

    } else if (json_is_array(json)) {
        for (i = 0; i < json_array_size(json); i++) {
            m = widest(json_array_get(json, i));
            n = ngx_max(n, m);
        }
    }

    return n;
}


/*
 * The light parse declined a document: the tree must refuse it, or the
 * header give the reason.  Before any arena window: a parse of its own.
 */

static void
check_declined(ngx_str_t *text)
{
    u_char     err[NGX_API_LED_JSON_ERRLEN];
    json_t    *doc;
    ngx_int_t  rc;

    if (text->len > NGX_API_LED_JSON_LIGHT_MAX) {
        return;
    }

    doc = NULL;
    rc = ngx_api_led_json_parse(text->data, text->len,
                                NGX_API_LED_JSON_UNIQUE, &doc, err,
                                sizeof(err));

    if (rc != NGX_OK) {
        /* invalid, too deep, a duplicate name */
        return;
    }

    if (widest(doc) <= NGX_API_LED_JSON_LIGHT_MEMBERS) {
        failed("the light parse declined a document the tree takes, "
               "for no reason the header gives", NULL, 0, NULL, 0, NULL);
    }

    json_decref(doc);
}


/* what ngx_api_led_json_op_apply() calls, its outcome kept */

static ngx_int_t
tree_op(ngx_api_led_json_op_t *op, json_t *value, json_t **doc)
{
    switch (op->op) {

    case NGX_API_LED_JSON_OP_SET:
        return ngx_api_led_json_set(doc, &op->path, value);

    case NGX_API_LED_JSON_OP_REMOVE:
        return ngx_api_led_json_remove(*doc, &op->path);

    case NGX_API_LED_JSON_OP_RENAME:
        if (op->name.len) {
            return ngx_api_led_json_rename(*doc, &op->path, &op->name);
        }

        return ngx_api_led_json_move(doc, &op->path, &op->to);

    default: /* NGX_API_LED_JSON_OP_WRAP */
        return ngx_api_led_json_wrap(doc, &op->path);
    }
}


/*
 * Both serializers, compared.  NGX_DECLINED: the document grew past
 * MAX_TEXT (a "set" through "*" fans out), the rest of the input is
 * skipped to keep the runs fast.
 */

static ngx_int_t
compare(fz_t *fz, json_t *doc, ngx_api_led_json_light_t *light,
    ngx_str_t *line, ngx_int_t rc_tree, ngx_int_t rc_light)
{
    ngx_str_t  t, l;

    if (ngx_api_led_json_dump(fz->pool, doc, 64, &t) != NGX_OK
        || ngx_api_led_json_light_dump(fz->pool, light, 64, &l) != NGX_OK)
    {
        abort();
    }

    if (t.len != l.len || ngx_memcmp(t.data, l.data, t.len) != 0) {

        failed(line ? "the light document's text is not the tree's after "
                      "the same operations"
                    : "the light document's text is not the tree's "
                      "(parsed, no operation)",
               line, rc_tree, &t, rc_light, &l);
    }

    if (line && (rc_tree != rc_light || rc_tree == NGX_ERROR)) {
        failed(rc_tree == NGX_ERROR || rc_light == NGX_ERROR
               ? "an operation failed (NGX_ERROR: a 500 for the request)"
               : "the same operation fits one document and not the other",
               line, rc_tree, &t, rc_light, &l);
    }

    ngx_pfree(fz->pool, t.data);
    ngx_pfree(fz->pool, l.data);

    return t.len > MAX_TEXT ? NGX_DECLINED : NGX_OK;
}


static ngx_int_t
run(fz_t *fz, ngx_api_led_json_op_t *op, json_t **doc,
    ngx_api_led_json_light_t **light, ngx_str_t *line)
{
    json_t                    *value, *copy;
    ngx_int_t                  rc_tree, rc_light;
    ngx_api_led_json_arena_t  *arena;

    value = NULL;
    copy = NULL;
    rc_light = NGX_ERROR;

    if (op->op == NGX_API_LED_JSON_OP_SET) {
        /* once, outside any window, as ngx_api_led_json_op_apply() does */
        arena = ngx_api_led_json_arena_enter(NULL);

        value = ngx_api_led_json_value_get(fz->r, &op->value);
        if (value == NULL) {
            abort();
        }

        if (op->light) {
            /* a constant: its light value, as the transformations set it */
            rc_light = ngx_api_led_json_light_op_apply(fz->r, op, light,
                                                       NULL);

        } else {
            copy = copy_value(value);
            if (copy == NULL) {
                abort();
            }
        }

        ngx_api_led_json_arena_leave(arena);
    }

    if (op->light == NULL) {
        rc_light = ngx_api_led_json_light_op_value(fz->pool, op, copy, light,
                                                    NULL);
    }

    rc_tree = tree_op(op, value, doc);

    if (op->light && rc_tree == NGX_DECLINED) {
        /* ngx_api_led_json_light_op_apply(): skipped is NGX_OK */
        rc_tree = NGX_OK;
    }

    return compare(fz, *doc, *light, line, rc_tree, rc_light);
}


/*
 * The streamed rewrite of the text by the whole list (NULL: the list
 * compiles to no plan): NGX_OK and "out", or what it declined with.
 */

static ngx_int_t
stream(fz_t *fz, ngx_array_t *ops, ngx_str_t *text, ngx_str_t *out)
{
    ngx_int_t                   rc;
    ngx_uint_t                  i;
    ngx_api_led_json_op_t      *op, **list;
    ngx_api_led_json_stream_t  *st;

    op = ops->elts;

    list = ngx_palloc(fz->pool, (ops->nelts + 1) * sizeof(void *));
    if (list == NULL) {
        abort();
    }

    for (i = 0; i < ops->nelts; i++) {
        list[i] = &op[i];
    }

    if (ngx_api_led_json_stream_compile(fz->pool, list, ops->nelts, &st)
        != NGX_OK)
    {
        abort();
    }

    if (st == NULL) {
        return NGX_ABORT;
    }

    rc = ngx_api_led_json_stream_run(fz->pool, st, text->data, text->len,
                                     NGX_API_LED_JSON_MEMORY_FACTOR * text->len
                                     + NGX_API_LED_JSON_MEMORY_EXTRA, out);

    if (rc == NGX_ERROR) {
        failed("the streamed rewrite failed (NGX_ERROR: a 500 for the "
               "request)", NULL, 0, NULL, 0, NULL);
    }

    return rc;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                    *p, *end, err[NGX_API_LED_JSON_ERRLEN];
    json_t                    *doc;
    fz_t                       fz;
    ngx_str_t                  line, text, streamed, done;
    ngx_int_t                  rc, rc_stream;
    ngx_uint_t                 i, n;
    ngx_array_t                ops, lines;
    ngx_str_t                 *ln;
    ngx_api_led_json_op_t     *op;
    ngx_api_led_json_light_t  *light;
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

    /* the text alone in its allocation: a read past it is seen */

    text.len = line.len;
    text.data = ngx_pnalloc(fz.pool, ngx_max(text.len, 1));
    if (text.data == NULL) {
        abort();
    }

    ngx_memcpy(text.data, line.data, line.len);

    light = NULL;
    rc = ngx_api_led_json_light_parse(fz.pool, text.data, text.len, &light);

    if (rc == NGX_ERROR) {
        abort();
    }

    /* the operations, as nginx -t compiles them; "keep" dropped */

    fz_json_ops(&fz, &p, end, 0, &ops, &lines);

    /* the light constant of a set, as the transformations' directive */

    op = ops.elts;

    for (n = 0; n < ops.nelts; n++) {
        if (ngx_api_led_json_light_op_compile(fz.cf, &op[n]) != NGX_CONF_OK) {
            abort();
        }
    }

    rc_stream = stream(&fz, &ops, &text, &streamed);

    if (rc != NGX_OK) {
        if (rc_stream == NGX_OK) {
            failed("the streamed rewrite took a text the light parse "
                   "declines", NULL, 0, NULL, 0, NULL);
        }

        check_declined(&text);

        /* "=text" pointed into this input */
        ngx_str_set(&fz_variable_value, "value");

        fz_end(&fz);
        return 0;
    }

    fz_request(&fz);

    /* the tree, as the transformations parse it */

    arena = NULL;
    prev = NULL;

    if (size & 1) {
        arena = ngx_api_led_json_arena_create(fz.pool);
        if (arena == NULL) {
            abort();
        }

        prev = ngx_api_led_json_arena_enter(arena);
    }

    doc = NULL;
    rc = ngx_api_led_json_parse_pool(fz.pool, text.data, text.len, &doc, err,
                                     sizeof(err));

    if (rc != NGX_OK) {
        fprintf(stderr, "the tree: %s\n", err);
        failed("the light parse took a document the tree refuses", NULL, 0,
               NULL, 0, NULL);
    }

    if (compare(&fz, doc, light, NULL, NGX_OK, NGX_OK) == NGX_OK) {

        op = ops.elts;
        ln = lines.elts;

        for (i = 0; i < ops.nelts; i++) {
            if (run(&fz, &op[i], &doc, &light, &ln[i]) != NGX_OK) {
                break;
            }
        }

        if (i == ops.nelts && rc_stream == NGX_OK) {
            if (ngx_api_led_json_light_dump(fz.pool, light, 64, &done)
                != NGX_OK)
            {
                abort();
            }

            if (done.len != streamed.len
                || ngx_memcmp(done.data, streamed.data, done.len) != 0)
            {
                failed("the streamed rewrite's text is not the light "
                       "document's after the same operations", NULL, 0,
                       &streamed, 0, &done);
            }
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
