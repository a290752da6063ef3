
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * The fake nginx worker the fuzz targets run in (harness.h).
 */


#include "harness.h"
#include "ngx_api_led.h"
#include "ngx_api_led_json.h"


extern ngx_module_t  ngx_api_led_redis_module;
extern ngx_module_t  ngx_api_led_publish_module;
extern ngx_module_t  ngx_api_led_layer_module;
extern ngx_module_t  ngx_api_led_caller_module;
extern ngx_module_t  ngx_api_led_consumer_module;
extern ngx_module_t  ngx_api_led_jwt_module;
extern ngx_module_t  ngx_api_led_auth_module;
extern ngx_module_t  ngx_api_led_limit_module;
extern ngx_module_t  ngx_api_led_compose_module;
extern ngx_module_t  ngx_api_led_compose_run_module;
extern ngx_module_t  ngx_api_led_event_module;
extern ngx_module_t  ngx_api_led_event_log_module;
extern ngx_module_t  ngx_api_led_transform_module;
extern ngx_module_t  ngx_api_led_transform_request_module;
extern ngx_module_t  ngx_api_led_transform_response_module;
extern ngx_module_t  ngx_api_led_observe_module;
extern ngx_module_t  ngx_api_led_problem_module;
extern ngx_module_t  ngx_api_led_edit_module;


/* the http modules, numbered as ngx_http_block() would (config's order) */
static ngx_module_t  *fz_http_modules[] = {
    &ngx_http_core_module,
    &ngx_api_led_module,
    &ngx_api_led_edit_module,
    &ngx_api_led_redis_module,
    &ngx_api_led_publish_module,
    &ngx_api_led_layer_module,
    &ngx_api_led_caller_module,
    &ngx_api_led_consumer_module,
    &ngx_api_led_jwt_module,
    &ngx_api_led_auth_module,
    &ngx_api_led_limit_module,
    &ngx_api_led_compose_module,
    &ngx_api_led_compose_run_module,
    &ngx_api_led_event_module,
    &ngx_api_led_event_log_module,
    &ngx_api_led_transform_module,
    &ngx_api_led_transform_request_module,
    &ngx_api_led_transform_response_module,
    &ngx_api_led_observe_module,
    &ngx_api_led_problem_module,
    NULL
};


ngx_str_t   fz_variable_value = ngx_string("value");
ngx_uint_t  fz_known;
ngx_uint_t  fz_log_check;

static ngx_log_t        fz_log;
static ngx_open_file_t  fz_log_file;
static ngx_cycle_t      fz_cycle;
static ngx_uint_t       fz_log_stderr;
static ngx_hash_t       fz_headers_in_hash;


/* what ngx_http_init_headers_in_hash() makes: known headers find their
   handlers (request header edits link them into r->headers_in) */

static void
fz_init_headers_in_hash(void)
{
    ngx_array_t         keys;
    ngx_hash_key_t     *hk;
    ngx_hash_init_t     hash;
    ngx_http_header_t  *header;

    if (ngx_array_init(&keys, fz_cycle.pool, 32, sizeof(ngx_hash_key_t))
        != NGX_OK)
    {
        abort();
    }

    for (header = ngx_http_headers_in; header->name.len; header++) {
        hk = ngx_array_push(&keys);
        if (hk == NULL) {
            abort();
        }

        hk->key = header->name;
        hk->key_hash = ngx_hash_key_lc(header->name.data, header->name.len);
        hk->value = header;
    }

    hash.hash = &fz_headers_in_hash;
    hash.key = ngx_hash_key_lc;
    hash.max_size = 512;
    hash.bucket_size = ngx_align(64, ngx_cacheline_size);
    hash.name = "headers_in_hash";
    hash.pool = fz_cycle.pool;
    hash.temp_pool = NULL;

    if (ngx_hash_init(&hash, keys.elts, keys.nelts) != NGX_OK) {
        abort();
    }
}


static void
fz_log_writer(ngx_log_t *log, ngx_uint_t level, u_char *buf, size_t len)
{
    size_t  i;

    /* every message was formatted (that is what is tested); FUZZ_LOG=1 */
    if (fz_log_stderr) {
        (void) write(2, buf, len);
    }

    if (!fz_log_check || level > NGX_LOG_INFO) {
        return;
    }

    for (i = 0; i + 1 < len; i++) {
        if (buf[i] < 0x20 && buf[i] != '\t') {
            fz_dump("log line", buf, len);
            fz_fail("a log line holds a control character");
        }
    }
}


/*
 * The core module's postconfiguration with an empty configuration: what
 * it sets up for the process (the hex pairs of ids, the header names'
 * hashes of the edits and the trace), and nothing else.
 */

static void
fz_init_tables(void)
{
    fz_t                fz;
    ngx_http_module_t  *m;

    fz_begin(&fz);

    m = ngx_api_led_module.ctx;

    if (fz_conf_create(&fz, &ngx_api_led_module) != NGX_CONF_OK
        || m->postconfiguration(fz.cf) != NGX_OK)
    {
        abort();
    }

    fz_end(&fz);
}


void
fz_init(void)
{
    ngx_uint_t  n;

    ngx_pid = getpid();
    ngx_log_pid = ngx_pid;
    ngx_use_stderr = 0;

    ngx_pagesize = getpagesize();
    for (n = ngx_pagesize; n >>= 1; ngx_pagesize_shift++) { /* void */ }
    ngx_cacheline_size = NGX_CPU_CACHE_LINE;

    ngx_time_init();

    fz_log_stderr = (getenv("FUZZ_LOG") != NULL);
    fz_known = (getenv("FUZZ_KNOWN") != NULL);

    fz_log_file.fd = ngx_stderr;
    fz_log.file = &fz_log_file;
    fz_log.log_level = NGX_LOG_DEBUG | NGX_LOG_DEBUG_ALL;
    fz_log.writer = fz_log_writer;

    fz_cycle.log = &fz_log;
    ngx_str_set(&fz_cycle.prefix, "/tmp/");
    ngx_str_set(&fz_cycle.conf_prefix, "/tmp/");

    fz_cycle.pool = ngx_create_pool(NGX_CYCLE_POOL_SIZE, &fz_log);
    if (fz_cycle.pool == NULL) {
        abort();
    }

    ngx_cycle = &fz_cycle;

    ngx_event_timer_init(&fz_log);
    ngx_queue_init(&ngx_posted_events);
    ngx_queue_init(&ngx_posted_next_events);

    for (n = 0; fz_http_modules[n]; n++) {
        fz_http_modules[n]->ctx_index = n;
    }

    if (n > FZ_MAX_MODULE) {
        abort();
    }

    ngx_http_max_module = FZ_MAX_MODULE;

    fz_init_headers_in_hash();
    fz_init_tables();

    /* the same hash order in every run: a crash reproduces */
    json_object_seed(1);
}


void
fz_begin(fz_t *fz)
{
    ngx_conf_t                 *cf;
    ngx_conf_file_t            *file;
    ngx_http_conf_ctx_t        *ctx;
    ngx_http_core_main_conf_t  *cmcf;

    ngx_memzero(fz, sizeof(fz_t));

    ngx_log_debug0(NGX_LOG_DEBUG_CORE, &fz_log, 0, "fuzz: an input");

    fz->pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, &fz_log);
    if (fz->pool == NULL) {
        abort();
    }

    cf = ngx_pcalloc(fz->pool, sizeof(ngx_conf_t));
    file = ngx_pcalloc(fz->pool, sizeof(ngx_conf_file_t));
    ctx = ngx_pcalloc(fz->pool, sizeof(ngx_http_conf_ctx_t));

    if (cf == NULL || file == NULL || ctx == NULL) {
        abort();
    }

    ctx->main_conf = ngx_pcalloc(fz->pool, FZ_MAX_MODULE * sizeof(void *));
    ctx->srv_conf = ngx_pcalloc(fz->pool, FZ_MAX_MODULE * sizeof(void *));
    ctx->loc_conf = ngx_pcalloc(fz->pool, FZ_MAX_MODULE * sizeof(void *));

    ctx->main_conf[ngx_http_core_module.ctx_index] =
        ngx_pcalloc(fz->pool, sizeof(ngx_http_core_main_conf_t));
    ctx->loc_conf[ngx_http_core_module.ctx_index] =
        ngx_pcalloc(fz->pool, sizeof(ngx_http_core_loc_conf_t));

    /* a request runs its first phase handler (r->phase_handler 0) */
    cmcf = ctx->main_conf[ngx_http_core_module.ctx_index];
    if (cmcf) {
        cmcf->phase_engine.handlers =
            ngx_pcalloc(fz->pool, 2 * sizeof(ngx_http_phase_handler_t));
        cmcf->headers_in_hash = fz_headers_in_hash;
    }

    cf->args = ngx_array_create(fz->pool, 8, sizeof(ngx_str_t));

    if (ctx->main_conf == NULL || ctx->srv_conf == NULL
        || ctx->loc_conf == NULL || cf->args == NULL
        || ctx->main_conf[0] == NULL || ctx->loc_conf[0] == NULL)
    {
        abort();
    }

    ngx_str_set(&file->file.name, "fuzz.conf");
    file->file.fd = 0;
    file->line = 1;

    cf->name = "fuzz";
    cf->cycle = &fz_cycle;
    cf->pool = fz->pool;
    cf->temp_pool = fz->pool;
    cf->conf_file = file;
    cf->log = &fz_log;
    cf->ctx = ctx;
    cf->module_type = NGX_HTTP_MODULE;
    cf->cmd_type = NGX_HTTP_LOC_CONF;

    fz->cf = cf;

    /* every request header edit looks at it: no variables to forget */
    if (fz_conf_create(fz, &ngx_api_led_edit_module) != NGX_CONF_OK) {
        abort();
    }
}


/* $anything: the target's value */

static ngx_int_t
fz_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    v->data = fz_variable_value.data;
    v->len = fz_variable_value.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


ngx_http_request_t *
fz_request(fz_t *fz)
{
    fz->r = fz_request_in(fz->pool, fz->cf);
    return fz->r;
}


ngx_http_request_t *
fz_request_in(ngx_pool_t *pool, ngx_conf_t *cf)
{
    ngx_uint_t                  i;
    ngx_connection_t           *c;
    ngx_http_request_t         *r;
    ngx_http_variable_t        *v;
    ngx_http_conf_ctx_t        *ctx;
    ngx_http_core_main_conf_t  *cmcf;

    ctx = cf->ctx;
    cmcf = ctx->main_conf[ngx_http_core_module.ctx_index];

    r = ngx_pcalloc(pool, sizeof(ngx_http_request_t));
    c = ngx_pcalloc(pool, sizeof(ngx_connection_t));

    if (r == NULL || c == NULL) {
        abort();
    }

    c->log = &fz_log;
    c->pool = pool;
    c->fd = (ngx_socket_t) -1;
    c->data = r;

    r->connection = c;
    r->pool = pool;
    r->main = r;
    r->count = 1;
    r->signature = NGX_HTTP_MODULE;
    r->main_conf = ctx->main_conf;
    r->srv_conf = ctx->srv_conf;
    r->loc_conf = ctx->loc_conf;
    r->method = NGX_HTTP_GET;
    ngx_str_set(&r->method_name, "GET");
    ngx_str_set(&r->uri, "/");

    r->ctx = ngx_pcalloc(pool, FZ_MAX_MODULE * sizeof(void *));
    r->variables = ngx_pcalloc(pool, (cmcf->variables.nelts + 1)
                                     * sizeof(ngx_http_variable_value_t));

    if (r->ctx == NULL || r->variables == NULL
        || ngx_list_init(&r->headers_in.headers, pool, 4,
                         sizeof(ngx_table_elt_t)) != NGX_OK
        || ngx_list_init(&r->headers_out.headers, pool, 4,
                         sizeof(ngx_table_elt_t)) != NGX_OK)
    {
        abort();
    }

    v = cmcf->variables.elts;

    for (i = 0; i < cmcf->variables.nelts; i++) {
        if (v[i].get_handler == NULL) {
            v[i].get_handler = fz_variable;
        }
    }

    return r;
}


void
fz_end(fz_t *fz)
{
    fz_end_pool(fz->pool);
    ngx_memzero(fz, sizeof(fz_t));
}


void
fz_end_pool(ngx_pool_t *pool)
{
    ngx_queue_t        *q;
    ngx_event_t        *ev;
    ngx_rbtree_node_t  *node;

    /* events a target left posted or armed point into its memory */

    while (!ngx_queue_empty(&ngx_posted_events)) {
        q = ngx_queue_head(&ngx_posted_events);
        ev = ngx_queue_data(q, ngx_event_t, queue);
        ngx_delete_posted_event(ev);
    }

    while (ngx_event_timer_rbtree.root != ngx_event_timer_rbtree.sentinel) {
        node = ngx_rbtree_min(ngx_event_timer_rbtree.root,
                              ngx_event_timer_rbtree.sentinel);
        ev = ngx_rbtree_data(node, ngx_event_t, timer);
        ngx_del_timer(ev);
    }

    ngx_destroy_pool(pool);
}


ngx_int_t
fz_conf_args(fz_t *fz, u_char *p, size_t len)
{
    u_char     *end, *start;
    ngx_str_t  *arg;

    fz->cf->args->nelts = 0;
    end = p + len;

    for ( ;; ) {
        while (p < end && (*p == ' ' || *p == '\t')) {
            p++;
        }

        if (p == end) {
            return fz->cf->args->nelts ? NGX_OK : NGX_DECLINED;
        }

        start = p;

        while (p < end && *p != ' ' && *p != '\t') {
            p++;
        }

        arg = ngx_array_push(fz->cf->args);
        if (arg == NULL) {
            abort();
        }

        /* NUL-terminated, as nginx's configuration parser leaves them */
        arg->len = p - start;
        arg->data = ngx_pnalloc(fz->pool, arg->len + 1);
        if (arg->data == NULL) {
            abort();
        }

        ngx_memcpy(arg->data, start, arg->len);
        arg->data[arg->len] = '\0';
    }
}


void *
fz_main_conf(fz_t *fz, ngx_module_t *module)
{
    return ((ngx_http_conf_ctx_t *) fz->cf->ctx)->main_conf[module->ctx_index];
}


void *
fz_loc_conf(fz_t *fz, ngx_module_t *module)
{
    return ((ngx_http_conf_ctx_t *) fz->cf->ctx)->loc_conf[module->ctx_index];
}


char *
fz_conf_create(fz_t *fz, ngx_module_t *module)
{
    ngx_http_module_t    *m;
    ngx_http_conf_ctx_t  *ctx;

    m = module->ctx;
    ctx = fz->cf->ctx;

    if (m->create_main_conf) {
        ctx->main_conf[module->ctx_index] = m->create_main_conf(fz->cf);
        if (ctx->main_conf[module->ctx_index] == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (m->create_loc_conf) {
        ctx->loc_conf[module->ctx_index] = m->create_loc_conf(fz->cf);
        if (ctx->loc_conf[module->ctx_index] == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


char *
fz_conf_init(fz_t *fz, ngx_module_t *module)
{
    char                 *rv;
    void                 *parent;
    ngx_http_module_t    *m;
    ngx_http_conf_ctx_t  *ctx;

    m = module->ctx;
    ctx = fz->cf->ctx;

    if (m->init_main_conf) {
        rv = m->init_main_conf(fz->cf, ctx->main_conf[module->ctx_index]);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    if (m->merge_loc_conf) {
        parent = m->create_loc_conf(fz->cf);
        if (parent == NULL) {
            return NGX_CONF_ERROR;
        }

        rv = m->merge_loc_conf(fz->cf, parent,
                               ctx->loc_conf[module->ctx_index]);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    return NGX_CONF_OK;
}


/* what ngx_conf_handler() does for an http location, in short */

static char *
fz_conf_handler(ngx_conf_t *cf, ngx_command_t *dummy, void *conf)
{
    char                  *rv;
    void                 **confs;
    ngx_str_t             *name;
    ngx_uint_t             n, ok;
    ngx_module_t         **modules = conf, *m;
    ngx_command_t         *cmd;
    ngx_http_conf_ctx_t   *ctx;

    static ngx_uint_t  argument_number[] = {
        NGX_CONF_NOARGS, NGX_CONF_TAKE1, NGX_CONF_TAKE2, NGX_CONF_TAKE3,
        NGX_CONF_TAKE4, NGX_CONF_TAKE5, NGX_CONF_TAKE6, NGX_CONF_TAKE7
    };

    name = cf->args->elts;
    n = cf->args->nelts;
    ctx = cf->ctx;

    for ( /* void */ ; *modules; modules++) {
        m = *modules;

        for (cmd = m->commands; cmd && cmd->name.len; cmd++) {

            if (cmd->name.len != name->len
                || ngx_strncmp(cmd->name.data, name->data, name->len) != 0)
            {
                continue;
            }

            if (cmd->type & NGX_CONF_BLOCK) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"%V\" is a block here", name);
                return NGX_CONF_ERROR;
            }

            if (cmd->type & NGX_CONF_ANY) {
                ok = 1;

            } else if (cmd->type & NGX_CONF_FLAG) {
                ok = (n == 2);

            } else if (cmd->type & NGX_CONF_1MORE) {
                ok = (n >= 2);

            } else if (cmd->type & NGX_CONF_2MORE) {
                ok = (n >= 3);

            } else {
                ok = (n <= NGX_CONF_MAX_ARGS
                      && (cmd->type & argument_number[n - 1]));
            }

            if (!ok) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid number of arguments in \"%V\"",
                                   name);
                return NGX_CONF_ERROR;
            }

            confs = (cmd->conf == NGX_HTTP_MAIN_CONF_OFFSET)
                    ? ctx->main_conf : ctx->loc_conf;

            rv = cmd->set(cf, cmd, confs[m->ctx_index]);

            if (rv == NGX_CONF_OK) {
                return NGX_CONF_OK;
            }

            if (rv != NGX_CONF_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" %s",
                                   name, rv);
            }

            return NGX_CONF_ERROR;
        }
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "unknown directive \"%V\"",
                       name);
    return NGX_CONF_ERROR;
}


void
fz_conf_buffer(fz_t *fz, u_char *text, size_t len)
{
    ngx_buf_t  *b;

    b = ngx_calloc_buf(fz->pool);
    if (b == NULL) {
        abort();
    }

    /* a copy of its own: ASan sees a read past the end */
    b->start = ngx_pnalloc(fz->pool, len ? len : 1);
    if (b->start == NULL) {
        abort();
    }

    ngx_memcpy(b->start, text, len);
    b->pos = b->start;
    b->last = b->start + len;
    b->end = b->last;
    b->temporary = 1;

    fz->cf->conf_file->buffer = b;
    fz->cf->conf_file->file.offset = 0;
}


char *
fz_conf_text(fz_t *fz, ngx_module_t **modules, u_char *text, size_t len)
{
    char        *rv;
    ngx_conf_t   save;

    fz_conf_buffer(fz, text, len);

    save = *fz->cf;

    /* directives as on the command line (-g): up to the end of the text */
    fz->cf->conf_file->file.fd = NGX_INVALID_FILE;
    fz->cf->handler = fz_conf_handler;
    fz->cf->handler_conf = (void *) modules;

    rv = ngx_conf_parse(fz->cf, NULL);

    *fz->cf = save;
    fz->cf->conf_file->file.fd = 0;

    return rv;
}


ngx_int_t
fz_next(u_char **p, u_char *end, u_char sep, ngx_str_t *piece)
{
    u_char  *q;

    if (*p > end || (*p == end && sep != 0)) {
        return 0;
    }

    q = (sep == 0) ? end : ngx_strlchr(*p, end, sep);
    if (q == NULL) {
        q = end;
    }

    piece->data = *p;
    piece->len = q - *p;
    *p = q + 1;

    return 1;
}


void
fz_dump(const char *name, const u_char *p, size_t len)
{
    size_t  i;

    fprintf(stderr, "%s (%zu bytes): \"", name, len);

    for (i = 0; i < len && i < 4096; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\') {
            fputc(p[i], stderr);

        } else {
            fprintf(stderr, "\\x%02x", p[i]);
        }
    }

    fprintf(stderr, "%s\"\n", i < len ? "..." : "");
}


void ngx_cdecl
fz_fail(const char *fmt, ...)
{
    va_list  args;

    fprintf(stderr, "\n== property failed: ");

    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);

    fprintf(stderr, "\n");

    abort();
}


int
fz_json_equal(json_t *a, json_t *b)
{
    size_t       i, len;
    double       x, y;
    json_t      *v;
    const char  *key;

    if (a == NULL || b == NULL) {
        return a == b;
    }

    if (json_typeof(a) != json_typeof(b)) {
        return 0;
    }

    switch (json_typeof(a)) {

    case JSON_OBJECT:
        if (json_object_size(a) != json_object_size(b)) {
            return 0;
        }

        json_object_keylen_foreach(a, key, len, v) {
            if (!fz_json_equal(v, json_object_getn(b, key, len))) {
                return 0;
            }
        }

        return 1;

    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b)) {
            return 0;
        }

        for (i = 0; i < json_array_size(a); i++) {
            if (!fz_json_equal(json_array_get(a, i), json_array_get(b, i))) {
                return 0;
            }
        }

        return 1;

    case JSON_REAL:
        x = json_real_value(a);
        y = json_real_value(b);
        return memcmp(&x, &y, sizeof(double)) == 0;

    default:
        return json_equal(a, b);
    }
}


void
fz_json_ops(fz_t *fz, u_char **p, u_char *end, ngx_uint_t keep,
    ngx_array_t *ops, ngx_array_t *lines)
{
    ngx_str_t               line, *ln;
    ngx_uint_t              n;
    ngx_api_led_json_op_t  *op;

    if (ngx_array_init(ops, fz->pool, 4, sizeof(ngx_api_led_json_op_t))
        != NGX_OK
        || ngx_array_init(lines, fz->pool, 4, sizeof(ngx_str_t)) != NGX_OK)
    {
        abort();
    }

    for (n = 0; n < 16 && fz_next(p, end, '\n', &line); n++) {

        if (line.len && line.data[0] == '=') {
            fz_variable_value.data = line.data + 1;
            fz_variable_value.len = line.len - 1;
            continue;
        }

        /* nginx's configuration has no NUL bytes (a variable may) */
        if (ngx_strlchr(line.data, line.data + line.len, '\0')
            || fz_conf_args(fz, line.data, line.len) != NGX_OK)
        {
            continue;
        }

        op = ngx_array_push(ops);
        ln = ngx_array_push(lines);
        if (op == NULL || ln == NULL) {
            abort();
        }

        if (ngx_api_led_json_op_compile(fz->cf, fz->cf->args->elts,
                                        fz->cf->args->nelts, op)
            != NGX_CONF_OK
            || (!keep && op->op == NGX_API_LED_JSON_OP_KEEP))
        {
            ops->nelts--;
            lines->nelts--;
            continue;
        }

        *ln = line;
    }
}
