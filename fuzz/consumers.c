
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * The consumers file (auth/ngx_api_led_consumer_file.c): the input is the
 * file, read by the "api_led_consumers FILE" directive itself (the file is
 * a memfd).  When it is accepted, properties:
 *
 *   - every consumer is found by its id (ngx_api_led_consumers_lookup),
 *     and ids are unique, 1 to 256 bytes, without control characters;
 *   - plan names and metadata values have no control characters (they
 *     go into request headers); a consumer's plan is one of the plans;
 *     each limit is a rate of at least one request per period;
 *   - keys are sorted by digest and unique; a key written in the file
 *     (not as "sha256:") is found by ngx_api_led_key_lookup() and leads
 *     to its consumer; a key as "sha256:HEX" is found by its digest.
 */


#include "harness.h"

/* ngx_api_led_key_lookup() is the request path's: the file is included */
#include "ngx_api_led_consumer.c"

#include <sys/mman.h>


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static int       memfd;
static u_char    directive[64];
static size_t    directive_len;

static const uint8_t  *input;
static size_t          input_size;

static ngx_module_t  *modules[] = { &ngx_api_led_consumer_module, NULL };


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fz_init();

    memfd = memfd_create("consumers.json", 0);
    if (memfd == -1) {
        abort();
    }

    directive_len = ngx_sprintf(directive,
                                "api_led_consumers /proc/self/fd/%d;", memfd)
                    - directive;

    return 0;
}


static void
failed(const char *what, ngx_str_t *s)
{
    fz_dump("input", input, input_size);

    if (s) {
        fz_dump("value", s->data, s->len);
    }

    fz_fail("%s", what);
}


static ngx_uint_t
is_safe(ngx_str_t *s)
{
    size_t  i;

    for (i = 0; i < s->len; i++) {
        if (s->data[i] < 0x20 || s->data[i] == 0x7f) {
            return 0;
        }
    }

    return 1;
}


/* the keys as written in the file find their consumer */

static void
check_keys(ngx_api_led_consumer_main_conf_t *mcf)
{
    u_char                   err[NGX_API_LED_JSON_ERRLEN];
    size_t                   i, k;
    json_t                  *root, *consumers, *c, *keys, *key;
    ngx_str_t                s, id;
    ngx_api_led_consumer_t  *found;

    /*
     * Read again by the module's own parser, as the directive did: it
     * takes more than jansson on purpose (an integer of more than 64 bits
     * is kept as written), and json_roundtrip holds it to jansson.
     */
    if (ngx_api_led_json_parse((u_char *) input, input_size,
                               NGX_API_LED_JSON_UNIQUE
                               |NGX_API_LED_JSON_LINES,
                               &root, err, sizeof(err))
        != NGX_OK)
    {
        failed("accepted, but the parser refuses it", NULL);
    }

    consumers = json_object_get(root, "consumers");

    json_array_foreach(consumers, i, c) {
        id.data = (u_char *) json_string_value(json_object_get(c, "id"));
        id.len = json_string_length(json_object_get(c, "id"));

        keys = json_object_get(c, "keys");

        json_array_foreach(keys, k, key) {
            s.data = (u_char *) json_string_value(key);
            s.len = json_string_length(key);

            if (s.len >= 7
                && ngx_strncasecmp(s.data, (u_char *) "sha256:", 7) == 0)
            {
                continue;
            }

            found = ngx_api_led_key_lookup(mcf, &s);

            if (found == NULL || found->id.len != id.len
                || ngx_memcmp(found->id.data, id.data, id.len) != 0)
            {
                failed("a key of the file does not find its consumer", &s);
            }
        }
    }

    json_decref(root);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_t                               fz;
    ngx_uint_t                         i, j;
    ngx_api_led_plan_t                *plan;
    ngx_api_led_rate_t                *rate;
    ngx_keyval_t                      *kv;
    ngx_api_led_consumer_t            *c;
    ngx_api_led_consumer_main_conf_t  *mcf;

    input = data;
    input_size = size;

    if (ftruncate(memfd, 0) == -1
        || pwrite(memfd, data, size, 0) != (ssize_t) size)
    {
        abort();
    }

    fz_begin(&fz);

    /* the file notes its plans' sizes in the core's configuration */
    if (fz_conf_create(&fz, &ngx_api_led_module) != NGX_CONF_OK
        || fz_conf_create(&fz, &ngx_api_led_consumer_module) != NGX_CONF_OK)
    {
        abort();
    }

    if (fz_conf_text(&fz, modules, directive, directive_len)
        != NGX_CONF_OK)
    {
        fz_end(&fz);
        return 0;
    }

    mcf = fz_main_conf(&fz, &ngx_api_led_consumer_module);

    for (i = 0; i < mcf->nplans; i++) {
        plan = &mcf->plans[i];

        if (plan->name.len == 0 || !is_safe(&plan->name)) {
            failed("a plan name is empty or unsafe", &plan->name);
        }

        rate = plan->limits.elts;

        for (j = 0; j < plan->limits.nelts; j++) {
            if (rate[j].count == 0 || rate[j].period == 0) {
                failed("a limit of no request or no period", &rate[j].text);
            }
        }
    }

    for (i = 0; i < mcf->nconsumers; i++) {
        c = mcf->by_id[i];

        if (c->id.len == 0 || c->id.len > NGX_API_LED_CONSUMER_ID_MAX
            || !is_safe(&c->id))
        {
            failed("a consumer id is empty, long or unsafe", &c->id);
        }

        if (i && ngx_memn2cmp(mcf->by_id[i - 1]->id.data, c->id.data,
                              mcf->by_id[i - 1]->id.len, c->id.len) >= 0)
        {
            failed("consumers are not sorted by id, or twice", &c->id);
        }

        if (ngx_api_led_consumers_lookup(mcf, &c->id) != c) {
            failed("a consumer is not found by its id", &c->id);
        }

        if (c->plan && (c->plan < mcf->plans
                        || c->plan >= mcf->plans + mcf->nplans))
        {
            failed("a consumer's plan is not a plan", &c->id);
        }

        kv = c->metadata.elts;

        for (j = 0; j < c->metadata.nelts; j++) {
            if (!is_safe(&kv[j].value)) {
                failed("a metadata value is unsafe", &kv[j].value);
            }
        }
    }

    for (i = 1; i < mcf->nkeys; i++) {
        if (ngx_memcmp(mcf->keys[i - 1].digest, mcf->keys[i].digest,
                       NGX_API_LED_DIGEST_LEN) >= 0)
        {
            failed("keys are not sorted, or twice", NULL);
        }
    }

    check_keys(mcf);

    fz_end(&fz);

    return 0;
}
