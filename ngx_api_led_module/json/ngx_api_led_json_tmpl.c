
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Templates: a URI or a JSON document with placeholders, compiled at
 * configuration time into segments (text, nginx variables, regex
 * captures, placeholders) and rendered for each use.  The one template
 * language of the module: a composition's parts (their URI and body) and
 * the data of events use it.
 *
 * A URI is text with $variables and {NAME/pointer} placeholders.  A body
 * is a JSON document in which a placeholder may stand for a value
 * ({"id":{record/id}}) and nginx variables and placeholders may stand
 * inside strings ("{record/first} {record/last}"); the module's JSON
 * parser reads it (ngx_api_led_json_scan()), showing this file where a
 * value stands and each string, so that a template that is not JSON,
 * UTF-8 in its strings included, fails nginx -t.  What a
 * placeholder's NAME means (a part, the client's body, the response) is
 * the user's: it sets seg->index once compiled and gives the documents
 * when rendering.
 */


#include "ngx_api_led_json.h"


/* how a rendered value is copied into a URI or a body */
#define NGX_API_LED_COPY_RAW           0
#define NGX_API_LED_COPY_JSON_ESCAPE   1
#define NGX_API_LED_COPY_URI_ESCAPE    2


typedef struct {
    ngx_str_t                         value;
    ngx_uint_t                        copy;
    u_char                           *dump;      /* the serializer's
                                                    text, given back once
                                                    copied; NULL: none */
} ngx_api_led_tmpl_value_t;


typedef struct {
    ngx_conf_t                       *cf;
    ngx_str_t                        *src;
    const char                       *what;      /* for messages */
    ngx_str_t                        *name;
    ngx_array_t                      *segs;
    u_char                           *text;      /* text not yet in a seg */
} ngx_api_led_tmpl_json_t;


static ngx_api_led_tmpl_seg_t *ngx_api_led_tmpl_seg_add(
    ngx_array_t *segs, ngx_uint_t type);
static ngx_int_t ngx_api_led_tmpl_flush(ngx_array_t *segs, u_char *text,
    u_char *p);
static u_char *ngx_api_led_tmpl_is_placeholder(u_char *p, u_char *last);
static u_char *ngx_api_led_tmpl_variable(ngx_conf_t *cf, ngx_str_t *src,
    u_char *p, u_char *last, ngx_array_t *segs, ngx_uint_t in_args,
    ngx_uint_t in_string);
static u_char *ngx_api_led_tmpl_placeholder(ngx_conf_t *cf, u_char *p,
    u_char *last, ngx_array_t *segs, ngx_uint_t in_args,
    ngx_uint_t in_string, ngx_uint_t json);
static ngx_int_t ngx_api_led_tmpl_json_value(void *data, u_char *p,
    u_char *end, u_char **next);
static ngx_int_t ngx_api_led_tmpl_json_string(void *data, u_char *p,
    u_char *end, ngx_uint_t name);
static void ngx_api_led_tmpl_json_error(ngx_api_led_tmpl_json_t *t,
    u_char *p, const char *what);
static ngx_int_t ngx_api_led_tmpl_render_error(ngx_http_request_t *r,
    ngx_api_led_tmpl_seg_t *seg, const char *what, ngx_str_t *err);
static ngx_int_t ngx_api_led_tmpl_text_error(ngx_str_t *err);


/*
 * A URI template: text, $variable / ${variable}, $N captures, and
 * {PART} / {PART/json/pointer} placeholders.  A "{" that does not start
 * a placeholder is text.
 */

ngx_int_t
ngx_api_led_tmpl_uri(ngx_conf_t *cf, ngx_str_t *src,
    ngx_array_t *segs)
{
    u_char      *p, *last, *text, *next;
    ngx_uint_t   in_args;

    p = src->data;
    last = src->data + src->len;
    text = p;
    in_args = 0;

    while (p < last) {

        if (*p == '?') {
            in_args = 1;
            p++;
            continue;
        }

        if (*p == '$' || ngx_api_led_tmpl_is_placeholder(p, last)) {

            if (ngx_api_led_tmpl_flush(segs, text, p) != NGX_OK) {
                return NGX_ERROR;
            }

            if (*p == '$') {
                next = ngx_api_led_tmpl_variable(cf, src, p, last, segs,
                                                    in_args, 0);
            } else {
                next = ngx_api_led_tmpl_placeholder(cf, p, last, segs,
                                                       in_args, 0, 0);
            }

            if (next == NULL) {
                return NGX_ERROR;
            }

            p = next;
            text = p;
            continue;
        }

        p++;
    }

    return ngx_api_led_tmpl_flush(segs, text, p);
}


/*
 * A body template: a JSON document (RFC 8259) where a placeholder may
 * stand for any value and, inside strings, nginx variables and
 * placeholders insert their text.  nginx variables outside strings are
 * refused: their text is not JSON (write "$arg_n" and convert later).
 * The grammar is the parser's; the hooks below cut the segments.
 */

ngx_int_t
ngx_api_led_tmpl_json(ngx_conf_t *cf, ngx_str_t *src, const char *what,
    ngx_str_t *name, ngx_array_t *segs)
{
    u_char                    err[NGX_API_LED_JSON_ERRLEN];
    ngx_int_t                 rc;
    ngx_api_led_tmpl_json_t   t;
    ngx_api_led_json_hooks_t  hooks;

    t.cf = cf;
    t.src = src;
    t.what = what;
    t.name = name;
    t.segs = segs;
    t.text = src->data;

    hooks.value = ngx_api_led_tmpl_json_value;
    hooks.string = ngx_api_led_tmpl_json_string;
    hooks.data = &t;
    hooks.pos = NULL;

    rc = ngx_api_led_json_scan(src->data, src->len, &hooks, err,
                               sizeof(err));

    switch (rc) {

    case NGX_OK:
        return ngx_api_led_tmpl_flush(segs, t.text, src->data + src->len);

    case NGX_ERROR:
        /* a hook said why */
        return NGX_ERROR;

    default:
        ngx_api_led_tmpl_json_error(&t, hooks.pos, (char *) err);
        return NGX_ERROR;
    }
}


/* where a value stands: a placeholder, or JSON's own */

static ngx_int_t
ngx_api_led_tmpl_json_value(void *data, u_char *p, u_char *end,
    u_char **next)
{
    ngx_api_led_tmpl_json_t  *t = data;

    if (*p == '$') {
        ngx_api_led_tmpl_json_error(t, p, "an nginx variable outside a "
                                    "JSON string (write it inside quotes)");
        return NGX_ERROR;
    }

    if (!ngx_api_led_tmpl_is_placeholder(p, end)) {
        return NGX_DECLINED;
    }

    if (ngx_api_led_tmpl_flush(t->segs, t->text, p) != NGX_OK) {
        return NGX_ERROR;
    }

    *next = ngx_api_led_tmpl_placeholder(t->cf, p, end, t->segs, 0, 0, 1);
    if (*next == NULL) {
        return NGX_ERROR;
    }

    t->text = *next;

    return NGX_OK;
}


/*
 * A string's text between its quotes, as written (no escape holds a "$"
 * or a "{"): $variables are JSON-escaped at run time and placeholders
 * insert their value's text.  A member name takes no substitutions.
 */

static ngx_int_t
ngx_api_led_tmpl_json_string(void *data, u_char *p, u_char *end,
    ngx_uint_t name)
{
    ngx_api_led_tmpl_json_t  *t = data;

    u_char  *next;

    while (p < end) {

        if (*p == '$' && name) {
            ngx_api_led_tmpl_json_error(t, p,
                                        "a member name takes no variables");
            return NGX_ERROR;
        }

        if (*p != '$'
            && (name || !ngx_api_led_tmpl_is_placeholder(p, end)))
        {
            p++;
            continue;
        }

        if (ngx_api_led_tmpl_flush(t->segs, t->text, p) != NGX_OK) {
            return NGX_ERROR;
        }

        if (*p == '$') {
            next = ngx_api_led_tmpl_variable(t->cf, t->src, p, end, t->segs,
                                             0, 1);

        } else {
            next = ngx_api_led_tmpl_placeholder(t->cf, p, end, t->segs,
                                                0, 1, 1);
        }

        if (next == NULL) {
            return NGX_ERROR;
        }

        p = next;
        t->text = next;
    }

    return NGX_OK;
}


static void
ngx_api_led_tmpl_json_error(ngx_api_led_tmpl_json_t *t, u_char *p,
    const char *what)
{
    size_t   len;
    u_char  *last;

    last = t->src->data + t->src->len;
    len = ngx_min((size_t) (last - p), 16);

    ngx_conf_log_error(NGX_LOG_EMERG, t->cf, 0,
                       "%s \"%V\" is not JSON: %s at character %uz "
                       "(\"%*s\")", t->what, t->name, what,
                       (size_t) (p - t->src->data) + 1, len, p);
}


static ngx_api_led_tmpl_seg_t *
ngx_api_led_tmpl_seg_add(ngx_array_t *segs, ngx_uint_t type)
{
    ngx_api_led_tmpl_seg_t  *seg;

    seg = ngx_array_push(segs);
    if (seg == NULL) {
        return NULL;
    }

    ngx_memzero(seg, sizeof(ngx_api_led_tmpl_seg_t));
    seg->type = type;

    return seg;
}


/* the text from "text" to "p" becomes a segment */

static ngx_int_t
ngx_api_led_tmpl_flush(ngx_array_t *segs, u_char *text, u_char *p)
{
    ngx_api_led_tmpl_seg_t  *seg;

    if (p == text) {
        return NGX_OK;
    }

    seg = ngx_api_led_tmpl_seg_add(segs, NGX_API_LED_SEG_TEXT);
    if (seg == NULL) {
        return NGX_ERROR;
    }

    seg->text.data = text;
    seg->text.len = p - text;

    return NGX_OK;
}


/*
 * "{name}" or "{name/...}", the name a part name (letters, digits, "_",
 * "-", starting with a letter or "_"): the end of the placeholder's name,
 * else NULL (JSON's own brace, or text).
 */

static u_char *
ngx_api_led_tmpl_is_placeholder(u_char *p, u_char *last)
{
    u_char  *q;

    if (*p != '{' || p + 1 >= last || !(isalpha(p[1]) || p[1] == '_')) {
        return NULL;
    }

    for (q = p + 1; q < last && (isalnum(*q) || *q == '_' || *q == '-'); q++)
    {
        /* void */
    }

    if (q >= last || (*q != '/' && *q != '}')) {
        return NULL;
    }

    return q;
}


/* $name, ${name} or $N at "p"; returns what follows it */

static u_char *
ngx_api_led_tmpl_variable(ngx_conf_t *cf, ngx_str_t *src, u_char *p,
    u_char *last, ngx_array_t *segs, ngx_uint_t in_args, ngx_uint_t in_string)
{
    ngx_int_t                   index;
    ngx_str_t                   name;
    ngx_uint_t                  braced;
    ngx_api_led_tmpl_seg_t  *seg;

    p++;
    braced = 0;

    if (p < last && *p == '{') {
        braced = 1;
        p++;
    }

    name.data = p;

    while (p < last && (isalnum(*p) || *p == '_')) {
        p++;
    }

    name.len = p - name.data;

    if (braced) {
        if (p >= last || *p != '}') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "the closing bracket in \"%V\" "
                               "variable is missing", &name);
            return NULL;
        }

        p++;
    }

    if (name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid variable name in \"%V\"", src);
        return NULL;
    }

    seg = ngx_api_led_tmpl_seg_add(segs, NGX_API_LED_SEG_VAR);
    if (seg == NULL) {
        return NULL;
    }

    seg->in_args = in_args;
    seg->in_string = in_string;

    index = ngx_atoi(name.data, name.len);

    if (index != NGX_ERROR && name.len == 1) {
        seg->type = NGX_API_LED_SEG_CAPTURE;
        seg->index = index;
        return p;
    }

    index = ngx_http_get_variable_index(cf, &name);
    if (index == NGX_ERROR) {
        return NULL;
    }

    seg->index = index;

    return p;
}


/*
 * {PART} or {PART/json/pointer} at "p"; returns what follows it.  In a
 * JSON body the pointer holds no quote, backslash or control character,
 * so that a placeholder never spans the end of a string.
 */

static u_char *
ngx_api_led_tmpl_placeholder(ngx_conf_t *cf, u_char *p, u_char *last,
    ngx_array_t *segs, ngx_uint_t in_args, ngx_uint_t in_string,
    ngx_uint_t json)
{
    char                       *err;
    u_char                     *q;
    ngx_str_t                   ptr;
    ngx_api_led_tmpl_seg_t  *seg;

    q = ngx_api_led_tmpl_is_placeholder(p, last);

    seg = ngx_api_led_tmpl_seg_add(segs, NGX_API_LED_SEG_PLACEHOLDER);
    if (seg == NULL) {
        return NULL;
    }

    seg->name.data = p + 1;
    seg->name.len = q - (p + 1);
    seg->in_args = in_args;
    seg->in_string = in_string;

    ptr.data = q;

    while (q < last && *q != '}') {
        if (json && (*q == '"' || *q == '\\' || *q < 0x20)) {
            break;
        }

        q++;
    }

    if (q >= last || *q != '}') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unterminated placeholder \"%*s\"",
                           (size_t) (last - p), p);
        return NULL;
    }

    ptr.len = q - ptr.data;

    seg->text.data = p;
    seg->text.len = q + 1 - p;

    err = ngx_api_led_json_path_parse(cf->pool, &ptr, &seg->path);
    if (err) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid JSON Pointer \"%V\" in \"%V\": %s",
                           &ptr, &seg->text, err);
        return NULL;
    }

    return q + 1;
}


/*
 * Renders a URI or body template in a request: nginx variables and
 * captures, and placeholders from the documents "doc" gives for them (the
 * user's: finished parts, the client's body, the response).  In a body,
 * variables are JSON-escaped (they stand inside strings), a placeholder is
 * a JSON value, or inside a string its value's text, escaped; in a URI, a
 * placeholder must be a scalar and is percent-encoded, and in the path it
 * may not hold a "/".  NGX_DECLINED: a value is missing or unfit ("err"
 * says which, NUL-terminated).
 */

ngx_int_t
ngx_api_led_tmpl_render(ngx_http_request_t *r, ngx_array_t *segs,
    ngx_uint_t body, ngx_api_led_tmpl_doc_pt doc_of, void *data,
    ngx_str_t *out, ngx_str_t *err)
{
    return ngx_api_led_tmpl_render_vars(r, segs, body, doc_of, NULL, data,
                                        out, err);
}


ngx_int_t
ngx_api_led_tmpl_render_vars(ngx_http_request_t *r, ngx_array_t *segs,
    ngx_uint_t body, ngx_api_led_tmpl_doc_pt doc_of,
    ngx_api_led_tmpl_var_pt var_of, void *data, ngx_str_t *out,
    ngx_str_t *err)
{
    u_char                    *p;
    size_t                     len;
    json_t                    *doc, *v;
    ngx_uint_t                 i, k;
    ngx_api_led_tmpl_seg_t    *seg;
    ngx_api_led_tmpl_value_t  *val;
    ngx_http_variable_value_t *vv;

    seg = segs->elts;

    val = ngx_palloc(r->pool,
                     segs->nelts * sizeof(ngx_api_led_tmpl_value_t));
    if (val == NULL) {
        return NGX_ERROR;
    }

    len = 0;

    for (i = 0; i < segs->nelts; i++) {
        val[i].copy = NGX_API_LED_COPY_RAW;
        val[i].dump = NULL;

        switch (seg[i].type) {

        case NGX_API_LED_SEG_TEXT:
            val[i].value = seg[i].text;
            break;

        case NGX_API_LED_SEG_VAR:
            /*
             * The value the user took before, if any; else the value now.
             * A composition in a subrequest shares the variables' cache
             * with its parent and the other parts: a variable that says
             * not to be cached ($api_led_span_id) is evaluated again.
             */
            vv = var_of ? var_of(data, &seg[i]) : NULL;

            if (vv == NULL) {
                vv = ngx_http_get_flushed_variable(r, seg[i].index);
            }

            if (vv == NULL || vv->not_found) {
                ngx_str_null(&val[i].value);

            } else {
                val[i].value.data = vv->data;
                val[i].value.len = vv->len;
            }

            if (body) {
                if (!ngx_api_led_json_string_ok(val[i].value.data,
                                                val[i].value.len))
                {
                    return ngx_api_led_tmpl_text_error(err);
                }

                val[i].copy = NGX_API_LED_COPY_JSON_ESCAPE;
            }

            break;

        case NGX_API_LED_SEG_CAPTURE:
            k = 2 * seg[i].index;

            if (r->captures && k + 1 < r->ncaptures) {
                val[i].value.data = r->captures_data + r->captures[k];
                val[i].value.len = r->captures[k + 1] - r->captures[k];

            } else {
                ngx_str_null(&val[i].value);
            }

            if (body) {
                if (!ngx_api_led_json_string_ok(val[i].value.data,
                                                val[i].value.len))
                {
                    return ngx_api_led_tmpl_text_error(err);
                }

                val[i].copy = NGX_API_LED_COPY_JSON_ESCAPE;
            }

            break;

        default: /* NGX_API_LED_SEG_PLACEHOLDER */

            doc = doc_of(data, &seg[i]);

            v = doc ? ngx_api_led_json_get(doc, &seg[i].path) : NULL;

            if (v == NULL) {
                return ngx_api_led_tmpl_render_error(r, &seg[i],
                                                        " not found", err);
            }

            if (!body && ngx_api_led_json_is_text(v)) {
                val[i].value.data = (u_char *) json_string_value(v);
                val[i].value.len = json_string_length(v);

                if (!seg[i].in_args
                    && (val[i].value.len == 0
                        || ngx_strlchr(val[i].value.data,
                                       val[i].value.data + val[i].value.len,
                                       '/')))
                {
                    return ngx_api_led_tmpl_render_error(r, &seg[i],
                                                " is not a URI value", err);
                }

                val[i].copy = NGX_API_LED_COPY_URI_ESCAPE;
                break;
            }

            if (!body && (json_is_object(v) || json_is_array(v))) {
                return ngx_api_led_tmpl_render_error(r, &seg[i],
                                                " is not a URI value", err);
            }

            if (ngx_api_led_json_dump(r->pool, v, 64, &val[i].value)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            val[i].dump = val[i].value.data;

            if (body && seg[i].in_string) {

                if (ngx_api_led_json_is_text(v)) {
                    /*
                     * The serializer's string without its quotes: its
                     * escapes (a lone surrogate the parser kept is one
                     * again, never bytes that are not UTF-8).
                     */
                    val[i].value.data++;
                    val[i].value.len -= 2;
                    break;
                }

                /* a number, literal, object or array as text */
                val[i].copy = NGX_API_LED_COPY_JSON_ESCAPE;

            } else if (!body) {
                /* a number's "+" (1e+300) is reserved in a query */
                val[i].copy = NGX_API_LED_COPY_URI_ESCAPE;
            }
        }

        switch (val[i].copy) {

        case NGX_API_LED_COPY_JSON_ESCAPE:
            len += val[i].value.len
                   + ngx_escape_json(NULL, val[i].value.data,
                                     val[i].value.len);
            break;

        case NGX_API_LED_COPY_URI_ESCAPE:
            len += val[i].value.len
                   + 2 * ngx_escape_uri(NULL, val[i].value.data,
                                        val[i].value.len,
                                        NGX_ESCAPE_URI_COMPONENT);
            break;

        default:
            len += val[i].value.len;
        }
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL && len) {
        return NGX_ERROR;
    }

    out->data = p;

    for (i = 0; i < segs->nelts; i++) {

        switch (val[i].copy) {

        case NGX_API_LED_COPY_JSON_ESCAPE:
            p = (u_char *) ngx_escape_json(p, val[i].value.data,
                                           val[i].value.len);
            break;

        case NGX_API_LED_COPY_URI_ESCAPE:
            p = (u_char *) ngx_escape_uri(p, val[i].value.data,
                                          val[i].value.len,
                                          NGX_ESCAPE_URI_COMPONENT);
            break;

        default:
            p = ngx_api_led_cpymem(p, val[i].value.data, val[i].value.len);
        }
    }

    out->len = p - out->data;

    /*
     * A large value's text, once copied, goes back at once: the rendered
     * text lives as long as the request (a call's body, each element of
     * a foreach= part), the serializer's copy of the value need not.
     */

    for (i = 0; i < segs->nelts; i++) {
        if (val[i].dump && val[i].value.len > r->pool->max) {
            ngx_pfree(r->pool, val[i].dump);
        }
    }

    return NGX_OK;
}


/*
 * A variable or capture in a body is written inside a JSON string: a
 * value that is not UTF-8 (ngx_escape_json() keeps its bytes) makes the
 * body invalid JSON, so the call or event is not made.
 */

static ngx_int_t
ngx_api_led_tmpl_text_error(ngx_str_t *err)
{
    ngx_str_set(err, "a variable's value is not UTF-8 text");

    return NGX_DECLINED;
}


/* "{record/id} not found": why a call does not run, NUL-terminated */

static ngx_int_t
ngx_api_led_tmpl_render_error(ngx_http_request_t *r,
    ngx_api_led_tmpl_seg_t *seg, const char *what, ngx_str_t *err)
{
    size_t  len;

    len = ngx_strlen(what);

    err->data = ngx_pnalloc(r->pool, seg->text.len + len + 1);
    if (err->data == NULL) {
        return NGX_ERROR;
    }

    err->len = ngx_sprintf(err->data, "%V%s%Z", &seg->text, what)
               - err->data - 1;

    return NGX_DECLINED;
}
