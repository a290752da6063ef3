
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * The "local" rate-limit store: GCRA timestamps in nginx shared memory
 * (one node), a red-black tree of keys with least-recently-used expiry.
 */


#include "ngx_api_led_limit.h"


static ngx_uint_t ngx_api_led_limit_expire(ngx_api_led_limit_zone_t *zone,
    uint64_t now, ngx_api_led_limit_node_t **keep, ngx_uint_t nkeep);


static ngx_str_t  ngx_api_led_limit_zone_name =
    ngx_string("api_led_rate_limit");


/*
 * The local store: the same GCRA under the zone's mutex.  All limits of
 * the request are looked at before any is written: all-or-nothing.
 */

void
ngx_api_led_limit_local(ngx_http_request_t *r,
    ngx_api_led_limit_main_conf_t *lmcf, ngx_api_led_limit_ctx_t *lctx)
{
    size_t                      size;
    uint32_t                    hash;
    uint64_t                    now, tat, ahead,
                                tats[NGX_API_LED_LIMIT_MAX];
    ngx_uint_t                  i, admitted;
    ngx_api_led_limit_item_t   *item;
    ngx_api_led_limit_node_t   *node, *nodes[NGX_API_LED_LIMIT_MAX];
    ngx_api_led_limit_zone_t   *zone;

    zone = lmcf->shm_zone->data;
    item = lctx->items;

    now = (uint64_t) ngx_current_msec * 1000;
    admitted = 1;

    ngx_shmtx_lock(&zone->shpool->mutex);

    ngx_api_led_limit_expire(zone, now, NULL, 0);

    for (i = 0; i < lctx->nitems; i++) {
        nodes[i] = NULL;

        if (item[i].skip) {
            continue;
        }

        hash = ngx_crc32_short(item[i].key.data, item[i].key.len);

        node = (ngx_api_led_limit_node_t *)
                   ngx_str_rbtree_lookup(&zone->sh->rbtree, &item[i].key,
                                         hash);
        nodes[i] = node;

        tat = node ? node->tat : now;

        if (tat < now) {
            tat = now;
        }

        /* the clock is monotonic, maybe smaller than tau: no "tat - tau" */

        ahead = tat - now;

        if (ahead > item[i].tau) {
            admitted = 0;
            item[i].remaining = 0;
            item[i].reset = (ahead + 999) / 1000;
            item[i].retry = (ahead - item[i].tau + 999) / 1000;

        } else {
            tats[i] = tat + item[i].interval;
            item[i].remaining = (item[i].tau - ahead) / item[i].interval;
            item[i].reset = (tats[i] - now + 999) / 1000;
            item[i].retry = 0;
        }
    }

    if (!admitted) {
        for (i = 0; i < lctx->nitems; i++) {
            if (item[i].retry == 0) {
                item[i].skip = 1;
            }
        }

        goto done;
    }

    for (i = 0; i < lctx->nitems; i++) {

        if (item[i].skip) {
            continue;
        }

        node = nodes[i];

        if (node) {
            node->tat = tats[i];
            ngx_queue_remove(&node->queue);
            ngx_queue_insert_head(&zone->sh->queue, &node->queue);
            continue;
        }

        size = offsetof(ngx_api_led_limit_node_t, data) + item[i].key.len;

        node = ngx_slab_alloc_locked(zone->shpool, size);

        /*
         * The zone is full: the least recently used keys give way, as
         * many as it takes.  A few are not always enough: a node of
         * another size (a long key) needs a page of its own size class,
         * and that page is free only when all its nodes are.
         */

        while (node == NULL
               && ngx_api_led_limit_expire(zone, 0, nodes, lctx->nitems))
        {
            node = ngx_slab_alloc_locked(zone->shpool, size);
        }

        if (node == NULL) {
            ngx_shmtx_unlock(&zone->shpool->mutex);
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "api_led: api_led_rate_limit_zone is too "
                          "small, a limit was not counted");
            ngx_shmtx_lock(&zone->shpool->mutex);
            continue;
        }

        nodes[i] = node;

        node->tat = tats[i];
        node->sn.str.len = item[i].key.len;
        node->sn.str.data = node->data;
        ngx_memcpy(node->data, item[i].key.data, item[i].key.len);
        node->sn.node.key = ngx_crc32_short(item[i].key.data,
                                            item[i].key.len);

        ngx_rbtree_insert(&zone->sh->rbtree, &node->sn.node);
        ngx_queue_insert_head(&zone->sh->queue, &node->queue);
    }

done:

    ngx_shmtx_unlock(&zone->shpool->mutex);

    lctx->store = NGX_API_LED_LIMIT_STORE_LOCAL;
}


/*
 * Frees nodes whose TAT has passed (they mean the same as no node), at
 * most a few a call; with now == 0 frees the least recently used ones
 * whatever their TAT, except those in "keep".  Returns how many it freed.
 */

static ngx_uint_t
ngx_api_led_limit_expire(ngx_api_led_limit_zone_t *zone, uint64_t now,
    ngx_api_led_limit_node_t **keep, ngx_uint_t nkeep)
{
    ngx_uint_t                 n, i;
    ngx_queue_t               *q, *prev;
    ngx_api_led_limit_node_t  *node;

    q = ngx_queue_last(&zone->sh->queue);

    for (n = 0; n < 3 && q != ngx_queue_sentinel(&zone->sh->queue); q = prev)
    {
        prev = ngx_queue_prev(q);

        node = ngx_queue_data(q, ngx_api_led_limit_node_t, queue);

        if (now && node->tat > now) {
            return n;
        }

        for (i = 0; i < nkeep; i++) {
            if (keep[i] == node) {
                break;
            }
        }

        if (i < nkeep) {
            continue;
        }

        ngx_queue_remove(q);
        ngx_rbtree_delete(&zone->sh->rbtree, &node->sn.node);
        ngx_slab_free_locked(zone->shpool, node);
        n++;
    }

    return n;
}


/* "tag" is the module: the store's file calls nothing above it */

ngx_shm_zone_t *
ngx_api_led_limit_add_zone(ngx_conf_t *cf, size_t size, void *tag)
{
    ngx_shm_zone_t            *shm_zone;
    ngx_api_led_limit_zone_t  *zone;

    zone = ngx_pcalloc(cf->pool, sizeof(ngx_api_led_limit_zone_t));
    if (zone == NULL) {
        return NULL;
    }

    shm_zone = ngx_shared_memory_add(cf, &ngx_api_led_limit_zone_name, size,
                                     tag);
    if (shm_zone == NULL) {
        return NULL;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "api_led_rate_limit_zone is duplicate");
        return NULL;
    }

    zone->insert = ngx_str_rbtree_insert_value;
    zone->log_ctx = " in api_led_rate_limit_zone";

    shm_zone->init = ngx_api_led_shm_zone_init;
    shm_zone->data = zone;

    return shm_zone;
}


