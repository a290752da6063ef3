
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Events (events/, publish/): an event's data template and its
 * CloudEvents envelope.  The input is lines:
 *
 *   order.created stream=orders data='{"id":{response/id},"u":"$x"}'
 *                                  arguments of api_led_event, read by
 *                                  nginx's tokenizer and the directive
 *   /orders/7                      the request's URI
 *   value                          what every $variable evaluates to
 *   00-4bf9...-01                  the client's traceparent ("": none)
 *   abc-123                        the client's X-Correlation-ID ("": none)
 *   {"a":1}                        the client's body ({request...})
 *   {"id":7}                       the response ({response...}), the rest
 *
 * The data is rendered with ngx_api_led_tmpl_render() (the bodies as
 * ngx_api_led_event_doc() reads them: parsed, NULL when not JSON), the
 * envelope made, measured and written (ngx_api_led_envelope_init(),
 * _len(), _write()).  Properties:
 *
 *   - a data template that renders renders JSON (the publisher refuses
 *     anything else: the event would be lost), and a placeholder outside
 *     a string renders its value;
 *   - the envelope is exactly as long as measured and is JSON the module
 *     reads back, with specversion 1.0, a version 4 UUID, the type
 *     configured, a subject that decodes to the URI, the correlation id,
 *     a traceparent of the request's own span (in the client's trace when
 *     it sent a valid one), and the data.
 */


#include "harness.h"
#include "ngx_api_led_event.h"


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static const uint8_t  *input;
static size_t          input_size;

extern ngx_module_t  ngx_api_led_publish_module;
extern ngx_module_t  ngx_api_led_observe_module;

static ngx_module_t  *modules[] = { &ngx_api_led_event_module, NULL };

/* what the directive touches: the API, the publisher, the catalog */
static ngx_module_t  *confs[] = {
    &ngx_api_led_module, &ngx_api_led_publish_module,
    &ngx_api_led_observe_module, &ngx_api_led_event_module, NULL
};

/* {request...} and {response...} */
static json_t  *docs[2];


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fz_init();
    return 0;
}


static void
failed(const char *what, ngx_str_t *text)
{
    fz_dump("input", input, input_size);

    if (text) {
        fz_dump("text", text->data, text->len);
    }

    fz_fail("%s", what);
}


static json_t *
event_doc(void *data, ngx_api_led_tmpl_seg_t *seg)
{
    return docs[seg->index];
}


static void
parse_doc(ngx_uint_t which, ngx_str_t *text)
{
    u_char  err[NGX_API_LED_JSON_ERRLEN];

    docs[which] = NULL;

    if (text->len == 0
        || ngx_api_led_json_parse(text->data, text->len, 0, &docs[which],
                                  err, sizeof(err))
           != NGX_OK)
    {
        docs[which] = NULL;
    }
}


static void
push_header(ngx_http_request_t *r, const char *name, ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    if (value->len == 0) {
        return;
    }

    h = ngx_list_push(&r->headers_in.headers);
    if (h == NULL) {
        abort();
    }

    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value = *value;
    h->hash = 1;
    h->lowcase_key = ngx_pnalloc(r->pool, h->key.len);
    if (h->lowcase_key == NULL) {
        abort();
    }

    ngx_strlow(h->lowcase_key, h->key.data, h->key.len);
}


/* each placeholder outside a string, alone: its value as JSON */

static void
check_placeholders(ngx_http_request_t *r, ngx_array_t *segs)
{
    u_char                   err[NGX_API_LED_JSON_ERRLEN];
    json_t                  *v, *back;
    ngx_str_t                out, why;
    ngx_uint_t               i;
    ngx_array_t              one;
    ngx_api_led_tmpl_seg_t  *seg;

    seg = segs->elts;

    for (i = 0; i < segs->nelts; i++) {
        if (seg[i].type != NGX_API_LED_SEG_PLACEHOLDER || seg[i].in_string) {
            continue;
        }

        one.elts = &seg[i];
        one.nelts = 1;

        if (ngx_api_led_tmpl_render(r, &one, 1, event_doc, NULL, &out, &why)
            != NGX_OK)
        {
            continue;
        }

        v = ngx_api_led_json_get(docs[seg[i].index], &seg[i].path);

        back = NULL;
        if (ngx_api_led_json_parse(out.data, out.len, 0, &back, err,
                                   sizeof(err))
            != NGX_OK
            || !fz_json_equal(back, v))
        {
            failed("a placeholder does not render its value", &out);
        }

        json_decref(back);
    }
}


static void
check_string(json_t *doc, const char *name, ngx_str_t *want)
{
    json_t  *v;

    v = json_object_get(doc, name);

    if (!json_is_string(v)
        || json_string_length(v) != want->len
        || ngx_memcmp(json_string_value(v), want->data, want->len) != 0)
    {
        fz_dump("input", input, input_size);
        fz_dump("want", want->data, want->len);
        fz_fail("the envelope's \"%s\" is not what it should be", name);
    }
}


static void
check_envelope(ngx_http_request_t *r, ngx_api_led_event_def_t *def,
    ngx_str_t *data, ngx_str_t *traceparent)
{
    u_char                  *p, *d, *src, err[NGX_API_LED_JSON_ERRLEN];
    size_t                   len;
    json_t                  *doc, *v, *dv;
    ngx_str_t                text, s, *cid;
    ngx_uint_t               i;
    ngx_api_led_trace_t      t, client;
    ngx_api_led_envelope_t   env;

    if (ngx_api_led_envelope_init(r, def, data, &env) != NGX_OK) {
        failed("ngx_api_led_envelope_init() failed", NULL);
    }

    len = ngx_api_led_envelope_len(&env);

    /* exactly as long: ASan sees a byte more */
    text.data = ngx_pnalloc(r->pool, len);
    if (text.data == NULL) {
        abort();
    }

    p = ngx_api_led_envelope_write(text.data, &env);
    text.len = p - text.data;

    if (text.len != len) {
        failed("the envelope is not as long as measured", &text);
    }

    doc = NULL;
    if (ngx_api_led_json_parse(text.data, text.len, 0, &doc, err,
                               sizeof(err))
        != NGX_OK)
    {
        failed("the envelope is not JSON", &text);
    }

    ngx_str_set(&s, "1.0");
    check_string(doc, "specversion", &s);
    check_string(doc, "type", &def->type);

    v = json_object_get(doc, "id");
    p = (u_char *) json_string_value(v);

    if (p == NULL || json_string_length(v) != 36 || p[14] != '4'
        || (p[19] != '8' && p[19] != '9' && p[19] != 'a' && p[19] != 'b'))
    {
        failed("the envelope's id is not a version 4 UUID", &text);
    }

    for (i = 0; i < 36; i++) {
        if ((i == 8 || i == 13 || i == 18 || i == 23)
            ? p[i] != '-' : !isxdigit(p[i]))
        {
            failed("the envelope's id is not a UUID", &text);
        }
    }

    /* the subject decodes to the URI */

    v = json_object_get(doc, "subject");
    if (!json_is_string(v)) {
        failed("no subject", &text);
    }

    d = ngx_pnalloc(r->pool, json_string_length(v) + 1);
    if (d == NULL) {
        abort();
    }

    p = d;
    src = (u_char *) json_string_value(v);
    ngx_unescape_uri(&p, &src, json_string_length(v), 0);

    if ((size_t) (p - d) != r->uri.len
        || ngx_memcmp(d, r->uri.data, r->uri.len) != 0)
    {
        failed("the subject does not decode to the URI", &text);
    }

    cid = ngx_api_led_correlation_id(r);
    if (cid == NULL) {
        abort();
    }

    check_string(doc, "correlationid", cid);

    /* the API call's own span in the client's trace (else a new one) */

    v = json_object_get(doc, "traceparent");

    if (!json_is_string(v)) {
        failed("no traceparent in the envelope", &text);
    }

    s.data = (u_char *) json_string_value(v);
    s.len = json_string_length(v);

    if (s.len != NGX_API_LED_TRACEPARENT_LEN
        || ngx_api_led_trace_parse(&s, &t) != NGX_OK)
    {
        failed("the envelope's traceparent is not valid", &text);
    }

    if (traceparent->len
        && ngx_api_led_trace_parse(traceparent, &client) == NGX_OK
        && (ngx_memcmp(t.trace_id, client.trace_id,
                       NGX_API_LED_TRACE_ID_SIZE) != 0
            || ngx_memcmp(t.parent_id, client.parent_id,
                          NGX_API_LED_SPAN_ID_SIZE) == 0))
    {
        failed("the envelope's traceparent is not a span of the client's "
               "trace", &text);
    }

    if (data) {
        dv = NULL;
        if (ngx_api_led_json_parse(data->data, data->len, 0, &dv, err,
                                   sizeof(err))
            != NGX_OK
            || !fz_json_equal(dv, json_object_get(doc, "data")))
        {
            failed("the envelope's data is not the event's", &text);
        }

        json_decref(dv);

    } else if (json_object_get(doc, "data")) {
        failed("data in an envelope without", &text);
    }

    json_decref(doc);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                        *p, *end, conf[1024];
    fz_t                           fz;
    ngx_str_t                      line, out, why, traceparent, cid, body;
    ngx_uint_t                     i, k;
    ngx_module_t                 **m;
    ngx_http_request_t            *r;
    ngx_api_led_event_conf_t      *ec;
    ngx_api_led_event_loc_conf_t  *lecf;

    input = data;
    input_size = size;

    p = (u_char *) data;
    end = p + size;

    if (!fz_next(&p, end, '\n', &line) || line.len > 900) {
        return 0;
    }

    fz_begin(&fz);

    for (m = confs; *m; m++) {
        if (fz_conf_create(&fz, *m) != NGX_CONF_OK) {
            abort();
        }
    }

    k = ngx_sprintf(conf, "api_led_event %V;", &line) - conf;

    if (fz_conf_text(&fz, modules, conf, k) != NGX_CONF_OK) {
        fz_end(&fz);
        return 0;
    }

    for (m = confs; *m; m++) {
        if (fz_conf_init(&fz, *m) != NGX_CONF_OK) {
            fz_end(&fz);
            return 0;
        }
    }

    lecf = fz_loc_conf(&fz, &ngx_api_led_event_module);
    if (lecf->events == NULL) {
        fz_end(&fz);
        return 0;
    }

    r = fz_request(&fz);

    /* the request */

    if (fz_next(&p, end, '\n', &line) && line.len) {
        r->uri = line;
    }

    if (fz_next(&p, end, '\n', &line)) {
        fz_variable_value = line;
    }

    ngx_str_null(&traceparent);
    ngx_str_null(&cid);

    if (fz_next(&p, end, '\n', &traceparent)) {
        push_header(r, "traceparent", &traceparent);
    }

    if (fz_next(&p, end, '\n', &cid)) {
        push_header(r, "X-Correlation-ID", &cid);
    }

    ngx_str_null(&body);
    (void) fz_next(&p, end, '\n', &body);
    parse_doc(NGX_API_LED_EVENT_DOC_REQUEST, &body);

    ngx_str_null(&body);
    (void) fz_next(&p, end, 0, &body);
    parse_doc(NGX_API_LED_EVENT_DOC_RESPONSE, &body);

    /* each event: its data, its envelope */

    ec = lecf->events->elts;

    for (i = 0; i < lecf->events->nelts; i++) {

        if (ec[i].def.data == NULL) {
            check_envelope(r, &ec[i].def, NULL, &traceparent);
            continue;
        }

        switch (ngx_api_led_tmpl_render(r, ec[i].def.data, 1, event_doc,
                                        NULL, &out, &why))
        {
        case NGX_OK:
            break;

        case NGX_DECLINED:
            continue;

        default:
            failed("the data template failed", &ec[i].def.data_text);
        }

        if (ngx_api_led_json_validate(out.data, out.len) != NGX_OK) {
            fz_dump("template", ec[i].def.data_text.data,
                    ec[i].def.data_text.len);
            failed("the data rendered is not JSON", &out);
        }

        check_placeholders(r, ec[i].def.data);
        check_envelope(r, &ec[i].def, &out, &traceparent);
    }

    json_decref(docs[0]);
    json_decref(docs[1]);
    docs[0] = NULL;
    docs[1] = NULL;

    ngx_str_set(&fz_variable_value, "value");

    fz_end(&fz);

    return 0;
}
