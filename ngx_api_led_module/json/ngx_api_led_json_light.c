
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * The operations on light documents (ngx_api_led_json.h): set, remove,
 * rename, move and wrap as ngx_api_led_json.c does them on jansson values,
 * step for step, so that both give the same text.  Where jansson appends
 * a member (a new name), the light document does; where it replaces a
 * value (a name there already), the member stays in its place.  The
 * parser is in ngx_api_led_json_text.c, the serializer in
 * ngx_api_led_json_write.c.
 */


#include "ngx_api_led_json.h"


typedef ngx_int_t (*ngx_api_led_json_light_leaf_pt)(ngx_pool_t *pool,
    ngx_api_led_json_light_t *parent, ngx_api_led_json_token_t *t,
    void *data);

/*
 * A value for one or more places: the first takes it, the others copies,
 * counted against "left" (NULL: no bound) as ngx_api_led_json.c counts
 * its copies; "cost" is the memory of one.
 */
typedef struct {
    ngx_api_led_json_light_t    *value;
    ngx_uint_t                   placed;
    ngx_uint_t                   insert;      /* at an index: RFC 6902 add */
    ngx_uint_t                   too_big;
    size_t                      *left;
    size_t                       cost;
} ngx_api_led_json_light_set_t;


static ngx_int_t ngx_api_led_json_light_walk(ngx_pool_t *pool,
    ngx_api_led_json_light_t *node, ngx_api_led_json_token_t *t,
    ngx_uint_t n, ngx_uint_t create, size_t *left,
    ngx_api_led_json_light_leaf_pt handler, void *data);
static ngx_api_led_json_light_t *ngx_api_led_json_light_child(
    ngx_api_led_json_light_t *node, ngx_api_led_json_token_t *t);
static ngx_api_led_json_light_t *ngx_api_led_json_light_find(
    ngx_api_led_json_light_t *object, ngx_str_t *name);
static ngx_api_led_json_light_t *ngx_api_led_json_light_get(
    ngx_api_led_json_light_t *root, ngx_api_led_json_path_t *path);
static ngx_api_led_json_light_t *ngx_api_led_json_light_unlink(
    ngx_api_led_json_light_t *parent, ngx_api_led_json_light_t *node);
static void ngx_api_led_json_light_cut(ngx_api_led_json_light_t *parent,
    ngx_api_led_json_light_t *prev, ngx_api_led_json_light_t *node);
static void ngx_api_led_json_light_append(ngx_api_led_json_light_t *parent,
    ngx_api_led_json_light_t *node);
static void ngx_api_led_json_light_assign(ngx_api_led_json_light_t *dst,
    ngx_api_led_json_light_t *src);
static void ngx_api_led_json_light_put(ngx_api_led_json_light_t *object,
    ngx_str_t *name, ngx_api_led_json_light_t *v);
static ngx_int_t ngx_api_led_json_light_set(ngx_pool_t *pool,
    ngx_api_led_json_light_t **root, ngx_api_led_json_path_t *path,
    ngx_api_led_json_light_t *value, size_t *left);
static ngx_int_t ngx_api_led_json_light_place(ngx_pool_t *pool,
    ngx_api_led_json_light_t **root, ngx_api_led_json_path_t *path,
    ngx_api_led_json_light_t *value, ngx_uint_t insert, size_t *left);
static ngx_int_t ngx_api_led_json_light_insert(
    ngx_api_led_json_light_t *array, ngx_uint_t index,
    ngx_api_led_json_light_t *v);
static ngx_int_t ngx_api_led_json_light_set_leaf(ngx_pool_t *pool,
    ngx_api_led_json_light_t *parent, ngx_api_led_json_token_t *t,
    void *data);
static ngx_int_t ngx_api_led_json_light_remove(ngx_pool_t *pool,
    ngx_api_led_json_light_t *root, ngx_api_led_json_path_t *path);
static ngx_int_t ngx_api_led_json_light_remove_leaf(ngx_pool_t *pool,
    ngx_api_led_json_light_t *parent, ngx_api_led_json_token_t *t,
    void *data);
static ngx_uint_t ngx_api_led_json_light_remove_member(
    ngx_api_led_json_light_t *object, ngx_str_t *name);
static ngx_int_t ngx_api_led_json_light_rename_leaf(ngx_pool_t *pool,
    ngx_api_led_json_light_t *parent, ngx_api_led_json_token_t *t,
    void *data);
static ngx_int_t ngx_api_led_json_light_move(ngx_pool_t *pool,
    ngx_api_led_json_light_t **root, ngx_api_led_json_path_t *from,
    ngx_api_led_json_path_t *to);
static ngx_int_t ngx_api_led_json_light_wrap(ngx_pool_t *pool,
    ngx_api_led_json_light_t **root, ngx_api_led_json_path_t *path);
static ngx_api_led_json_light_t *ngx_api_led_json_light_new(ngx_pool_t *pool,
    ngx_uint_t type);
static ngx_api_led_json_light_t *ngx_api_led_json_light_copy(
    ngx_pool_t *pool, ngx_api_led_json_light_t *node);
static size_t ngx_api_led_json_light_nodes(ngx_api_led_json_light_t *node);
static ngx_api_led_json_light_t *ngx_api_led_json_light_from(
    ngx_pool_t *pool, json_t *value);


/* "keep" prunes by a tree of paths, which the light path does not do */

ngx_uint_t
ngx_api_led_json_light_takes(ngx_api_led_json_op_t *op)
{
    return op->op != NGX_API_LED_JSON_OP_KEEP;
}


ngx_uint_t
ngx_api_led_json_light_ops(ngx_array_t *ops)
{
    ngx_uint_t              i;
    ngx_api_led_json_op_t  *op;

    if (ops == NULL) {
        return 1;
    }

    op = ops->elts;

    for (i = 0; i < ops->nelts; i++) {
        if (!ngx_api_led_json_light_takes(&op[i])) {
            return 0;
        }
    }

    return 1;
}


char *
ngx_api_led_json_light_op_compile(ngx_conf_t *cf, ngx_api_led_json_op_t *op)
{
    if (op->op == NGX_API_LED_JSON_OP_SET && op->value.cv == NULL) {
        op->light = ngx_api_led_json_light_from(cf->pool, op->value.json);
        if (op->light == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_api_led_json_light_ops_apply(ngx_http_request_t *r, ngx_array_t *ops,
    ngx_api_led_json_light_t **doc, size_t *left)
{
    ngx_int_t               rc;
    ngx_uint_t              i;
    ngx_api_led_json_op_t  *op;

    op = ops->elts;

    for (i = 0; i < ops->nelts; i++) {
        rc = ngx_api_led_json_light_op_apply(r, &op[i], doc, left);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    return NGX_OK;
}


/*
 * as ngx_api_led_json_op_apply(): NGX_OK, NGX_ERROR (no memory), or
 * NGX_API_LED_JSON_TOO_BIG (the copies past "left")
 */

ngx_int_t
ngx_api_led_json_light_op_apply(ngx_http_request_t *r,
    ngx_api_led_json_op_t *op, ngx_api_led_json_light_t **doc, size_t *left)
{
    json_t                    *value;
    ngx_int_t                  rc;
    ngx_api_led_json_light_t  *v;

    if (op->light) {
        /* a constant: a copy of its own, later operations may change it */

        v = ngx_api_led_json_light_copy(r->pool, op->light);
        if (v == NULL) {
            return NGX_ERROR;
        }

        rc = ngx_api_led_json_light_set(r->pool, doc, &op->path, v, left);

    } else {
        value = NULL;

        if (op->op == NGX_API_LED_JSON_OP_SET) {
            value = ngx_api_led_json_value_get(r, &op->value);
            if (value == NULL) {
                return NGX_ERROR;
            }
        }

        rc = ngx_api_led_json_light_op_value(r->pool, op, value, doc, left);
    }

    if (rc == NGX_DECLINED) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "api_led json: \"%V\" does not fit the document, "
                       "skipped", &op->path.text);
        rc = NGX_OK;
    }

    return rc;
}


/*
 * One operation; a set's value is given (a new reference, released
 * here).  NGX_DECLINED: the path does not fit the document.
 */

ngx_int_t
ngx_api_led_json_light_op_value(ngx_pool_t *pool, ngx_api_led_json_op_t *op,
    json_t *value, ngx_api_led_json_light_t **doc, size_t *left)
{
    ngx_api_led_json_light_t  *v;

    switch (op->op) {

    case NGX_API_LED_JSON_OP_SET:
        v = ngx_api_led_json_light_from(pool, value);
        json_decref(value);

        if (v == NULL) {
            return NGX_ERROR;
        }

        return ngx_api_led_json_light_set(pool, doc, &op->path, v, left);

    case NGX_API_LED_JSON_OP_REMOVE:
        return ngx_api_led_json_light_remove(pool, *doc, &op->path);

    case NGX_API_LED_JSON_OP_RENAME:
        if (op->name.len) {
            if (op->path.ntokens == 0) {
                return NGX_DECLINED;
            }

            return ngx_api_led_json_light_walk(pool, *doc, op->path.tokens,
                                       op->path.ntokens - 1, 0, NULL,
                                       ngx_api_led_json_light_rename_leaf,
                                       &op->name);
        }

        return ngx_api_led_json_light_move(pool, doc, &op->path, &op->to);

    case NGX_API_LED_JSON_OP_WRAP:
        return ngx_api_led_json_light_wrap(pool, doc, &op->path);

    default:
        /* "keep": ngx_api_led_json_light_takes() sends it to the tree */
        return NGX_ERROR;
    }
}


/*
 * As ngx_api_led_json_walk(); the nodes created on the way are counted
 * against "left" (NULL: no bound) as the copies of a set's value are:
 * a deep path set under "*" creates them in every element.
 * NGX_API_LED_JSON_TOO_BIG past it.
 */

static ngx_int_t
ngx_api_led_json_light_walk(ngx_pool_t *pool, ngx_api_led_json_light_t *node,
    ngx_api_led_json_token_t *t, ngx_uint_t n, ngx_uint_t create,
    size_t *left, ngx_api_led_json_light_leaf_pt handler, void *data)
{
    ngx_int_t                  rc, found;
    ngx_api_led_json_light_t  *child;

    if (n == 0) {
        return handler(pool, node, t, data);
    }

    if (t->any && node->type == NGX_API_LED_JSON_LIGHT_ARRAY) {
        found = NGX_DECLINED;

        for (child = node->first; child; child = child->next) {
            rc = ngx_api_led_json_light_walk(pool, child, t + 1, n - 1,
                                             create, left, handler, data);
            if (rc == NGX_ERROR || rc == NGX_API_LED_JSON_TOO_BIG) {
                return rc;
            }

            if (rc == NGX_OK) {
                found = NGX_OK;
            }
        }

        return found;
    }

    child = ngx_api_led_json_light_child(node, t);

    if (child == NULL) {
        if (!create) {
            return NGX_DECLINED;
        }

        if (node->type == NGX_API_LED_JSON_LIGHT_OBJECT) {
            /* not there: appended, as jansson does with a new name */

        } else if (node->type == NGX_API_LED_JSON_LIGHT_ARRAY
                   && (t->append
                       || (t->index >= 0 && (size_t) t->index == node->n)))
        {
            /* the end of an array */

        } else {
            return NGX_DECLINED;
        }

        if (left) {
            if (sizeof(ngx_api_led_json_light_t) > *left) {
                return NGX_API_LED_JSON_TOO_BIG;
            }

            *left -= sizeof(ngx_api_led_json_light_t);
        }

        child = ngx_api_led_json_light_new(pool,
                                           t[1].append
                                           ? NGX_API_LED_JSON_LIGHT_ARRAY
                                           : NGX_API_LED_JSON_LIGHT_OBJECT);
        if (child == NULL) {
            return NGX_ERROR;
        }

        if (node->type == NGX_API_LED_JSON_LIGHT_OBJECT) {
            child->name = t->name;
        }

        ngx_api_led_json_light_append(node, child);
    }

    return ngx_api_led_json_light_walk(pool, child, t + 1, n - 1, create,
                                       left, handler, data);
}


static ngx_api_led_json_light_t *
ngx_api_led_json_light_child(ngx_api_led_json_light_t *node,
    ngx_api_led_json_token_t *t)
{
    ngx_int_t                  i;
    ngx_api_led_json_light_t  *child;

    if (node->type == NGX_API_LED_JSON_LIGHT_OBJECT) {
        return ngx_api_led_json_light_find(node, &t->name);
    }

    if (node->type != NGX_API_LED_JSON_LIGHT_ARRAY || t->index < 0) {
        return NULL;
    }

    child = node->first;

    for (i = 0; child && i < t->index; i++) {
        child = child->next;
    }

    return child;
}


static ngx_api_led_json_light_t *
ngx_api_led_json_light_find(ngx_api_led_json_light_t *object, ngx_str_t *name)
{
    ngx_api_led_json_light_t  *m;

    for (m = object->first; m; m = m->next) {
        if (ngx_api_led_json_light_named(m, name)) {
            return m;
        }
    }

    return NULL;
}


/* as ngx_api_led_json_get(): "*" is the first element */

static ngx_api_led_json_light_t *
ngx_api_led_json_light_get(ngx_api_led_json_light_t *root,
    ngx_api_led_json_path_t *path)
{
    ngx_uint_t                 i;
    ngx_api_led_json_light_t  *node;

    node = root;

    for (i = 0; node && i < path->ntokens; i++) {
        if (path->tokens[i].any
            && node->type == NGX_API_LED_JSON_LIGHT_ARRAY)
        {
            node = node->first;
            continue;
        }

        node = ngx_api_led_json_light_child(node, &path->tokens[i]);
    }

    return node;
}


/* takes "node" out of its parent's list: it, or NULL if not there */

static ngx_api_led_json_light_t *
ngx_api_led_json_light_unlink(ngx_api_led_json_light_t *parent,
    ngx_api_led_json_light_t *node)
{
    ngx_api_led_json_light_t  *prev, *m;

    prev = NULL;

    for (m = parent->first; m; m = m->next) {
        if (m == node) {
            break;
        }

        prev = m;
    }

    if (m == NULL) {
        return NULL;
    }

    ngx_api_led_json_light_cut(parent, prev, m);

    return m;
}


/* "node" out of the list, after "prev" (NULL: it is the first) */

static void
ngx_api_led_json_light_cut(ngx_api_led_json_light_t *parent,
    ngx_api_led_json_light_t *prev, ngx_api_led_json_light_t *node)
{
    if (prev) {
        prev->next = node->next;

    } else {
        parent->first = node->next;
    }

    if (parent->last == node) {
        parent->last = prev;
    }

    parent->n--;
    node->next = NULL;
}


/* a value into a node that keeps its place and its name */

static void
ngx_api_led_json_light_assign(ngx_api_led_json_light_t *dst,
    ngx_api_led_json_light_t *src)
{
    dst->type = src->type;
    dst->text = src->text;
    dst->first = src->first;
    dst->last = src->last;
    dst->n = src->n;
}


static void
ngx_api_led_json_light_append(ngx_api_led_json_light_t *parent,
    ngx_api_led_json_light_t *node)
{
    node->next = NULL;

    if (parent->last) {
        parent->last->next = node;

    } else {
        parent->first = node;
    }

    parent->last = node;
    parent->n++;
}


/*
 * json_object_setn_new(): a name there already keeps its place and takes
 * the new value; a new name is appended.
 */

static void
ngx_api_led_json_light_put(ngx_api_led_json_light_t *object, ngx_str_t *name,
    ngx_api_led_json_light_t *v)
{
    ngx_api_led_json_light_t  *m;

    m = ngx_api_led_json_light_find(object, name);

    if (m == NULL) {
        v->name = *name;
        v->key.len = 0;
        ngx_api_led_json_light_append(object, v);
        return;
    }

    /* the value moves into the member's node: its place and its name */

    ngx_api_led_json_light_assign(m, v);
}


/* as ngx_api_led_json_set() */

static ngx_int_t
ngx_api_led_json_light_set(ngx_pool_t *pool, ngx_api_led_json_light_t **root,
    ngx_api_led_json_path_t *path, ngx_api_led_json_light_t *value,
    size_t *left)
{
    return ngx_api_led_json_light_place(pool, root, path, value, 0, left);
}


/* as ngx_api_led_json_place(): "insert" for a move's value */

static ngx_int_t
ngx_api_led_json_light_place(ngx_pool_t *pool,
    ngx_api_led_json_light_t **root, ngx_api_led_json_path_t *path,
    ngx_api_led_json_light_t *value, ngx_uint_t insert, size_t *left)
{
    ngx_int_t                     rc;
    ngx_api_led_json_light_set_t  set;

    if (path->ntokens == 0) {
        value->next = NULL;
        value->key.len = 0;
        value->name.len = 0;
        *root = value;
        return NGX_OK;
    }

    set.value = value;
    set.placed = 0;
    set.insert = insert;
    set.too_big = 0;
    set.left = left;
    set.cost = (left && path->wildcard)
               ? ngx_api_led_json_light_nodes(value)
                 * sizeof(ngx_api_led_json_light_t)
               : 0;

    rc = ngx_api_led_json_light_walk(pool, *root, path->tokens,
                                     path->ntokens - 1, 1, left,
                                     ngx_api_led_json_light_set_leaf, &set);

    return set.too_big ? NGX_API_LED_JSON_TOO_BIG : rc;
}


static ngx_api_led_json_light_t *
ngx_api_led_json_light_set_value(ngx_pool_t *pool,
    ngx_api_led_json_light_set_t *set)
{
    if (set->placed++ == 0) {
        return set->value;
    }

    if (set->left) {
        if (set->cost > *set->left) {
            set->too_big = 1;
            return NULL;
        }

        *set->left -= set->cost;
    }

    return ngx_api_led_json_light_copy(pool, set->value);
}


static ngx_int_t
ngx_api_led_json_light_set_leaf(ngx_pool_t *pool,
    ngx_api_led_json_light_t *parent, ngx_api_led_json_token_t *t, void *data)
{
    ngx_api_led_json_light_set_t  *set = data;

    ngx_api_led_json_light_t  *v, *e, *next;

    if (parent->type == NGX_API_LED_JSON_LIGHT_OBJECT) {
        v = ngx_api_led_json_light_set_value(pool, set);
        if (v == NULL) {
            return NGX_ERROR;
        }

        ngx_api_led_json_light_put(parent, &t->name, v);
        return NGX_OK;
    }

    if (parent->type != NGX_API_LED_JSON_LIGHT_ARRAY) {
        return NGX_DECLINED;
    }

    if (t->any) {
        for (e = parent->first; e; e = next) {
            next = e->next;

            v = ngx_api_led_json_light_set_value(pool, set);
            if (v == NULL) {
                return NGX_ERROR;
            }

            ngx_api_led_json_light_assign(e, v);
        }

        return parent->n ? NGX_OK : NGX_DECLINED;
    }

    if (t->append || (t->index >= 0 && (size_t) t->index == parent->n)) {
        v = ngx_api_led_json_light_set_value(pool, set);
        if (v == NULL) {
            return NGX_ERROR;
        }

        v->name.len = 0;
        v->key.len = 0;
        ngx_api_led_json_light_append(parent, v);
        return NGX_OK;
    }

    e = ngx_api_led_json_light_child(parent, t);

    if (e == NULL) {
        return NGX_DECLINED;
    }

    v = ngx_api_led_json_light_set_value(pool, set);
    if (v == NULL) {
        return NGX_ERROR;
    }

    if (set->insert) {
        v->name.len = 0;
        v->key.len = 0;
        return ngx_api_led_json_light_insert(parent, t->index, v);
    }

    ngx_api_led_json_light_assign(e, v);

    return NGX_OK;
}


/* json_array_insert_new(): "v" before the element at "index" */

static ngx_int_t
ngx_api_led_json_light_insert(ngx_api_led_json_light_t *array,
    ngx_uint_t index, ngx_api_led_json_light_t *v)
{
    ngx_uint_t                  i;
    ngx_api_led_json_light_t   *prev, **link;

    if (index > array->n) {
        return NGX_ERROR;
    }

    prev = NULL;
    link = &array->first;

    for (i = 0; i < index; i++) {
        prev = *link;
        link = &prev->next;
    }

    v->next = *link;
    *link = v;

    /* after the last element, or into an empty array */

    if (array->last == prev) {
        array->last = v;
    }

    array->n++;

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_json_light_remove(ngx_pool_t *pool, ngx_api_led_json_light_t *root,
    ngx_api_led_json_path_t *path)
{
    if (path->ntokens == 0) {
        return NGX_DECLINED;
    }

    return ngx_api_led_json_light_walk(pool, root, path->tokens,
                                       path->ntokens - 1, 0, NULL,
                                       ngx_api_led_json_light_remove_leaf,
                                       NULL);
}


static ngx_int_t
ngx_api_led_json_light_remove_leaf(ngx_pool_t *pool,
    ngx_api_led_json_light_t *parent, ngx_api_led_json_token_t *t, void *data)
{
    ngx_api_led_json_light_t  *m;

    if (parent->type == NGX_API_LED_JSON_LIGHT_ARRAY && t->any) {
        parent->first = NULL;
        parent->last = NULL;
        parent->n = 0;
        return NGX_OK;
    }

    if (parent->type == NGX_API_LED_JSON_LIGHT_OBJECT) {
        /* found and taken out in one pass */
        return ngx_api_led_json_light_remove_member(parent, &t->name)
               ? NGX_OK : NGX_DECLINED;
    }

    m = ngx_api_led_json_light_child(parent, t);

    if (m == NULL) {
        return NGX_DECLINED;
    }

    ngx_api_led_json_light_unlink(parent, m);

    return NGX_OK;
}


static ngx_uint_t
ngx_api_led_json_light_remove_member(ngx_api_led_json_light_t *object,
    ngx_str_t *name)
{
    ngx_api_led_json_light_t  *prev, *m;

    prev = NULL;

    for (m = object->first; m; m = m->next) {
        if (ngx_api_led_json_light_named(m, name)) {
            break;
        }

        prev = m;
    }

    if (m == NULL) {
        return 0;
    }

    ngx_api_led_json_light_cut(object, prev, m);

    return 1;
}


/* as ngx_api_led_json_rename_leaf(): the old name goes, the new is set */

static ngx_int_t
ngx_api_led_json_light_rename_leaf(ngx_pool_t *pool,
    ngx_api_led_json_light_t *parent, ngx_api_led_json_token_t *t, void *data)
{
    ngx_str_t  *name = data;

    ngx_api_led_json_light_t  *v;

    if (parent->type != NGX_API_LED_JSON_LIGHT_OBJECT) {
        return NGX_DECLINED;
    }

    v = ngx_api_led_json_light_find(parent, &t->name);
    if (v == NULL) {
        return NGX_DECLINED;
    }

    ngx_api_led_json_light_unlink(parent, v);
    ngx_api_led_json_light_put(parent, name, v);

    return NGX_OK;
}


/* as ngx_api_led_json_move() and its put_back() */

static ngx_int_t
ngx_api_led_json_light_move(ngx_pool_t *pool, ngx_api_led_json_light_t **root,
    ngx_api_led_json_path_t *from, ngx_api_led_json_path_t *to)
{
    ngx_int_t                  rc;
    ngx_api_led_json_path_t    up;
    ngx_api_led_json_token_t  *t;
    ngx_api_led_json_light_t  *v, *parent;

    v = ngx_api_led_json_light_get(*root, from);
    if (v == NULL || from->ntokens == 0) {
        return NGX_DECLINED;
    }

    rc = ngx_api_led_json_light_remove(pool, *root, from);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_api_led_json_light_place(pool, root, to, v, 1, NULL);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    /* the new place does not fit: the value goes back where it was */

    up = *from;
    up.ntokens--;

    parent = ngx_api_led_json_light_get(*root, &up);
    t = &from->tokens[up.ntokens];

    if (parent && parent->type == NGX_API_LED_JSON_LIGHT_ARRAY
        && t->index >= 0)
    {
        /* at its index again */

        if (ngx_api_led_json_light_insert(parent, t->index, v) != NGX_OK) {
            return NGX_ERROR;
        }

        return NGX_DECLINED;
    }

    if (parent && parent->type == NGX_API_LED_JSON_LIGHT_OBJECT) {
        ngx_api_led_json_light_put(parent, &t->name, v);
        return NGX_DECLINED;
    }

    return NGX_ERROR;
}


/* as ngx_api_led_json_wrap(): the document under "path" of a new object */

static ngx_int_t
ngx_api_led_json_light_wrap(ngx_pool_t *pool, ngx_api_led_json_light_t **root,
    ngx_api_led_json_path_t *path)
{
    ngx_int_t                  rc;
    ngx_api_led_json_light_t  *top;

    top = ngx_api_led_json_light_new(pool, NGX_API_LED_JSON_LIGHT_OBJECT);
    if (top == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_api_led_json_light_set(pool, &top, path, *root, NULL);
    *root = top;

    return rc;
}


static ngx_api_led_json_light_t *
ngx_api_led_json_light_new(ngx_pool_t *pool, ngx_uint_t type)
{
    ngx_api_led_json_light_t  *node;

    node = ngx_pcalloc(pool, sizeof(ngx_api_led_json_light_t));
    if (node == NULL) {
        return NULL;
    }

    node->type = type;

    return node;
}


/* a deep copy: texts are shared, they never change */

static ngx_api_led_json_light_t *
ngx_api_led_json_light_copy(ngx_pool_t *pool, ngx_api_led_json_light_t *node)
{
    ngx_api_led_json_light_t  *copy, *m, *c;

    copy = ngx_palloc(pool, sizeof(ngx_api_led_json_light_t));
    if (copy == NULL) {
        return NULL;
    }

    *copy = *node;
    copy->next = NULL;
    copy->first = NULL;
    copy->last = NULL;
    copy->n = 0;

    for (m = node->first; m; m = m->next) {
        c = ngx_api_led_json_light_copy(pool, m);
        if (c == NULL) {
            return NULL;
        }

        ngx_api_led_json_light_append(copy, c);
    }

    return copy;
}


/* how many nodes a copy of "node" takes: the memory the copies count */

static size_t
ngx_api_led_json_light_nodes(ngx_api_led_json_light_t *node)
{
    size_t                     n;
    ngx_api_led_json_light_t  *m;

    n = 1;

    for (m = node->first; m; m = m->next) {
        n += ngx_api_led_json_light_nodes(m);
    }

    return n;
}


/* a jansson value (a set's) as a light one, its texts serialized */

static ngx_api_led_json_light_t *
ngx_api_led_json_light_from(ngx_pool_t *pool, json_t *value)
{
    size_t                     i, size;
    void                      *iter;
    ngx_api_led_json_light_t  *node, *m;

    if (json_is_object(value)) {
        node = ngx_api_led_json_light_new(pool,
                                          NGX_API_LED_JSON_LIGHT_OBJECT);
        if (node == NULL) {
            return NULL;
        }

        for (iter = json_object_iter(value);
             iter;
             iter = json_object_iter_next(value, iter))
        {
            m = ngx_api_led_json_light_from(pool,
                                            json_object_iter_value(iter));
            if (m == NULL) {
                return NULL;
            }

            /* a name of its own, in the value's pool */
            m->name.len = json_object_iter_key_len(iter);
            m->name.data = ngx_pnalloc(pool, m->name.len + 1);
            if (m->name.data == NULL) {
                return NULL;
            }

            ngx_memcpy(m->name.data, json_object_iter_key(iter),
                       m->name.len);
            ngx_api_led_json_light_append(node, m);
        }

        return node;
    }

    if (json_is_array(value)) {
        node = ngx_api_led_json_light_new(pool, NGX_API_LED_JSON_LIGHT_ARRAY);
        if (node == NULL) {
            return NULL;
        }

        size = json_array_size(value);

        for (i = 0; i < size; i++) {
            m = ngx_api_led_json_light_from(pool, json_array_get(value, i));
            if (m == NULL) {
                return NULL;
            }

            ngx_api_led_json_light_append(node, m);
        }

        return node;
    }

    node = ngx_api_led_json_light_new(pool, NGX_API_LED_JSON_LIGHT_TEXT);
    if (node == NULL) {
        return NULL;
    }

    if (ngx_api_led_json_dump(pool, value, 16, &node->text) != NGX_OK) {
        return NULL;
    }

    return node;
}
