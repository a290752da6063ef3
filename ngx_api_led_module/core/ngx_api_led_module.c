
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * The core module: API declaration and layers, the correlation id and the
 * trace (whose machinery is ngx_api_led_trace.c's), the access phase
 * pipeline (authenticate, then rate-limit) and the identity variables
 * every concern shares.
 */


#include "ngx_api_led.h"


static ngx_int_t ngx_api_led_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_api_led_init(ngx_conf_t *cf);
static ngx_int_t ngx_api_led_check_contents(ngx_conf_t *cf,
    ngx_api_led_main_conf_t *lmcf);
static void *ngx_api_led_create_main_conf(ngx_conf_t *cf);
static void *ngx_api_led_create_loc_conf(ngx_conf_t *cf);
static char *ngx_api_led_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_api_led_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

static ngx_int_t ngx_api_led_access_handler(ngx_http_request_t *r);
static ngx_int_t ngx_api_led_admitted_handler(ngx_http_request_t *r);
static ngx_int_t ngx_api_led_run_steps(ngx_http_request_t *r,
    ngx_api_led_ctx_t *ctx, ngx_uint_t steps);
static ngx_int_t ngx_api_led_header_filter(ngx_http_request_t *r);
static void ngx_api_led_ctx_cleanup(void *data);
static void ngx_api_led_redirected(ngx_http_request_t *r,
    ngx_api_led_ctx_t *ctx);
static ngx_int_t ngx_api_led_init_correlation_id(ngx_http_request_t *r,
    ngx_api_led_ctx_t *ctx, ngx_table_elt_t **first);
static ngx_int_t ngx_api_led_correlation_id_is_valid(ngx_str_t *id);
static void ngx_api_led_request_trace_header(ngx_api_led_ctx_t *ctx,
    ngx_table_elt_t *h);
static ngx_int_t ngx_api_led_correlation_from_trace(ngx_http_request_t *r,
    ngx_api_led_ctx_t *ctx, ngx_table_elt_t **first);
static ngx_int_t ngx_api_led_forward_correlation_id(ngx_http_request_t *r,
    ngx_api_led_ctx_t *ctx);
static ngx_int_t ngx_api_led_wake_event(ngx_http_request_t *r,
    ngx_api_led_ctx_t *ctx);
static void ngx_api_led_wake_handler(ngx_event_t *ev);

static ngx_int_t ngx_api_led_variable_api(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_api_led_variable_layer(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_api_led_variable_api_version(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_api_led_variable_ctx_str(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_api_led_variable_correlation_id(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_api_led_variable_plan(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_api_led_variable_trace_id(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_api_led_variable_span(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_api_led_api_param_twice(ngx_conf_t *cf,
    ngx_str_t *value, ngx_uint_t n);
static char *ngx_api_led_api_param(ngx_conf_t *cf,
    ngx_api_led_loc_conf_t *llcf, ngx_str_t *param);
static char *ngx_api_led_api_date(ngx_conf_t *cf, ngx_str_t *param,
    size_t skip, time_t *date);


/* by NGX_API_LED_LAYER_*: observe/ names the layers in metrics too */
ngx_str_t  ngx_api_led_layer_names[] = {
    ngx_null_string,
    ngx_string("experience"),
    ngx_string("process"),
    ngx_string("system")
};

ngx_str_t  ngx_api_led_method_names[] = {
    ngx_string("GET"), ngx_string("HEAD"), ngx_string("POST"),
    ngx_string("PUT"), ngx_string("PATCH"), ngx_string("DELETE"),
    ngx_string("OPTIONS")
};

ngx_uint_t  ngx_api_led_method_codes[] = {
    NGX_HTTP_GET, NGX_HTTP_HEAD, NGX_HTTP_POST, NGX_HTTP_PUT,
    NGX_HTTP_PATCH, NGX_HTTP_DELETE, NGX_HTTP_OPTIONS
};

ngx_conf_enum_t  ngx_api_led_log_levels[] = {
    { ngx_string("info"), NGX_LOG_INFO },
    { ngx_string("notice"), NGX_LOG_NOTICE },
    { ngx_string("warn"), NGX_LOG_WARN },
    { ngx_string("error"), NGX_LOG_ERR },
    { ngx_null_string, 0 }
};


static char *ngx_api_led_size_post(ngx_conf_t *cf, void *post, void *data);

ngx_conf_post_t  ngx_api_led_size_not_zero = { ngx_api_led_size_post };


static ngx_str_t  ngx_api_led_correlation_header =
    ngx_string(NGX_API_LED_CORRELATION_HEADER);
static ngx_api_led_edit_name_t  ngx_api_led_correlation_name = {
    ngx_string(NGX_API_LED_CORRELATION_HEADER),
    ngx_string(NGX_API_LED_CORRELATION_LOWCASE), 0
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;


static ngx_conf_enum_t  ngx_api_led_correlation_sources[] = {
    { ngx_string("header"), NGX_API_LED_CORRELATION_FROM_HEADER },
    { ngx_string("trace"), NGX_API_LED_CORRELATION_FROM_TRACE },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_api_led_commands[] = {

    { ngx_string("api_led_api"),
      NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_api_led_api,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("api_led_trace"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_api_led_loc_conf_t, trace),
      NULL },

    { ngx_string("api_led_correlation_id"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_api_led_loc_conf_t, correlation),
      &ngx_api_led_correlation_sources },

      ngx_null_command
};


static ngx_http_module_t  ngx_api_led_module_ctx = {
    ngx_api_led_add_variables,             /* preconfiguration */
    ngx_api_led_init,                      /* postconfiguration */

    ngx_api_led_create_main_conf,          /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_api_led_create_loc_conf,           /* create location configuration */
    ngx_api_led_merge_loc_conf             /* merge location configuration */
};


ngx_module_t  ngx_api_led_module = {
    NGX_MODULE_V1,
    &ngx_api_led_module_ctx,               /* module context */
    ngx_api_led_commands,                  /* module directives */
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


static ngx_http_variable_t  ngx_api_led_vars[] = {

    { ngx_string("api_led_api"), NULL, ngx_api_led_variable_api,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("api_led_layer"), NULL, ngx_api_led_variable_layer,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("api_led_api_version"), NULL,
      ngx_api_led_variable_api_version, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("api_led_correlation_id"), NULL,
      ngx_api_led_variable_correlation_id, 0, 0, 0 },

    { ngx_string("api_led_consumer"), NULL, ngx_api_led_variable_ctx_str,
      offsetof(ngx_api_led_ctx_t, consumer_id), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("api_led_auth_method"), NULL, ngx_api_led_variable_ctx_str,
      offsetof(ngx_api_led_ctx_t, auth_method), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("api_led_plan"), NULL, ngx_api_led_variable_plan,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("api_led_trace_id"), NULL, ngx_api_led_variable_trace_id,
      0, 0, 0 },

    /* subrequests share their parent's cache of variables: not cached */

    { ngx_string("api_led_span_id"), NULL, ngx_api_led_variable_span,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("api_led_parent_span_id"), NULL, ngx_api_led_variable_span,
      1, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_int_t
ngx_api_led_add_variables(ngx_conf_t *cf)
{
    return ngx_api_led_add_variable_table(cf, ngx_api_led_vars);
}


/* registers a module's table of variables (ended by a null variable) */

ngx_int_t
ngx_api_led_add_variable_table(ngx_conf_t *cf, ngx_http_variable_t *vars)
{
    ngx_http_variable_t  *var, *v;

    for (v = vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


/*
 * The access and precontent handlers and the header filter exist only
 * when a location needs them (an API, a policy's step): the policies
 * marked the locations that use their steps while the locations were
 * merged, which happened before any postconfiguration.
 */

static ngx_int_t
ngx_api_led_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_api_led_main_conf_t    *lmcf;
    ngx_http_core_main_conf_t  *cmcf;

    ngx_api_led_correlation_name.hash =
        ngx_hash_key(ngx_api_led_correlation_name.lowcase.data,
                     ngx_api_led_correlation_name.lowcase.len);

    ngx_api_led_edit_init();
    ngx_api_led_trace_init();

    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_module);

    if (ngx_api_led_check_contents(cf, lmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    if (lmcf->apis || (lmcf->steps_used & NGX_API_LED_STEPS_ACCESS)) {
        h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        *h = ngx_api_led_access_handler;
    }

    /* the module's first: see ngx_api_led_add_precontent() */

    if (lmcf->steps_used & ~NGX_API_LED_STEPS_ACCESS) {
        h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        *h = ngx_api_led_admitted_handler;
    }

    if (lmcf->apis) {
        ngx_http_next_header_filter = ngx_http_top_header_filter;
        ngx_http_top_header_filter = ngx_api_led_header_filter;
    }

    return NGX_OK;
}


static void *
ngx_api_led_create_main_conf(ngx_conf_t *cf)
{
    /*
     * set by ngx_pcalloc():
     *
     *     steps[] = NULL;
     *     plan_limits_max = 0;
     *     hide_credentials = NULL;
     *     contents = NULL;
     */

    return ngx_pcalloc(cf->pool, sizeof(ngx_api_led_main_conf_t));
}


/* a policy's step of the access phase pipeline, in its slot */

ngx_int_t
ngx_api_led_add_step(ngx_conf_t *cf, ngx_uint_t slot,
    ngx_api_led_step_pt step)
{
    ngx_api_led_main_conf_t  *lmcf;

    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_module);

    lmcf->steps[slot] = step;

    return NGX_OK;
}


/*
 * nginx runs a phase's handlers from the last registered to the first.  The
 * core registered the admitted steps' handler before the other modules of
 * the shared object had their postconfiguration; theirs go below it, so
 * that it runs first.
 */

ngx_int_t
ngx_api_led_add_precontent(ngx_conf_t *cf, ngx_http_handler_pt handler)
{
    ngx_uint_t                  k, n;
    ngx_array_t                *handlers;
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);
    handlers = &cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers;

    n = handlers->nelts;

    if (ngx_array_push(handlers) == NULL) {
        return NGX_ERROR;
    }

    h = handlers->elts;

    for (k = 0; k < n; k++) {
        if (h[k] == ngx_api_led_admitted_handler) {
            break;
        }
    }

    /* in the admitted steps' place, which moves up with those above it */

    ngx_memmove(&h[k + 1], &h[k], (n - k) * sizeof(ngx_http_handler_pt));
    h[k] = handler;

    return NGX_OK;
}


/*
 * Called from a policy's merge_loc_conf when its step applies to the
 * location being merged (whose configuration cf->ctx holds then).
 */

void
ngx_api_led_use_step(ngx_conf_t *cf, ngx_uint_t slot)
{
    ngx_api_led_loc_conf_t   *llcf;
    ngx_api_led_main_conf_t  *lmcf;

    llcf = ngx_http_conf_get_module_loc_conf(cf, ngx_api_led_module);
    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_module);

    llcf->steps |= 1 << slot;
    lmcf->steps_used |= 1 << slot;
}


/*
 * "X-API-Key" as the variable "http_x_api_key".  Only $http_NAME reads a
 * "-" as "_": $arg_NAME and $cookie_NAME match the name as written, and
 * no variable spells an argument or cookie "api-key" ($arg_api_key reads
 * another argument): such a name is not registered.
 */

ngx_int_t
ngx_api_led_hide_variable(ngx_conf_t *cf, const char *prefix,
    ngx_str_t *name)
{
    u_char                  *p, c;
    size_t                   n;
    ngx_uint_t               i, header;
    ngx_str_t               *var;
    ngx_api_led_loc_conf_t  *llcf;

    header = (ngx_strcmp(prefix, "http_") == 0);

    for (i = 0; i < name->len; i++) {
        c = ngx_tolower(name->data[i]);

        if (!(c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
              || (c == '-' && header)))
        {
            return NGX_OK;
        }
    }

    llcf = ngx_http_conf_get_module_loc_conf(cf, ngx_api_led_module);

    if (llcf->hidden == NULL) {
        llcf->hidden = ngx_array_create(cf->pool, 2, sizeof(ngx_str_t));
        if (llcf->hidden == NULL) {
            return NGX_ERROR;
        }
    }

    var = ngx_array_push(llcf->hidden);
    if (var == NULL) {
        return NGX_ERROR;
    }

    n = ngx_strlen(prefix);

    var->len = n + name->len;
    var->data = ngx_pnalloc(cf->pool, var->len);
    if (var->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(var->data, prefix, n);

    for (i = 0; i < name->len; i++) {
        *p++ = (name->data[i] == '-') ? '_' : ngx_tolower(name->data[i]);
    }

    return NGX_OK;
}


/* the first hidden variable "$name" or "${name}" in the text reads */

ngx_str_t *
ngx_api_led_reads_hidden(ngx_conf_t *cf, ngx_str_t *text)
{
    u_char                  *p, *last, c;
    ngx_str_t               *var;
    ngx_uint_t               i;
    ngx_api_led_loc_conf_t  *llcf;

    llcf = ngx_http_conf_get_module_loc_conf(cf, ngx_api_led_module);

    if (llcf->hidden == NULL) {
        return NULL;
    }

    var = llcf->hidden->elts;
    last = text->data + text->len;

    for (p = text->data; p < last; p++) {

        if (*p != '$') {
            continue;
        }

        p++;

        if (p < last && *p == '{') {
            p++;
        }

        for (i = 0; i < llcf->hidden->nelts; i++) {

            if ((size_t) (last - p) < var[i].len
                || ngx_strncasecmp(p, var[i].data, var[i].len) != 0)
            {
                continue;
            }

            /* nginx's variable names: letters, digits and "_" */

            c = (p + var[i].len < last) ? p[var[i].len] : '\0';

            if (!(c == '_' || (c >= '0' && c <= '9')
                  || (ngx_tolower(c) >= 'a' && ngx_tolower(c) <= 'z')))
            {
                return &var[i];
            }
        }

        p--;
    }

    return NULL;
}


/* a composition's location: its request is cleaned as an API's is */

void
ngx_api_led_forwards(ngx_conf_t *cf)
{
    ngx_api_led_loc_conf_t  *llcf;

    llcf = ngx_http_conf_get_module_loc_conf(cf, ngx_api_led_module);

    llcf->forwards = 1;
}


typedef struct {
    ngx_http_core_loc_conf_t    *clcf;
    ngx_http_handler_pt          handler;
    const char                  *directive;
    u_char                      *file;
    ngx_uint_t                   line;
} ngx_api_led_content_t;


char *
ngx_api_led_content_handler(ngx_conf_t *cf, const char *directive,
    ngx_http_handler_pt handler)
{
    ngx_api_led_content_t     *content;
    ngx_api_led_main_conf_t   *lmcf;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler == handler) {
        return NGX_CONF_OK;
    }

    if (clcf->handler) {
        return "conflicts with another content handler of the location";
    }

    clcf->handler = handler;

    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_module);

    if (lmcf->contents == NULL) {
        lmcf->contents = ngx_array_create(cf->pool, 4,
                                          sizeof(ngx_api_led_content_t));
        if (lmcf->contents == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    content = ngx_array_push(lmcf->contents);
    if (content == NULL) {
        return NGX_CONF_ERROR;
    }

    content->clcf = clcf;
    content->handler = handler;
    content->directive = directive;
    content->file = cf->conf_file->file.name.data;
    content->line = cf->conf_file->line;

    return NGX_CONF_OK;
}


ngx_uint_t
ngx_api_led_answers_itself(ngx_http_request_t *r)
{
    ngx_uint_t                i;
    ngx_api_led_content_t    *content;
    ngx_api_led_main_conf_t  *lmcf;

    lmcf = ngx_http_get_module_main_conf(r, ngx_api_led_module);

    if (lmcf->contents == NULL || r->content_handler == NULL) {
        return 0;
    }

    content = lmcf->contents->elts;

    for (i = 0; i < lmcf->contents->nelts; i++) {
        if (content[i].handler == r->content_handler) {
            return 1;
        }
    }

    return 0;
}


/*
 * A content handler set after the directive replaced the directive's.
 * nginx answers the methods a limit_except block takes with the block's
 * own content handler (proxy_pass sets it at merge), none if it has none:
 * a block without one gets the directive's.
 */

static ngx_int_t
ngx_api_led_check_contents(ngx_conf_t *cf, ngx_api_led_main_conf_t *lmcf)
{
    ngx_uint_t                 i;
    ngx_api_led_content_t     *content;
    ngx_http_core_loc_conf_t  *clcf, *lclcf;

    if (lmcf->contents == NULL) {
        return NGX_OK;
    }

    content = lmcf->contents->elts;

    for (i = 0; i < lmcf->contents->nelts; i++) {
        if (content[i].clcf->handler != content[i].handler) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"%s\" directive conflicts with another content "
                          "handler of the location in %s:%ui",
                          content[i].directive, content[i].file,
                          content[i].line);
            return NGX_ERROR;
        }

        clcf = content[i].clcf;

        if (clcf->limit_except_loc_conf == NULL) {
            continue;
        }

        lclcf = clcf->limit_except_loc_conf[ngx_http_core_module.ctx_index];

        if (lclcf->handler == NULL) {
            lclcf->handler = content[i].handler;
        }
    }

    return NGX_OK;
}


static void *
ngx_api_led_create_loc_conf(ngx_conf_t *cf)
{
    ngx_api_led_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_api_led_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->api = { 0, NULL };
     *     conf->version = { 0, NULL };
     *     conf->steps = 0;            (set by the policies' merges)
     *     conf->forwards = 0;         (set by ngx_api_led_forwards())
     *     conf->spec = { 0, NULL };
     *     conf->conf_file = NULL;
     *     conf->conf_line = 0;
     */

    conf->layer = NGX_CONF_UNSET_UINT;
    conf->deprecated = NGX_API_LED_DATE_NONE;
    conf->sunset = NGX_API_LED_DATE_NONE;
    conf->trace = NGX_CONF_UNSET;
    conf->correlation = NGX_CONF_UNSET_UINT;

    return conf;
}


static char *
ngx_api_led_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_api_led_loc_conf_t  *prev = parent;
    ngx_api_led_loc_conf_t  *conf = child;

    if (conf->layer == NGX_CONF_UNSET_UINT) {
        conf->api = prev->api;
        conf->version = prev->version;
        conf->layer = prev->layer;
        conf->deprecated = prev->deprecated;
        conf->sunset = prev->sunset;
        conf->spec = prev->spec;
        conf->conf_file = prev->conf_file;
        conf->conf_line = prev->conf_line;
    }

    ngx_conf_merge_uint_value(conf->layer, prev->layer,
                              NGX_API_LED_LAYER_NONE);
    ngx_conf_merge_value(conf->trace, prev->trace, 1);
    ngx_conf_merge_uint_value(conf->correlation, prev->correlation,
                              NGX_API_LED_CORRELATION_FROM_HEADER);

    return NGX_CONF_OK;
}


/*
 * A largest size of 0 (a body, a part) would refuse every request, while
 * nginx's client_max_body_size 0 means no limit: whoever writes 0 means
 * the latter, which these sizes have not.  Refused rather than guessed.
 */

static char *
ngx_api_led_size_post(ngx_conf_t *cf, void *post, void *data)
{
    size_t  *sp = data;

    if (*sp == 0) {
        return "must be at least 1 byte (there is no unlimited size)";
    }

    return NGX_CONF_OK;
}


/*
 * api_led_api NAME [layer=experience|process|system] [version=V]
 *     [deprecated=DATE] [sunset=DATE] [spec=FILE]
 */

static char *
ngx_api_led_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_api_led_loc_conf_t *llcf = conf;

    char                     *rv;
    ngx_str_t                *value;
    ngx_uint_t                i;
    ngx_api_led_main_conf_t  *lmcf;

    if (llcf->layer != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].len > NGX_API_LED_NAME_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "api name \"%V\" must be 1 to %d characters",
                           &value[1], NGX_API_LED_NAME_MAX);
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < value[1].len; i++) {
        if (!(isalnum(value[1].data[i]) || value[1].data[i] == '-'
              || value[1].data[i] == '_' || value[1].data[i] == '.'))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid api name \"%V\": use letters, digits,"
                               " \"-\", \"_\" and \".\"", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    llcf->api = value[1];
    llcf->layer = NGX_API_LED_LAYER_NONE;
    llcf->conf_file = cf->conf_file->file.name.data;
    llcf->conf_line = cf->conf_file->line;

    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_module);
    lmcf->apis = 1;

    for (i = 2; i < cf->args->nelts; i++) {
        if (ngx_api_led_api_param_twice(cf, value, i) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        rv = ngx_api_led_api_param(cf, llcf, &value[i]);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    if (llcf->deprecated != NGX_API_LED_DATE_NONE
        && llcf->sunset != NGX_API_LED_DATE_NONE
        && llcf->sunset < llcf->deprecated)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the sunset date of api \"%V\" is before its "
                           "deprecation date", &llcf->api);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * "layer=system ... layer=experience": which one was meant cannot be
 * told, and taking the last would be a silent guess
 */

static ngx_int_t
ngx_api_led_api_param_twice(ngx_conf_t *cf, ngx_str_t *value, ngx_uint_t n)
{
    u_char      *eq;
    size_t       len;
    ngx_uint_t   i;

    eq = ngx_strlchr(value[n].data, value[n].data + value[n].len, '=');

    if (eq == NULL) {
        /* no NAME=: ngx_api_led_api_param() says what is wrong */
        return NGX_OK;
    }

    len = eq + 1 - value[n].data;

    for (i = 2; i < n; i++) {
        if (value[i].len >= len
            && ngx_strncmp(value[i].data, value[n].data, len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%*s\" is given twice", len, value[n].data);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static char *
ngx_api_led_api_param(ngx_conf_t *cf, ngx_api_led_loc_conf_t *llcf,
    ngx_str_t *param)
{
    ngx_str_t   s;
    ngx_uint_t  n;

    if (ngx_strncmp(param->data, "layer=", 6) == 0) {
        s.data = param->data + 6;
        s.len = param->len - 6;

        for (n = 1; n <= NGX_API_LED_LAYER_SYSTEM; n++) {
            if (s.len == ngx_api_led_layer_names[n].len
                && ngx_strncmp(s.data, ngx_api_led_layer_names[n].data,
                               s.len) == 0)
            {
                llcf->layer = n;
                return NGX_CONF_OK;
            }
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown layer \"%V\", must be "
                           "\"experience\", \"process\" or "
                           "\"system\"", &s);
        return NGX_CONF_ERROR;
    }

    if (ngx_strncmp(param->data, "version=", 8) == 0 && param->len > 8) {
        llcf->version.data = param->data + 8;
        llcf->version.len = param->len - 8;

        /* the version goes into headers, labels and the catalog */
        if (llcf->version.len > 64
            || !ngx_api_led_header_value_is_safe(&llcf->version))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid version \"%V\"", &llcf->version);
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    if (ngx_strncmp(param->data, "deprecated=", 11) == 0) {
        return ngx_api_led_api_date(cf, param, 11, &llcf->deprecated);
    }

    if (ngx_strncmp(param->data, "sunset=", 7) == 0) {
        return ngx_api_led_api_date(cf, param, 7, &llcf->sunset);
    }

    if (ngx_strncmp(param->data, "spec=", 5) == 0 && param->len > 5) {
        llcf->spec.data = param->data + 5;
        llcf->spec.len = param->len - 5;

        /* read and checked once the configuration is parsed (observe/) */
        if (ngx_conf_full_name(cf->cycle, &llcf->spec, 1) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\"", param);
    return NGX_CONF_ERROR;
}


static char *
ngx_api_led_api_date(ngx_conf_t *cf, ngx_str_t *param, size_t skip,
    time_t *date)
{
    ngx_str_t  s;

    s.data = param->data + skip;
    s.len = param->len - skip;

    *date = ngx_api_led_parse_date(&s);

    if (*date == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid date \"%V\" in \"%V\", must be "
                           "YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ", &s, param);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* "2026-01-31" or "2026-01-31T12:00:00Z", UTC, years 1970 to 9999 */

time_t
ngx_api_led_parse_date(ngx_str_t *text)
{
    u_char      *p;
    ngx_int_t    year, month, day, hour, min, sec, days;
    ngx_uint_t   i;

    static ngx_int_t  mdays[] = { 31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31 };

    p = text->data;

    if (text->len != 10 && text->len != 20) {
        return NGX_ERROR;
    }

    for (i = 0; i < text->len; i++) {
        if (i == 4 || i == 7) {
            if (p[i] != '-') {
                return NGX_ERROR;
            }

        } else if (i == 10) {
            if (p[i] != 'T') {
                return NGX_ERROR;
            }

        } else if (i == 13 || i == 16) {
            if (p[i] != ':') {
                return NGX_ERROR;
            }

        } else if (i == 19) {
            if (p[i] != 'Z') {
                return NGX_ERROR;
            }

        } else if (p[i] < '0' || p[i] > '9') {
            return NGX_ERROR;
        }
    }

    year = ngx_atoi(p, 4);
    month = ngx_atoi(p + 5, 2);
    day = ngx_atoi(p + 8, 2);
    hour = 0;
    min = 0;
    sec = 0;

    if (text->len == 20) {
        hour = ngx_atoi(p + 11, 2);
        min = ngx_atoi(p + 14, 2);
        sec = ngx_atoi(p + 17, 2);
    }

    if (year < 1970 || month < 1 || month > 12 || day < 1
        || hour > 23 || min > 59 || sec > 59)
    {
        return NGX_ERROR;
    }

    if (day > mdays[month - 1]
        + (month == 2 && year % 4 == 0
           && (year % 100 != 0 || year % 400 == 0)))
    {
        return NGX_ERROR;
    }

    /* days since 1970-01-01 of the civil date (March-based years) */

    if (month <= 2) {
        year--;
        month += 12;
    }

    days = 365 * year + year / 4 - year / 100 + year / 400
           + (153 * (month - 3) + 2) / 5 + day - 1 - 719468;

    return (time_t) days * 86400 + hour * 3600 + min * 60 + sec;
}


/*
 * The shared ctx lives on the main request.  nginx wipes r->ctx on an
 * internal redirect; the ctx is also registered as a pool cleanup, so it is
 * found again there and the correlation id and the identity survive.
 */

ngx_api_led_ctx_t *
ngx_api_led_ctx_create(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t  *cln;
    ngx_api_led_ctx_t   *ctx;

    r = r->main;

    ctx = ngx_api_led_ctx_recover(r, &ngx_api_led_module,
                                  ngx_api_led_ctx_cleanup);
    if (ctx) {
        ngx_api_led_redirected(r, ctx);
        return ctx;
    }

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_api_led_ctx_t));
    if (cln == NULL) {
        return NULL;
    }

    ctx = cln->data;
    ngx_memzero(ctx, sizeof(ngx_api_led_ctx_t));

    cln->handler = ngx_api_led_ctx_cleanup;

    /* first seen in an error_page's location, or so it may be */
    ctx->error_page = (r->internal && r->err_status) ? 1 : 0;

    ngx_http_set_ctx(r, ctx, ngx_api_led_module);

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "api_led: request state created");

    return ctx;
}


/*
 * The correlation id is made when something needs it: an API location
 * forwards and returns it, a problem or a composition part carries it,
 * $api_led_correlation_id shows it.
 */

ngx_str_t *
ngx_api_led_correlation_id(ngx_http_request_t *r)
{
    ngx_api_led_ctx_t  *ctx;

    ctx = ngx_api_led_get_ctx(r);
    if (ctx == NULL) {
        return NULL;
    }

    if (ctx->correlation_id.len == 0
        && ngx_api_led_init_correlation_id(r->main, ctx, NULL) != NGX_OK)
    {
        return NULL;
    }

    return &ctx->correlation_id;
}

/* a composition's part: a child span, where the location traces */

ngx_int_t
ngx_api_led_trace_subrequest(ngx_http_request_t *r, ngx_http_request_t *sr)
{
    ngx_api_led_ctx_t       *ctx;
    ngx_api_led_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_api_led_module);

    if (!llcf->trace) {
        return NGX_OK;
    }

    ctx = ngx_api_led_get_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_api_led_request_headers(r, ctx);

    return ngx_api_led_trace_child(r, ctx, sr);
}


/*
 * The one way back to a request ctx after an internal redirect wiped
 * r->ctx: a ctx that must survive one is the data of a pool cleanup of the
 * main request (whose handler tells whose it is); found, it is set again.
 */

void *
ngx_api_led_ctx_recover(ngx_http_request_t *r, ngx_module_t *m,
    ngx_pool_cleanup_pt handler)
{
    ngx_pool_cleanup_t  *cln;

    r = r->main;

    if (!r->internal) {
        return NULL;
    }

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == handler) {
            r->ctx[m->ctx_index] = cln->data;
            return cln->data;
        }
    }

    return NULL;
}


/*
 * After an internal redirect the new location's policies apply: its
 * authentication step runs again (an identity proven by an API key holds
 * where keys are taken, the credential may have been hidden from the
 * request already; a token proven before meets the new location's keys
 * and rules; a request that got through without one, auth off or
 * anonymous, is authenticated again, so that try_files or error_page into
 * a protected location is no way around its policy).  Rate limits count
 * once per request, like limit_req.  A redirect with r->err_status set is
 * an error_page's.
 */

static void
ngx_api_led_redirected(ngx_http_request_t *r, ngx_api_led_ctx_t *ctx)
{
    ctx->steps_done &= ~(1 << NGX_API_LED_STEP_AUTH);
    ctx->granted = 0;
    ctx->refused = 0;

    if (r->err_status) {
        ctx->error_page = 1;
    }
}


static void
ngx_api_led_ctx_cleanup(void *data)
{
    ngx_api_led_ctx_t  *ctx = data;

    /* a wake-up posted for a request that goes away never runs */
    if (ctx->wake && ctx->wake->posted) {
        ngx_delete_posted_event(ctx->wake);
    }

    if (ctx->claims) {
        json_decref(ctx->claims);
        ctx->claims = NULL;
    }
}


/*
 * The first valid incoming X-Correlation-ID, else a random (version 4)
 * UUID.  "first", when asked for, gets the first X-Correlation-ID header
 * element of the request, valid or not (the one to forward in).
 */

static ngx_int_t
ngx_api_led_init_correlation_id(ngx_http_request_t *r, ngx_api_led_ctx_t *ctx,
    ngx_table_elt_t **first)
{
    u_char                     *p;
    ngx_table_elt_t            *h;
    ngx_api_led_loc_conf_t     *llcf;
    ngx_api_led_header_iter_t   it;

    llcf = ngx_http_get_module_loc_conf(r, ngx_api_led_module);

    if (llcf->correlation == NGX_API_LED_CORRELATION_FROM_TRACE) {
        return ngx_api_led_correlation_from_trace(r, ctx, first);
    }

    ngx_api_led_request_headers(r, ctx);

    h = ctx->correlation_in;

    if (first) {
        *first = h;
    }

    if (h && ngx_api_led_correlation_id_is_valid(&h->value)) {
        ctx->correlation_id = h->value;
        return NGX_OK;
    }

    if (h) {
        /* the first is not valid: a later one may be (rare) */

        it.part = NULL;

        while ((h = ngx_api_led_header_next(&r->headers_in.headers,
                                            &ngx_api_led_correlation_header,
                                            &it)))
        {
            if (ngx_api_led_correlation_id_is_valid(&h->value)) {
                ctx->correlation_id = h->value;
                return NGX_OK;
            }
        }
    }

    /*
     * apart from the ctx, which every policy's request makes: a request's
     * pool grows by 4 KB blocks, and a ctx larger by the id's 36 bytes
     * would take some requests over a block's end for nothing
     */
    p = ngx_pnalloc(r->pool, 36);
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (ngx_api_led_uuid_write(p) == NULL) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "api_led: RAND_bytes() failed");
        return NGX_ERROR;
    }

    ctx->correlation_id.data = p;
    ctx->correlation_id.len = 36;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "api_led: correlation id \"%V\" generated",
                   &ctx->correlation_id);

    return NGX_OK;
}


/*
 * One look at the client's request headers for what the core needs of
 * them (the correlation id, the caller assertion, the client's
 * X-Consumer-* headers), instead of a look for each.  nginx gave every
 * parsed header its lowercase name; a header another module pushed
 * without one is compared case-insensitively.
 */

void
ngx_api_led_request_headers(ngx_http_request_t *r, ngx_api_led_ctx_t *ctx)
{
    u_char           *name;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    if (ctx->headers_seen) {
        return;
    }

    ctx->headers_seen = 1;

    r = r->main;

    if (r->headers_in.headers.nalloc == 0) {
        /* HTTP/0.9: no headers */
        return;
    }

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {

            if (h[i].hash == 0 || h[i].key.len < sizeof("tracestate") - 1) {
                continue;
            }

            name = h[i].key.data;

            if ((name[0] | 0x20) == 't') {
                ngx_api_led_request_trace_header(ctx, &h[i]);

            } else if ((name[0] | 0x20) == 'x') {

                /* X_Correlation_ID too, as the upstream reads it */

                if (h[i].key.len == sizeof(NGX_API_LED_CORRELATION_HEADER) - 1
                    && ngx_api_led_header_name_is(name, (u_char *)
                                              NGX_API_LED_CORRELATION_HEADER,
                                              h[i].key.len))
                {
                    if (ctx->correlation_in == NULL) {
                        ctx->correlation_in = &h[i];
                    }

                } else if (h[i].key.len > sizeof("X-Consumer-") - 1
                           && ngx_api_led_header_name_is(name,
                                  (u_char *) "X-Consumer-",
                                  sizeof("X-Consumer-") - 1))
                {
                    ctx->consumer_headers = 1;
                }

            } else if ((name[0] | 0x20) == 'a'
                       && h[i].key.len == sizeof("API-Led-Caller") - 1
                       && ngx_api_led_header_name_is(name,
                              (u_char *) "API-Led-Caller", h[i].key.len))
            {
                /* API_Led_Caller too, as the removal and $http_ see it */
                ctx->caller_header = 1;
            }
        }
    }
}


/* traceparent (the first, and whether more came) and tracestate */

static void
ngx_api_led_request_trace_header(ngx_api_led_ctx_t *ctx, ngx_table_elt_t *h)
{
    if (h->key.len == sizeof("traceparent") - 1
        && ngx_strncasecmp(h->key.data, (u_char *) "traceparent",
                           h->key.len) == 0)
    {
        if (ctx->traceparent_in) {
            ctx->traceparent_many = 1;

        } else {
            ctx->traceparent_in = h;
        }

    } else if (h->key.len == sizeof("tracestate") - 1
               && ngx_strncasecmp(h->key.data, (u_char *) "tracestate",
                                  h->key.len) == 0)
    {
        if (ctx->tracestate_in) {
            /* one list: checked as a whole if the trace is continued */
            ctx->tracestate_many = 1;
        }

        ctx->tracestate_in = 1;

        if (!ngx_api_led_tracestate_valid(&h->value)) {
            ctx->tracestate_bad = 1;
        }
    }
}


/*
 * api_led_correlation_id trace: the id is the trace id, 32 hex digits (a
 * client's X-Correlation-ID is replaced, as an invalid one is)
 */

static ngx_int_t
ngx_api_led_correlation_from_trace(ngx_http_request_t *r,
    ngx_api_led_ctx_t *ctx, ngx_table_elt_t **first)
{
    u_char  *p;

    ngx_api_led_request_headers(r, ctx);

    if (ngx_api_led_trace_start(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(r->pool, 2 * NGX_API_LED_TRACE_ID_SIZE);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ctx->correlation_id.data = p;
    ctx->correlation_id.len = ngx_api_led_hex_dump(p, ctx->trace.trace_id,
                                                   NGX_API_LED_TRACE_ID_SIZE)
                              - p;

    if (first) {
        *first = ngx_api_led_header_find(&r->headers_in.headers,
                                         &ngx_api_led_correlation_header);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_correlation_id_is_valid(ngx_str_t *id)
{
    u_char      ch;
    ngx_uint_t  i;

    if (id->len == 0 || id->len > NGX_API_LED_CORRELATION_MAX) {
        return 0;
    }

    for (i = 0; i < id->len; i++) {
        ch = id->data[i];

        if (!(isalnum(ch) || ch == '.' || ch == '_' || ch == '-')) {
            return 0;
        }
    }

    return 1;
}


/*
 * The access phase pipeline.  A step that suspends the request (NGX_AGAIN)
 * is called again when the request resumes and must know where it stands;
 * a step that finished is not called again for this request.
 *
 * Under "satisfy any" another access module (allow, auth_basic...) may let
 * in a request that authentication refused: the later steps (the rate
 * limits) run all the same, and the refusal is returned after them, for
 * nginx to weigh against the others.
 */

static ngx_int_t
ngx_api_led_access_handler(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_api_led_ctx_t        *ctx;
    ngx_api_led_loc_conf_t   *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_api_led_module);

    if (llcf->api.len == 0 && !(llcf->steps & NGX_API_LED_STEPS_ACCESS)) {
        /* nothing of the module here: no state made */
        return NGX_DECLINED;
    }

    ctx = ngx_api_led_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (llcf->api.len) {
        if (ngx_api_led_forward_correlation_id(r, ctx) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /* the headers were looked at for the correlation id */
        if (llcf->trace && ngx_api_led_trace_forward(r, ctx) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    rc = ngx_api_led_run_steps(r, ctx,
                               llcf->steps & NGX_API_LED_STEPS_ACCESS);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (ctx->refused) {
        return ctx->refused_status;
    }

    return ctx->granted ? NGX_OK : NGX_DECLINED;
}


/*
 * The steps that count a request (the rate limits) run once nginx let it
 * in: a request that authentication, allow/deny, auth_basic or
 * auth_request refused costs no one's quota, whatever "satisfy" says.
 * nginx runs no access phase for subrequests, and they are not counted
 * here either.
 */

static ngx_int_t
ngx_api_led_admitted_handler(ngx_http_request_t *r)
{
    ngx_int_t                rc;
    ngx_api_led_ctx_t       *ctx;
    ngx_api_led_loc_conf_t  *llcf;

    if (r != r->main) {
        return NGX_DECLINED;
    }

    /*
     * The location of an error_page that keeps the status: the request
     * was refused before it was let in (a 401 of the access phase), or it
     * was counted where it was let in.
     */

    if (r->err_status) {
        return NGX_DECLINED;
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_api_led_module);

    if (!(llcf->steps & ~NGX_API_LED_STEPS_ACCESS)) {
        return NGX_DECLINED;
    }

    ctx = ngx_api_led_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_api_led_run_steps(r, ctx,
                               llcf->steps & ~NGX_API_LED_STEPS_ACCESS);

    /* NGX_OK would skip the phase's other handlers (try_files, mirror) */
    return (rc == NGX_OK) ? NGX_DECLINED : rc;
}


/*
 * Runs the steps named by the bits of "steps" that have not run yet.  Under
 * "satisfy any" a 401 or 403 of an access step is kept for the end of the
 * module's access handler, and nginx weighs it with the other modules'.
 */

static ngx_int_t
ngx_api_led_run_steps(ngx_http_request_t *r, ngx_api_led_ctx_t *ctx,
    ngx_uint_t steps)
{
    ngx_int_t                  rc;
    ngx_uint_t                 i;
    ngx_api_led_main_conf_t   *lmcf;
    ngx_http_core_loc_conf_t  *clcf;

    lmcf = ngx_http_get_module_main_conf(r, ngx_api_led_module);

    for (i = 0; i < NGX_API_LED_STEP_N; i++) {

        if (lmcf->steps[i] == NULL
            || !(steps & (1 << i))
            || (ctx->steps_done & (1 << i)))
        {
            continue;
        }

        rc = lmcf->steps[i](r, ctx);

        if (rc == NGX_AGAIN) {
            /* made now: waking the request later cannot fail */
            if (ngx_api_led_wake_event(r, ctx) != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }

        if (rc == NGX_OK) {
            ctx->granted = 1;
            rc = NGX_DECLINED;
        }

        if ((rc == NGX_HTTP_UNAUTHORIZED || rc == NGX_HTTP_FORBIDDEN)
            && i < NGX_API_LED_STEP_ADMITTED)
        {
            clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

            if (clcf->satisfy != NGX_HTTP_SATISFY_ANY) {
                return rc;
            }

            ctx->refused = 1;
            ctx->refused_status = rc;
            rc = NGX_DECLINED;
        }

        if (rc != NGX_DECLINED) {
            return rc;
        }

        ctx->steps_done |= 1 << i;
    }

    return NGX_DECLINED;
}


/*
 * In an API location the upstream sees the request's correlation id, once:
 * a generated one is added, an invalid incoming one is replaced and any
 * other X-Correlation-ID of the client goes, so the next layer (proxy_pass
 * to another node) carries it on.
 */

static ngx_int_t
ngx_api_led_forward_correlation_id(ngx_http_request_t *r,
    ngx_api_led_ctx_t *ctx)
{
    ngx_table_elt_t  *h;

    if (ctx->correlation_forwarded) {
        return NGX_OK;
    }

    /* one look at the request's headers for both */

    h = NULL;

    if (ctx->correlation_id.len == 0) {
        if (ngx_api_led_init_correlation_id(r, ctx, &h) != NGX_OK) {
            return NGX_ERROR;
        }

    } else {
        ngx_api_led_request_headers(r, ctx);
        h = ctx->correlation_in;
    }

    ctx->correlation_forwarded = 1;

    /*
     * Exactly one goes on: the first header gets the id and a client's
     * others go (unchecked: the next layer must not pick one); without
     * one, it is added.
     */

    return ngx_api_led_edit_headers_in_set(r, &ngx_api_led_correlation_name,
                                           &ctx->correlation_id, h == NULL);
}


/*
 * Wakes a request suspended in the access phase (it runs on the main
 * request): the event lives in the shared ctx, whose cleanup takes a
 * posted event off the queue when the request goes away first.
 */

ngx_int_t
ngx_api_led_wake(ngx_http_request_t *r)
{
    ngx_api_led_ctx_t  *ctx;

    r = r->main;

    ctx = ngx_api_led_get_ctx(r);
    if (ctx == NULL || ngx_api_led_wake_event(r, ctx) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "api_led: a suspended request cannot be woken");
        return NGX_ERROR;
    }

    ngx_post_event(ctx->wake, &ngx_posted_events);

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_wake_event(ngx_http_request_t *r, ngx_api_led_ctx_t *ctx)
{
    if (ctx->wake) {
        return NGX_OK;
    }

    ctx->wake = ngx_pcalloc(r->pool, sizeof(ngx_event_t));
    if (ctx->wake == NULL) {
        return NGX_ERROR;
    }

    ctx->wake->handler = ngx_api_led_wake_handler;
    ctx->wake->data = r;
    ctx->wake->log = r->connection->log;

    return NGX_OK;
}


static void
ngx_api_led_wake_handler(ngx_event_t *ev)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ev->data;
    c = r->connection;

    r->read_event_handler = ngx_http_block_reading;
    r->write_event_handler = ngx_http_core_run_phases;

    ngx_http_set_log_request(c->log, r);

    ngx_http_core_run_phases(r);
    ngx_http_run_posted_requests(c);
}


static ngx_int_t
ngx_api_led_header_filter(ngx_http_request_t *r)
{
    ngx_str_t               *cid;
    ngx_api_led_loc_conf_t  *llcf;

    if (r != r->main) {
        return ngx_http_next_header_filter(r);
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_api_led_module);

    if (llcf->api.len == 0) {
        return ngx_http_next_header_filter(r);
    }

    cid = ngx_api_led_correlation_id(r);
    if (cid == NULL) {
        return NGX_ERROR;
    }

    /* the id is checked or made here: safe as it is in a header */

    if (ngx_api_led_edit_headers_out(r, NGX_API_LED_EDIT_SET,
                                     &ngx_api_led_correlation_name, NULL, cid)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_next_header_filter(r);
}


/* CR, LF and other control characters never reach a header */

ngx_int_t
ngx_api_led_header_value_is_safe(ngx_str_t *value)
{
    ngx_uint_t  i;

    for (i = 0; i < value->len; i++) {
        if (value->data[i] < 0x20 && value->data[i] != '\t') {
            return 0;
        }

        if (value->data[i] == 0x7f) {
            return 0;
        }
    }

    return 1;
}


static ngx_int_t
ngx_api_led_variable_api(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_api_led_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_api_led_module);

    if (llcf->api.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = llcf->api.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = llcf->api.data;

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_variable_layer(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_api_led_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_api_led_module);

    if (llcf->layer == NGX_API_LED_LAYER_NONE) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = ngx_api_led_layer_names[llcf->layer].len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = ngx_api_led_layer_names[llcf->layer].data;

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_variable_api_version(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_api_led_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_api_led_module);

    if (llcf->version.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = llcf->version.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = llcf->version.data;

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_variable_ctx_str(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t          *s;
    ngx_api_led_ctx_t  *ctx;

    ctx = ngx_api_led_get_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    s = (ngx_str_t *) ((char *) ctx + data);

    if (s->len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = s->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = s->data;

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_variable_correlation_id(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t  *cid;

    cid = ngx_api_led_correlation_id(r);
    if (cid == NULL) {
        return NGX_ERROR;
    }

    v->len = cid->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = cid->data;

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_variable_plan(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_api_led_ctx_t  *ctx;

    ctx = ngx_api_led_get_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    if (ctx->consumer == NULL || ctx->consumer->plan == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = ctx->consumer->plan->name.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = ctx->consumer->plan->name.data;

    return NGX_OK;
}


/* $api_led_trace_id: 32 hex digits, made on first use */

static ngx_int_t
ngx_api_led_variable_trace_id(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char             *p;
    ngx_api_led_ctx_t  *ctx;

    ctx = ngx_api_led_get_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_api_led_request_headers(r, ctx);

    if (ngx_api_led_trace_start(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(r->pool, 2 * NGX_API_LED_TRACE_ID_SIZE);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_api_led_hex_dump(p, ctx->trace.trace_id,
                                  NGX_API_LED_TRACE_ID_SIZE)
             - p;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}


/*
 * $api_led_span_id: the span of this request (a part of a composition has
 * its own); $api_led_parent_span_id (data 1): the span it continues, not
 * found when the trace started here
 */

static ngx_int_t
ngx_api_led_variable_span(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char              *p, span[NGX_API_LED_SPAN_ID_SIZE],
                         parent[NGX_API_LED_SPAN_ID_SIZE];
    ngx_int_t            rc;
    ngx_api_led_ctx_t   *ctx;

    ctx = ngx_api_led_get_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_api_led_request_headers(r, ctx);

    rc = ngx_api_led_trace_span(r, ctx, span, parent);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (data && rc == NGX_DECLINED) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, 2 * NGX_API_LED_SPAN_ID_SIZE);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_api_led_hex_dump(p, data ? parent : span,
                                  NGX_API_LED_SPAN_ID_SIZE)
             - p;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}


/* "N r/s|m|h|d" */

ngx_int_t
ngx_api_led_parse_rate(ngx_str_t *text, ngx_api_led_rate_t *rate)
{
    u_char     *p, *last;
    ngx_int_t   n;

    p = text->data;
    last = p + text->len;

    if (text->len < 4 || last[-2] != '/' || last[-3] != 'r') {
        return NGX_ERROR;
    }

    n = ngx_atoi(p, text->len - 3);
    if (n <= 0) {
        return NGX_ERROR;
    }

    switch (last[-1]) {
    case 's':
        rate->period = 1000;
        break;
    case 'm':
        rate->period = 60 * 1000;
        break;
    case 'h':
        rate->period = 60 * 60 * 1000;
        break;
    case 'd':
        rate->period = 24 * 60 * 60 * 1000;
        break;
    default:
        return NGX_ERROR;
    }

    rate->count = n;
    rate->text = *text;

    return NGX_OK;
}


ngx_uint_t
ngx_api_led_method_index(u_char *name, size_t len)
{
    ngx_uint_t  k;

    for (k = 0; k < NGX_API_LED_NMETHODS; k++) {
        if (len == ngx_api_led_method_names[k].len
            && ngx_strncmp(name, ngx_api_led_method_names[k].data, len) == 0)
        {
            break;
        }
    }

    return k;
}


ngx_int_t
ngx_api_led_shm_zone_init(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_api_led_shm_zone_t  *ozone = data;

    size_t                   len;
    ngx_api_led_shm_zone_t  *zone;

    zone = shm_zone->data;

    if (ozone) {
        zone->sh = ozone->sh;
        zone->shpool = ozone->shpool;
        return NGX_OK;
    }

    zone->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        zone->sh = zone->shpool->data;
        return NGX_OK;
    }

    zone->sh = ngx_slab_alloc(zone->shpool, sizeof(ngx_api_led_shm_tree_t));
    if (zone->sh == NULL) {
        return NGX_ERROR;
    }

    zone->shpool->data = zone->sh;

    ngx_rbtree_init(&zone->sh->rbtree, &zone->sh->sentinel, zone->insert);
    ngx_queue_init(&zone->sh->queue);

    len = ngx_strlen(zone->log_ctx);

    zone->shpool->log_ctx = ngx_slab_alloc(zone->shpool, len + 1);
    if (zone->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(zone->shpool->log_ctx, zone->log_ctx, len + 1);

    zone->shpool->log_nomem = 0;

    return NGX_OK;
}
