
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Compositions (compose/): templates and placeholder encoding, and the
 * merged answers.  The input is:
 *
 *   deep conflict=last               arguments of api_led_compose_merge
 *                                    (an empty line: the default)
 *   a GET /a?q={b/x} optional;       the body of an api_led_compose block,
 *   b /b/{c/id} body={"v":{c}};      read by nginx's tokenizer and the
 *   c /c;                            module's block handler, up to "}"
 *   }
 *   value                            what every $variable evaluates to
 *   {"id":"7"}                       the answer of part 0, of part 1 ...
 *
 * Every part's URI and body template is rendered with the answers of the
 * parts (ngx_api_led_tmpl_render(), json/ngx_api_led_json_tmpl.c, with
 * the composition's documents), and the answers are merged
 * (namespaced or deep).  Properties:
 *
 *   - a placeholder in a URI renders only unreserved characters and %XX,
 *     and decodes back to the value; in the path it is never empty and
 *     never holds a "/";
 *   - a placeholder in a body renders JSON that parses back to the value;
 *   - a variable in a body, written inside a JSON string, reads back as
 *     the variable's value;
 *   - the merged answer is JSON that the module's parser reads back (deep:
 *     unless the parts conflict and conflict=error).
 */


#include "harness.h"

/* the renderer is the request path's: the file is included */
#include "ngx_api_led_compose_run.c"


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static const uint8_t  *input;
static size_t          input_size;

static ngx_module_t  *modules[] = { &ngx_api_led_compose_module, NULL };

/* what the composition's configuration touches: the API, the catalog */
extern ngx_module_t  ngx_api_led_observe_module;

static ngx_module_t  *confs[] = {
    &ngx_api_led_module, &ngx_api_led_observe_module,
    &ngx_api_led_compose_module, NULL
};


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fz_init();
    return 0;
}


static void
failed(const char *what, ngx_str_t *tmpl, ngx_str_t *out)
{
    fz_dump("input", input, input_size);

    if (tmpl) {
        fz_dump("template", tmpl->data, tmpl->len);
    }

    if (out) {
        fz_dump("rendered", out->data, out->len);
    }

    fz_fail("%s", what);
}


/* one segment on its own, with what it must render */

static void
check_segment(ngx_api_led_compose_t *cmp, ngx_api_led_compose_seg_t *seg,
    ngx_uint_t body)
{
    u_char                     err[160], *p, *last, *d, *src;
    json_t                    *doc, *v, *back, *want;
    ngx_int_t                  rc;
    ngx_str_t                  out, why, text, src_text;
    ngx_array_t                segs;
    ngx_http_variable_value_t  *vv;
    ngx_api_led_compose_docs_t  docs;

    segs.elts = seg;
    segs.nelts = 1;

    docs.cmp = cmp;
    docs.item = NULL;

    rc = ngx_api_led_tmpl_render(cmp->request, &segs, body,
                                 ngx_api_led_compose_doc, &docs, &out, &why);

    if (rc == NGX_ERROR) {
        failed("render failed", &seg->text, NULL);
    }

    if (rc != NGX_OK) {
        return;
    }

    if (seg->type == NGX_API_LED_SEG_VAR && body) {
        vv = ngx_http_get_indexed_variable(cmp->request, seg->index);
        if (vv == NULL || vv->not_found) {
            return;
        }

        /* rendered, so it reads back (crashes/template/variable-not-
           utf8-in-body: it did not, the renderer now refuses it) */

        text.data = ngx_pnalloc(cmp->request->pool, out.len + 2);
        if (text.data == NULL) {
            abort();
        }

        p = text.data;
        *p++ = '"';
        p = ngx_cpymem(p, out.data, out.len);
        *p++ = '"';
        text.len = p - text.data;

        back = NULL;
        if (ngx_api_led_json_parse(text.data, text.len, 0, &back, err,
                                   sizeof(err))
            != NGX_OK
            || json_string_length(back) != vv->len
            || ngx_memcmp(json_string_value(back), vv->data, vv->len) != 0)
        {
            failed("a variable in a body does not read back", &seg->text,
                   &out);
        }

        json_decref(back);
        return;
    }

    if (seg->type != NGX_API_LED_SEG_PLACEHOLDER) {
        return;
    }

    doc = ngx_api_led_compose_doc(&docs, seg);
    v = ngx_api_led_json_get(doc, &seg->path);

    if (body && seg->in_string) {
        /* inside a string: a string's text, or another value's JSON text */

        text.data = ngx_pnalloc(cmp->request->pool, out.len + 2);
        if (text.data == NULL) {
            abort();
        }

        p = text.data;
        *p++ = '"';
        p = ngx_cpymem(p, out.data, out.len);
        *p++ = '"';
        text.len = p - text.data;

        if (ngx_api_led_json_is_text(v)) {
            want = json_incref(v);

        } else {
            if (ngx_api_led_json_dump(cmp->request->pool, v, 16, &src_text)
                != NGX_OK)
            {
                abort();
            }

            want = json_stringn((char *) src_text.data, src_text.len);
        }

        back = NULL;
        if (ngx_api_led_json_parse(text.data, text.len, 0, &back, err,
                                   sizeof(err))
            != NGX_OK
            || !fz_json_equal(back, want))
        {
            failed("a placeholder in a string does not read back",
                   &seg->text, &out);
        }

        json_decref(want);
        json_decref(back);
        return;
    }

    if (body) {
        back = NULL;
        if (ngx_api_led_json_parse(out.data, out.len, 0, &back, err,
                                   sizeof(err))
            != NGX_OK
            || !fz_json_equal(back, v))
        {
            failed("a placeholder in a body does not read back", &seg->text,
                   &out);
        }

        json_decref(back);
        return;
    }

    /* in a URI: unreserved characters and %XX only, decoding to the value */

    if (ngx_api_led_json_is_text(v)) {
        text.data = (u_char *) json_string_value(v);
        text.len = json_string_length(v);

    } else if (ngx_api_led_json_dump(cmp->request->pool, v, 16, &text)
               != NGX_OK)
    {
        abort();
    }

    if (!seg->in_args
        && (text.len == 0
            || ngx_strlchr(text.data, text.data + text.len, '/')))
    {
        failed("an empty value or a \"/\" in a path", &seg->text, &out);
    }

    d = ngx_pnalloc(cmp->request->pool, out.len + 1);
    if (d == NULL) {
        abort();
    }

    last = out.data + out.len;

    for (p = out.data; p < last; p++) {
        if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~')
        {
            continue;
        }

        if (*p == '%' && last - p >= 3 && isxdigit(p[1]) && isxdigit(p[2])) {
            p += 2;
            continue;
        }

        failed("a placeholder in a URI renders a reserved character",
               &seg->text, &out);
    }

    p = d;
    src = out.data;
    ngx_unescape_uri(&p, &src, out.len, 0);

    if ((size_t) (p - d) != text.len || ngx_memcmp(d, text.data, text.len))
    {
        failed("a placeholder in a URI does not decode to its value",
               &seg->text, &out);
    }
}


static void
check_merge(ngx_api_led_compose_t *cmp)
{
    u_char                    err[160];
    json_t                   *doc;
    ngx_int_t                 rc;
    ngx_str_t                 text;
    ngx_buf_t                *b;
    ngx_uint_t                i;

    if (cmp->conf->merge == NGX_API_LED_MERGE_DEEP) {
        for (i = 0; i < cmp->nparts; i++) {
            if (!json_is_object(cmp->parts[i].json)) {
                cmp->parts[i].state = NGX_API_LED_PART_FAILED;
            }
        }

        rc = ngx_api_led_compose_deep(cmp, &b);

    } else {
        rc = ngx_api_led_compose_namespaced(cmp, &b);
    }

    if (rc == NGX_DECLINED
        && cmp->conf->merge == NGX_API_LED_MERGE_DEEP
        && cmp->conf->conflict == NGX_API_LED_CONFLICT_ERROR)
    {
        return;
    }

    if (rc != NGX_OK) {
        failed("the merge failed", NULL, NULL);
    }

    text.data = b->pos;
    text.len = b->last - b->pos;

    doc = NULL;
    rc = ngx_api_led_json_parse(text.data, text.len, 0, &doc, err,
                                sizeof(err));

    /* crashes/template/namespaced-deeper-than-parser: fixed on main */

    if (rc != NGX_OK) {
        failed("the merged answer does not parse", NULL, &text);
    }

    json_decref(doc);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                           *p, *end, err[160];
    fz_t                              fz;
    ngx_buf_t                        *b;
    ngx_str_t                         line, why, *arg;
    ngx_uint_t                        i, j, k;
    ngx_array_t                      *segs;
    ngx_module_t                    **m;
    ngx_command_t                    *cmd;
    ngx_api_led_compose_t            *cmp;
    ngx_api_led_compose_part_t       *part;
    ngx_api_led_compose_seg_t        *seg;
    ngx_api_led_json_arena_t         *prev;
    ngx_api_led_compose_conf_t       *comp;
    ngx_api_led_compose_docs_t        docs;
    ngx_api_led_compose_loc_conf_t   *lcf;
    ngx_api_led_compose_part_conf_t  *pc;

    input = data;
    input_size = size;

    p = (u_char *) data;
    end = p + size;

    if (!fz_next(&p, end, '\n', &line) || p > end) {
        return 0;
    }

    fz_begin(&fz);

    for (m = confs; *m; m++) {
        if (fz_conf_create(&fz, *m) != NGX_CONF_OK) {
            abort();
        }
    }

    lcf = fz_loc_conf(&fz, &ngx_api_led_compose_module);

    /* api_led_compose_merge ARGS; */

    if (line.len) {
        u_char  merge[256];

        if (line.len > 200) {
            fz_end(&fz);
            return 0;
        }

        k = ngx_sprintf(merge, "api_led_compose_merge %V;", &line) - merge;

        if (fz_conf_text(&fz, modules, merge, k) != NGX_CONF_OK) {
            fz_end(&fz);
            return 0;
        }
    }

    /* api_led_compose { ... } */

    for (cmd = ngx_api_led_compose_module.commands; cmd->name.len; cmd++) {
        if (ngx_strcmp(cmd->name.data, "api_led_compose") == 0) {
            break;
        }
    }

    fz.cf->args->nelts = 0;
    arg = ngx_array_push(fz.cf->args);
    if (arg == NULL) {
        abort();
    }

    ngx_str_set(arg, "api_led_compose");

    fz_conf_buffer(&fz, p, end - p);

    if (cmd->set(fz.cf, cmd, lcf) != NGX_CONF_OK) {
        fz_end(&fz);
        return 0;
    }

    for (m = confs; *m; m++) {
        if (fz_conf_init(&fz, *m) != NGX_CONF_OK) {
            fz_end(&fz);
            return 0;
        }
    }

    /* what follows the block: the variables' value, the answers */

    b = fz.cf->conf_file->buffer;
    p = b->pos;
    end = b->last;

    if (p < end && *p == '\n') {
        p++;
    }

    if (fz_next(&p, end, '\n', &line)) {
        fz_variable_value = line;
    }

    fz_request(&fz);

    cmp = ngx_pcalloc(fz.pool, sizeof(ngx_api_led_compose_t));
    if (cmp == NULL) {
        abort();
    }

    comp = lcf->compositions->elts;

    cmp->request = fz.r;
    cmp->conf = lcf;
    cmp->comp = comp;
    cmp->nparts = comp->parts->nelts;
    cmp->parts = ngx_pcalloc(fz.pool,
                             cmp->nparts * sizeof(ngx_api_led_compose_part_t));
    if (cmp->parts == NULL) {
        abort();
    }

    pc = comp->parts->elts;

    for (i = 0; i < cmp->nparts; i++) {
        part = &cmp->parts[i];
        part->conf = &pc[i];
        part->compose = cmp;
        part->status = NGX_HTTP_OK;
        part->state = NGX_API_LED_PART_FAILED;

        if (!fz_next(&p, end, '\n', &line)) {
            continue;
        }

        part->body = line.data;
        part->len = line.len;

        if (ngx_api_led_compose_part_json(cmp, part, err, sizeof(err))
            == NGX_OK
            && ngx_api_led_json_validate(line.data, line.len) == NGX_OK)
        {
            part->state = NGX_API_LED_PART_OK;
        }
    }

    /* every template of every part, whole and segment by segment */

    for (i = 0; i < cmp->nparts; i++) {
        for (k = 0; k < 2; k++) {
            segs = (k == 0) ? &pc[i].uri : pc[i].body;

            if (segs == NULL) {
                continue;
            }

            docs.cmp = cmp;
            docs.item = NULL;

            if (ngx_api_led_tmpl_render(fz.r, segs, k,
                                        ngx_api_led_compose_doc, &docs,
                                        &line, &why)
                == NGX_ERROR)
            {
                failed("render failed", NULL, NULL);
            }

            seg = segs->elts;

            for (j = 0; j < segs->nelts; j++) {
                check_segment(cmp, &seg[j], k);
            }
        }
    }

    check_merge(cmp);

    /* the documents live in the arena: released with the pool */

    if (cmp->arena) {
        prev = ngx_api_led_json_arena_enter(cmp->arena);

        for (i = 0; i < cmp->nparts; i++) {
            json_decref(cmp->parts[i].json);
        }

        ngx_api_led_json_arena_leave(prev);
    }

    ngx_str_set(&fz_variable_value, "value");

    fz_end(&fz);

    return 0;
}
