
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * JSON documents as jansson values, shared by the concerns that reshape
 * JSON (transformation, orchestration): JSON Pointers (RFC 6901, with "*"
 * for every element of an array), the editing operations (set, remove,
 * rename, move, keep, wrap), typed values from nginx variables.  The text
 * side (parser, serializer) is ngx_api_led_json_text.c, the arena
 * ngx_api_led_json_arena.c, forms ngx_api_led_json_form.c.
 */


#include "ngx_api_led_json.h"


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
static ngx_int_t ngx_api_led_json_place(json_t **root,
    ngx_api_led_json_path_t *path, json_t *value, ngx_uint_t insert,
    size_t *left);
static ngx_int_t ngx_api_led_json_remove_leaf(json_t *parent,
    ngx_api_led_json_token_t *t, void *data);
static ngx_int_t ngx_api_led_json_rename_leaf(json_t *parent,
    ngx_api_led_json_token_t *t, void *data);
static ngx_int_t ngx_api_led_json_put_back(json_t *root,
    ngx_api_led_json_path_t *path, json_t *v);
static json_t *ngx_api_led_json_copy(json_t *value);
static void *ngx_api_led_json_copy_alloc(size_t size);
static void ngx_api_led_json_copy_free(void *p);

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

    /* a member name that is not UTF-8 cannot be in a document */
    if (!ngx_api_led_json_string_ok(text->data, text->len)) {
        return "is not UTF-8";
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


/*
 * A value for one more place in a document: containers are not shared.
 * Not json_deep_copy(): it copies member names as C strings, and a name
 * may hold a NUL ("a\u0000b").
 */

static json_t *
ngx_api_led_json_copy(json_t *value)
{
    void    *iter;
    size_t   i, size;
    json_t  *copy, *v;

    if (json_is_object(value)) {
        copy = json_object();
        if (copy == NULL) {
            return NULL;
        }

        for (iter = json_object_iter(value);
             iter;
             iter = json_object_iter_next(value, iter))
        {
            v = ngx_api_led_json_copy(json_object_iter_value(iter));

            if (v == NULL
                || json_object_setn_new_nocheck(copy,
                                          json_object_iter_key(iter),
                                          json_object_iter_key_len(iter), v)
                   != 0)
            {
                json_decref(copy);
                return NULL;
            }
        }

        return copy;
    }

    if (json_is_array(value)) {
        copy = json_array();
        if (copy == NULL) {
            return NULL;
        }

        size = json_array_size(value);

        for (i = 0; i < size; i++) {
            v = ngx_api_led_json_copy(json_array_get(value, i));

            if (v == NULL || json_array_append_new(copy, v) != 0) {
                json_decref(copy);
                return NULL;
            }
        }

        return copy;
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
    ngx_uint_t                   insert;      /* at an index: RFC 6902 add */
} ngx_api_led_json_set_t;


/*
 * While a set walks the document, jansson's allocator (the arena's, as a
 * rule) is wrapped by one that counts each allocation as the parse's
 * budget does (ngx_api_led_json_text.c): the copies of the value and the
 * objects created along the path ("left", NULL: no bound, is the memory
 * they may still take in this document).  Without it a value of many
 * containers, or a deep path, set in every element of a long array took
 * a hundred times the body and more before the serializer's bound was
 * reached.  The window is synchronous.
 */

static json_malloc_t  ngx_api_led_json_copy_outer_malloc;
static json_free_t    ngx_api_led_json_copy_outer_free;
static size_t        *ngx_api_led_json_copy_left;
static ngx_uint_t     ngx_api_led_json_copy_over;


static json_t *
ngx_api_led_json_set_value(ngx_api_led_json_set_t *set)
{
    if (set->placed++ == 0) {
        return json_incref(set->value);
    }

    return ngx_api_led_json_copy(set->value);
}


static void *
ngx_api_led_json_copy_alloc(size_t size)
{
    size_t  cost;

    cost = ngx_align(size + sizeof(size_t), 16);

    if (cost > *ngx_api_led_json_copy_left) {
        ngx_api_led_json_copy_over = 1;
        return NULL;
    }

    *ngx_api_led_json_copy_left -= cost;

    return ngx_api_led_json_copy_outer_malloc(size);
}


static void
ngx_api_led_json_copy_free(void *p)
{
    ngx_api_led_json_copy_outer_free(p);
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
        if (v == NULL
            || (set->insert ? json_array_insert_new(parent, t->index, v)
                            : json_array_set_new(parent, t->index, v))
               != 0)
        {
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
    return ngx_api_led_json_place(root, path, value, 0, NULL);
}


/*
 * As ngx_api_led_json_set(); with "insert", a value for an array index
 * goes in before the element there (RFC 6902 "add", as a move does)
 * instead of replacing it.  NGX_API_LED_JSON_TOO_BIG when the copies and
 * the objects created along the path would take more than "left" (NULL:
 * no bound).
 */

static ngx_int_t
ngx_api_led_json_place(json_t **root, ngx_api_led_json_path_t *path,
    json_t *value, ngx_uint_t insert, size_t *left)
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
    set.insert = insert;

    if (left == NULL) {
        rc = ngx_api_led_json_walk(*root, path->tokens, path->ntokens - 1, 1,
                                   ngx_api_led_json_set_leaf, &set);
        json_decref(value);
        return rc;
    }

    json_get_alloc_funcs(&ngx_api_led_json_copy_outer_malloc,
                         &ngx_api_led_json_copy_outer_free);

    ngx_api_led_json_copy_left = left;
    ngx_api_led_json_copy_over = 0;

    json_set_alloc_funcs(ngx_api_led_json_copy_alloc,
                         ngx_api_led_json_copy_free);

    rc = ngx_api_led_json_walk(*root, path->tokens, path->ntokens - 1, 1,
                               ngx_api_led_json_set_leaf, &set);

    json_set_alloc_funcs(ngx_api_led_json_copy_outer_malloc,
                         ngx_api_led_json_copy_outer_free);

    json_decref(value);

    return ngx_api_led_json_copy_over ? NGX_API_LED_JSON_TOO_BIG : rc;
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


/*
 * Moves the value at "from" to "to" (RFC 6902 "move": removed, then
 * added, so into an array at an index it is inserted); no wildcards.
 */

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

    rc = ngx_api_led_json_place(root, to, json_incref(v), 1, NULL);

    if (rc == NGX_DECLINED) {
        /* the new place does not fit: the value goes back where it was */
        rc = ngx_api_led_json_put_back(*root, from, json_incref(v));
        if (rc == NGX_OK) {
            rc = NGX_DECLINED;
        }
    }

    json_decref(v);

    return rc;
}


/*
 * Undoes a removal: an array element is inserted at its index again (a
 * set would replace the element that moved into its place), a member is
 * set again.  Consumes "v".
 */

static ngx_int_t
ngx_api_led_json_put_back(json_t *root, ngx_api_led_json_path_t *path,
    json_t *v)
{
    json_t                    *parent;
    ngx_api_led_json_path_t    up;
    ngx_api_led_json_token_t  *t;

    up = *path;
    up.ntokens--;

    parent = ngx_api_led_json_get(root, &up);
    t = &path->tokens[up.ntokens];

    if (json_is_array(parent) && t->index >= 0) {
        return json_array_insert_new(parent, t->index, v) == 0
               ? NGX_OK : NGX_ERROR;
    }

    if (json_is_object(parent)) {
        return json_object_setn_new(parent, (char *) t->name.data,
                                    t->name.len, v) == 0
               ? NGX_OK : NGX_ERROR;
    }

    json_decref(v);

    return NGX_ERROR;
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
                      "null used", ngx_api_led_log_value(r->pool, &s),
                      &ngx_api_led_json_type_name[v->type]);

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

        if (ngx_api_led_json_parse(p, len, 0, &json, err, sizeof(err))
            != NGX_OK)
        {
            return NULL;
        }

        return json;

    default: /* NGX_API_LED_JSON_STRING */
        return json_stringn((char *) p, len);
    }
}


/*
 * A number as the parser reads one (ngx_api_led_json_read_number()): the
 * JSON grammar, exactly, and nothing around it; a 64-bit integer, a real,
 * or, when neither writes back as the same number, its text, kept.  At
 * most 64 bytes (a variable's text, read in a buffer on the stack).
 */

static json_t *
ngx_api_led_json_number(u_char *p, size_t len)
{
    u_char                      scratch[64 + 2];
    ngx_api_led_json_number_t   num;

    if (len == 0 || len > 64
        || ngx_api_led_json_read_number(p, p + len, scratch, &num) != NGX_OK
        || num.end != p + len)
    {
        return NULL;
    }

    return ngx_api_led_json_number_value(&num, p, scratch);
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

            if (!ngx_api_led_json_string_ok(args[2].data, args[2].len)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "new name \"%V\" in \"rename\" is not "
                                   "UTF-8", &args[2]);
                return NGX_CONF_ERROR;
            }

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
 * only when out of memory; NGX_API_LED_JSON_TOO_BIG when a set (the copies
 * of its value under "*", the objects created along its path) would take
 * more than *left (NULL: no bound), which the caller gives for the whole
 * document.
 */

ngx_int_t
ngx_api_led_json_op_apply(ngx_http_request_t *r, ngx_api_led_json_op_t *op,
    json_t **doc, size_t *left)
{
    json_t                    *value;
    ngx_int_t                  rc;
    ngx_api_led_json_arena_t  *arena;

    switch (op->op) {

    case NGX_API_LED_JSON_OP_SET:

        if (op->value.cv) {
            /* variables are evaluated outside of any arena window */
            arena = ngx_api_led_json_arena_enter(NULL);
            value = ngx_api_led_json_value_get(r, &op->value);
            ngx_api_led_json_arena_leave(arena);

        } else {
            value = ngx_api_led_json_value_get(r, &op->value);
        }

        if (value == NULL) {
            return NGX_ERROR;
        }

        rc = ngx_api_led_json_place(doc, &op->path, value, 0, left);
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

    if (rc == NGX_ERROR || rc == NGX_API_LED_JSON_TOO_BIG) {
        return rc;
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
    json_t **doc, size_t *left)
{
    ngx_int_t               rc;
    ngx_uint_t              i;
    ngx_api_led_json_op_t  *op;

    op = ops->elts;

    for (i = 0; i < ops->nelts; i++) {
        rc = ngx_api_led_json_op_apply(r, &op[i], doc, left);
        if (rc != NGX_OK) {
            return rc;
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
