
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * The consumers file (api_led_consumers): plans, consumers and their keys,
 * read and checked at configuration time, keys sorted by digest and
 * consumers by id for the request path.
 */


#include "ngx_api_led_consumer.h"


static void ngx_api_led_consumers_error(ngx_conf_t *cf,
    ngx_api_led_consumer_main_conf_t *mcf, const char *fmt, ...);
static ngx_int_t ngx_api_led_consumers_load(ngx_conf_t *cf,
    ngx_api_led_consumer_main_conf_t *mcf, json_t *root);
static ngx_int_t ngx_api_led_plans_load(ngx_conf_t *cf,
    ngx_api_led_consumer_main_conf_t *mcf, json_t *plans);
static ngx_int_t ngx_api_led_consumer_load(ngx_conf_t *cf,
    ngx_api_led_consumer_main_conf_t *mcf, json_t *obj, ngx_uint_t n,
    ngx_api_led_consumer_t *consumer);
static ngx_int_t ngx_api_led_key_load(ngx_conf_t *cf,
    ngx_api_led_consumer_main_conf_t *mcf, ngx_api_led_consumer_t *consumer,
    json_t *value, ngx_uint_t index, ngx_api_led_key_t *key);
static ngx_int_t ngx_api_led_json_string(ngx_conf_t *cf, json_t *value,
    ngx_str_t *s);
static ngx_int_t ngx_api_led_text_is_safe(ngx_str_t *s);
static int ngx_libc_cdecl ngx_api_led_key_cmp(const void *one,
    const void *two);
static int ngx_libc_cdecl ngx_api_led_consumer_cmp(const void *one,
    const void *two);


/* api_led_consumers FILE: read and checked at configuration time */

char *
ngx_api_led_consumers(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_api_led_consumer_main_conf_t *mcf = conf;

    u_char      err[NGX_API_LED_JSON_ERRLEN];
    json_t     *root;
    ngx_int_t   rc;
    ngx_str_t  *value;

    if (mcf->file.len) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        return "has an empty file name";
    }

    mcf->file = value[1];

    if (ngx_conf_full_name(cf->cycle, &mcf->file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    rc = ngx_api_led_json_read_file(cf, &mcf->file,
                                    NGX_API_LED_JSON_UNIQUE
                                    |NGX_API_LED_JSON_LINES,
                                    &root, err, sizeof(err));

    if (rc != NGX_OK) {
        ngx_api_led_consumers_error(cf, mcf, "%s", err);
        return NGX_CONF_ERROR;
    }

    rc = ngx_api_led_consumers_load(cf, mcf, root);

    json_decref(root);

    if (rc != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void
ngx_api_led_consumers_error(ngx_conf_t *cf,
    ngx_api_led_consumer_main_conf_t *mcf, const char *fmt, ...)
{
    u_char   *p, buf[NGX_MAX_ERROR_STR];
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + sizeof(buf), fmt, args);
    va_end(args);

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "consumers file \"%V\": %*s",
                       &mcf->file, p - buf, buf);
}


static ngx_int_t
ngx_api_led_consumers_load(ngx_conf_t *cf,
    ngx_api_led_consumer_main_conf_t *mcf, json_t *root)
{
    json_t                  *value, *consumers, *keys;
    ngx_uint_t               i, n, nkeys;
    const char              *name;
    ngx_api_led_key_t       *key;
    ngx_api_led_consumer_t  *consumer;

    if (!json_is_object(root)) {
        ngx_api_led_consumers_error(cf, mcf, "the top level must be a JSON "
                                    "object with \"plans\" and "
                                    "\"consumers\"");
        return NGX_ERROR;
    }

    json_object_foreach(root, name, value) {
        if (ngx_strcmp(name, "plans") != 0
            && ngx_strcmp(name, "consumers") != 0)
        {
            ngx_api_led_consumers_error(cf, mcf, "unknown member \"%s\" at "
                                        "the top level", name);
            return NGX_ERROR;
        }
    }

    if (ngx_api_led_plans_load(cf, mcf, json_object_get(root, "plans"))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    consumers = json_object_get(root, "consumers");

    if (consumers == NULL) {
        return NGX_OK;
    }

    if (!json_is_array(consumers)) {
        ngx_api_led_consumers_error(cf, mcf, "\"consumers\" must be an "
                                    "array");
        return NGX_ERROR;
    }

    n = json_array_size(consumers);
    nkeys = 0;

    for (i = 0; i < n; i++) {
        keys = json_object_get(json_array_get(consumers, i), "keys");

        if (json_is_array(keys)) {
            nkeys += json_array_size(keys);
        }
    }

    mcf->consumers = ngx_pcalloc(cf->pool,
                                 (n + 1) * sizeof(ngx_api_led_consumer_t));
    mcf->by_id = ngx_pcalloc(cf->pool,
                             (n + 1) * sizeof(ngx_api_led_consumer_t *));
    mcf->keys = ngx_pcalloc(cf->pool,
                            (nkeys + 1) * sizeof(ngx_api_led_key_t));

    if (mcf->consumers == NULL || mcf->by_id == NULL || mcf->keys == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        consumer = &mcf->consumers[i];

        if (ngx_api_led_consumer_load(cf, mcf, json_array_get(consumers, i),
                                      i, consumer)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        mcf->by_id[i] = consumer;
        mcf->nconsumers++;
    }

    ngx_qsort(mcf->by_id, mcf->nconsumers, sizeof(ngx_api_led_consumer_t *),
              ngx_api_led_consumer_cmp);

    for (i = 1; i < mcf->nconsumers; i++) {
        if (mcf->by_id[i]->id.len == mcf->by_id[i - 1]->id.len
            && ngx_memcmp(mcf->by_id[i]->id.data, mcf->by_id[i - 1]->id.data,
                          mcf->by_id[i]->id.len) == 0)
        {
            ngx_api_led_consumers_error(cf, mcf, "consumer id \"%V\" is "
                                        "used twice", &mcf->by_id[i]->id);
            return NGX_ERROR;
        }
    }

    ngx_qsort(mcf->keys, mcf->nkeys, sizeof(ngx_api_led_key_t),
              ngx_api_led_key_cmp);

    /* a key is never printed: the error names its owners and positions */

    for (i = 1; i < mcf->nkeys; i++) {
        key = &mcf->keys[i];

        if (ngx_memcmp(key->digest, key[-1].digest, NGX_API_LED_DIGEST_LEN)
            == 0)
        {
            ngx_api_led_consumers_error(cf, mcf, "a key is used twice: key "
                                        "#%ui of consumer \"%V\" and key "
                                        "#%ui of consumer \"%V\"",
                                        key[-1].index + 1,
                                        &key[-1].consumer->id,
                                        key->index + 1, &key->consumer->id);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_plans_load(ngx_conf_t *cf, ngx_api_led_consumer_main_conf_t *mcf,
    json_t *plans)
{
    json_t                   *plan, *limits, *value;
    ngx_int_t                 rc;
    ngx_str_t                 text;
    ngx_uint_t                i, n;
    const char               *name, *member;
    ngx_api_led_plan_t       *p;
    ngx_api_led_rate_t       *rate;
    ngx_api_led_main_conf_t  *amcf;

    if (plans == NULL) {
        return NGX_OK;
    }

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_module);

    if (!json_is_object(plans)) {
        ngx_api_led_consumers_error(cf, mcf, "\"plans\" must be an object "
                                    "of plan names");
        return NGX_ERROR;
    }

    mcf->plans = ngx_pcalloc(cf->pool, (json_object_size(plans) + 1)
                                       * sizeof(ngx_api_led_plan_t));
    if (mcf->plans == NULL) {
        return NGX_ERROR;
    }

    json_object_foreach(plans, name, plan) {

        p = &mcf->plans[mcf->nplans];

        p->name.len = ngx_strlen(name);
        p->name.data = ngx_pstrdup(cf->pool, &(ngx_str_t) {
                                       p->name.len, (u_char *) name });
        if (p->name.data == NULL) {
            return NGX_ERROR;
        }

        if (p->name.len == 0 || p->name.len > NGX_API_LED_CONSUMER_ID_MAX
            || !ngx_api_led_text_is_safe(&p->name))
        {
            ngx_api_led_consumers_error(cf, mcf, "invalid plan name \"%V\"",
                                        &p->name);
            return NGX_ERROR;
        }

        if (!json_is_object(plan)) {
            ngx_api_led_consumers_error(cf, mcf, "plan \"%V\" must be an "
                                        "object", &p->name);
            return NGX_ERROR;
        }

        json_object_foreach(plan, member, value) {
            if (ngx_strcmp(member, "limits") != 0
                && ngx_strcmp(member, "description") != 0)
            {
                ngx_api_led_consumers_error(cf, mcf, "plan \"%V\": unknown "
                                            "member \"%s\"", &p->name,
                                            member);
                return NGX_ERROR;
            }
        }

        limits = json_object_get(plan, "limits");
        n = limits ? json_array_size(limits) : 0;

        if (limits && !json_is_array(limits)) {
            ngx_api_led_consumers_error(cf, mcf, "plan \"%V\": \"limits\" "
                                        "must be an array of rates such as "
                                        "\"100r/s\"", &p->name);
            return NGX_ERROR;
        }

        /* the limits of a request are checked together, at most so many */
        if (n > NGX_API_LED_LIMIT_MAX) {
            ngx_api_led_consumers_error(cf, mcf, "plan \"%V\" has %ui "
                                        "limits, at most %d are possible",
                                        &p->name, n, NGX_API_LED_LIMIT_MAX);
            return NGX_ERROR;
        }

        if (n > amcf->plan_limits_max) {
            amcf->plan_limits_max = n;
        }

        if (ngx_array_init(&p->limits, cf->pool, n ? n : 1,
                           sizeof(ngx_api_led_rate_t))
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        for (i = 0; i < n; i++) {
            value = json_array_get(limits, i);

            rc = ngx_api_led_json_string(cf, value, &text);

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            if (rc != NGX_OK) {
                ngx_api_led_consumers_error(cf, mcf, "plan \"%V\": limit "
                                            "#%ui must be a string such as "
                                            "\"100r/s\"", &p->name, i + 1);
                return NGX_ERROR;
            }

            rate = ngx_array_push(&p->limits);
            if (rate == NULL) {
                return NGX_ERROR;
            }

            if (!ngx_api_led_text_is_safe(&text)
                || ngx_api_led_parse_rate(&text, rate) != NGX_OK)
            {
                ngx_api_led_consumers_error(cf, mcf, "plan \"%V\": invalid "
                                            "limit \"%V\", must be like "
                                            "\"100r/s\" (per s, m, h or d)",
                                            &p->name, &text);
                return NGX_ERROR;
            }

            /* as api_led_rate_limit's: T is at least a microsecond */
            if ((uint64_t) rate->period * 1000 / rate->count == 0) {
                ngx_api_led_consumers_error(cf, mcf, "plan \"%V\": limit "
                                            "\"%V\" is too high, at most "
                                            "one request a microsecond",
                                            &p->name, &text);
                return NGX_ERROR;
            }
        }

        mcf->nplans++;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_consumer_load(ngx_conf_t *cf,
    ngx_api_led_consumer_main_conf_t *mcf, json_t *obj, ngx_uint_t n,
    ngx_api_led_consumer_t *consumer)
{
    json_t        *value, *keys, *id;
    ngx_int_t      rc;
    ngx_str_t      plan;
    ngx_uint_t     i;
    const char    *member;
    ngx_keyval_t  *kv;

    if (!json_is_object(obj)) {
        ngx_api_led_consumers_error(cf, mcf, "consumer #%ui must be an "
                                    "object", n + 1);
        return NGX_ERROR;
    }

    id = json_object_get(obj, "id");

    if (id == NULL) {
        ngx_api_led_consumers_error(cf, mcf, "consumer #%ui has no \"id\"",
                                    n + 1);
        return NGX_ERROR;
    }

    if (ngx_api_led_json_string(cf, id, &consumer->id) != NGX_OK
        || consumer->id.len == 0
        || consumer->id.len > NGX_API_LED_CONSUMER_ID_MAX
        || !ngx_api_led_text_is_safe(&consumer->id))
    {
        ngx_api_led_consumers_error(cf, mcf, "consumer #%ui: \"id\" must be "
                                    "a string of 1 to %d printable "
                                    "characters", n + 1,
                                    NGX_API_LED_CONSUMER_ID_MAX);
        return NGX_ERROR;
    }

    json_object_foreach(obj, member, value) {
        if (ngx_strcmp(member, "id") != 0
            && ngx_strcmp(member, "plan") != 0
            && ngx_strcmp(member, "metadata") != 0
            && ngx_strcmp(member, "keys") != 0
            && ngx_strcmp(member, "description") != 0)
        {
            ngx_api_led_consumers_error(cf, mcf, "consumer \"%V\": unknown "
                                        "member \"%s\"", &consumer->id,
                                        member);
            return NGX_ERROR;
        }
    }

    /* plan */

    value = json_object_get(obj, "plan");

    if (value && !json_is_null(value)) {
        if (ngx_api_led_json_string(cf, value, &plan) != NGX_OK) {
            ngx_api_led_consumers_error(cf, mcf, "consumer \"%V\": \"plan\" "
                                        "must be a string", &consumer->id);
            return NGX_ERROR;
        }

        for (i = 0; i < mcf->nplans; i++) {
            if (mcf->plans[i].name.len == plan.len
                && ngx_memcmp(mcf->plans[i].name.data, plan.data, plan.len)
                   == 0)
            {
                consumer->plan = &mcf->plans[i];
                break;
            }
        }

        if (consumer->plan == NULL) {
            ngx_api_led_consumers_error(cf, mcf, "consumer \"%V\": unknown "
                                        "plan \"%V\"", &consumer->id, &plan);
            return NGX_ERROR;
        }
    }

    /* metadata: strings as they are, other JSON values as compact JSON */

    value = json_object_get(obj, "metadata");

    if (ngx_array_init(&consumer->metadata, cf->pool,
                       value ? ngx_max(json_object_size(value), 1) : 1,
                       sizeof(ngx_keyval_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (value && !json_is_object(value)) {
        ngx_api_led_consumers_error(cf, mcf, "consumer \"%V\": \"metadata\" "
                                    "must be an object", &consumer->id);
        return NGX_ERROR;
    }

    if (value) {
        json_t  *field;

        json_object_foreach(value, member, field) {
            kv = ngx_array_push(&consumer->metadata);
            if (kv == NULL) {
                return NGX_ERROR;
            }

            kv->key.len = ngx_strlen(member);
            kv->key.data = ngx_pstrdup(cf->pool, &(ngx_str_t) {
                                           kv->key.len, (u_char *) member });
            if (kv->key.data == NULL) {
                return NGX_ERROR;
            }

            if (ngx_api_led_json_is_text(field)) {
                rc = ngx_api_led_json_string(cf, field, &kv->value);

                if (rc == NGX_ERROR) {
                    return NGX_ERROR;
                }

                if (rc != NGX_OK) {
                    ngx_api_led_consumers_error(cf, mcf, "consumer \"%V\": "
                                                "metadata \"%V\" holds a NUL "
                                                "character", &consumer->id,
                                                &kv->key);
                    return NGX_ERROR;
                }

            } else if (ngx_api_led_json_dump(cf->pool, field, 64, &kv->value)
                       != NGX_OK)
            {
                return NGX_ERROR;
            }

            if (!ngx_api_led_text_is_safe(&kv->value)) {
                ngx_api_led_consumers_error(cf, mcf, "consumer \"%V\": "
                                            "metadata \"%V\" holds a control "
                                            "character", &consumer->id,
                                            &kv->key);
                return NGX_ERROR;
            }
        }
    }

    /* keys */

    keys = json_object_get(obj, "keys");

    if (keys == NULL) {
        return NGX_OK;
    }

    if (!json_is_array(keys)) {
        ngx_api_led_consumers_error(cf, mcf, "consumer \"%V\": \"keys\" must "
                                    "be an array of strings",
                                    &consumer->id);
        return NGX_ERROR;
    }

    for (i = 0; i < json_array_size(keys); i++) {
        if (ngx_api_led_key_load(cf, mcf, consumer, json_array_get(keys, i),
                                 i, &mcf->keys[mcf->nkeys])
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        mcf->nkeys++;
    }

    return NGX_OK;
}


/* a key: "sha256:<64 hex digits>" of the key, or the key itself */

static ngx_int_t
ngx_api_led_key_load(ngx_conf_t *cf, ngx_api_led_consumer_main_conf_t *mcf,
    ngx_api_led_consumer_t *consumer, json_t *value, ngx_uint_t index,
    ngx_api_led_key_t *key)
{
    u_char       *p, hi, lo;
    size_t        len;
    ngx_uint_t    i;
    SHA256_CTX    sha;
    const char   *s;

    key->consumer = consumer;
    key->index = index;

    if (!ngx_api_led_json_is_text(value) || json_string_length(value) == 0) {
        ngx_api_led_consumers_error(cf, mcf, "consumer \"%V\": key #%ui must "
                                    "be a non-empty string", &consumer->id,
                                    index + 1);
        return NGX_ERROR;
    }

    s = json_string_value(value);
    len = json_string_length(value);

    /*
     * the bytes an id may not hold: no header carries a NUL, CR or LF,
     * and a key with them or other control bytes is a mistake in the
     * file that only a query's escapes could ever present
     */
    if (!ngx_api_led_text_is_safe(&(ngx_str_t) { len, (u_char *) s })) {
        ngx_api_led_consumers_error(cf, mcf, "consumer \"%V\": key #%ui "
                                    "holds a NUL or control character",
                                    &consumer->id, index + 1);
        return NGX_ERROR;
    }

    if (len >= 7 && ngx_strncasecmp((u_char *) s, (u_char *) "sha256:", 7)
                    == 0)
    {
        p = (u_char *) s + 7;

        if (len - 7 != 2 * NGX_API_LED_DIGEST_LEN) {
            goto invalid;
        }

        for (i = 0; i < NGX_API_LED_DIGEST_LEN; i++) {
            hi = ngx_tolower(p[2 * i]);
            lo = ngx_tolower(p[2 * i + 1]);

            if (!isxdigit(hi) || !isxdigit(lo)) {
                goto invalid;
            }

            hi = (hi >= 'a') ? hi - 'a' + 10 : hi - '0';
            lo = (lo >= 'a') ? lo - 'a' + 10 : lo - '0';

            key->digest[i] = (u_char) (hi << 4 | lo);
        }

        return NGX_OK;
    }

    SHA256_Init(&sha);
    SHA256_Update(&sha, s, len);
    SHA256_Final(key->digest, &sha);

    return NGX_OK;

invalid:

    ngx_api_led_consumers_error(cf, mcf, "consumer \"%V\": key #%ui starts "
                                "with \"sha256:\" but is not followed by 64 "
                                "hexadecimal digits", &consumer->id,
                                index + 1);
    return NGX_ERROR;
}


/* a JSON string copied to the configuration pool; NUL bytes refused */

static ngx_int_t
ngx_api_led_json_string(ngx_conf_t *cf, json_t *value, ngx_str_t *s)
{
    ngx_str_t  src;

    if (!ngx_api_led_json_is_text(value)) {
        return NGX_DECLINED;
    }

    src.data = (u_char *) json_string_value(value);
    src.len = json_string_length(value);

    if (ngx_strlen(src.data) != src.len) {
        return NGX_DECLINED;
    }

    s->len = src.len;
    s->data = ngx_pnalloc(cf->pool, src.len + 1);
    if (s->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(s->data, src.data, src.len);
    s->data[s->len] = '\0';

    return NGX_OK;
}


/* ids, plans and metadata may go into request headers: no control bytes */

static ngx_int_t
ngx_api_led_text_is_safe(ngx_str_t *s)
{
    ngx_uint_t  i;

    for (i = 0; i < s->len; i++) {
        if (s->data[i] < 0x20 || s->data[i] == 0x7f) {
            return 0;
        }
    }

    return 1;
}


static int ngx_libc_cdecl
ngx_api_led_key_cmp(const void *one, const void *two)
{
    const ngx_api_led_key_t  *a = one;
    const ngx_api_led_key_t  *b = two;

    return ngx_memcmp(a->digest, b->digest, NGX_API_LED_DIGEST_LEN);
}


static int ngx_libc_cdecl
ngx_api_led_consumer_cmp(const void *one, const void *two)
{
    ngx_api_led_consumer_t  *a = *(ngx_api_led_consumer_t **) one;
    ngx_api_led_consumer_t  *b = *(ngx_api_led_consumer_t **) two;

    return ngx_memn2cmp(a->id.data, b->id.data, a->id.len, b->id.len);
}


ngx_api_led_consumer_t *
ngx_api_led_consumers_lookup(ngx_api_led_consumer_main_conf_t *mcf,
    ngx_str_t *id)
{
    ngx_int_t                c;
    ngx_uint_t               lo, hi, mid;
    ngx_api_led_consumer_t  *consumer;

    lo = 0;
    hi = mcf->nconsumers;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        consumer = mcf->by_id[mid];

        c = ngx_memn2cmp(consumer->id.data, id->data, consumer->id.len,
                         id->len);

        if (c == 0) {
            return consumer;
        }

        if (c < 0) {
            lo = mid + 1;

        } else {
            hi = mid;
        }
    }

    return NULL;
}
