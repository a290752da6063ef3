
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Request and response transformation: headers, query arguments and JSON
 * bodies (operations in ngx_api_led_json.c), form <-> JSON conversion.
 *
 * Request side: a precontent phase handler reads the body without blocking
 * (after the access phase, so policies saw the original request), runs the
 * operations in the order written and hands the upstream a new body with a
 * matching Content-Length.
 *
 * Response side: a header filter applies header operations and, for a JSON
 * response to transform, holds the header back; the body filter buffers the
 * body (bounded), transforms it at the last buffer and sends the header with
 * the new Content-Length, then the body.  The module sits before the copy
 * filter, so it sees the upstream's body before gzip compresses it for the
 * client; it asks the upstream for identity encoding.
 */


#include "ngx_api_led.h"


#define NGX_API_LED_T_HEADER        1
#define NGX_API_LED_T_ARG           2
#define NGX_API_LED_T_JSON          3

#define NGX_API_LED_CONVERT_OFF     0
#define NGX_API_LED_CONVERT_FORM    1      /* form_to_json */
#define NGX_API_LED_CONVERT_JSON    2      /* json_to_form */

#define NGX_API_LED_T_ERRLEN        192


typedef struct {
    ngx_uint_t                   kind;        /* NGX_API_LED_T_HEADER... */
    ngx_uint_t                   op;          /* NGX_API_LED_EDIT_SET... */
    ngx_api_led_edit_name_t      name;        /* header or argument */
    ngx_api_led_edit_name_t      to;          /* rename */
    ngx_http_complex_value_t    *value;       /* set, add */
    ngx_api_led_json_op_t       *json;
} ngx_api_led_transform_op_t;


typedef struct {
    ngx_array_t                 *request_ops;          /* transform_op_t */
    ngx_array_t                 *response_header_ops;  /* transform_op_t */
    ngx_array_t                 *response_json_ops;    /* json_op_t */
    ngx_uint_t                   body_convert;
    size_t                       request_max_size;
    size_t                       response_max_size;
    ngx_flag_t                   request_body;         /* computed */
} ngx_api_led_transform_loc_conf_t;


typedef struct {
    ngx_int_t                    rc;
    ngx_api_led_json_arena_t    *arena;       /* jansson memory */

    /* response body, buffered */
    u_char                      *buf;
    size_t                       size;
    size_t                       cap;

    /* request side */
    unsigned                     started:1;
    unsigned                     done:1;
    unsigned                     reading:1;
    unsigned                     body_done:1;

    /* response side */
    unsigned                     response:1;
    unsigned                     header_delayed:1;
    unsigned                     passthrough:1;
    unsigned                     response_done:1;
} ngx_api_led_transform_ctx_t;


static ngx_int_t ngx_api_led_transform_init(ngx_conf_t *cf);
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

static ngx_api_led_transform_ctx_t *ngx_api_led_transform_get_ctx(
    ngx_http_request_t *r);
static ngx_api_led_json_arena_t *ngx_api_led_transform_arena(
    ngx_http_request_t *r, ngx_api_led_transform_ctx_t *ctx);
static ngx_int_t ngx_api_led_transform_handler(ngx_http_request_t *r);
static void ngx_api_led_transform_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_api_led_transform_request(ngx_http_request_t *r,
    ngx_api_led_transform_ctx_t *ctx, ngx_uint_t body);
static ngx_int_t ngx_api_led_transform_read_doc(ngx_http_request_t *r,
    ngx_api_led_transform_ctx_t *ctx, ngx_api_led_transform_loc_conf_t *conf,
    json_t **doc);
static ngx_int_t ngx_api_led_transform_body_text(ngx_http_request_t *r,
    size_t max, ngx_str_t *text);
static ngx_int_t ngx_api_led_transform_write_body(ngx_http_request_t *r,
    ngx_api_led_transform_ctx_t *ctx,
    ngx_api_led_transform_loc_conf_t *conf, json_t *doc);
static ngx_int_t ngx_api_led_transform_arg(ngx_http_request_t *r,
    ngx_api_led_transform_op_t *op);
static ngx_int_t ngx_api_led_transform_header_in(ngx_http_request_t *r,
    ngx_api_led_transform_op_t *op);
static ngx_int_t ngx_api_led_transform_header_out(ngx_http_request_t *r,
    ngx_api_led_transform_op_t *op);
static ngx_int_t ngx_api_led_transform_identity(ngx_http_request_t *r);


static ngx_int_t ngx_api_led_transform_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_api_led_transform_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_api_led_transform_passthrough(ngx_http_request_t *r,
    ngx_api_led_transform_ctx_t *ctx, ngx_chain_t *rest);
static ngx_int_t ngx_api_led_transform_response(ngx_http_request_t *r,
    ngx_api_led_transform_ctx_t *ctx, u_char *data, size_t len);
static ngx_int_t ngx_api_led_transform_send(ngx_http_request_t *r,
    ngx_api_led_transform_ctx_t *ctx, u_char *data, size_t len);


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
      NULL },

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
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_api_led_transform_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_api_led_transform_init,            /* postconfiguration */

    NULL,                                  /* create main configuration */
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


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static ngx_api_led_edit_name_t  ngx_api_led_h_content_length =
    { ngx_string("Content-Length"), ngx_string("content-length"), 0 };
static ngx_api_led_edit_name_t  ngx_api_led_h_transfer_encoding =
    { ngx_string("Transfer-Encoding"), ngx_string("transfer-encoding"), 0 };
static ngx_api_led_edit_name_t  ngx_api_led_h_content_type =
    { ngx_string("Content-Type"), ngx_string("content-type"), 0 };
static ngx_api_led_edit_name_t  ngx_api_led_h_accept_encoding =
    { ngx_string("Accept-Encoding"), ngx_string("accept-encoding"), 0 };

static ngx_str_t  ngx_api_led_json_type = ngx_string("application/json");
static ngx_str_t  ngx_api_led_form_type =
    ngx_string("application/x-www-form-urlencoded");


static ngx_int_t
ngx_api_led_transform_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    ngx_api_led_h_content_length.hash =
        ngx_hash_key(ngx_api_led_h_content_length.lowcase.data,
                     ngx_api_led_h_content_length.lowcase.len);
    ngx_api_led_h_transfer_encoding.hash =
        ngx_hash_key(ngx_api_led_h_transfer_encoding.lowcase.data,
                     ngx_api_led_h_transfer_encoding.lowcase.len);
    ngx_api_led_h_content_type.hash =
        ngx_hash_key(ngx_api_led_h_content_type.lowcase.data,
                     ngx_api_led_h_content_type.lowcase.len);
    ngx_api_led_h_accept_encoding.hash =
        ngx_hash_key(ngx_api_led_h_accept_encoding.lowcase.data,
                     ngx_api_led_h_accept_encoding.lowcase.len);

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_api_led_transform_handler;

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_api_led_transform_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_api_led_transform_body_filter;

    return NGX_OK;
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

    ngx_uint_t                   i;
    ngx_api_led_transform_op_t  *op;

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
                              1024 * 1024);
    ngx_conf_merge_size_value(conf->response_max_size,
                              prev->response_max_size, 1024 * 1024);

    conf->request_body = (conf->body_convert != NGX_API_LED_CONVERT_OFF);

    if (conf->request_ops) {
        op = conf->request_ops->elts;
        for (i = 0; i < conf->request_ops->nelts; i++) {
            if (op[i].kind == NGX_API_LED_T_JSON) {
                conf->request_body = 1;
            }
        }
    }

    return NGX_CONF_OK;
}


/* api_led_request_header / api_led_response_header OP NAME [VALUE|NEW] */

static char *
ngx_api_led_transform_header_cmd(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    ngx_str_t                         *value, *cl;
    ngx_uint_t                         response;
    ngx_array_t                      **ops;
    ngx_api_led_transform_op_t        *op;
    ngx_http_compile_complex_value_t   ccv;

    value = cf->args->elts;
    response = (cmd->offset
                == offsetof(ngx_api_led_transform_loc_conf_t,
                            response_header_ops));

    ops = (ngx_array_t **) (p + cmd->offset);

    if (*ops == NGX_CONF_UNSET_PTR) {
        *ops = ngx_array_create(cf->pool, 4,
                                sizeof(ngx_api_led_transform_op_t));
        if (*ops == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    op = ngx_array_push(*ops);
    if (op == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(op, sizeof(ngx_api_led_transform_op_t));
    op->kind = NGX_API_LED_T_HEADER;

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

    op->value = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
    if (op->value == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[3];
    ccv.complex_value = op->value;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
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

    ngx_str_t                         *value;
    ngx_array_t                      **ops;
    ngx_api_led_transform_op_t        *op;
    ngx_http_compile_complex_value_t   ccv;

    value = cf->args->elts;
    ops = (ngx_array_t **) (p + cmd->offset);

    if (*ops == NGX_CONF_UNSET_PTR) {
        *ops = ngx_array_create(cf->pool, 4,
                                sizeof(ngx_api_led_transform_op_t));
        if (*ops == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    op = ngx_array_push(*ops);
    if (op == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(op, sizeof(ngx_api_led_transform_op_t));
    op->kind = NGX_API_LED_T_ARG;

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

    op->value = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
    if (op->value == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[3];
    ccv.complex_value = op->value;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
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

        return ngx_api_led_json_op_compile(cf, &value[1],
                                           cf->args->nelts - 1, jop);
    }

    if (*ops == NGX_CONF_UNSET_PTR) {
        *ops = ngx_array_create(cf->pool, 4,
                                sizeof(ngx_api_led_transform_op_t));
        if (*ops == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    op = ngx_array_push(*ops);
    if (op == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(op, sizeof(ngx_api_led_transform_op_t));
    op->kind = NGX_API_LED_T_JSON;

    op->json = ngx_palloc(cf->pool, sizeof(ngx_api_led_json_op_t));
    if (op->json == NULL) {
        return NGX_CONF_ERROR;
    }

    return ngx_api_led_json_op_compile(cf, &value[1], cf->args->nelts - 1,
                                       op->json);
}


static char *
ngx_api_led_transform_convert_cmd(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    return ngx_conf_set_enum_slot(cf, cmd, conf);
}


static ngx_api_led_transform_ctx_t *
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


static ngx_api_led_json_arena_t *
ngx_api_led_transform_arena(ngx_http_request_t *r,
    ngx_api_led_transform_ctx_t *ctx)
{
    if (ctx->arena == NULL) {
        ctx->arena = ngx_api_led_json_arena_create(r->pool);
    }

    return ctx->arena;
}


/*
 * The precontent phase handler.  It runs after the access phase (so
 * policies see the original request) and before the content handler that
 * sends the request upstream; subrequests run it too.
 */

static ngx_int_t
ngx_api_led_transform_handler(ngx_http_request_t *r)
{
    ngx_int_t                          rc;
    ngx_api_led_transform_ctx_t       *ctx;
    ngx_api_led_transform_loc_conf_t  *conf;

    conf = ngx_http_get_module_loc_conf(r, ngx_api_led_transform_module);

    if (conf->request_ops == NULL && conf->response_json_ops == NULL
        && !conf->request_body)
    {
        return NGX_DECLINED;
    }

    ctx = ngx_api_led_transform_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->started) {
        /* done, or woken while the body is still being read */
        return ctx->done ? NGX_DECLINED : NGX_DONE;
    }

    ctx->started = 1;

    if (conf->response_json_ops
        && ngx_api_led_transform_identity(r) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!conf->request_body) {
        rc = ngx_api_led_transform_request(r, ctx, 0);

        if (rc == NGX_OK) {
            ctx->done = 1;
            return NGX_DECLINED;
        }

        return (rc == NGX_ERROR) ? NGX_HTTP_INTERNAL_SERVER_ERROR : rc;
    }

    if (r->headers_in.content_length_n > (off_t) conf->request_max_size) {
        return ngx_api_led_problem_finalize(r,
                   NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "body_too_large",
                   "the request body is larger than %uz bytes",
                   conf->request_max_size);
    }

    ctx->reading = 1;
    rc = ngx_http_read_client_request_body(r,
                                           ngx_api_led_transform_body_handler);
    ctx->reading = 0;

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    /* the reference ngx_http_read_client_request_body() took */
    ngx_http_finalize_request(r, NGX_DONE);

    if (!ctx->body_done) {
        /* the body handler runs the phases again */
        return NGX_DONE;
    }

    /* the whole body was there already: the handler ran inside the call */

    if (ctx->rc == NGX_OK) {
        return NGX_DECLINED;
    }

    return (ctx->rc == NGX_ERROR) ? NGX_HTTP_INTERNAL_SERVER_ERROR : ctx->rc;
}


static void
ngx_api_led_transform_body_handler(ngx_http_request_t *r)
{
    ngx_int_t                     rc;
    ngx_api_led_transform_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_api_led_transform_module);

    rc = ngx_api_led_transform_request(r, ctx, 1);

    ctx->body_done = 1;
    ctx->rc = rc;

    if (rc == NGX_OK) {
        ctx->done = 1;
    }

    if (ctx->reading) {
        return;
    }

    if (rc == NGX_OK) {
        r->write_event_handler = ngx_http_core_run_phases;
        ngx_http_core_run_phases(r);
        return;
    }

    if (rc == NGX_DONE) {
        /* a problem was sent */
        return;
    }

    ngx_http_finalize_request(r, (rc == NGX_ERROR)
                                 ? NGX_HTTP_INTERNAL_SERVER_ERROR : rc);
}


/*
 * Runs the request operations in the order written, on the headers, the
 * arguments and the JSON document.  NGX_OK; NGX_DONE when a problem was
 * sent; NGX_ERROR.
 */

static ngx_int_t
ngx_api_led_transform_request(ngx_http_request_t *r,
    ngx_api_led_transform_ctx_t *ctx, ngx_uint_t body)
{
    json_t                            *doc;
    ngx_int_t                          rc;
    ngx_uint_t                         i;
    ngx_api_led_json_arena_t          *prev;
    ngx_api_led_transform_op_t        *op;
    ngx_api_led_transform_loc_conf_t  *conf;

    conf = ngx_http_get_module_loc_conf(r, ngx_api_led_transform_module);

    doc = NULL;

    if (body) {
        if (ngx_api_led_transform_arena(r, ctx) == NULL) {
            return NGX_ERROR;
        }

        rc = ngx_api_led_transform_read_doc(r, ctx, conf, &doc);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    rc = NGX_OK;

    if (conf->request_ops) {
        op = conf->request_ops->elts;

        for (i = 0; i < conf->request_ops->nelts; i++) {

            switch (op[i].kind) {

            case NGX_API_LED_T_HEADER:
                rc = ngx_api_led_transform_header_in(r, &op[i]);
                break;

            case NGX_API_LED_T_ARG:
                rc = ngx_api_led_transform_arg(r, &op[i]);
                break;

            default: /* NGX_API_LED_T_JSON */
                if (doc) {
                    prev = ngx_api_led_json_arena_enter(ctx->arena);
                    rc = ngx_api_led_json_op_apply(r, op[i].json, &doc);
                    ngx_api_led_json_arena_leave(prev);
                }
            }

            if (rc != NGX_OK) {
                goto done;
            }
        }
    }

    if (doc) {
        rc = ngx_api_led_transform_write_body(r, ctx, conf, doc);
    }

done:

    if (doc) {
        prev = ngx_api_led_json_arena_enter(ctx->arena);
        json_decref(doc);
        ngx_api_led_json_arena_leave(prev);
    }

    return rc;
}


/*
 * The request body as a document: JSON whatever the Content-Type says
 * (a client must not skip the operations by mislabelling), a form with
 * form_to_json.  No document for an empty body unless the method carries
 * one (POST, PUT, PATCH): then an empty object.
 */

static ngx_int_t
ngx_api_led_transform_read_doc(ngx_http_request_t *r,
    ngx_api_led_transform_ctx_t *ctx, ngx_api_led_transform_loc_conf_t *conf,
    json_t **doc)
{
    u_char                     err[NGX_API_LED_T_ERRLEN];
    ngx_int_t                  rc;
    ngx_str_t                  text, *ct;
    ngx_api_led_json_arena_t  *prev;

    rc = ngx_api_led_transform_body_text(r, conf->request_max_size, &text);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_api_led_problem_finalize(r,
                   NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "body_too_large",
                   "the request body is larger than %uz bytes",
                   conf->request_max_size);
    }

    if (text.len == 0) {
        if (r->method & (NGX_HTTP_POST|NGX_HTTP_PUT|NGX_HTTP_PATCH)) {
            prev = ngx_api_led_json_arena_enter(ctx->arena);
            *doc = json_object();
            ngx_api_led_json_arena_leave(prev);

            return (*doc == NULL) ? NGX_ERROR : NGX_OK;
        }

        return NGX_OK;
    }

    ct = r->headers_in.content_type ? &r->headers_in.content_type->value
                                    : NULL;

    if (conf->body_convert == NGX_API_LED_CONVERT_FORM
        && ct
        && ct->len >= ngx_api_led_form_type.len
        && ngx_strncasecmp(ct->data, ngx_api_led_form_type.data,
                           ngx_api_led_form_type.len) == 0
        && (ct->len == ngx_api_led_form_type.len
            || ct->data[ngx_api_led_form_type.len] == ';'
            || ct->data[ngx_api_led_form_type.len] == ' '))
    {
        prev = ngx_api_led_json_arena_enter(ctx->arena);
        *doc = ngx_api_led_form_to_json(&text);
        ngx_api_led_json_arena_leave(prev);

        if (*doc == NULL) {
            return ngx_api_led_problem_finalize(r, NGX_HTTP_BAD_REQUEST,
                       "invalid_form",
                       "the form is not valid UTF-8 once decoded");
        }

        return NGX_OK;
    }

    prev = ngx_api_led_json_arena_enter(ctx->arena);
    rc = ngx_api_led_json_parse_pool(r->pool, text.data, text.len, doc,
                                     err, sizeof(err));
    ngx_api_led_json_arena_leave(prev);

    if (rc == NGX_OK) {
        return NGX_OK;
    }

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    return ngx_api_led_problem_finalize(r, NGX_HTTP_BAD_REQUEST,
                                        "invalid_json", "%s", err);
}


/*
 * The body in one piece: the buffer itself when it is one buffer in
 * memory, else a copy (a body buffered to a temporary file is read back,
 * as the proxy module does to send it; the file was just written).
 * NGX_DECLINED: larger than "max".
 */

static ngx_int_t
ngx_api_led_transform_body_text(ngx_http_request_t *r, size_t max,
    ngx_str_t *text)
{
    u_char       *p;
    off_t         size, len;
    ssize_t       n;
    ngx_buf_t    *b, *single;
    ngx_uint_t    nbufs;
    ngx_chain_t  *cl;

    ngx_str_null(text);

    if (r->request_body == NULL) {
        return NGX_OK;
    }

    size = 0;
    nbufs = 0;
    single = NULL;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        len = ngx_buf_in_memory(b) ? b->last - b->pos
                                   : (b->in_file ? b->file_last - b->file_pos
                                                 : 0);
        if (len) {
            nbufs++;
            single = b;
            size += len;
        }
    }

    if (size > (off_t) max) {
        return NGX_DECLINED;
    }

    if (size == 0) {
        return NGX_OK;
    }

    if (nbufs == 1 && ngx_buf_in_memory(single)) {
        text->data = single->pos;
        text->len = single->last - single->pos;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, (size_t) size);
    if (p == NULL) {
        return NGX_ERROR;
    }

    text->data = p;
    text->len = (size_t) size;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_in_memory(b)) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
            continue;
        }

        if (!b->in_file || b->file_last == b->file_pos) {
            continue;
        }

        len = b->file_last - b->file_pos;

        n = ngx_read_file(b->file, p, (size_t) len, b->file_pos);

        if (n != (ssize_t) len) {
            ngx_log_error(NGX_LOG_CRIT, r->connection->log, ngx_errno,
                          "api_led: cannot read the request body from "
                          "\"%V\"", &b->file->name);
            return NGX_ERROR;
        }

        p += len;
    }

    return NGX_OK;
}


/*
 * The transformed document becomes the body the upstream gets, in memory,
 * with Content-Length set, Transfer-Encoding gone and the Content-Type of
 * what it now is.
 */

static ngx_int_t
ngx_api_led_transform_write_body(ngx_http_request_t *r,
    ngx_api_led_transform_ctx_t *ctx, ngx_api_led_transform_loc_conf_t *conf,
    json_t *doc)
{
    u_char                   *p;
    ngx_buf_t                *b;
    ngx_str_t                 out, len, *ct;
    ngx_chain_t              *cl;
    ngx_http_request_body_t  *rb;

    ct = NULL;

    if (conf->body_convert == NGX_API_LED_CONVERT_JSON) {
        if (!json_is_object(doc)) {
            return ngx_api_led_problem_finalize(r, NGX_HTTP_BAD_REQUEST,
                       "invalid_json",
                       "only a JSON object converts to a form");
        }

        if (ngx_api_led_json_to_form(r->pool, doc, &out) != NGX_OK) {
            return NGX_ERROR;
        }

        ct = &ngx_api_led_form_type;

    } else {
        if (ngx_api_led_json_dump(r->pool, doc,
                                  r->headers_in.content_length_n > 0
                                  ? (size_t) r->headers_in.content_length_n
                                    + 64 : 256,
                                  &out)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (r->headers_in.content_type == NULL
            || !ngx_api_led_json_media_type(
                    &r->headers_in.content_type->value))
        {
            ct = &ngx_api_led_json_type;
        }
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->temporary = (out.len > 0);
    b->pos = out.data;
    b->last = out.data + out.len;
    b->start = b->pos;
    b->end = b->last;
    b->last_buf = 1;
    b->last_in_chain = 1;

    cl = ngx_alloc_chain_link(r->pool);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    cl->buf = b;
    cl->next = NULL;

    if (r != r->main || r->request_body == NULL) {
        /* a subrequest shares its parent's body: it gets its own */
        rb = ngx_pcalloc(r->pool, sizeof(ngx_http_request_body_t));
        if (rb == NULL) {
            return NGX_ERROR;
        }

        r->request_body = rb;
    }

    rb = r->request_body;
    rb->bufs = cl;
    rb->temp_file = NULL;
    rb->rest = 0;

    p = ngx_pnalloc(r->pool, NGX_OFF_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    len.data = p;
    len.len = ngx_sprintf(p, "%uz", out.len) - p;

    r->headers_in.content_length_n = out.len;
    r->headers_in.chunked = 0;

    if (ngx_api_led_edit_headers_in_set(r, &ngx_api_led_h_content_length,
                                        &len, 0)
        != NGX_OK
        || ngx_api_led_edit_headers_in_remove(r,
                                    &ngx_api_led_h_transfer_encoding.name)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ct
        && ngx_api_led_edit_headers_in_set(r, &ngx_api_led_h_content_type,
                                           ct, 0)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * A response JSON transformation needs the upstream's body as it is: the
 * request goes upstream without Accept-Encoding.  r->headers_in still
 * points at the client's header, so gzip for the client keeps working.
 */

static ngx_int_t
ngx_api_led_transform_identity(ngx_http_request_t *r)
{
    ngx_table_elt_t  *ae;

    ae = r->headers_in.accept_encoding;

    if (ngx_api_led_edit_headers_in_remove(r,
                                           &ngx_api_led_h_accept_encoding.name)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    r->headers_in.accept_encoding = ae;

    return NGX_OK;
}


/*
 * Query arguments.  The request line goes upstream rebuilt from the URI
 * and the new arguments.
 */

static ngx_int_t
ngx_api_led_transform_arg(ngx_http_request_t *r,
    ngx_api_led_transform_op_t *op)
{
    ngx_str_t  value;

    if (op->op != NGX_API_LED_EDIT_SET) {
        return ngx_api_led_edit_args(r, op->op, &op->name, &op->to, NULL);
    }

    if (ngx_http_complex_value(r, op->value, &value) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_api_led_edit_args(r, op->op, &op->name, NULL, &value);
}


/* CR, LF and other control characters never reach a header */

static ngx_int_t
ngx_api_led_transform_header_in(ngx_http_request_t *r,
    ngx_api_led_transform_op_t *op)
{
    ngx_str_t  value;

    switch (op->op) {

    case NGX_API_LED_EDIT_REMOVE:
        return ngx_api_led_edit_headers_in_remove(r, &op->name.name);

    case NGX_API_LED_EDIT_RENAME:
        return ngx_api_led_edit_headers_in_rename(r, &op->name, &op->to);

    default: /* NGX_API_LED_EDIT_SET, NGX_API_LED_EDIT_ADD */

        if (ngx_http_complex_value(r, op->value, &value) != NGX_OK) {
            return NGX_ERROR;
        }

        if (!ngx_api_led_header_value_is_safe(&value)) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "api_led: value of request header \"%V\" holds a "
                          "control character, header not changed",
                          &op->name.name);
            return NGX_OK;
        }

        return ngx_api_led_edit_headers_in_set(r, &op->name, &value,
                                          op->op == NGX_API_LED_EDIT_ADD);
    }
}


static ngx_int_t
ngx_api_led_transform_header_out(ngx_http_request_t *r,
    ngx_api_led_transform_op_t *op)
{
    ngx_str_t  value;

    if (op->value == NULL) {
        return ngx_api_led_edit_headers_out(r, op->op, &op->name, &op->to,
                                            NULL);
    }

    if (ngx_http_complex_value(r, op->value, &value) != NGX_OK) {
        return NGX_ERROR;
    }

    if (!ngx_api_led_header_value_is_safe(&value)) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "api_led: value of response header \"%V\" holds "
                      "a control character, header not changed",
                      &op->name.name);
        return NGX_OK;
    }

    return ngx_api_led_edit_headers_out(r, op->op, &op->name, NULL, &value);
}


/*
 * The header filter: header operations on every response of the location;
 * for a 2xx JSON response with JSON operations, the header waits for the
 * transformed body (its length).  Not transformed, and left as they are:
 * other statuses, other types (application/problem+json included: the
 * module's own errors), encoded bodies (the upstream ignored our identity
 * request), bodies announced larger than the limit, HEAD.
 */

static ngx_int_t
ngx_api_led_transform_header_filter(ngx_http_request_t *r)
{
    ngx_str_t                         *ce, *ct;
    ngx_uint_t                         i;
    ngx_api_led_transform_op_t        *op;
    ngx_api_led_transform_ctx_t       *ctx;
    ngx_api_led_transform_loc_conf_t  *conf;

    conf = ngx_http_get_module_loc_conf(r, ngx_api_led_transform_module);

    if (conf->response_header_ops == NULL
        && conf->response_json_ops == NULL)
    {
        return ngx_http_next_header_filter(r);
    }

    if (conf->response_header_ops) {
        op = conf->response_header_ops->elts;

        for (i = 0; i < conf->response_header_ops->nelts; i++) {
            if (ngx_api_led_transform_header_out(r, &op[i]) != NGX_OK) {
                return NGX_ERROR;
            }
        }
    }

    if (conf->response_json_ops == NULL
        || r->headers_out.status < NGX_HTTP_OK
        || r->headers_out.status >= NGX_HTTP_SPECIAL_RESPONSE
        || r->headers_out.status == NGX_HTTP_NO_CONTENT
        || r->headers_out.status == NGX_HTTP_PARTIAL_CONTENT)
    {
        return ngx_http_next_header_filter(r);
    }

    ct = &r->headers_out.content_type;

    if (!ngx_api_led_json_media_type(ct)
        || (ct->len >= sizeof("application/problem+json") - 1
            && ngx_strncasecmp(ct->data, (u_char *) "application/problem+json",
                               sizeof("application/problem+json") - 1)
               == 0))
    {
        return ngx_http_next_header_filter(r);
    }

    if (r->headers_out.content_encoding
        && r->headers_out.content_encoding->hash)
    {
        ce = &r->headers_out.content_encoding->value;

        if (ce->len && !(ce->len == 8
                         && ngx_strncasecmp(ce->data, (u_char *) "identity",
                                            8) == 0))
        {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "api_led: response is \"%V\" encoded, JSON "
                          "operations skipped", ce);
            return ngx_http_next_header_filter(r);
        }
    }

    if (r->header_only || r->method == NGX_HTTP_HEAD) {
        /* the transformed length is not known without the body */
        ngx_http_clear_content_length(r);
        return ngx_http_next_header_filter(r);
    }

    if (r->headers_out.content_length_n > (off_t) conf->response_max_size) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "api_led: response of %O bytes is larger than "
                      "api_led_response_json_max_size, passed through "
                      "unchanged", r->headers_out.content_length_n);
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_api_led_transform_get_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ctx->response = 1;
    ctx->header_delayed = 1;

    if (r->headers_out.content_length_n > 0) {
        ctx->cap = (size_t) r->headers_out.content_length_n;
    }

    ngx_http_clear_content_length(r);
    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_etag(r);

    r->filter_need_in_memory = 1;

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_transform_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    u_char                            *p;
    size_t                             size, cap;
    ngx_buf_t                         *b, *data;
    ngx_uint_t                         last, n;
    ngx_chain_t                       *cl;
    ngx_api_led_transform_ctx_t       *ctx;
    ngx_api_led_transform_loc_conf_t  *conf;

    ctx = ngx_http_get_module_ctx(r, ngx_api_led_transform_module);

    if (ctx == NULL || !ctx->response || ctx->passthrough
        || ctx->response_done)
    {
        return ngx_http_next_body_filter(r, in);
    }

    if (in == NULL) {
        return NGX_OK;
    }

    conf = ngx_http_get_module_loc_conf(r, ngx_api_led_transform_module);

    /* the whole body in one buffer, the usual case: no copy */

    if (ctx->size == 0) {
        n = 0;
        last = 0;
        data = NULL;

        for (cl = in; cl; cl = cl->next) {
            b = cl->buf;

            if (ngx_buf_size(b)) {
                n++;
                data = b;
            }

            if (b->last_buf || (r != r->main && b->last_in_chain)) {
                last = 1;
            }
        }

        if (last && n == 1 && ngx_buf_in_memory(data)
            && (size_t) (data->last - data->pos) <= conf->response_max_size)
        {
            p = data->pos;
            size = data->last - data->pos;

            for (cl = in; cl; cl = cl->next) {
                cl->buf->pos = cl->buf->last;
            }

            return ngx_api_led_transform_response(r, ctx, p, size);
        }
    }

    last = 0;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_size(b) && !ngx_buf_in_memory(b)) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "api_led: response buffer not in memory");
            return NGX_ERROR;
        }

        size = b->last - b->pos;

        if (ctx->size + size > conf->response_max_size) {
            return ngx_api_led_transform_passthrough(r, ctx, cl);
        }

        if (size) {
            if (ctx->buf == NULL || ctx->size + size > ctx->cap) {
                cap = ngx_max(ctx->cap, 4096);

                while (cap < ctx->size + size) {
                    cap *= 2;
                }

                cap = ngx_min(cap, conf->response_max_size);

                p = ngx_palloc(r->pool, cap);
                if (p == NULL) {
                    return NGX_ERROR;
                }

                if (ctx->buf) {
                    ngx_memcpy(p, ctx->buf, ctx->size);
                    ngx_pfree(r->pool, ctx->buf);
                }

                ctx->buf = p;
                ctx->cap = cap;
            }

            ngx_memcpy(ctx->buf + ctx->size, b->pos, size);
            ctx->size += size;
            b->pos = b->last;
        }

        if (b->last_buf || (r != r->main && b->last_in_chain)) {
            last = 1;
        }
    }

    if (!last) {
        return NGX_OK;
    }

    return ngx_api_led_transform_response(r, ctx, ctx->buf, ctx->size);
}


/* over the limit: what was held goes out unchanged, then the rest */

static ngx_int_t
ngx_api_led_transform_passthrough(ngx_http_request_t *r,
    ngx_api_led_transform_ctx_t *ctx, ngx_chain_t *rest)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "api_led: response is larger than "
                  "api_led_response_json_max_size, passed through unchanged");

    ctx->passthrough = 1;
    ctx->header_delayed = 0;

    rc = ngx_http_next_header_filter(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    if (ctx->size == 0) {
        return ngx_http_next_body_filter(r, rest);
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->temporary = 1;
    b->start = ctx->buf;
    b->pos = ctx->buf;
    b->last = ctx->buf + ctx->size;
    b->end = b->last;

    cl = ngx_alloc_chain_link(r->pool);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    cl->buf = b;
    cl->next = rest;

    return ngx_http_next_body_filter(r, cl);
}


/*
 * The whole body is here: transform it, or send it unchanged when it is
 * not JSON after all (with a warning: the upstream mislabels it).
 */

static ngx_int_t
ngx_api_led_transform_response(ngx_http_request_t *r,
    ngx_api_led_transform_ctx_t *ctx, u_char *data, size_t len)
{
    u_char                             err[NGX_API_LED_T_ERRLEN], *p;
    json_t                            *doc;
    ngx_int_t                          rc;
    ngx_str_t                          out;
    ngx_api_led_json_arena_t          *prev;
    ngx_api_led_transform_loc_conf_t  *conf;

    conf = ngx_http_get_module_loc_conf(r, ngx_api_led_transform_module);

    ctx->response_done = 1;

    if (len == 0) {
        /* nothing to transform, nothing to warn about */
        return ngx_api_led_transform_send(r, ctx, NULL, 0);
    }

    if (ngx_api_led_transform_arena(r, ctx) == NULL) {
        return NGX_ERROR;
    }

    prev = ngx_api_led_json_arena_enter(ctx->arena);
    rc = ngx_api_led_json_parse_pool(r->pool, data, len, &doc, err,
                                     sizeof(err));
    ngx_api_led_json_arena_leave(prev);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "api_led: response is not JSON to transform (%s), "
                      "passed through unchanged", err);

        if (data != ctx->buf && len) {
            /* the upstream's buffer was consumed: it may be reused */
            p = ngx_pnalloc(r->pool, len);
            if (p == NULL) {
                return NGX_ERROR;
            }

            ngx_memcpy(p, data, len);
            data = p;
        }

        return ngx_api_led_transform_send(r, ctx, data, len);
    }

    prev = ngx_api_led_json_arena_enter(ctx->arena);

    rc = ngx_api_led_json_ops_apply(r, conf->response_json_ops, &doc);

    if (rc == NGX_OK) {
        rc = ngx_api_led_json_dump(r->pool, doc, len + 64, &out);
    }

    json_decref(doc);

    ngx_api_led_json_arena_leave(prev);

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_api_led_transform_send(r, ctx, out.data, out.len);
}


static ngx_int_t
ngx_api_led_transform_send(ngx_http_request_t *r,
    ngx_api_led_transform_ctx_t *ctx, u_char *data, size_t len)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    r->headers_out.content_length_n = len;
    ctx->header_delayed = 0;

    rc = ngx_http_next_header_filter(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->temporary = (len > 0);
    b->start = data;
    b->pos = data;
    b->last = data + len;
    b->end = b->last;

    if (r == r->main) {
        b->last_buf = 1;

    } else {
        b->last_in_chain = 1;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}
