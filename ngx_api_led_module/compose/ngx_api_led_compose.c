
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Orchestration: the module and its directives.
 *
 * api_led_compose runs the parts of a composition as nginx subrequests
 * (ngx_api_led_compose_run.c): parts that do not depend on each other run
 * in parallel, a part that takes a value from another ({PART/json/pointer})
 * or names it in after= waits for it.  The JSON answers are merged in
 * declaration order, never arrival order (ngx_api_led_compose_merge.c),
 * and the parts' outcome maps to one status.  This file compiles the
 * composition (templates, dependencies, cycles).  The layer contract
 * (api_led_callers) is the core's (core/ngx_api_led_layer.c).
 */


#include "ngx_api_led_compose.h"


static ngx_int_t ngx_api_led_compose_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_api_led_compose_add_variables(ngx_conf_t *cf);
static void *ngx_api_led_compose_create_loc_conf(ngx_conf_t *cf);
static char *ngx_api_led_compose_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_api_led_compose_block(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_api_led_compose_part(ngx_conf_t *cf, ngx_command_t *dummy,
    void *conf);
static ngx_int_t ngx_api_led_compose_methods(ngx_conf_t *cf,
    ngx_api_led_compose_loc_conf_t *lcf, ngx_api_led_compose_conf_t *comp);
static ngx_int_t ngx_api_led_compose_allow(ngx_conf_t *cf,
    ngx_api_led_compose_loc_conf_t *lcf);
static char *ngx_api_led_compose_event_part(ngx_conf_t *cf,
    ngx_api_led_compose_part_conf_t *pc, ngx_str_t *value, ngx_uint_t n);
static char *ngx_api_led_compose_part_param(ngx_conf_t *cf,
    ngx_api_led_compose_part_conf_t *pc, ngx_str_t *value);
static char *ngx_api_led_compose_foreach(ngx_conf_t *cf,
    ngx_api_led_compose_part_conf_t *pc, ngx_str_t *value);
static ngx_int_t ngx_api_led_compose_name_is_valid(ngx_str_t *name);
static ngx_int_t ngx_api_led_compose_find_name(
    ngx_api_led_compose_part_conf_t *pc, ngx_uint_t n, ngx_str_t *name);
static ngx_int_t ngx_api_led_compose_resolve(ngx_conf_t *cf,
    ngx_api_led_compose_conf_t *comp);
static ngx_int_t ngx_api_led_compose_add_var(ngx_conf_t *cf,
    ngx_api_led_compose_conf_t *comp, ngx_uint_t index);
static ngx_int_t ngx_api_led_compose_resolve_segs(ngx_conf_t *cf,
    ngx_api_led_compose_conf_t *comp, ngx_uint_t i, ngx_array_t *segs);
static ngx_int_t ngx_api_led_compose_find_cycle(
    ngx_api_led_compose_part_conf_t *pc, ngx_uint_t n, ngx_uint_t i,
    u_char *color, ngx_uint_t *stack, ngx_uint_t depth, ngx_uint_t *len);
static char *ngx_api_led_compose_merge(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_api_led_compose_describe(ngx_conf_t *cf,
    ngx_api_led_compose_loc_conf_t *conf);
static json_t *ngx_api_led_compose_describe_part(ngx_conf_t *cf,
    ngx_api_led_compose_part_conf_t *pc);
static void *ngx_api_led_compose_create_main_conf(ngx_conf_t *cf);


/* the methods a part may call with */
#define NGX_API_LED_COMPOSE_PART_METHODS                                      \
    (NGX_HTTP_GET|NGX_HTTP_POST|NGX_HTTP_PUT|NGX_HTTP_PATCH|NGX_HTTP_DELETE)


static ngx_conf_num_bounds_t  ngx_api_led_compose_status_bounds = {
    ngx_conf_check_num_bounds, 200, 299
};


static ngx_command_t  ngx_api_led_compose_commands[] = {

    { ngx_string("api_led_compose"),
      NGX_HTTP_LOC_CONF|NGX_CONF_BLOCK|NGX_CONF_ANY,
      ngx_api_led_compose_block,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("api_led_compose_merge"),
      NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_api_led_compose_merge,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("api_led_compose_status"),
      NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_api_led_compose_loc_conf_t, status),
      &ngx_api_led_compose_status_bounds },

    { ngx_string("api_led_compose_max_part_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_api_led_compose_loc_conf_t, max_part_size),
      &ngx_api_led_size_not_zero },

      ngx_null_command
};


static ngx_http_module_t  ngx_api_led_compose_module_ctx = {
    ngx_api_led_compose_add_variables,     /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_api_led_compose_create_main_conf,  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_api_led_compose_create_loc_conf,   /* create location configuration */
    ngx_api_led_compose_merge_loc_conf     /* merge location configuration */
};


ngx_module_t  ngx_api_led_compose_module = {
    NGX_MODULE_V1,
    &ngx_api_led_compose_module_ctx,       /* module context */
    ngx_api_led_compose_commands,          /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* $api_led_compose_status: "NAME:STATUS,..." in declaration order */

static ngx_int_t
ngx_api_led_compose_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                      *p;
    size_t                       len;
    ngx_uint_t                   i;
    ngx_api_led_compose_t       *cmp;
    ngx_api_led_compose_part_t  *part;

    cmp = ngx_http_get_module_ctx(r, ngx_api_led_compose_module);

    if (cmp == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    len = 0;

    for (i = 0; i < cmp->nparts; i++) {
        len += cmp->parts[i].conf->name.len + sizeof(":timeout,") - 1;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->data = p;

    for (i = 0; i < cmp->nparts; i++) {
        part = &cmp->parts[i];

        if (i) {
            *p++ = ',';
        }

        p = ngx_sprintf(p, "%V:", &part->conf->name);

        if (part->state == NGX_API_LED_PART_TIMEDOUT) {
            p = ngx_cpymem(p, "timeout", sizeof("timeout") - 1);

        } else if (part->status && part->state != NGX_API_LED_PART_RUNNING) {
            p = ngx_sprintf(p, "%03ui", part->status);

        } else {
            *p++ = '-';
        }
    }

    v->len = p - v->data;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/* configuration */

static ngx_int_t
ngx_api_led_compose_add_variables(ngx_conf_t *cf)
{
    ngx_str_t             name = ngx_string("api_led_compose_status");
    ngx_http_variable_t  *var;

    var = ngx_http_add_variable(cf, &name, NGX_HTTP_VAR_NOCACHEABLE);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_api_led_compose_status_variable;

    return NGX_OK;
}


static void *
ngx_api_led_compose_create_main_conf(ngx_conf_t *cf)
{
    ngx_api_led_compose_main_conf_t  *cmcf;

    cmcf = ngx_pcalloc(cf->pool, sizeof(ngx_api_led_compose_main_conf_t));
    if (cmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&cmcf->sites, cf->pool, 4,
                       sizeof(ngx_api_led_compose_site_t))
        != NGX_OK)
    {
        return NULL;
    }

    return cmcf;
}


static void *
ngx_api_led_compose_create_loc_conf(ngx_conf_t *cf)
{
    ngx_api_led_compose_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_api_led_compose_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->compositions = NULL;
     *     conf->methods = 0;
     *     conf->allow = { 0, NULL };
     */

    conf->merge = NGX_CONF_UNSET_UINT;
    conf->conflict = NGX_CONF_UNSET_UINT;
    conf->status = NGX_CONF_UNSET_UINT;
    conf->max_part_size = NGX_CONF_UNSET_SIZE;

    return conf;
}


static char *
ngx_api_led_compose_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_api_led_compose_loc_conf_t  *prev = parent;
    ngx_api_led_compose_loc_conf_t  *conf = child;

    ngx_uint_t                        i, j;
    ngx_http_core_loc_conf_t         *clcf;
    ngx_api_led_compose_conf_t       *comp;
    ngx_api_led_compose_part_conf_t  *pc;

    /*
     * compositions are a location's own: a nested location has no
     * handler; its "if" and limit_except blocks answer with its handler
     * and their own configuration, which has its compositions
     */

    if (conf->merge == NGX_CONF_UNSET_UINT) {
        conf->merge = prev->merge;
        conf->conflict = prev->conflict;
    }

    ngx_conf_merge_uint_value(conf->merge, prev->merge,
                              NGX_API_LED_MERGE_NAMESPACED);
    ngx_conf_merge_uint_value(conf->conflict, prev->conflict,
                              NGX_API_LED_CONFLICT_ERROR);
    ngx_conf_merge_uint_value(conf->status, prev->status, NGX_HTTP_OK);
    ngx_conf_merge_size_value(conf->max_part_size, prev->max_part_size,
                              NGX_API_LED_COMPOSE_MAX_PART_SIZE);
    if (conf->compositions == NULL) {
        clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

        if (clcf->noname) {
            conf->compositions = prev->compositions;
        }

        return NGX_CONF_OK;
    }

    comp = conf->compositions->elts;

    for (i = 0; conf->merge == NGX_API_LED_MERGE_DEEP
                && i < conf->compositions->nelts; i++)
    {
        pc = comp[i].parts->elts;

        for (j = 0; j < comp[i].parts->nelts; j++) {
            if (pc[j].foreach) {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "part \"%V\" answers an array (foreach=): the "
                              "deep merge takes objects only, use "
                              "\"api_led_compose_merge namespaced\" in %V:%ui",
                              &pc[j].name, &comp[i].file, pc[j].line);
                return NGX_CONF_ERROR;
            }
        }
    }

    if (ngx_api_led_compose_describe(cf, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * The catalog: the parts of the location and the APIs they call (the
 * observe service finds the location of each part's URI)
 */

static ngx_int_t
ngx_api_led_compose_describe(ngx_conf_t *cf,
    ngx_api_led_compose_loc_conf_t *conf)
{
    json_t                           *entry, *parts, *part, *methods;
    ngx_uint_t                        i, j, k;
    ngx_api_led_compose_conf_t       *comp;
    ngx_api_led_compose_part_conf_t  *pc;

    entry = ngx_api_led_catalog_entry(cf);

    if (entry == NULL || conf->compositions == NULL) {
        return NGX_OK;
    }

    parts = json_array();

    if (parts == NULL
        || json_object_set_new(entry, "parts", parts)
        || json_object_set_new(entry, "merge",
                               json_string(conf->merge == NGX_API_LED_MERGE_DEEP
                                           ? "deep" : "namespaced")))
    {
        return NGX_ERROR;
    }

    comp = conf->compositions->elts;

    for (k = 0; k < conf->compositions->nelts; k++) {
        pc = comp[k].parts->elts;

        for (i = 0; i < comp[k].parts->nelts; i++) {
            part = ngx_api_led_compose_describe_part(cf, &pc[i]);

            if (part == NULL || json_array_append_new(parts, part)) {
                return NGX_ERROR;
            }

            if (pc[i].event
                && ngx_api_led_catalog_publishes(cf, &pc[i].event->type,
                                                 &pc[i].event->stream,
                                                 &pc[i].name)
                   != NGX_OK)
            {
                return NGX_ERROR;
            }

            if (conf->compositions->nelts == 1) {
                continue;
            }

            /* several compositions: the methods a part runs for */

            methods = json_array();

            if (methods == NULL || json_object_set_new(part, "for", methods)) {
                return NGX_ERROR;
            }

            for (j = 0; j < NGX_API_LED_NMETHODS; j++) {
                if ((comp[k].methods & ngx_api_led_method_codes[j])
                    && json_array_append_new(methods, json_stringn(
                           (char *) ngx_api_led_method_names[j].data,
                           ngx_api_led_method_names[j].len)))
                {
                    return NGX_ERROR;
                }
            }
        }
    }

    return NGX_OK;
}


static json_t *
ngx_api_led_compose_describe_part(ngx_conf_t *cf,
    ngx_api_led_compose_part_conf_t *pc)
{
    u_char                     *p;
    json_t                     *part, *after;
    ngx_str_t                   probe, *name;
    ngx_uint_t                  i;
    ngx_api_led_compose_seg_t  *seg;

    if (pc->event) {
        /* it calls nothing: it publishes */
        return json_pack("{s:s%, s:s%, s:s%, s:b}",
                         "name", pc->name.data, pc->name.len,
                         "event", pc->event->type.data, pc->event->type.len,
                         "stream", pc->event->stream.data,
                         pc->event->stream.len,
                         "optional", 1);
    }

    /* the URI as written: any bytes nginx takes */
    part = json_pack("{s:s%, s:s%, s:o, s:b}",
                     "name", pc->name.data, pc->name.len,
                     "method", pc->method_name.data, pc->method_name.len,
                     "uri", ngx_api_led_catalog_text(pc->uri_text.data,
                                                     pc->uri_text.len),
                     "optional", (int) pc->optional);
    if (part == NULL) {
        return NULL;
    }

    if (pc->timeout
        && json_object_set_new(part, "timeout_ms",
                               json_integer((json_int_t) pc->timeout)))
    {
        goto failed;
    }

    if (pc->after_names) {
        after = json_array();

        if (after == NULL || json_object_set_new(part, "after", after)) {
            goto failed;
        }

        name = pc->after_names->elts;

        for (i = 0; i < pc->after_names->nelts; i++) {
            if (json_array_append_new(after, json_stringn(
                    (char *) name[i].data, name[i].len)))
            {
                goto failed;
            }
        }
    }

    /* the path with a sample value for each variable and placeholder */

    seg = pc->uri.elts;
    probe.len = 0;

    for (i = 0; i < pc->uri.nelts; i++) {
        probe.len += seg[i].type == NGX_API_LED_SEG_TEXT ? seg[i].text.len : 1;
    }

    probe.data = ngx_pnalloc(cf->pool, probe.len);
    if (probe.data == NULL) {
        goto failed;
    }

    p = probe.data;

    for (i = 0; i < pc->uri.nelts && !seg[i].in_args; i++) {
        if (seg[i].type == NGX_API_LED_SEG_TEXT) {
            p = ngx_cpymem(p, seg[i].text.data, seg[i].text.len);

        } else {
            *p++ = '0';
        }
    }

    probe.len = p - probe.data;

    if (ngx_api_led_catalog_call(cf, part, &probe) != NGX_OK) {
        goto failed;
    }

    return part;

failed:

    json_decref(part);
    return NULL;
}


/* api_led_compose [METHOD ...] { NAME [METHOD] URI [PARAMETERS]; ... } */

static char *
ngx_api_led_compose_block(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_api_led_compose_loc_conf_t *lcf = conf;

    char                              *rv;
    ngx_conf_t                         save;
    ngx_api_led_compose_conf_t        *comp;
    ngx_api_led_compose_site_t        *site;
    ngx_api_led_compose_main_conf_t   *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_compose_module);

    rv = ngx_api_led_content_handler(cf, "api_led_compose", cmcf->handler);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (lcf->compositions == NULL) {
        lcf->compositions = ngx_array_create(cf->pool, 2,
                                        sizeof(ngx_api_led_compose_conf_t));
        if (lcf->compositions == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    comp = ngx_array_push(lcf->compositions);
    if (comp == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(comp, sizeof(ngx_api_led_compose_conf_t));

    comp->file = cf->conf_file->file.name;
    comp->line = cf->conf_file->line;

    if (ngx_api_led_compose_methods(cf, lcf, comp) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    comp->parts = ngx_array_create(cf->pool, 4,
                                   sizeof(ngx_api_led_compose_part_conf_t));
    if (comp->parts == NULL) {
        return NGX_CONF_ERROR;
    }

    save = *cf;
    cf->handler = ngx_api_led_compose_part;
    cf->handler_conf = (void *) comp;

    rv = ngx_conf_parse(cf, NULL);

    *cf = save;

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (comp->parts->nelts == 0) {
        return "has no parts";
    }

    if (ngx_api_led_compose_resolve(cf, comp) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_api_led_compose_allow(cf, lcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /*
     * The parts carry the client's headers into API locations, where a
     * subrequest is not cleaned: the client's request is, here.
     */
    ngx_api_led_forwards(cf);

    site = ngx_array_push(&cmcf->sites);
    if (site == NULL) {
        return NGX_CONF_ERROR;
    }

    site->comp = comp;
    site->api = ngx_http_conf_get_module_loc_conf(cf, ngx_api_led_module);
    site->server = ngx_http_conf_get_module_srv_conf(cf, ngx_http_core_module);

    return NGX_CONF_OK;
}


/*
 * The methods of a block (none written: GET and HEAD; GET brings HEAD, as
 * in limit_except); a method answered by another block is refused.
 */

static ngx_int_t
ngx_api_led_compose_methods(ngx_conf_t *cf,
    ngx_api_led_compose_loc_conf_t *lcf, ngx_api_led_compose_conf_t *comp)
{
    ngx_str_t   *value;
    ngx_uint_t   i, k, m;

    value = cf->args->elts;

    if (cf->args->nelts == 1) {
        comp->methods = NGX_HTTP_GET|NGX_HTTP_HEAD;
    }

    for (i = 1; i < cf->args->nelts; i++) {

        k = ngx_api_led_method_index(value[i].data, value[i].len);

        if (k == NGX_API_LED_NMETHODS) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid method \"%V\" of \"api_led_compose\","
                               " must be GET, HEAD, POST, PUT, PATCH, DELETE "
                               "or OPTIONS", &value[i]);
            return NGX_ERROR;
        }

        m = ngx_api_led_method_codes[k];

        if (comp->methods & m) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate method \"%V\"", &value[i]);
            return NGX_ERROR;
        }

        comp->methods |= m;

        if (m == NGX_HTTP_GET) {
            comp->methods |= NGX_HTTP_HEAD;
        }
    }

    m = comp->methods & lcf->methods;

    if (m) {
        for (k = 0; !(ngx_api_led_method_codes[k] & m); k++) {
            /* void */
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "method %V is answered by another "
                           "\"api_led_compose\" of the location",
                           &ngx_api_led_method_names[k]);
        return NGX_ERROR;
    }

    lcf->methods |= comp->methods;

    return NGX_OK;
}


/* the Allow header of a 405: the methods of every block of the location */

static ngx_int_t
ngx_api_led_compose_allow(ngx_conf_t *cf, ngx_api_led_compose_loc_conf_t *lcf)
{
    u_char      *p;
    ngx_uint_t   k;

    p = ngx_pnalloc(cf->pool, sizeof("GET, HEAD, POST, PUT, PATCH, DELETE, "
                                     "OPTIONS"));
    if (p == NULL) {
        return NGX_ERROR;
    }

    lcf->allow.data = p;

    for (k = 0; k < NGX_API_LED_NMETHODS; k++) {
        if (lcf->methods & ngx_api_led_method_codes[k]) {
            if (p != lcf->allow.data) {
                *p++ = ',';
                *p++ = ' ';
            }

            p = ngx_cpymem(p, ngx_api_led_method_names[k].data,
                           ngx_api_led_method_names[k].len);
        }
    }

    lcf->allow.len = p - lcf->allow.data;

    return NGX_OK;
}


/*
 * NAME [METHOD] URI [body=TEMPLATE|@request] [optional] [status=pass]
 * [timeout=TIME] [after=NAME] [foreach=PART/POINTER] [concurrency=N]
 * [max_items=N]
 */

static char *
ngx_api_led_compose_part(ngx_conf_t *cf, ngx_command_t *dummy, void *conf)
{
    ngx_api_led_compose_conf_t *comp = (ngx_api_led_compose_conf_t *) conf;

    char                             *rv;
    ngx_str_t                        *value;
    ngx_uint_t                        i, n, t;
    ngx_api_led_compose_part_conf_t  *pc, *parts;

    value = cf->args->elts;
    n = cf->args->nelts;

    if (!ngx_api_led_compose_name_is_valid(&value[0])) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid part name \"%V\": use 1 to %d letters, "
                           "digits, \"_\" and \"-\", starting with a letter "
                           "or \"_\"", &value[0], NGX_API_LED_NAME_MAX);
        return NGX_CONF_ERROR;
    }

    if ((value[0].len == 7 && ngx_strncmp(value[0].data, "request", 7) == 0)
        || (value[0].len == 4 && ngx_strncmp(value[0].data, "item", 4) == 0))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "part name \"%V\" is reserved for the placeholders "
                           "{%V}", &value[0], &value[0]);
        return NGX_CONF_ERROR;
    }

    parts = comp->parts->elts;

    for (i = 0; i < comp->parts->nelts; i++) {
        if (parts[i].name.len == value[0].len
            && ngx_strncmp(parts[i].name.data, value[0].data,
                           value[0].len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate part name \"%V\"", &value[0]);
            return NGX_CONF_ERROR;
        }
    }

    if (comp->parts->nelts == NGX_API_LED_COMPOSE_MAX_PARTS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "too many parts: at most %d",
                           NGX_API_LED_COMPOSE_MAX_PARTS);
        return NGX_CONF_ERROR;
    }

    pc = ngx_array_push(comp->parts);
    if (pc == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(pc, sizeof(ngx_api_led_compose_part_conf_t));

    pc->name = value[0];
    pc->line = cf->conf_file->line;
    pc->method = 0;
    pc->concurrency = NGX_CONF_UNSET_UINT;
    pc->max_items = NGX_CONF_UNSET_UINT;

    if (n > 1 && ngx_strncmp(value[1].data, "event=", 6) == 0) {
        return ngx_api_led_compose_event_part(cf, pc, value, n);
    }

    i = 1;

    if (i < n) {
        t = ngx_api_led_method_index(value[i].data, value[i].len);

        /* HEAD or OPTIONS is no part's method: read as the URI, refused */
        if (t < NGX_API_LED_NMETHODS
            && (ngx_api_led_method_codes[t]
                & NGX_API_LED_COMPOSE_PART_METHODS))
        {
            pc->method = ngx_api_led_method_codes[t];
            pc->method_name = ngx_api_led_method_names[t];
            i++;
        }
    }

    if (i >= n || value[i].len == 0 || value[i].data[0] != '/') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "part \"%V\" needs a URI that starts with \"/\"",
                           &value[0]);
        return NGX_CONF_ERROR;
    }

    if (ngx_array_init(&pc->uri, cf->pool, 4,
                       sizeof(ngx_api_led_compose_seg_t))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_api_led_tmpl_uri(cf, &value[i], &pc->uri) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    pc->uri_text = value[i];

    for (i++; i < n; i++) {
        rv = ngx_api_led_compose_part_param(cf, pc, &value[i]);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    if (pc->method == 0) {
        if (pc->body_type != NGX_API_LED_BODY_NONE) {
            pc->method = NGX_HTTP_POST;
            ngx_str_set(&pc->method_name, "POST");

        } else {
            pc->method = NGX_HTTP_GET;
            ngx_str_set(&pc->method_name, "GET");
        }

    } else if (pc->body_type != NGX_API_LED_BODY_NONE
               && pc->method == NGX_HTTP_GET)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "part \"%V\": a GET part has no body",
                           &value[0]);
        return NGX_CONF_ERROR;
    }

    if (!pc->foreach
        && (pc->concurrency != NGX_CONF_UNSET_UINT
            || pc->max_items != NGX_CONF_UNSET_UINT))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "part \"%V\": \"concurrency=\" and \"max_items=\" "
                           "go with \"foreach=\"", &value[0]);
        return NGX_CONF_ERROR;
    }

    if (pc->concurrency == NGX_CONF_UNSET_UINT) {
        pc->concurrency = NGX_API_LED_COMPOSE_CONCURRENCY;
    }

    if (pc->max_items == NGX_CONF_UNSET_UINT) {
        pc->max_items = NGX_API_LED_COMPOSE_MAX_ITEMS;
    }

    if (pc->body_type == NGX_API_LED_BODY_REQUEST) {
        comp->request_body = 1;
    }

    return NGX_CONF_OK;
}


static char *
ngx_api_led_compose_part_param(ngx_conf_t *cf,
    ngx_api_led_compose_part_conf_t *pc, ngx_str_t *value)
{
    u_char      *p, *last;
    ngx_str_t    s, *name;
    ngx_int_t    t;
    ngx_uint_t  *slot;

    if (ngx_strncmp(value->data, "body=", 5) == 0) {
        if (pc->body_type != NGX_API_LED_BODY_NONE) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate \"body=\" in part \"%V\"",
                               &pc->name);
            return NGX_CONF_ERROR;
        }

        s.data = value->data + 5;
        s.len = value->len - 5;

        if (s.len == 8 && ngx_strncmp(s.data, "@request", 8) == 0) {
            pc->body_type = NGX_API_LED_BODY_REQUEST;
            return NGX_CONF_OK;
        }

        pc->body_type = NGX_API_LED_BODY_TEMPLATE;

        pc->body = ngx_array_create(cf->pool, 4,
                                    sizeof(ngx_api_led_compose_seg_t));
        if (pc->body == NULL) {
            return NGX_CONF_ERROR;
        }

        if (ngx_api_led_tmpl_json(cf, &s, "the body of part", &pc->name,
                                  pc->body)
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    if (value->len == 8 && ngx_strncmp(value->data, "optional", 8) == 0) {
        pc->optional = 1;
        return NGX_CONF_OK;
    }

    if (value->len == 11 && ngx_strncmp(value->data, "status=pass", 11) == 0)
    {
        pc->pass_status = 1;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value->data, "timeout=", 8) == 0) {
        s.data = value->data + 8;
        s.len = value->len - 8;

        t = ngx_parse_time(&s, 0);

        if (t == NGX_ERROR || t == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid timeout \"%V\" in part \"%V\"",
                               &s, &pc->name);
            return NGX_CONF_ERROR;
        }

        pc->timeout = t;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value->data, "foreach=", 8) == 0) {
        return ngx_api_led_compose_foreach(cf, pc, value);
    }

    slot = NULL;

    if (ngx_strncmp(value->data, "concurrency=", 12) == 0) {
        slot = &pc->concurrency;
        s.data = value->data + 12;
        s.len = value->len - 12;

    } else if (ngx_strncmp(value->data, "max_items=", 10) == 0) {
        slot = &pc->max_items;
        s.data = value->data + 10;
        s.len = value->len - 10;
    }

    if (slot) {
        t = ngx_atoi(s.data, s.len);

        if (t < 1 || t > NGX_API_LED_COMPOSE_ITEMS_CAP) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"%V\" in part \"%V\": 1 to %d",
                               value, &pc->name,
                               NGX_API_LED_COMPOSE_ITEMS_CAP);
            return NGX_CONF_ERROR;
        }

        *slot = t;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value->data, "after=", 6) == 0) {
        p = value->data + 6;
        last = value->data + value->len;

        if (pc->after_names == NULL) {
            pc->after_names = ngx_array_create(cf->pool, 2,
                                               sizeof(ngx_str_t));
            if (pc->after_names == NULL) {
                return NGX_CONF_ERROR;
            }
        }

        /* after=a,b and after=a after=b */

        while (p <= last) {
            s.data = p;

            while (p < last && *p != ',') {
                p++;
            }

            s.len = p - s.data;
            p++;

            if (!ngx_api_led_compose_name_is_valid(&s)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid part name \"%V\" in \"%V\"",
                                   &s, value);
                return NGX_CONF_ERROR;
            }

            name = ngx_array_push(pc->after_names);
            if (name == NULL) {
                return NGX_CONF_ERROR;
            }

            *name = s;
        }

        return NGX_CONF_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in part \"%V\"",
                       value, &pc->name);
    return NGX_CONF_ERROR;
}


/*
 * NAME event=TYPE stream=KEY [data=TEMPLATE] [maxlen=N] [after=...]: the
 * part publishes an event (publish/) once the parts it uses or names
 * succeeded, and is not in the answer.  Its data's placeholders are the
 * parts' and {request}, as in a body.
 */

static char *
ngx_api_led_compose_event_part(ngx_conf_t *cf,
    ngx_api_led_compose_part_conf_t *pc, ngx_str_t *value, ngx_uint_t n)
{
    char        *rv;
    ngx_str_t    s;
    ngx_uint_t   i;

    pc->event = ngx_pcalloc(cf->pool, sizeof(ngx_api_led_event_def_t));
    if (pc->event == NULL) {
        return NGX_CONF_ERROR;
    }

    s.data = value[1].data + 6;
    s.len = value[1].len - 6;

    rv = ngx_api_led_publish_def_type(cf, pc->event, &s);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (ngx_array_init(&pc->uri, cf->pool, 1,
                       sizeof(ngx_api_led_compose_seg_t))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    ngx_str_set(&pc->method_name, "EVENT");
    pc->uri_text = value[1];

    /* an event never fails the composition: the write it tells of did not */
    pc->optional = 1;
    pc->concurrency = NGX_API_LED_COMPOSE_CONCURRENCY;
    pc->max_items = NGX_API_LED_COMPOSE_MAX_ITEMS;

    for (i = 2; i < n; i++) {

        rv = ngx_api_led_publish_def_param(cf, pc->event, &value[i]);

        if (rv != NGX_API_LED_PUBLISH_NOT_MINE) {
            if (rv != NGX_CONF_OK) {
                return rv;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "data=", 5) == 0) {
            if (pc->event->data) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "duplicate \"data=\" in part \"%V\"",
                                   &pc->name);
                return NGX_CONF_ERROR;
            }

            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            if (ngx_api_led_publish_def_data(cf, pc->event, &s,
                                             "the data of part", &pc->name)
                != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "after=", 6) == 0
            || (value[i].len == 8
                && ngx_strncmp(value[i].data, "optional", 8) == 0))
        {
            rv = ngx_api_led_compose_part_param(cf, pc, &value[i]);
            if (rv != NGX_CONF_OK) {
                return rv;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in event part \"%V\": "
                           "use stream=, data=, maxlen= and after=",
                           &value[i], &pc->name);
        return NGX_CONF_ERROR;
    }

    return ngx_api_led_publish_def_done(cf, pc->event);
}


/* foreach=PART/POINTER: the part name, resolved later, and the pointer */

static char *
ngx_api_led_compose_foreach(ngx_conf_t *cf,
    ngx_api_led_compose_part_conf_t *pc, ngx_str_t *value)
{
    char       *err;
    u_char     *p, *last;
    ngx_str_t   name, ptr;

    if (pc->foreach) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate \"foreach=\" in part \"%V\"",
                           &pc->name);
        return NGX_CONF_ERROR;
    }

    p = value->data + 8;
    last = value->data + value->len;

    name.data = p;

    while (p < last && *p != '/') {
        p++;
    }

    name.len = p - name.data;

    ptr.data = p;
    ptr.len = last - p;

    if (!ngx_api_led_compose_name_is_valid(&name)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"%V\" in part \"%V\": foreach=PART or "
                           "foreach=PART/json/pointer", value, &pc->name);
        return NGX_CONF_ERROR;
    }

    err = ngx_api_led_json_path_parse(cf->pool, &ptr, &pc->foreach_path);
    if (err) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid JSON Pointer \"%V\" in \"%V\": %s",
                           &ptr, value, err);
        return NGX_CONF_ERROR;
    }

    pc->foreach = 1;
    pc->foreach_text.data = value->data + 8;
    pc->foreach_text.len = value->len - 8;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_api_led_compose_name_is_valid(ngx_str_t *name)
{
    u_char      ch;
    ngx_uint_t  i;

    if (name->len == 0 || name->len > NGX_API_LED_NAME_MAX) {
        return 0;
    }

    for (i = 0; i < name->len; i++) {
        ch = name->data[i];

        if (!(isalpha(ch) || ch == '_'
              || (i && (isdigit(ch) || ch == '-'))))
        {
            return 0;
        }
    }

    return 1;
}


/* the index of the part "name", n if none */

static ngx_int_t
ngx_api_led_compose_find_name(ngx_api_led_compose_part_conf_t *pc,
    ngx_uint_t n, ngx_str_t *name)
{
    ngx_uint_t  i;

    for (i = 0; i < n; i++) {
        if (pc[i].name.len == name->len
            && ngx_strncmp(pc[i].name.data, name->data, name->len) == 0)
        {
            break;
        }
    }

    return i;
}


/* part names to indexes, dependencies, cycles */

static ngx_int_t
ngx_api_led_compose_resolve(ngx_conf_t *cf, ngx_api_led_compose_conf_t *comp)
{
    u_char                           *p, *end, buf[1024];
    u_char                            color[NGX_API_LED_COMPOSE_MAX_PARTS];
    ngx_str_t                        *name, fname;
    ngx_uint_t                        i, j, n, found, len, line;
    ngx_uint_t                        stack[NGX_API_LED_COMPOSE_MAX_PARTS + 1];
    ngx_api_led_compose_part_conf_t  *pc;

    pc = comp->parts->elts;
    n = comp->parts->nelts;
    line = cf->conf_file->line;

    for (i = 0; i < n; i++) {

        /* foreach= */

        if (pc[i].foreach) {
            fname.data = pc[i].foreach_text.data;

            for (fname.len = 0;
                 fname.len < pc[i].foreach_text.len
                 && fname.data[fname.len] != '/';
                 fname.len++)
            {
                /* void */
            }

            found = ngx_api_led_compose_find_name(pc, n, &fname);

            if (found == n) {
                cf->conf_file->line = pc[i].line;
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "unknown part \"%V\" in \"foreach=\" of "
                                   "part \"%V\"", &fname, &pc[i].name);
                cf->conf_file->line = line;
                return NGX_ERROR;
            }

            pc[i].foreach_part = found;
            pc[i].uses |= 1U << found;
            pc[i].after |= 1U << found;
            comp->parsed |= 1U << found;
        }

        /* placeholders */

        if (ngx_api_led_compose_resolve_segs(cf, comp, i, &pc[i].uri)
            != NGX_OK)
        {
            cf->conf_file->line = line;
            return NGX_ERROR;
        }

        if (pc[i].body
            && ngx_api_led_compose_resolve_segs(cf, comp, i, pc[i].body)
               != NGX_OK)
        {
            cf->conf_file->line = line;
            return NGX_ERROR;
        }

        if (pc[i].event && pc[i].event->data
            && ngx_api_led_compose_resolve_segs(cf, comp, i,
                                                pc[i].event->data)
               != NGX_OK)
        {
            cf->conf_file->line = line;
            return NGX_ERROR;
        }

        if (pc[i].uses_item && !pc[i].foreach) {
            cf->conf_file->line = pc[i].line;
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "part \"%V\" uses {item} without \"foreach=\"",
                               &pc[i].name);
            cf->conf_file->line = line;
            return NGX_ERROR;
        }

        /* after= */

        if (pc[i].after_names) {
            name = pc[i].after_names->elts;

            for (j = 0; j < pc[i].after_names->nelts; j++) {
                found = ngx_api_led_compose_find_name(pc, n, &name[j]);

                if (found == n) {
                    cf->conf_file->line = pc[i].line;
                    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                       "unknown part \"%V\" in \"after=\" "
                                       "of part \"%V\"", &name[j],
                                       &pc[i].name);
                    cf->conf_file->line = line;
                    return NGX_ERROR;
                }

                pc[i].after |= 1U << found;
            }
        }
    }

    ngx_memzero(color, sizeof(color));

    for (i = 0; i < n; i++) {
        if (color[i]) {
            continue;
        }

        len = 0;

        if (ngx_api_led_compose_find_cycle(pc, n, i, color, stack, 0, &len)
            != NGX_OK)
        {
            p = buf;
            end = buf + sizeof(buf);

            for (j = 0; j < len; j++) {
                p = ngx_slprintf(p, end, "%s%V", j ? " -> " : "",
                                 &pc[stack[j]].name);
            }

            cf->conf_file->line = pc[stack[0]].line;
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "parts depend on each other in a cycle: %*s",
                               p - buf, buf);
            cf->conf_file->line = line;
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * The placeholders of a template: a part (a dependency), the client's
 * body ({request}) or, in a foreach part, the element ({item}).
 */

static ngx_int_t
ngx_api_led_compose_resolve_segs(ngx_conf_t *cf,
    ngx_api_led_compose_conf_t *comp, ngx_uint_t i, ngx_array_t *segs)
{
    ngx_uint_t                        j, n, found;
    ngx_api_led_compose_seg_t        *seg;
    ngx_api_led_compose_part_conf_t  *pc;

    pc = comp->parts->elts;
    n = comp->parts->nelts;
    seg = segs->elts;

    for (j = 0; j < segs->nelts; j++) {
        if (seg[j].type == NGX_API_LED_SEG_VAR) {
            if (ngx_api_led_compose_add_var(cf, comp, seg[j].index)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            continue;
        }

        if (seg[j].type != NGX_API_LED_SEG_PLACEHOLDER) {
            continue;
        }

        if (seg[j].name.len == 7
            && ngx_strncmp(seg[j].name.data, "request", 7) == 0)
        {
            seg[j].index = NGX_API_LED_COMPOSE_REQUEST;
            comp->request_json = 1;
            comp->request_body = 1;
            continue;
        }

        if (seg[j].name.len == 4
            && ngx_strncmp(seg[j].name.data, "item", 4) == 0)
        {
            seg[j].index = NGX_API_LED_COMPOSE_ITEM;
            pc[i].uses_item = 1;
            continue;
        }

        found = ngx_api_led_compose_find_name(pc, n, &seg[j].name);

        if (found == n) {
            cf->conf_file->line = pc[i].line;
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unknown part \"%V\" in placeholder \"%V\" of "
                               "part \"%V\"", &seg[j].name,
                               &seg[j].text, &pc[i].name);
            return NGX_ERROR;
        }

        seg[j].index = found;
        pc[i].uses |= 1U << found;
        pc[i].after |= 1U << found;
        comp->parsed |= 1U << found;
    }

    return NGX_OK;
}


/*
 * The composition takes the values of its templates' variables once, when
 * its parts start (see ngx_api_led_compose_var() in the run's file).
 */

static ngx_int_t
ngx_api_led_compose_add_var(ngx_conf_t *cf, ngx_api_led_compose_conf_t *comp,
    ngx_uint_t index)
{
    ngx_uint_t  i, *v;

    if (comp->vars == NULL) {
        comp->vars = ngx_array_create(cf->pool, 4, sizeof(ngx_uint_t));
        if (comp->vars == NULL) {
            return NGX_ERROR;
        }
    }

    v = comp->vars->elts;

    for (i = 0; i < comp->vars->nelts; i++) {
        if (v[i] == index) {
            return NGX_OK;
        }
    }

    v = ngx_array_push(comp->vars);
    if (v == NULL) {
        return NGX_ERROR;
    }

    *v = index;

    return NGX_OK;
}


/*
 * Depth-first search (color 1: on the path, 2: done).  On a cycle,
 * stack[0 .. *len - 1] holds it, first part repeated at the end.
 */

static ngx_int_t
ngx_api_led_compose_find_cycle(ngx_api_led_compose_part_conf_t *pc,
    ngx_uint_t n, ngx_uint_t i, u_char *color, ngx_uint_t *stack,
    ngx_uint_t depth, ngx_uint_t *len)
{
    ngx_uint_t  j, k;

    color[i] = 1;
    stack[depth] = i;

    for (j = 0; j < n; j++) {
        if (!(pc[i].after & (1U << j))) {
            continue;
        }

        if (color[j] == 1) {
            /* the cycle starts where j is on the path */
            for (k = 0; stack[k] != j; k++) { /* void */ }

            ngx_memmove(stack, stack + k, (depth - k + 1) * sizeof(ngx_uint_t));
            stack[depth - k + 1] = j;
            *len = depth - k + 2;

            return NGX_ERROR;
        }

        if (color[j] == 0
            && ngx_api_led_compose_find_cycle(pc, n, j, color, stack,
                                              depth + 1, len)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    color[i] = 2;

    return NGX_OK;
}


/* api_led_compose_merge namespaced | deep [conflict=error|first|last] */

static char *
ngx_api_led_compose_merge(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_api_led_compose_loc_conf_t *lcf = conf;

    ngx_str_t  *value, s;

    if (lcf->merge != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "namespaced") == 0) {
        lcf->merge = NGX_API_LED_MERGE_NAMESPACED;

    } else if (ngx_strcmp(value[1].data, "deep") == 0) {
        lcf->merge = NGX_API_LED_MERGE_DEEP;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid merge mode \"%V\", must be "
                           "\"namespaced\" or \"deep\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    lcf->conflict = NGX_API_LED_CONFLICT_ERROR;

    if (cf->args->nelts == 2) {
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value[2].data, "conflict=", 9) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[2]);
        return NGX_CONF_ERROR;
    }

    if (lcf->merge != NGX_API_LED_MERGE_DEEP) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"conflict=\" applies to the deep merge only");
        return NGX_CONF_ERROR;
    }

    s.data = value[2].data + 9;
    s.len = value[2].len - 9;

    if (s.len == 5 && ngx_strncmp(s.data, "error", 5) == 0) {
        lcf->conflict = NGX_API_LED_CONFLICT_ERROR;

    } else if (s.len == 5 && ngx_strncmp(s.data, "first", 5) == 0) {
        lcf->conflict = NGX_API_LED_CONFLICT_FIRST;

    } else if (s.len == 4 && ngx_strncmp(s.data, "last", 4) == 0) {
        lcf->conflict = NGX_API_LED_CONFLICT_LAST;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid conflict rule \"%V\", must be \"error\", "
                           "\"first\" or \"last\"", &s);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}
