
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * ngx_api_led_redis_module: the one Redis configuration of the module
 * (api_led_redis, api_led_redis_tls_*) and a worker's shared client.  The
 * concerns that talk to Redis (the rate limits, the events) find the
 * configuration here at configuration time, and at run time the client
 * the worker made at init_process, shared by every concern: one pipelined
 * connection per node and worker.  Read-only once loaded; the TLS context
 * is made when the http{} block has been read, whatever the order of its
 * directives.  The password comes from a file read here, at configuration
 * time.
 */


#include "ngx_api_led_redis_int.h"
#include <openssl/sha.h>


#define NGX_API_LED_REDIS_PASSWORD_MAX  4096
#define NGX_API_LED_REDIS_VERIFY_DEPTH  9


static void *ngx_api_led_redis_create_main_conf(ngx_conf_t *cf);
static char *ngx_api_led_redis_init_main_conf(ngx_conf_t *cf, void *conf);
static char *ngx_api_led_redis_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_api_led_redis_tls_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_api_led_redis_parse_addr(ngx_conf_t *cf,
    ngx_api_led_redis_conf_t *rcf, ngx_str_t *text);
static ngx_int_t ngx_api_led_redis_parse_param(ngx_conf_t *cf,
    ngx_api_led_redis_conf_t *rcf, ngx_str_t *value);
static ngx_int_t ngx_api_led_redis_read_password(ngx_conf_t *cf,
    ngx_api_led_redis_conf_t *rcf, ngx_str_t *file);
static ngx_int_t ngx_api_led_redis_check(ngx_conf_t *cf,
    ngx_api_led_redis_conf_t *rcf);
static ngx_int_t ngx_api_led_redis_tls(ngx_conf_t *cf,
    ngx_api_led_redis_main_conf_t *rmcf);
static ngx_int_t ngx_api_led_redis_init_process(ngx_cycle_t *cycle);
static void ngx_api_led_redis_exit_process(ngx_cycle_t *cycle);


/* this worker's shared client, made at init_process */
static ngx_api_led_redis_t  *ngx_api_led_redis_worker;


static ngx_command_t  ngx_api_led_redis_commands[] = {

    { ngx_string("api_led_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_api_led_redis_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("api_led_redis_tls_trusted_certificate"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_api_led_redis_tls_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_api_led_redis_main_conf_t, tls_trusted),
      NULL },

    { ngx_string("api_led_redis_tls_certificate"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_api_led_redis_tls_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_api_led_redis_main_conf_t, tls_certificate),
      NULL },

    { ngx_string("api_led_redis_tls_certificate_key"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_api_led_redis_tls_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_api_led_redis_main_conf_t, tls_certificate_key),
      NULL },

    { ngx_string("api_led_redis_tls_name"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_api_led_redis_tls_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_api_led_redis_main_conf_t, tls_name),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_api_led_redis_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_api_led_redis_create_main_conf,    /* create main configuration */
    ngx_api_led_redis_init_main_conf,      /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_api_led_redis_module = {
    NGX_MODULE_V1,
    &ngx_api_led_redis_module_ctx,         /* module context */
    ngx_api_led_redis_commands,            /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_api_led_redis_init_process,        /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_api_led_redis_exit_process,        /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/*
 * The http{} block's api_led_redis, NULL without one: known from
 * init_main_conf on (the whole block has been read).
 */

ngx_api_led_redis_conf_t *
ngx_api_led_redis_configured(ngx_conf_t *cf)
{
    ngx_api_led_redis_main_conf_t  *rmcf;

    rmcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_redis_module);

    return rmcf->redis;
}


/* a concern sends commands: the workers make the shared client */

ngx_api_led_redis_conf_t *
ngx_api_led_redis_use(ngx_conf_t *cf)
{
    ngx_api_led_redis_main_conf_t  *rmcf;

    rmcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_redis_module);

    if (rmcf->redis) {
        rmcf->used = 1;
    }

    return rmcf->redis;
}


/* the worker's shared client (NULL: none) */

/* once configured, by the configuration's owner (observe/ counts) */

void
ngx_api_led_redis_set_observer(ngx_api_led_redis_conf_t *rcf,
    ngx_api_led_redis_observer_pt handler, void *data)
{
    rcf->observer = handler;
    rcf->observer_data = data;
}


ngx_api_led_redis_t *
ngx_api_led_redis_shared(void)
{
    return ngx_api_led_redis_worker;
}


/*
 * The client is not in the cycle's pool: it lives as long as the worker,
 * freed at exit_process, before the concerns free the state its replies
 * would reach (the module comes first in config), and it reaches nobody
 * once freed.
 */

static ngx_int_t
ngx_api_led_redis_init_process(ngx_cycle_t *cycle)
{
    ngx_api_led_redis_main_conf_t  *rmcf;

    rmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_api_led_redis_module);

    if (rmcf == NULL || rmcf->redis == NULL || !rmcf->used) {
        return NGX_OK;
    }

    ngx_api_led_redis_worker = ngx_api_led_redis_create(cycle, rmcf->redis);
    if (ngx_api_led_redis_worker == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_api_led_redis_exit_process(ngx_cycle_t *cycle)
{
    if (ngx_api_led_redis_worker) {
        ngx_api_led_redis_destroy(ngx_api_led_redis_worker);
        ngx_api_led_redis_worker = NULL;
    }
}


ngx_api_led_redis_script_t *
ngx_api_led_redis_add_script(ngx_conf_t *cf, ngx_api_led_redis_conf_t *rcf,
    ngx_str_t *text)
{
    u_char                       md[SHA_DIGEST_LENGTH];
    ngx_api_led_redis_script_t  *script, **sp;

    script = ngx_pcalloc(cf->pool, sizeof(ngx_api_led_redis_script_t));
    if (script == NULL) {
        return NULL;
    }

    script->text = *text;

    SHA1(text->data, text->len, md);
    ngx_hex_dump(script->sha, md, SHA_DIGEST_LENGTH);

    sp = ngx_array_push(&rcf->scripts);
    if (sp == NULL) {
        return NULL;
    }

    *sp = script;

    return script;
}


static void *
ngx_api_led_redis_create_main_conf(ngx_conf_t *cf)
{
    ngx_api_led_redis_main_conf_t  *rmcf;

    /*
     * set by ngx_pcalloc():
     *
     *     rmcf->redis = NULL;
     *     rmcf->tls_* = { 0, NULL };
     */

    rmcf = ngx_pcalloc(cf->pool, sizeof(ngx_api_led_redis_main_conf_t));

    return rmcf;
}


/*
 * The whole http{} block has been read: the api_led_redis_tls_* directives
 * join api_led_redis, and the TLS context is made.
 */

static char *
ngx_api_led_redis_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_api_led_redis_main_conf_t *rmcf = conf;

    ngx_api_led_redis_conf_t  *rcf;

    rcf = rmcf->redis;

    if (rmcf->tls_file && (rcf == NULL || !rcf->tls)) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "api_led_redis_tls_* directives need the \"tls\" "
                      "parameter of api_led_redis in %s:%ui",
                      rmcf->tls_file, rmcf->tls_line);
        return NGX_CONF_ERROR;
    }

    if (rcf == NULL || !rcf->tls) {
        return NGX_CONF_OK;
    }

    if (ngx_api_led_redis_tls(cf, rmcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_api_led_redis_tls_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_api_led_redis_main_conf_t *rmcf = conf;

    char  *rv;

    rv = ngx_conf_set_str_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (rmcf->tls_file == NULL) {
        rmcf->tls_file = cf->conf_file->file.name.data;
        rmcf->tls_line = cf->conf_file->line;
    }

    return NGX_CONF_OK;
}


/*
 * api_led_redis ADDRESS ... [cluster] [sentinel=MASTER] [tls] [user=U]
 *     [password_file=F] [password=S] [db=N] [connect_timeout=T]
 *     [timeout=T]
 */

static char *
ngx_api_led_redis_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_api_led_redis_main_conf_t *rmcf = conf;

    ngx_str_t                 *value;
    ngx_uint_t                 i;
    ngx_api_led_redis_conf_t  *rcf;

    if (rmcf->redis) {
        return "is duplicate";
    }

    value = cf->args->elts;

    rcf = ngx_pcalloc(cf->pool, sizeof(ngx_api_led_redis_conf_t));
    if (rcf == NULL) {
        return NGX_CONF_ERROR;
    }

    rcf->connect_timeout = NGX_API_LED_REDIS_CONNECT_TIMEOUT;
    rcf->timeout = NGX_API_LED_REDIS_TIMEOUT;

    if (ngx_array_init(&rcf->scripts, cf->pool, 1,
                       sizeof(ngx_api_led_redis_script_t *))
        != NGX_OK
        || ngx_array_init(&rcf->addrs, cf->pool, 3, sizeof(ngx_addr_t))
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strlchr(value[i].data, value[i].data + value[i].len, '=')
            || ngx_strcmp(value[i].data, "cluster") == 0
            || ngx_strcmp(value[i].data, "tls") == 0)
        {
            if (ngx_api_led_redis_parse_param(cf, rcf, &value[i]) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_api_led_redis_parse_addr(cf, rcf, &value[i]) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_api_led_redis_check(cf, rcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    rmcf->redis = rcf;

    return NGX_CONF_OK;
}


/* host:port, ip:port or unix:/path, resolved now (reload to resolve again) */

static ngx_int_t
ngx_api_led_redis_parse_addr(ngx_conf_t *cf, ngx_api_led_redis_conf_t *rcf,
    ngx_str_t *text)
{
    ngx_url_t    u;
    ngx_addr_t  *addr;

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url = *text;
    u.default_port = NGX_API_LED_REDIS_PORT;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        if (u.err) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%s in redis address \"%V\"", u.err, &u.url);
        }

        return NGX_ERROR;
    }

    if (u.uri.len || u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid redis address \"%V\": use host:port, "
                           "ip:port or unix:/path", &u.url);
        return NGX_ERROR;
    }

    if (u.naddrs > 1) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "redis address \"%V\" resolves to several "
                           "addresses, using %V", &u.url, &u.addrs[0].name);
    }

    addr = ngx_array_push(&rcf->addrs);
    if (addr == NULL) {
        return NGX_ERROR;
    }

    *addr = u.addrs[0];

    /* a host name is the name TLS checks, unless api_led_redis_tls_name */
    if (rcf->tls_name.len == 0 && u.host.len && u.family != AF_UNIX
        && ngx_inet_addr(u.host.data, u.host.len) == INADDR_NONE
        && u.host.data[0] != '[')
    {
        /* NUL-terminated for SSL_set_tlsext_host_name() */
        rcf->tls_name.data = ngx_pnalloc(cf->pool, u.host.len + 1);
        if (rcf->tls_name.data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(rcf->tls_name.data, u.host.data, u.host.len);
        rcf->tls_name.data[u.host.len] = '\0';
        rcf->tls_name.len = u.host.len;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_redis_parse_param(ngx_conf_t *cf, ngx_api_led_redis_conf_t *rcf,
    ngx_str_t *value)
{
    ngx_int_t   n;
    ngx_str_t   s;

    if (ngx_strcmp(value->data, "cluster") == 0) {
        rcf->mode = NGX_API_LED_REDIS_CLUSTER;
        return NGX_OK;
    }

    if (ngx_strcmp(value->data, "tls") == 0) {
        rcf->tls = 1;
        return NGX_OK;
    }

    if (ngx_strncmp(value->data, "sentinel=", 9) == 0 && value->len > 9) {
        rcf->master.data = value->data + 9;
        rcf->master.len = value->len - 9;

        if (rcf->master.len > NGX_API_LED_NAME_MAX
            || ngx_strlchr(rcf->master.data,
                           rcf->master.data + rcf->master.len, ' '))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid sentinel master name \"%V\"",
                               &rcf->master);
            return NGX_ERROR;
        }

        rcf->mode = NGX_API_LED_REDIS_SENTINEL;
        return NGX_OK;
    }

    if (ngx_strncmp(value->data, "user=", 5) == 0 && value->len > 5) {
        rcf->user.data = value->data + 5;
        rcf->user.len = value->len - 5;
        return NGX_OK;
    }

    if (ngx_strncmp(value->data, "password_file=", 14) == 0
        && value->len > 14)
    {
        if (rcf->password.len) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "redis password given twice");
            return NGX_ERROR;
        }

        s.data = value->data + 14;
        s.len = value->len - 14;

        return ngx_api_led_redis_read_password(cf, rcf, &s);
    }

    if (ngx_strncmp(value->data, "password=", 9) == 0 && value->len > 9) {
        if (rcf->password.len) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "redis password given twice");
            return NGX_ERROR;
        }

        rcf->password.data = value->data + 9;
        rcf->password.len = value->len - 9;
        return NGX_OK;
    }

    if (ngx_strncmp(value->data, "db=", 3) == 0) {
        n = ngx_atoi(value->data + 3, value->len - 3);
        if (n == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid redis database \"%V\"", value);
            return NGX_ERROR;
        }

        rcf->db = n;
        return NGX_OK;
    }

    if (ngx_strncmp(value->data, "connect_timeout=", 16) == 0
        || ngx_strncmp(value->data, "timeout=", 8) == 0)
    {
        s.data = (u_char *) ngx_strchr(value->data, '=') + 1;
        s.len = value->data + value->len - s.data;

        n = ngx_parse_time(&s, 0);
        if (n == NGX_ERROR || n == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid redis timeout \"%V\"", value);
            return NGX_ERROR;
        }

        if (value->data[0] == 'c') {
            rcf->connect_timeout = n;

        } else {
            rcf->timeout = n;
        }

        return NGX_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                       value);

    return NGX_ERROR;
}


/*
 * The password file: its first line (a final CR LF or LF is not part of
 * it), read now, so that the secret is in no nginx.conf.  It is never
 * logged.
 */

static ngx_int_t
ngx_api_led_redis_read_password(ngx_conf_t *cf, ngx_api_led_redis_conf_t *rcf,
    ngx_str_t *name)
{
    u_char           *buf, *end;
    ssize_t           n;
    ngx_str_t         file;
    ngx_file_t        f;
    ngx_file_info_t   fi;

    file = *name;

    if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_memzero(&f, sizeof(ngx_file_t));

    f.name = file;
    f.log = cf->log;

    f.fd = ngx_open_file(file.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (f.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%s\" failed", file.data);
        return NGX_ERROR;
    }

    if (ngx_fd_info(f.fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%s\" failed", file.data);
        goto failed;
    }

    if (ngx_file_size(&fi) > NGX_API_LED_REDIS_PASSWORD_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "redis password file \"%s\" is larger than %d "
                           "bytes", file.data, NGX_API_LED_REDIS_PASSWORD_MAX);
        goto failed;
    }

    buf = ngx_pnalloc(cf->pool, NGX_API_LED_REDIS_PASSWORD_MAX);
    if (buf == NULL) {
        goto failed;
    }

    n = ngx_read_file(&f, buf, NGX_API_LED_REDIS_PASSWORD_MAX, 0);
    if (n == NGX_ERROR) {
        goto failed;
    }

    end = ngx_strlchr(buf, buf + n, LF);
    if (end == NULL) {
        end = buf + n;
    }

    if (end > buf && end[-1] == CR) {
        end--;
    }

    if (end == buf) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "redis password file \"%s\" is empty", file.data);
        goto failed;
    }

    rcf->password.data = buf;
    rcf->password.len = end - buf;

    ngx_close_file(f.fd);

    return NGX_OK;

failed:

    ngx_close_file(f.fd);

    return NGX_ERROR;
}


static ngx_int_t
ngx_api_led_redis_check(ngx_conf_t *cf, ngx_api_led_redis_conf_t *rcf)
{
    if (rcf->addrs.nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "no redis address");
        return NGX_ERROR;
    }

    if (rcf->user.len && rcf->password.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "redis \"user=\" needs \"password_file=\"");
        return NGX_ERROR;
    }

    if (rcf->addrs.nelts > 1 && rcf->mode == NGX_API_LED_REDIS_SINGLE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "several redis addresses need \"cluster\" (seed "
                           "nodes) or \"sentinel=\" (Sentinels)");
        return NGX_ERROR;
    }

    if (rcf->mode == NGX_API_LED_REDIS_CLUSTER && rcf->master.len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "redis \"cluster\" and \"sentinel=\" exclude each "
                           "other");
        return NGX_ERROR;
    }

    if (rcf->mode == NGX_API_LED_REDIS_CLUSTER && rcf->db) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "a redis cluster has only database 0");
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * TLS 1.2 or 1.3, the peer's certificate always verified: against
 * api_led_redis_tls_trusted_certificate, else the system's CAs.  The name
 * checked is api_led_redis_tls_name, else the host name of the first
 * address, else the node's IP address (ngx_api_led_redis_node.c).
 */

static ngx_int_t
ngx_api_led_redis_tls(ngx_conf_t *cf, ngx_api_led_redis_main_conf_t *rmcf)
{
    ngx_str_t                  empty = ngx_null_string;
    ngx_pool_cleanup_t        *cln;
    ngx_api_led_redis_conf_t  *rcf;

    rcf = rmcf->redis;

    if (rmcf->tls_name.len) {
        rcf->tls_name = rmcf->tls_name;
    }

    rcf->tls_trusted = rmcf->tls_trusted;
    rcf->tls_certificate = rmcf->tls_certificate;
    rcf->tls_certificate_key = rmcf->tls_certificate_key;

    if ((rcf->tls_certificate.len == 0) != (rcf->tls_certificate_key.len == 0))
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "api_led_redis_tls_certificate and "
                      "api_led_redis_tls_certificate_key go together "
                      "in %s:%ui", rmcf->tls_file, rmcf->tls_line);
        return NGX_ERROR;
    }

    rcf->ssl = ngx_pcalloc(cf->pool, sizeof(ngx_ssl_t));
    if (rcf->ssl == NULL) {
        return NGX_ERROR;
    }

    rcf->ssl->log = cf->log;

    if (ngx_ssl_create(rcf->ssl, NGX_SSL_TLSv1_2|NGX_SSL_TLSv1_3, NULL)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_ssl_cleanup_ctx(rcf->ssl);
        return NGX_ERROR;
    }

    cln->handler = ngx_ssl_cleanup_ctx;
    cln->data = rcf->ssl;

    if (rcf->tls_certificate.len
        && ngx_ssl_certificate(cf, rcf->ssl, &rcf->tls_certificate,
                               &rcf->tls_certificate_key, NULL)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_ssl_trusted_certificate(cf, rcf->ssl,
                                    rcf->tls_trusted.len ? &rcf->tls_trusted
                                                         : &empty,
                                    NGX_API_LED_REDIS_VERIFY_DEPTH)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (rcf->tls_trusted.len == 0
        && SSL_CTX_set_default_verify_paths(rcf->ssl->ctx) != 1)
    {
        ngx_ssl_error(NGX_LOG_EMERG, cf->log, 0,
                      "SSL_CTX_set_default_verify_paths() failed");
        return NGX_ERROR;
    }

    return NGX_OK;
}
