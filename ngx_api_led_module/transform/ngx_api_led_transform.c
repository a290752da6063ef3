
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Request and response transformation: headers, query arguments and JSON
 * bodies (operations in ngx_api_led_json.c), form <-> JSON conversion.
 *
 * This file: the module, its directives, their configuration and the
 * request ctx.  The request side (ngx_api_led_transform_request.c) and the
 * response side (ngx_api_led_transform_response.c) are modules of their
 * own above this one: they register themselves where they are used.
 */


#include "ngx_api_led_transform.h"


static void *ngx_api_led_transform_create_main_conf(ngx_conf_t *cf);
static void *ngx_api_led_transform_create_loc_conf(ngx_conf_t *cf);
static char *ngx_api_led_transform_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_api_led_transform_header_cmd(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_api_led_transform_arg_cmd(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_api_led_transform_json_cmd(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_api_led_transform_convert_cmd(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_api_led_transform_op_t *ngx_api_led_transform_op_add(
    ngx_conf_t *cf, ngx_array_t **ops, ngx_uint_t kind);
static ngx_http_complex_value_t *ngx_api_led_transform_value(ngx_conf_t *cf,
    ngx_str_t *value);
static ngx_int_t ngx_api_led_transform_streams(ngx_conf_t *cf,
    ngx_api_led_transform_loc_conf_t *conf);
static void ngx_api_led_transform_response_kinds(
    ngx_api_led_transform_loc_conf_t *conf, ngx_uint_t *hides);


static ngx_conf_enum_t  ngx_api_led_transform_on_error[] = {
    { ngx_string("pass"), NGX_API_LED_ON_ERROR_PASS },
    { ngx_string("closed"), NGX_API_LED_ON_ERROR_CLOSED },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_api_led_transform_convert[] = {
    { ngx_string("off"), NGX_API_LED_CONVERT_OFF },
    { ngx_string("form_to_json"), NGX_API_LED_CONVERT_FORM },
    { ngx_string("json_to_form"), NGX_API_LED_CONVERT_JSON },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_api_led_transform_commands[] = {

    { ngx_string("api_led_request_header"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE23,
      ngx_api_led_transform_header_cmd,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_api_led_transform_loc_conf_t, request_ops),
      NULL },

    { ngx_string("api_led_request_arg"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE23,
      ngx_api_led_transform_arg_cmd,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_api_led_transform_loc_conf_t, request_ops),
      NULL },

    { ngx_string("api_led_request_json"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_2MORE,
      ngx_api_led_transform_json_cmd,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_api_led_transform_loc_conf_t, request_ops),
      NULL },

    { ngx_string("api_led_request_body_convert"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_api_led_transform_convert_cmd,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_api_led_transform_loc_conf_t, body_convert),
      &ngx_api_led_transform_convert },

    { ngx_string("api_led_request_json_max_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_api_led_transform_loc_conf_t, request_max_size),
      &ngx_api_led_size_not_zero },

    { ngx_string("api_led_response_header"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE23,
      ngx_api_led_transform_header_cmd,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_api_led_transform_loc_conf_t, response_header_ops),
      NULL },

    { ngx_string("api_led_response_json"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_2MORE,
      ngx_api_led_transform_json_cmd,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_api_led_transform_loc_conf_t, response_json_ops),
      NULL },

    { ngx_string("api_led_response_json_max_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_api_led_transform_loc_conf_t, response_max_size),
      &ngx_api_led_size_not_zero },

    { ngx_string("api_led_response_json_on_error"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_api_led_transform_loc_conf_t, response_on_error),
      &ngx_api_led_transform_on_error },

      ngx_null_command
};


static ngx_http_module_t  ngx_api_led_transform_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_api_led_transform_create_main_conf, /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_api_led_transform_create_loc_conf, /* create location configuration */
    ngx_api_led_transform_merge_loc_conf   /* merge location configuration */
};


ngx_module_t  ngx_api_led_transform_module = {
    NGX_MODULE_V1,
    &ngx_api_led_transform_module_ctx,     /* module context */
    ngx_api_led_transform_commands,        /* module directives */
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


static void *
ngx_api_led_transform_create_main_conf(ngx_conf_t *cf)
{
    /*
     * set by ngx_pcalloc():
     *
     *     request = 0;
     *     response = 0;
     */

    return ngx_pcalloc(cf->pool, sizeof(ngx_api_led_transform_main_conf_t));
}


static void *
ngx_api_led_transform_create_loc_conf(ngx_conf_t *cf)
{
    ngx_api_led_transform_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_api_led_transform_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->request_ops = NGX_CONF_UNSET_PTR;
    conf->response_header_ops = NGX_CONF_UNSET_PTR;
    conf->response_json_ops = NGX_CONF_UNSET_PTR;
    conf->body_convert = NGX_CONF_UNSET_UINT;
    conf->request_max_size = NGX_CONF_UNSET_SIZE;
    conf->response_max_size = NGX_CONF_UNSET_SIZE;
    conf->response_on_error = NGX_CONF_UNSET_UINT;

    return conf;
}


/*
 * Like proxy_set_header: a level that has its own request operations does
 * not inherit the outer ones; the same for the response operations (header
 * and JSON together).
 */

static char *
ngx_api_led_transform_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_api_led_transform_loc_conf_t  *prev = parent;
    ngx_api_led_transform_loc_conf_t  *conf = child;

    ngx_uint_t                          i, hides;
    ngx_api_led_transform_op_t         *op;
    ngx_api_led_transform_main_conf_t  *tmcf;

    ngx_conf_merge_ptr_value(conf->request_ops, prev->request_ops, NULL);

    if (conf->response_header_ops == NGX_CONF_UNSET_PTR
        && conf->response_json_ops == NGX_CONF_UNSET_PTR)
    {
        ngx_conf_merge_ptr_value(conf->response_header_ops,
                                 prev->response_header_ops, NULL);
        ngx_conf_merge_ptr_value(conf->response_json_ops,
                                 prev->response_json_ops, NULL);

    } else {
        if (conf->response_header_ops == NGX_CONF_UNSET_PTR) {
            conf->response_header_ops = NULL;
        }

        if (conf->response_json_ops == NGX_CONF_UNSET_PTR) {
            conf->response_json_ops = NULL;
        }
    }

    ngx_conf_merge_uint_value(conf->body_convert, prev->body_convert,
                              NGX_API_LED_CONVERT_OFF);
    ngx_conf_merge_size_value(conf->request_max_size, prev->request_max_size,
                              NGX_API_LED_TRANSFORM_MAX_SIZE);
    ngx_conf_merge_size_value(conf->response_max_size,
                              prev->response_max_size,
                              NGX_API_LED_TRANSFORM_MAX_SIZE);

    /*
     * A response that cannot be transformed where fields are removed or
     * kept would show what they hide: 502, unless the user chose "pass".
     */

    ngx_conf_merge_uint_value(conf->response_on_error,
                              prev->response_on_error, 0);

    ngx_api_led_transform_response_kinds(conf, &hides);

    conf->response_closed =
        (conf->response_on_error == NGX_API_LED_ON_ERROR_CLOSED
         || (conf->response_on_error == 0 && hides));

    conf->request_body = (conf->body_convert != NGX_API_LED_CONVERT_OFF);

    /* the light documents do these operations (ngx_api_led_json.h) */
    conf->request_light = (conf->body_convert != NGX_API_LED_CONVERT_JSON);
    conf->response_light = ngx_api_led_json_light_ops(conf->response_json_ops);

    if (conf->request_ops) {
        op = conf->request_ops->elts;
        for (i = 0; i < conf->request_ops->nelts; i++) {
            if (op[i].kind == NGX_API_LED_T_JSON) {
                conf->request_body = 1;

                if (!ngx_api_led_json_light_takes(op[i].json)) {
                    conf->request_light = 0;
                }
            }
        }
    }

    if (ngx_api_led_transform_streams(cf, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* what the request and response sides register depends on these */

    tmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_api_led_transform_module);

    if (conf->request_ops || conf->response_json_ops || conf->request_body) {
        tmcf->request = 1;
    }

    if (conf->response_header_ops || conf->response_json_ops) {
        tmcf->response = 1;
    }

    return NGX_CONF_OK;
}


/*
 * The JSON operations of each side as one streamed rewrite, where the
 * light documents take them and they do not cross (ngx_api_led_json.h).
 */

static ngx_int_t
ngx_api_led_transform_streams(ngx_conf_t *cf,
    ngx_api_led_transform_loc_conf_t *conf)
{
    ngx_uint_t                   i, n;
    ngx_api_led_json_op_t      **ops, *jop;
    ngx_api_led_transform_op_t  *op;

    conf->request_stream = NULL;
    conf->response_stream = NULL;

    if (conf->request_light && conf->request_ops) {
        op = conf->request_ops->elts;

        ops = ngx_palloc(cf->temp_pool,
                         conf->request_ops->nelts * sizeof(void *));
        if (ops == NULL) {
            return NGX_ERROR;
        }

        n = 0;

        for (i = 0; i < conf->request_ops->nelts; i++) {
            if (op[i].kind == NGX_API_LED_T_JSON) {
                ops[n++] = op[i].json;
            }
        }

        if (ngx_api_led_json_stream_compile(cf->pool, ops, n,
                                            &conf->request_stream)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (conf->response_light && conf->response_json_ops) {
        jop = conf->response_json_ops->elts;
        n = conf->response_json_ops->nelts;

        ops = ngx_palloc(cf->temp_pool, n * sizeof(void *));
        if (ops == NULL) {
            return NGX_ERROR;
        }

        for (i = 0; i < n; i++) {
            ops[i] = &jop[i];
        }

        if (ngx_api_led_json_stream_compile(cf->pool, ops, n,
                                            &conf->response_stream)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * What the response's JSON operations are: whether one removes or keeps
 * fields ("hides"), whether a value has variables (response_varies).
 */

static void
ngx_api_led_transform_response_kinds(ngx_api_led_transform_loc_conf_t *conf,
    ngx_uint_t *hides)
{
    ngx_uint_t              i;
    ngx_api_led_json_op_t  *op;

    *hides = 0;
    conf->response_varies = 0;

    if (conf->response_json_ops == NULL) {
        return;
    }

    op = conf->response_json_ops->elts;

    for (i = 0; i < conf->response_json_ops->nelts; i++) {

        if (op[i].op == NGX_API_LED_JSON_OP_REMOVE
            || op[i].op == NGX_API_LED_JSON_OP_KEEP)
        {
            *hides = 1;
        }

        if (op[i].value.cv) {
            conf->response_varies = 1;
        }
    }
}


/* api_led_request_header / api_led_response_header OP NAME [VALUE|NEW] */

static char *
ngx_api_led_transform_header_cmd(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    ngx_str_t                    *value, *cl;
    ngx_uint_t                    response;
    ngx_array_t                 **ops;
    ngx_api_led_transform_op_t   *op;

    value = cf->args->elts;
    response = (cmd->offset
                == offsetof(ngx_api_led_transform_loc_conf_t,
                            response_header_ops));

    ops = (ngx_array_t **) (p + cmd->offset);

    op = ngx_api_led_transform_op_add(cf, ops, NGX_API_LED_T_HEADER);
    if (op == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_strcmp(value[1].data, "set") == 0) {
        op->op = NGX_API_LED_EDIT_SET;

    } else if (ngx_strcmp(value[1].data, "add") == 0) {
        op->op = NGX_API_LED_EDIT_ADD;

    } else if (ngx_strcmp(value[1].data, "remove") == 0) {
        op->op = NGX_API_LED_EDIT_REMOVE;

    } else if (ngx_strcmp(value[1].data, "rename") == 0) {
        op->op = NGX_API_LED_EDIT_RENAME;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown header operation \"%V\", must be "
                           "\"set\", \"add\", \"remove\" or \"rename\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    if ((op->op == NGX_API_LED_EDIT_REMOVE) != (cf->args->nelts == 3)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid number of arguments of header "
                           "operation \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (ngx_api_led_edit_name(cf, &value[2], 1, &op->name)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* headers the module or nginx itself must keep consistent */

    cl = &op->name.lowcase;

    if (ngx_strcmp(cl->data, "content-length") == 0
        || ngx_strcmp(cl->data, "transfer-encoding") == 0
        || (response && ngx_strcmp(cl->data, "connection") == 0)
        || (response && op->op != NGX_API_LED_EDIT_SET
            && op->op != NGX_API_LED_EDIT_REMOVE
            && ngx_strcmp(cl->data, "content-type") == 0))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "header \"%V\" cannot be changed with \"%V\"",
                           &value[2], &value[1]);
        return NGX_CONF_ERROR;
    }

    if (op->op == NGX_API_LED_EDIT_RENAME) {
        if (ngx_api_led_edit_name(cf, &value[3], 1, &op->to)
            != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
        }

        cl = &op->to.lowcase;

        if (ngx_strcmp(cl->data, "content-length") == 0
            || ngx_strcmp(cl->data, "transfer-encoding") == 0
            || ngx_strcmp(cl->data, "content-type") == 0
            || (response && ngx_strcmp(cl->data, "connection") == 0))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "header cannot be renamed to \"%V\"",
                               &value[3]);
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    if (op->op == NGX_API_LED_EDIT_REMOVE) {
        return NGX_CONF_OK;
    }

    op->value = ngx_api_led_transform_value(cf, &value[3]);
    if (op->value == NULL) {
        return NGX_CONF_ERROR;
    }

    if (!ngx_api_led_header_value_is_safe(&value[3])) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "header value holds a control character");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* api_led_request_arg set|remove|rename NAME [VALUE|NEW] */

static char *
ngx_api_led_transform_arg_cmd(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    ngx_str_t                    *value;
    ngx_array_t                 **ops;
    ngx_api_led_transform_op_t   *op;

    value = cf->args->elts;
    ops = (ngx_array_t **) (p + cmd->offset);

    op = ngx_api_led_transform_op_add(cf, ops, NGX_API_LED_T_ARG);
    if (op == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_strcmp(value[1].data, "set") == 0) {
        op->op = NGX_API_LED_EDIT_SET;

    } else if (ngx_strcmp(value[1].data, "remove") == 0) {
        op->op = NGX_API_LED_EDIT_REMOVE;

    } else if (ngx_strcmp(value[1].data, "rename") == 0) {
        op->op = NGX_API_LED_EDIT_RENAME;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown argument operation \"%V\", must be "
                           "\"set\", \"remove\" or \"rename\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if ((op->op == NGX_API_LED_EDIT_REMOVE) != (cf->args->nelts == 3)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid number of arguments of argument "
                           "operation \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (ngx_api_led_edit_name(cf, &value[2], 0, &op->name)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (op->op == NGX_API_LED_EDIT_RENAME) {
        return ngx_api_led_edit_name(cf, &value[3], 0, &op->to);
    }

    if (op->op == NGX_API_LED_EDIT_REMOVE) {
        return NGX_CONF_OK;
    }

    op->value = ngx_api_led_transform_value(cf, &value[3]);
    if (op->value == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* api_led_request_json / api_led_response_json OP PATH [VALUE|NEW|PATH..] */

static char *
ngx_api_led_transform_json_cmd(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    char                         *rv;
    ngx_str_t                    *value;
    ngx_array_t                 **ops;
    ngx_api_led_json_op_t        *jop;
    ngx_api_led_transform_op_t   *op;

    value = cf->args->elts;
    ops = (ngx_array_t **) (p + cmd->offset);

    if (cmd->offset
        == offsetof(ngx_api_led_transform_loc_conf_t, response_json_ops))
    {
        if (*ops == NGX_CONF_UNSET_PTR) {
            *ops = ngx_array_create(cf->pool, 4,
                                    sizeof(ngx_api_led_json_op_t));
            if (*ops == NULL) {
                return NGX_CONF_ERROR;
            }
        }

        jop = ngx_array_push(*ops);
        if (jop == NULL) {
            return NGX_CONF_ERROR;
        }

    } else {
        op = ngx_api_led_transform_op_add(cf, ops, NGX_API_LED_T_JSON);
        if (op == NULL) {
            return NGX_CONF_ERROR;
        }

        op->json = ngx_palloc(cf->pool, sizeof(ngx_api_led_json_op_t));
        if (op->json == NULL) {
            return NGX_CONF_ERROR;
        }

        jop = op->json;
    }

    rv = ngx_api_led_json_op_compile(cf, &value[1], cf->args->nelts - 1,
                                     jop);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    /* for the light documents too (ngx_api_led_json.h) */
    return ngx_api_led_json_light_op_compile(cf, jop);
}


static char *
ngx_api_led_transform_convert_cmd(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    return ngx_conf_set_enum_slot(cf, cmd, conf);
}


/* a request or response operation of "kind", appended to the list */

static ngx_api_led_transform_op_t *
ngx_api_led_transform_op_add(ngx_conf_t *cf, ngx_array_t **ops,
    ngx_uint_t kind)
{
    ngx_api_led_transform_op_t  *op;

    if (*ops == NGX_CONF_UNSET_PTR) {
        *ops = ngx_array_create(cf->pool, 4,
                                sizeof(ngx_api_led_transform_op_t));
        if (*ops == NULL) {
            return NULL;
        }
    }

    op = ngx_array_push(*ops);
    if (op == NULL) {
        return NULL;
    }

    ngx_memzero(op, sizeof(ngx_api_led_transform_op_t));
    op->kind = kind;

    return op;
}


static ngx_http_complex_value_t *
ngx_api_led_transform_value(ngx_conf_t *cf, ngx_str_t *value)
{
    ngx_http_complex_value_t          *cv;
    ngx_http_compile_complex_value_t   ccv;

    cv = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
    if (cv == NULL) {
        return NULL;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = value;
    ccv.complex_value = cv;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NULL;
    }

    return cv;
}


ngx_api_led_transform_ctx_t *
ngx_api_led_transform_get_ctx(ngx_http_request_t *r)
{
    ngx_api_led_transform_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_api_led_transform_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_api_led_transform_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        ngx_http_set_ctx(r, ctx, ngx_api_led_transform_module);
    }

    return ctx;
}


ngx_api_led_json_arena_t *
ngx_api_led_transform_arena(ngx_http_request_t *r,
    ngx_api_led_transform_ctx_t *ctx)
{
    if (ctx->arena == NULL) {
        ctx->arena = ngx_api_led_json_arena_create(r->pool);
    }

    return ctx->arena;
}
