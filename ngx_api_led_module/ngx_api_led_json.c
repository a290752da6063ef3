
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * jansson helpers shared by the concerns that reshape JSON (transformation,
 * orchestration): JSON Pointers (RFC 6901, with "*" for every element of
 * an array), typed values from nginx variables, the JSON operations
 * (set, remove, rename, keep, wrap), bounded parsing and a compact
 * serializer into pool memory.
 */


#include "ngx_api_led.h"


#define NGX_API_LED_JSON_ERRLEN  160


typedef struct {
    u_char                      *start;
    u_char                      *pos;
    u_char                      *end;
    ngx_pool_t                  *pool;
} ngx_api_led_json_out_t;


struct ngx_api_led_json_keep_s {
    ngx_str_t                    name;
    ngx_int_t                    index;
    unsigned                     any:1;
    unsigned                     all:1;      /* keep the whole subtree */
    ngx_array_t                  children;   /* ngx_api_led_json_keep_t * */
};


typedef ngx_int_t (*ngx_api_led_json_leaf_pt)(json_t *parent,
    ngx_api_led_json_token_t *t, void *data);


static ngx_int_t ngx_api_led_json_walk(json_t *node,
    ngx_api_led_json_token_t *t, ngx_uint_t n, ngx_uint_t create,
    ngx_api_led_json_leaf_pt handler, void *data);
static json_t *ngx_api_led_json_child(json_t *node,
    ngx_api_led_json_token_t *t);
static ngx_int_t ngx_api_led_json_set_leaf(json_t *parent,
    ngx_api_led_json_token_t *t, void *data);
static ngx_int_t ngx_api_led_json_remove_leaf(json_t *parent,
    ngx_api_led_json_token_t *t, void *data);
static ngx_int_t ngx_api_led_json_rename_leaf(json_t *parent,
    ngx_api_led_json_token_t *t, void *data);
static json_t *ngx_api_led_json_copy(json_t *value);

static char *ngx_api_led_json_keep_add(ngx_conf_t *cf,
    ngx_api_led_json_keep_t *root, ngx_api_led_json_path_t *path);
static ngx_api_led_json_keep_t *ngx_api_led_json_keep_node(ngx_conf_t *cf,
    ngx_api_led_json_keep_t *parent, ngx_api_led_json_token_t *t);
static char *ngx_api_led_json_keep_merge(ngx_conf_t *cf,
    ngx_api_led_json_keep_t *dst, ngx_api_led_json_keep_t *src);
static char *ngx_api_led_json_keep_fix(ngx_conf_t *cf,
    ngx_api_led_json_keep_t *node);
static ngx_int_t ngx_api_led_json_keep_prune(json_t *node,
    ngx_api_led_json_keep_t *keep);

static json_t *ngx_api_led_json_convert(ngx_uint_t type, u_char *p,
    size_t len);
static json_t *ngx_api_led_json_number(u_char *p, size_t len);
static void ngx_api_led_json_value_cleanup(void *data);

static ngx_int_t ngx_api_led_json_write(ngx_api_led_json_out_t *out,
    json_t *value);
static ngx_int_t ngx_api_led_json_write_string(ngx_api_led_json_out_t *out,
    const char *s, size_t len);
static u_char *ngx_api_led_json_real(u_char *p, double d);
static ngx_int_t ngx_api_led_json_grow(ngx_api_led_json_out_t *out,
    size_t n);

/* room for n more bytes; the common case is a compare, inline */
#define ngx_api_led_json_reserve(out, n)                                      \
    ((size_t) ((out)->end - (out)->pos) >= (size_t) (n)                       \
     ? NGX_OK : ngx_api_led_json_grow(out, n))


/*
 * The arena.  jansson allocates every value with malloc() and frees it one
 * by one; for a document that lives for one request that is most of the
 * cost (and the fastbin churn makes glibc consolidate on the next large
 * allocation).  Inside a window opened by ngx_api_led_json_arena_enter(),
 * jansson allocates from blocks of the request pool instead and frees
 * nothing; the pool releases the blocks with the request.  A free() of
 * memory outside the blocks (a value built before the window, with
 * malloc()) still goes to free().
 *
 * A window is short and synchronous, and nothing allocated in it outlives
 * the request: the documents are parsed, edited and released inside
 * windows.  Variables are evaluated outside of any window (their handlers
 * may use jansson for their own purposes).
 */

#define NGX_API_LED_JSON_ARENA_BLOCKS  32
#define NGX_API_LED_JSON_ARENA_FIRST   (16 * 1024)

typedef struct {
    u_char                      *start;
    u_char                      *end;
} ngx_api_led_json_block_t;

struct ngx_api_led_json_arena_s {
    ngx_pool_t                  *pool;
    u_char                      *pos;
    u_char                      *last;
    size_t                       next_size;
    ngx_uint_t                   nblocks;
    ngx_api_led_json_block_t     blocks[NGX_API_LED_JSON_ARENA_BLOCKS];
};


static ngx_api_led_json_arena_t  *ngx_api_led_json_arena_current;


static void *
ngx_api_led_json_arena_alloc(size_t size)
{
    u_char                    *p;
    size_t                     bsize;
    ngx_api_led_json_arena_t  *a;

    a = ngx_api_led_json_arena_current;

    size = ngx_align(size ? size : 1, 16);

    if ((size_t) (a->last - a->pos) < size) {

        if (a->nblocks == NGX_API_LED_JSON_ARENA_BLOCKS) {
            /* very large documents: the rest is plain malloc() */
            return malloc(size);
        }

        bsize = ngx_max(a->next_size, size);

        p = ngx_palloc(a->pool, bsize);
        if (p == NULL) {
            return NULL;
        }

        a->blocks[a->nblocks].start = p;
        a->blocks[a->nblocks].end = p + bsize;
        a->nblocks++;

        a->pos = p;
        a->last = p + bsize;
        a->next_size = bsize * 2;
    }

    p = a->pos;
    a->pos += size;

    return p;
}


static void
ngx_api_led_json_arena_free(void *ptr)
{
    ngx_uint_t                 i;
    ngx_api_led_json_arena_t  *a;

    if (ptr == NULL) {
        return;
    }

    a = ngx_api_led_json_arena_current;

    for (i = 0; i < a->nblocks; i++) {
        if ((u_char *) ptr >= a->blocks[i].start
            && (u_char *) ptr < a->blocks[i].end)
        {
            return;
        }
    }

    free(ptr);
}


ngx_api_led_json_arena_t *
ngx_api_led_json_arena_create(ngx_pool_t *pool)
{
    ngx_api_led_json_arena_t  *a;

    a = ngx_pcalloc(pool, sizeof(ngx_api_led_json_arena_t));
    if (a == NULL) {
        return NULL;
    }

    a->pool = pool;
    a->next_size = NGX_API_LED_JSON_ARENA_FIRST;

    return a;
}


/* returns the arena of an enclosing window (to give back to leave()) */

ngx_api_led_json_arena_t *
ngx_api_led_json_arena_enter(ngx_api_led_json_arena_t *a)
{
    ngx_api_led_json_arena_t  *prev;

    prev = ngx_api_led_json_arena_current;

    if (a != prev) {
        ngx_api_led_json_arena_current = a;

        if (prev == NULL) {
            json_set_alloc_funcs(ngx_api_led_json_arena_alloc,
                                 ngx_api_led_json_arena_free);
        }
    }

    return prev;
}


void
ngx_api_led_json_arena_leave(ngx_api_led_json_arena_t *prev)
{
    ngx_api_led_json_arena_current = prev;

    if (prev == NULL) {
        json_set_alloc_funcs(malloc, free);
    }
}


/*
 * Bytes of a string: 0 plain ASCII, 1 needs an escape in output (control
 * characters, '"', '\\'), 2 the start of a UTF-8 sequence.
 */

static const u_char  ngx_api_led_json_class[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2
};


/* JSON Pointer */

char *
ngx_api_led_json_path_parse(ngx_pool_t *pool, ngx_str_t *text,
    ngx_api_led_json_path_t *path)
{
    u_char                    *p, *end, *q, *d;
    ngx_int_t                  n;
    ngx_uint_t                 i, ntokens;
    ngx_api_led_json_token_t  *t;

    ngx_memzero(path, sizeof(ngx_api_led_json_path_t));
    path->text = *text;

    if (text->len == 0) {
        return NULL;
    }

    if (text->data[0] != '/') {
        return "must be empty or start with \"/\"";
    }

    ntokens = 0;
    for (i = 0; i < text->len; i++) {
        if (text->data[i] == '/') {
            ntokens++;
        }
    }

    path->tokens = ngx_pcalloc(pool,
                               ntokens * sizeof(ngx_api_led_json_token_t));
    if (path->tokens == NULL) {
        return "out of memory";
    }

    path->ntokens = ntokens;

    p = text->data + 1;
    end = text->data + text->len;

    for (i = 0; i < ntokens; i++) {
        t = &path->tokens[i];

        q = ngx_strlchr(p, end, '/');
        if (q == NULL) {
            q = end;
        }

        t->name.data = ngx_pnalloc(pool, q - p + 1);
        if (t->name.data == NULL) {
            return "out of memory";
        }

        /* "~1" is "/", "~0" is "~" */

        d = t->name.data;
        while (p < q) {
            if (*p == '~') {
                if (p + 1 < q && p[1] == '0') {
                    *d++ = '~';

                } else if (p + 1 < q && p[1] == '1') {
                    *d++ = '/';

                } else {
                    return "has \"~\" not followed by \"0\" or \"1\"";
                }

                p += 2;
                continue;
            }

            *d++ = *p++;
        }

        *d = '\0';
        t->name.len = d - t->name.data;
        t->index = -1;

        if (t->name.len == 1 && t->name.data[0] == '-') {
            t->append = 1;

        } else if (t->name.len == 1 && t->name.data[0] == '*') {
            t->any = 1;
            path->wildcard = 1;

        } else if (t->name.len > 0 && t->name.len < 10
                   && (t->name.data[0] != '0' || t->name.len == 1))
        {
            n = ngx_atoi(t->name.data, t->name.len);
            if (n != NGX_ERROR) {
                t->index = n;
            }
        }

        p = q + 1;
    }

    return NULL;
}


/*
 * Calls "handler" with the parent of the last token for every place the
 * path leads to ("*" forks over the elements of an array).  With "create",
 * missing members on the way are created as objects (as an array when the
 * next token is "-").  NGX_DECLINED: the path does not fit the document.
 */

static ngx_int_t
ngx_api_led_json_walk(json_t *node, ngx_api_led_json_token_t *t,
    ngx_uint_t n, ngx_uint_t create, ngx_api_led_json_leaf_pt handler,
    void *data)
{
    size_t     i, size;
    json_t    *child;
    ngx_int_t  rc, found;

    if (n == 0) {
        return handler(node, t, data);
    }

    if (t->any && json_is_array(node)) {
        found = NGX_DECLINED;
        size = json_array_size(node);

        for (i = 0; i < size; i++) {
            rc = ngx_api_led_json_walk(json_array_get(node, i), t + 1, n - 1,
                                       create, handler, data);
            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            if (rc == NGX_OK) {
                found = NGX_OK;
            }
        }

        return found;
    }

    child = ngx_api_led_json_child(node, t);

    if (child == NULL) {
        if (!create) {
            return NGX_DECLINED;
        }

        child = t[1].append ? json_array() : json_object();
        if (child == NULL) {
            return NGX_ERROR;
        }

        if (json_is_object(node)) {
            if (json_object_setn_new(node, (char *) t->name.data, t->name.len,
                                     child)
                != 0)
            {
                return NGX_ERROR;
            }

        } else if (json_is_array(node)
                   && (t->append
                       || (t->index >= 0
                           && (size_t) t->index == json_array_size(node))))
        {
            if (json_array_append_new(node, child) != 0) {
                return NGX_ERROR;
            }

        } else {
            json_decref(child);
            return NGX_DECLINED;
        }
    }

    return ngx_api_led_json_walk(child, t + 1, n - 1, create, handler, data);
}


static json_t *
ngx_api_led_json_child(json_t *node, ngx_api_led_json_token_t *t)
{
    if (json_is_object(node)) {
        return json_object_getn(node, (char *) t->name.data, t->name.len);
    }

    if (json_is_array(node) && t->index >= 0) {
        return json_array_get(node, t->index);
    }

    return NULL;
}


json_t *
ngx_api_led_json_get(json_t *root, ngx_api_led_json_path_t *path)
{
    json_t      *node;
    ngx_uint_t   i;

    node = root;

    for (i = 0; node && i < path->ntokens; i++) {
        if (path->tokens[i].any && json_is_array(node)) {
            node = json_array_get(node, 0);
            continue;
        }

        node = ngx_api_led_json_child(node, &path->tokens[i]);
    }

    return node;
}


/* a value for one more place in a document: containers are not shared */

static json_t *
ngx_api_led_json_copy(json_t *value)
{
    if (json_is_object(value) || json_is_array(value)) {
        return json_deep_copy(value);
    }

    return json_incref(value);
}


/*
 * The first place gets the value itself, every further place ("*") a copy
 * of its own.
 */

typedef struct {
    json_t                      *value;
    ngx_uint_t                   placed;
} ngx_api_led_json_set_t;


static json_t *
ngx_api_led_json_set_value(ngx_api_led_json_set_t *set)
{
    if (set->placed++ == 0) {
        return json_incref(set->value);
    }

    return ngx_api_led_json_copy(set->value);
}


static ngx_int_t
ngx_api_led_json_set_leaf(json_t *parent, ngx_api_led_json_token_t *t,
    void *data)
{
    ngx_api_led_json_set_t  *set = data;

    size_t   i, size;
    json_t  *v;

    if (json_is_object(parent)) {
        v = ngx_api_led_json_set_value(set);
        if (v == NULL
            || json_object_setn_new(parent, (char *) t->name.data,
                                    t->name.len, v)
               != 0)
        {
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    if (!json_is_array(parent)) {
        return NGX_DECLINED;
    }

    size = json_array_size(parent);

    if (t->any) {
        for (i = 0; i < size; i++) {
            v = ngx_api_led_json_set_value(set);
            if (v == NULL || json_array_set_new(parent, i, v) != 0) {
                return NGX_ERROR;
            }
        }

        return size ? NGX_OK : NGX_DECLINED;
    }

    if (t->append || (t->index >= 0 && (size_t) t->index == size)) {
        v = ngx_api_led_json_set_value(set);
        if (v == NULL || json_array_append_new(parent, v) != 0) {
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    if (t->index >= 0 && (size_t) t->index < size) {
        v = ngx_api_led_json_set_value(set);
        if (v == NULL || json_array_set_new(parent, t->index, v) != 0) {
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    return NGX_DECLINED;
}


/*
 * Sets "value" (a new reference, always consumed) at every place "path"
 * leads to, creating missing members on the way.  The empty path replaces
 * the whole document.
 */

ngx_int_t
ngx_api_led_json_set(json_t **root, ngx_api_led_json_path_t *path,
    json_t *value)
{
    ngx_int_t               rc;
    ngx_api_led_json_set_t  set;

    if (path->ntokens == 0) {
        json_decref(*root);
        *root = value;
        return NGX_OK;
    }

    set.value = value;
    set.placed = 0;

    rc = ngx_api_led_json_walk(*root, path->tokens, path->ntokens - 1, 1,
                               ngx_api_led_json_set_leaf, &set);

    json_decref(value);

    return rc;
}


static ngx_int_t
ngx_api_led_json_remove_leaf(json_t *parent, ngx_api_led_json_token_t *t,
    void *data)
{
    if (json_is_object(parent)) {
        return json_object_deln(parent, (char *) t->name.data, t->name.len)
               == 0 ? NGX_OK : NGX_DECLINED;
    }

    if (!json_is_array(parent)) {
        return NGX_DECLINED;
    }

    if (t->any) {
        return json_array_clear(parent) == 0 ? NGX_OK : NGX_ERROR;
    }

    if (t->index >= 0 && (size_t) t->index < json_array_size(parent)) {
        return json_array_remove(parent, t->index) == 0 ? NGX_OK : NGX_ERROR;
    }

    return NGX_DECLINED;
}


ngx_int_t
ngx_api_led_json_remove(json_t *root, ngx_api_led_json_path_t *path)
{
    if (path->ntokens == 0) {
        return NGX_DECLINED;
    }

    return ngx_api_led_json_walk(root, path->tokens, path->ntokens - 1, 0,
                                 ngx_api_led_json_remove_leaf, NULL);
}


static ngx_int_t
ngx_api_led_json_rename_leaf(json_t *parent, ngx_api_led_json_token_t *t,
    void *data)
{
    ngx_str_t  *name = data;

    json_t  *v;

    if (!json_is_object(parent)) {
        return NGX_DECLINED;
    }

    v = json_object_getn(parent, (char *) t->name.data, t->name.len);
    if (v == NULL) {
        return NGX_DECLINED;
    }

    json_incref(v);

    if (json_object_deln(parent, (char *) t->name.data, t->name.len) != 0
        || json_object_setn_new(parent, (char *) name->data, name->len, v)
           != 0)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* renames the member "path" leads to, keeping it in the same object */

ngx_int_t
ngx_api_led_json_rename(json_t *root, ngx_api_led_json_path_t *path,
    ngx_str_t *name)
{
    if (path->ntokens == 0) {
        return NGX_DECLINED;
    }

    return ngx_api_led_json_walk(root, path->tokens, path->ntokens - 1, 0,
                                 ngx_api_led_json_rename_leaf, name);
}


/* moves the value at "from" to "to" (RFC 6902 "move"); no wildcards */

ngx_int_t
ngx_api_led_json_move(json_t **root, ngx_api_led_json_path_t *from,
    ngx_api_led_json_path_t *to)
{
    json_t     *v;
    ngx_int_t   rc;

    v = ngx_api_led_json_get(*root, from);
    if (v == NULL || from->ntokens == 0) {
        return NGX_DECLINED;
    }

    json_incref(v);

    rc = ngx_api_led_json_remove(*root, from);
    if (rc != NGX_OK) {
        json_decref(v);
        return rc;
    }

    rc = ngx_api_led_json_set(root, to, json_incref(v));

    if (rc == NGX_DECLINED) {
        /* the new place does not fit: put the value back */
        rc = ngx_api_led_json_set(root, from, json_incref(v));
        if (rc == NGX_OK) {
            rc = NGX_DECLINED;
        }
    }

    json_decref(v);

    return rc;
}


/* the document goes under "path" of a new object */

ngx_int_t
ngx_api_led_json_wrap(json_t **root, ngx_api_led_json_path_t *path)
{
    json_t     *top;
    ngx_int_t   rc;

    top = json_object();
    if (top == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_api_led_json_set(&top, path, *root);
    *root = top;

    return rc;
}


/*
 * keep PATH...: the listed paths are compiled into a tree; pruning deletes
 * every member and element the tree does not reach.  Array elements keep
 * their order; "*" keeps every element (pruned by its subtree).
 */

static ngx_api_led_json_keep_t *
ngx_api_led_json_keep_node(ngx_conf_t *cf, ngx_api_led_json_keep_t *parent,
    ngx_api_led_json_token_t *t)
{
    ngx_uint_t                 i;
    ngx_api_led_json_keep_t  **child, *node;

    child = parent->children.elts;

    for (i = 0; i < parent->children.nelts; i++) {
        if (child[i]->name.len == t->name.len
            && ngx_strncmp(child[i]->name.data, t->name.data, t->name.len)
               == 0)
        {
            return child[i];
        }
    }

    node = ngx_pcalloc(cf->pool, sizeof(ngx_api_led_json_keep_t));
    if (node == NULL) {
        return NULL;
    }

    node->name = t->name;
    node->index = t->index;
    node->any = t->any;

    if (ngx_array_init(&node->children, cf->pool, 2,
                       sizeof(ngx_api_led_json_keep_t *))
        != NGX_OK)
    {
        return NULL;
    }

    child = ngx_array_push(&parent->children);
    if (child == NULL) {
        return NULL;
    }

    *child = node;

    return node;
}


static char *
ngx_api_led_json_keep_add(ngx_conf_t *cf, ngx_api_led_json_keep_t *root,
    ngx_api_led_json_path_t *path)
{
    ngx_uint_t                i;
    ngx_api_led_json_keep_t  *node;

    node = root;

    for (i = 0; i < path->ntokens; i++) {
        if (node->all) {
            return NGX_CONF_OK;
        }

        node = ngx_api_led_json_keep_node(cf, node, &path->tokens[i]);
        if (node == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    node->all = 1;

    return NGX_CONF_OK;
}


static char *
ngx_api_led_json_keep_merge(ngx_conf_t *cf, ngx_api_led_json_keep_t *dst,
    ngx_api_led_json_keep_t *src)
{
    ngx_uint_t                 i;
    ngx_api_led_json_token_t   t;
    ngx_api_led_json_keep_t  **child, *node;

    if (src->all) {
        dst->all = 1;
    }

    child = src->children.elts;

    for (i = 0; i < src->children.nelts; i++) {
        t.name = child[i]->name;
        t.index = child[i]->index;
        t.any = child[i]->any;
        t.append = 0;

        node = ngx_api_led_json_keep_node(cf, dst, &t);
        if (node == NULL) {
            return NGX_CONF_ERROR;
        }

        if (ngx_api_led_json_keep_merge(cf, node, child[i]) != NGX_CONF_OK) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/*
 * An element reached by both "*" and its index keeps the union of both
 * subtrees: the "*" subtree is merged into every index sibling.
 */

static char *
ngx_api_led_json_keep_fix(ngx_conf_t *cf, ngx_api_led_json_keep_t *node)
{
    ngx_uint_t                 i;
    ngx_api_led_json_keep_t  **child, *any;

    any = NULL;
    child = node->children.elts;

    for (i = 0; i < node->children.nelts; i++) {
        if (child[i]->any) {
            any = child[i];
        }
    }

    for (i = 0; any && i < node->children.nelts; i++) {
        if (child[i]->index >= 0
            && ngx_api_led_json_keep_merge(cf, child[i], any) != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    child = node->children.elts;

    for (i = 0; i < node->children.nelts; i++) {
        if (ngx_api_led_json_keep_fix(cf, child[i]) != NGX_CONF_OK) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_api_led_json_keep_prune(json_t *node, ngx_api_led_json_keep_t *keep)
{
    void                      *iter, *next;
    size_t                     i, len;
    json_t                    *v;
    ngx_uint_t                 k;
    const char                *key;
    ngx_api_led_json_keep_t  **child, *match, *any;

    if (keep->all) {
        return NGX_OK;
    }

    child = keep->children.elts;

    if (json_is_object(node)) {
        iter = json_object_iter(node);

        while (iter) {
            next = json_object_iter_next(node, iter);
            key = json_object_iter_key(iter);
            len = json_object_iter_key_len(iter);
            v = json_object_iter_value(iter);

            match = NULL;
            for (k = 0; k < keep->children.nelts; k++) {
                if (child[k]->name.len == len
                    && ngx_memcmp(child[k]->name.data, key, len) == 0)
                {
                    match = child[k];
                    break;
                }
            }

            if (match == NULL) {
                if (json_object_deln(node, key, len) != 0) {
                    return NGX_ERROR;
                }

            } else if (ngx_api_led_json_keep_prune(v, match) != NGX_OK) {
                return NGX_ERROR;
            }

            iter = next;
        }

        return NGX_OK;
    }

    if (json_is_array(node)) {
        any = NULL;
        for (k = 0; k < keep->children.nelts; k++) {
            if (child[k]->any) {
                any = child[k];
            }
        }

        /* from the end, so that the indexes still to visit stay valid */

        for (i = json_array_size(node); i-- > 0; /* void */) {
            match = NULL;
            for (k = 0; k < keep->children.nelts; k++) {
                if (child[k]->index >= 0 && (size_t) child[k]->index == i) {
                    match = child[k];
                    break;
                }
            }

            if (match == NULL) {
                match = any;
            }

            if (match == NULL) {
                if (json_array_remove(node, i) != 0) {
                    return NGX_ERROR;
                }

            } else if (ngx_api_led_json_keep_prune(json_array_get(node, i),
                                                   match)
                       != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


/* typed values */

static ngx_str_t  ngx_api_led_json_type_prefix[] = {
    ngx_string("string:"),
    ngx_string("number:"),
    ngx_string("bool:"),
    ngx_string("json:"),
    ngx_null_string
};


static ngx_str_t  ngx_api_led_json_type_name[] = {
    ngx_string("string"),
    ngx_string("number"),
    ngx_string("boolean"),
    ngx_string("JSON"),
    ngx_null_string
};


char *
ngx_api_led_json_value_compile(ngx_conf_t *cf, ngx_str_t *text,
    ngx_api_led_json_value_t *v)
{
    ngx_str_t                          s;
    ngx_uint_t                         i;
    ngx_pool_cleanup_t                *cln;
    ngx_http_compile_complex_value_t   ccv;

    ngx_memzero(v, sizeof(ngx_api_led_json_value_t));

    s = *text;
    v->type = NGX_API_LED_JSON_STRING;

    for (i = 0; ngx_api_led_json_type_prefix[i].len; i++) {
        if (s.len >= ngx_api_led_json_type_prefix[i].len
            && ngx_strncmp(s.data, ngx_api_led_json_type_prefix[i].data,
                           ngx_api_led_json_type_prefix[i].len)
               == 0)
        {
            v->type = i;
            s.data += ngx_api_led_json_type_prefix[i].len;
            s.len -= ngx_api_led_json_type_prefix[i].len;
            break;
        }
    }

    v->cv = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
    if (v->cv == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &s;
    ccv.complex_value = v->cv;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (v->cv->lengths) {
        return NGX_CONF_OK;
    }

    /* a constant: converted once, checked by nginx -t */

    v->json = ngx_api_led_json_convert(v->type, s.data, s.len);
    v->cv = NULL;

    if (v->json == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid %V value \"%V\"",
                           &ngx_api_led_json_type_name[v->type], &s);
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        json_decref(v->json);
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_api_led_json_value_cleanup;
    cln->data = v->json;

    return NGX_CONF_OK;
}


static void
ngx_api_led_json_value_cleanup(void *data)
{
    json_decref(data);
}


/*
 * The value for this request, a new reference.  A variable's text that does
 * not convert to the declared type gives null (logged at "info": it comes
 * from the client).  NULL only when out of memory.
 */

json_t *
ngx_api_led_json_value_get(ngx_http_request_t *r,
    ngx_api_led_json_value_t *v)
{
    json_t     *json;
    ngx_str_t   s;

    if (v->cv == NULL) {
        return ngx_api_led_json_copy(v->json);
    }

    if (ngx_http_complex_value(r, v->cv, &s) != NGX_OK) {
        return NULL;
    }

    json = ngx_api_led_json_convert(v->type, s.data, s.len);

    if (json == NULL) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "api_led: value \"%V\" is not a valid %V, "
                      "null used", &s, &ngx_api_led_json_type_name[v->type]);

        json = json_null();
    }

    return json;
}


static json_t *
ngx_api_led_json_convert(ngx_uint_t type, u_char *p, size_t len)
{
    u_char   err[NGX_API_LED_JSON_ERRLEN];
    json_t  *json;

    switch (type) {

    case NGX_API_LED_JSON_NUMBER:
        return ngx_api_led_json_number(p, len);

    case NGX_API_LED_JSON_BOOLEAN:

        if ((len == 4 && ngx_strncasecmp(p, (u_char *) "true", 4) == 0)
            || (len == 3 && ngx_strncasecmp(p, (u_char *) "yes", 3) == 0)
            || (len == 2 && ngx_strncasecmp(p, (u_char *) "on", 2) == 0)
            || (len == 1 && *p == '1'))
        {
            return json_true();
        }

        if (len == 0
            || (len == 5 && ngx_strncasecmp(p, (u_char *) "false", 5) == 0)
            || (len == 2 && ngx_strncasecmp(p, (u_char *) "no", 2) == 0)
            || (len == 3 && ngx_strncasecmp(p, (u_char *) "off", 3) == 0)
            || (len == 1 && *p == '0'))
        {
            return json_false();
        }

        return NULL;

    case NGX_API_LED_JSON_RAW:

        if (ngx_api_led_json_parse(p, len, &json, err, sizeof(err))
            != NGX_OK)
        {
            return NULL;
        }

        return json;

    default: /* NGX_API_LED_JSON_STRING */
        return json_stringn((char *) p, len);
    }
}


/* the JSON number grammar, exactly; integers when they fit */

static json_t *
ngx_api_led_json_number(u_char *p, size_t len)
{
    u_char      *s, *end, buf[64];
    double       d;
    ngx_uint_t   real;
    long long    n;

    s = p;
    end = p + len;
    real = 0;

    if (s < end && *s == '-') {
        s++;
    }

    if (s == end) {
        return NULL;
    }

    if (*s == '0') {
        s++;

    } else if (*s >= '1' && *s <= '9') {
        while (s < end && *s >= '0' && *s <= '9') {
            s++;
        }

    } else {
        return NULL;
    }

    if (s < end && *s == '.') {
        real = 1;
        s++;

        if (s == end || *s < '0' || *s > '9') {
            return NULL;
        }

        while (s < end && *s >= '0' && *s <= '9') {
            s++;
        }
    }

    if (s < end && (*s == 'e' || *s == 'E')) {
        real = 1;
        s++;

        if (s < end && (*s == '+' || *s == '-')) {
            s++;
        }

        if (s == end || *s < '0' || *s > '9') {
            return NULL;
        }

        while (s < end && *s >= '0' && *s <= '9') {
            s++;
        }
    }

    if (s != end || len >= sizeof(buf)) {
        return NULL;
    }

    ngx_memcpy(buf, p, len);
    buf[len] = '\0';

    if (!real) {
        errno = 0;
        n = strtoll((char *) buf, NULL, 10);

        if (errno == 0) {
            return json_integer(n);
        }
    }

    errno = 0;
    d = strtod((char *) buf, NULL);

    if (errno == ERANGE && (d > 1.0 || d < -1.0)) {
        return NULL;
    }

    return json_real(d);
}


/* operations */

static ngx_str_t  ngx_api_led_json_op_names[] = {
    ngx_null_string,
    ngx_string("set"),
    ngx_string("remove"),
    ngx_string("rename"),
    ngx_string("keep"),
    ngx_string("wrap"),
    ngx_null_string
};


/*
 * Compiles "set PATH VALUE", "remove PATH", "rename PATH NEW",
 * "keep PATH...", "wrap PATH" from directive arguments (args[0] is the
 * operation).  Errors are logged with the file and line.
 */

char *
ngx_api_led_json_op_compile(ngx_conf_t *cf, ngx_str_t *args,
    ngx_uint_t nargs, ngx_api_led_json_op_t *op)
{
    char                     *err;
    ngx_uint_t                i, k;
    ngx_api_led_json_path_t   path;

    ngx_memzero(op, sizeof(ngx_api_led_json_op_t));

    for (i = 1; ngx_api_led_json_op_names[i].len; i++) {
        if (args[0].len == ngx_api_led_json_op_names[i].len
            && ngx_strncmp(args[0].data, ngx_api_led_json_op_names[i].data,
                           args[0].len) == 0)
        {
            op->op = i;
            break;
        }
    }

    if (op->op == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown JSON operation \"%V\", must be \"set\", "
                           "\"remove\", \"rename\", \"keep\" or \"wrap\"",
                           &args[0]);
        return NGX_CONF_ERROR;
    }

    if (nargs < 2
        || (op->op == NGX_API_LED_JSON_OP_SET && nargs != 3)
        || (op->op == NGX_API_LED_JSON_OP_RENAME && nargs != 3)
        || (op->op == NGX_API_LED_JSON_OP_REMOVE && nargs != 2)
        || (op->op == NGX_API_LED_JSON_OP_WRAP && nargs != 2))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid number of arguments of JSON operation "
                           "\"%V\"", &args[0]);
        return NGX_CONF_ERROR;
    }

    if (op->op == NGX_API_LED_JSON_OP_KEEP) {
        op->keep = ngx_pcalloc(cf->pool, sizeof(ngx_api_led_json_keep_t));
        if (op->keep == NULL) {
            return NGX_CONF_ERROR;
        }

        op->keep->index = -1;

        if (ngx_array_init(&op->keep->children, cf->pool, 4,
                           sizeof(ngx_api_led_json_keep_t *))
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

        for (i = 1; i < nargs; i++) {
            err = ngx_api_led_json_path_parse(cf->pool, &args[i], &path);
            if (err) {
                goto invalid_path;
            }

            if (path.ntokens == 0) {
                err = "cannot be empty in \"keep\"";
                goto invalid_path;
            }

            for (k = 0; k < path.ntokens; k++) {
                if (path.tokens[k].append) {
                    err = "cannot hold \"-\" in \"keep\"";
                    goto invalid_path;
                }
            }

            if (ngx_api_led_json_keep_add(cf, op->keep, &path)
                != NGX_CONF_OK)
            {
                return NGX_CONF_ERROR;
            }
        }

        return ngx_api_led_json_keep_fix(cf, op->keep);
    }

    i = 1;

    err = ngx_api_led_json_path_parse(cf->pool, &args[1], &op->path);
    if (err) {
        goto invalid_path;
    }

    if (op->path.ntokens == 0 && op->op != NGX_API_LED_JSON_OP_SET) {
        err = "cannot be empty here";
        goto invalid_path;
    }

    if ((op->op == NGX_API_LED_JSON_OP_REMOVE
         || op->op == NGX_API_LED_JSON_OP_RENAME)
        && op->path.tokens[op->path.ntokens - 1].append)
    {
        err = "cannot end with \"-\" here";
        goto invalid_path;
    }

    switch (op->op) {

    case NGX_API_LED_JSON_OP_SET:
        return ngx_api_led_json_value_compile(cf, &args[2], &op->value);

    case NGX_API_LED_JSON_OP_WRAP:

        if (op->path.wildcard) {
            err = "cannot hold \"*\" in \"wrap\"";
            goto invalid_path;
        }

        return NGX_CONF_OK;

    case NGX_API_LED_JSON_OP_RENAME:

        if (args[2].len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "empty new name in \"rename\"");
            return NGX_CONF_ERROR;
        }

        if (args[2].data[0] != '/') {
            /* a new member name in the same object */
            op->name = args[2];
            return NGX_CONF_OK;
        }

        if (op->path.wildcard) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"rename\" of a path with \"*\" takes a "
                               "member name, not a JSON Pointer");
            return NGX_CONF_ERROR;
        }

        i = 2;

        err = ngx_api_led_json_path_parse(cf->pool, &args[2], &op->to);
        if (err) {
            goto invalid_path;
        }

        if (op->to.wildcard) {
            err = "cannot hold \"*\" in a \"rename\" target";
            goto invalid_path;
        }

        if (op->to.text.len > op->path.text.len
            && ngx_strncmp(op->to.text.data, op->path.text.data,
                           op->path.text.len) == 0
            && op->to.text.data[op->path.text.len] == '/')
        {
            err = "cannot be inside the renamed path";
            goto invalid_path;
        }

        return NGX_CONF_OK;

    default: /* NGX_API_LED_JSON_OP_REMOVE */
        return NGX_CONF_OK;
    }

invalid_path:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid JSON Pointer \"%V\": %s", &args[i], err);

    return NGX_CONF_ERROR;
}


/*
 * Runs the operations in order on *doc (which an operation may replace).
 * A path that does not fit the document skips its operation.  NGX_ERROR
 * only when out of memory.
 */

ngx_int_t
ngx_api_led_json_op_apply(ngx_http_request_t *r, ngx_api_led_json_op_t *op,
    json_t **doc)
{
    json_t                    *value;
    ngx_int_t                  rc;
    ngx_api_led_json_arena_t  *arena;

    switch (op->op) {

    case NGX_API_LED_JSON_OP_SET:

        if (op->value.cv && ngx_api_led_json_arena_current) {
            /* variables are evaluated outside of the arena window */
            arena = ngx_api_led_json_arena_current;
            ngx_api_led_json_arena_leave(NULL);
            value = ngx_api_led_json_value_get(r, &op->value);
            ngx_api_led_json_arena_enter(arena);

        } else {
            value = ngx_api_led_json_value_get(r, &op->value);
        }

        if (value == NULL) {
            return NGX_ERROR;
        }

        rc = ngx_api_led_json_set(doc, &op->path, value);
        break;

    case NGX_API_LED_JSON_OP_REMOVE:
        rc = ngx_api_led_json_remove(*doc, &op->path);
        break;

    case NGX_API_LED_JSON_OP_RENAME:
        if (op->name.len) {
            rc = ngx_api_led_json_rename(*doc, &op->path, &op->name);

        } else {
            rc = ngx_api_led_json_move(doc, &op->path, &op->to);
        }

        break;

    case NGX_API_LED_JSON_OP_KEEP:
        rc = ngx_api_led_json_keep_prune(*doc, op->keep);
        break;

    default: /* NGX_API_LED_JSON_OP_WRAP */
        rc = ngx_api_led_json_wrap(doc, &op->path);
        break;
    }

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "api_led json: \"%V %V\" does not fit the document, "
                       "skipped", &ngx_api_led_json_op_names[op->op],
                       &op->path.text);
    }

    return NGX_OK;
}


ngx_int_t
ngx_api_led_json_ops_apply(ngx_http_request_t *r, ngx_array_t *ops,
    json_t **doc)
{
    ngx_uint_t              i;
    ngx_api_led_json_op_t  *op;

    op = ops->elts;

    for (i = 0; i < ops->nelts; i++) {
        if (ngx_api_led_json_op_apply(r, &op[i], doc) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* documents */

ngx_int_t
ngx_api_led_json_depth_ok(json_t *json, ngx_uint_t max)
{
    void    *iter;
    size_t   i, size;

    if (json_is_object(json)) {
        if (max == 0) {
            return 0;
        }

        for (iter = json_object_iter(json);
             iter;
             iter = json_object_iter_next(json, iter))
        {
            if (!ngx_api_led_json_depth_ok(json_object_iter_value(iter),
                                           max - 1))
            {
                return 0;
            }
        }

    } else if (json_is_array(json)) {
        if (max == 0) {
            return 0;
        }

        size = json_array_size(json);

        for (i = 0; i < size; i++) {
            if (!ngx_api_led_json_depth_ok(json_array_get(json, i), max - 1)) {
                return 0;
            }
        }
    }

    return 1;
}


/*
 * The parser.  jansson's own json_loadb() reads through a character stream
 * abstraction and is several times slower than the network path it sits
 * in; this one scans the buffer directly and builds the same jansson
 * values (strings are checked for UTF-8 here, so the unchecked jansson
 * constructors are used).  Depth is bounded while descending.
 */

typedef struct {
    u_char                      *start;
    u_char                      *pos;
    u_char                      *end;
    u_char                      *scratch;     /* unescaped strings */
    size_t                       scratch_size;
    const char                  *error;
    ngx_uint_t                   too_deep;
} ngx_api_led_json_parser_t;


static json_t *ngx_api_led_json_parse_value(ngx_api_led_json_parser_t *jp,
    ngx_uint_t depth);
static ngx_int_t ngx_api_led_json_parse_string(ngx_api_led_json_parser_t *jp,
    u_char **s, size_t *len);
static json_t *ngx_api_led_json_parse_number(ngx_api_led_json_parser_t *jp);
static u_char *ngx_api_led_json_utf8(u_char *p, u_char *end);


#define ngx_api_led_json_skip_ws(jp)                                          \
    while (jp->pos < jp->end                                                  \
           && (*jp->pos == ' ' || *jp->pos == '\n' || *jp->pos == '\r'        \
               || *jp->pos == '\t'))                                          \
    {                                                                         \
        jp->pos++;                                                            \
    }


/*
 * Parses a document of any type.  NGX_DECLINED: not JSON; NGX_ABORT:
 * nested deeper than NGX_API_LED_JSON_MAX_DEPTH.  "err" (at least 160
 * bytes) receives the reason.
 */

ngx_int_t
ngx_api_led_json_parse(u_char *data, size_t len, json_t **doc, u_char *err,
    size_t errlen)
{
    return ngx_api_led_json_parse_pool(NULL, data, len, doc, err, errlen);
}


ngx_int_t
ngx_api_led_json_parse_pool(ngx_pool_t *pool, u_char *data, size_t len,
    json_t **doc, u_char *err, size_t errlen)
{
    u_char                     buf[512];
    json_t                    *json;
    ngx_api_led_json_parser_t  jp;

    jp.start = data;
    jp.pos = data;
    jp.end = data + len;
    jp.error = NULL;
    jp.too_deep = 0;

    /* an unescaped string is never longer than its text */

    if (len <= sizeof(buf)) {
        jp.scratch = buf;

    } else {
        jp.scratch = pool ? ngx_pnalloc(pool, len)
                          : ngx_alloc(len, ngx_cycle->log);
        if (jp.scratch == NULL) {
            ngx_snprintf(err, errlen, "out of memory%Z");
            return NGX_ERROR;
        }
    }

    jp.scratch_size = len;

    json = ngx_api_led_json_parse_value(&jp, 0);

    if (json) {
        ngx_api_led_json_skip_ws((&jp));

        if (jp.pos != jp.end) {
            json_decref(json);
            json = NULL;
            jp.error = "data after the document";
        }
    }

    if (jp.scratch != buf) {
        if (pool) {
            ngx_pfree(pool, jp.scratch);

        } else {
            ngx_free(jp.scratch);
        }
    }

    if (json) {
        *doc = json;
        return NGX_OK;
    }

    if (jp.too_deep) {
        ngx_snprintf(err, errlen, "JSON nested deeper than %d levels%Z",
                     NGX_API_LED_JSON_MAX_DEPTH);
        return NGX_ABORT;
    }

    if (jp.pos >= jp.end) {
        ngx_snprintf(err, errlen, "%s%Z",
                     jp.error ? jp.error : "unexpected end of the text");

    } else {
        ngx_snprintf(err, errlen, "%s at byte %uz%Z",
                     jp.error ? jp.error : "unexpected character",
                     (size_t) (jp.pos - jp.start));
    }

    return NGX_DECLINED;
}


static json_t *
ngx_api_led_json_parse_value(ngx_api_led_json_parser_t *jp, ngx_uint_t depth)
{
    u_char  *s;
    json_t  *json, *v;
    size_t   len;

    ngx_api_led_json_skip_ws(jp);

    if (jp->pos >= jp->end) {
        return NULL;
    }

    switch (*jp->pos) {

    case '{':
        if (depth >= NGX_API_LED_JSON_MAX_DEPTH) {
            jp->too_deep = 1;
            return NULL;
        }

        jp->pos++;

        json = json_object();
        if (json == NULL) {
            jp->error = "out of memory";
            return NULL;
        }

        ngx_api_led_json_skip_ws(jp);

        if (jp->pos < jp->end && *jp->pos == '}') {
            jp->pos++;
            return json;
        }

        for ( ;; ) {
            ngx_api_led_json_skip_ws(jp);

            if (jp->pos >= jp->end || *jp->pos != '"') {
                jp->error = "a member name expected";
                goto failed;
            }

            if (ngx_api_led_json_parse_string(jp, &s, &len) != NGX_OK) {
                goto failed;
            }

            if (s == jp->scratch) {
                /* the value reuses the scratch buffer: keep the key */
                s = ngx_alloc(len + 1, ngx_cycle->log);
                if (s == NULL) {
                    jp->error = "out of memory";
                    goto failed;
                }

                ngx_memcpy(s, jp->scratch, len);
                s[len] = '\0';

                v = NULL;

            } else {
                v = json;   /* s points into the text */
            }

            ngx_api_led_json_skip_ws(jp);

            if (jp->pos >= jp->end || *jp->pos != ':') {
                jp->error = "\":\" expected";

                if (v == NULL) {
                    ngx_free(s);
                }

                goto failed;
            }

            jp->pos++;

            if (v == NULL) {
                v = ngx_api_led_json_parse_value(jp, depth + 1);

                if (v == NULL
                    || json_object_setn_new_nocheck(json, (char *) s, len, v)
                       != 0)
                {
                    ngx_free(s);
                    goto failed;
                }

                ngx_free(s);

            } else {
                v = ngx_api_led_json_parse_value(jp, depth + 1);

                if (v == NULL
                    || json_object_setn_new_nocheck(json, (char *) s, len, v)
                       != 0)
                {
                    goto failed;
                }
            }

            ngx_api_led_json_skip_ws(jp);

            if (jp->pos < jp->end && *jp->pos == ',') {
                jp->pos++;
                continue;
            }

            if (jp->pos < jp->end && *jp->pos == '}') {
                jp->pos++;
                return json;
            }

            jp->error = "\",\" or \"}\" expected";
            goto failed;
        }

    case '[':
        if (depth >= NGX_API_LED_JSON_MAX_DEPTH) {
            jp->too_deep = 1;
            return NULL;
        }

        jp->pos++;

        json = json_array();
        if (json == NULL) {
            jp->error = "out of memory";
            return NULL;
        }

        ngx_api_led_json_skip_ws(jp);

        if (jp->pos < jp->end && *jp->pos == ']') {
            jp->pos++;
            return json;
        }

        for ( ;; ) {
            v = ngx_api_led_json_parse_value(jp, depth + 1);

            if (v == NULL || json_array_append_new(json, v) != 0) {
                goto failed;
            }

            ngx_api_led_json_skip_ws(jp);

            if (jp->pos < jp->end && *jp->pos == ',') {
                jp->pos++;
                continue;
            }

            if (jp->pos < jp->end && *jp->pos == ']') {
                jp->pos++;
                return json;
            }

            jp->error = "\",\" or \"]\" expected";
            goto failed;
        }

    case '"':
        if (ngx_api_led_json_parse_string(jp, &s, &len) != NGX_OK) {
            return NULL;
        }

        json = json_stringn_nocheck((char *) s, len);
        if (json == NULL) {
            jp->error = "out of memory";
        }

        return json;

    case 't':
        if (jp->end - jp->pos >= 4 && ngx_strncmp(jp->pos, "true", 4) == 0) {
            jp->pos += 4;
            return json_true();
        }

        return NULL;

    case 'f':
        if (jp->end - jp->pos >= 5 && ngx_strncmp(jp->pos, "false", 5) == 0)
        {
            jp->pos += 5;
            return json_false();
        }

        return NULL;

    case 'n':
        if (jp->end - jp->pos >= 4 && ngx_strncmp(jp->pos, "null", 4) == 0) {
            jp->pos += 4;
            return json_null();
        }

        return NULL;

    default:
        return ngx_api_led_json_parse_number(jp);
    }

failed:

    json_decref(json);
    return NULL;
}


/*
 * A string: *s points into the text when it holds no escape, else into
 * the scratch buffer (valid until the next string).
 */

static ngx_int_t
ngx_api_led_json_parse_string(ngx_api_led_json_parser_t *jp, u_char **s,
    size_t *len)
{
    u_char      *p, *start, *d, c;
    ngx_int_t    n;
    ngx_uint_t   cp, lo, i;

    p = ++jp->pos;

    /* the common case: no escape */

    for ( ;; ) {

        while (p < jp->end && ngx_api_led_json_class[*p] == 0) {
            p++;
        }

        if (p >= jp->end) {
            jp->pos = p;
            jp->error = "unterminated string";
            return NGX_ERROR;
        }

        c = *p;

        if (c == '"') {
            *s = jp->pos;
            *len = p - jp->pos;
            jp->pos = p + 1;
            return NGX_OK;
        }

        if (c == '\\') {
            break;
        }

        if (c < 0x20) {
            jp->pos = p;
            jp->error = "control character in a string";
            return NGX_ERROR;
        }

        if (c < 0x80) {
            p++;
            continue;
        }

        p = ngx_api_led_json_utf8(p, jp->end);
        if (p == NULL) {
            jp->error = "invalid UTF-8 in a string";
            return NGX_ERROR;
        }
    }

    /* with escapes: unescape into the scratch buffer */

    start = jp->pos;
    d = ngx_cpymem(jp->scratch, start, p - start);

    while (p < jp->end) {
        c = *p;

        if (c == '"') {
            *s = jp->scratch;
            *len = d - jp->scratch;
            jp->pos = p + 1;
            return NGX_OK;
        }

        if (c < 0x20) {
            jp->pos = p;
            jp->error = "control character in a string";
            return NGX_ERROR;
        }

        if (c >= 0x80) {
            start = p;
            p = ngx_api_led_json_utf8(p, jp->end);
            if (p == NULL) {
                jp->pos = start;
                jp->error = "invalid UTF-8 in a string";
                return NGX_ERROR;
            }

            d = ngx_cpymem(d, start, p - start);
            continue;
        }

        if (c != '\\') {
            *d++ = c;
            p++;
            continue;
        }

        if (jp->end - p < 2) {
            break;
        }

        p++;

        switch (*p++) {
        case '"':  *d++ = '"';  continue;
        case '\\': *d++ = '\\'; continue;
        case '/':  *d++ = '/';  continue;
        case 'b':  *d++ = '\b'; continue;
        case 'f':  *d++ = '\f'; continue;
        case 'n':  *d++ = '\n'; continue;
        case 'r':  *d++ = '\r'; continue;
        case 't':  *d++ = '\t'; continue;
        case 'u':  break;
        default:
            jp->pos = p - 2;
            jp->error = "invalid escape";
            return NGX_ERROR;
        }

        cp = 0;

        for (i = 0; i < 2; i++) {
            if (jp->end - p < 4 || (n = ngx_hextoi(p, 4)) == NGX_ERROR) {
                jp->pos = p;
                jp->error = "invalid \\u escape";
                return NGX_ERROR;
            }

            p += 4;

            if (i == 0) {
                cp = n;

                if (cp < 0xd800 || cp > 0xdbff) {
                    break;
                }

                /* a high surrogate: its low half must follow */

                if (jp->end - p < 2 || p[0] != '\\' || p[1] != 'u') {
                    jp->pos = p;
                    jp->error = "lone surrogate in a \\u escape";
                    return NGX_ERROR;
                }

                p += 2;
                continue;
            }

            lo = n;

            if (lo < 0xdc00 || lo > 0xdfff) {
                jp->pos = p;
                jp->error = "lone surrogate in a \\u escape";
                return NGX_ERROR;
            }

            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }

        if (cp == 0 || (cp >= 0xdc00 && cp <= 0xdfff)) {
            jp->pos = p;
            jp->error = cp ? "lone surrogate in a \\u escape"
                           : "\\u0000 in a string";
            return NGX_ERROR;
        }

        if (cp < 0x80) {
            *d++ = (u_char) cp;

        } else if (cp < 0x800) {
            *d++ = (u_char) (0xc0 | (cp >> 6));
            *d++ = (u_char) (0x80 | (cp & 0x3f));

        } else if (cp < 0x10000) {
            *d++ = (u_char) (0xe0 | (cp >> 12));
            *d++ = (u_char) (0x80 | ((cp >> 6) & 0x3f));
            *d++ = (u_char) (0x80 | (cp & 0x3f));

        } else {
            *d++ = (u_char) (0xf0 | (cp >> 18));
            *d++ = (u_char) (0x80 | ((cp >> 12) & 0x3f));
            *d++ = (u_char) (0x80 | ((cp >> 6) & 0x3f));
            *d++ = (u_char) (0x80 | (cp & 0x3f));
        }
    }

    jp->pos = jp->end;
    jp->error = "unterminated string";

    return NGX_ERROR;
}


/* the end of one valid UTF-8 sequence starting at p (>= 0x80), or NULL */

static u_char *
ngx_api_led_json_utf8(u_char *p, u_char *end)
{
    u_char  c, min, max;
    size_t  n;

    c = *p;

    if (c >= 0xc2 && c <= 0xdf) {
        n = 1;
        min = 0x80;
        max = 0xbf;

    } else if (c >= 0xe0 && c <= 0xef) {
        n = 2;
        min = (c == 0xe0) ? 0xa0 : 0x80;    /* no overlong form */
        max = (c == 0xed) ? 0x9f : 0xbf;    /* no surrogate */

    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 3;
        min = (c == 0xf0) ? 0x90 : 0x80;
        max = (c == 0xf4) ? 0x8f : 0xbf;    /* not above U+10FFFF */

    } else {
        return NULL;
    }

    if ((size_t) (end - p) <= n) {
        return NULL;
    }

    p++;

    if (*p < min || *p > max) {
        return NULL;
    }

    while (--n) {
        p++;

        if (*p < 0x80 || *p > 0xbf) {
            return NULL;
        }
    }

    return p + 1;
}


static json_t *
ngx_api_led_json_parse_number(ngx_api_led_json_parser_t *jp)
{
    u_char      *p, *start, buf[64];
    double       d;
    uint64_t     n;
    ngx_int_t    exp, e, eneg;
    ngx_uint_t   real, neg, overflow, digits;

    static const double  p10[] = {
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
    };

    p = jp->pos;
    start = p;
    real = 0;
    neg = 0;
    overflow = 0;
    digits = 0;
    n = 0;
    exp = 0;

    if (p < jp->end && *p == '-') {
        neg = 1;
        p++;
    }

    if (p >= jp->end) {
        jp->pos = p;
        return NULL;
    }

    if (*p == '0') {
        p++;

    } else if (*p >= '1' && *p <= '9') {
        while (p < jp->end && *p >= '0' && *p <= '9') {
            if (n > (UINT64_MAX - 9) / 10) {
                overflow = 1;
            }

            n = n * 10 + (*p - '0');
            digits++;
            p++;
        }

    } else {
        jp->pos = p;
        return NULL;
    }

    if (p < jp->end && *p == '.') {
        real = 1;
        p++;

        if (p >= jp->end || *p < '0' || *p > '9') {
            jp->pos = p;
            jp->error = "invalid number";
            return NULL;
        }

        while (p < jp->end && *p >= '0' && *p <= '9') {
            if (n > (UINT64_MAX - 9) / 10) {
                overflow = 1;
            }

            n = n * 10 + (*p - '0');
            digits++;
            exp--;
            p++;
        }
    }

    if (p < jp->end && (*p == 'e' || *p == 'E')) {
        real = 1;
        p++;
        eneg = 0;
        e = 0;

        if (p < jp->end && (*p == '+' || *p == '-')) {
            eneg = (*p == '-');
            p++;
        }

        if (p >= jp->end || *p < '0' || *p > '9') {
            jp->pos = p;
            jp->error = "invalid number";
            return NULL;
        }

        while (p < jp->end && *p >= '0' && *p <= '9') {
            if (e < 100000) {
                e = e * 10 + (*p - '0');
            }

            p++;
        }

        exp += eneg ? -e : e;
    }

    jp->pos = p;

    if (!real) {
        if (!overflow
            && (neg ? n <= (uint64_t) INT64_MAX + 1 : n <= INT64_MAX))
        {
            return json_integer(neg ? (json_int_t) (0 - n) : (json_int_t) n);
        }

        /* as jansson does: no silent loss of an integer's digits */
        jp->pos = start;
        jp->error = "integer too big";
        return NULL;
    }

    /*
     * Exact and fast (Clinger): the digits as an integer below 2^53 and a
     * power of ten up to 10^22 are both exact doubles, so one
     * multiplication or division rounds correctly, as strtod() would.
     */

    if (!overflow && digits <= 19 && n <= ((uint64_t) 1 << 53)
        && exp >= -22 && exp <= 22)
    {
        d = (double) n;
        d = (exp < 0) ? d / p10[-exp] : d * p10[exp];

        return json_real(neg ? -d : d);
    }

    if ((size_t) (p - start) >= sizeof(buf)) {
        jp->pos = start;
        jp->error = "number too long";
        return NULL;
    }

    ngx_memcpy(buf, start, p - start);
    buf[p - start] = '\0';

    errno = 0;
    d = strtod((char *) buf, NULL);

    if (errno == ERANGE && (d > 1.0 || d < -1.0)) {
        jp->pos = start;
        jp->error = "number too big";
        return NULL;
    }

    return json_real(d);
}


ngx_int_t
ngx_api_led_json_dump(ngx_pool_t *pool, json_t *doc, size_t hint,
    ngx_str_t *out)
{
    ngx_api_led_json_out_t  o;

    o.pool = pool;
    o.start = ngx_palloc(pool, hint + 64);
    if (o.start == NULL) {
        return NGX_ERROR;
    }

    o.pos = o.start;
    o.end = o.start + hint + 64;

    if (ngx_api_led_json_write(&o, doc) != NGX_OK) {
        return NGX_ERROR;
    }

    out->data = o.start;
    out->len = o.pos - o.start;

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_json_grow(ngx_api_led_json_out_t *out, size_t n)
{
    size_t   size, used;
    u_char  *p;

    used = out->pos - out->start;
    size = (out->end - out->start) * 2;

    if (size < used + n) {
        size = used + n;
    }

    p = ngx_palloc(out->pool, size);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, out->start, used);

    /* a large allocation goes back to the system at once */
    ngx_pfree(out->pool, out->start);

    out->start = p;
    out->pos = p + used;
    out->end = p + size;

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_json_write(ngx_api_led_json_out_t *out, json_t *value)
{
    void        *iter;
    size_t       i, size;
    ngx_uint_t   first;

    switch (json_typeof(value)) {

    case JSON_OBJECT:
        if (ngx_api_led_json_reserve(out, 1) != NGX_OK) {
            return NGX_ERROR;
        }

        *out->pos++ = '{';
        first = 1;

        for (iter = json_object_iter(value);
             iter;
             iter = json_object_iter_next(value, iter))
        {
            if (!first) {
                if (ngx_api_led_json_reserve(out, 1) != NGX_OK) {
                    return NGX_ERROR;
                }

                *out->pos++ = ',';
            }

            first = 0;

            if (ngx_api_led_json_write_string(out, json_object_iter_key(iter),
                                              json_object_iter_key_len(iter))
                != NGX_OK
                || ngx_api_led_json_reserve(out, 1) != NGX_OK)
            {
                return NGX_ERROR;
            }

            *out->pos++ = ':';

            if (ngx_api_led_json_write(out, json_object_iter_value(iter))
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        if (ngx_api_led_json_reserve(out, 1) != NGX_OK) {
            return NGX_ERROR;
        }

        *out->pos++ = '}';
        return NGX_OK;

    case JSON_ARRAY:
        if (ngx_api_led_json_reserve(out, 1) != NGX_OK) {
            return NGX_ERROR;
        }

        *out->pos++ = '[';
        size = json_array_size(value);

        for (i = 0; i < size; i++) {
            if (i) {
                if (ngx_api_led_json_reserve(out, 1) != NGX_OK) {
                    return NGX_ERROR;
                }

                *out->pos++ = ',';
            }

            if (ngx_api_led_json_write(out, json_array_get(value, i))
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        if (ngx_api_led_json_reserve(out, 1) != NGX_OK) {
            return NGX_ERROR;
        }

        *out->pos++ = ']';
        return NGX_OK;

    case JSON_STRING:
        return ngx_api_led_json_write_string(out, json_string_value(value),
                                             json_string_length(value));

    case JSON_INTEGER:
        if (ngx_api_led_json_reserve(out, NGX_INT64_LEN) != NGX_OK) {
            return NGX_ERROR;
        }

        out->pos = ngx_sprintf(out->pos, "%L",
                               (int64_t) json_integer_value(value));
        return NGX_OK;

    case JSON_REAL:
        if (ngx_api_led_json_reserve(out, 32) != NGX_OK) {
            return NGX_ERROR;
        }

        out->pos = ngx_api_led_json_real(out->pos, json_real_value(value));
        return NGX_OK;

    case JSON_TRUE:
        if (ngx_api_led_json_reserve(out, 4) != NGX_OK) {
            return NGX_ERROR;
        }

        out->pos = ngx_cpymem(out->pos, "true", 4);
        return NGX_OK;

    case JSON_FALSE:
        if (ngx_api_led_json_reserve(out, 5) != NGX_OK) {
            return NGX_ERROR;
        }

        out->pos = ngx_cpymem(out->pos, "false", 5);
        return NGX_OK;

    default: /* JSON_NULL */
        if (ngx_api_led_json_reserve(out, 4) != NGX_OK) {
            return NGX_ERROR;
        }

        out->pos = ngx_cpymem(out->pos, "null", 4);
        return NGX_OK;
    }
}


/*
 * The shortest text that reads back as the same double.  Most numbers in
 * documents are decimals with a few digits: m / 10^k with m < 2^53 is
 * then exact in IEEE arithmetic (both operands exact, one rounding), so
 * the test below proves the round trip without printf.  Others go through
 * "%.15g" .. "%.17g".
 */

static u_char *
ngx_api_led_json_real(u_char *p, double d)
{
    int          prec, n;
    char         num[32];
    double       m, a;
    u_char      *q, digits[24];
    uint64_t     u;
    ngx_uint_t   k, i, nd;

    static const double  p10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6 };

    a = (d < 0) ? -d : d;

    if (a < 1e15 && a >= 1e-6) {
        for (k = 0; k <= 6; k++) {
            m = a * p10[k];

            if (m >= 9007199254740992.0) {
                break;
            }

            u = (uint64_t) m;

            if ((double) u != m || (double) u / p10[k] != a) {
                continue;
            }

            /* 19.99 may only prove itself as 19990 / 10^3 */

            while (k > 0 && u % 10 == 0) {
                u /= 10;
                k--;
            }

            /* u with a decimal point k digits from the right */

            nd = 0;
            do {
                digits[nd++] = (u_char) ('0' + u % 10);
                u /= 10;
            } while (u);

            while (nd <= k) {
                digits[nd++] = '0';
            }

            if (d < 0) {
                *p++ = '-';
            }

            for (i = nd; i > k; i--) {
                *p++ = digits[i - 1];
            }

            *p++ = '.';

            if (k == 0) {
                *p++ = '0';
                return p;
            }

            for (i = k; i > 0; i--) {
                *p++ = digits[i - 1];
            }

            return p;
        }
    }

    n = 0;

    for (prec = 15; prec <= 17; prec++) {
        n = snprintf(num, sizeof(num) - 2, "%.*g", prec, d);
        if (strtod(num, NULL) == d) {
            break;
        }
    }

    if (n <= 0 || n >= (int) sizeof(num) - 2) {
        return ngx_cpymem(p, "0.0", 3);
    }

    if (strpbrk(num, ".eEn") == NULL) {
        num[n++] = '.';
        num[n++] = '0';
    }

    q = ngx_cpymem(p, num, n);

    return q;
}


static ngx_int_t
ngx_api_led_json_write_string(ngx_api_led_json_out_t *out, const char *s,
    size_t len)
{
    u_char        *p, *end, *run, c;
    static u_char  hex[] = "0123456789abcdef";

    /* the string and its quotes; more for each escape, when one comes */

    if (ngx_api_led_json_reserve(out, len + 2) != NGX_OK) {
        return NGX_ERROR;
    }

    p = (u_char *) s;
    end = p + len;

    *out->pos++ = '"';

    while (p < end) {

        /* a run of bytes that need no escape, copied at once */

        run = p;

        while (p < end && ngx_api_led_json_class[*p] != 1) {
            p++;
        }

        if (p != run) {
            out->pos = ngx_cpymem(out->pos, run, p - run);
        }

        if (p == end) {
            break;
        }

        /* 6 bytes at most ("\u001f"), the rest, the closing quote */

        if (ngx_api_led_json_reserve(out, (end - p) + 6 + 1) != NGX_OK) {
            return NGX_ERROR;
        }

        c = *p++;

        *out->pos++ = '\\';

        switch (c) {
        case '"':
            *out->pos++ = '"';
            break;
        case '\\':
            *out->pos++ = '\\';
            break;
        case '\n':
            *out->pos++ = 'n';
            break;
        case '\r':
            *out->pos++ = 'r';
            break;
        case '\t':
            *out->pos++ = 't';
            break;
        case '\b':
            *out->pos++ = 'b';
            break;
        case '\f':
            *out->pos++ = 'f';
            break;
        default:
            *out->pos++ = 'u';
            *out->pos++ = '0';
            *out->pos++ = '0';
            *out->pos++ = hex[c >> 4];
            *out->pos++ = hex[c & 0xf];
        }
    }

    *out->pos++ = '"';

    return NGX_OK;
}


/* application/json and application/(anything)+json, parameters ignored */

ngx_int_t
ngx_api_led_json_media_type(ngx_str_t *type)
{
    u_char  *p, *end, *semi;
    size_t   len;

    p = type->data;
    end = p + type->len;

    semi = ngx_strlchr(p, end, ';');
    if (semi) {
        end = semi;
    }

    while (end > p && (end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }

    len = end - p;

    if (len < sizeof("application/json") - 1
        || ngx_strncasecmp(p, (u_char *) "application/",
                           sizeof("application/") - 1)
           != 0)
    {
        return 0;
    }

    p += sizeof("application/") - 1;
    len = end - p;

    if (len == 4 && ngx_strncasecmp(p, (u_char *) "json", 4) == 0) {
        return 1;
    }

    return len > 5 && ngx_strncasecmp(end - 5, (u_char *) "+json", 5) == 0;
}
